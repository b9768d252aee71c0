//! Review that fits any workflow: the shipped `generic-reviewer` judges a
//! tool's proposed files by secrets, sizes and path rules set in the
//! workflow's `[review] input`, and a workflow without `[review]` goes from
//! its steps straight to the approval gate.

use std::path::{Path, PathBuf};

use crate::support::{Scratch, TestPlugin, artifacts, events, kill_at, text, toml_str};

/// The scripted tool, writes granted under `drafts/`.
fn scripted() -> TestPlugin {
    TestPlugin {
        name: "scripted",
        kind: "tool",
        component: artifacts::GUEST_SCRIPTED,
        extra: "[grants]\nwrites = [\"drafts/\"]\n",
    }
}

fn generic_reviewer() -> TestPlugin {
    TestPlugin::new(
        "generic-reviewer",
        "reviewer",
        artifacts::PLUGIN_GENERIC_REVIEWER,
    )
}

/// A plugins folder: one scripted step proposing `writes` (path, text),
/// then `review` (TOML text: a `[review]` table, or nothing).
fn plugins(s: &Scratch, writes: &[(&str, &str)], review: &str) -> PathBuf {
    let writes: Vec<String> = writes
        .iter()
        .map(|(p, t)| format!("{{ path = {}, text = {} }}", toml_str(p), toml_str(t)))
        .collect();
    let workflow = format!(
        "[workflow]\nname = \"any\"\n[[steps]]\nid = \"make\"\nplugin = \"scripted\"\ninput = {{ writes = [{}] }}\n{review}",
        writes.join(", ")
    );
    s.plugins_dir("plugins", &[scripted(), generic_reviewer()], &workflow)
}

/// An AWS access key id of the real shape, made up here at test time so no
/// secret (real or fake) sits in the repository's sources.
fn fake_aws_key() -> String {
    let tail: String = "TESTONLYNOTAKEY0".chars().collect();
    format!("AKIA{tail}")
}

fn run_ok(s: &Scratch, dir: &Path) -> String {
    let out = s.run(dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run json");
    state["id"].as_str().expect("id").to_string()
}

fn show(s: &Scratch, id: &str) -> String {
    let out = s.host().args(["show", id]).output().expect("show");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

const RULES: &str = "[review]\nplugin = \"generic-reviewer\"\ninput = { max-file-bytes = 64, deny-paths = [\"*.sh\"] }\n";

#[test]
fn the_generic_reviewer_rejects_a_planted_secret_an_oversize_file_and_a_denied_path() {
    let s = Scratch::new();
    let key = fake_aws_key();
    let leaky = format!("config\naws_access_key_id {key}\n");
    let big = "x".repeat(65);
    let dir = plugins(
        &s,
        &[
            ("drafts/notes.txt", &leaky),
            ("drafts/big.txt", &big),
            ("drafts/install.sh", "echo hi\n"),
            ("drafts/fine.txt", "nothing to see\n"),
        ],
        RULES,
    );
    let out = s.run(&dir, &[]);
    // A rejected run is not a success for the shell.
    assert!(!out.status.success(), "{}", text(&out.stderr));
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run json");
    let id = state["id"].as_str().expect("id").to_string();

    let state = s.status(&id);
    assert_eq!(state["status"], "rejected", "{state:#}");
    assert_eq!(state["review"]["verdict"], "reject");
    let findings = state["review"]["findings"].as_array().expect("findings");
    let about = |path: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["path"] == path)
            .map(|f| format!("{} {}", f["severity"], f["message"]))
            .collect()
    };
    let notes = about("drafts/notes.txt");
    assert_eq!(notes.len(), 1, "{findings:#?}");
    assert!(notes[0].contains("error") && notes[0].contains("AWS access key id"));
    assert!(notes[0].contains("line 2"), "{notes:?}");
    let big_findings = about("drafts/big.txt");
    assert_eq!(big_findings.len(), 1, "{findings:#?}");
    assert!(big_findings[0].contains("65 bytes, over max-file-bytes = 64"));
    let sh = about("drafts/install.sh");
    assert_eq!(sh.len(), 1, "{findings:#?}");
    assert!(sh[0].contains("deny-paths `*.sh`"));
    assert!(about("drafts/fine.txt").is_empty());
    assert_eq!(findings.len(), 3, "{findings:#?}");

    // The secret itself is in no finding, no summary, no journal line.
    let journal = std::fs::read_to_string(s.journal_path(&id)).expect("journal");
    assert!(!journal.contains(&key));
    let journal = s.journal(&id);
    let review = events(&journal, "review_completed");
    assert_eq!(review.len(), 1);
    assert_eq!(review[0]["event"]["plugin"], "generic-reviewer");
    assert_eq!(review[0]["event"]["verdict"], "reject");
    assert_eq!(events(&journal, "run_rejected_by_reviewer").len(), 1);
    assert!(events(&journal, "approval_requested").is_empty());
    assert!(journal[0]["event"].get("no_review").is_none());
    // Nothing reached the output directory.
    assert_eq!(std::fs::read_dir(s.out()).expect("out").count(), 0);
    assert!(show(&s, &id).contains("review by generic-reviewer: reject"));
}

