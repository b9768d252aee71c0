//! The SDK's hello tool (examples/hello-tool), built from source, runs under
//! the host and its proposed write goes through the approval gate.

use crate::support::{Scratch, hello_plugins, run_id, text};

#[test]
fn the_hello_tool_greets_and_its_write_waits_for_approval() {
    let s = Scratch::new();
    let dir = hello_plugins(&s);
    let out = s.run(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    let output = s.step_output(&id, "only");
    assert_eq!(output["greeting"], "Hello, World!");

    let entries = state["change_set"]["entries"].as_array().expect("entries");
    let path = entries[0]["path"].as_str().expect("path");
    assert!(path.starts_with("hello/"), "{path}");
    assert!(!s.out().join(path).exists());
    let approve = s.approve(&id);
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    let staged = s.blob(&id, entries[0]["new_sha256"].as_str().expect("sha"));
    assert_eq!(std::fs::read(s.out().join(path)).expect("read"), staged);
}
