//! `host runs prune`: remove finished runs, through the run store
//! ([`crate::run::store::RunStore::remove`]), never by touching its files.

use std::process::ExitCode;

use clap::ArgGroup;
use serde::Serialize;

use crate::cli::cache::human_bytes;
use crate::cli::runs::{age, parse_age};
use crate::cli::{Context, EXIT_FAILURE, output};
use crate::clock::now_ms;
use crate::render::inert;
use crate::run::state::{RunState, RunStatus};
use crate::run::store::RunError;

/// Remove finished runs: completed, rejected and failed ones.
///
/// Choose them with --older-than (the run's latest event is at least that
/// old) or --all. A run that is not finished (waiting for approval, or
/// running or applying, which `host resume` finishes) is kept unless
/// --force. A run another host process holds right now (being driven,
/// approved or rejected) or serves (an MCP session, between its calls) is
/// never removed, --force or not. Each run is
/// judged again under its lock just before it goes, so one that moved on
/// meanwhile is kept.
///
/// A failed run counts as finished: pruning it gives up `host resume
/// --failed`. A run's journal and staged bytes (its blobs belong to it
/// alone) go with it; the files an approved run wrote stay where they are,
/// but `host revert` of a pruned run is no longer possible. A run that
/// holds no record (a power loss cut it off as it was created: nothing was
/// started or decided in it) goes with every prune.
///
/// `--unreadable` also removes runs whose history cannot be read or
/// verified (damaged or tampered with), which nothing else can finish.
///
/// `--dry-run` lists what would go and removes nothing. `--json` prints
/// `{dry_run, removed: [{run, status, age_ms, bytes, unreadable}], kept:
/// [{run, status, reason}], freed_bytes}` (`bytes` is null in a dry run;
/// `status` and `age_ms` are null for a run that holds no record or does not
/// read). Exits 1 if a
/// chosen run could not be removed.
#[derive(Debug, clap::Args)]
#[command(
    group(ArgGroup::new("which").required(true).multiple(true).args(["older_than", "all", "unreadable"])),
    after_help = "Examples:\n  host runs prune --older-than 30d --dry-run   what would go (nothing is removed)\n  host runs prune --older-than 30d             finished runs whose last event is 30 days old\n  host runs prune --all --force                every run no process holds, waiting ones too\n  host runs prune --unreadable                 runs whose journal was damaged or tampered with"
)]
pub struct Args {
    /// Only runs whose latest event is at least this old: `90s`, `30m`,
    /// `2h`, `7d`.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    older_than: Option<u64>,

    /// Every finished run, whatever its age.
    #[arg(long)]
    all: bool,

    /// Also remove runs that are not finished (waiting for approval,
    /// running, applying), as long as no host process holds them.
    #[arg(long)]
    force: bool,

    /// Also remove runs whose history cannot be read or verified (a journal
    /// damaged, truncated or edited, a head removed: `host verify <run>`
    /// says what), as long as no host process holds them. Nothing else can
    /// finish such a run; its history goes with it. On its own, only those.
    #[arg(long)]
    unreadable: bool,

    /// List what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,

    /// Print what was removed and kept as JSON.
    #[arg(long)]
    json: bool,
}

/// A run that went (or would go, in a dry run).
#[derive(Debug, Serialize)]
struct Removed {
    run: String,
    /// `None`: the run holds no record ([`RunError::CutOffAtCreation`]), or
    /// its history does not read (`unreadable`).
    status: Option<RunStatus>,
    age_ms: Option<u64>,
    bytes: Option<u64>,
    /// Removed by `--unreadable`: its history could not be read or verified.
    unreadable: bool,
}

/// A chosen run that stays, and why.
#[derive(Debug, Serialize)]
struct Kept {
    run: String,
    status: Option<RunStatus>,
    reason: String,
    /// Whether a removal was attempted and failed (exit 1), rather than
    /// declined by the rules.
    #[serde(skip)]
    failed: bool,
}

#[derive(Debug, Serialize)]
struct Summary {
    dry_run: bool,
    removed: Vec<Removed>,
    kept: Vec<Kept>,
    freed_bytes: u64,
}

/// Whether `args` choose a run in `state` (`None`: not chosen, too young),
/// and if so why it stays (`Some(None)`: it may go).
fn judge(args: &Args, state: &RunState, now: u64) -> Option<Option<String>> {
    judge_status(args, state.status, state.updated_ms, now)
}

