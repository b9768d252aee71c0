//! The events a run's journal records. A run's state is whatever these events
//! say it is ([`super::state`]); nothing else is authoritative.
//!
//! Events are serialized as JSON objects tagged by `type` (the variant's
//! name in snake_case: serde's derive, and strum's for [`Event::name`] and
//! [`Event::NAMES`], by the same rule; a test checks that they agree).
//! Unknown fields are ignored on load, so a newer host may add fields; a new
//! event *type* raises the journal format ([`JOURNAL_FORMAT`], recorded in
//! `run_created`), and an older host reading it names the format it would
//! need instead of calling the journal corrupt.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::contract::{Finding, LogRecord, Verdict};
use crate::error_kind::ErrorKind;
use crate::run::changeset::ChangeSet;
use crate::run::out_dir::DirId;

/// The journal format this host writes and reads: raised whenever an event
/// type is added, so an older host can say why it cannot read a journal.
/// Format 1 journals (no `format` in `run_created`) have the events up to
/// `run_rejected_by_reviewer`. Format 3 records may carry blobs (a `blobs`
/// member covered by the record's hash; see [`crate::run::journal`]), which
/// a format 2 host would take for an edited record. Format 4 adds
/// `change_set_extended` (a session's waiting change set grown by a later
/// call, recorded as what it adds instead of the whole set again) and
/// `session_continued` (a full session run names the run its session goes
/// on in).
pub const JOURNAL_FORMAT: u32 = 4;

fn format_one() -> u32 {
    1
}

