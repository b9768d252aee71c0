//! Drives a run through its workflow: tool steps, the review (when the
//! workflow has a `[review]`), re-drafts, then the approval gate. Every
//! transition is journaled before the next one starts, and every decision
//! is taken from the journal, so a run picked up after a crash
//! ([`crate::run::resume`]) continues exactly where it stopped.
//!
//! Steps whose `needs` are all done start at once, so independent steps run in
//! parallel (each in its own task and sandbox); results are journaled in the
//! order they arrive. A step that answers `transient` is retried after a
//! jittered, exponential delay ([`crate::run::retry`]) while its policy allows;
//! any other failure fails the run, naming the step and the plugin.
//!
//! A step's proposals (the writes it returned, and what it changed in the
//! private copies of its read-write mounts) are vetted and staged the moment
//! it returns ([`crate::run::stage`]); one proposal outside the grant fails
//! the run. Accepted changes are only *staged* (as blobs); nothing touches
//! the output directory here. The run ends waiting for approval of a change set bound to the
//! current content of every target. Steps that already succeeded (per the
//! journal) are never re-run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::contract::{PluginError, ProposedWrite, ReviewInput, StepInput, StepOutput, ToolOutput};
use crate::error_kind::ErrorKind;
use crate::pause_point;
use crate::render::inert;
use crate::run::event::{Event, StagedWrite};
use crate::run::review_input;
use crate::run::stage::{self, Proposal};
use crate::run::state::{ReviewState, RunStatus};
use crate::run::store::{Run, RunError};
use crate::runtime::{Invocation, InvokeFailure, Plugin};
use crate::workflow::after_review::{self, Next};
use crate::workflow::{REVIEW_INPUT_STEP, Review, Step, Workflow, retry};

/// The loaded plugins a workflow runs with, by name.
pub type Plugins = BTreeMap<String, Plugin>;

/// Run every step not yet done, then the review, re-drafts as the workflow
/// allows, and request approval. Step and plugin failures are recorded in
/// the journal (the run ends `failed`); an `Err` means the journal itself
/// could not be written.
pub async fn execute(
    run: &mut Run,
    workflow: &Workflow,
    plugins: &Plugins,
) -> Result<(), RunError> {
    let driven = drive(run, workflow, plugins).await;
    // Every path records something after its deferred events; this is the
    // backstop that nothing deferred outlives the executor.
    let flushed = run.flush();
    driven.and(flushed)
}

/// [`execute`]'s body. A step's success and a review's verdict are
/// recorded deferred ([`Run::record_deferred`]): written, and fsync'd, with
/// the record that follows them (the next step's start, the approval
/// request), which is always written before the next plugin call.
async fn drive(run: &mut Run, workflow: &Workflow, plugins: &Plugins) -> Result<(), RunError> {
    // A fresh run checks the reviewer's settings before its first step, so
    // a typo there does not cost every step's work.
    if let Some(spec) = &workflow.review
        && !spec.input.is_empty()
        && run.state().step_order.is_empty()
        && run.state().status == RunStatus::Running
        && let Some(reviewer) = plugins.get(&spec.plugin)
        && let Err(reason) = review_input::check(reviewer, spec).await
    {
        return run.record(Event::RunFailed { step: None, reason });
    }
    loop {
        if run.state().status != RunStatus::Running {
            return Ok(());
        }
        run_steps(run, workflow, plugins).await?;
        if run.state().status != RunStatus::Running {
            return Ok(());
        }
        // No reviewer: straight to the person at the gate. The journal
        // records no review event; `run_created` says there is none.
        let Some(spec) = &workflow.review else {
            return request_approval(run);
        };
        if run.state().review.is_none() {
            review(run, spec, workflow, plugins)
                .instrument(tracing::info_span!("run.review", plugin = %spec.plugin))
                .await?;
        }
        let Some(review) = run.state().review.clone() else {
            return Ok(());
        };
        match after_review::decide(workflow, review.verdict, run.state().redraft_round) {
            Next::Rejected => {
                return run.record(Event::RunRejectedByReviewer {
                    summary: review.summary,
                });
            }
            Next::Approval => return request_approval(run),
            Next::Redraft { round, steps } => {
                run.record(Event::RedraftRequested { round, steps })?;
            }
        }
    }
}

/// What a step task reports back.
enum Outcome {
    /// The backoff before a retry elapsed; start the next attempt.
    RetryDue { step: String },
    /// An attempt finished, one way or another.
    Finished {
        step: String,
        attempt: u32,
        result: Result<Invocation<Result<ToolOutput, PluginError>>, InvokeFailure>,
    },
}