fn judge_status(
    args: &Args,
    status: RunStatus,
    updated_ms: u64,
    now: u64,
) -> Option<Option<String>> {
    let age = now.saturating_sub(updated_ms);
    if args.older_than.is_some_and(|min| age < min) {
        return None;
    }
    if !status.is_finished() && !args.force {
        return Some(Some(
            "not finished; pass --force to remove it too".to_string(),
        ));
    }
    Some(None)
}

/// Remove run `id`, which cannot be opened (it holds no record, or its
/// history does not read), with `remove`, into `summary`; only listed in a
/// dry run. A run another process holds stays.
fn remove_unopened(
    summary: &mut Summary,
    id: &str,
    dry_run: bool,
    unreadable: bool,
    remove: impl FnOnce() -> Result<u64, RunError>,
) {
    let removed = |bytes| Removed {
        run: id.to_string(),
        status: None,
        age_ms: None,
        bytes,
        unreadable,
    };
    if dry_run {
        summary.removed.push(removed(None));
        return;
    }
    let (reason, failed) = match remove() {
        Ok(bytes) => {
            summary.freed_bytes += bytes;
            summary.removed.push(removed(Some(bytes)));
            return;
        }
        Err(RunError::Busy { .. }) => ("another host process holds it".to_string(), false),
        Err(e) => (format!("cannot be removed: {}", first_line(&e)), true),
    };
    summary.kept.push(Kept {
        run: id.to_string(),
        status: None,
        reason,
        failed,
    });
}

/// The first line of `e`'s message (its hint is for a command of its own).
fn first_line(e: &RunError) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

pub fn execute(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store();
    let now = now_ms();
    let mut summary = Summary {
        dry_run: args.dry_run,
        removed: Vec::new(),
        kept: Vec::new(),
        freed_bytes: 0,
    };
    let kept = |run: &str, status, reason: String, failed| Kept {
        run: run.to_string(),
        status,
        reason,
        failed,
    };
    // The first line of an error (host text, untrusted parts inert).
    // Oldest first by creation time, as `host runs` lists them (ids order
    // only to the second); a run that cannot be read first.
    let mut runs: Vec<(String, Result<RunState, RunError>)> = store
        .ids()?
        .into_iter()
        .map(|id| {
            // `--unreadable` reads each run as strictly as opening it does
            // (a removed head is unreadable then, not a warning).
            let state = if args.unreadable {
                store
                    .history(&id)
                    .and_then(|h| RunState::from_records(&id, &h.records).map_err(RunError::from))
            } else {
                store.peek(&id)
            };
            (id, state)
        })
        .collect();
    runs.sort_by_key(|(id, s)| (s.as_ref().map_or(0, |s| s.created_ms), id.clone()));
    for (id, state) in runs {
        let state = match state {
            Ok(state) => state,
            Err(RunError::CutOffAtCreation { .. }) => {
                remove_unopened(&mut summary, &id, args.dry_run, false, || {
                    store.remove_cut_off(&id)
                });
                continue;
            }
            // A newer host's run is not damaged: never removed as unreadable.
            Err(e @ RunError::Journal(crate::run::journal::JournalError::NewerFormat { .. })) => {
                let reason = format!("cannot be read: {}", first_line(&e));
                summary.kept.push(kept(&id, None, reason, false));
                continue;
            }
            Err(_) if args.unreadable => {
                remove_unopened(&mut summary, &id, args.dry_run, true, || {
                    store.remove_unreadable(&id)
                });
                continue;
            }
            Err(e) => {
                let reason = format!(
                    "cannot be read: {}; `--unreadable` removes it",
                    first_line(&e)
                );
                summary.kept.push(kept(&id, None, reason, false));
                continue;
            }
        };
        if args.older_than.is_none() && !args.all {
            // `--unreadable` on its own: readable runs stay, unlisted.
            continue;
        }
        match judge(args, &state, now) {
            None => continue,
            Some(Some(reason)) => {
                summary
                    .kept
                    .push(kept(&id, Some(state.status), reason, false));
                continue;
            }
            Some(None) => {}
        }
        if args.dry_run {
            summary.removed.push(Removed {
                run: id,
                status: Some(state.status),
                age_ms: Some(now.saturating_sub(state.updated_ms)),
                bytes: None,
                unreadable: false,
            });
            continue;
        }
        let run = match store.open(&id) {
            Ok(run) => run,
            Err(RunError::Busy { .. }) => {
                let reason =
                    "another host process holds it (it is being driven or decided now)".into();
                summary
                    .kept
                    .push(kept(&id, Some(state.status), reason, false));
                continue;
            }
            Err(e) => {
                let reason = format!("cannot be opened: {}", first_line(&e));
                summary
                    .kept
                    .push(kept(&id, Some(state.status), reason, true));
                continue;
            }
        };
        // Judged again under the lock: it may have moved on since it was read.
        let status = run.state().status;
        let age_ms = now.saturating_sub(run.state().updated_ms);
        if judge(args, run.state(), now) != Some(None) {
            let reason = "it changed while pruning".into();
            summary.kept.push(kept(&id, Some(status), reason, false));
            continue;
        }
        match store.remove(run) {
            Err(RunError::KeptOpen { .. }) => {
                let reason = "a host process serves it (an MCP session)".into();
                summary.kept.push(kept(&id, Some(status), reason, false));
            }
            Ok(bytes) => {
                summary.freed_bytes += bytes;
                summary.removed.push(Removed {
                    run: id,
                    status: Some(status),
                    age_ms: Some(age_ms),
                    bytes: Some(bytes),
                    unreadable: false,
                });
            }
            Err(e) => {
                let reason = format!("cannot be removed: {}", first_line(&e));
                summary.kept.push(kept(&id, Some(status), reason, true));
            }
        }
    }
    let code = if summary.kept.iter().any(|k| k.failed) {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    };
    if args.json {
        output::json(&summary)?;
    } else {
        output::print(&text(&summary, &store.location()))?;
    }
    Ok(code)
}

