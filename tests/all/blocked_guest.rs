//! A guest blocked in a host call does not keep the host alive: a tool that
//! opens a FIFO nobody writes to (in its read-only mount) is stopped by its
//! timeout, its run is journaled as failed, and the `host` process exits
//! right after, though the blocking open still holds one of its threads.

use std::time::Duration;

use crate::support::{
    Scratch, TestPlugin, artifacts, one_step_workflow, output_within, reviewer, run_id, step_event,
    text,
};

#[cfg(unix)]
#[test]
fn a_tool_blocked_opening_a_fifo_times_out_and_the_host_exits() {
    let s = Scratch::new();
    let fifo = s.ws().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let hostile = TestPlugin {
        name: "hostile",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra: "[[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/ws\"\nmode = \"read\"\n[limits]\ntimeout-ms = 500\n",
    };
    let dir = s.plugins_dir(
        "plugins",
        &[hostile, reviewer()],
        &one_step_workflow(
            "hostile",
            "{ attack = \"fs\", ops = [{ op = \"read\", path = \"/ws/fifo\" }] }",
        ),
    );
    let (out, took) = output_within(s.run_cmd(&dir).arg("--json"), Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(15), "{took:?}");
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "failed", "{state:#}");
    let journal = s.journal(&id);
    let failed = step_event(&journal, "step_failed", "only");
    assert_eq!(failed["event"]["error_kind"], "timeout", "{failed:#}");
    let events = s.journal_events(&id);
    assert_eq!(
        events.last().map(String::as_str),
        Some("run_failed"),
        "{events:?}"
    );
    // Still a FIFO: the host did not replace or remove it.
    use std::os::unix::fs::FileTypeExt as _;
    assert!(
        std::fs::metadata(&fifo)
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
}
