//! Picking a run up again after the host stopped (a crash, a kill, a failed
//! step that has since been fixed).
//!
//! What happens is decided from the journal alone:
//! - a run that was `running` continues: steps with a recorded output are
//!   **not** re-run (their outputs are reused); a step that started but did
//!   not finish runs again, which is safe because plugins cannot write files;
//! - a run that was `applying` (approved, then cut short) finishes its apply:
//!   journaled writes are skipped, and a file already holding exactly the
//!   approved bytes is recorded, not written again;
//! - a `failed` run is resumed only when asked explicitly, and the plan says
//!   what will run again;
//! - waiting, completed and rejected runs have nothing to resume.
//!
//! A resumed run must execute the same definition: the workflow and every
//! plugin must still have the digests the run recorded when it started. It
//! must also run under the same authority: [`grant_changes`] compares every
//! plugin's effective grants with the digests the run recorded, and a change
//! is refused unless the person resuming accepts it, in which case
//! [`record_grant_changes`] journals each one (`grants_changed`) first.

use crate::run::event::{EffectiveGrant, Event, PluginDigest, PluginRebuilt};
use crate::run::state::{RunState, RunStatus};
use crate::run::store::{Run, RunError};
use crate::workflow::Workflow;

/// What a resume will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Run these steps (in order), then the review (unless it already
    /// answered for the current round) and what follows it.
    Continue {
        /// Ids of the steps to run again.
        steps: Vec<String>,
        /// Whether the review runs again too.
        review: bool,
    },
    /// Apply the approved writes the journal does not record yet.
    FinishApply {
        /// Paths of the approved writes not yet applied.
        remaining: Vec<String>,
    },
}

impl Plan {
    /// What the plan re-runs or re-applies, for the journal and the operator.
    pub fn items(&self) -> Vec<String> {
        match self {
            Plan::Continue { steps, review } => steps
                .iter()
                .map(|s| format!("step {s}"))
                .chain(review.then(|| "the review".to_string()))
                .collect(),
            Plan::FinishApply { remaining } => {
                remaining.iter().map(|p| format!("write {p}")).collect()
            }
        }
    }
}

/// Why a run cannot be resumed (as asked).
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The run is in a status a resume cannot continue from (completed, say, or waiting for approval).
    #[error("run `{id}` has nothing to resume: it is {status}\nhint: {hint}")]
    NothingToResume {
        /// The run's id.
        id: String,
        /// Where the run stands.
        status: RunStatus,
        /// What to do instead, for the message's `hint:` line.
        hint: String,
    },
    /// The run failed, and resuming a failed run needs `--failed`.
    #[error(
        "run `{id}` failed: {reason}\nresuming it would re-run: {rerun}\nhint: fix the cause, then pass --failed to resume it"
    )]
    FailedNeedsFlag {
        /// The run's id.
        id: String,
        /// Why the run failed.
        reason: String,
        /// What a resume would re-run, as a list for the message.
        rerun: String,
    },
    /// The workflow or a plugin changed since the run started.
    #[error(
        "run `{id}` cannot be resumed with `{what}`: it changed since the run started (recorded {recorded}, now {now})\nhint: a resumed run must execute exactly what it started with; restore it, or start a new run"
    )]
    Changed {
        /// The run's id.
        id: String,
        /// What changed (`workflow <path>` or `plugin <name>`).
        what: String,
        /// The first 12 hex digits of the digest the run recorded.
        recorded: String,
        /// The same of the digest now, or `missing`.
        now: String,
    },
    /// A failed run's plugin was rebuilt, and the rebuild was not accepted.
    #[error(
        "run `{id}` failed, and plugin `{plugin}` was rebuilt since it started (recorded {recorded}, now {now})\nhint: if the rebuild is your fix, pass --accept-rebuilt with --failed: the failed steps re-run with the new component (steps that finished keep their outputs) and both digests are journaled"
    )]
    Rebuilt {
        /// The run's id.
        id: String,
        /// The rebuilt plugin.
        plugin: String,
        /// The first 12 hex digits of the digest the run recorded.
        recorded: String,
        /// The same of the component's digest now.
        now: String,
    },
    /// A plugin's effective grants changed since the run started, and the change was not accepted.
    #[error(
        "run `{id}` cannot be resumed: the effective grants changed since it started:\n{changes}\nhint: a run keeps the authority it started with; restore the grants (grants.toml or the manifest), start a new run, or pass --accept-grant-changes to continue under the new grants (the change is journaled)"
    )]
    GrantsChanged {
        /// The run's id.
        id: String,
        /// Each changed plugin and what changed, one line each.
        changes: String,
    },
    /// The run could not be opened or recorded.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// One plugin whose effective grants differ from what the run recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantChange {
    /// The plugin's name.
    pub plugin: String,
    /// The recorded digest, or `none` if the run recorded no grants.
    pub from_digest: String,
    /// The plugin's effective grants now.
    pub now: EffectiveGrant,
    /// What changed, one phrase each.
    pub changes: Vec<String>,
}

