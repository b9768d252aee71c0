//! The human decision on a run's change set: approve (then apply) or reject.
//!
//! Only a run that is waiting for approval can be decided, and only once. An
//! approval is bound to the change-set digest the run requested it for; the
//! apply writes only a change set whose recomputed digest is the approved
//! one, re-verifies every byte and base file before the first write (and the
//! protected paths, the pinned output directory, parent/child clashes, name
//! lengths and free space), and records each write in the journal as it
//! lands.

use crate::pause_point;
use crate::protect::{Protected, ProtectedKind};
use crate::run::amend::{self, AmendError, Amended, Amendment};
use crate::run::apply::{self, ApplyError, VerifiedWrite};
use crate::run::changeset::ChangeSet;
use crate::run::event::Event;
use crate::run::state::{RunState, RunStatus};
use crate::run::store::{Run, RunError};

/// Why a decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The run is not waiting for approval.
    #[error("run `{id}` is not waiting for approval: it is {status}{detail}")]
    NotWaiting {
        /// The run's id.
        id: String,
        /// Where the run stands.
        status: RunStatus,
        /// Who decided, or why it failed, in parentheses; empty when unknown.
        detail: String,
    },
    /// The digest given is too short a prefix to bind one change set.
    #[error(
        "the digest `{}` is too short: name at least {MIN_DIGEST_PREFIX} hex digits of the change set's digest (the whole of it, as `host show` prints it, is best)\nhint: a short prefix could match a change set grown after you looked",
        crate::render::inert(given)
    )]
    DigestTooShort {
        /// What was given.
        given: String,
    },
    /// The digest given does not name the change set the run waits on.
    #[error(
        "the digest `{}` does not match run `{id}`'s change set `{actual}`\nhint: the change set shown by `host show {id}` is the one you can approve; look at it again",
        crate::render::inert(given)
    )]
    DigestMismatch {
        /// The run's id.
        id: String,
        /// The digest (or prefix) the person gave.
        given: String,
        /// The digest of the change set the run waits on.
        actual: String,
    },
    /// The approved writes failed their checks before any was written; the run fails.
    #[error("nothing was written")]
    Refused(#[source] ApplyError),
    /// A write failed partway through the apply; the run is recorded as failed.
    #[error(
        "applying run `{id}` failed after {applied} of {total} writes\nhint: the files written so far hold their approved bytes and none is torn; fix what the `caused by` lines name (free disk space, say), then `host resume --failed {id}` writes the rest"
    )]
    ApplyFailed {
        /// The run's id.
        id: String,
        /// How many writes were applied before the failure.
        applied: usize,
        /// How many writes the change set holds.
        total: usize,
        /// Why the next write failed.
        #[source]
        source: ApplyError,
    },
    /// The narrowing or edit of the change set was refused.
    #[error(transparent)]
    Amend(#[from] AmendError),
    /// The run could not be opened or recorded.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A change set ready for a decision: every write verified against disk.
#[derive(Debug)]
pub struct Pending {
    /// The change set's digest, the one an approval must name.
    pub digest: String,
    /// Each entry, checked against the staged blobs and the disk.
    pub writes: Vec<VerifiedWrite>,
}

/// Refuse unless the run waits for approval, explaining what state it is in.
pub fn ensure_waiting(state: &RunState) -> Result<(), ApprovalError> {
    if state.status == RunStatus::WaitingApproval {
        return Ok(());
    }
    let detail = match (&state.approval, &state.rejection, &state.failure) {
        (Some(a), _, _) => format!(" (approved by {})", a.approver),
        (_, Some(r), _) => format!(" (rejected by {})", r.approver),
        (_, _, Some(f)) => format!(" ({f})"),
        _ => String::new(),
    };
    Err(ApprovalError::NotWaiting {
        id: state.id.clone(),
        status: state.status,
        detail,
    })
}

/// Verify the waiting run's change set against its blobs and the current
/// files, and everything else that can be checked before the first byte.
pub fn pending(run: &Run) -> Result<Pending, ApprovalError> {
    let state = run.state();
    ensure_waiting(state)?;
    verify_set(run, &requested_change_set(state))
}

/// Verify `change_set` (the requested one or an amendment of it) against
/// the run's blobs and the current files, as an apply would.
fn verify_set(run: &Run, change_set: &ChangeSet) -> Result<Pending, ApprovalError> {
    let state = run.state();
    let out = crate::run::out_dir::open(&state.out_dir, state.out_dir_id)
        .map_err(|e| ApprovalError::Refused(e.into()))?;
    let writes = apply::verify(
        &out,
        &state.out_dir,
        &protected(run),
        run.blobs(),
        change_set,
        None,
    )
    .and_then(|writes| apply::preflight(&out, &writes).map(|()| writes))
    .map_err(ApprovalError::Refused)?;
    Ok(Pending {
        digest: change_set.digest(),
        writes,
    })
}

/// Amend the waiting run's change set (see [`crate::run::amend`]) and verify
/// the result; nothing is recorded until [`approve_amended`].
pub fn amendment(run: &Run, amendment: &Amendment) -> Result<(Amended, Pending), ApprovalError> {
    let state = run.state();
    ensure_waiting(state)?;
    let amended = amend::amend(run.blobs(), &requested_change_set(state), amendment)?;
    let pending = verify_set(run, &amended.change_set)?;
    Ok((amended, pending))
}

/// Approve an amendment of the waiting run's change set and apply it: the
/// amendment is journaled as `by`'s act (`change_set_amended`, with the new
/// digest) before the approval of that digest, and the apply is the one
/// every approval goes through. `expected_digest`, if given, must match the
/// change set the person amended (the one `host show` printed).
pub fn approve_amended(
    run: &mut Run,
    approver: &str,
    reason: Option<String>,
    expected_digest: Option<&str>,
    amended: Amended,
) -> Result<Vec<String>, ApprovalError> {
    let state = run.state();
    ensure_waiting(state)?;
    let recorded = state.change_set_digest.clone().unwrap_or_default();
    check_expected(run.id(), &recorded, expected_digest)?;
    if amended.from_digest != recorded {
        return Err(ApprovalError::DigestMismatch {
            id: run.id().to_string(),
            given: amended.from_digest,
            actual: recorded,
        });
    }
    if amended.digest == recorded {
        return approve(run, approver, reason, None);
    }
    // Everything is verified again: the files may have changed since the
    // person looked at the amended diff.
    let pending = verify_set(run, &amended.change_set)?;
    if pending.digest != amended.digest {
        return Err(ApprovalError::DigestMismatch {
            id: run.id().to_string(),
            given: pending.digest,
            actual: amended.digest,
        });
    }
    run.record(Event::ChangeSetAmended {
        by: approver.to_string(),
        from_digest: amended.from_digest,
        digest: amended.digest.clone(),
        change_set: amended.change_set,
        dropped: amended.dropped,
        edited: amended.edited,
    })?;
    approve(run, approver, reason, Some(&amended.digest))
}

/// The fewest hex digits of a change-set digest an approval may name: 64
/// bits. The agent whose calls grow a session's change set knows its digest
/// and chooses the bytes; with a short prefix it could grind a grown set
/// whose digest starts the same (2^32 hashes for 8 digits) and slip it in
/// between a person's `host show` and `host approve --digest`. 2^64 is out
/// of reach.
pub const MIN_DIGEST_PREFIX: usize = 16;

/// Check `expected` (a digest or a prefix of at least [`MIN_DIGEST_PREFIX`]
/// hex digits) against
/// the change set the run waits for, before anything is shown or decided.
pub fn check_digest(run: &Run, expected: &str) -> Result<(), ApprovalError> {
    let recorded = run.state().change_set_digest.clone().unwrap_or_default();
    check_expected(run.id(), &recorded, Some(expected))
}

fn check_expected(id: &str, recorded: &str, expected: Option<&str>) -> Result<(), ApprovalError> {
    if let Some(given) = expected
        && given.len() < MIN_DIGEST_PREFIX
    {
        return Err(ApprovalError::DigestTooShort {
            given: given.to_string(),
        });
    }
    if let Some(given) = expected
        && !recorded.starts_with(given)
    {
        return Err(ApprovalError::DigestMismatch {
            id: id.to_string(),
            given: given.to_string(),
            actual: recorded.to_string(),
        });
    }
    Ok(())
}

fn requested_change_set(state: &RunState) -> ChangeSet {
    state.change_set.clone().unwrap_or_default()
}

/// The paths no write of this run may reach: those its journal recorded
/// at creation, and the state directory the run lives in.
fn protected(run: &Run) -> Protected {
    let mut protected = Protected::new();
    for path in &run.state().protected {
        protected.add(ProtectedKind::Recorded, path);
    }
    for path in run.store_paths() {
        protected.add(ProtectedKind::State, path);
    }
    protected
}

/// Approve the run's change set and apply it. `expected_digest`, if given (a
/// prefix of at least 8 hex digits is enough), must match the change set.
/// Returns the paths written.
pub fn approve(
    run: &mut Run,
    approver: &str,
    reason: Option<String>,
    expected_digest: Option<&str>,
) -> Result<Vec<String>, ApprovalError> {
    let pending = pending(run)?;
    let recorded = run.state().change_set_digest.clone().unwrap_or_default();
    check_expected(run.id(), &recorded, expected_digest)?;
    if pending.digest != recorded {
        return Err(ApprovalError::DigestMismatch {
            id: run.id().to_string(),
            given: pending.digest,
            actual: recorded,
        });
    }
    run.record(Event::ApprovalGranted {
        approver: approver.to_string(),
        digest: recorded,
        reason,
    })?;
    pause_point::reached("approved");
    apply_approved(run)
}

/// Put the approved change set on disk and complete the run. Used right
/// after the approval, and by `host resume` on a run whose apply was cut
/// short: writes the journal already records are skipped, and a target that
/// already holds exactly the approved bytes (the host stopped after the
/// rename, before journaling it) is recorded as `recovered`, not rewritten.
/// Everything is re-verified before the first byte is written; on any
/// mismatch nothing is written and the run fails, saying why.
pub fn apply_approved(run: &mut Run) -> Result<Vec<String>, ApprovalError> {
    let state = run.state();
    if state.status != RunStatus::Applying {
        return Err(ensure_waiting(state)
            .err()
            .unwrap_or(ApprovalError::NotWaiting {
                id: state.id.clone(),
                status: state.status,
                detail: String::new(),
            }));
    }
    let change_set = requested_change_set(state);
    let applied: Vec<String> = state.applied.clone();
    let verified = approved_digest(state, &change_set).and_then(|()| {
        let out = crate::run::out_dir::open(&state.out_dir, state.out_dir_id)?;
        for path in apply::sweep_temp_files(&out, &change_set) {
            tracing::info!(path = %crate::render::inert(&path), "removed a temporary file a killed host left behind");
        }
        let writes = apply::verify(
            &out,
            &state.out_dir,
            &protected(run),
            run.blobs(),
            &change_set,
            Some(&applied),
        )?;
        apply::preflight(&out, &writes)?;
        Ok((out, writes))
    });
    let (out, writes) = match verified {
        Ok(verified) => verified,
        Err(source) => {
            run.record(Event::RunFailed {
                step: None,
                reason: format!("nothing was written: {source}"),
            })?;
            return Err(ApprovalError::Refused(source));
        }
    };
    let total = change_set.entries.len();
    let mut done: Vec<String> = applied;
    let remaining = writes.len();
    for (i, write) in writes.into_iter().enumerate() {
        let recovered = write.already_applied;
        if !recovered {
            if let Err(source) = apply::apply_one(&out, &write) {
                run.record(Event::RunFailed {
                    step: None,
                    reason: format!(
                        "applying `{}` failed: {source}",
                        crate::render::inert(&write.entry.path)
                    ),
                })?;
                return Err(ApprovalError::ApplyFailed {
                    id: run.id().to_string(),
                    applied: done.len(),
                    total,
                    source,
                });
            }
            pause_point::reached("written");
        }
        run.record(Event::WriteApplied {
            path: write.entry.path.clone(),
            sha256: write.entry.new_sha256.clone(),
            recovered,
        })?;
        done.push(write.entry.path);
        if i + 1 < remaining {
            pause_point::reached("between-writes");
        }
    }
    run.closing();
    run.record(Event::RunCompleted {})?;
    Ok(done)
}

/// The change set about to be applied must be the one a person approved:
/// its digest recomputed from its entries, the digest the run asked
/// approval for and the digest the approval names must all agree.
fn approved_digest(state: &RunState, change_set: &ChangeSet) -> Result<(), ApplyError> {
    let computed = change_set.digest();
    let requested = state.change_set_digest.clone().unwrap_or_default();
    let approved = state
        .approval
        .as_ref()
        .and_then(|a| a.digest.clone())
        .unwrap_or_default();
    if computed == requested && requested == approved {
        return Ok(());
    }
    Err(ApplyError::Preflight {
        reason: format!(
            "the change set to apply has digest {computed}, the run asked approval for {requested}, and the approval names {}",
            if approved.is_empty() { "none" } else { &approved }
        ),
        hint: "the run's recorded state does not match what a person approved; nothing is written. Run `host verify` on it and start a new run".into(),
    })
}

/// Reject the run's change set: nothing is written, the run ends.
pub fn reject(run: &mut Run, approver: &str, reason: &str) -> Result<(), ApprovalError> {
    ensure_waiting(run.state())?;
    run.closing();
    run.record(Event::ApprovalRejected {
        approver: approver.to_string(),
        reason: reason.to_string(),
    })?;
    Ok(())
}

/// The completed run (and who approved it) whose applied write left `path`
/// of `state`'s output directory with content `sha256`, if one did: when a
/// stale base refuses an approval, the person learns which decision
/// changed the file under them.
pub fn last_writer(
    store: &crate::run::store::RunStore,
    state: &RunState,
    path: &str,
    sha256: &str,
) -> Option<(String, String)> {
    let ids = store.ids().ok()?;
    ids.iter()
        .rev()
        .filter(|id| **id != state.id)
        .find_map(|id| {
            let other = store.peek(id).ok()?;
            if other.out_dir != state.out_dir || !other.applied.iter().any(|p| p == path) {
                return None;
            }
            let wrote = other
                .change_set
                .as_ref()?
                .entries
                .iter()
                .any(|e| e.path == path && e.new_sha256.as_deref() == Some(sha256));
            let approver = other.approval.as_ref()?.approver.clone();
            wrote.then(|| (id.clone(), approver))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::changeset::ChangeEntry;
    use crate::run::store::RunStore;

    /// A run waiting for approval of one write into `out`, created through
    /// the store like any run.
    fn waiting(tmp: &std::path::Path) -> (RunStore, String, ChangeSet) {
        let out = tmp.join("out");
        std::fs::create_dir_all(&out).expect("mkdir");
        let store = RunStore::new(&tmp.join("state"));
        let mut run = store
            .create(Event::test_created(
                &out.display().to_string(),
                &out.display().to_string(),
            ))
            .expect("create");
        let sha = run.blobs().put(b"approved\n").expect("blob");
        let change_set = ChangeSet::new(vec![ChangeEntry {
            path: "a.md".into(),
            base_sha256: None,
            new_sha256: Some(sha),
            size: 9,
        }]);
        run.record(Event::ApprovalRequested {
            digest: change_set.digest(),
            change_set: change_set.clone(),
        })
        .expect("request");
        (store, run.id().to_string(), change_set)
    }

    #[test]
    fn an_approval_of_another_digest_applies_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, id, _) = waiting(tmp.path());
        let mut run = store.open(&id).expect("open");
        // A forged or confused approval naming a digest the run never asked for.
        run.record(Event::ApprovalGranted {
            approver: "someone".into(),
            digest: "0".repeat(64),
            reason: None,
        })
        .expect("grant");
        let e = apply_approved(&mut run).expect_err("refused");
        assert!(e.to_string().contains("nothing was written"), "{e}");
        assert!(!tmp.path().join("out/a.md").exists());
        assert_eq!(run.state().status, RunStatus::Failed);
    }

    #[test]
    fn the_approved_digest_applies_exactly_the_staged_bytes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, id, change_set) = waiting(tmp.path());
        let mut run = store.open(&id).expect("open");
        let written = approve(
            &mut run,
            "someone",
            None,
            Some(&change_set.digest()[..MIN_DIGEST_PREFIX]),
        )
        .expect("approve");
        assert_eq!(written, ["a.md"]);
        assert_eq!(
            std::fs::read(tmp.path().join("out/a.md")).expect("read"),
            b"approved\n"
        );
    }
}
