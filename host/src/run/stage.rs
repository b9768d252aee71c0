//! Staging: the one path from what a plugin proposes to the change set a
//! person approves. Workflow steps (and every later front end) go through
//! it; nothing else vets or stages a proposal.
//!
//! 1. [`vet`]: each proposal (a write the plugin returned, or a file it
//!    created, changed or deleted in a read-write mount's private copy) is
//!    checked against the plugin's `writes` grant and the host's protected
//!    paths ([`crate::grants::ResolvedGrants::check_write`]), against the
//!    run's other proposals (one entry per path, and no path that is
//!    another's parent directory: the apply could not write both), and its
//!    bytes are stored as a blob.
//! 2. [`change_set`]: when the run reaches the gate, every staged entry is
//!    bound to the current content of its target, read through the pinned
//!    output directory, into a [`ChangeSet`] with its digest.

use crate::contract::ProposedWrite;
use crate::error_kind::ErrorKind;
use crate::grants::ResolvedGrants;
use crate::render::inert;
use crate::run::blobs::{BlobError, Blobs};
use crate::run::changeset::{Base, ChangeEntry, ChangeSet, read_base};
use crate::run::event::StagedWrite;
use crate::run::state::RunState;
use crate::runtime::MountChange;

/// One change a plugin proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Relative to the run's output directory, as the plugin gave it.
    pub path: String,
    /// The new bytes; `None` deletes the file.
    pub contents: Option<Vec<u8>>,
}

impl From<ProposedWrite> for Proposal {
    fn from(w: ProposedWrite) -> Self {
        Proposal {
            path: w.path,
            contents: Some(w.contents),
        }
    }
}

impl From<MountChange> for Proposal {
    fn from(c: MountChange) -> Self {
        Proposal {
            path: c.path,
            contents: c.contents,
        }
    }
}

/// Why a step's proposals were refused (the step fails with this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The step error kind journaled: `write-denied` or `write-conflict`.
    pub kind: ErrorKind,
    /// The first refused write and why (inert), for the journal.
    pub message: String,
}

/// Vet `proposals` and stage their bytes. `earlier` are the run's entries
/// staged by other steps. The outer error is the blob store's; the inner
/// one refuses the proposals (nothing of them is staged).
pub fn vet(
    blobs: &Blobs,
    grants: &ResolvedGrants,
    earlier: &[&StagedWrite],
    proposals: Vec<Proposal>,
) -> Result<Result<Vec<StagedWrite>, Refusal>, BlobError> {
    let mut accepted: Vec<(String, Option<Vec<u8>>)> = Vec::with_capacity(proposals.len());
    for Proposal { path, contents } in proposals {
        let path = match grants.check_write(&path) {
            Ok(path) => path,
            Err(denied) => {
                return Ok(Err(Refusal {
                    kind: ErrorKind::WriteDenied,
                    message: denied.to_string(),
                }));
            }
        };
        let others = earlier
            .iter()
            .map(|w| w.path.as_str())
            .chain(accepted.iter().map(|(p, _)| p.as_str()));
        for other in others {
            if let Some(message) = clash(other, &path) {
                return Ok(Err(Refusal {
                    kind: ErrorKind::WriteConflict,
                    message,
                }));
            }
        }
        accepted.push((path, contents));
    }
    let mut staged = Vec::with_capacity(accepted.len());
    for (path, contents) in accepted {
        let (sha256, size) = match contents {
            Some(bytes) => (Some(blobs.put(&bytes)?), bytes.len() as u64),
            None => (None, 0),
        };
        staged.push(StagedWrite { path, sha256, size });
    }
    Ok(Ok(staged))
}

/// Why two paths cannot both be in one change set, if they cannot.
pub fn clash(a: &str, b: &str) -> Option<String> {
    if a == b {
        return Some(format!(
            "`{}` is proposed twice in this run; each file may be changed by one step once",
            inert(a)
        ));
    }
    let (parent, child) = if b.len() > a.len() { (a, b) } else { (b, a) };
    if child
        .strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('/'))
    {
        return Some(format!(
            "`{}` and `{}` are both proposed, but the first would have to be a file and a directory at once",
            inert(parent),
            inert(child)
        ));
    }
    None
}

/// Bind the run's staged entries to the current content of their targets.
/// Each replaced or deleted file's current bytes are kept in `blobs` (named
/// by its base sha256), so `host revert` can restore them after the apply.
/// An `Err` says why the run cannot go to the gate (it fails with it).
pub fn change_set(state: &RunState, blobs: &Blobs) -> Result<ChangeSet, String> {
    bind(state, state.staged_writes().map(|(_, w)| w), blobs).map(ChangeSet::new)
}

/// Bind `added` to the current content of their targets, in path order:
/// what a session's later call adds to the set it waits on costs a read of
/// its own targets only. Entries bound earlier keep their bases; an
/// approval of the new digest still applies nothing whose target changed
/// since (the apply checks every base again).
pub fn bind<'w>(
    state: &RunState,
    added: impl IntoIterator<Item = &'w StagedWrite>,
    blobs: &Blobs,
) -> Result<Vec<ChangeEntry>, String> {
    let out = crate::run::out_dir::open(&state.out_dir, state.out_dir_id)
        .map_err(|e| format!("{e:#}"))?;
    let mut entries = Vec::new();
    for w in added {
        let base = read_base(&out, &w.path).map_err(|e| format!("cannot stage the write: {e}"))?;
        if w.sha256.is_none() && base == Base::Absent {
            // Deleted by someone else since the plugin saw it: nothing to do.
            continue;
        }
        if let Some(bytes) = base.bytes() {
            blobs
                .put(bytes)
                .map_err(|e| format!("cannot keep the base bytes of a staged write: {e}"))?;
        }
        entries.push(ChangeEntry {
            path: w.path.clone(),
            base_sha256: base.sha256(),
            new_sha256: w.sha256.clone(),
            size: w.size,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::clash;

    #[test]
    fn duplicates_and_parent_child_pairs_clash() {
        assert!(clash("reports/a", "reports/a").is_some());
        assert!(clash("reports/a", "reports/a/b").is_some());
        assert!(clash("reports/a/b", "reports/a").is_some());
        assert!(clash("reports/a", "reports/ab").is_none());
        assert!(clash("reports/a", "reports/b/a").is_none());
    }
}