/// The plugins whose effective grants now (`now`, from the reloaded
/// plugins) differ from the run's record. A run whose journal recorded no
/// grants (written by an older host) counts as changed for every plugin:
/// nothing says what authority it ran under.
pub fn grant_changes(state: &RunState, now: &[EffectiveGrant]) -> Vec<GrantChange> {
    let mut out = Vec::new();
    for current in now {
        let recorded = state.grants.iter().find(|g| g.name == current.name);
        match recorded {
            Some(r) if r.digest == current.digest => {}
            Some(r) => out.push(GrantChange {
                plugin: current.name.clone(),
                from_digest: r.digest.clone(),
                now: current.clone(),
                changes: crate::grants::admin::describe_changes(&r.grants, &current.grants),
            }),
            None => out.push(GrantChange {
                plugin: current.name.clone(),
                from_digest: "none".into(),
                now: current.clone(),
                changes: vec!["the run recorded no grants for this plugin".into()],
            }),
        }
    }
    out
}

/// Refuse `changes` (when not accepted), naming each plugin and what changed.
pub fn refuse_grant_changes(state: &RunState, changes: &[GrantChange]) -> ResumeError {
    let lines: Vec<String> = changes
        .iter()
        .map(|c| {
            format!(
                "  plugin `{}` ({} -> {}): {}",
                c.plugin,
                short(&c.from_digest),
                short(&c.now.digest),
                c.changes.join("; ")
            )
        })
        .collect();
    ResumeError::GrantsChanged {
        id: state.id.clone(),
        changes: lines.join("\n"),
    }
}

/// Journal each accepted change (`by` accepted it) before the run continues.
pub fn record_grant_changes(
    run: &mut Run,
    by: &str,
    changes: &[GrantChange],
) -> Result<(), RunError> {
    for c in changes {
        run.record(Event::GrantsChanged {
            plugin: c.plugin.clone(),
            from_digest: c.from_digest.clone(),
            to_digest: c.now.digest.clone(),
            by: by.to_string(),
            changes: c.changes.clone(),
            grants: c.now.grants.clone(),
        })?;
    }
    Ok(())
}

