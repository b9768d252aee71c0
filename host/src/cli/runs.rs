//! `host runs`: every run of the state directory.

use std::process::ExitCode;

use crate::cli::Context;
use crate::render::inert;
use crate::run::journal::now_ms;

/// List runs, oldest first, with their status and age.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array of run states.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store();
    let ids = store.ids()?;
    if args.json {
        let states: Vec<_> = ids.iter().filter_map(|id| store.peek(id).ok()).collect();
        println!("{}", serde_json::to_string_pretty(&states)?);
        return Ok(ExitCode::SUCCESS);
    }
    if ids.is_empty() {
        eprintln!("no runs in `{}`", store.runs_dir().display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<24} {:<22} {:>8}  TOPIC", "RUN", "STATUS", "AGE");
    for id in ids {
        match store.peek(&id) {
            Ok(state) => {
                let topic = state
                    .params
                    .get("topic")
                    .and_then(|t| t.as_str())
                    .unwrap_or("");
                println!(
                    "{:<24} {:<22} {:>8}  {}",
                    id,
                    state.status.to_string(),
                    age(now_ms().saturating_sub(state.created_ms)),
                    inert(topic)
                );
            }
            Err(e) => println!("{id:<24} unreadable: {}", inert(&e.to_string())),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
