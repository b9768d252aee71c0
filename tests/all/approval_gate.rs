//! The approval gate, end to end with the default plugins: a run stops waiting
//! for approval with nothing written; approve writes exactly the staged bytes;
//! reject writes nothing; a second or unknown approval is refused.

use std::path::Path;

use crate::support::{Scratch, artifacts, run_id, snapshot, text};

fn plugins() -> &'static Path {
    Path::new(artifacts::PLUGINS_DIR)
}

/// Run the default pipeline and check it waits, with nothing written anywhere.
fn waiting_run(s: &Scratch) -> (String, serde_json::Value) {
    let ws_before = snapshot(&s.ws());
    let out_before = snapshot(&s.out());
    let out = s.run(plugins(), &["--topic", "WebAssembly component sandboxing"]);
    assert!(
        out.status.success(),
        "run failed\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    assert_eq!(
        snapshot(&s.ws()),
        ws_before,
        "the workspace changed before approval"
    );
    assert_eq!(
        snapshot(&s.out()),
        out_before,
        "the output dir changed before approval"
    );
    (id, state)
}

#[test]
fn run_stops_at_the_gate_and_approve_writes_exactly_the_staged_bytes() {
    let s = Scratch::new();
    let (id, state) = waiting_run(&s);

    assert_eq!(state["review"]["verdict"], "pass", "{state:#}");
    let entries = state["change_set"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{state:#}");
    let path = entries[0]["path"].as_str().expect("path");
    assert!(
        path.starts_with("reports/") && path.ends_with(".md"),
        "{path}"
    );
    assert!(entries[0]["base_sha256"].is_null());
    let staged = s.blob(&id, entries[0]["new_sha256"].as_str().expect("sha"));

    let out = s.approve(&id);
    assert!(
        out.status.success(),
        "approve failed: {}",
        text(&out.stderr)
    );
    let written = std::fs::read(s.out().join(path)).expect("the report exists");
    assert_eq!(written, staged, "the file differs from the approved bytes");
    let report = text(&written);
    assert!(report.contains("## Sources"), "{report}");

    let state = s.status(&id);
    assert_eq!(state["status"], "completed");
    // The approver is the OS account (passwd entry), whatever `$USER` says
    // (the fixture sets it to `test-operator`).
    let account = harness_host::os_user::name().expect("an OS account");
    assert_eq!(state["approval"]["approver"], account.as_str());
    assert_ne!(account, "test-operator");
    assert_eq!(
        s.journal_events(&id)[s.journal_events(&id).len() - 3..],
        ["approval_granted", "write_applied", "run_completed"]
    );
    assert_eq!(
        snapshot(&s.out()).len(),
        2,
        "only reports/ and the report were created"
    );
}

#[test]
fn run_output_shows_the_verdict_and_the_diff() {
    let s = Scratch::new();
    let out = s.run_cmd(plugins()).output().expect("run");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("waiting for approval"), "{stdout}");
    assert!(stdout.contains("review by reviewer: pass"), "{stdout}");
    assert!(stdout.contains("--- /dev/null\n+++ b/reports/"), "{stdout}");
    assert!(
        stdout.contains("+# Research report: WebAssembly component sandboxing"),
        "{stdout}"
    );
    assert!(stdout.contains("host approve r"), "{stdout}");
}

#[test]
fn reject_writes_nothing_and_ends_the_run() {
    let s = Scratch::new();
    let (id, _) = waiting_run(&s);
    let out_before = snapshot(&s.out());
    let out = s
        .host()
        .args(["reject", &id, "--reason", "not convinced"])
        .output()
        .expect("reject");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(snapshot(&s.out()), out_before);
    let state = s.status(&id);
    assert_eq!(state["status"], "rejected");
    assert_eq!(state["rejection"]["reason"], "not convinced");

    let out = s.approve(&id);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not waiting for approval: it is rejected"));
    assert_eq!(
        snapshot(&s.out()),
        out_before,
        "approve after reject wrote something"
    );
}

#[test]
fn approving_twice_or_an_unknown_run_is_refused_and_writes_nothing_more() {
    let s = Scratch::new();
    let (id, _) = waiting_run(&s);
    let out = s.approve(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after_first = snapshot(&s.out());
    let events_after_first = s.journal_events(&id);

    let again = s.approve(&id);
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("not waiting for approval: it is completed"),
        "{stderr}"
    );
    assert_eq!(snapshot(&s.out()), after_first);
    assert_eq!(
        s.journal_events(&id),
        events_after_first,
        "the journal changed"
    );

    let unknown = s.approve("r20000101-000000-abcdef");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no run `r20000101-000000-abcdef`"));
    let malformed = s.approve("../../etc");
    assert!(text(&malformed.stderr).contains("is not a run id"));
    assert_eq!(snapshot(&s.out()), after_first);
}

#[test]
fn approve_without_yes_and_without_a_terminal_is_refused() {
    let s = Scratch::new();
    let (id, _) = waiting_run(&s);
    let out_before = snapshot(&s.out());
    let out = s.host().args(["approve", &id]).output().expect("approve");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("without confirmation"));
    assert_eq!(snapshot(&s.out()), out_before);
    assert_eq!(s.status(&id)["status"], "waiting-approval");
}

