//! `host status`: where one run stands.

use std::process::ExitCode;

use crate::cli::{Context, present};

/// Show a run's status, steps, review and decision.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `host runs`).
    run: String,

    /// Print the run's full state as JSON.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let inspection = ctx.store().inspect(&args.run)?;
    for warning in &inspection.warnings {
        eprintln!("warning: {warning}");
    }
    let state = inspection.state;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&state)?);
    } else {
        print!("{}", present::summary(&state));
        print!("{}", present::next_steps(&state));
    }
    Ok(ExitCode::SUCCESS)
}
