//! Rollback: `host revert RUN` proposes a new run whose change set undoes
//! an applied run's writes. It restores every file the run replaced (or
//! deleted) to its base bytes, which [`crate::run::stage::change_set`] kept
//! as blobs when the run was staged, and deletes every file the run created.
//! A file that changed since the apply (its bytes are no longer the ones
//! the run wrote) is left alone and listed as refused, so a revert never
//! destroys someone's later edit.
//!
//! The revert is an ordinary run waiting for approval: a person approves its
//! digest and the verified apply writes it. The two journals point at each
//! other: the new run starts with `revert_of`, the reverted one records
//! `reverted_by`.

use crate::render::inert;
use crate::run::changeset::{ChangeEntry, ChangeSet, read_base};
use crate::run::event::{Event, RevertRefusal};
use crate::run::state::RunStatus;
use crate::run::store::{Run, RunError, RunStore};

/// Why no revert was proposed.
#[derive(Debug, thiserror::Error)]
pub enum RevertError {
    /// The run is not completed, or applied no writes.
    #[error(
        "run `{id}` has no applied writes to revert: it is {status}\nhint: only a run whose approved writes were applied can be reverted; `host status {id}` shows where it stands"
    )]
    NothingApplied {
        /// The run asked to revert.
        id: String,
        /// Where it stands.
        status: RunStatus,
    },
    /// A revert of the run is already proposed or applied.
    #[error(
        "run `{id}` already has a revert proposed or applied (run `{revert}`)\nhint: decide on that run (`host show {revert}`); a revert that was rejected or failed does not count"
    )]
    AlreadyReverted {
        /// The run asked to revert.
        id: String,
        /// The run that already reverts it.
        revert: String,
    },
    /// Every file the run wrote changed since, so nothing is left to revert.
    #[error(
        "every file run `{id}` wrote changed since the apply (or lost its base bytes), so there is nothing to revert:\n{}\nhint: the files on disk are someone else's now; restore them by hand if you must",
        list(.refused)
    )]
    AllRefused {
        /// The run asked to revert.
        id: String,
        /// Every file it wrote, with why it is left alone.
        refused: Vec<RevertRefusal>,
    },
    /// The run's output directory could not be opened or read.
    #[error("cannot read the output directory of run `{id}`: {reason}")]
    OutDir {
        /// The run asked to revert.
        id: String,
        /// Why the directory could not be read.
        reason: String,
    },
    /// A run could not be opened, created or recorded.
    #[error(transparent)]
    Run(#[from] RunError),
}

fn list(refused: &[RevertRefusal]) -> String {
    refused
        .iter()
        .map(|r| {
            format!(
                "  {}: {}",
                inert(&r.path),
                crate::render::inert_block(&r.reason, "    ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What [`propose`] created.
#[derive(Debug)]
pub struct Proposed {
    /// The new run, waiting for approval of its change set.
    pub run: Run,
    /// Files left out because they changed since the apply.
    pub refused: Vec<RevertRefusal>,
}

/// Propose a run that reverts run `id`'s applied writes; `by` is the person
/// asking (journaled in both runs).
pub fn propose(store: &RunStore, id: &str, by: &str) -> Result<Proposed, RevertError> {
    let mut original = store.open_patiently(id)?;
    // `id` may be a prefix or `latest`: from here on, the run's own id.
    let id = &original.id().to_string();
    let state = original.state().clone();
    if state.applied.is_empty() || state.status != RunStatus::Completed {
        return Err(RevertError::NothingApplied {
            id: id.to_string(),
            status: state.status,
        });
    }
    for revert in &state.reverted_by {
        let still_counts = store
            .peek(revert)
            .map(|r| !matches!(r.status, RunStatus::Rejected | RunStatus::Failed))
            .unwrap_or(false);
        if still_counts {
            return Err(RevertError::AlreadyReverted {
                id: id.to_string(),
                revert: revert.clone(),
            });
        }
    }
    let out = crate::run::out_dir::open(&state.out_dir, state.out_dir_id).map_err(|e| {
        RevertError::OutDir {
            id: id.to_string(),
            reason: format!("{e:#}"),
        }
    })?;
    let change_set = state.change_set.clone().unwrap_or_default();
    let mut entries = Vec::new();
    let mut restore = Vec::new();
    let mut refused = Vec::new();
    let mut refuse = |path: &str, reason: String| {
        refused.push(RevertRefusal {
            path: path.to_string(),
            reason,
        });
    };
    for entry in change_set
        .entries
        .iter()
        .filter(|e| state.applied.contains(&e.path))
    {
        let current = match read_base(&out, &entry.path) {
            Ok(base) => base,
            Err(e) => {
                refuse(&entry.path, e.to_string());
                continue;
            }
        };
        let found = current.sha256();
        if found != entry.new_sha256 {
            let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "no file".into());
            refuse(
                &entry.path,
                format!(
                    "changed since the apply (the run left {}, the file now is {})",
                    show(&entry.new_sha256),
                    show(&found)
                ),
            );
            continue;
        }
        let (new_sha256, size) = match &entry.base_sha256 {
            None => (None, 0),
            Some(base) => match original.blobs().get(base) {
                Ok(bytes) => {
                    let size = bytes.len() as u64;
                    restore.push(bytes);
                    (Some(base.clone()), size)
                }
                Err(e) => {
                    refuse(
                        &entry.path,
                        format!("its base bytes were not kept by the run ({e})"),
                    );
                    continue;
                }
            },
        };
        entries.push(ChangeEntry {
            path: entry.path.clone(),
            base_sha256: found,
            new_sha256,
            size,
        });
    }
    if entries.is_empty() {
        return Err(RevertError::AllRefused {
            id: id.to_string(),
            refused,
        });
    }
    let revert_set = ChangeSet::new(entries);
    let mut run = store.create(Event::RunCreated {
        format: crate::run::event::JOURNAL_FORMAT,
        workflow: state.workflow.clone(),
        workflow_digest: state.workflow_digest.clone(),
        // No plugins folder or workflow: a revert runs no step, so there is
        // nothing `host resume` could re-run.
        plugins_dir: None,
        workflow_path: None,
        params: serde_json::json!({ "revert_of": id }),
        workspace: state.workspace.clone(),
        out_dir: state.out_dir.clone(),
        out_dir_id: state.out_dir_id,
        protected: state.protected.clone(),
        plugins: Vec::new(),
        grants: Vec::new(),
        no_review: false,
    })?;
    crate::pause_point::reached("revert-created");
    for bytes in &restore {
        run.blobs().put(bytes).map_err(RunError::from)?;
    }
    run.record(Event::RevertOf {
        run: id.to_string(),
        by: by.to_string(),
        refused: refused.clone(),
    })?;
    let digest = revert_set.digest();
    run.record(Event::ApprovalRequested {
        change_set: revert_set,
        digest,
    })?;
    original.record(Event::RevertedBy {
        run: run.id().to_string(),
        by: by.to_string(),
    })?;
    Ok(Proposed { run, refused })
}
