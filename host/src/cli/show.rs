//! `host show`: the proposed diff and the review of a run.

use std::process::ExitCode;

use crate::cli::{Context, output, present};
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
        output::note(&format!("warning: {}", crate::render::inert_lines(warning)));
    }
    let state = inspection.state;
    let run_dir = store.runs_dir().join(&state.id);
    let blobs = Blobs::new(&run_dir.join("blobs"));
    output::print(&present::summary(&state))?;
    let diffs = present::diffs(&state, &blobs, &run_dir);
    if !diffs.is_empty() {
        output::print(&format!("\n{diffs}"))?;
    }
    output::print(&present::next_steps(&state))?;
    Ok(ExitCode::SUCCESS)
}