/// One entry of a run's journal.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Event {
    /// The run exists: what it will execute, on what, with which plugins.
    RunCreated {
        /// The journal format ([`JOURNAL_FORMAT`] when this host created it).
        #[serde(default = "format_one")]
        format: u32,
        /// The workflow's name.
        workflow: String,
        /// sha256 of the workflow file, checked again by `host resume`.
        workflow_digest: String,
        /// The plugins folder and workflow file, so `host resume` can reload
        /// them (and refuse if their digests changed).
        #[serde(default)]
        plugins_dir: Option<PathBuf>,
        /// None in journals written before the host recorded it.
        #[serde(default)]
        workflow_path: Option<PathBuf>,
        /// The workflow's parameters as given when the run was created.
        params: serde_json::Value,
        /// The workspace the plugins read (read-only mounts resolve against it).
        workspace: PathBuf,
        /// Where approved writes land.
        out_dir: PathBuf,
        /// The output directory's identity when the run was created; every
        /// later open of `out_dir` must find this same directory.
        #[serde(default)]
        out_dir_id: Option<DirId>,
        /// Host paths no write of this run may reach (state, cache, plugins
        /// folder, workflow, manifests, components), re-checked at apply.
        #[serde(default)]
        protected: Vec<PathBuf>,
        /// The exact component behind each plugin the workflow uses.
        plugins: Vec<PluginDigest>,
        /// Each plugin's effective grants (what both its manifest and the
        /// admin's grants allow) and their digest. Empty in journals written
        /// before the host recorded them.
        #[serde(default)]
        grants: Vec<EffectiveGrant>,
        /// The workflow has no `[review]`: after its steps the run goes
        /// straight to the approval gate, and no review event follows.
        /// Absent (false) in journals of workflows with a reviewer, and in
        /// journals from before a review could be left out.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_review: bool,
    },
    /// A step's plugin call began.
    StepStarted {
        /// The step's id in the workflow.
        step: String,
        /// The plugin the step calls.
        plugin: String,
        /// 1 for the first try, counting up with each retry.
        attempt: u32,
        /// 0 for the first draft, n for the n-th re-draft.
        #[serde(default)]
        round: u32,
    },
    /// A step finished; its output and proposed writes are staged as blobs.
    StepSucceeded {
        /// The step's id in the workflow.
        step: String,
        /// Which attempt succeeded (1 for the first).
        attempt: u32,
        /// sha256 of the step's output JSON (the blob's name).
        output_sha256: String,
        /// Where the output is stored, relative to the run folder.
        #[serde(default)]
        output_blob: String,
        /// The proposed writes, checked and staged.
        writes: Vec<StagedWrite>,
        /// What the plugin logged during the call.
        logs: Vec<LogRecord>,
        /// Wall time of the call, in milliseconds.
        duration_ms: u64,
    },
    /// A step's attempt gave no result (it may still be retried).
    StepFailed {
        /// The step's id in the workflow.
        step: String,
        /// Which attempt failed (1 for the first).
        attempt: u32,
        /// Why the call gave no result.
        error_kind: ErrorKind,
        /// The failure's text, as the host or plugin reported it.
        message: String,
        /// What the plugin and the host logged during the call.
        logs: Vec<LogRecord>,
    },
    /// A transient failure will be retried: attempt `attempt` starts after
    /// `delay_ms` (chosen by the step's retry policy).
    StepRetried {
        /// The step's id in the workflow.
        step: String,
        /// The attempt that will run next.
        attempt: u32,
        /// How long the host waits before it, in milliseconds.
        delay_ms: u64,
    },
    /// The reviewer returned a verdict on the drafted change set.
    ReviewCompleted {
        /// The reviewer plugin.
        plugin: String,
        /// 0 for the first review, n after the n-th re-draft.
        #[serde(default)]
        round: u32,
        /// The reviewer's decision.
        verdict: Verdict,
        /// What the reviewer pointed out.
        findings: Vec<Finding>,
        /// The reviewer's one-paragraph account.
        summary: String,
        /// What the reviewer logged during the call.
        logs: Vec<LogRecord>,
        /// Wall time of the call, in milliseconds.
        duration_ms: u64,
    },
    /// The reviewer gave no verdict: it returned a plugin error, or trapped,
    /// timed out or hit a limit. The run fails next; `logs` keep what the
    /// plugin and the host (a network denial, say) recorded during the call.
    ReviewFailed {
        /// The reviewer plugin.
        plugin: String,
        /// 0 for the first review, n after the n-th re-draft.
        #[serde(default)]
        round: u32,
        /// Why the call gave no result.
        error_kind: ErrorKind,
        /// The failure's text, as the host or plugin reported it.
        message: String,
        /// What the plugin and the host logged during the call.
        logs: Vec<LogRecord>,
    },
    /// The reviewer asked for a revision: `steps` run again (round `round`)
    /// with the review in their input, then the reviewer looks again.
    RedraftRequested {
        /// The round that starts (1 for the first re-draft).
        round: u32,
        /// The ids of the steps that run again.
        steps: Vec<String>,
    },
    /// `host resume` picked the run up again; `rerun` lists what it re-runs.
    /// `rebuilt`: plugins whose component changed since the run started,
    /// which `by` accepted for a failed run (`--accept-rebuilt`); from here
    /// on the run records their new digests.
    RunResumed {
        /// Who resumed (the OS user's name).
        by: String,
        /// The run's status when it was resumed.
        from: String,
        /// The ids of the steps it runs again.
        rerun: Vec<String>,
        /// Plugins rebuilt since the run started, accepted with the resume.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rebuilt: Vec<PluginRebuilt>,
    },
    /// `host resume --accept-grant-changes`: `by` let the run continue although
    /// `plugin`'s effective grants changed since they were recorded; from
    /// here on the run holds `grants` (digest `to_digest`).
    GrantsChanged {
        /// The plugin whose grants changed.
        plugin: String,
        /// Digest of the grants recorded before.
        from_digest: String,
        /// Digest of the grants the run holds from here on.
        to_digest: String,
        /// Who accepted the change.
        by: String,
        /// What changed, one phrase each.
        changes: Vec<String>,
        /// The new effective grants, as recorded in [`EffectiveGrant::grants`].
        grants: serde_json::Value,
    },
    /// The run waits for a person to approve exactly this change set.
    ApprovalRequested {
        /// The writes proposed for approval.
        change_set: ChangeSet,
        /// The change set's digest, the one an approval must name.
        digest: String,
    },
    /// An MCP session's change set, already waiting for a person, grew by a
    /// later call's writes: `added` (paths the set did not hold, bound to
    /// their targets as `approval_requested`'s entries are) join it, and
    /// from here on the run waits for approval of the whole set with
    /// `digest`. Recorded instead of the whole set again, so a session's
    /// journal grows with what it stages, not with its square.
    ChangeSetExtended {
        /// The new entries, sorted by path.
        added: Vec<crate::run::changeset::ChangeEntry>,
        /// Digest of the whole change set after the extension, the one an
        /// approval must name.
        digest: String,
    },
    /// A person approved the change set with `digest`; the writes may be applied.
    ApprovalGranted {
        /// Who approved, as the front end named them (for the CLI, `--approver` or else the OS user).
        approver: String,
        /// The digest that was approved.
        digest: String,
        /// Why, when the approver gave a reason.
        reason: Option<String>,
    },
    /// A person rejected the change set; nothing will be written.
    ApprovalRejected {
        /// Who rejected it.
        approver: String,
        /// Why they rejected it.
        reason: String,
    },
    /// One approved file is on disk with exactly these bytes (or, for a
    /// deletion, `sha256` is `None` and the file is gone).
    WriteApplied {
        /// Relative path under the run's output directory.
        path: String,
        /// sha256 of the bytes written; `None` for a deletion.
        sha256: Option<String>,
        /// The bytes were found already on disk by `host resume` (the host
        /// stopped after the rename, before this event): not written twice.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        recovered: bool,
    },
    /// Every approved write is applied; the run is done.
    RunCompleted {},
    /// The run stopped for good; nothing (more) will be written.
    RunFailed {
        /// The step that failed, `None` when the failure was not a step's.
        step: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// The reviewer rejected the run's result; nothing will be written.
    RunRejectedByReviewer {
        /// The reviewer's summary.
        summary: String,
    },
    /// `by` narrowed or edited the proposed change set before deciding on it
    /// (`host approve --only/--edit`, the console): from here on the run
    /// waits for approval of `change_set` (digest `digest`) instead of the
    /// one with `from_digest`, which stays in its `approval_requested` event.
    ChangeSetAmended {
        /// Who amended the change set.
        by: String,
        /// Digest of the change set as proposed.
        from_digest: String,
        /// Digest of the amended change set, the one an approval must name.
        digest: String,
        /// The amended change set.
        change_set: ChangeSet,
        /// Paths of the proposal left out.
        dropped: Vec<String>,
        /// Paths whose new bytes the person replaced.
        edited: Vec<String>,
    },
    /// This run undoes run `run`'s applied writes (`host revert`); its
    /// change set restores their base bytes. `refused` lists the files left
    /// out because they changed since the apply.
    RevertOf {
        /// The id of the run being undone.
        run: String,
        /// Who asked for the revert.
        by: String,
        /// Files left out because they changed since the apply.
        #[serde(default)]
        refused: Vec<RevertRefusal>,
    },
    /// Run `run` was proposed to undo this run's applied writes.
    RevertedBy {
        /// The id of the run that undoes this one.
        run: String,
        /// Who asked for the revert.
        by: String,
    },
    /// This session run recorded the most a session run records (`host mcp
    /// --max-session-mib`): the session's later calls are recorded in run
    /// `run`, whose `run_created` names this one (`params.continues`). A
    /// change set waiting here still waits for a person.
    SessionContinued {
        /// The id of the run the session goes on in.
        run: String,
    },
    /// An agent (through `host mcp`) or a person (`host call`) asked for one
    /// tool call in a session run ([`crate::mcp`]).
    ToolCallRequested {
        /// The call's id in this session (`c1`, `c2`...).
        call: String,
        /// The plugin that serves the tool.
        plugin: String,
        /// The exact component that will run.
        plugin_sha256: String,
        /// sha256 of the arguments' JSON text.
        arguments_sha256: String,
        /// The arguments, when their JSON text is at most 4 KiB (else null).
        arguments: serde_json::Value,
        /// `mcp` or `cli`.
        via: String,
    },
    /// The admin policy's decision on a call: `action` is `allow`, `ask` or
    /// `deny`; `rule` names the rule that matched (none: the default);
    /// `answer` is the person's answer to an `ask` (`accept`, `decline`,
    /// `cancel`, `unsupported` when the client cannot ask, or `too-long`
    /// when the arguments were too long to show a person whole).
    PolicyDecided {
        /// The call's id in this session.
        call: String,
        /// `allow`, `ask` or `deny`.
        action: String,
        /// The name of the rule that matched; `None` when the default applied.
        rule: Option<String>,
        /// The person's answer to an `ask`; `None` for `allow` and `deny`.
        #[serde(default)]
        answer: Option<String>,
        /// Whether the call goes on to run.
        allowed: bool,
        /// Why, in words (the rule, or the person's answer).
        reason: String,
    },
    /// A call returned; its output and proposed writes are staged.
    ToolCallFinished {
        /// The call's id in this session.
        call: String,
        /// The plugin that served the tool.
        plugin: String,
        /// sha256 of the exact component that ran.
        plugin_sha256: String,
        /// sha256 of the call's output JSON (the blob's name).
        output_sha256: String,
        /// Where the output is stored, relative to the run folder.
        output_blob: String,
        /// The proposed writes, checked and staged.
        writes: Vec<StagedWrite>,
        /// What the plugin logged during the call.
        logs: Vec<LogRecord>,
        /// Wall time of the call, in milliseconds.
        duration_ms: u64,
    },
    /// A call did not return a result: refused (schema, policy, writes),
    /// the plugin's own error, a trap, a limit, a timeout or cancellation.
    ToolCallFailed {
        /// The call's id in this session.
        call: String,
        /// The plugin that serves the tool.
        plugin: String,
        /// Why the call gave no result.
        error_kind: ErrorKind,
        /// The failure's text, as the host or plugin reported it.
        message: String,
        /// What the plugin and the host logged during the call.
        logs: Vec<LogRecord>,
    },
}

