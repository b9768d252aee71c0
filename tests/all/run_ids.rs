//! A person names a run as `host runs` shows it: its whole id, a unique
//! prefix of it, or `latest`; an ambiguous prefix is refused naming the
//! matches, and nothing is decided on it. `host runs` lists runs oldest
//! first by creation time and filters by `--status`.

use serde_json::Value;

use crate::support::{Scratch, hello_plugins, run_id, snapshot, text};

/// Two runs of the hello plugins, both waiting for approval, oldest first.
fn two_runs(s: &Scratch) -> (String, String) {
    let dir = hello_plugins(s);
    let first = run_id(&s.run(&dir, &[]));
    let second = run_id(&s.run(&dir, &[]));
    (first, second)
}

#[test]
fn latest_and_unique_prefixes_name_a_run_wherever_a_run_is_taken() {
    let s = Scratch::new();
    let (first, second) = two_runs(&s);
    let out = s
        .host()
        .args(["status", "latest", "--json"])
        .output()
        .expect("status");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(state["id"], second.as_str());

    let prefix = &first[..first.len() - 1];
    let unique = !second.starts_with(prefix);
    if unique {
        let out = s.host().args(["show", prefix]).output().expect("show");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(&first), "{}", text(&out.stdout));
    }
    let verify = s
        .host()
        .args(["verify", "latest"])
        .output()
        .expect("verify");
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(
        text(&verify.stdout).contains(&second),
        "{}",
        text(&verify.stdout)
    );
}

#[test]
fn an_ambiguous_prefix_is_refused_and_decides_nothing() {
    let s = Scratch::new();
    let (first, second) = two_runs(&s);
    let before = snapshot(&s.out());
    let journal_before = s.journal(&first);
    let out = s.host().args(["approve", "r2"]).output().expect("approve");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("matches 2 runs"), "{stderr}");
    assert!(
        stderr.contains(&first) && stderr.contains(&second),
        "{stderr}"
    );
    assert_eq!(snapshot(&s.out()), before, "nothing written");
    assert_eq!(s.journal(&first), journal_before, "nothing journaled");
    for bad in ["../etc", "latest/../x", "R2026"] {
        let out = s.host().args(["status", bad]).output().expect("status");
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            text(&out.stderr).contains("is not a run id"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn runs_are_listed_by_creation_time_and_filtered_by_status() {
    let s = Scratch::new();
    let (first, second) = two_runs(&s);
    let rejected = s
        .host()
        .args(["reject", &first, "--reason", "not now"])
        .output()
        .expect("reject");
    assert!(rejected.status.success(), "{}", text(&rejected.stderr));
    let list = |extra: &[&str]| -> Vec<Value> {
        let out = s
            .host()
            .arg("runs")
            .arg("--json")
            .args(extra)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let all = list(&[]);
    let ids: Vec<&str> = all.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    let created: Vec<u64> = all
        .iter()
        .filter_map(|r| r["created_ms"].as_u64())
        .collect();
    assert!(created[0] <= created[1], "{created:?}");
    let waiting = list(&["--status", "waiting-approval"]);
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["id"], second.as_str());
    let rejected = list(&["--status", "rejected"]);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["id"], first.as_str());
    assert_eq!(
        list(&["--since", "1h"]).len(),
        2,
        "both were created within the hour"
    );
    let bad = s
        .host()
        .args(["runs", "--since", "soon"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}

#[test]
fn a_wrong_digest_is_refused_before_any_diff_is_printed() {
    let s = Scratch::new();
    let (_, second) = two_runs(&s);
    let before = snapshot(&s.out());
    let events_before = s.journal(&second).len();
    let out = s
        .host()
        .args(["approve", &second, "--digest", "0000000000000000"])
        .output()
        .expect("approve");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not match"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stdout).contains("---") && !text(&out.stdout).contains("+++"),
        "no diff was printed: {}",
        text(&out.stdout)
    );
    assert_eq!(snapshot(&s.out()), before, "nothing written");
    assert_eq!(s.journal(&second).len(), events_before, "nothing journaled");
}

#[test]
fn a_stale_base_names_the_run_whose_approval_changed_the_file() {
    let s = Scratch::new();
    let (first, second) = two_runs(&s);
    let approved = s.approve(&first);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let after_first = snapshot(&s.out());
    let events_before = s.journal(&second).len();
    let refused = s.approve(&second);
    assert_eq!(refused.status.code(), Some(1));
    let why = text(&refused.stderr);
    assert!(
        why.contains(&format!("run {first} (approved by"))
            && why.contains("start a new run")
            && why.contains("changed since the run proposed its write"),
        "{why}"
    );
    assert_eq!(snapshot(&s.out()), after_first, "nothing more was written");
    let journal = s.journal(&second);
    assert!(
        journal[events_before..]
            .iter()
            .all(|e| e["event"]["type"] != "write_applied"),
        "no write of the second run was applied"
    );
}
