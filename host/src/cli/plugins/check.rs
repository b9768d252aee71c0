//! `host plugins check`: validate every manifest, the workflow and every
//! component (load and compile each, exactly as `host run` would), and
//! report one line per plugin.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::plugins::LoadArgs;
use crate::cli::{Context, EXIT_FAILURE, EXIT_OK, output};
use crate::grants::admin;
use crate::grants::{GrantContext, capability};
use crate::manifest::{self, Manifest};
use crate::render::inert;
use crate::runtime::{Plugin, Runtime};
use crate::workflow::{self, WORKFLOW_FILE};

/// Validate all manifests, the workflow and every component.
///
/// Each plugin's manifest is parsed strictly, its request is checked against
/// the folder's grants.toml (a request beyond the admin's grant is an error
/// naming what is missing and the command that grants it), its grants are resolved against
/// this machine (mount directories exist, are not symlinks, do not reach the
/// host's own state), and its component is read, verified against its
/// sha256 pin, compiled (through the compile cache) and checked for the world
/// it exports and the interfaces it imports. Then the workflow is checked
/// against the plugins.
///
/// One line per plugin: `ok`, `warning` (it loads, but something is likely
/// wrong, such as importing sockets without a network grant) or `error` (it
/// would not load), followed by the details. Exits 1 if anything has an
/// error, 0 otherwise (warnings included).
///
/// `--json` prints `{plugins: [{name, status, errors, warnings}], workflow:
/// {name, status, errors, warnings}, ok, with_warnings, with_errors}` with
/// the same exit code; `status` is `ok`, `warning` or `error`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host plugins check --plugins plugins --workspace examples/workspace\n  host plugins check --json | jq '.plugins[] | select(.status != \"ok\")'"
)]
pub(crate) struct Args {
    #[command(flatten)]
    load: LoadArgs,

    /// Workflow file [default: <plugins>/workflow.toml].
    #[arg(long)]
    workflow: Option<PathBuf>,

    /// Print the verdicts as JSON.
    #[arg(long)]
    json: bool,
}

/// What was found about one plugin or the workflow.
struct Verdict {
    name: String,
    warnings: Vec<String>,
    errors: Vec<String>,
}

impl Verdict {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn status(&self) -> &'static str {
        if !self.errors.is_empty() {
            "error"
        } else if !self.warnings.is_empty() {
            "warning"
        } else {
            "ok"
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "status": self.status(),
            "errors": self.errors,
            "warnings": self.warnings,
        })
    }

    fn print(&self) -> Result<(), output::OutputError> {
        let status = self.status();
        output::line(&format!("{status:<8} {}", inert(&self.name)))?;
        for (label, messages) in [("error", &self.errors), ("warning", &self.warnings)] {
            for message in messages {
                for (i, line) in message.lines().enumerate() {
                    if i == 0 {
                        output::line(&format!("  {label}: {}", inert(line)))?;
                    } else {
                        output::line(&format!("    {}", inert(line)))?;
                    }
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn execute(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let plugins_dir = &args.load.dir.resolve(ctx)?;
    let paths = manifest::manifest_paths(plugins_dir)?;
    let admin_grants = admin::load(plugins_dir)?;
    if admin_grants.is_none() {
        output::note(&admin::legacy_warning(plugins_dir));
    }
    let workspace = args.load.workspace(ctx);
    let runtime =
        Runtime::new(ctx.runtime_config()).context("cannot start the WebAssembly runtime")?;
    let grant_ctx = GrantContext::new(&workspace).protecting(
        crate::protect::ProtectedKind::Input,
        std::slice::from_ref(plugins_dir),
    );
    let mut grant_ctx = grant_ctx;
    grant_ctx.protected.extend(&ctx.protected());

    let mut verdicts = Vec::new();
    let mut manifests: Vec<Manifest> = Vec::new();
    for path in &paths {
        let folder = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let m = match manifest::load(path) {
            Ok(m) => m,
            Err(e) => {
                let mut v = Verdict::new(folder);
                v.errors.push(e.to_string());
                verdicts.push(v);
                continue;
            }
        };
        let mut v = Verdict::new(m.name.clone());
        if let Some(first) = manifests.iter().find(|o| o.name == m.name) {
            v.errors.push(format!(
                "the name `{}` is also used by `{}`\nhint: plugin names must be unique; rename one in its [plugin] section",
                m.name,
                crate::render::inert_path(&first.path)
            ));
        } else {
            match admin::effective(&m, admin_grants.as_ref()).map_err(|e| e.to_string()) {
                Ok(effective) => {
                    let announce = |size| {
                        crate::cli::progress::print(crate::folder::Note::Compiling {
                            plugin: &m.name,
                            size,
                        })
                    };
                    let loaded = admin::check_unwritable(&effective, &workspace, plugins_dir)
                        .and_then(|()| {
                            runtime
                                .load_with_progress(&effective, &grant_ctx, &announce)
                                .map_err(|e| e.to_string())
                        });
                    match loaded {
                        Ok(plugin) => v.warnings.extend(warnings(&plugin)),
                        Err(e) => v.errors.push(e),
                    }
                }
                Err(e) => v.errors.push(e),
            }
        }
        verdicts.push(v);
        manifests.push(m);
    }

    let workflow_path = args
        .workflow
        .clone()
        .unwrap_or_else(|| plugins_dir.join(WORKFLOW_FILE));
    let mut wf = Verdict::new(format!("workflow ({})", workflow_path.display()));
    match workflow::load(&workflow_path, &manifests) {
        Ok(workflow) => {
            let used = workflow.plugin_names();
            for v in verdicts.iter_mut() {
                if manifests.iter().any(|m| m.name == v.name) && !used.contains(&v.name.as_str()) {
                    v.warnings.push(format!(
                        "the workflow `{}` does not use this plugin",
                        workflow.name
                    ));
                }
            }
        }
        Err(e) => wf.errors.push(e.to_string()),
    }
    verdicts.push(wf);

    let count = |f: fn(&Verdict) -> bool| verdicts.iter().filter(|v| f(v)).count();
    let errors = count(|v| !v.errors.is_empty());
    let warnings = count(|v| v.errors.is_empty() && !v.warnings.is_empty());
    let code = ExitCode::from(if errors > 0 { EXIT_FAILURE } else { EXIT_OK });
    if args.json {
        let (workflow, plugins) = verdicts
            .split_last()
            .map_or((None, &[][..]), |(w, p)| (Some(w), p));
        output::json(&serde_json::json!({
            "plugins": plugins.iter().map(Verdict::json).collect::<Vec<_>>(),
            "workflow": workflow.map(Verdict::json),
            "ok": verdicts.len() - errors - warnings,
            "with_warnings": warnings,
            "with_errors": errors,
        }))?;
        return Ok(code);
    }
    for v in &verdicts {
        v.print()?;
    }
    output::line(&format!(
        "checked {} plugins and the workflow: {} ok, {warnings} with warnings, {errors} with errors",
        paths.len(),
        verdicts.len() - errors - warnings,
    ))?;
    Ok(code)
}

/// What is suspicious about a plugin that loads: each kind of grant's
/// warnings ([`capability::KINDS`]).
fn warnings(plugin: &Plugin) -> Vec<String> {
    capability::KINDS
        .iter()
        .flat_map(|kind| kind.warnings(plugin.manifest(), plugin.imports()))
        .collect()
}
