//! A run's state, derived by folding its journal. Nothing else is the truth:
//! there is no separate state file that could disagree with the journal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::contract::{Finding, LogRecord, Verdict};
use crate::run::changeset::ChangeSet;
use crate::run::event::{EffectiveGrant, Event, PluginDigest, RevertRefusal, StagedWrite};
use crate::run::journal::Record;
use crate::run::out_dir::DirId;

/// What `host show`, `host status` and the console say instead of a verdict
/// for a run whose workflow has no `[review]`.
pub const NO_REVIEWER: &str = "no reviewer ran (the workflow has no [review])";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Steps or the review are in progress (or were, when the host stopped).
    Running,
    /// Waiting for a person to approve or reject the change set.
    WaitingApproval,
    /// Approved; writes are being applied.
    Applying,
    /// Finished: approved writes are on disk (or there was nothing to write).
    Completed,
    /// Rejected by a person or by the reviewer; nothing was written.
    Rejected,
    /// A step, the review or the apply failed.
    Failed,
}

impl RunStatus {
    /// Whether the run is over: completed, rejected or failed. Nothing waits
    /// on it (a failed run may still be resumed by a person who fixes the
    /// cause). Running, waiting and applying runs are not.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Rejected | Self::Failed)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::WaitingApproval => "waiting for approval",
            Self::Applying => "applying",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        })
    }
}

/// What is known about one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepState {
    /// The plugin the step calls.
    pub plugin: String,
    /// The latest attempt (1-based, counted over the whole run).
    pub attempt: u32,
    /// Failed attempts since the step last started afresh (a success, a
    /// re-draft or a resume starts it afresh); bounds the retries.
    pub failures_in_row: u32,
    /// The re-draft round of the latest attempt.
    pub round: u32,
    /// When the latest attempt started, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// Set once the step succeeded.
    pub output_sha256: Option<String>,
    /// The proposed writes of the successful attempt.
    pub writes: Vec<StagedWrite>,
    /// What the plugin logged during the latest attempt.
    pub logs: Vec<LogRecord>,
    /// Wall time of the successful attempt, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Set if the last attempt failed: `<kind>: <message>`, host text whose
    /// lines are the host's (a plugin's own message is quoted inert, see
    /// [`crate::error_kind::ErrorKind::shown_message`]; the journal's
    /// `step_failed` keeps it as it was).
    pub error: Option<String>,
}

/// The reviewer's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewState {
    /// The reviewer plugin.
    pub plugin: String,
    /// The re-draft round it reviewed (0 for the first draft).
    pub round: u32,
    /// The reviewer's decision.
    pub verdict: Verdict,
    /// What the reviewer pointed out.
    pub findings: Vec<Finding>,
    /// The reviewer's one-paragraph account.
    pub summary: String,
}

/// A review that gave no verdict (see the `review_failed` event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewErrorState {
    /// The reviewer plugin.
    pub plugin: String,
    /// The re-draft round it was to review (0 for the first draft).
    pub round: u32,
    /// `<kind>: <message>`, host text like [`StepState::error`].
    pub error: String,
    /// What the reviewer and the host logged during the call.
    pub logs: Vec<LogRecord>,
}

/// Who decided on the change set, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Who decided.
    pub approver: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Why, when the person gave a reason.
    pub reason: Option<String>,
    /// The change-set digest an approval names (`None` for a rejection).
    pub digest: Option<String>,
}

/// A person's amendment of the proposed change set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmendedBy {
    /// Who amended it.
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Paths of the proposal left out.
    pub dropped: Vec<String>,
    /// Paths whose new bytes the person replaced.
    pub edited: Vec<String>,
}

