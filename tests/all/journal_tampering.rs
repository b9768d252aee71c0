//! `host verify` detects an edited, deleted, reordered or truncated journal
//! event and names it; a run whose journal does not verify is never
//! approved (nothing is written).

use crate::support::{Scratch, text};
use crate::two_writes::{A, B, assert_files, waiting};

/// Rewrite the run's journal lines with `edit`, then check that `verify`
/// fails mentioning every needle and that approval writes nothing.
fn tampered(edit: impl FnOnce(&mut Vec<String>), needles: &[&str]) {
    let s = Scratch::new();
    let id = waiting(&s);
    let path = s.journal_path(&id);
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .expect("journal")
        .lines()
        .map(str::to_string)
        .collect();
    edit(&mut lines);
    std::fs::write(
        &path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .expect("write journal");

    let verify = s.host().args(["verify", &id]).output().expect("verify");
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
    let message = text(&verify.stderr);
    for needle in needles {
        assert!(
            message.contains(needle),
            "expected `{needle}` in: {message}"
        );
    }
    let approve = s.approve(&id);
    assert!(!approve.status.success());
    assert_files(&s, &[(A, None), (B, None)]);
}

#[test]
fn an_edited_event_is_named_by_verify() {
    tampered(
        |lines| {
            let i = lines
                .iter()
                .position(|l| l.contains("\"review_completed\""))
                .expect("review");
            lines[i] = lines[i].replace("\"pass\"", "\"revise\"");
        },
        &["review_completed", "it was edited", "line"],
    );
}

#[test]
fn a_deleted_event_is_named_by_verify() {
    tampered(
        |lines| {
            let i = lines
                .iter()
                .position(|l| l.contains("\"step_succeeded\""))
                .expect("step");
            lines.remove(i);
        },
        &["events were removed or reordered"],
    );
}

#[test]
fn reordered_events_are_named_by_verify() {
    tampered(
        |lines| lines.swap(1, 2),
        &["event 2", "stands where event 1 belongs"],
    );
}

#[test]
fn a_truncated_journal_is_caught_by_its_head() {
    tampered(
        |lines| {
            lines.pop();
        },
        &["was truncated", "head records event"],
    );
}