impl Event {
    /// Every event type, in declaration order (`host trace --event`).
    pub const NAMES: &'static [&'static str] = <Self as strum::VariantNames>::VARIANTS;

    /// The event's `type` tag, for listings and filters.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// Whether the event decides or finishes a run (a person's decision,
    /// the apply, the run's end, a session's hand-over to its next run): what
    /// a full journal must still take, so that a run is never left that
    /// nobody can finish ([`crate::run::journal::FINISHING_RESERVE_BYTES`]).
    pub fn finishes(&self) -> bool {
        matches!(
            self,
            Event::ApprovalGranted { .. }
                | Event::ApprovalRejected { .. }
                | Event::ChangeSetAmended { .. }
                | Event::WriteApplied { .. }
                | Event::RunCompleted {}
                | Event::RunFailed { .. }
                | Event::RevertedBy { .. }
                | Event::SessionContinued { .. }
        )
    }
}

#[cfg(test)]
impl Event {
    /// A minimal `run_created` for tests: workflow `w`, no plugins.
    pub(crate) fn test_created(workspace: &str, out_dir: &str) -> Event {
        Event::RunCreated {
            format: JOURNAL_FORMAT,
            workflow: "w".into(),
            workflow_digest: "d".into(),
            plugins_dir: None,
            workflow_path: None,
            params: serde_json::Value::Null,
            workspace: workspace.into(),
            out_dir: out_dir.into(),
            out_dir_id: None,
            protected: Vec::new(),
            plugins: Vec::new(),
            grants: Vec::new(),
            no_review: false,
        }
    }
}

