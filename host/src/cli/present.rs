//! Human-readable views of a run, shared by `run`, `status`, `show` and
//! `approve`. Everything a plugin produced (findings, paths, file contents) is
//! rendered inert here before it reaches a terminal.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::cli::{EXIT_FAILURE, EXIT_OK};

use crate::render::{diff, inert};
use crate::run::blobs::Blobs;
use crate::run::changeset::read_base;
use crate::run::state::{RunState, RunStatus};
use crate::run::store::Run;

/// Status, steps, review and decision of a run.
pub fn summary(state: &RunState) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "run {}: {}", state.id, state.status);
    let _ = write!(out, "  workflow: {}", inert(&state.workflow));
    if let Some(topic) = state.params.get("topic").and_then(|t| t.as_str()) {
        let _ = write!(out, "   topic: {}", inert(topic));
    }
    let _ = writeln!(
        out,
        "\n  output dir: {}",
        inert(&state.out_dir.display().to_string())
    );
    for id in &state.step_order {
        let Some(step) = state.steps.get(id) else {
            continue;
        };
        let outcome = match (&step.output_sha256, &step.error) {
            (Some(_), _) => format!("ok in {} ms", step.duration_ms.unwrap_or(0)),
            (None, Some(e)) => format!("FAILED: {}", inert(e)),
            (None, None) => "started, not finished".to_string(),
        };
        let _ = writeln!(
            out,
            "  step {id} (plugin {}, attempt {}): {outcome}",
            step.plugin, step.attempt
        );
    }
    if let Some(review) = &state.review {
        let _ = writeln!(
            out,
            "  review by {}: {} - {}",
            review.plugin,
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
            digest
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
        let _ = writeln!(out, "  reason: {}", inert(f));
    }
    out
}

/// The proposed change set as unified diffs against the current files.
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
        let base = out_dir.as_ref().map(|d| read_base(d, &e.path));
        match base {
            Some(Ok(base)) => out.push_str(&change_diff(&e.path, base.bytes(), new.as_deref())),
            Some(Err(err)) => {
                let _ = writeln!(out, "{}: {err}", inert(&e.path));
            }
            None => out.push_str(&change_diff(&e.path, None, new.as_deref())),
        }
    }
    out
}

/// The diff of one entry: a write against its base, or a deletion.
pub fn change_diff(path: &str, base: Option<&[u8]>, new: Option<&[u8]>) -> String {
    match new {
        Some(new) => diff(path, base, new),
        None => crate::render::deletion(path, base),
    }
}

/// What the operator can do next.
pub fn next_steps(state: &RunState) -> String {
    match state.status {
        RunStatus::WaitingApproval => format!(
            "next: `host show {id}` to read the diff, then `host approve {id}` or `host reject {id} --reason \"...\"`\n",
            id = state.id
        ),
        RunStatus::Running => format!(
            "next: the run stopped before finishing; `host resume {}` continues it without re-running finished steps\n",
            state.id
        ),
        RunStatus::Applying => format!(
            "next: the approved writes were interrupted; `host resume {}` finishes them without writing anything twice\n",
            state.id
        ),
        RunStatus::Failed => format!(
            "next: fix the cause, then `host resume {} --failed` re-runs what failed (finished steps are kept)\n",
            state.id
        ),
        RunStatus::Completed | RunStatus::Rejected => String::new(),
    }
}

/// Print where a run ended up after `run` or `resume` (JSON with `--json`),
/// and choose the exit code: 0 when waiting for approval or completed.
pub fn outcome(run: &Run, json: bool) -> anyhow::Result<ExitCode> {
    let state = run.state();
    if json {
        println!("{}", serde_json::to_string_pretty(state)?);
    } else {
        print!("{}", summary(state));
        let diffs = diffs(state, run.blobs());
        if !diffs.is_empty() {
            println!();
            print!("{diffs}");
        }
        print!("{}", next_steps(state));
    }
    Ok(ExitCode::from(match state.status {
        RunStatus::WaitingApproval | RunStatus::Completed => EXIT_OK,
        _ => EXIT_FAILURE,
    }))
}
