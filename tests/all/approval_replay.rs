//! An approval is for one waiting run, one change set, once: replaying it on
//! a finished run, with another run's digest, or before the run waits is
//! refused, and two processes racing to approve end with exactly one apply.

use std::process::Stdio;

use crate::support::{Scratch, events, text};
use crate::two_writes::{
    A, A_TEXT, B, B_TEXT, assert_files, run_hanging_in_draft, the_run, waiting,
};

#[test]
fn approving_a_completed_run_again_changes_nothing() {
    let s = Scratch::new();
    let id = waiting(&s);
    assert!(s.approve(&id).status.success());
    let journal = s.journal(&id);
    std::fs::write(s.out().join(A), "edited after completion\n").expect("edit");
    let again = s.approve(&id);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("is not waiting for approval: it is completed"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(s.journal(&id), journal, "nothing was journaled");
    assert_files(
        &s,
        &[(A, Some("edited after completion\n")), (B, Some(B_TEXT))],
    );
}

#[test]
fn a_digest_from_another_run_does_not_approve_this_one() {
    let s = Scratch::new();
    let first = waiting(&s);
    let stale = s.status(&first)["change_set_digest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert!(
        s.host()
            .args(["reject", &first, "--reason", "redo"])
            .status()
            .expect("reject")
            .success()
    );
    // A second run proposing other bytes for the same files.
    std::fs::write(s.out().join("unrelated.txt"), "x").expect("write");
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"draft\"\nplugin = \"scripted\"\n\
         input = { writes = [{ path = \"drafts/a.md\", text = \"other\\n\" }] }\n",
        "",
    );
    let out = s.run(&plugins, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second = crate::support::run_id(&out);
    let approve = s
        .host()
        .args(["approve", &second, "--yes", "--digest", &stale])
        .output()
        .expect("approve");
    assert!(!approve.status.success());
    assert!(
        text(&approve.stderr).contains("does not match"),
        "{}",
        text(&approve.stderr)
    );
    assert_eq!(s.status(&second)["status"], "waiting-approval");
    assert!(events(&s.journal(&second), "approval_granted").is_empty());
    assert_files(&s, &[(A, None), (B, None)]);
}

#[test]
fn a_run_that_is_not_waiting_yet_cannot_be_approved() {
    let s = Scratch::new();
    let mut child = run_hanging_in_draft(&s);
    let id = the_run(&s);
    // While the run is being driven, its lock turns the approval away.
    let busy = s.approve(&id);
    assert!(!busy.status.success());
    assert!(
        text(&busy.stderr).contains("busy"),
        "{}",
        text(&busy.stderr)
    );
    child.kill().expect("kill");
    child.wait().expect("wait");
    // Once the host is gone, the run is still not waiting.
    let early = s.approve(&id);
    assert!(!early.status.success());
    assert!(
        text(&early.stderr).contains("is not waiting for approval: it is running"),
        "{}",
        text(&early.stderr)
    );
    assert!(events(&s.journal(&id), "approval_granted").is_empty());
    assert_files(&s, &[(A, None), (B, None)]);
}

#[test]
fn two_processes_racing_to_approve_apply_exactly_once() {
    let s = Scratch::new();
    let id = waiting(&s);
    let spawn = || {
        s.host()
            .args(["approve", &id, "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn approve")
    };
    let (one, two) = (spawn(), spawn());
    let outs = [
        one.wait_with_output().expect("wait"),
        two.wait_with_output().expect("wait"),
    ];
    let winners = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "exactly one approval proceeds");
    let loser = outs.iter().find(|o| !o.status.success()).expect("loser");
    let why = text(&loser.stderr);
    assert!(
        why.contains("busy") || why.contains("not waiting for approval"),
        "the other is told why: {why}"
    );
    let journal = s.journal(&id);
    assert_eq!(events(&journal, "approval_granted").len(), 1);
    assert_eq!(events(&journal, "write_applied").len(), 2);
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
}