#[test]
fn the_generic_reviewer_passes_clean_files_of_any_format_to_the_gate() {
    let s = Scratch::new();
    let dir = plugins(
        &s,
        &[
            (
                "drafts/README.md",
                "# Notes\n\nNo summary section at all.\n",
            ),
            ("drafts/data.json", "{\"a\": 1}\n"),
        ],
        RULES,
    );
    let id = run_ok(&s, &dir);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    assert_eq!(state["review"]["verdict"], "pass");
    assert_eq!(state["review"]["findings"], serde_json::json!([]));
    assert!(!s.out().join("drafts").exists());
}

/// Run `dir` to its end (failed, here) and return the run's id.
fn run_failing(s: &Scratch, dir: &Path) -> String {
    let out = s.run(dir, &[]);
    assert!(!out.status.success(), "{}", text(&out.stderr));
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run json");
    state["id"].as_str().expect("id").to_string()
}

#[test]
fn a_misspelt_review_input_fails_the_run_before_any_step() {
    let s = Scratch::new();
    let dir = plugins(
        &s,
        &[("drafts/a.txt", "a\n")],
        "[review]\nplugin = \"generic-reviewer\"\ninput = { max-bytes = 10, max-file-bytes = \"big\" }\n",
    );
    let id = run_failing(&s, &dir);
    let state = s.status(&id);
    assert_eq!(state["status"], "failed", "{state:#}");
    let reason = state["failure"].as_str().expect("reason");
    assert!(
        reason.contains("the [review] input does not fit reviewer `generic-reviewer`"),
        "{reason}"
    );
    assert!(
        reason.contains("max-bytes") && reason.contains("/max-file-bytes"),
        "{reason}"
    );
    assert!(
        reason.contains("\nhint: fix `input` under [review]"),
        "{reason}"
    );
    let journal = s.journal(&id);
    assert!(events(&journal, "step_started").is_empty(), "{journal:#?}");
    assert!(events(&journal, "review_completed").is_empty());
    assert!(!s.out().join("drafts").exists());
}

#[test]
fn a_review_input_the_schema_cannot_judge_fails_the_review_naming_it() {
    let s = Scratch::new();
    let dir = plugins(
        &s,
        &[("drafts/a.txt", "a\n")],
        "[review]\nplugin = \"generic-reviewer\"\ninput = { deny-paths = [\"/etc/**\"] }\n",
    );
    let id = run_failing(&s, &dir);
    let journal = s.journal(&id);
    let failed = events(&journal, "review_failed");
    assert_eq!(failed.len(), 1, "{journal:#?}");
    assert_eq!(failed[0]["event"]["error_kind"], "invalid-input");
    let message = failed[0]["event"]["message"].as_str().expect("message");
    assert!(
        message.contains("deny-paths: `/etc/**` is absolute"),
        "{message}"
    );
    assert_eq!(s.status(&id)["status"], "failed");
    assert!(!s.out().join("drafts").exists());
}

