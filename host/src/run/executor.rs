//! Drives a run through its workflow: tool steps, the review, then the
//! approval gate. Every transition is journaled before the next one starts.
//!
//! A step's proposed writes are checked against the plugin's `writes` grant
//! the moment it returns; one write outside the grant fails the run, naming
//! the plugin and the path. Accepted writes are only *staged* (as blobs);
//! nothing touches the output directory here. The run ends waiting for
//! approval of a change set bound to the current content of every target.
//! Steps that already succeeded (per the journal) are never re-run.

use std::collections::BTreeMap;

use tracing::Instrument as _;

use crate::contract::{ProposedWrite, ReviewInput, StepInput, StepOutput, Verdict};
use crate::run::apply;
use crate::run::changeset::{ChangeEntry, ChangeSet};
use crate::run::event::{Event, StagedWrite};
use crate::run::state::RunStatus;
use crate::run::store::{Run, RunError};
use crate::runtime::Plugin;
use crate::workflow::{Step, Workflow};

/// The loaded plugins a workflow runs with, by name.
pub type Plugins = BTreeMap<String, Plugin>;

/// Run every step not yet done, then the review, then request approval.
/// Step and plugin failures are recorded in the journal (the run ends
/// `failed`); an `Err` means the journal itself could not be written.
pub async fn execute(
    run: &mut Run,
    workflow: &Workflow,
    plugins: &Plugins,
) -> Result<(), RunError> {
    for step in &workflow.steps {
        if run.state().status != RunStatus::Running {
            return Ok(());
        }
        let done = run
            .state()
            .steps
            .get(&step.id)
            .is_some_and(|s| s.output_sha256.is_some());
        if !done {
            run_step(run, workflow, step, plugins)
                .instrument(tracing::info_span!("run.step", step = %step.id, plugin = %step.plugin))
                .await?;
        }
    }
    if run.state().status != RunStatus::Running {
        return Ok(());
    }
    review(run, workflow, plugins)
        .instrument(tracing::info_span!("run.review", plugin = %workflow.reviewer))
        .await?;
    if run.state().status != RunStatus::Running {
        return Ok(());
    }
    request_approval(run)
}

async fn run_step(
    run: &mut Run,
    workflow: &Workflow,
    step: &Step,
    plugins: &Plugins,
) -> Result<(), RunError> {
    let attempt = run.state().steps.get(&step.id).map_or(0, |s| s.attempt) + 1;
    run.record(Event::StepStarted {
        step: step.id.clone(),
        plugin: step.plugin.clone(),
        attempt,
    })?;
    let fail = |run: &mut Run, kind: &str, message: String, logs| -> Result<(), RunError> {
        run.record(Event::StepFailed {
            step: step.id.clone(),
            attempt,
            error_kind: kind.to_string(),
            message: message.clone(),
            logs,
        })?;
        run.record(Event::RunFailed {
            step: Some(step.id.clone()),
            reason: format!(
                "step `{}` (plugin `{}`) failed: {message}",
                step.id, step.plugin
            ),
        })
    };
    let Some(plugin) = plugins.get(&step.plugin) else {
        return fail(
            run,
            "internal",
            format!("plugin `{}` is not loaded", step.plugin),
            Vec::new(),
        );
    };
    let input = match step_input(run, workflow, step) {
        Ok(input) => input,
        Err(message) => return fail(run, "internal", message, Vec::new()),
    };
    let invocation = match plugin.invoke_tool(&input).await {
        Ok(invocation) => invocation,
        Err(failure) => {
            let kind = failure.kind.to_string();
            let message = failure.to_string();
            return fail(run, &kind, message, failure.logs);
        }
    };
    let duration_ms = invocation.duration.as_millis() as u64;
    let logs = invocation.logs;
    let output = match invocation.value {
        Ok(output) => output,
        Err(error) => {
            let kind = error.kind.to_string();
            return fail(run, &kind, error.message, logs);
        }
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&output.output) {
        return fail(
            run,
            "invalid-output",
            format!(
                "plugin `{}` returned output that is not JSON: {e}",
                step.plugin
            ),
            logs,
        );
    }
    let mut writes = Vec::with_capacity(output.writes.len());
    for ProposedWrite { path, contents } in output.writes {
        let path = match plugin.grants().check_write(&path) {
            Ok(path) => path,
            Err(denied) => return fail(run, "write-denied", denied.to_string(), logs),
        };
        let clash = run
            .state()
            .staged_writes()
            .any(|(other, w)| other != step.id && w.path == path)
            || writes.iter().any(|w: &StagedWrite| w.path == path);
        if clash {
            return fail(
                run,
                "write-conflict",
                format!(
                    "`{}` is proposed twice in this run; each file may be written by one step once",
                    crate::render::inert(&path)
                ),
                logs,
            );
        }
        let size = contents.len() as u64;
        let sha256 = run.blobs().put(&contents)?;
        writes.push(StagedWrite { path, sha256, size });
    }
    let output_sha256 = run.blobs().put(output.output.as_bytes())?;
    run.record(Event::StepSucceeded {
        step: step.id.clone(),
        attempt,
        output_sha256,
        writes,
        logs,
        duration_ms,
    })
}

