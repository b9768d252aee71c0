//! `host verify`: check a run's journal for tampering.

use std::process::ExitCode;

use crate::cli::{Context, output};
use crate::render::inert;
use crate::run::journal;

/// Check a run's journal for tampering: edits, removals, reordering, a cut-off tail.
///
/// Every record must follow the one before it and match its hash, and the
/// journal must reach the head recorded beside it. An edited, removed or reordered event, a cut-off tail or a torn last
/// record is reported with its line and event, and the command exits 1. The
/// head hash printed on success can be kept elsewhere: a later `verify`
/// showing a different head for the same event count means the history was
/// rewritten.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `host runs`).
    run: String,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store();
    let path = store.journal_path(&args.run)?;
    let records = journal::read(&path)?;
    let head = records.last().map_or(journal::GENESIS, |r| r.hash.as_str());
    output::line(&format!(
        "run {}: journal intact, {} events, head {}",
        inert(&args.run),
        records.len(),
        inert(head)
    ))?;
    if journal::read_head(&path).is_none() {
        output::note(&format!(
            "warning: `{}` is missing or unreadable, so a cut-off tail could not be checked",
            inert(&journal::head_path(&path).display().to_string())
        ));
    }
    Ok(ExitCode::SUCCESS)
}
