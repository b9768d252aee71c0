//! `host run`: execute a workflow up to the approval gate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::{Context, EXIT_FAILURE, EXIT_OK, present};
use crate::grants::GrantContext;
use crate::manifest;
use crate::run::event::{Event, PluginDigest};
use crate::run::executor::{self, Plugins};
use crate::run::state::RunStatus;
use crate::runtime::{CacheOutcome, Runtime, RuntimeConfig};
use crate::workflow::{self, WORKFLOW_FILE};

/// Run the workflow's steps and reviewer, then stop at the approval gate.
///
/// Prints the run id, the verdict and the proposed writes as a
/// diff against the current files. Nothing is written to the workspace or the
/// output directory by this command.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  host run --build --topic \"WebAssembly component sandboxing\"")]
pub struct Args {
    /// Folder of plugins: one subfolder per plugin with its plugin.toml, and the workflow file.
    #[arg(long, default_value = "plugins")]
    plugins: PathBuf,

    /// Workflow file [default: <plugins>/workflow.toml].
    #[arg(long)]
    workflow: Option<PathBuf>,

    /// Directory of documents the run works on; plugins see it only where
    /// their manifest mounts `${workspace}`.
    #[arg(long, default_value = "examples/workspace")]
    workspace: PathBuf,

    /// Directory approved writes go to [default: the workspace].
    #[arg(long)]
    out: Option<PathBuf>,

    /// The research topic, passed to every step as `topic`.
    #[arg(long, default_value = "WebAssembly component sandboxing")]
    topic: String,

    /// Build the workflow's plugins from source first (runs each manifest's
    /// [build] command, installing the wasm32-wasip2 target if needed).
    #[arg(long)]
    build: bool,

    /// Print the run's state as JSON on stdout instead of the summary and diff.
    #[arg(long)]
    json: bool,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let workspace = existing_dir(&args.workspace, "--workspace")?;
    let out_dir = match &args.out {
        Some(out) => existing_dir(out, "--out")?,
        None => workspace.clone(),
    };
    let manifests = manifest::load_dir(&args.plugins)?;
    let workflow_path = args
        .workflow
        .clone()
        .unwrap_or_else(|| args.plugins.join(WORKFLOW_FILE));
    let workflow = workflow::load(&workflow_path, &manifests)?;
    let used: Vec<&manifest::Manifest> = manifests
        .iter()
        .filter(|m| workflow.plugin_names().contains(&m.name.as_str()))
        .collect();

    if args.build {
        crate::plugin_build::build_all(&used, &|line| eprintln!("{line}"))?;
    }

    let runtime = Runtime::new(RuntimeConfig::new(ctx.cache_dir()))
        .context("cannot start the WebAssembly runtime")?;
    let protected = ctx.protected_dirs();
    let grant_ctx = GrantContext {
        workspace: &workspace,
        protected: &protected,
    };
    let mut plugins = Plugins::new();
    for m in &used {
        let started = std::time::Instant::now();
        let plugin = runtime.load(m, &grant_ctx)?;
        if plugin.cache_outcome() == CacheOutcome::Miss {
            // First use of this component: compiling it is the slow part of a cold start.
            eprintln!(
                "compiled plugin `{}` in {} ms (cached for next time)",
                m.name,
                started.elapsed().as_millis()
            );
        }
        plugins.insert(m.name.clone(), plugin);
    }

    let store = ctx.store();
    let mut run = store.create(Event::RunCreated {
        workflow: workflow.name.clone(),
        workflow_digest: workflow.digest.clone(),
        params: serde_json::json!({ "topic": args.topic }),
        workspace: workspace.clone(),
        out_dir,
        plugins: plugins
            .values()
            .map(|p| PluginDigest {
                name: p.name().to_string(),
                sha256: p.sha256().to_string(),
            })
            .collect(),
    })?;
    eprintln!("run {} started", run.id());
    executor::execute(&mut run, &workflow, &plugins).await?;

    let state = run.state();
    if args.json {
        println!("{}", serde_json::to_string_pretty(state)?);
    } else {
        print!("{}", present::summary(state));
        let diffs = present::diffs(state, run.blobs());
        if !diffs.is_empty() {
            println!();
            print!("{diffs}");
        }
        print!("{}", present::next_steps(state));
    }
    Ok(ExitCode::from(match state.status {
        RunStatus::WaitingApproval | RunStatus::Completed => EXIT_OK,
        _ => EXIT_FAILURE,
    }))
}

fn existing_dir(path: &Path, flag: &str) -> anyhow::Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(_) => bail!("{flag} `{}` is not a directory", path.display()),
        Err(e) => Err(e).with_context(|| {
            format!(
                "{flag} `{}` does not exist\nhint: create it first, or point {flag} at an existing directory",
                path.display()
            )
        }),
    }
}
