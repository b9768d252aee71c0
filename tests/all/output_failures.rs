//! A stdout that cannot be written never makes `host` panic, and never
//! leaves a decision half done: with stdout on `/dev/full` (ENOSPC) a command
//! fails with an ordinary error (exit 1, said on stderr); with stdout a pipe
//! whose reader is gone (EPIPE) it stops quietly with exit code 141.
//! `host approve` prints the diff before it records anything, so an approval
//! whose diff could not be printed approves nothing and writes nothing.

use std::process::{Output, Stdio};

use crate::support::{Scratch, closed_pipe, dev_full, hello_plugins, run_id, snapshot, text};

/// How stdout is broken, and the exit code that must follow.
#[derive(Debug, Clone, Copy)]
enum Broken {
    Full,
    Closed,
}

impl Broken {
    fn stdio(self) -> Stdio {
        match self {
            Broken::Full => dev_full(),
            Broken::Closed => closed_pipe(),
        }
    }

    fn exit_code(self) -> i32 {
        match self {
            Broken::Full => 1,
            Broken::Closed => 141,
        }
    }
}

fn assert_ended_cleanly(out: &Output, broken: Broken, what: &str) {
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what} {broken:?}: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(broken.exit_code()),
        "{what} {broken:?}: {stderr}"
    );
    match broken {
        Broken::Full => assert!(
            stderr.contains("error: cannot write to stdout"),
            "{what}: {stderr}"
        ),
        Broken::Closed => assert!(!stderr.contains("error:"), "{what}: {stderr}"),
    }
}

#[test]
fn no_command_panics_on_a_full_or_closed_stdout() {
    let s = Scratch::new();
    let dir = hello_plugins(&s);
    let id = run_id(&s.run(&dir, &[]));
    let plugins = dir.display().to_string();
    for broken in [Broken::Full, Broken::Closed] {
        for args in [
            vec!["status", id.as_str()],
            vec!["status", id.as_str(), "--json"],
            vec!["show", id.as_str()],
            vec!["runs"],
            vec!["runs", "--json"],
            vec!["verify", id.as_str()],
            vec!["trace", id.as_str()],
            vec!["trace", id.as_str(), "--json"],
            vec!["--help"],
            vec!["workflow", "--plugins", plugins.as_str()],
            vec![
                "workflow",
                "--format",
                "json",
                "--plugins",
                plugins.as_str(),
            ],
            vec!["plugins", "list", "--plugins", plugins.as_str()],
            vec!["cache", "show", "--json"],
        ] {
            let out = s
                .host()
                .args(&args)
                .stdout(broken.stdio())
                .output()
                .expect("host");
            assert_ended_cleanly(&out, broken, &args.join(" "));
        }
        for json in [false, true] {
            let mut cmd = s.run_cmd(&dir);
            if json {
                cmd.arg("--json");
            }
            let out = cmd.stdout(broken.stdio()).output().expect("run");
            assert_ended_cleanly(&out, broken, "run");
        }
    }
    // The runs made with a broken stdout were recorded all the same.
    let runs = s.host().args(["runs", "--json"]).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(5));
    for run in runs.as_array().expect("runs") {
        assert_eq!(run["status"], "waiting-approval", "{run:#}");
    }
}

#[test]
fn an_approval_whose_diff_could_not_be_printed_approves_nothing() {
    let s = Scratch::new();
    let dir = hello_plugins(&s);
    let id = run_id(&s.run(&dir, &[]));
    let out_before = snapshot(&s.out());
    for broken in [Broken::Full, Broken::Closed] {
        let out = s
            .host()
            .args(["approve", &id, "--yes"])
            .stdout(broken.stdio())
            .output()
            .expect("approve");
        assert_ended_cleanly(&out, broken, "approve");
        let events = s.journal_events(&id);
        assert!(
            !events
                .iter()
                .any(|e| e == "approval_granted" || e == "write_applied"),
            "{broken:?}: {events:?}"
        );
        assert_eq!(snapshot(&s.out()), out_before, "{broken:?}");
        assert_eq!(s.status(&id)["status"], "waiting-approval");
    }
    // With a working stdout the same run is approved and written.
    let out = s.approve(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        s.journal_events(&id)
            .contains(&"approval_granted".to_string())
    );
    assert_ne!(snapshot(&s.out()), out_before);
}

#[test]
fn a_full_stderr_does_not_panic_either() {
    let s = Scratch::new();
    for (args, code) in [
        (vec!["status", "not-a-run"], 1),
        (vec!["-vv", "runs"], 0),
        (vec!["no-such-command"], 2),
    ] {
        let out = s
            .host()
            .args(&args)
            .stderr(dev_full())
            .output()
            .expect("host");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}