/// Everything the journal says about a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunState {
    /// The run's id.
    pub id: String,
    /// Where the run stands, as its latest events say.
    pub status: RunStatus,
    /// Time of the first record, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Time of the latest record, in milliseconds since the Unix epoch.
    pub updated_ms: u64,
    /// The workflow's name.
    pub workflow: String,
    /// sha256 of the workflow file.
    pub workflow_digest: String,
    /// The plugins folder the run loaded; `None` in journals from before it was recorded.
    pub plugins_dir: Option<PathBuf>,
    /// The workflow file; `None` in journals from before it was recorded.
    pub workflow_path: Option<PathBuf>,
    /// The workflow's parameters.
    pub params: serde_json::Value,
    /// The workspace the plugins read.
    pub workspace: PathBuf,
    /// Where approved writes land.
    pub out_dir: PathBuf,
    /// The output directory's identity at creation (see [`crate::run::out_dir`]).
    pub out_dir_id: Option<DirId>,
    /// Host paths no write of this run may reach.
    pub protected: Vec<PathBuf>,
    /// The exact component behind each plugin the run uses.
    pub plugins: Vec<PluginDigest>,
    /// Each plugin's effective grants and their digest, as recorded at
    /// creation and updated by `grants_changed`.
    pub grants: Vec<EffectiveGrant>,
    /// The run's workflow has no `[review]` (recorded in `run_created`): no
    /// reviewer runs, the steps lead straight to the approval gate.
    pub no_review: bool,
    /// Steps in the order they started.
    pub steps: BTreeMap<String, StepState>,
    /// Step ids in the order they first started.
    pub step_order: Vec<String>,
    /// The latest review that gave a verdict.
    pub review: Option<ReviewState>,
    /// The review that asked for the current re-draft round (given to the
    /// re-drafted steps as input).
    pub previous_review: Option<ReviewState>,
    /// Set when the latest review gave no verdict; cleared when one does.
    pub review_error: Option<ReviewErrorState>,
    /// 0 until the reviewer first asks for a re-draft.
    pub redraft_round: u32,
    /// The change set waiting for (or given) approval, with its digest: the
    /// one approval was requested for, or a person's amendment of it.
    pub change_set: Option<ChangeSet>,
    /// Digest of `change_set`, the one an approval must name.
    pub change_set_digest: Option<String>,
    /// The digest of the change set the run proposed, when a person amended
    /// it (`change_set` is then the amendment).
    pub proposed_digest: Option<String>,
    /// Who amended the proposal, and how (see `change_set_amended`).
    pub amendment: Option<AmendedBy>,
    /// The run this run reverts (`host revert`), and the files it leaves alone.
    pub revert_of: Option<String>,
    /// Files left out of the revert because they changed since the apply.
    pub revert_refused: Vec<RevertRefusal>,
    /// The runs proposed to revert this one, oldest first.
    pub reverted_by: Vec<String>,
    /// The approval, once given.
    pub approval: Option<Decision>,
    /// The rejection, once given.
    pub rejection: Option<Decision>,
    /// Paths already written by the apply, in order.
    pub applied: Vec<String>,
    /// Why the run failed or was rejected, once it has: host text that
    /// quotes plugin text inert, so its lines (a `hint:`) are the host's.
    pub failure: Option<String>,
    /// Writes staged by the tool calls of a session run (`host mcp`, `host
    /// call`) since its last decision, each with its call id: the next change
    /// set to approve. A decision (approved and applied, rejected, failed)
    /// ends a change set; the next call that proposes writes starts a new one.
    pub session_writes: Vec<(String, StagedWrite)>,
    /// Tool calls requested in a session run.
    pub tool_calls: u64,
    /// The run a full session run's later calls are recorded in.
    pub continued_in: Option<String>,
    /// Hash of the last journal record.
    pub head: String,
    /// How many records the journal holds.
    pub events: u64,
}

/// A journal that does not describe a run.
#[derive(Debug, thiserror::Error)]
#[error("journal of run `{id}` is inconsistent: {reason}")]
pub struct StateError {
    /// The run's id.
    pub id: String,
    /// What in the journal contradicts itself.
    pub reason: String,
}

