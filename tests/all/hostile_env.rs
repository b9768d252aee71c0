//! Hostile corpus, environment: the guest sees exactly the variables its
//! manifest grants, nothing inherited from the host process. The host is
//! started with a canary variable; its value must not reach the plugin, its
//! output, the journal or anything else in the host's state.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{Scratch, artifacts, run_id, text};

const CANARY_KEY: &str = "HARNESS_CANARY_SECRET";
const CANARY_VALUE: &str = "canary-env-9b27e1-must-not-leak";

/// Run the hostile plugin's `env` attack under `grants`, with the canary (and
/// `extra`) in the host's environment; returns what the guest saw.
fn guest_env(grants: &'static str, extra: &[(&str, &str)]) -> (BTreeMap<String, String>, Value) {
    let s = Scratch::new();
    let dir = s.tool_plugins(
        "hostile",
        artifacts::GUEST_HOSTILE,
        grants,
        "{ attack = \"env\" }",
    );
    let mut cmd = s.host();
    cmd.env(CANARY_KEY, CANARY_VALUE)
        .envs(extra.iter().copied())
        .arg("run")
        .arg("--plugins")
        .arg(&dir)
        .arg("--workspace")
        .arg(s.ws())
        .arg("--out")
        .arg(s.out())
        .arg("--json");
    let out = cmd.output().expect("run host");
    let id = run_id(&out);
    let state = s.status(&id);
    let sha = state["steps"]["only"]["output_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("the step failed: {state:#}"));
    let report: Value = serde_json::from_slice(&s.blob(&id, sha)).expect("json");
    let vars: BTreeMap<String, String> =
        serde_json::from_value(report["vars"].clone()).expect("vars");

    // The canary's value is nowhere: not in what the host printed, not in
    // any file of its state (journal, blobs), not in the workspace.
    let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!printed.contains(CANARY_VALUE), "{printed}");
    for root in [s.state(), s.ws(), s.out()] {
        for (path, bytes) in crate::support::snapshot(&root) {
            assert!(
                !text(&bytes).contains(CANARY_VALUE),
                "canary in {}",
                path.display()
            );
        }
    }
    (vars, report)
}

#[test]
fn guest_sees_exactly_the_granted_variables_and_no_inherited_canary() {
    let (vars, report) = guest_env(
        "[grants.env]\nvars = { MODE = \"strict\" }\ninherit = [\"GRANTED_FROM_HOST\", \"GRANTED_BUT_UNSET\"]\n",
        &[("GRANTED_FROM_HOST", "from-host")],
    );
    let expected: BTreeMap<String, String> =
        [("MODE", "strict"), ("GRANTED_FROM_HOST", "from-host")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(vars, expected);
    assert_eq!(report["args"], serde_json::json!([]), "no arguments either");
}

#[test]
fn guest_granted_nothing_sees_an_empty_environment() {
    // PATH, HOME, USER and the canary are all set in the host's environment.
    let (vars, _) = guest_env("", &[("HOME", "/home/operator")]);
    assert!(vars.is_empty(), "{vars:?}");
}
