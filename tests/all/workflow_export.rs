//! `host workflow`: the exported graph holds every transition the runner can
//! take (checked against hand-derived edge sets and against the journal of a
//! real run through retries, a re-draft and the gate), and hostile workflow
//! text cannot break out of a Mermaid label.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use crate::support::{Scratch, TestPlugin, artifacts, reviewer, run_id, text};

type EdgeSet = BTreeSet<(String, String, String)>;

fn export(s: &Scratch, plugins: &Path, format: &str) -> Output {
    s.host()
        .arg("workflow")
        .arg("--plugins")
        .arg(plugins)
        .args(["--format", format])
        .output()
        .expect("run host workflow")
}

fn json_export(s: &Scratch, plugins: &Path) -> serde_json::Value {
    let out = export(s, plugins, "json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("workflow json")
}

fn edge_set(graph: &serde_json::Value) -> EdgeSet {
    graph["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().expect("edge field").to_string();
            (s("from"), s("to"), s("label"))
        })
        .collect()
}

fn edges(list: &[(&str, &str, &str)]) -> EdgeSet {
    list.iter()
        .map(|(f, t, l)| (f.to_string(), t.to_string(), l.to_string()))
        .collect()
}

/// What follows the review and the gate, whatever the steps.
const AFTER_STEPS: &[(&str, &str, &str)] = &[
    ("review", "approval", "pass"),
    ("review", "rejected", "reject"),
    ("review", "completed", "no writes"),
    ("review", "failed", "error"),
    ("approval", "applied", "approve"),
    ("approval", "rejected", "reject"),
    ("applied", "completed", "all writes on disk"),
    ("applied", "failed", "apply error"),
];

#[test]
fn the_bundled_workflow_exports_every_transition() {
    let s = Scratch::new();
    let graph = json_export(&s, Path::new(artifacts::PLUGINS_DIR));
    assert_eq!(graph["name"], "research");
    assert_eq!(graph["digest"].as_str().map(str::len), Some(64));
    let mut want = edges(&[
        ("start", "step:search", "start"),
        ("step:search", "step:extract", "output"),
        ("step:extract", "step:draft", "output"),
        ("step:draft", "review", "all steps done"),
        ("step:search", "failed", "error"),
        ("step:extract", "failed", "error"),
        ("step:draft", "failed", "error"),
        ("review", "approval", "revise"),
    ]);
    want.extend(edges(AFTER_STEPS));
    assert_eq!(edge_set(&graph), want);
    let kinds: Vec<(&str, &str)> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["id"].as_str().expect("id"),
                n["kind"].as_str().expect("kind"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("start", "start"),
            ("step:search", "step"),
            ("step:extract", "step"),
            ("step:draft", "step"),
            ("review", "review"),
            ("approval", "gate"),
            ("applied", "end"),
            ("completed", "end"),
            ("rejected", "end"),
            ("failed", "end"),
        ]
    );
}

fn hello(name: &'static str) -> TestPlugin {
    TestPlugin {
        name,
        kind: "tool",
        component: artifacts::HELLO_TOOL,
        extra: "",
    }
}

#[test]
fn parallel_steps_retries_and_redrafts_are_exported() {
    let s = Scratch::new();
    let dir = s.plugins_dir(
        "plugins",
        &[hello("hello"), reviewer()],
        "[workflow]\nname = \"fan-in\"\n\
         [[steps]]\nid = \"join\"\nplugin = \"hello\"\nneeds = [\"left\", \"right\"]\n\
         [[steps]]\nid = \"left\"\nplugin = \"hello\"\ntimeout-ms = 2000\n\
         retry = { max-attempts = 3, backoff-ms = 50, max-backoff-ms = 400 }\n\
         [[steps]]\nid = \"right\"\nplugin = \"hello\"\n\
         [review]\nplugin = \"reviewer\"\nmax-redrafts = 2\nredraft = \"left\"\n",
    );
    let graph = json_export(&s, &dir);
    let mut want = edges(&[
        ("start", "step:left", "start"),
        ("start", "step:right", "start"),
        ("step:left", "step:join", "output"),
        ("step:right", "step:join", "output"),
        ("step:join", "review", "all steps done"),
        (
            "step:left",
            "step:left",
            "retry (transient, up to 3 attempts)",
        ),
        ("step:left", "failed", "error"),
        ("step:right", "failed", "error"),
        ("step:join", "failed", "error"),
        ("review", "step:left", "revise (up to 2 re-drafts)"),
        ("review", "approval", "revise (after 2 re-drafts)"),
    ]);
    want.extend(edges(AFTER_STEPS));
    assert_eq!(edge_set(&graph), want);
    let left = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["id"] == "step:left")
        .expect("left node");
    assert_eq!(left["timeout_ms"], 2000);
    assert_eq!(left["retry"]["max_attempts"], 3);
    assert_eq!(left["retry"]["backoff_ms"], 50);
    assert_eq!(left["retry"]["max_backoff_ms"], 400);

    let listing = export(&s, &dir, "text");
    assert!(listing.status.success(), "{}", text(&listing.stderr));
    let listing = text(&listing.stdout);
    assert!(listing.contains("needs: left, right"), "{listing}");
    assert!(listing.contains("re-run left, join"), "{listing}");
}

