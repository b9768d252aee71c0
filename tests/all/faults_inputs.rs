//! Devices, FIFOs and folders where the host expects a file, and a run
//! folder missing its journal or head. Each command finishes promptly (a
//! deadline kills it otherwise), its memory stays small, it exits 1 with an
//! error naming the file and what it is, and nothing is written.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{
    Bounded, Scratch, hello_plugins, mkfifo, run_bounded, snapshot, text, verify_ok,
};
use crate::two_writes::{A, B, assert_files, waiting};

const DEADLINE: Duration = Duration::from_secs(20);

/// Far above a host that reads nothing large, far below one reading
/// `/dev/zero` up to a 256 MiB cap.
const MAX_RSS_KIB: u64 = 200 * 1024;

/// Run `cmd` under the deadline; it must fail (exit 1) saying each needle.
fn refused(cmd: Command, needles: &[&str]) -> Bounded {
    let done = run_bounded(cmd, DEADLINE);
    // `plugins check` reports on stdout, errors go to stderr.
    let err = text(&done.output.stderr) + &text(&done.output.stdout);
    assert_eq!(done.output.status.code(), Some(1), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
    }
    assert!(
        done.peak_rss_kib < MAX_RSS_KIB,
        "memory grew to {} KiB: {err}",
        done.peak_rss_kib
    );
    done
}

/// `host plugins check` and `host run` of `plugins` both refuse, naming `needles`.
fn check_and_run_refuse(s: &Scratch, plugins: &Path, needles: &[&str]) {
    let mut check = s.host();
    check.args(["plugins", "check", "--plugins"]).arg(plugins);
    refused(check, needles);
    let before = snapshot(&s.ws());
    refused(s.run_cmd(plugins), needles);
    assert!(
        !s.state().join("runs").exists() || crate::support::run_ids(&s.state()).is_empty(),
        "no run was created"
    );
    assert_eq!(snapshot(&s.ws()), before);
    assert!(snapshot(&s.out()).is_empty(), "nothing was written");
}

#[test]
fn a_component_that_is_dev_zero_is_refused_unread() {
    let s = Scratch::new();
    let plugins = s.tool_plugins("zero", "/dev/zero", "", "{}");
    check_and_run_refuse(
        &s,
        &plugins,
        &[
            "/dev/zero",
            "a character device, not a regular file",
            "hint:",
        ],
    );
}

#[test]
fn a_component_that_is_a_fifo_does_not_block_the_host() {
    let s = Scratch::new();
    let plugins = s.tool_plugins("piped", "piped.wasm", "", "{}");
    let fifo = plugins.join("piped").join("piped.wasm");
    mkfifo(&fifo);
    check_and_run_refuse(
        &s,
        &plugins,
        &["piped.wasm", "a named pipe (FIFO), not a regular file"],
    );
}

#[test]
fn a_manifest_that_is_a_fifo_is_named() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    let manifest = plugins.join("hello").join("plugin.toml");
    std::fs::remove_file(&manifest).expect("rm manifest");
    mkfifo(&manifest);
    check_and_run_refuse(
        &s,
        &plugins,
        &[
            "hello/plugin.toml",
            "a named pipe (FIFO), not a regular file",
        ],
    );
}

#[test]
fn a_workflow_that_is_a_fifo_is_named() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    let workflow = plugins.join("workflow.toml");
    std::fs::remove_file(&workflow).expect("rm workflow");
    mkfifo(&workflow);
    let before = snapshot(&s.ws());
    refused(
        s.run_cmd(&plugins),
        &["workflow.toml", "a named pipe (FIFO), not a regular file"],
    );
    let mut show = s.host();
    show.args(["workflow", "--plugins"]).arg(&plugins);
    refused(show, &["workflow.toml", "a named pipe (FIFO)"]);
    assert!(crate::support::run_ids(&s.state()).is_empty());
    assert_eq!(snapshot(&s.ws()), before);
}