#[test]
fn a_file_edited_after_the_run_is_not_overwritten() {
    let s = Scratch::new();
    let (id, state) = waiting_run(&s);
    let path = state["change_set"]["entries"][0]["path"]
        .as_str()
        .expect("path")
        .to_string();
    let target = s.out().join(&path);
    std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
    std::fs::write(&target, b"written by a person meanwhile\n").expect("write");
    let out = s.approve(&id);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("changed since the run proposed its write"));
    assert_eq!(
        std::fs::read(&target).expect("read"),
        b"written by a person meanwhile\n"
    );
    assert_eq!(s.status(&id)["status"], "waiting-approval");
}

#[test]
fn a_staged_blob_changed_after_the_run_is_not_applied() {
    let s = Scratch::new();
    let (id, state) = waiting_run(&s);
    let sha = state["change_set"]["entries"][0]["new_sha256"]
        .as_str()
        .expect("sha");
    let blob = s.state().join("runs").join(&id).join("blobs").join(sha);
    std::fs::write(&blob, b"swapped content").expect("tamper");
    let out_before = snapshot(&s.out());
    let out = s.approve(&id);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no longer matches its digest"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(snapshot(&s.out()), out_before);
}

/// What a power cut before write-back leaves of blob files written unsynced
/// (their bytes ride in the journal record that names them): some empty,
/// some gone. The run still shows its diff and applies exactly the staged
/// bytes, taken from its verified journal.
#[test]
fn staged_blobs_lost_before_write_back_are_applied_from_the_journal() {
    let s = Scratch::new();
    let (id, state) = waiting_run(&s);
    let entry = &state["change_set"]["entries"][0];
    let path = entry["path"].as_str().expect("path");
    let sha = entry["new_sha256"].as_str().expect("sha");
    let staged = s.blob(&id, sha);
    let run_dir = s.state().join("runs").join(&id);
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).expect("journal");
    assert!(
        journal.contains(&format!("\"{sha}\":")),
        "the report's bytes ride in the journal"
    );
    let blobs = run_dir.join("blobs");
    let mut lost = 0;
    for (i, blob) in std::fs::read_dir(&blobs).expect("blobs").enumerate() {
        let blob = blob.expect("entry").path();
        if i % 2 == 0 {
            std::fs::write(&blob, b"").expect("empty");
        } else {
            std::fs::remove_file(&blob).expect("remove");
        }
        lost += 1;
    }
    assert!(
        lost >= 4,
        "every step's output and the report are blobs ({lost})"
    );
    std::fs::write(blobs.join(sha), b"").expect("the report's blob emptied");

    let show = s.host().args(["show", &id]).output().expect("show");
    assert!(show.status.success(), "{}", text(&show.stderr));
    assert!(
        text(&show.stdout).contains("## Sources"),
        "{}",
        text(&show.stdout)
    );
    let out = s.approve(&id);
    assert!(
        out.status.success(),
        "approve failed: {}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(s.out().join(path)).expect("written"), staged);
    assert_eq!(s.status(&id)["status"], "completed");
}

#[test]
fn verify_detects_an_edited_journal_and_approve_refuses_it() {
    let s = Scratch::new();
    let (id, _) = waiting_run(&s);
    let ok = s.host().args(["verify", &id]).output().expect("verify");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("journal intact"));

    // Forge the reviewer's verdict in place.
    let journal = s.state().join("runs").join(&id).join("journal.jsonl");
    let original = std::fs::read_to_string(&journal).expect("journal");
    assert!(original.contains("\"verdict\":\"pass\""));
    std::fs::write(
        &journal,
        original.replace("\"verdict\":\"pass\"", "\"verdict\":\"revise\""),
    )
    .expect("tamper");
    let bad = s.host().args(["verify", &id]).output().expect("verify");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("was edited"),
        "{}",
        text(&bad.stderr)
    );

    let out_before = snapshot(&s.out());
    let approve = s.approve(&id);
    assert_eq!(approve.status.code(), Some(1));
    assert_eq!(
        snapshot(&s.out()),
        out_before,
        "a forged journal was approved"
    );
}
