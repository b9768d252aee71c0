//! A real `host` process killed with SIGKILL at each instant that matters,
//! then `host resume`: after every kill and every resume, the files on disk
//! and the journal are checked. No file is ever torn (each target is absent
//! or holds exactly the approved bytes), nothing unapproved is written, no
//! finished step runs again and no write is applied twice.

use std::os::unix::fs::MetadataExt as _;

use crate::support::{Scratch, events, kill_at, text};
use crate::two_writes::{
    A, A_TEXT, B, B_TEXT, applied, approve_cmd, assert_files, plugins, resume,
    run_hanging_in_draft, the_run, waiting,
};

#[test]
fn killed_during_a_step_resume_reruns_only_the_unfinished_step() {
    let s = Scratch::new();
    let mut child = run_hanging_in_draft(&s);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");

    let id = the_run(&s);
    let state = s.status(&id);
    assert_eq!(state["status"], "running");
    assert!(state["steps"]["draft"]["output_sha256"].is_null());
    assert_files(&s, &[(A, None), (B, None)]);

    let out = resume(&s, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("will run step draft, the review"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    assert_eq!(s.counter("prep"), 1, "the finished step was not re-run");
    assert_eq!(s.counter("draft"), 2, "the interrupted step ran again");
    let journal = s.journal(&id);
    let resumed = events(&journal, "run_resumed");
    assert_eq!(resumed[0]["event"]["rerun"], serde_json::json!(["draft"]));
    assert_eq!(resumed[0]["event"]["from"], "running");
    assert_files(&s, &[(A, None), (B, None)]);

    let out = s.approve(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
}

#[test]
fn killed_after_staging_the_run_waits_and_resume_leaves_it_to_a_person() {
    let s = Scratch::new();
    kill_at(s.run_cmd(&plugins(&s, 0)), "staged");
    let id = the_run(&s);
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    assert_files(&s, &[(A, None), (B, None)]);

    let out = resume(&s, &id);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("waits for a person"),
        "{}",
        text(&out.stderr)
    );
    assert_files(&s, &[(A, None), (B, None)]);
    assert_eq!(s.counter("draft"), 1);

    let out = s.approve(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
}

#[test]
fn killed_after_approval_resume_applies_every_write_once() {
    let s = Scratch::new();
    let id = waiting(&s);
    kill_at(approve_cmd(&s, &id), "approved");
    assert_eq!(s.status(&id)["status"], "applying");
    assert_files(&s, &[(A, None), (B, None)]);

    let out = resume(&s, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.status(&id)["status"], "completed");
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
    assert_eq!(
        applied(&s, &id),
        [(A.to_string(), false), (B.to_string(), false)]
    );
    assert_eq!(
        s.counter("draft"),
        1,
        "no step ran again to finish an apply"
    );
}

#[test]
fn killed_between_two_writes_resume_writes_only_the_second() {
    let s = Scratch::new();
    let id = waiting(&s);
    kill_at(approve_cmd(&s, &id), "between-writes");
    assert_eq!(s.status(&id)["status"], "applying");
    assert_files(&s, &[(A, Some(A_TEXT)), (B, None)]);
    assert_eq!(applied(&s, &id), [(A.to_string(), false)]);
    resume_finishes_without_rewriting_a(&s, &id, false);
}

/// Resume the run cut short after `a.md` landed: `b.md` is written, `a.md`
/// is not written again (same inode), and the journal records each write
/// once (`a.md` as `recovered` if its event was missing).
fn resume_finishes_without_rewriting_a(s: &Scratch, id: &str, a_recovered: bool) {
    let inode = std::fs::metadata(s.out().join(A)).expect("a").ino();
    let out = resume(s, id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.status(id)["status"], "completed");
    assert_files(s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
    assert_eq!(
        applied(s, id),
        [(A.to_string(), a_recovered), (B.to_string(), false)]
    );
    assert_eq!(
        std::fs::metadata(s.out().join(A)).expect("a").ino(),
        inode,
        "the file already on disk was not written again"
    );
}

#[test]
fn killed_after_a_write_before_its_journal_event_resume_recovers_without_rewriting() {
    let s = Scratch::new();
    let id = waiting(&s);
    kill_at(approve_cmd(&s, &id), "written");
    assert_files(&s, &[(A, Some(A_TEXT)), (B, None)]);
    assert!(
        applied(&s, &id).is_empty(),
        "the write was not journaled yet"
    );
    resume_finishes_without_rewriting_a(&s, &id, true);
    // A completed run cannot be resumed or approved again.
    let again = resume(&s, &id);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("nothing to resume"));
}