impl RunState {
    /// Fold a verified journal into a state.
    pub fn from_records(id: &str, records: &[Record]) -> Result<RunState, StateError> {
        let err = |reason: &str| StateError {
            id: id.to_string(),
            reason: reason.to_string(),
        };
        let (first, rest) = records
            .split_first()
            .ok_or_else(|| err("the journal is empty"))?;
        let Event::RunCreated {
            format: _,
            workflow,
            workflow_digest,
            plugins_dir,
            workflow_path,
            params,
            workspace,
            out_dir,
            out_dir_id,
            protected,
            plugins,
            grants,
            no_review,
        } = &first.event
        else {
            return Err(err("the first event is not run_created"));
        };
        let mut state = RunState {
            id: id.to_string(),
            status: RunStatus::Running,
            created_ms: first.at_ms,
            updated_ms: first.at_ms,
            workflow: workflow.clone(),
            workflow_digest: workflow_digest.clone(),
            plugins_dir: plugins_dir.clone(),
            workflow_path: workflow_path.clone(),
            params: params.clone(),
            workspace: workspace.clone(),
            out_dir: out_dir.clone(),
            out_dir_id: *out_dir_id,
            protected: protected.clone(),
            plugins: plugins.clone(),
            grants: grants.clone(),
            no_review: *no_review,
            steps: BTreeMap::new(),
            step_order: Vec::new(),
            review: None,
            previous_review: None,
            review_error: None,
            redraft_round: 0,
            change_set: None,
            change_set_digest: None,
            proposed_digest: None,
            amendment: None,
            revert_of: None,
            revert_refused: Vec::new(),
            reverted_by: Vec::new(),
            approval: None,
            rejection: None,
            applied: Vec::new(),
            failure: None,
            session_writes: Vec::new(),
            tool_calls: 0,
            continued_in: None,
            head: first.hash.clone(),
            events: 1,
        };
        for record in rest {
            state.apply(record).map_err(|reason| err(&reason))?;
        }
        Ok(state)
    }