/// Every command that reads run `id` refuses it, naming `needles`; the
/// output directory stays empty.
fn every_run_command_refuses(s: &Scratch, id: &str, needles: &[&str]) {
    for args in [
        vec!["status", id],
        vec!["show", id],
        vec!["verify", id],
        vec!["trace", id],
        vec!["approve", id, "--yes"],
        vec!["resume", id],
        vec!["reject", id, "--reason", "x"],
    ] {
        let mut cmd = s.host();
        cmd.args(&args);
        let done = refused(cmd, needles);
        assert!(
            !text(&done.output.stderr).contains(&format!("no run `{id}`")),
            "{args:?}: a tampered run is not reported as missing"
        );
    }
    assert_files(s, &[(A, None), (B, None)]);
}

#[test]
fn a_journal_replaced_by_a_fifo_is_refused_promptly() {
    let s = Scratch::new();
    let id = waiting(&s);
    let journal = s.journal_path(&id);
    std::fs::remove_file(&journal).expect("rm journal");
    mkfifo(&journal);
    every_run_command_refuses(
        &s,
        &id,
        &["journal.jsonl", "a named pipe (FIFO)", "tampered"],
    );
}

#[test]
fn a_journal_replaced_by_a_folder_is_reported_as_tampering() {
    let s = Scratch::new();
    let id = waiting(&s);
    let journal = s.journal_path(&id);
    std::fs::remove_file(&journal).expect("rm journal");
    std::fs::create_dir(&journal).expect("mkdir");
    every_run_command_refuses(&s, &id, &["journal.jsonl", "a directory", "tampered"]);
}

#[test]
fn a_deleted_journal_is_reported_as_tampering_not_as_a_missing_run() {
    let s = Scratch::new();
    let id = waiting(&s);
    std::fs::remove_file(s.journal_path(&id)).expect("rm journal");
    every_run_command_refuses(
        &s,
        &id,
        &[
            &format!("run `{id}` exists but its journal"),
            "is missing (the folder still holds blobs/, journal.head and journal.head.prev)",
            "tampered",
        ],
    );
    // A run that never existed is still simply unknown.
    let unknown = s
        .host()
        .args(["status", "r20000101-000000-abcdef"])
        .output()
        .expect("status");
    assert!(text(&unknown.stderr).contains("no run `r20000101-000000-abcdef`"));
}

#[test]
fn a_missing_head_stops_approve_and_resume_and_is_flagged_by_status() {
    let s = Scratch::new();
    let id = waiting(&s);
    let run_dir = s.state().join("runs").join(&id);
    let head = std::fs::read(run_dir.join("journal.head")).expect("head");
    std::fs::remove_file(run_dir.join("journal.head")).expect("rm head");
    let journal_before = std::fs::read(s.journal_path(&id)).expect("journal");
    for args in [
        vec!["approve", id.as_str(), "--yes"],
        vec!["resume", id.as_str()],
        vec!["reject", id.as_str(), "--reason", "x"],
        vec!["verify", id.as_str()],
    ] {
        let mut cmd = s.host();
        cmd.args(&args);
        refused(cmd, &["journal.head", "is missing", "tampered", "hint:"]);
    }
    assert_files(&s, &[(A, None), (B, None)]);
    assert!(snapshot(&s.out()).is_empty(), "nothing was written");
    assert_eq!(
        std::fs::read(s.journal_path(&id)).expect("journal"),
        journal_before,
        "nothing was journaled"
    );
    assert!(
        !run_dir.join("journal.head").exists(),
        "no head was made up"
    );
    // Read-only views still show the run, flagged.
    let status = s
        .host()
        .args(["status", &id, "--json"])
        .output()
        .expect("status");
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(
        text(&status.stderr).contains("warning:") && text(&status.stderr).contains("journal.head"),
        "{}",
        text(&status.stderr)
    );
    let state: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(state["status"], "waiting-approval");
    let runs = s.host().arg("runs").output().expect("runs");
    assert!(
        text(&runs.stderr).contains("journal.head"),
        "{}",
        text(&runs.stderr)
    );

    // Restoring the head from a copy (what the hint says) makes it whole.
    std::fs::write(run_dir.join("journal.head"), head).expect("restore head");
    verify_ok(&s, &id);
    let out = s.approve(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_files(
        &s,
        &[
            (A, Some(crate::two_writes::A_TEXT)),
            (B, Some(crate::two_writes::B_TEXT)),
        ],
    );
}
