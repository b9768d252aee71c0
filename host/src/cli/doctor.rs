//! `host doctor`: check what this machine and a plugins folder need, and say
//! how to fix each gap (the checks are in [`crate::doctor`]).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{Context, EXIT_FAILURE, EXIT_OK, output};
use crate::doctor::{self, Status};
use crate::render::inert;

/// Check the setup: toolchains, host directories, plugins, network grants.
///
/// Checks the wasm32-wasip2 Rust target, python3 with venv and node/npm (missing only if a plugin of the
/// folder needs them), the Python/JavaScript toolchain caches, that the state and cache directories can be
/// written, that every plugin's manifest is valid and within grants.toml and its component exists and is not
/// older than its sources, that every network grant's host resolves and accepts a TCP connection (and a
/// verified TLS handshake where the plugin uses https), and that every environment setting naming a URL
/// (such as MODEL_URL) points inside the plugin's network grant.
///
/// One line per check (`ok`, `warning` or `missing`), each gap followed by a `fix:` line. Exits 1 if
/// anything is missing, 0 otherwise (warnings included).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  host doctor --plugins plugins\n  host doctor --json | jq '.findings[] | select(.status != \"ok\")'"
)]
pub struct Args {
    /// Folder of plugins (one subfolder per plugin, each with a plugin.toml)
    /// [default: `plugins` in harness.toml, else plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,

    /// Print the findings as JSON: `{"ok": bool, "findings": [{area, subject, status, detail, fix}]}`.
    #[arg(long)]
    json: bool,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let report = doctor::run(ctx, args.plugins.as_deref()).await;
    if args.json {
        output::json(&serde_json::json!({
            "ok": report.ok(),
            "findings": report.findings,
        }))?;
    } else {
        for f in &report.findings {
            output::line(&format!(
                "{:<8} {:<10} {}: {}",
                f.status.name(),
                f.area.name(),
                inert(&f.subject),
                first_line(&f.detail)
            ))?;
            for more in f.detail.lines().skip(1) {
                output::line(&format!("                    {}", inert(more)))?;
            }
            if let Some(fix) = &f.fix {
                output::line(&format!("                    fix: {}", inert(fix)))?;
            }
        }
        output::line(&format!(
            "{} ok, {} warning(s), {} missing",
            report.count(Status::Ok),
            report.count(Status::Warning),
            report.count(Status::Missing)
        ))?;
    }
    Ok(ExitCode::from(if report.ok() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }))
}

fn first_line(text: &str) -> String {
    inert(text.lines().next().unwrap_or(""))
}
