//! `host plugins list`: one line per plugin with its kind, grants and limits,
//! read from the manifests and the folder's `grants.toml` (nothing is
//! compiled). Each line shows what the plugin asks for; a request beyond the
//! admin's grant is followed by a `not granted:` line per missing part.

use std::process::ExitCode;

use crate::cli::plugins::DirArgs;
use crate::cli::{Context, output};
use crate::grants::{ResolvedGrants, admin, capability};
use crate::manifest::{self, Manifest};
use crate::render::inert;

/// List plugins with their kind, grants and limits.
///
/// Reads the manifests (what each plugin asks for) and grants.toml (what the
/// admin grants); a request beyond the grant is listed below the plugin's
/// line as `not granted: ...`, and such a plugin would not load. Use `host
/// plugins check` to also compile and verify every component.
///
/// `--json` prints `[{name, kind, manifest, grants, not_granted: [{what,
/// key}]}]`, `grants` being the same phrases as the text.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host plugins list --plugins plugins\n  host plugins list --json | jq '.[] | select(.not_granted != [])'"
)]
pub(crate) struct Args {
    #[command(flatten)]
    dir: DirArgs,

    /// Print the plugins as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn execute(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let plugins = args.dir.resolve(ctx)?;
    let manifests = manifest::load_dir(&plugins)?;
    let admin_grants = admin::load(&plugins)?;
    if admin_grants.is_none() {
        output::note(&admin::legacy_warning(&plugins));
    }
    if args.json {
        let plugins: Vec<serde_json::Value> = manifests
            .iter()
            .map(|m| {
                let not_granted: Vec<serde_json::Value> = admin::effective(m, admin_grants.as_ref())
                    .err()
                    .map(|refused| {
                        refused
                            .missing
                            .iter()
                            .map(|missing| serde_json::json!({ "what": missing.what, "key": missing.key }))
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({
                    "name": m.name,
                    "kind": m.kind.to_string(),
                    "manifest": m.path,
                    "grants": summary(m, None),
                    "not_granted": not_granted,
                })
            })
            .collect();
        output::json(&plugins)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::line(&format!(
        "{:<16} {:<9} GRANTS (as requested)",
        "PLUGIN", "KIND"
    ))?;
    for m in &manifests {
        output::line(&format!(
            "{:<16} {:<9} {}",
            inert(&m.name),
            m.kind.to_string(),
            summary(m, None).join("; ")
        ))?;
        if let Err(refused) = admin::effective(m, admin_grants.as_ref()) {
            for missing in &refused.missing {
                output::line(&format!(
                    "  not granted: {} ({})",
                    inert(&missing.what),
                    missing.key
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every kind of grant in one phrase each ([`capability::KINDS`]), then the
/// limits; `nothing` first when no kind grants anything.
pub(crate) fn summary(m: &Manifest, resolved: Option<&ResolvedGrants>) -> Vec<String> {
    let mut phrases = Vec::new();
    if !capability::grants().any(|k| k.granted(m)) {
        phrases.push("nothing".to_string());
    }
    for kind in capability::KINDS {
        phrases.extend(kind.summary(m, resolved));
    }
    phrases
}
