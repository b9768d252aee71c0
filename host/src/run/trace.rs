//! Timings of a run, computed from its verified journal (`host trace`): every
//! step attempt from start to outcome, retries and their delays, review
//! rounds, how long the change set waited for a person and how long the
//! apply took.
//!
//! All times are offsets in milliseconds from the run's first record, taken
//! from the records' `at_ms` (the host's clock when it journaled the event);
//! a plugin's own `duration_ms` is reported beside them where recorded.

use serde::Serialize;

use crate::contract::Verdict;
use crate::error_kind::ErrorKind;
use crate::run::event::Event;
use crate::run::journal::Record;

/// Every event `type` a journal can hold, as [`Event::name`] spells them.
pub const EVENT_NAMES: &[&str] = Event::NAMES;

/// How a step attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum AttemptOutcome {
    /// Ended with `step_succeeded`.
    Succeeded,
    /// Ended with `step_failed`.
    Failed,
    /// Started, never finished: the host stopped, or the run failed
    /// elsewhere and the attempt was abandoned.
    Unfinished,
}

/// One attempt of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The step's id in the workflow.
    pub step: String,
    /// The attempt's number, as `step_started` records it.
    pub attempt: u32,
    /// 0 for the first draft, n for the n-th re-draft.
    pub round: u32,
    /// Offset of `step_started`.
    pub started_ms: u64,
    /// Offset of the `step_succeeded` / `step_failed`, if any.
    pub ended_ms: Option<u64>,
    /// `ended_ms - started_ms`, as the journal saw it.
    pub elapsed_ms: Option<u64>,
    /// The plugin call's own duration, where the journal records it.
    pub duration_ms: Option<u64>,
    /// How the attempt ended.
    pub outcome: AttemptOutcome,
    /// The error kind of a failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// The delay before the next attempt, if this one was retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_ms: Option<u64>,
}

/// One review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRound {
    /// 0 for the first review, n after the n-th re-draft.
    pub round: u32,
    /// The reviewer's decision.
    pub verdict: Verdict,
    /// Offset of `review_completed`.
    pub at_ms: u64,
    /// The reviewer call's own duration.
    pub duration_ms: u64,
}

/// A stretch between two events; `ended_ms` is `None` while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    /// Offset of the event that starts it, in milliseconds from the run's start.
    pub started_ms: u64,
    /// Offset of the event that ends it.
    pub ended_ms: Option<u64>,
    /// `ended_ms - started_ms`.
    pub elapsed_ms: Option<u64>,
    /// How it ended (`approved`, `rejected`, `completed`, `failed`).
    pub outcome: Option<&'static str>,
}

impl Attempt {
    /// The attempt's numbers in the order `host trace` and the console show
    /// them: attempt, round, started, ended, elapsed and the plugin's own
    /// duration (`None` where the journal has none).
    pub fn columns(&self) -> [Option<u64>; 6] {
        [
            Some(u64::from(self.attempt)),
            Some(u64::from(self.round)),
            Some(self.started_ms),
            self.ended_ms,
            self.elapsed_ms,
            self.duration_ms,
        ]
    }
}

impl Span {
    /// A stretch that starts at offset `now` and has not ended.
    fn open(now: u64) -> Span {
        Span {
            started_ms: now,
            ended_ms: None,
            elapsed_ms: None,
            outcome: None,
        }
    }
}

/// Everything `host trace` reports besides the event list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timings {
    /// `at_ms` of the first record: the run's start.
    pub run_started_at_ms: u64,
    /// Offset of the last record.
    pub last_event_ms: u64,
    /// Every step attempt, in the order they started.
    pub attempts: Vec<Attempt>,
    /// Every review that gave a verdict, in order.
    pub reviews: Vec<ReviewRound>,
    /// From `approval_requested` to the decision.
    pub approval_wait: Option<Span>,
    /// From `approval_granted` to the run's end.
    pub apply: Option<Span>,
}

/// Offset of `record` from the first record, in ms (0 if the clock went back).
pub fn offset(records: &[Record], record: &Record) -> u64 {
    records
        .first()
        .map_or(0, |first| record.at_ms.saturating_sub(first.at_ms))
}

