//! `host approve --only/--edit` (a person's amendment, journaled as a new
//! change set before its approval) and `host revert` (a new run restoring
//! an applied run's base bytes), checked on disk and in both journals.

use crate::support::{Scratch, events, run_id, text};
use crate::two_writes::{self, A, A_TEXT, B, B_TEXT, assert_files};

fn waiting_run(s: &Scratch) -> String {
    let plugins = two_writes::plugins(s, 0);
    let out = s.run(&plugins, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    run_id(&out)
}

fn approve(s: &Scratch, id: &str, extra: &[&str]) -> std::process::Output {
    s.host()
        .args(["approve", id, "--yes"])
        .args(extra)
        .output()
        .expect("approve")
}

#[test]
fn approve_only_writes_the_subset_and_journals_it_before_the_approval() {
    let s = Scratch::new();
    let id = waiting_run(&s);
    let proposed = s.status(&id)["change_set_digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let out = approve(&s, &id, &["--only", A]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_files(&s, &[(A, Some(A_TEXT)), (B, None)]);
    let journal = s.journal(&id);
    let requested = events(&journal, "approval_requested");
    assert_eq!(requested[0]["event"]["digest"], proposed.as_str());
    assert_eq!(
        requested[0]["event"]["change_set"]["entries"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let amended = events(&journal, "change_set_amended");
    assert_eq!(amended.len(), 1);
    let amended = &amended[0]["event"];
    assert_eq!(amended["from_digest"], proposed.as_str());
    assert_eq!(amended["dropped"], serde_json::json!([B]));
    assert_eq!(
        amended["by"],
        harness_host::os_user::name().expect("os user").as_str()
    );
    let granted = events(&journal, "approval_granted");
    assert_eq!(granted[0]["event"]["digest"], amended["digest"]);
    assert_ne!(amended["digest"], proposed.as_str());
    let types = s.journal_events(&id);
    let at = |t: &str| types.iter().position(|x| x == t).expect(t);
    assert!(
        at("change_set_amended") < at("approval_granted"),
        "{types:?}"
    );
    assert_eq!(s.status(&id)["status"], "completed");
}

#[test]
fn approve_edit_writes_the_edited_bytes_and_keeps_both_change_sets() {
    let s = Scratch::new();
    let id = waiting_run(&s);
    let edited = s.path().join("edited.md");
    std::fs::write(&edited, b"edited by a person\n").expect("write");
    let arg = format!("{A}={}", edited.display());
    let out = approve(&s, &id, &["--edit", &arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_files(&s, &[(A, Some("edited by a person\n")), (B, Some(B_TEXT))]);
    let journal = s.journal(&id);
    let proposal = &events(&journal, "approval_requested")[0]["event"]["change_set"];
    let amended = &events(&journal, "change_set_amended")[0]["event"];
    assert_eq!(amended["edited"], serde_json::json!([A]));
    let sha = |cs: &serde_json::Value| cs["entries"][0]["new_sha256"].as_str().map(str::to_string);
    assert_eq!(
        s.blob(&id, &sha(proposal).expect("proposed sha")),
        A_TEXT.as_bytes()
    );
    assert_eq!(
        s.blob(&id, &sha(&amended["change_set"]).expect("edited sha")),
        b"edited by a person\n"
    );
}

#[test]
fn an_amendment_naming_a_path_outside_the_change_set_writes_nothing() {
    let s = Scratch::new();
    let id = waiting_run(&s);
    let out = approve(&s, &id, &["--only", "elsewhere.md"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not in the change set"),
        "{}",
        text(&out.stderr)
    );
    assert_files(&s, &[(A, None), (B, None)]);
    assert!(events(&s.journal(&id), "change_set_amended").is_empty());
    assert_eq!(s.status(&id)["status"], "waiting-approval");
}

fn revert(s: &Scratch, id: &str) -> (std::process::Output, Option<String>) {
    let out = s.host().args(["revert", id]).output().expect("revert");
    let new = text(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string);
    (out, new)
}

#[test]
fn revert_restores_base_bytes_deletes_created_files_and_links_both_runs() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::fs::write(s.out().join(B), b"the old b\n").expect("write");
    let id = waiting_run(&s);
    assert!(approve(&s, &id, &[]).status.success());
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
    let (out, new) = revert(&s, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let new = new.expect("new run id");
    // Nothing is written before a person approves the revert.
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
    assert_eq!(s.status(&new)["status"], "waiting-approval");
    assert_eq!(s.status(&new)["revert_of"], id.as_str());
    assert_eq!(s.status(&id)["reverted_by"], serde_json::json!([new]));
    assert_eq!(
        events(&s.journal(&id), "reverted_by")[0]["event"]["run"],
        new.as_str()
    );
    assert_eq!(
        events(&s.journal(&new), "revert_of")[0]["event"]["run"],
        id.as_str()
    );
    assert!(approve(&s, &new, &[]).status.success());
    assert_files(&s, &[(A, None), (B, Some("the old b\n"))]);
    // A second revert of the same run is refused while the first stands.
    let (again, _) = revert(&s, &id);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already has a revert"),
        "{}",
        text(&again.stderr)
    );
}

/// A revert killed after its run was created, before it was proposed,
/// leaves a run `host resume` finishes (recorded failed, nothing written)
/// and the revert can be proposed again and applied.
#[test]
fn a_revert_cut_short_before_its_proposal_is_finished_by_resume_and_proposed_again() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::fs::write(s.out().join(B), b"the old b\n").expect("write");
    let id = waiting_run(&s);
    assert!(approve(&s, &id, &[]).status.success());
    let before = crate::support::run_ids(&s.state());
    let mut cmd = s.host();
    cmd.args(["revert", &id]);
    crate::support::kill_at(cmd, "revert-created");
    let cut: Vec<String> = crate::support::run_ids(&s.state())
        .into_iter()
        .filter(|r| !before.contains(r))
        .collect();
    assert_eq!(cut.len(), 1, "{cut:?}");
    let cut = &cut[0];
    assert_eq!(s.status(cut)["status"], "running");
    let out = s.host().args(["resume", cut]).output().expect("resume");
    // Exit 1: the run it finished is a failed one.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("host revert"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.status(cut)["status"], "failed");
    assert_files(&s, &[(A, Some(A_TEXT)), (B, Some(B_TEXT))]);
    let (out, new) = revert(&s, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(approve(&s, &new.expect("new run id"), &[]).status.success());
    assert_files(&s, &[(A, None), (B, Some("the old b\n"))]);
}

#[test]
fn revert_leaves_a_file_changed_since_the_apply_alone() {
    let s = Scratch::new();
    let id = waiting_run(&s);
    assert!(approve(&s, &id, &[]).status.success());
    std::fs::write(s.out().join(A), b"someone's later edit\n").expect("write");
    let (out, new) = revert(&s, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let new = new.expect("new run id");
    let journal = s.journal(&new);
    let refused = &events(&journal, "revert_of")[0]["event"]["refused"];
    assert_eq!(refused[0]["path"], A);
    assert!(approve(&s, &new, &[]).status.success());
    assert_files(&s, &[(A, Some("someone's later edit\n")), (B, None)]);
}
