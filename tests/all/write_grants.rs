//! Proposed writes outside a plugin's `writes` grant are refused: the run
//! fails naming the plugin and the path, and nothing is written anywhere.

use crate::support::{
    Scratch, TestPlugin, artifacts, one_step_workflow, reviewer, run_id, snapshot, text,
};

fn escape_writer() -> TestPlugin {
    TestPlugin {
        name: "escape-writer",
        kind: "tool",
        component: artifacts::GUEST_ESCAPE_WRITER,
        extra: "[grants]\nwrites = [\"reports/\"]\n",
    }
}

/// Run the escape writer proposing `paths`; return (exit ok?, state, stderr+stdout).
fn propose(s: &Scratch, paths: &[&str]) -> (bool, serde_json::Value, String) {
    let input = format!(
        "{{ paths = [{}] }}",
        paths
            .iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dir = s.plugins_dir(
        "plugins",
        &[escape_writer(), reviewer()],
        &one_step_workflow("escape-writer", &input),
    );
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    (out.status.success(), s.status(&id), text(&out.stderr))
}

#[test]
fn writes_outside_the_grant_are_refused_naming_plugin_and_path() {
    for bad in [
        "../outside.txt",
        "/etc/passwd",
        "reports/../../escape.md",
        "notes/plan.md",
        "reportsx/a.md",
        "reports/./a.md",
        "reports\\..\\a.md",
        "",
    ] {
        let s = Scratch::new();
        let parent_before = snapshot(s.path());
        let (ok, state, _) = propose(&s, &["reports/fine.md", bad]);
        assert!(!ok, "`{bad}` was accepted");
        assert_eq!(state["status"], "failed", "{state:#}");
        let reason = state["failure"].as_str().expect("failure");
        assert!(reason.contains("plugin `escape-writer`"), "{reason}");
        assert!(reason.contains("step `only`"), "{reason}");
        assert!(
            state["change_set"].is_null(),
            "nothing may be staged for approval"
        );
        // Nothing outside the state dir changed: not the workspace, not out/, not the parent.
        let mut after = snapshot(s.path());
        after.retain(|p, _| !p.starts_with("state") && !p.starts_with("plugins"));
        let mut before = parent_before;
        before.retain(|p, _| !p.starts_with("state") && !p.starts_with("plugins"));
        assert_eq!(after, before, "files changed after refusing `{bad}`");
        assert!(!s.path().join("escape.md").exists() && !s.path().join("outside.txt").exists());
    }
}

#[test]
fn a_write_inside_the_grant_goes_through_the_gate() {
    let s = Scratch::new();
    let (ok, state, stderr) = propose(&s, &["reports/fine.md"]);
    assert!(ok, "{stderr}");
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    assert!(
        !s.out().join("reports/fine.md").exists(),
        "written before approval"
    );
    let id = state["id"].as_str().expect("id");
    let out = s.approve(id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(s.out().join("reports/fine.md")).expect("read"),
        b"pwned\n"
    );
}
