//! `host verify`: check a run's journal for tampering.

use std::process::ExitCode;

use crate::cli::Context;
use crate::run::journal;

/// Check that a run's journal is intact: every record follows the one before
/// it and matches its hash.
///
/// An edited, removed or reordered event, or a torn last record, is reported
/// with its line number and the command exits 1.
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
    println!(
        "run {}: journal intact, {} events, head {head}",
        args.run,
        records.len()
    );
    Ok(ExitCode::SUCCESS)
}