#[test]
fn without_review_the_run_goes_to_the_gate_and_approve_writes_the_staged_bytes() {
    let s = Scratch::new();
    let body = "staged exactly\n";
    let dir = plugins(&s, &[("drafts/note.txt", body)], "");
    let id = run_ok(&s, &dir);

    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    assert_eq!(state["no_review"], true);
    assert!(state["review"].is_null());
    let journal = s.journal(&id);
    assert_eq!(journal[0]["event"]["no_review"], true);
    for kind in ["review_completed", "review_failed"] {
        assert!(events(&journal, kind).is_empty(), "{kind} in {journal:#?}");
    }
    assert_eq!(events(&journal, "approval_requested").len(), 1);
    assert!(!s.out().join("drafts/note.txt").exists());

    let shown = show(&s, &id);
    assert!(
        shown.contains("no reviewer ran (the workflow has no [review])"),
        "{shown}"
    );
    assert!(!shown.contains("review by"), "{shown}");
    let status = s.host().args(["status", &id]).output().expect("status");
    assert!(text(&status.stdout).contains("no reviewer ran (the workflow has no [review])"));
    let trace = s.host().args(["trace", &id]).output().expect("trace");
    assert!(
        text(&trace.stdout).contains("no [review]: no reviewer runs"),
        "{}",
        text(&trace.stdout)
    );

    let entry = &state["change_set"]["entries"][0];
    let sha = entry["new_sha256"].as_str().expect("sha");
    let staged = s.blob(&id, sha);
    assert_eq!(staged, body.as_bytes());
    let out = s.approve(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let on_disk = std::fs::read(s.out().join("drafts/note.txt")).expect("written");
    assert_eq!(on_disk, staged);
    let journal = s.journal(&id);
    let applied = events(&journal, "write_applied");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["event"]["path"], "drafts/note.txt");
    assert_eq!(applied[0]["event"]["sha256"], sha);
    assert_eq!(s.status(&id)["status"], "completed");
}

#[test]
fn a_run_without_review_killed_in_its_step_resumes_to_the_gate() {
    let s = Scratch::new();
    let dir = plugins(&s, &[("drafts/note.txt", "resumed\n")], "");
    kill_at(s.run_cmd(&dir), "step-running");
    let ids = crate::support::run_ids(&s.state());
    assert_eq!(ids.len(), 1);
    let id = &ids[0];
    assert_eq!(s.status(id)["status"], "running");

    let out = s.host().args(["resume", id]).output().expect("resume");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let note = text(&out.stderr);
    assert!(note.contains("will run step make"), "{note}");
    assert!(!note.contains("the review"), "{note}");
    let state = s.status(id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    let journal = s.journal(id);
    assert_eq!(events(&journal, "run_resumed").len(), 1);
    assert!(events(&journal, "review_completed").is_empty());
    let out = s.approve(id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(s.out().join("drafts/note.txt")).expect("written"),
        b"resumed\n"
    );
}

#[test]
fn host_workflow_shows_no_review_node_without_review() {
    let s = Scratch::new();
    let dir = plugins(&s, &[("drafts/a.txt", "a")], "");
    let out = s.host_plugins(&["workflow", "--format", "json"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let nodes = graph["nodes"].as_array().expect("nodes");
    assert!(!nodes.iter().any(|n| n["kind"] == "review"), "{graph:#}");
    let edges = graph["edges"].as_array().expect("edges");
    assert!(
        edges
            .iter()
            .any(|e| e["from"] == "step:make" && e["to"] == "approval")
    );
    assert!(
        !edges
            .iter()
            .any(|e| e["to"] == "review" || e["from"] == "review")
    );

    let redraft = plugins(
        &s,
        &[("drafts/a.txt", "a")],
        "[review]\nmax-redrafts = 1\nredraft = \"make\"\n",
    );
    let out = s.host_plugins(&["workflow"], &redraft);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("sets re-drafts but names no reviewer plugin"),
        "{err}"
    );
    assert!(err.contains("\nhint: "), "{err}");
}