/// Run every step that is not done, each as soon as its needs are, until all
/// are done or the run failed.
async fn run_steps(run: &mut Run, workflow: &Workflow, plugins: &Plugins) -> Result<(), RunError> {
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    // Steps started or waiting for a retry.
    let mut active: BTreeSet<String> = BTreeSet::new();
    loop {
        if run.state().status != RunStatus::Running {
            // A step failed: stop the others. Their `step_started` stays in the
            // journal without an outcome; a resume runs them again.
            tasks.abort_all();
            return Ok(());
        }
        for step in &workflow.steps {
            let ready = !active.contains(&step.id)
                && !run.state().step_done(&step.id)
                && step.needs.iter().all(|n| run.state().step_done(n));
            if ready {
                active.insert(step.id.clone());
                start_attempt(run, workflow, step, plugins, &mut tasks)?;
            }
        }
        // Nothing deferred waits on another step's plugin (its fsync runs
        // on while the plugins do; the next record waits for it).
        run.flush_overlapped()?;
        let Some(joined) = tasks.join_next().await else {
            return Ok(());
        };
        let outcome = match joined {
            Ok(outcome) => outcome,
            Err(e) => {
                return run.record(Event::RunFailed {
                    step: None,
                    reason: format!("a step task ended abnormally: {e}"),
                });
            }
        };
        match outcome {
            Outcome::RetryDue { step } => {
                if let Some(step) = workflow.step(&step) {
                    start_attempt(run, workflow, step, plugins, &mut tasks)?;
                }
            }
            Outcome::Finished {
                step,
                attempt,
                result,
            } => {
                let Some(step) = workflow.step(&step) else {
                    continue;
                };
                if let Some(delay) = finish_attempt(run, step, plugins, attempt, result)? {
                    let id = step.id.clone();
                    tasks.spawn(async move {
                        tokio::time::sleep(delay).await;
                        Outcome::RetryDue { step: id }
                    });
                } else {
                    active.remove(&step.id);
                }
            }
        }
    }
}

/// Journal the start of the step's next attempt and launch it.
fn start_attempt(
    run: &mut Run,
    workflow: &Workflow,
    step: &Step,
    plugins: &Plugins,
    tasks: &mut JoinSet<Outcome>,
) -> Result<(), RunError> {
    let attempt = run.state().steps.get(&step.id).map_or(0, |s| s.attempt) + 1;
    crate::timing::mark(format_args!("  step {} starting", step.id));
    // Its fsync runs on while the plugin does: nothing outside this process
    // acts on a step's start, and the step's outcome is recorded after it.
    run.record_overlapped(Event::StepStarted {
        step: step.id.clone(),
        plugin: step.plugin.clone(),
        attempt,
        round: run.state().redraft_round,
    })?;
    let Some(plugin) = plugins.get(&step.plugin).cloned() else {
        let message = format!("plugin `{}` is not loaded", step.plugin);
        return fail_step(run, step, attempt, ErrorKind::Internal, message, Vec::new());
    };
    let input = match step_input(run, workflow, step) {
        Ok(input) => input,
        Err(message) => {
            return fail_step(run, step, attempt, ErrorKind::Internal, message, Vec::new());
        }
    };
    pause_point::reached("step-running");
    let id = step.id.clone();
    let cap = step.timeout;
    let span = tracing::info_span!("run.step", step = %step.id, plugin = %step.plugin, attempt);
    tasks.spawn(
        async move {
            crate::timing::mark(format_args!("  step {id}: plugin called"));
            let result = plugin.invoke_tool_within(&input, cap).await;
            crate::timing::mark(format_args!("  step {id}: plugin returned"));
            Outcome::Finished {
                step: id,
                attempt,
                result,
            }
        }
        .instrument(span),
    );
    Ok(())
}

