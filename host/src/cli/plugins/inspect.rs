//! `host plugins inspect <name>`: everything the host knows about one plugin,
//! after loading it: the component's imports and exports, what its manifest
//! requests and what the folder's `grants.toml` grants it, its effective
//! grants as resolved on this machine, its limits, its sha256 and whether its
//! compiled code came from the cache.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::cli::plugins::LoadArgs;
use crate::cli::{Context, output};
use crate::grants::admin::{self, GrantSet};
use crate::grants::{GrantContext, capability};
use crate::manifest;
use crate::render::inert;
use crate::runtime::{CacheOutcome, Runtime};

/// Show one plugin's imports, exports, grants, limits, sha256 and cache state.
///
/// Loads the plugin exactly as `host run` would (resolving its mounts against
/// --workspace and compiling it through the cache if needed), so what is shown
/// is what would run. A request beyond the admin's grant (grants.toml) fails
/// as it would at run time. Environment variable values are never shown: they
/// may be secrets.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host plugins inspect search\n  host plugins inspect reviewer --json | jq .imports"
)]
pub(crate) struct Args {
    /// The plugin's name, as in its manifest's `[plugin] name`.
    name: String,

    #[command(flatten)]
    load: LoadArgs,

    /// Print JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn execute(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let plugins_dir = args.load.dir.resolve(ctx)?;
    let manifests = manifest::load_dir(&plugins_dir)?;
    let Some(m) = manifests.iter().find(|m| m.name == args.name) else {
        let names: Vec<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
        bail!(
            "no plugin named `{}` in `{}`\nhint: the plugins there are: {}",
            inert(&args.name),
            plugins_dir.display(),
            names.join(", ")
        );
    };
    let workspace = args.load.workspace(ctx);
    let admin_grants = admin::load(&plugins_dir)?;
    if admin_grants.is_none() {
        output::note(&admin::legacy_warning(&plugins_dir));
    }
    let requested = GrantSet::of(m).to_json();
    let granted = match &admin_grants {
        Some(a) => serde_json::to_value(a.plugins.get(&m.name).cloned().unwrap_or_default())?,
        None => serde_json::Value::Null,
    };
    let m = &admin::effective(m, admin_grants.as_ref())?;
    admin::check_unwritable(m, &workspace, &plugins_dir).map_err(anyhow::Error::msg)?;
    let runtime =
        Runtime::new(ctx.runtime_config()).context("cannot start the WebAssembly runtime")?;
    let mut grant_ctx = GrantContext::new(&workspace).protecting(
        crate::protect::ProtectedKind::Input,
        std::slice::from_ref(&plugins_dir),
    );
    grant_ctx.protected.extend(&ctx.protected());
    let started = Instant::now();
    let plugin = runtime.load_with_progress(m, &grant_ctx, &|size| {
        crate::cli::progress::print(crate::folder::Note::Compiling {
            plugin: &m.name,
            size,
        })
    })?;
    let load_ms = started.elapsed().as_millis();
    let cache = match plugin.cache_outcome() {
        CacheOutcome::Hit => "hit",
        CacheOutcome::Miss => "miss",
    };
    let grants = plugin.grants();
    // What the plugin says of itself, from describe() in a fresh sandbox:
    // the summary and input schema agents see through `host mcp`.
    let described = plugin
        .describe()
        .await
        .map(|d| d.value)
        .map_err(|e| e.to_string());
    let schema_json = |d: &crate::contract::Descriptor| {
        serde_json::from_str::<serde_json::Value>(&d.input_schema)
            .unwrap_or(serde_json::Value::String(d.input_schema.clone()))
    };

    if args.json {
        let value = json!({
            "name": m.name,
            "kind": m.kind,
            "manifest": m.path,
            "component": m.component,
            "sha256": plugin.sha256(),
            "sha256_pinned": m.sha256.is_some(),
            "cache": { "outcome": cache, "dir": ctx.cache_dir(), "load_ms": load_ms },
            "describe": match &described {
                Ok(d) => json!({ "name": d.name, "summary": d.summary, "input_schema": schema_json(d) }),
                Err(e) => json!({ "error": e }),
            },
            "exports": plugin.exports(),
            "imports": plugin.imports(),
            "requested": requested,
            "granted": granted,
            "granted_by": if admin_grants.is_some() { admin::GRANTS_FILE } else { "manifest" },
            "grants": kinds_json(capability::grants(), m, grants),
            "limits": kinds_json(std::iter::once(capability::limits()), m, grants),
        });
        output::json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }

    let field = |label: &str, value: &str| output::line(&format!("{label:<10} {value}"));
    let list_field = |label: &str, values: &[String]| {
        if values.is_empty() {
            field(label, "none")?;
        }
        for (i, v) in values.iter().enumerate() {
            field(if i == 0 { label } else { "" }, &inert(v))?;
        }
        Ok::<(), output::OutputError>(())
    };
    field("plugin", &format!("{} ({})", inert(&m.name), m.kind))?;
    field("manifest", &inert(&m.path.display().to_string()))?;
    field("component", &inert(&m.component.display().to_string()))?;
    field(
        "sha256",
        &format!(
            "{} ({})",
            plugin.sha256(),
            if m.sha256.is_some() {
                "pinned by the manifest"
            } else {
                "not pinned"
            }
        ),
    )?;
    field(
        "cache",
        &match plugin.cache_outcome() {
            CacheOutcome::Hit => format!(
                "hit: verified compiled code loaded from `{}` in {load_ms} ms",
                inert(&ctx.cache_dir().display().to_string())
            ),
            CacheOutcome::Miss => format!(
                "miss: compiled now in {load_ms} ms and stored in `{}`",
                inert(&ctx.cache_dir().display().to_string())
            ),
        },
    )?;
    match &described {
        Ok(d) => {
            field("summary", &inert(&d.summary))?;
            let schema = crate::render::json::to_string_pretty(&schema_json(d))?;
            for (i, line) in schema.lines().enumerate() {
                field(if i == 0 { "schema" } else { "" }, line)?;
            }
        }
        Err(e) => field("describe", &format!("failed: {}", inert(e)))?,
    }
    list_field("exports", plugin.exports())?;
    list_field("imports", plugin.imports())?;
    let granted: Vec<String> = capability::grants()
        .flat_map(|kind| kind.summary(m, Some(grants)))
        .collect();
    list_field("grants", &granted)?;
    field(
        "limits",
        &capability::limits().summary(m, Some(grants)).join("; "),
    )?;
    field(
        "granted by",
        match &admin_grants {
            Some(a) => format!(
                "`{}` (the request lies within the admin's grant)",
                inert(&a.path.display().to_string())
            ),
            None => "the manifest itself: this folder has no grants.toml".to_string(),
        }
        .as_str(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The JSON fields of `kinds`, as one object.
fn kinds_json<'a>(
    kinds: impl Iterator<Item = &'a dyn capability::Capability>,
    m: &manifest::Manifest,
    grants: &crate::grants::ResolvedGrants,
) -> serde_json::Value {
    kinds
        .flat_map(|kind| kind.json(m, grants))
        .map(|(key, value)| (key.to_string(), value))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