    /// Apply one more record (as it is appended).
    pub fn apply(&mut self, record: &Record) -> Result<(), String> {
        self.updated_ms = record.at_ms;
        self.head = record.hash.clone();
        self.events += 1;
        match &record.event {
            Event::RunCreated { .. } => return Err("a second run_created event".into()),
            Event::StepStarted {
                step,
                plugin,
                attempt,
                round,
            } => {
                if !self.steps.contains_key(step) {
                    self.step_order.push(step.clone());
                }
                let failures_in_row = self.steps.get(step).map_or(0, |s| s.failures_in_row);
                self.steps.insert(
                    step.clone(),
                    StepState {
                        plugin: plugin.clone(),
                        attempt: *attempt,
                        failures_in_row,
                        round: *round,
                        started_ms: record.at_ms,
                        output_sha256: None,
                        writes: Vec::new(),
                        logs: Vec::new(),
                        duration_ms: None,
                        error: None,
                    },
                );
            }
            Event::StepSucceeded {
                step,
                output_sha256,
                writes,
                logs,
                duration_ms,
                ..
            } => {
                let s = self
                    .steps
                    .get_mut(step)
                    .ok_or_else(|| format!("step `{step}` succeeded without starting"))?;
                s.output_sha256 = Some(output_sha256.clone());
                s.failures_in_row = 0;
                s.writes = writes.clone();
                s.logs = logs.clone();
                s.duration_ms = Some(*duration_ms);
            }
            Event::StepFailed {
                step,
                error_kind,
                message,
                logs,
                ..
            } => {
                let s = self
                    .steps
                    .get_mut(step)
                    .ok_or_else(|| format!("step `{step}` failed without starting"))?;
                s.error = Some(format!(
                    "{error_kind}: {}",
                    error_kind.shown_message(message)
                ));
                s.failures_in_row += 1;
                s.logs = logs.clone();
            }
            Event::StepRetried { step, .. } => {
                if !self.steps.contains_key(step) {
                    return Err(format!("step `{step}` retried without starting"));
                }
            }
            Event::RedraftRequested { round, steps } => {
                for id in steps {
                    if let Some(s) = self.steps.get_mut(id) {
                        s.output_sha256 = None;
                        s.writes.clear();
                        s.duration_ms = None;
                        s.error = None;
                        s.failures_in_row = 0;
                    }
                }
                self.previous_review = self.review.take();
                self.redraft_round = *round;
            }
            Event::RunResumed { rerun, rebuilt, .. } => {
                for r in rebuilt {
                    if let Some(p) = self.plugins.iter_mut().find(|p| p.name == r.name) {
                        p.sha256 = r.to_sha256.clone();
                    }
                }
                for id in rerun {
                    if let Some(s) = self.steps.get_mut(id) {
                        s.error = None;
                        s.failures_in_row = 0;
                    }
                }
                self.failure = None;
                self.status = if self.approval.is_some() {
                    RunStatus::Applying
                } else {
                    RunStatus::Running
                };
            }
            Event::GrantsChanged {
                plugin,
                to_digest,
                grants,
                ..
            } => {
                let entry = EffectiveGrant {
                    name: plugin.clone(),
                    digest: to_digest.clone(),
                    grants: grants.clone(),
                    granted_by: String::new(),
                };
                match self.grants.iter_mut().find(|g| g.name == *plugin) {
                    Some(g) => {
                        g.digest = entry.digest;
                        g.grants = entry.grants;
                    }
                    None => self.grants.push(entry),
                }
            }
            Event::ReviewCompleted {
                plugin,
                round,
                verdict,
                findings,
                summary,
                ..
            } => {
                self.review_error = None;
                self.review = Some(ReviewState {
                    plugin: plugin.clone(),
                    round: *round,
                    verdict: *verdict,
                    findings: findings.clone(),
                    summary: summary.clone(),
                });
            }
            Event::ReviewFailed {
                plugin,
                round,
                error_kind,
                message,
                logs,
            } => {
                self.review_error = Some(ReviewErrorState {
                    plugin: plugin.clone(),
                    round: *round,
                    error: format!("{error_kind}: {}", error_kind.shown_message(message)),
                    logs: logs.clone(),
                });
            }
            Event::ApprovalRequested { change_set, digest } => {
                self.change_set = Some(change_set.clone());
                self.change_set_digest = Some(digest.clone());
                self.status = RunStatus::WaitingApproval;
            }
            Event::ChangeSetExtended { added, digest } => {
                let (RunStatus::WaitingApproval, Some(set)) =
                    (self.status, self.change_set.as_mut())
                else {
                    return Err("a change set was extended while none was waiting".into());
                };
                set.insert(added)?;
                self.change_set_digest = Some(digest.clone());
            }
            Event::ApprovalGranted {
                approver,
                reason,
                digest,
            } => {
                self.approval = Some(Decision {
                    approver: approver.clone(),
                    at_ms: record.at_ms,
                    reason: reason.clone(),
                    digest: Some(digest.clone()),
                });
                self.status = RunStatus::Applying;
            }
            Event::ApprovalRejected { approver, reason } => {
                self.rejection = Some(Decision {
                    approver: approver.clone(),
                    at_ms: record.at_ms,
                    reason: Some(reason.clone()),
                    digest: None,
                });
                self.status = RunStatus::Rejected;
            }
            Event::WriteApplied { path, .. } => self.applied.push(path.clone()),
            Event::RunCompleted {} => self.status = RunStatus::Completed,
            Event::RunFailed { reason, .. } => {
                self.failure = Some(reason.clone());
                self.status = RunStatus::Failed;
            }
            Event::RunRejectedByReviewer { summary } => {
                self.failure = Some(format!(
                    "the reviewer rejected the result: {}",
                    crate::render::inert(summary)
                ));
                self.status = RunStatus::Rejected;
            }
            Event::ChangeSetAmended {
                by,
                from_digest,
                digest,
                change_set,
                dropped,
                edited,
            } => {
                if self.status != RunStatus::WaitingApproval {
                    return Err("a change set was amended while no approval was pending".into());
                }
                self.proposed_digest
                    .get_or_insert_with(|| from_digest.clone());
                self.change_set = Some(change_set.clone());
                self.change_set_digest = Some(digest.clone());
                self.amendment = Some(AmendedBy {
                    by: by.clone(),
                    at_ms: record.at_ms,
                    dropped: dropped.clone(),
                    edited: edited.clone(),
                });
            }
            Event::RevertOf { run, refused, .. } => {
                self.revert_of = Some(run.clone());
                self.revert_refused = refused.clone();
            }
            Event::RevertedBy { run, .. } => self.reverted_by.push(run.clone()),
            Event::SessionContinued { run } => self.continued_in = Some(run.clone()),
            Event::ToolCallRequested { .. } => self.tool_calls += 1,
            Event::PolicyDecided { .. } | Event::ToolCallFailed { .. } => {}
            Event::ToolCallFinished { call, writes, .. } => {
                if writes.is_empty() {
                    return Ok(());
                }
                if matches!(
                    self.status,
                    RunStatus::Completed | RunStatus::Rejected | RunStatus::Failed
                ) {
                    // The last change set was decided: these writes start the
                    // next one, and nothing decided before is carried over.
                    self.session_writes.clear();
                    self.change_set = None;
                    self.change_set_digest = None;
                    self.approval = None;
                    self.rejection = None;
                    self.applied.clear();
                    self.failure = None;
                    self.status = RunStatus::Running;
                }
                self.session_writes
                    .extend(writes.iter().map(|w| (call.clone(), w.clone())));
            }
        }
        Ok(())
    }

