//! `host show`: the proposed diff and the review of a run.

use std::process::ExitCode;

use crate::cli::{Context, output, present};

/// Show a run's review and its proposed writes as a diff.
///
/// The diff is against the current files; untrusted text is escaped, never
/// interpreted by the terminal.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store();
    let inspection = store.inspect(&args.run)?;
    for warning in &inspection.warnings {
        output::note(&format!("warning: {}", crate::render::inert_lines(warning)));
    }
    let state = inspection.state;
    let blobs = store.blobs(&state.id)?;
    output::print(&present::summary(&state))?;
    let diffs = present::diffs(&state, &blobs);
    if !diffs.is_empty() {
        output::print(&format!("\n{diffs}"))?;
    }
    output::print(&present::next_steps(&state))?;
    Ok(ExitCode::SUCCESS)
}
