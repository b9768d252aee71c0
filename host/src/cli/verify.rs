//! `host verify`: check a run's journal for tampering.

use std::process::ExitCode;

use crate::cli::{Context, output};
use crate::render::inert;
use crate::run::journal;

/// Check a run's journal for tampering: edits, removals, reordering, a cut-off tail.
///
/// Every record must follow the one before it and match its hash, and the
/// journal must reach the head recorded beside it. An edited, removed or reordered event, a cut-off tail, a
/// missing head or a torn record the head vouches for is reported with its line and event, and the command
/// exits 1. A partial last record beyond the head (an append that failed and was never acknowledged) is
/// printed as a warning: it is not part of the run. The
/// head hash printed on success can be kept elsewhere: a later `verify`
/// showing a different head for the same event count means the history was
/// rewritten.
///
/// `--json` prints `{run, intact: true, events, head, warnings}`; a journal
/// that fails the check is an error (with --json, a JSON error on stdout),
/// exit 1.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host verify latest\n  host verify r20261201-1015 --json | jq -r .head     keep the head elsewhere, compare later"
)]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,

    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store();
    let run = store.resolve(&args.run)?;
    let history = store.history(&run)?;
    let records = &history.records;
    let head = records.last().map_or(journal::GENESIS, |r| r.hash.as_str());
    if args.json {
        output::json(&serde_json::json!({
            "run": run,
            "intact": true,
            "events": records.len(),
            "head": head,
            "warnings": history.warnings,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    output::line(&format!(
        "run {}: journal intact, {} events, head {}",
        inert(&run),
        records.len(),
        inert(head)
    ))?;
    for warning in &history.warnings {
        output::note(&format!("warning: {}", crate::render::inert_lines(warning)));
    }
    Ok(ExitCode::SUCCESS)
}