/// The transitions a run took, read from its journal as (from, to) node ids.
/// A step start is caused by the latest success (or the run's start, or a
/// re-draft request) before it, unless it follows that step's retry.
fn taken(journal: &[serde_json::Value]) -> BTreeSet<(String, String)> {
    let step = |e: &serde_json::Value| format!("step:{}", e["step"].as_str().expect("step"));
    let mut taken = BTreeSet::new();
    let mut cause = String::from("start");
    let mut retried: BTreeSet<String> = BTreeSet::new();
    let mut here = String::from("start");
    let mut add = |from: &str, to: &str| taken.insert((from.to_string(), to.to_string()));
    for record in journal {
        let e = &record["event"];
        match e["type"].as_str().expect("type") {
            "step_started" => {
                let id = step(e);
                if retried.remove(&id) {
                    add(&id, &id);
                } else {
                    add(&cause, &id);
                }
            }
            "step_succeeded" => cause = step(e),
            "step_retried" => {
                retried.insert(step(e));
            }
            "step_failed" => here = step(e),
            "review_completed" => {
                add(&cause, "review");
                here = "review".into();
            }
            "redraft_requested" => cause = "review".into(),
            "approval_requested" => {
                add("review", "approval");
                here = "approval".into();
            }
            "approval_granted" => {
                add("approval", "applied");
                here = "applied".into();
            }
            "approval_rejected" | "run_rejected_by_reviewer" => {
                add(&here, "rejected");
            }
            "run_completed" => {
                add(&here, "completed");
            }
            "run_failed" => {
                add(&here, "failed");
            }
            _ => {}
        }
    }
    taken
}

#[test]
fn a_real_run_takes_only_exported_transitions() {
    let s = Scratch::new();
    // Two independent steps, one flaky (one transient failure, then a retry),
    // one drafting (`revise` in round 0, `pass` after one re-draft), joined.
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"flaky\"\nplugin = \"scripted\"\n\
         input = { counter = \"flaky\", fail_times = 1 }\n\
         retry = { max-attempts = 3, backoff-ms = 10, max-backoff-ms = 20 }\n\
         [[steps]]\nid = \"draft\"\nplugin = \"scripted\"\ninput = { draft = true, pass_from_round = 1 }\n\
         [[steps]]\nid = \"join\"\nplugin = \"scripted\"\nneeds = [\"flaky\", \"draft\"]\n",
        "max-redrafts = 2\nredraft = \"draft\"\n",
    );
    let graph = json_export(&s, &dir);
    let exported: BTreeSet<(String, String)> = edge_set(&graph)
        .into_iter()
        .map(|(from, to, _)| (from, to))
        .collect();

    let out = s.run(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    let approve = s.approve(&id);
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    let taken = taken(&s.journal(&id));

    // The run went through every kind of transition this workflow has...
    for edge in [
        ("start", "step:flaky"),
        ("start", "step:draft"),
        ("step:flaky", "step:flaky"),
        ("review", "step:draft"),
        ("step:draft", "step:join"),
        ("step:join", "review"),
        ("review", "approval"),
        ("approval", "applied"),
        ("applied", "completed"),
    ] {
        let edge = (edge.0.to_string(), edge.1.to_string());
        assert!(
            taken.contains(&edge),
            "the run did not take {edge:?}: {taken:?}"
        );
    }
    // ...and each one it took is in the export.
    let missing: Vec<_> = taken.difference(&exported).collect();
    assert!(missing.is_empty(), "taken but not exported: {missing:?}");
}

#[test]
fn mermaid_labels_keep_hostile_workflow_text_inside() {
    let s = Scratch::new();
    let dir = s.plugins_dir(
        "plugins",
        &[hello("hello"), reviewer()],
        "[workflow]\nname = \"evil\\\"]\"\n\
         description = \"x\\\"] --> pwned[<script>alert(1)</script>]\\n%%{init: {}}%%\"\n\
         [[steps]]\nid = \"only\"\nplugin = \"hello\"\ninput = { name = \"\\\"]<script>boom</script>\" }\n\
         [review]\nplugin = \"reviewer\"\n",
    );
    let out = export(&s, &dir, "mermaid");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let chart = text(&out.stdout);
    assert!(chart.starts_with("flowchart TD\n"), "{chart}");
    for raw in ["<script>", "x\"]", "\"]<script", "pwned[", "%%{", "evil\""] {
        assert!(!chart.contains(raw), "`{raw}` appears raw:\n{chart}");
    }
    for line in chart.lines().skip(1) {
        // Only the renderer's own quotes: one label per line.
        assert_eq!(line.matches('"').count(), 2, "{line}");
        let start = line.trim_start();
        assert!(
            start.starts_with("n_") || start.starts_with("s_"),
            "unexpected statement: {line}"
        );
    }
    assert!(chart.contains("#60;script#62;"), "{chart}");
}
