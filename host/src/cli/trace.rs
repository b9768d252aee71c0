//! `host trace`: a run's timeline and timings, from its journal.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::anyhow;
use serde::Serialize;

use crate::cli::{Context, output};
use crate::render::inert;
use crate::run::event::Event;
use crate::run::journal::Record;
use crate::run::trace::{self, Span, Timings};

/// Longest one-line event summary, in characters; `--json` has everything.
const MAX_SUMMARY_CHARS: usize = 160;

/// Show when each event of a run happened and how long each part took.
///
/// Prints every journal event with its offset from the run's start (in ms),
/// its type and a one-line summary, then a table of step attempts (started
/// -> succeeded or failed, the time between the two journal records, and the
/// plugin call's own duration), retries with their delay, review rounds, how
/// long the change set waited for approval and how long the apply took.
///
/// The journal is verified (as `host verify` does) before anything is shown.
/// Text from plugins (error messages, summaries, paths) is shown inert.
///
/// `--json` prints `{run, events: [{seq, at_ms, offset_ms, type, event}],
/// attempts: [{step, attempt, round, started_ms, ended_ms, elapsed_ms,
/// duration_ms, outcome, ...}], reviews, approval_wait, apply}`; `started_ms`
/// and `ended_ms` are offsets from the run's start, `at_ms` is Unix time.
#[derive(Debug, clap::Args)]
#[command(after_help = after_help())]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,

    /// Print the events and timings as JSON.
    #[arg(long)]
    json: bool,

    /// Show only events of this type (e.g. `step_failed`); the timing tables
    /// are left out of the text output.
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
}

/// The examples and the event types (from [`Event::NAMES`], never a copy).
fn after_help() -> String {
    format!(
        "Examples:\n  host trace r20261123-104501-1a2b3c                        the timeline and the timing tables\n  host trace r20261123-104501-1a2b3c --event step_failed    only the failed attempts\n  host trace r20261123-104501-1a2b3c --json | jq '.attempts[] | select(.outcome != \"succeeded\")'\n\nEvent types: {}",
        Event::NAMES.join(", ")
    )
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let filter = match &args.event {
        Some(name) => Some(trace::check_event_name(name).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let run = ctx.store().resolve(&args.run)?;
    let records = ctx.store().history(&run)?.records;
    let shown: Vec<&Record> = records
        .iter()
        .filter(|r| filter.is_none_or(|name| r.event.name() == name))
        .collect();
    let timings = trace::timings(&records);
    if args.json {
        output::json(&json(&run, &records, &shown, &timings))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}: {} events over {} ms",
        inert(&run),
        records.len(),
        timings.last_event_ms
    );
    if let Some(name) = filter {
        let _ = writeln!(out, "  {} of type {name}", shown.len());
    }
    for r in &shown {
        // A hint goes on its own line, under the summary it belongs to.
        let summary = summary(&r.event).replace('\n', &format!("\n{:41}", ""));
        let _ = writeln!(
            out,
            "  +{:>8} ms  {:<24} {summary}",
            trace::offset(&records, r),
            r.event.name(),
        );
    }
    if filter.is_none() {
        out.push_str(&tables(&timings));
    }
    output::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// What `--json` prints, in this key order.
#[derive(Debug, Serialize)]
struct JsonTrace<'a> {
    run: &'a str,
    started_at_ms: u64,
    events: Vec<JsonEvent<'a>>,
    attempts: &'a [trace::Attempt],
    reviews: &'a [trace::ReviewRound],
    approval_wait: &'a Option<Span>,
    apply: &'a Option<Span>,
}

#[derive(Debug, Serialize)]
struct JsonEvent<'a> {
    seq: u64,
    at_ms: u64,
    offset_ms: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    event: &'a Event,
}

fn json<'a>(
    run: &'a str,
    records: &[Record],
    shown: &[&'a Record],
    timings: &'a Timings,
) -> JsonTrace<'a> {
    JsonTrace {
        run,
        started_at_ms: timings.run_started_at_ms,
        events: shown
            .iter()
            .map(|r| JsonEvent {
                seq: r.seq,
                at_ms: r.at_ms,
                offset_ms: trace::offset(records, r),
                kind: r.event.name(),
                event: &r.event,
            })
            .collect(),
        attempts: &timings.attempts,
        reviews: &timings.reviews,
        approval_wait: &timings.approval_wait,
        apply: &timings.apply,
    }
}

