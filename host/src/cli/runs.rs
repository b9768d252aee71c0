//! `host runs`: every run of the state directory.

use std::process::ExitCode;

use crate::cli::{Context, output, runs_prune};
use crate::clock::now_ms;
use crate::render::inert;
use crate::run::state::RunStatus;

/// List runs, oldest first (by creation time), with their status, age and
/// what each waits for.
///
/// Wherever a command takes a run, it also takes a unique prefix of its id
/// (`r20261201-1015`) or `latest`.
///
/// Runs waiting for approval show how many files their change set writes;
/// interrupted runs (running or applying with no host driving them) are
/// flagged for `host resume`. A summary line counts the runs waiting for a
/// person.
///
/// `host runs prune` removes finished runs (see `host runs prune --help`).
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  host runs                                   every run, oldest first\n  host runs --status waiting-approval         what waits for a person\n  host runs --since 2h --json | jq -r '.[].id'\n  host runs prune --older-than 30d --dry-run  what pruning would remove"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Print a JSON array of run states.
    #[arg(long)]
    json: bool,

    /// Only runs with this status.
    #[arg(long, value_enum)]
    status: Option<RunStatus>,

    /// Only runs created within this long: `90s`, `30m`, `2h`, `7d`.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    since: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Prune(runs_prune::Args),
}

/// `90s`, `30m`, `2h` or `7d` in milliseconds.
pub(crate) fn parse_age(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let per = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "`{text}` is not an age; write a number and s, m, h or d (`2h`)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .ok_or_else(|| format!("`{text}` is not an age; write a number and s, m, h or d (`2h`)"))
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    if let Some(Command::Prune(prune)) = args.command {
        return runs_prune::execute(&prune, ctx);
    }
    let store = ctx.store();
    // Oldest first by creation time (ids order only to the second); a run
    // that cannot be read keeps its place by id, first.
    let mut runs: Vec<(String, Result<_, _>)> = store
        .ids()?
        .into_iter()
        .map(|id| {
            let inspection = store.inspect(&id);
            (id, inspection)
        })
        .filter(|(_, i)| match (&args.status, i) {
            (Some(want), Ok(i)) => i.state.status == *want,
            (Some(_), Err(_)) => false,
            (None, _) => true,
        })
        .filter(|(_, i)| match (args.since, i) {
            (Some(age), Ok(i)) => now_ms().saturating_sub(i.state.created_ms) <= age,
            (Some(_), Err(_)) => false,
            (None, _) => true,
        })
        .collect();
    runs.sort_by_key(|(id, i)| (i.as_ref().map_or(0, |i| i.state.created_ms), id.clone()));
    if args.json {
        let states: Vec<_> = runs
            .iter()
            .filter_map(|(_, i)| i.as_ref().ok().map(|i| &i.state))
            .collect();
        output::json(&states)?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        let which = args.status.map(|s| format!("{s} ")).unwrap_or_default();
        output::note(&format!("no {which}runs in {}", store.location()));
        return Ok(ExitCode::SUCCESS);
    }
    output::line(&format!(
        "{:<24} {:<22} {:>8}  {:<16} TOPIC",
        "RUN", "STATUS", "AGE", "WAITING FOR"
    ))?;
    let mut waiting = 0;
    for (id, inspection) in runs {
        match inspection {
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
                    RunStatus::Running if state.workflow == crate::folder::SESSION_WORKFLOW => {
                        "its server".into()
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
            // The error quotes untrusted parts inert; its hint gets a line.
            Err(e) => output::line(&format!(
                "{:<24} unreadable: {}",
                inert(&id),
                crate::render::inert_block(&e.to_string(), "  ")
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

/// A run's age for people: `42s`, `5m`, `3h`, `2d`.
pub(crate) fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
