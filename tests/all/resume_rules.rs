//! What `host resume` will and will not do: a failed run is resumed only on
//! request (and says what it will re-run), a run whose workflow changed since
//! it started is not resumed, and runs sharing a state directory do not
//! interfere with each other.

use std::process::Stdio;

use crate::support::{Scratch, events, run_id, text};

const FLAKY_ONCE: &str = "[[steps]]\nid = \"prep\"\nplugin = \"scripted\"\ninput = { counter = \"prep\" }\n\
     [[steps]]\nid = \"flaky\"\nplugin = \"scripted\"\nneeds = [\"prep\"]\n\
     input = { counter = \"flaky\", fail_times = 1 }\n";

fn failed_run(s: &Scratch) -> String {
    let out = s.run(&s.scripted_plugins(FLAKY_ONCE, ""), &[]);
    assert!(!out.status.success());
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "failed");
    id
}

#[test]
fn a_failed_run_resumes_only_with_the_flag_and_keeps_finished_steps() {
    let s = Scratch::new();
    let id = failed_run(&s);
    let before = s.journal(&id);

    let refused = s.host().args(["resume", &id]).output().expect("resume");
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("would re-run: step flaky, the review"),
        "{why}"
    );
    assert!(why.contains("--failed"), "{why}");
    assert_eq!(s.journal(&id), before, "a refused resume journals nothing");

    let out = s
        .host()
        .args(["resume", &id, "--failed", "--json"])
        .output()
        .expect("resume");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.status(&id)["status"], "completed");
    assert_eq!(s.counter("prep"), 1, "the finished step was not re-run");
    assert_eq!(s.counter("flaky"), 2);
    let journal = s.journal(&id);
    let resumed = events(&journal, "run_resumed");
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0]["event"]["from"], "failed");
    assert_eq!(resumed[0]["event"]["rerun"], serde_json::json!(["flaky"]));
}

#[test]
fn a_run_is_not_resumed_with_a_changed_workflow() {
    let s = Scratch::new();
    let id = failed_run(&s);
    let workflow = s.path().join("scripted-plugins").join("workflow.toml");
    let edited = std::fs::read_to_string(&workflow)
        .expect("workflow")
        .replace("fail_times = 1", "fail_times = 0");
    std::fs::write(&workflow, edited).expect("edit workflow");
    let before = s.journal(&id);
    let out = s
        .host()
        .args(["resume", &id, "--failed"])
        .output()
        .expect("resume");
    assert!(!out.status.success());
    let why = text(&out.stderr);
    assert!(why.contains("changed since the run started"), "{why}");
    assert_eq!(s.journal(&id), before);
    assert_eq!(s.counter("flaky"), 1, "nothing ran");
}

#[test]
fn concurrent_runs_in_one_state_dir_do_not_interfere() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"draft\"\nplugin = \"scripted\"\ninput = { sleep_ms = 300, draft = true }\n",
        "",
    );
    let spawn = |topic: &str| {
        s.run_cmd(&plugins)
            .args(["--json", "--topic", topic])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn run")
    };
    let children: Vec<_> = ["one", "two", "three"].iter().map(|t| spawn(t)).collect();
    let mut ids = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", text(&out.stderr));
        ids.push(run_id(&out));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three distinct runs");
    let mut topics = Vec::new();
    for id in &ids {
        let state = s.status(id);
        assert_eq!(state["status"], "waiting-approval");
        topics.push(
            state["params"]["topic"]
                .as_str()
                .expect("topic")
                .to_string(),
        );
        let verify = s.host().args(["verify", id]).output().expect("verify");
        assert!(verify.status.success(), "{}", text(&verify.stderr));
        assert_eq!(events(&s.journal(id), "run_created").len(), 1);
    }
    topics.sort();
    assert_eq!(topics, ["one", "three", "two"]);
    // Each can be decided on its own: approving one leaves the others waiting.
    assert!(s.approve(&ids[0]).status.success());
    assert_eq!(s.status(&ids[1])["status"], "waiting-approval");
    assert_eq!(s.status(&ids[2])["status"], "waiting-approval");
    let runs = s.host().arg("runs").output().expect("runs");
    let listing = text(&runs.stdout);
    assert_eq!(listing.matches("approval (1 file)").count(), 2, "{listing}");
    assert!(
        listing.contains("2 run(s) waiting for approval"),
        "{listing}"
    );
}