/// Journal an attempt's result. Returns the delay before a retry, if the
/// attempt failed transiently and the step's policy allows another.
fn finish_attempt(
    run: &mut Run,
    step: &Step,
    plugins: &Plugins,
    attempt: u32,
    result: Result<Invocation<Result<ToolOutput, PluginError>>, InvokeFailure>,
) -> Result<Option<Duration>, RunError> {
    crate::timing::mark(format_args!("  step {}: recording", step.id));
    let invocation = match result {
        Ok(invocation) => invocation,
        Err(failure) => {
            let kind = failure.kind;
            let mut message = failure.to_string();
            if failure.kind == crate::runtime::FailureKind::Timeout
                && let Some(cap) = step.timeout
            {
                message.push_str(&format!(
                    " (the step's `timeout-ms = {}` in the workflow caps the plugin's limit)",
                    cap.as_millis()
                ));
            }
            fail_step(run, step, attempt, kind, message, failure.logs)?;
            return Ok(None);
        }
    };
    let duration_ms = invocation.duration.as_millis() as u64;
    let logs = invocation.logs;
    let output = match invocation.value {
        Ok(output) => output,
        Err(error) => {
            let kind = ErrorKind::from(error.kind);
            let failures = run
                .state()
                .steps
                .get(&step.id)
                .map_or(0, |s| s.failures_in_row)
                + 1;
            let transient = kind.is_transient();
            if transient && step.retry.retries_after(failures) {
                run.record(Event::StepFailed {
                    step: step.id.clone(),
                    attempt,
                    error_kind: kind,
                    message: error.message,
                    logs,
                })?;
                let delay = step.retry.delay(failures, retry::jitter_unit());
                run.record(Event::StepRetried {
                    step: step.id.clone(),
                    attempt: attempt + 1,
                    delay_ms: delay.as_millis() as u64,
                })?;
                return Ok(Some(delay));
            }
            let message = if transient && step.retry.max_attempts > 1 {
                format!("{} (gave up after {failures} attempts)", error.message)
            } else {
                error.message
            };
            fail_step(run, step, attempt, kind, message, logs)?;
            return Ok(None);
        }
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&output.output) {
        let message = format!(
            "plugin `{}` returned output that is not JSON: {e}",
            step.plugin
        );
        fail_step(run, step, attempt, ErrorKind::InvalidOutput, message, logs)?;
        return Ok(None);
    }
    let Some(plugin) = plugins.get(&step.plugin) else {
        let message = format!("plugin `{}` is not loaded", step.plugin);
        fail_step(run, step, attempt, ErrorKind::Internal, message, logs)?;
        return Ok(None);
    };
    let earlier: Vec<StagedWrite> = run
        .state()
        .staged_writes()
        .filter(|(other, _)| *other != step.id)
        .map(|(_, w)| w.clone())
        .collect();
    let proposals: Vec<Proposal> = output
        .writes
        .into_iter()
        .map(Proposal::from)
        .chain(invocation.changes.into_iter().map(Proposal::from))
        .collect();
    let earlier: Vec<&StagedWrite> = earlier.iter().collect();
    let writes = match stage::vet(run.blobs(), plugin.grants(), &earlier, proposals)? {
        Ok(writes) => writes,
        Err(refusal) => {
            fail_step(run, step, attempt, refusal.kind, refusal.message, logs)?;
            return Ok(None);
        }
    };
    let output_sha256 = run.blobs().put(output.output.as_bytes())?;
    // Written with the next step's start (or by `run_steps` before it
    // waits): one fsync for both.
    run.record_deferred(Event::StepSucceeded {
        step: step.id.clone(),
        attempt,
        output_blob: run.blobs().reference(&output_sha256),
        output_sha256,
        writes,
        logs,
        duration_ms,
    })?;
    Ok(None)
}

/// Journal a failed attempt and fail the run, naming the step and plugin.
fn fail_step(
    run: &mut Run,
    step: &Step,
    attempt: u32,
    kind: ErrorKind,
    message: String,
    logs: Vec<crate::contract::LogRecord>,
) -> Result<(), RunError> {
    run.record(Event::StepFailed {
        step: step.id.clone(),
        attempt,
        error_kind: kind,
        message: message.clone(),
        logs,
    })?;
    run.record(Event::RunFailed {
        step: Some(step.id.clone()),
        // The reason is host text (its `hint:` keeps its line); the plugin's
        // own message is quoted inert.
        reason: format!(
            "step `{}` (plugin `{}`) failed: {}",
            inert(&step.id),
            inert(&step.plugin),
            kind.shown_message(&message)
        ),
    })
}