    /// The full session run this session run continues, if it does.
    pub fn continues(&self) -> Option<&str> {
        if self.workflow != crate::folder::SESSION_WORKFLOW {
            return None;
        }
        self.params.get("continues").and_then(|c| c.as_str())
    }

    /// The run's `topic` parameter, if it has one.
    pub fn topic(&self) -> Option<&str> {
        self.params.get("topic").and_then(|t| t.as_str())
    }

    /// Whether step `id` has a recorded output (in the current round).
    pub fn step_done(&self, id: &str) -> bool {
        self.steps
            .get(id)
            .is_some_and(|s| s.output_sha256.is_some())
    }

    /// Every write staged by the run's steps, in step order, then those of
    /// a session's tool calls since its last decision (by call id).
    pub fn staged_writes(&self) -> impl Iterator<Item = (&str, &StagedWrite)> {
        self.step_order
            .iter()
            .flat_map(move |id| {
                self.steps
                    .get(id)
                    .into_iter()
                    .flat_map(move |s| s.writes.iter().map(move |w| (id.as_str(), w)))
            })
            .chain(self.session_writes.iter().map(|(c, w)| (c.as_str(), w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::changeset::ChangeEntry;

    fn record(seq: u64, event: Event) -> Record {
        Record {
            seq,
            at_ms: seq,
            hash: format!("h{seq}"),
            event,
        }
    }

    fn entry(path: &str) -> ChangeEntry {
        ChangeEntry {
            path: path.into(),
            base_sha256: None,
            new_sha256: Some(format!("sha-{path}")),
            size: 1,
        }
    }

    #[test]
    fn an_extension_grows_the_waiting_set_and_is_refused_when_none_waits() {
        let asked = |entries: Vec<ChangeEntry>| {
            let change_set = ChangeSet::new(entries);
            let digest = change_set.digest();
            Event::ApprovalRequested { change_set, digest }
        };
        let extended = |added: Vec<ChangeEntry>, digest: &str| Event::ChangeSetExtended {
            added,
            digest: digest.into(),
        };
        let created = record(0, Event::test_created("/ws", "/out"));
        let whole = ChangeSet::new(vec![entry("a"), entry("b"), entry("c")]);
        let records = vec![
            created.clone(),
            record(1, asked(vec![entry("b")])),
            record(2, extended(vec![entry("c")], "d2")),
            record(3, extended(vec![entry("a")], &whole.digest())),
        ];
        let state = RunState::from_records("r", &records).expect("folds");
        assert_eq!(state.status, RunStatus::WaitingApproval);
        assert_eq!(state.change_set.as_ref(), Some(&whole));
        assert_eq!(
            state.change_set_digest.as_deref(),
            Some(whole.digest().as_str())
        );

        for bad in [
            // Nothing waits yet.
            vec![created.clone(), record(1, extended(vec![entry("a")], "d"))],
            // The set was decided.
            vec![
                created.clone(),
                record(1, asked(vec![entry("a")])),
                record(
                    2,
                    Event::ApprovalRejected {
                        approver: "p".into(),
                        reason: "no".into(),
                    },
                ),
                record(3, extended(vec![entry("b")], "d")),
            ],
            // A path the set holds.
            vec![
                created.clone(),
                record(1, asked(vec![entry("a")])),
                record(2, extended(vec![entry("a")], "d")),
            ],
        ] {
            let e = RunState::from_records("r", &bad).expect_err("refused");
            assert!(
                e.reason.contains("extended") || e.reason.contains("twice"),
                "{e:?}"
            );
        }
    }
}