/// A run whose only step traps (the trapper guest as plugin `hello`), and
/// its plugins folder.
fn trapped_run(s: &Scratch) -> (String, std::path::PathBuf) {
    let dir = s.tool_plugins(
        "hello",
        crate::support::artifacts::GUEST_TRAPPER,
        "[grants]\nwrites = [\"hello/\"]\n",
        "{ name = \"World\" }",
    );
    let out = s.run(&dir, &[]);
    assert!(!out.status.success());
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "failed");
    (id, dir)
}

/// "Rebuild" plugin `hello`: point its manifest at another component.
fn rebuild_hello(dir: &std::path::Path) {
    let manifest = dir.join("hello").join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let edited = text.replace(
        crate::support::artifacts::GUEST_TRAPPER,
        crate::support::artifacts::HELLO_TOOL,
    );
    assert_ne!(text, edited, "the manifest names the trapper");
    std::fs::write(&manifest, edited).expect("manifest");
}

#[test]
fn a_failed_run_resumes_with_a_rebuilt_plugin_only_when_told_and_journals_both_digests() {
    let s = Scratch::new();
    let (id, dir) = trapped_run(&s);
    let recorded = s.status(&id)["plugins"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "hello"))
        .map(|p| p["sha256"].as_str().unwrap_or_default().to_string())
        .expect("recorded digest");
    rebuild_hello(&dir);

    let before = s.journal(&id);
    let refused = s
        .host()
        .args(["resume", &id, "--failed"])
        .output()
        .expect("resume");
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("was rebuilt") && why.contains("--accept-rebuilt"),
        "{why}"
    );
    assert_eq!(s.journal(&id), before, "a refused resume journals nothing");

    let out = s
        .host()
        .args(["resume", &id, "--failed", "--accept-rebuilt", "--json"])
        .output()
        .expect("resume");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    let journal = s.journal(&id);
    let resumed = events(&journal, "run_resumed");
    let rebuilt = &resumed[0]["event"]["rebuilt"][0];
    assert_eq!(rebuilt["name"], "hello");
    assert_eq!(rebuilt["from_sha256"], recorded.as_str());
    let now = rebuilt["to_sha256"].as_str().expect("new digest");
    assert_ne!(now, recorded);
    let plugins = state["plugins"].as_array().expect("plugins");
    assert!(
        plugins
            .iter()
            .any(|p| p["name"] == "hello" && p["sha256"] == now),
        "the run now records the new digest: {plugins:?}"
    );
}

#[test]
fn a_waiting_run_never_changes_plugins() {
    let s = Scratch::new();
    let dir = s.tool_plugins(
        "hello",
        crate::support::artifacts::HELLO_TOOL,
        "[grants]\nwrites = [\"hello/\"]\n",
        "{ name = \"World\" }",
    );
    let id = run_id(&s.run(&dir, &[]));
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    let manifest = dir.join("hello").join("plugin.toml");
    let text_before = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text_before.replace(
            crate::support::artifacts::HELLO_TOOL,
            crate::support::artifacts::GUEST_TRAPPER,
        ),
    )
    .expect("manifest");
    let before = s.journal(&id);
    let refused = s
        .host()
        .args(["resume", &id, "--failed", "--accept-rebuilt"])
        .output()
        .expect("resume");
    assert!(!refused.status.success(), "a waiting run is not resumed");
    assert!(
        text(&refused.stderr).contains("nothing to resume"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(s.journal(&id), before, "nothing journaled");
    assert_eq!(s.status(&id)["status"], "waiting-approval");
}

#[test]
fn an_invalid_input_failure_suggests_a_new_run_not_a_resume() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"bad\"\nplugin = \"scripted\"\ninput = { fail = \"invalid-input\" }\n",
        "",
    );
    let id = run_id(&s.run(&plugins, &[]));
    let out = s.host().args(["show", &id]).output().expect("show");
    let shown = text(&out.stdout);
    assert!(
        shown.contains("refused its input") && shown.contains("start a new run"),
        "{shown}"
    );
    assert!(!shown.contains("resume"), "no resume is suggested: {shown}");
}