/// The step's input: its fixed input from the workflow with the run's
/// parameters filled in, the review that asked for a re-draft (as `review`,
/// in re-draft rounds), plus the recorded outputs of the steps it needs.
fn step_input(run: &Run, workflow: &Workflow, step: &Step) -> Result<StepInput, String> {
    let mut input = step.input.clone();
    if let serde_json::Value::Object(params) = &run.state().params {
        for (key, value) in params {
            input.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    if let Some(previous) = &run.state().previous_review {
        input.insert("review".into(), review_json(previous));
    }
    let mut needs = Vec::with_capacity(step.needs.len());
    for need in workflow.steps.iter().filter(|s| step.needs.contains(&s.id)) {
        needs.push(StepOutput {
            step: need.id.clone(),
            output: recorded_output(run, &need.id)?,
        });
    }
    Ok(StepInput {
        input: serde_json::Value::Object(input).to_string(),
        needs,
    })
}

fn review_json(review: &ReviewState) -> serde_json::Value {
    serde_json::json!({
        "round": review.round,
        "verdict": review.verdict,
        "summary": review.summary,
        "findings": review.findings,
    })
}

fn recorded_output(run: &Run, step: &str) -> Result<String, String> {
    let sha = run
        .state()
        .steps
        .get(step)
        .and_then(|s| s.output_sha256.as_deref())
        .ok_or_else(|| format!("the output of step `{step}` is not recorded"))?;
    let bytes = run.blobs().get(sha).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| format!("the output of step `{step}` is not UTF-8"))
}

/// Review the run with `spec`'s reviewer: every step's recorded output
/// (after `spec.input` as the pseudo-step [`REVIEW_INPUT_STEP`], when set)
/// and every staged write.
async fn review(
    run: &mut Run,
    spec: &Review,
    workflow: &Workflow,
    plugins: &Plugins,
) -> Result<(), RunError> {
    let fail = |run: &mut Run, message: String| -> Result<(), RunError> {
        run.record(Event::RunFailed {
            step: None,
            reason: format!("the review (plugin `{}`) failed: {message}", spec.plugin),
        })
    };
    let Some(reviewer) = plugins.get(&spec.plugin) else {
        return fail(run, format!("plugin `{}` is not loaded", spec.plugin));
    };
    let mut outputs = Vec::new();
    if !spec.input.is_empty() {
        outputs.push(StepOutput {
            step: REVIEW_INPUT_STEP.to_string(),
            output: serde_json::Value::Object(spec.input.clone()).to_string(),
        });
    }
    for step in &workflow.steps {
        match recorded_output(run, &step.id) {
            Ok(output) => outputs.push(StepOutput {
                step: step.id.clone(),
                output,
            }),
            Err(message) => return fail(run, message),
        }
    }
    let mut writes = Vec::new();
    let staged: Vec<StagedWrite> = run
        .state()
        .staged_writes()
        .map(|(_, w)| w.clone())
        .collect();
    // Deletions have no bytes to show; contract 0.1.0 gives reviewers
    // writes only (the person at the gate sees every deletion).
    for w in staged {
        let Some(sha256) = &w.sha256 else {
            continue;
        };
        match run.blobs().get(sha256) {
            Ok(contents) => writes.push(ProposedWrite {
                path: w.path,
                contents,
            }),
            Err(e) => return fail(run, e.to_string()),
        }
    }
    // A reviewer that gives no verdict fails the run; its logs are journaled
    // first, so the reason (a denied request, say) is not lost with it.
    let round = run.state().redraft_round;
    let invocation = match reviewer.review(&ReviewInput { outputs, writes }).await {
        Ok(invocation) => invocation,
        Err(failure) => {
            let failed = ReviewFailure {
                round,
                error_kind: failure.kind,
                message: failure.to_string(),
                reason: failure.to_string(),
            };
            return review_failed(run, spec, failed, failure.logs);
        }
    };
    let review = match invocation.value {
        Ok(review) => review,
        Err(error) => {
            let failed = ReviewFailure {
                round,
                error_kind: error.kind.into(),
                reason: format!("{}: {}", error.kind, inert(&error.message)),
                message: error.message,
            };
            return review_failed(run, spec, failed, invocation.logs);
        }
    };
    // Written with what the verdict leads to (the approval request, a
    // redraft, the rejection): one fsync for both.
    run.record_deferred(Event::ReviewCompleted {
        plugin: spec.plugin.clone(),
        round: run.state().redraft_round,
        verdict: review.verdict,
        findings: review.findings,
        summary: review.summary,
        logs: invocation.logs,
        duration_ms: invocation.duration.as_millis() as u64,
    })
}

/// Why a review gave no verdict.
struct ReviewFailure {
    round: u32,
    error_kind: ErrorKind,
    /// For the `review_failed` event.
    message: String,
    /// For the run's failure reason.
    reason: String,
}

/// Journal a review that gave no verdict, then fail the run.
fn review_failed(
    run: &mut Run,
    spec: &Review,
    failed: ReviewFailure,
    logs: Vec<crate::contract::LogRecord>,
) -> Result<(), RunError> {
    run.record(Event::ReviewFailed {
        plugin: spec.plugin.clone(),
        round: failed.round,
        error_kind: failed.error_kind,
        message: failed.message,
        logs,
    })?;
    run.record(Event::RunFailed {
        step: None,
        reason: format!(
            "the review (plugin `{}`) failed: {}",
            spec.plugin, failed.reason
        ),
    })
}

/// Bind the staged writes to the current content of their targets and wait
/// for a person. A run with nothing to write completes here.
fn request_approval(run: &mut Run) -> Result<(), RunError> {
    // Its record is the run's last before it is let go: the head comes along.
    run.closing();
    let change_set = match stage::change_set(run.state(), run.blobs()) {
        Ok(change_set) => change_set,
        Err(reason) => {
            return run.record(Event::RunFailed { step: None, reason });
        }
    };
    if change_set.is_empty() {
        return run.record(Event::RunCompleted {});
    }
    let digest = change_set.digest();
    run.record(Event::ApprovalRequested { change_set, digest })?;
    pause_point::reached("staged");
    Ok(())
}
