//! A real `host` process killed with SIGKILL at each instant that matters,
//! then `host resume`: after every kill and every resume, the files on disk
//! and the journal are checked. No file is ever torn (each target is absent
//! or holds exactly the approved bytes), nothing unapproved is written, no
//! finished step runs again and no write is applied twice.

use std::os::unix::fs::MetadataExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Scratch, events, kill_at, text};
use crate::two_writes::{
    A, A_TEXT, B, B_TEXT, applied, approve_cmd, assert_files, plugins, resume, the_run, waiting,
};

#[test]
fn killed_during_a_step_resume_reruns_only_the_unfinished_step() {
    let s = Scratch::new();
    let plugins = plugins(&s, 1);
    let mut cmd = s.host();
    cmd.arg("run")
        .arg("--plugins")
        .arg(&plugins)
        .arg("--workspace")
        .arg(s.ws())
        .arg("--out")
        .arg(s.out());
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until `draft` is inside its (hanging) plugin call.
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.counter("draft") < 1 {
        assert!(Instant::now() < deadline, "draft never started");
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("host ended ({status}) before draft started");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let mut cmd = s.host();
    cmd.arg("run")
        .arg("--plugins")
        .arg(plugins(&s, 0))
        .arg("--workspace")
        .arg(s.ws())
        .arg("--out")
        .arg(s.out());
    kill_at(cmd, "staged");
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
    let inode = std::fs::metadata(s.out().join(A)).expect("a").ino();

    let out = resume(&s, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
    assert_eq!(
        applied(&s, &id),
        [(A.to_string(), false), (B.to_string(), false)]
    );
    assert_eq!(
        std::fs::metadata(s.out().join(A)).expect("a").ino(),
        inode,
        "the first file was not written again"
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
    let inode = std::fs::metadata(s.out().join(A)).expect("a").ino();

    let out = resume(&s, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.status(&id)["status"], "completed");
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
    assert_eq!(
        applied(&s, &id),
        [(A.to_string(), true), (B.to_string(), false)],
        "a is recorded as recovered, b as written"
    );
    assert_eq!(
        std::fs::metadata(s.out().join(A)).expect("a").ino(),
        inode,
        "the file found on disk was not written again"
    );
    // A completed run cannot be resumed or approved again.
    let again = resume(&s, &id);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("nothing to resume"));
}
