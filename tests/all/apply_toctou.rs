//! Time-of-check to time-of-use: the world changes between the approval and
//! the writes (the approving host is killed right after journaling the
//! approval, the change is made, then `host resume` finishes the apply).
//! Apply re-verifies everything first; on any mismatch it writes nothing and
//! the journal records why.

use crate::support::{Scratch, events, kill_at, text};
use crate::two_writes::{A, B, approve_cmd, assert_files, resume, waiting};

/// Approve `id`, but stop the host dead right after the approval is journaled.
fn approved_then_killed(s: &Scratch, id: &str) {
    kill_at(approve_cmd(s, id), "approved");
    assert_eq!(s.status(id)["status"], "applying");
}

/// Resume must fail, write nothing, and journal the refusal.
fn assert_refused(s: &Scratch, id: &str, needle: &str) {
    let out = resume(s, id);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    let state = s.status(id);
    assert_eq!(state["status"], "failed");
    assert!(
        state["failure"]
            .as_str()
            .expect("failure")
            .contains("nothing was written"),
        "{state:#}"
    );
    assert!(events(&s.journal(id), "write_applied").is_empty());
}

#[test]
fn staged_bytes_changed_after_approval_are_not_applied() {
    let s = Scratch::new();
    let id = waiting(&s);
    let sha = s.status(&id)["change_set"]["entries"][0]["new_sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    approved_then_killed(&s, &id);
    let blob = s.state().join("runs").join(&id).join("blobs").join(&sha);
    std::fs::write(&blob, "evil\n").expect("tamper");
    assert_refused(&s, &id, "no longer matches its digest");
    assert_files(&s, &[(A, None), (B, None)]);
}

#[test]
fn a_target_replaced_by_a_symlink_after_approval_is_not_written_through() {
    let s = Scratch::new();
    let id = waiting(&s);
    approved_then_killed(&s, &id);
    let victim = s.path().join("victim.txt");
    std::fs::write(&victim, "keep\n").expect("victim");
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::os::unix::fs::symlink(&victim, s.out().join(A)).expect("symlink");
    assert_refused(&s, &id, "symbolic link");
    assert_eq!(std::fs::read(&victim).expect("victim"), b"keep\n");
    assert!(!s.out().join(B).exists());
}

#[test]
fn a_base_file_edited_after_approval_is_not_overwritten() {
    let s = Scratch::new();
    let id = waiting(&s);
    approved_then_killed(&s, &id);
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::fs::write(s.out().join(B), "someone else's edit\n").expect("edit");
    assert_refused(&s, &id, "changed since the run proposed its write");
    assert_files(&s, &[(A, None), (B, Some("someone else's edit\n"))]);
}