/// Decide what resuming the run means. `allow_failed` is the operator's
/// explicit consent to re-run what failed.
pub fn plan(
    state: &RunState,
    workflow: Option<&Workflow>,
    allow_failed: bool,
) -> Result<Plan, ResumeError> {
    let nothing = |hint: String| ResumeError::NothingToResume {
        id: state.id.clone(),
        status: state.status,
        hint,
    };
    let apply_plan = || Plan::FinishApply {
        remaining: state
            .change_set
            .iter()
            .flat_map(|cs| cs.entries.iter())
            .filter(|e| !state.applied.contains(&e.path))
            .map(|e| e.path.clone())
            .collect(),
    };
    let continue_plan = || Plan::Continue {
        steps: workflow.map_or_else(Vec::new, |w| {
            w.steps
                .iter()
                .filter(|s| !state.step_done(&s.id))
                .map(|s| s.id.clone())
                .collect()
        }),
        // A workflow without `[review]` has no review to run.
        review: state.review.is_none() && workflow.is_none_or(|w| w.review.is_some()),
    };
    match state.status {
        RunStatus::WaitingApproval => Err(nothing(format!(
            "it waits for a person: `host approve {id}` or `host reject {id} --reason ...`",
            id = state.id
        ))),
        RunStatus::Completed | RunStatus::Rejected => {
            Err(nothing("start a new run with `host run`".into()))
        }
        RunStatus::Applying => Ok(apply_plan()),
        RunStatus::Running => Ok(continue_plan()),
        RunStatus::Failed => {
            let plan = if state.approval.is_some() {
                apply_plan()
            } else {
                continue_plan()
            };
            if allow_failed {
                Ok(plan)
            } else {
                Err(ResumeError::FailedNeedsFlag {
                    id: state.id.clone(),
                    reason: state.failure.clone().unwrap_or_default(),
                    rerun: plan.items().join(", "),
                })
            }
        }
    }
}

/// Refuse unless the workflow and plugins are the ones the run started with.
/// With `accept_rebuilt`, a failed run may continue with rebuilt plugins
/// (the usual fix for a plugin's failure): they are returned, to be
/// journaled with the resume. The workflow never changes under a run.
pub fn check_unchanged(
    state: &RunState,
    workflow: &Workflow,
    plugins: &[PluginDigest],
    accept_rebuilt: bool,
) -> Result<Vec<PluginRebuilt>, ResumeError> {
    let changed = |what: String, recorded: &str, now: &str| ResumeError::Changed {
        id: state.id.clone(),
        what,
        recorded: short(recorded),
        now: short(now),
    };
    if workflow.digest != state.workflow_digest {
        return Err(changed(
            format!("workflow {}", workflow.path.display()),
            &state.workflow_digest,
            &workflow.digest,
        ));
    }
    let mut rebuilt = Vec::new();
    for recorded in &state.plugins {
        let Some(now) = plugins.iter().find(|p| p.name == recorded.name) else {
            return Err(changed(
                format!("plugin {}", recorded.name),
                &recorded.sha256,
                "missing",
            ));
        };
        if now.sha256 == recorded.sha256 {
            continue;
        }
        if state.status != RunStatus::Failed {
            return Err(changed(
                format!("plugin {}", recorded.name),
                &recorded.sha256,
                &now.sha256,
            ));
        }
        if !accept_rebuilt {
            return Err(ResumeError::Rebuilt {
                id: state.id.clone(),
                plugin: recorded.name.clone(),
                recorded: short(&recorded.sha256),
                now: short(&now.sha256),
            });
        }
        rebuilt.push(PluginRebuilt {
            name: recorded.name.clone(),
            from_sha256: recorded.sha256.clone(),
            to_sha256: now.sha256.clone(),
        });
    }
    Ok(rebuilt)
}

fn short(digest: &str) -> String {
    digest.chars().take(12).collect()
}

/// Journal the resume (who, from which status, what it re-runs); the run is
/// `running` (or `applying`) again afterwards.
pub fn begin(
    run: &mut Run,
    by: &str,
    plan: &Plan,
    rebuilt: Vec<PluginRebuilt>,
) -> Result<(), RunError> {
    let from = run.state().status.to_string();
    let rerun = match plan {
        Plan::Continue { steps, .. } => steps.clone(),
        Plan::FinishApply { .. } => Vec::new(),
    };
    run.record(Event::RunResumed {
        by: by.to_string(),
        from,
        rerun,
        rebuilt,
    })
}