/// Compute the timings of a run from its records.
pub fn timings(records: &[Record]) -> Timings {
    let start = records.first().map_or(0, |r| r.at_ms);
    let at = |r: &Record| r.at_ms.saturating_sub(start);
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut reviews = Vec::new();
    let mut approval_wait: Option<Span> = None;
    let mut apply: Option<Span> = None;
    // End the latest open attempt of `step` numbered `attempt` at `now`;
    // `record` sets its outcome and what the ending event adds.
    fn close(
        attempts: &mut [Attempt],
        step: &str,
        attempt: u32,
        now: u64,
        record: impl FnOnce(&mut Attempt),
    ) {
        if let Some(a) = attempts
            .iter_mut()
            .rev()
            .find(|a| a.step == step && a.attempt == attempt && a.ended_ms.is_none())
        {
            a.ended_ms = Some(now);
            a.elapsed_ms = Some(now.saturating_sub(a.started_ms));
            record(a);
        }
    }
    let end = |span: &mut Option<Span>, now: u64, outcome: &'static str| {
        if let Some(s) = span.as_mut().filter(|s| s.ended_ms.is_none()) {
            s.ended_ms = Some(now);
            s.elapsed_ms = Some(now.saturating_sub(s.started_ms));
            s.outcome = Some(outcome);
        }
    };
    for record in records {
        let now = at(record);
        match &record.event {
            Event::StepStarted {
                step,
                attempt,
                round,
                ..
            } => attempts.push(Attempt {
                step: step.clone(),
                attempt: *attempt,
                round: *round,
                started_ms: now,
                ended_ms: None,
                elapsed_ms: None,
                duration_ms: None,
                outcome: AttemptOutcome::Unfinished,
                error_kind: None,
                retry_delay_ms: None,
            }),
            Event::StepSucceeded {
                step,
                attempt,
                duration_ms,
                ..
            } => close(&mut attempts, step, *attempt, now, |a| {
                a.outcome = AttemptOutcome::Succeeded;
                a.duration_ms = Some(*duration_ms);
            }),
            Event::StepFailed {
                step,
                attempt,
                error_kind,
                ..
            } => close(&mut attempts, step, *attempt, now, |a| {
                a.outcome = AttemptOutcome::Failed;
                a.error_kind = Some(*error_kind);
            }),
            Event::StepRetried {
                step,
                attempt,
                delay_ms,
            } => {
                // `attempt` is the one that will start; the delay follows the one before.
                if let Some(a) = attempts.iter_mut().rev().find(|a| {
                    a.step == *step && a.attempt + 1 == *attempt && a.retry_delay_ms.is_none()
                }) {
                    a.retry_delay_ms = Some(*delay_ms);
                }
            }
            Event::ReviewCompleted {
                round,
                verdict,
                duration_ms,
                ..
            } => reviews.push(ReviewRound {
                round: *round,
                verdict: *verdict,
                at_ms: now,
                duration_ms: *duration_ms,
            }),
            Event::ApprovalRequested { .. } => approval_wait = Some(Span::open(now)),
            Event::ApprovalGranted { .. } => {
                end(&mut approval_wait, now, "approved");
                apply = Some(Span::open(now));
            }
            Event::ApprovalRejected { .. } => end(&mut approval_wait, now, "rejected"),
            Event::RunCompleted {} => end(&mut apply, now, "completed"),
            Event::RunFailed { .. } => end(&mut apply, now, "failed"),
            Event::RunCreated { .. }
            | Event::ReviewFailed { .. }
            | Event::RedraftRequested { .. }
            | Event::RunResumed { .. }
            | Event::GrantsChanged { .. }
            | Event::WriteApplied { .. }
            | Event::RunRejectedByReviewer { .. }
            | Event::ChangeSetAmended { .. }
            | Event::ChangeSetExtended { .. }
            | Event::SessionContinued { .. }
            | Event::RevertOf { .. }
            | Event::RevertedBy { .. }
            | Event::ToolCallRequested { .. }
            | Event::PolicyDecided { .. }
            | Event::ToolCallFinished { .. }
            | Event::ToolCallFailed { .. } => {}
        }
    }
    Timings {
        run_started_at_ms: start,
        last_event_ms: records.last().map_or(0, at),
        attempts,
        reviews,
        approval_wait,
        apply,
    }
}

