//! A trap or a timeout in a plugin fails that run, with a message naming the
//! step, the plugin and the cause; nothing is written and the journal says why.

use crate::support::{Scratch, run_id, snapshot, text};
use harness_test_artifacts as artifacts;

fn failing_run(
    component: &'static str,
    name: &'static str,
    limits: &'static str,
) -> (Scratch, serde_json::Value, String) {
    let s = Scratch::new();
    let dir = s.tool_plugins(name, component, limits, "{}");
    let ws_before = snapshot(&s.ws());
    let out = s.run(&dir, &[]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "failed", "{state:#}");
    assert_eq!(snapshot(&s.ws()), ws_before);
    assert!(snapshot(&s.out()).is_empty());
    let events = s.journal_events(&id);
    assert_eq!(
        events,
        ["run_created", "step_started", "step_failed", "run_failed"]
    );
    let reason = state["failure"].as_str().expect("failure").to_string();
    assert!(
        reason.contains("step `only`") && reason.contains(&format!("plugin `{name}`")),
        "{reason}"
    );
    (s, state, reason)
}

#[test]
fn a_trapping_plugin_fails_the_run_naming_step_plugin_and_cause() {
    let (_s, state, reason) = failing_run(artifacts::GUEST_TRAPPER, "trapper", "");
    assert!(reason.contains("trap"), "{reason}");
    // The guest's panic message reached the step's logs (from its stderr).
    let logs = state["steps"]["only"]["logs"].to_string();
    assert!(logs.contains("trapper: deliberate panic"), "{logs}");
}

#[test]
fn a_spinning_plugin_is_stopped_by_its_timeout() {
    let (_s, _state, reason) = failing_run(
        artifacts::GUEST_SPINNER,
        "spinner",
        "[limits]\ntimeout-ms = 300\n",
    );
    assert!(reason.contains("timed out"), "{reason}");
}

#[test]
fn a_plugin_blocked_in_a_host_call_is_stopped_by_the_wall_clock_timeout() {
    let (_s, _state, reason) = failing_run(
        artifacts::GUEST_SLEEPER,
        "sleeper",
        "[limits]\ntimeout-ms = 300\n",
    );
    assert!(reason.contains("timed out"), "{reason}");
}

#[test]
fn a_reviewer_where_a_tool_belongs_is_refused_before_any_run_starts() {
    let s = Scratch::new();
    let dir = s.tool_plugins("wrong-kind", artifacts::GUEST_WRONG_KIND, "", "{}");
    let out = s.run(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("harness:plugin/tool-plugin@0.1.0"),
        "{stderr}"
    );
    assert!(
        !s.state().join("runs").exists()
            || std::fs::read_dir(s.state().join("runs"))
                .expect("ls")
                .count()
                == 0
    );
}