/// The step's input: its fixed input from the workflow with the run's
/// parameters filled in, plus the recorded outputs of the steps it needs.
fn step_input(run: &Run, workflow: &Workflow, step: &Step) -> Result<StepInput, String> {
    let mut input = step.input.clone();
    if let serde_json::Value::Object(params) = &run.state().params {
        for (key, value) in params {
            input.entry(key.clone()).or_insert_with(|| value.clone());
        }
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

async fn review(run: &mut Run, workflow: &Workflow, plugins: &Plugins) -> Result<(), RunError> {
    let fail = |run: &mut Run, message: String| -> Result<(), RunError> {
        run.record(Event::RunFailed {
            step: None,
            reason: format!(
                "the review (plugin `{}`) failed: {message}",
                workflow.reviewer
            ),
        })
    };
    let Some(reviewer) = plugins.get(&workflow.reviewer) else {
        return fail(run, format!("plugin `{}` is not loaded", workflow.reviewer));
    };
    let mut outputs = Vec::new();
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
    for w in staged {
        match run.blobs().get(&w.sha256) {
            Ok(contents) => writes.push(ProposedWrite {
                path: w.path,
                contents,
            }),
            Err(e) => return fail(run, e.to_string()),
        }
    }
    let invocation = match reviewer.review(&ReviewInput { outputs, writes }).await {
        Ok(invocation) => invocation,
        Err(failure) => return fail(run, failure.to_string()),
    };
    let review = match invocation.value {
        Ok(review) => review,
        Err(error) => return fail(run, error.to_string()),
    };
    let verdict = review.verdict;
    let summary = review.summary.clone();
    run.record(Event::ReviewCompleted {
        plugin: workflow.reviewer.clone(),
        verdict,
        findings: review.findings,
        summary: review.summary,
        logs: invocation.logs,
        duration_ms: invocation.duration.as_millis() as u64,
    })?;
    if verdict == Verdict::Reject {
        run.record(Event::RunRejectedByReviewer { summary })?;
    }
    Ok(())
}

/// Bind the staged writes to the current content of their targets and wait
/// for a person. A run with nothing to write completes here.
fn request_approval(run: &mut Run) -> Result<(), RunError> {
    let staged: Vec<StagedWrite> = run
        .state()
        .staged_writes()
        .map(|(_, w)| w.clone())
        .collect();
    if staged.is_empty() {
        return run.record(Event::RunCompleted {});
    }
    let out = match apply::open_out_dir(&run.state().out_dir) {
        Ok(out) => out,
        Err(e) => {
            return run.record(Event::RunFailed {
                step: None,
                reason: e.to_string(),
            });
        }
    };
    let mut entries = Vec::with_capacity(staged.len());
    for w in staged {
        let base = match crate::run::changeset::read_base(&out, &w.path) {
            Ok(base) => base,
            Err(e) => {
                return run.record(Event::RunFailed {
                    step: None,
                    reason: format!("cannot stage the write: {e}"),
                });
            }
        };
        entries.push(ChangeEntry {
            path: w.path,
            base_sha256: base.sha256(),
            new_sha256: w.sha256,
            size: w.size,
        });
    }
    let change_set = ChangeSet::new(entries);
    let digest = change_set.digest();
    run.record(Event::ApprovalRequested { change_set, digest })
}
