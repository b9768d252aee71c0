//! `host runs`: every run of the state directory.

use std::process::ExitCode;

use crate::cli::{Context, output};
use crate::clock::now_ms;
use crate::render::inert;
use crate::run::state::RunStatus;

/// List runs, oldest first, with their status, age and what each waits for.
///
/// Runs waiting for approval show how many files their change set writes;
/// interrupted runs (running or applying with no host driving them) are
/// flagged for `host resume`. A summary line counts the runs waiting for a
/// person.
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
        output::json(&states)?;
        return Ok(ExitCode::SUCCESS);
    }
    if ids.is_empty() {
        output::note(&format!("no runs in {}", store.location()));
        return Ok(ExitCode::SUCCESS);
    }
    output::line(&format!(
        "{:<24} {:<22} {:>8}  {:<16} TOPIC",
        "RUN", "STATUS", "AGE", "WAITING FOR"
    ))?;
    let mut waiting = 0;
    for id in ids {
        match store.inspect(&id) {
            Ok(inspection) => {
                for warning in &inspection.warnings {
                    output::note(&format!(
                        "warning: run {}: {}",
                        inert(&id),
                        crate::render::inert_lines(warning)
                    ));
                }
                let state = inspection.state;
                let topic = state.topic().unwrap_or("");
                let waits_for = match state.status {
                    RunStatus::WaitingApproval => {
                        waiting += 1;
                        let files = state.change_set.as_ref().map_or(0, |c| c.entries.len());
                        format!(
                            "approval ({files} file{})",
                            if files == 1 { "" } else { "s" }
                        )
                    }
                    RunStatus::Running | RunStatus::Applying => "resume (if idle)".into(),
                    _ => "-".into(),
                };
                output::line(&format!(
                    "{:<24} {:<22} {:>8}  {:<16} {}",
                    inert(&id),
                    state.status.to_string(),
                    age(now_ms().saturating_sub(state.created_ms)),
                    waits_for,
                    inert(topic)
                ))?;
            }
            Err(e) => output::line(&format!(
                "{:<24} unreadable: {}",
                inert(&id),
                inert(&e.to_string())
            ))?,
        }
    }
    if waiting > 0 {
        output::line(&format!(
            "\n{waiting} run(s) waiting for approval: `host show <run>`, then `host approve <run>`"
        ))?;
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
