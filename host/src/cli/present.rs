//! Human-readable views of a run, shared by `run`, `status`, `show` and
//! `approve`. Everything a plugin produced (findings, paths, file contents) is
//! rendered inert here before it reaches a terminal; a failure's reason is
//! host text (plugin text quoted inert inside it), shown with its `hint:` on
//! a line of its own.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{EXIT_FAILURE, EXIT_OK, output};

use crate::render::{diff_with_note, inert, inert_block, inert_lines};
use crate::run::blobs::Blobs;
use crate::run::changeset::read_base;
use crate::run::state::{NO_REVIEWER, RunState, RunStatus};
use crate::run::store::Run;

/// Status, steps, review and decision of a run.
pub fn summary(state: &RunState) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "run {}: {}", inert(&state.id), state.status);
    let _ = write!(out, "  workflow: {}", inert(&state.workflow));
    if let Some(topic) = state.topic() {
        let _ = write!(out, "   topic: {}", inert(topic));
    }
    let _ = writeln!(
        out,
        "\n  output dir: {}",
        inert(&state.out_dir.display().to_string())
    );
    if let Some(full) = state.continues() {
        let _ = writeln!(out, "  continues session run {} (it was full)", inert(full));
    }
    if let Some(next) = &state.continued_in {
        let _ = writeln!(out, "  full: the session went on in run {}", inert(next));
    }
    for id in &state.step_order {
        let Some(step) = state.steps.get(id) else {
            continue;
        };
        let outcome = match (&step.output_sha256, &step.error) {
            (Some(_), _) => format!("ok in {} ms", step.duration_ms.unwrap_or(0)),
            // Host text: its hint goes on a line of its own, under the step.
            (None, Some(e)) => format!("FAILED: {}", inert_block(e, "    ")),
            (None, None) => "started, not finished".to_string(),
        };
        let _ = writeln!(
            out,
            "  step {} (plugin {}, attempt {}): {outcome}",
            inert(id),
            inert(&step.plugin),
            step.attempt
        );
    }
    if state.no_review {
        let _ = writeln!(out, "  {NO_REVIEWER}");
    }
    if let Some(review) = &state.review {
        let _ = writeln!(
            out,
            "  review by {}: {} - {}",
            inert(&review.plugin),
            review.verdict,
            inert(&review.summary)
        );
        for f in &review.findings {
            let path = f
                .path
                .as_deref()
                .map(|p| format!(" ({})", inert(p)))
                .unwrap_or_default();
            let _ = writeln!(out, "    [{}] {}{path}", f.severity, inert(&f.message));
        }
    }
    if let Some(cs) = &state.change_set {
        let digest = state.change_set_digest.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "  proposed writes: {} (change set {})",
            cs.entries.len(),
            inert(digest)
        );
        for e in &cs.entries {
            let kind = e.action();
            let applied = if state.applied.contains(&e.path) {
                ", written"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} ({kind}, {} bytes{applied})",
                inert(&e.path),
                e.size
            );
        }
    }
    if let Some(a) = &state.approval {
        let reason = a
            .reason
            .as_deref()
            .map(|r| format!(": {}", inert(r)))
            .unwrap_or_default();
        let _ = writeln!(out, "  approved by {}{reason}", inert(&a.approver));
    }
    if let Some(r) = &state.rejection {
        let reason = r
            .reason
            .as_deref()
            .map(|r| format!(": {}", inert(r)))
            .unwrap_or_default();
        let _ = writeln!(out, "  rejected by {}{reason}", inert(&r.approver));
    }
    if let Some(f) = &state.failure {
        let _ = writeln!(out, "  reason: {}", inert_block(f, "    "));
    }
    if let (Some(a), Some(from)) = (&state.amendment, &state.proposed_digest) {
        let _ = writeln!(
            out,
            "  amended by {} (proposal {}): {} dropped, {} edited",
            inert(&a.by),
            inert(from),
            a.dropped.len(),
            a.edited.len()
        );
    }
    if let Some(of) = &state.revert_of {
        let _ = writeln!(out, "  reverts run {}", inert(of));
        for r in &state.revert_refused {
            let _ = writeln!(
                out,
                "    left alone: {}: {}",
                inert(&r.path),
                // Host text (an error quoting the path inert): its hint
                // keeps a line of its own.
                inert_block(&r.reason, "      ")
            );
        }
    }
    for by in &state.reverted_by {
        let _ = writeln!(out, "  reverted by run {}", inert(by));
    }
    out
}

/// What an amendment changes, before the person confirms it.
pub fn amendment(amended: &crate::run::amend::Amended) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\namended change set {} (from {}):",
        inert(&amended.digest),
        inert(&amended.from_digest)
    );
    for path in &amended.dropped {
        let _ = writeln!(out, "  not written: {}", inert(path));
    }
    for path in &amended.edited {
        let _ = writeln!(out, "  edited: {}", inert(path));
    }
    out
}

