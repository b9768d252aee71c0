//! `host trace`: the timeline and attempt timings of a real run, read from
//! its journal; `--event` filters by type and refuses unknown types.

use crate::support::{Scratch, hello_plugins, run_id, text};

/// Run the hello tool workflow up to the gate; returns the run id.
fn hello_run(s: &Scratch) -> String {
    let dir = hello_plugins(s);
    let out = s.run(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    run_id(&out)
}

fn trace_json(s: &Scratch, args: &[&str]) -> serde_json::Value {
    let out = s
        .host()
        .arg("trace")
        .args(args)
        .arg("--json")
        .output()
        .expect("run host trace");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("trace json")
}

#[test]
fn trace_times_each_attempt_and_filters_events_by_known_types() {
    let s = Scratch::new();
    let id = hello_run(&s);
    let journal = s.journal_events(&id);

    let trace = trace_json(&s, &[&id]);
    assert_eq!(trace["run"], id.as_str());
    let events = trace["events"].as_array().expect("events");
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, journal, "the timeline is the journal, in order");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i);
        assert_eq!(e["event"]["type"], e["type"]);
        let offset = e["offset_ms"].as_u64().expect("offset");
        let at = e["at_ms"].as_u64().expect("at");
        assert_eq!(at - offset, events[0]["at_ms"].as_u64().expect("start"));
    }

    let attempts = trace["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{trace:#}");
    let a = &attempts[0];
    assert_eq!(a["step"], "only");
    assert_eq!(a["attempt"], 1);
    assert_eq!(a["round"], 0);
    assert_eq!(a["outcome"], "succeeded");
    let started = a["started_ms"].as_u64().expect("started");
    let ended = a["ended_ms"].as_u64().expect("ended");
    assert!(started <= ended, "{a}");
    assert_eq!(a["elapsed_ms"].as_u64(), Some(ended - started));
    // The plugin's own duration is the one the journal recorded.
    let succeeded = events
        .iter()
        .find(|e| e["type"] == "step_succeeded")
        .expect("step_succeeded");
    assert_eq!(a["duration_ms"], succeeded["event"]["duration_ms"]);
    assert_eq!(trace["reviews"][0]["verdict"], "pass", "{trace:#}");
    assert!(
        trace["approval_wait"]["ended_ms"].is_null(),
        "still waiting"
    );

    let only = trace_json(&s, &[&id, "--event", "step_succeeded"]);
    let filtered = only["events"].as_array().expect("events");
    assert_eq!(
        filtered.len(),
        journal.iter().filter(|t| *t == "step_succeeded").count()
    );
    assert!(!filtered.is_empty());
    assert!(filtered.iter().all(|e| e["type"] == "step_succeeded"));

    let listing = s
        .host()
        .args(["trace", &id, "--event", "step_succeeded"])
        .output()
        .expect("run host trace");
    assert!(listing.status.success(), "{}", text(&listing.stderr));
    let listing = text(&listing.stdout);
    let lines: Vec<&str> = listing.lines().filter(|l| l.contains(" ms  ")).collect();
    assert_eq!(lines.len(), filtered.len(), "{listing}");
    assert!(
        lines.iter().all(|l| l.contains("step_succeeded")),
        "{listing}"
    );

    let full = s
        .host()
        .args(["trace", &id])
        .output()
        .expect("run host trace");
    assert!(full.status.success(), "{}", text(&full.stderr));
    let full = text(&full.stdout);
    assert!(
        full.contains("attempts (ms from the run's start;"),
        "{full}"
    );
    assert!(full.contains("approval: waiting for a decision"), "{full}");

    // An unknown type is refused, naming the valid ones.
    let out = s
        .host()
        .args(["trace", &id, "--event", "step_done"])
        .output()
        .expect("run host trace");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown event type `step_done`"),
        "{stderr}"
    );
    for name in [
        "run_created",
        "step_succeeded",
        "approval_granted",
        "run_failed",
    ] {
        assert!(stderr.contains(name), "`{name}` not listed: {stderr}");
    }
    assert!(out.stdout.is_empty());
}