/// Which exact component a plugin name referred to in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginDigest {
    /// The plugin's name in the folder.
    pub name: String,
    /// sha256 of its component file.
    pub sha256: String,
}

/// A plugin whose component was rebuilt before a failed run was resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRebuilt {
    /// The plugin's name.
    pub name: String,
    /// The digest the run recorded until now.
    pub from_sha256: String,
    /// The digest of the component that runs from here on.
    pub to_sha256: String,
}

/// The authority one plugin ran under: its effective grants as recorded by
/// [`crate::grants::admin::GrantSet`], and the sha256 over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveGrant {
    /// The plugin's name.
    pub name: String,
    /// sha256 over `grants`.
    pub digest: String,
    /// The effective grants, as JSON.
    pub grants: serde_json::Value,
    /// `grants.toml` (the admin's file) or `manifest` (a folder without one).
    #[serde(default)]
    pub granted_by: String,
}

/// A write (or deletion) a step proposed, already checked against the
/// plugin's grant and the host's protected paths, its bytes staged as a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedWrite {
    /// Normalized relative path under the run's output directory.
    pub path: String,
    /// sha256 of the staged bytes (the blob's name); `None` for a deletion
    /// (proposed by a read-write mount's private copy).
    pub sha256: Option<String>,
    /// Size of the staged bytes (0 for a deletion).
    pub size: u64,
}

/// A file a revert leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevertRefusal {
    /// Relative path under the output directory.
    pub path: String,
    /// Why the revert leaves it alone (its bytes changed since the apply, say).
    pub reason: String,
}