/// The text view: one line per run, then what it came to.
fn text(summary: &Summary, location: &str) -> String {
    let mut out = String::new();
    let verb = if summary.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for r in &summary.removed {
        let size = r
            .bytes
            .map(|b| format!(", {}", human_bytes(b)))
            .unwrap_or_default();
        let what = match (r.status, r.age_ms) {
            (Some(status), Some(age_ms)) => format!("{status}, last event {} ago", age(age_ms)),
            _ if r.unreadable => "unreadable: its history does not read or verify".to_string(),
            _ => "no record: cut off as it was created".to_string(),
        };
        out.push_str(&format!("{verb} {} ({what}{size})\n", inert(&r.run)));
    }
    for k in &summary.kept {
        let status = k.status.map(|s| format!(" ({s})")).unwrap_or_default();
        out.push_str(&format!(
            "kept {}{status}: {}\n",
            inert(&k.run),
            inert(&k.reason)
        ));
    }
    let runs = |n: usize| format!("{n} run{}", if n == 1 { "" } else { "s" });
    out.push_str(&match (summary.dry_run, summary.removed.len()) {
        (_, 0) if summary.kept.is_empty() => format!("no runs to prune in {location}\n"),
        (true, n) => format!(
            "would remove {}, keep {}; nothing was removed (--dry-run)\n",
            runs(n),
            runs(summary.kept.len())
        ),
        (false, n) => format!(
            "removed {} ({} freed), kept {}\n",
            runs(n),
            human_bytes(summary.freed_bytes),
            runs(summary.kept.len())
        ),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(older_than: Option<u64>, force: bool) -> Args {
        Args {
            older_than,
            all: older_than.is_none(),
            force,
            unreadable: false,
            dry_run: false,
            json: false,
        }
    }

    #[test]
    fn only_old_enough_finished_runs_go_unless_forced() {
        let now = 10_000_000;
        let old = now - 3_600_000;
        for status in [RunStatus::Completed, RunStatus::Rejected, RunStatus::Failed] {
            assert_eq!(
                judge_status(&args(None, false), status, now, now),
                Some(None)
            );
            assert_eq!(
                judge_status(&args(Some(60_000), false), status, old, now),
                Some(None)
            );
            assert_eq!(
                judge_status(&args(Some(60_000), false), status, now, now),
                None
            );
        }
        for status in [
            RunStatus::WaitingApproval,
            RunStatus::Running,
            RunStatus::Applying,
        ] {
            let kept = judge_status(&args(None, false), status, old, now);
            assert!(kept.is_some_and(|r| r.is_some_and(|r| r.contains("--force"))));
            assert_eq!(
                judge_status(&args(None, true), status, old, now),
                Some(None)
            );
        }
    }
}
