//! `host show`: the proposed diff and the review of a run.

use std::process::ExitCode;

use crate::cli::{Context, present};
use crate::run::blobs::Blobs;

/// Show a run's review and its proposed writes as a diff.
///
/// The diff is against the current files; untrusted text is escaped, never
/// interpreted by the terminal.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `host runs`).
    run: String,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store();
    let inspection = store.inspect(&args.run)?;
    for warning in &inspection.warnings {
        eprintln!("warning: {warning}");
    }
    let state = inspection.state;
    print!("{}", present::summary(&state));
    let blobs = Blobs::new(&store.runs_dir().join(&state.id).join("blobs"));
    let diffs = present::diffs(&state, &blobs);
    if !diffs.is_empty() {
        println!();
        print!("{diffs}");
    }
    print!("{}", present::next_steps(&state));
    Ok(ExitCode::SUCCESS)
}