/// Check an event type name for a filter; the error lists the valid ones.
pub fn check_event_name(name: &str) -> Result<&'static str, String> {
    EVENT_NAMES
        .iter()
        .find(|n| **n == name)
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown event type `{}`\nhint: valid event types: {}",
                crate::render::inert(name),
                EVENT_NAMES.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::changeset::ChangeSet;

    fn rec(seq: u64, at_ms: u64, event: Event) -> Record {
        Record {
            seq,
            at_ms,
            hash: String::new(),
            event,
        }
    }

    fn started(step: &str, attempt: u32, round: u32) -> Event {
        Event::StepStarted {
            step: step.into(),
            plugin: "p".into(),
            attempt,
            round,
        }
    }

    fn failed(step: &str, attempt: u32) -> Event {
        Event::StepFailed {
            step: step.into(),
            attempt,
            error_kind: ErrorKind::Transient,
            message: "busy".into(),
            logs: Vec::new(),
        }
    }

    fn succeeded(step: &str, attempt: u32, duration_ms: u64) -> Event {
        Event::StepSucceeded {
            step: step.into(),
            attempt,
            output_sha256: "x".into(),
            output_blob: String::new(),
            writes: Vec::new(),
            logs: Vec::new(),
            duration_ms,
        }
    }

    fn created() -> Event {
        Event::test_created("/ws", "/out")
    }

    fn review(round: u32, verdict: Verdict) -> Event {
        Event::ReviewCompleted {
            plugin: "rev".into(),
            round,
            verdict,
            findings: Vec::new(),
            summary: String::new(),
            logs: Vec::new(),
            duration_ms: 7,
        }
    }

    #[test]
    fn attempts_retries_reviews_approval_and_apply_are_timed() {
        let records = [
            rec(0, 1000, created()),
            rec(1, 1010, started("a", 1, 0)),
            rec(2, 1030, failed("a", 1)),
            rec(
                3,
                1030,
                Event::StepRetried {
                    step: "a".into(),
                    attempt: 2,
                    delay_ms: 150,
                },
            ),
            rec(4, 1180, started("a", 2, 0)),
            rec(5, 1200, succeeded("a", 2, 18)),
            rec(6, 1250, review(0, Verdict::Revise)),
            rec(
                7,
                1250,
                Event::RedraftRequested {
                    round: 1,
                    steps: vec!["a".into()],
                },
            ),
            rec(8, 1260, started("a", 3, 1)),
            rec(9, 1300, succeeded("a", 3, 35)),
            rec(10, 1320, review(1, Verdict::Pass)),
            rec(
                11,
                1330,
                Event::ApprovalRequested {
                    change_set: ChangeSet::new(Vec::new()),
                    digest: "c".into(),
                },
            ),
            rec(
                12,
                5330,
                Event::ApprovalGranted {
                    approver: "me".into(),
                    digest: "c".into(),
                    reason: None,
                },
            ),
            rec(13, 5340, Event::RunCompleted {}),
        ];
        let t = timings(&records);
        assert_eq!(t.run_started_at_ms, 1000);
        assert_eq!(t.last_event_ms, 4340);
        let summary: Vec<_> = t
            .attempts
            .iter()
            .map(|a| {
                (
                    a.attempt,
                    a.round,
                    a.started_ms,
                    a.ended_ms,
                    a.duration_ms,
                    a.outcome,
                    a.retry_delay_ms,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (1, 0, 10, Some(30), None, AttemptOutcome::Failed, Some(150)),
                (
                    2,
                    0,
                    180,
                    Some(200),
                    Some(18),
                    AttemptOutcome::Succeeded,
                    None
                ),
                (
                    3,
                    1,
                    260,
                    Some(300),
                    Some(35),
                    AttemptOutcome::Succeeded,
                    None
                ),
            ]
        );
        assert_eq!(t.attempts[0].error_kind, Some(ErrorKind::Transient));
        assert_eq!(t.attempts[1].elapsed_ms, Some(20));
        let rounds: Vec<_> = t.reviews.iter().map(|r| (r.round, r.verdict)).collect();
        assert_eq!(rounds, [(0, Verdict::Revise), (1, Verdict::Pass)]);
        let wait = t.approval_wait.expect("approval wait");
        assert_eq!(
            (wait.elapsed_ms, wait.outcome),
            (Some(4000), Some("approved"))
        );
        let apply = t.apply.expect("apply");
        assert_eq!(
            (apply.elapsed_ms, apply.outcome),
            (Some(10), Some("completed"))
        );
    }

    #[test]
    fn an_abandoned_attempt_stays_unfinished() {
        let records = [
            rec(0, 0, created()),
            rec(1, 5, started("a", 1, 0)),
            rec(2, 6, started("b", 1, 0)),
            rec(3, 9, failed("b", 1)),
            rec(
                4,
                9,
                Event::RunFailed {
                    step: Some("b".into()),
                    reason: "x".into(),
                },
            ),
        ];
        let t = timings(&records);
        assert_eq!(t.attempts[0].outcome, AttemptOutcome::Unfinished);
        assert_eq!(t.attempts[0].ended_ms, None);
        assert_eq!(t.attempts[1].outcome, AttemptOutcome::Failed);
        assert!(t.approval_wait.is_none() && t.apply.is_none());
    }

    #[test]
    fn event_names_match_every_event() {
        let samples = [
            created(),
            started("a", 1, 0),
            succeeded("a", 1, 1),
            failed("a", 1),
            Event::StepRetried {
                step: "a".into(),
                attempt: 2,
                delay_ms: 1,
            },
            review(0, Verdict::Pass),
            Event::ReviewFailed {
                plugin: String::new(),
                round: 0,
                error_kind: ErrorKind::Failed,
                message: String::new(),
                logs: Vec::new(),
            },
            Event::RedraftRequested {
                round: 1,
                steps: Vec::new(),
            },
            Event::RunResumed {
                by: String::new(),
                from: String::new(),
                rerun: Vec::new(),
                rebuilt: Vec::new(),
            },
            Event::GrantsChanged {
                plugin: String::new(),
                from_digest: String::new(),
                to_digest: String::new(),
                by: String::new(),
                changes: Vec::new(),
                grants: serde_json::Value::Null,
            },
            Event::ApprovalRequested {
                change_set: ChangeSet::new(Vec::new()),
                digest: String::new(),
            },
            Event::ChangeSetExtended {
                added: Vec::new(),
                digest: String::new(),
            },
            Event::ApprovalGranted {
                approver: String::new(),
                digest: String::new(),
                reason: None,
            },
            Event::ApprovalRejected {
                approver: String::new(),
                reason: String::new(),
            },
            Event::WriteApplied {
                path: String::new(),
                sha256: None,
                recovered: false,
            },
            Event::RunCompleted {},
            Event::RunFailed {
                step: None,
                reason: String::new(),
            },
            Event::RunRejectedByReviewer {
                summary: String::new(),
            },
            Event::ChangeSetAmended {
                by: String::new(),
                from_digest: String::new(),
                digest: String::new(),
                change_set: ChangeSet::new(Vec::new()),
                dropped: Vec::new(),
                edited: Vec::new(),
            },
            Event::RevertOf {
                run: String::new(),
                by: String::new(),
                refused: Vec::new(),
            },
            Event::RevertedBy {
                run: String::new(),
                by: String::new(),
            },
            Event::SessionContinued { run: String::new() },
            Event::ToolCallRequested {
                call: String::new(),
                plugin: String::new(),
                plugin_sha256: String::new(),
                arguments_sha256: String::new(),
                arguments: serde_json::Value::Null,
                via: String::new(),
            },
            Event::PolicyDecided {
                call: String::new(),
                action: String::new(),
                rule: None,
                answer: None,
                allowed: true,
                reason: String::new(),
            },
            Event::ToolCallFinished {
                call: String::new(),
                plugin: String::new(),
                plugin_sha256: String::new(),
                output_sha256: String::new(),
                output_blob: String::new(),
                writes: Vec::new(),
                logs: Vec::new(),
                duration_ms: 0,
            },
            Event::ToolCallFailed {
                call: String::new(),
                plugin: String::new(),
                error_kind: ErrorKind::Failed,
                message: String::new(),
                logs: Vec::new(),
            },
        ];
        for event in &samples {
            // No wildcard: a new event variant fails to compile here until it
            // has a sample above (whose serde tag must match its name).
            match event {
                Event::RunCreated { .. }
                | Event::StepStarted { .. }
                | Event::StepSucceeded { .. }
                | Event::StepFailed { .. }
                | Event::StepRetried { .. }
                | Event::ReviewCompleted { .. }
                | Event::ReviewFailed { .. }
                | Event::RedraftRequested { .. }
                | Event::RunResumed { .. }
                | Event::GrantsChanged { .. }
                | Event::ApprovalRequested { .. }
                | Event::ApprovalGranted { .. }
                | Event::ApprovalRejected { .. }
                | Event::WriteApplied { .. }
                | Event::RunCompleted {}
                | Event::RunFailed { .. }
                | Event::RunRejectedByReviewer { .. }
                | Event::ChangeSetAmended { .. }
                | Event::ChangeSetExtended { .. }
                | Event::SessionContinued { .. }
                | Event::RevertOf { .. }
                | Event::RevertedBy { .. }
                | Event::ToolCallRequested { .. }
                | Event::PolicyDecided { .. }
                | Event::ToolCallFinished { .. }
                | Event::ToolCallFailed { .. } => {}
            }
        }
        let names: Vec<&str> = samples.iter().map(Event::name).collect();
        assert_eq!(names, EVENT_NAMES);
        for event in &samples {
            let json = serde_json::to_value(event).expect("json");
            assert_eq!(json["type"], event.name(), "serde and strum disagree");
        }
    }

    #[test]
    fn unknown_event_names_are_refused_with_the_valid_ones() {
        assert_eq!(check_event_name("step_failed"), Ok("step_failed"));
        let e = check_event_name("step-failed\u{1b}").expect_err("unknown");
        assert!(e.contains("`step-failed\\u{001b}`"), "{e}");
        assert!(e.contains("run_created, step_started"), "{e}");
    }
}