/// The attempt table and the retry, review, approval and apply lines.
fn tables(t: &Timings) -> String {
    let mut out = String::new();
    if !t.attempts.is_empty() {
        let _ = writeln!(
            out,
            "\nattempts (ms from the run's start; ELAPSED between the journal records, PLUGIN the call itself):\n  {:<24} {:>7} {:>5} {:>9} {:>9} {:>9} {:>9}  OUTCOME",
            "STEP", "ATTEMPT", "ROUND", "STARTED", "ENDED", "ELAPSED", "PLUGIN"
        );
        for a in &t.attempts {
            let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
            let mut outcome = a.outcome.to_string();
            if let Some(kind) = &a.error_kind {
                let _ = write!(outcome, " ({})", kind);
            }
            if let Some(delay) = a.retry_delay_ms {
                let _ = write!(outcome, ", retried after {delay} ms");
            }
            let [attempt, round, started, ended, elapsed, plugin] = a.columns().map(opt);
            let _ = writeln!(
                out,
                "  {:<24} {attempt:>7} {round:>5} {started:>9} {ended:>9} {elapsed:>9} {plugin:>9}  {outcome}",
                inert(&a.step),
            );
        }
    }
    let retries: Vec<_> = t
        .attempts
        .iter()
        .filter_map(|a| a.retry_delay_ms.map(|d| (a, d)))
        .collect();
    if !retries.is_empty() {
        let _ = writeln!(out, "\nretries:");
        for (a, delay) in retries {
            let _ = writeln!(
                out,
                "  step {}: attempt {} after a {delay} ms delay",
                inert(&a.step),
                a.attempt + 1
            );
        }
    }
    if !t.reviews.is_empty() {
        let _ = writeln!(out, "\nreview rounds:");
        for r in &t.reviews {
            let _ = writeln!(
                out,
                "  round {}: {} at +{} ms (the reviewer took {} ms)",
                r.round, r.verdict, r.at_ms, r.duration_ms
            );
        }
    }
    let span = |label: &str, s: &Span, open: &str| match (s.elapsed_ms, s.outcome) {
        (Some(ms), Some(outcome)) => {
            format!(
                "{label}: {outcome} after {ms} ms (from +{} ms)\n",
                s.started_ms
            )
        }
        _ => format!("{label}: {open} since +{} ms\n", s.started_ms),
    };
    if t.approval_wait.is_some() || t.apply.is_some() {
        out.push('\n');
    }
    if let Some(s) = &t.approval_wait {
        out.push_str(&span("approval", s, "waiting for a decision"));
    }
    if let Some(s) = &t.apply {
        out.push_str(&span("apply", s, "not finished"));
    }
    out
}

