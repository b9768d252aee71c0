//! The hostile demo (`examples/hostile-demo`), run exactly as shipped (its
//! own workflow and manifests): every escape it tries is refused by the
//! host, the host's files show it, listing its granted mount works, and its
//! report still waits for approval.

use std::path::Path;

use crate::support::{Scratch, artifacts, run_id, snapshot, text};

#[test]
fn hostile_demo_is_refused_everything_its_grants_do_not_allow() {
    let s = Scratch::new();
    // Outside every mount: its content must not reach any output.
    let canary_text = "canary-7f3a: if you can read this, the sandbox leaked";
    std::fs::write(s.path().join("canary.txt"), canary_text).expect("canary");
    let before = snapshot(&s.ws());
    let plugins = Path::new(artifacts::WORKSPACE_ROOT).join("examples/hostile-demo");

    let run = s.run(&plugins, &[]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let id = run_id(&run);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");

    // What the tool saw: only the granted mount.
    let output = s.step_output(&id, "probe");
    let attempts = output["attempts"].as_array().expect("attempts");
    assert!(attempts.len() >= 14, "{output:#}");
    for attempt in attempts {
        assert_eq!(attempt["outcome"], attempt["expected"], "{attempt:#}");
    }
    assert_eq!(output["not_as_granted"], 0, "{output:#}");
    let listed = attempts
        .iter()
        .find(|a| a["attempt"] == "list the granted mount /workspace")
        .expect("the listing attempt");
    let entries = std::fs::read_dir(s.ws()).expect("ws").count();
    assert_eq!(listed["detail"], format!("{entries} entries"), "{listed:#}");

    // Host side: the workspace is byte-identical, nothing was planted or
    // appended, the output directory is empty, the canary never surfaced.
    assert_eq!(snapshot(&s.ws()), before, "the workspace changed");
    assert!(!s.ws().join("planted-by-hostile-tool.txt").exists());
    assert!(!s.ws().join("hostile-tool-dir").exists());
    assert!(snapshot(&s.out()).is_empty(), "written before approval");
    let stdout = text(&run.stdout);
    let logs = state["steps"]["probe"]["logs"].to_string();
    for seen in [&stdout, &stderr, &logs, &output.to_string()] {
        assert!(!seen.contains("canary-7f3a"), "the canary leaked: {seen}");
        assert!(!seen.contains("root:x:0:0"), "/etc/passwd leaked: {seen}");
    }

    // The network attempts reached the host's check and were denied there,
    // naming the plugin and the grant that would allow them.
    for address in ["127.0.0.1:22", "169.254.169.254:80"] {
        assert!(
            logs.contains("network access denied to plugin `hostile-tool`")
                && logs.contains(address),
            "no host denial logged for {address}: {logs}"
        );
    }
    assert!(logs.contains("[grants] network"), "{logs}");

    // Its one legitimate output is only proposed.
    let entries = state["change_set"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{state:#}");
    assert_eq!(entries[0]["path"], "reports/hostile-demo.txt");
    let report = s.blob(&id, entries[0]["new_sha256"].as_str().expect("sha"));
    let report = String::from_utf8(report).expect("utf-8");
    assert!(report.contains("0 not as the grants say"), "{report}");
}
