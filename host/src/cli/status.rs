//! `host status`: where one run stands.

use std::process::ExitCode;

use crate::cli::{Context, output, present};

/// Show a run's status, steps, review and decision.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,

    /// Print the run's full state as JSON.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let inspection = ctx.store().inspect(&args.run)?;
    for warning in &inspection.warnings {
        output::note(&format!("warning: {}", crate::render::inert_lines(warning)));
    }
    let state = inspection.state;
    if args.json {
        output::json(&state)?;
    } else {
        output::print(&(present::summary(&state) + &present::next_steps(&state)))?;
    }
    Ok(ExitCode::SUCCESS)
}