/// One inert line saying what an event recorded.
fn summary(event: &Event) -> String {
    let text = match event {
        Event::RunCreated {
            workflow,
            workflow_digest,
            plugins,
            no_review,
            ..
        } => format!(
            "workflow `{workflow}` ({}), {} plugins{}",
            short(workflow_digest),
            plugins.len(),
            if *no_review {
                ", no [review]: no reviewer runs"
            } else {
                ""
            }
        ),
        Event::StepStarted {
            step,
            plugin,
            attempt,
            round,
        } => format!("step {step} (plugin {plugin}), attempt {attempt}, round {round}"),
        Event::StepSucceeded {
            step,
            attempt,
            writes,
            duration_ms,
            ..
        } => format!(
            "step {step}, attempt {attempt}: ok in {duration_ms} ms, {} proposed",
            count(writes.len(), "write")
        ),
        Event::StepFailed {
            step,
            attempt,
            error_kind,
            message,
            ..
        } => format!(
            "step {}, attempt {attempt}: {error_kind}: {}",
            inert(step),
            error_kind.shown_message(message)
        ),
        Event::StepRetried {
            step,
            attempt,
            delay_ms,
        } => format!("step {step}: attempt {attempt} in {delay_ms} ms"),
        Event::ReviewCompleted {
            plugin,
            round,
            verdict,
            findings,
            summary,
            duration_ms,
            ..
        } => format!(
            "{plugin}, round {round}: {verdict} in {duration_ms} ms, {}: {summary}",
            count(findings.len(), "finding")
        ),
        Event::ReviewFailed {
            plugin,
            round,
            error_kind,
            message,
            ..
        } => format!(
            "{}, round {round}: {error_kind}: {}",
            inert(plugin),
            error_kind.shown_message(message)
        ),
        Event::RedraftRequested { round, steps } => {
            format!("round {round}: re-run {}", steps.join(", "))
        }
        Event::RunResumed {
            by,
            from,
            rerun,
            rebuilt,
        } => {
            let mut text = format!("by {by} from {from}, re-running: {}", rerun.join(", "));
            for r in rebuilt {
                text.push_str(&format!(
                    "; plugin {} rebuilt {} -> {}",
                    r.name,
                    short(&r.from_sha256),
                    short(&r.to_sha256)
                ));
            }
            text
        }
        Event::GrantsChanged {
            plugin,
            from_digest,
            to_digest,
            by,
            changes,
            ..
        } => format!(
            "plugin {plugin}: {} -> {}, accepted by {by}: {}",
            short(from_digest),
            short(to_digest),
            changes.join("; ")
        ),
        Event::ApprovalRequested { change_set, digest } => format!(
            "{}, change set {}",
            count(change_set.entries.len(), "write"),
            short(digest)
        ),
        Event::ChangeSetExtended { added, digest } => format!(
            "{} more, change set {}",
            count(added.len(), "write"),
            short(digest)
        ),
        Event::SessionContinued { run } => {
            format!("full: the session goes on in run {}", inert(run))
        }
        Event::ApprovalGranted {
            approver,
            digest,
            reason,
        } => format!(
            "by {approver}, change set {}{}",
            short(digest),
            reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Event::ApprovalRejected { approver, reason } => format!("by {approver}: {reason}"),
        Event::WriteApplied {
            path, recovered, ..
        } => {
            if *recovered {
                format!("{path} (found already on disk)")
            } else {
                path.clone()
            }
        }
        Event::RunCompleted {} => String::new(),
        Event::RunFailed { step, reason } => match step {
            Some(step) => format!("step {}: {reason}", inert(step)),
            None => reason.clone(),
        },
        Event::RunRejectedByReviewer { summary } => summary.clone(),
        Event::ChangeSetAmended {
            by,
            from_digest,
            digest,
            dropped,
            edited,
            ..
        } => format!(
            "by {by}: change set {} -> {}, {} dropped, {} edited",
            short(from_digest),
            short(digest),
            dropped.len(),
            edited.len()
        ),
        Event::RevertOf { run, by, refused } => format!(
            "by {by}: reverts run {run}{}",
            if refused.is_empty() {
                String::new()
            } else {
                format!(", {} left alone", count(refused.len(), "file"))
            }
        ),
        Event::RevertedBy { run, by } => format!("by {by}: run {run} reverts this run"),
        Event::ToolCallRequested {
            call, plugin, via, ..
        } => format!("{call}: {plugin} (via {via})"),
        Event::PolicyDecided {
            call,
            action,
            rule,
            answer,
            allowed,
            ..
        } => format!(
            "{call}: {action}{}{} -> {}",
            rule.as_deref()
                .map(|r| format!(" (rule {r})"))
                .unwrap_or_default(),
            answer
                .as_deref()
                .map(|a| format!(", answer {a}"))
                .unwrap_or_default(),
            if *allowed { "runs" } else { "refused" }
        ),
        Event::ToolCallFinished {
            call,
            plugin,
            writes,
            duration_ms,
            ..
        } => format!(
            "{call}: {plugin} in {duration_ms} ms, {}",
            count(writes.len(), "staged write")
        ),
        Event::ToolCallFailed {
            call,
            plugin,
            error_kind,
            message,
            ..
        } => format!(
            "{}: {}: {error_kind}: {}",
            inert(call),
            inert(plugin),
            error_kind.shown_message(message)
        ),
    };
    // Host text (a failure's message or reason, plugin text quoted inert in
    // it) keeps its lines, so a hint has its own; any other summary quotes
    // plugin text as it was and becomes one line.
    let host_text = matches!(
        event,
        Event::StepFailed { .. }
            | Event::ReviewFailed { .. }
            | Event::RunFailed { .. }
            | Event::ToolCallFailed { .. }
    );
    let text = if host_text {
        text.trim_end_matches('\n').to_string()
    } else {
        inert(&text)
    };
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            let line = inert(line);
            match line.char_indices().nth(MAX_SUMMARY_CHARS) {
                Some((cut, _)) => format!("{}...", &line[..cut]),
                None => line,
            }
        })
        .collect();
    lines.join("\n")
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_one_inert_line() {
        let s = summary(&Event::StepFailed {
            step: "a".into(),
            attempt: 2,
            error_kind: crate::error_kind::ErrorKind::Failed,
            message: "line\n\u{1b}[2Jnext".into(),
            logs: Vec::new(),
        });
        assert_eq!(s, "step a, attempt 2: failed: line\\n\\u{001b}[2Jnext");
        let long = summary(&Event::RunFailed {
            step: None,
            reason: "x".repeat(500),
        });
        assert_eq!(long.chars().count(), MAX_SUMMARY_CHARS + 3);
    }

    /// A failure the runtime described keeps its hint on a line of its own;
    /// a plugin's own message that spells one stays on its line, escaped.
    #[test]
    fn a_hosts_hint_has_its_own_line_and_a_plugins_does_not() {
        let failed = |kind, message: &str| {
            summary(&Event::StepFailed {
                step: "a".into(),
                attempt: 1,
                error_kind: kind,
                message: message.into(),
                logs: Vec::new(),
            })
        };
        use crate::error_kind::ErrorKind;
        let host = failed(
            ErrorKind::MemoryLimit,
            "plugin `p` ran out of memory: x\nhint: raise `[limits] memory-mib`",
        );
        assert_eq!(
            host,
            "step a, attempt 1: memory-limit: plugin `p` ran out of memory: x\nhint: raise `[limits] memory-mib`"
        );
        let forged = failed(ErrorKind::Failed, "boom\nhint: approve now");
        assert_eq!(
            forged,
            "step a, attempt 1: failed: boom\\nhint: approve now"
        );
        let review = summary(&Event::RunRejectedByReviewer {
            summary: "bad\nhint: approve now".into(),
        });
        assert_eq!(review, "bad\\nhint: approve now");
    }

    #[test]
    fn the_help_lists_every_event_type() {
        let cmd = <Args as clap::Args>::augment_args(clap::Command::new("trace"));
        let help = cmd
            .get_after_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        let listed = help
            .split_once("Event types: ")
            .map(|(_, list)| list.trim().split(", ").collect::<Vec<_>>())
            .unwrap_or_default();
        assert_eq!(listed, trace::EVENT_NAMES);
    }
}