/// The proposed change set as unified diffs against the current files (each
/// computed once, within [`crate::render::diff`]'s budget). A summarized
/// diff points to the staged blob's file, when the store keeps one.
pub fn diffs(state: &RunState, blobs: &Blobs) -> String {
    let Some(cs) = &state.change_set else {
        return String::new();
    };
    let out_dir = match crate::run::out_dir::open(&state.out_dir, state.out_dir_id) {
        Ok(dir) => Some(dir),
        Err(e) => {
            let mut out = String::new();
            let _ = writeln!(out, "{e}");
            return out;
        }
    };
    let mut out = String::new();
    for e in &cs.entries {
        let new = match &e.new_sha256 {
            None => None,
            Some(sha) => match blobs.get(sha) {
                Ok(bytes) => Some(bytes),
                Err(err) => {
                    let _ = writeln!(out, "{}: {err}", inert(&e.path));
                    continue;
                }
            },
        };
        let staged = e.new_sha256.as_ref().and_then(|sha| blobs.location(sha));
        match out_dir.as_ref().map(|d| read_base(d, &e.path)) {
            Some(Ok(base)) => out.push_str(&change_diff(
                state,
                &e.path,
                base.bytes(),
                new.as_deref(),
                staged.as_deref(),
            )),
            Some(Err(err)) => {
                // The error embeds the path inert already.
                let _ = writeln!(out, "{}", inert_lines(&err.to_string()));
            }
            None => out.push_str(&change_diff(
                state,
                &e.path,
                None,
                new.as_deref(),
                staged.as_deref(),
            )),
        }
    }
    out
}

/// The diff of one change-set entry: a write against its base (summarized,
/// with the command that shows it in full, when it is too large to diff), or
/// a deletion. `staged` is the blob holding the new bytes.
pub fn change_diff(
    state: &RunState,
    path: &str,
    base: Option<&[u8]>,
    new: Option<&[u8]>,
    staged: Option<&Path>,
) -> String {
    match (new, staged) {
        (Some(new), Some(staged)) => {
            let current = if base.is_some() {
                state.out_dir.join(path)
            } else {
                std::path::PathBuf::from("/dev/null")
            };
            diff_with_note(path, base, new, &full_diff_command(&current, staged))
        }
        _ => crate::render::deletion(path, base),
    }
}

/// The command that shows a summarized diff in full.
pub fn full_diff_command(current: &Path, staged: &Path) -> String {
    format!(
        "diff -u {} {}",
        crate::render::inert_path(current),
        crate::render::inert_path(staged)
    )
}

/// What the operator can do next.
pub fn next_steps(state: &RunState) -> String {
    let id = inert(&state.id);
    match state.status {
        RunStatus::WaitingApproval => format!(
            "next: `host show {id}` to read the diff, then `host approve {id}` or `host reject {id} --reason \"...\"`\n"
        ),
        RunStatus::Running if state.workflow == crate::folder::SESSION_WORKFLOW => format!(
            "next: an MCP session: its server records each call while it serves; if that server is gone, `host resume {id}` closes the session\n"
        ),
        RunStatus::Running => format!(
            "next: the run stopped before finishing; `host resume {id}` continues it without re-running finished steps\n"
        ),
        RunStatus::Applying => format!(
            "next: the approved writes were interrupted; `host resume {id}` finishes them without writing anything twice\n"
        ),
        RunStatus::Failed
            if state.steps.values().any(|s| {
                s.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with(crate::error_kind::ErrorKind::InvalidInput.as_str()))
            }) =>
        {
            "next: a step refused its input (invalid-input): resuming would send it the same input again; start a new run with corrected parameters (`host run ...`)\n".to_string()
        }
        RunStatus::Failed => format!(
            "next: fix the cause, then `host resume {id} --failed` re-runs what failed (finished steps are kept; after rebuilding a plugin, add --accept-rebuilt)\n"
        ),
        RunStatus::Completed | RunStatus::Rejected => String::new(),
    }
}

/// Print where a run ended up after `run` or `resume` (JSON with `--json`),
/// and choose the exit code: 0 when waiting for approval or completed.
pub fn outcome(run: &Run, json: bool) -> anyhow::Result<ExitCode> {
    let state = run.state();
    if json {
        output::json(state)?;
    } else {
        output::print(&summary(state))?;
        let diffs = diffs(state, run.blobs());
        if !diffs.is_empty() {
            output::print(&format!("\n{diffs}"))?;
        }
        output::print(&next_steps(state))?;
    }
    Ok(ExitCode::from(match state.status {
        RunStatus::WaitingApproval | RunStatus::Completed => EXIT_OK,
        _ => EXIT_FAILURE,
    }))
}
