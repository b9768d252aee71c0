//! `host call`: one governed tool call from the command line, through the
//! same path as an MCP call (schema check, policy, sandbox, journal,
//! staging), and `host plugins inspect` showing what agents would see.

use std::path::Path;
use std::process::Output;

use crate::support::{Scratch, events, hello_plugins, text};

fn call(s: &Scratch, plugins: &Path, input: &str) -> Output {
    s.in_area(s.host(), &["call", "hello", "--input", input], plugins)
        .arg("--json")
        .output()
        .expect("run host call")
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn session_id(s: &Scratch) -> String {
    let ids = crate::support::run_ids(&s.state());
    assert_eq!(ids.len(), 1, "one session run: {ids:?}");
    ids[0].clone()
}

#[test]
fn a_call_stages_its_write_and_approve_applies_exactly_those_bytes() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    let out = call(&s, &plugins, r#"{"name":"Ada"}"#);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result = json_of(&out);
    let structured = &result["structured"];
    assert_eq!(structured["output"]["greeting"], "Hello, Ada!");
    assert_eq!(structured["staged"][0]["path"], "hello/ada.txt");
    let id = session_id(&s);
    assert_eq!(structured["run"], id.as_str());
    let approve_cmd = structured["approve"].as_str().expect("approve command");
    assert!(
        approve_cmd.ends_with(&format!("approve {id}")),
        "{approve_cmd}"
    );
    assert!(
        !s.out().join("hello/ada.txt").exists(),
        "nothing is written by the call"
    );

    let journal = s.journal(&id);
    let kinds: Vec<&str> = journal
        .iter()
        .map(|r| r["event"]["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        [
            "run_created",
            "tool_call_requested",
            "policy_decided",
            "tool_call_finished",
            "approval_requested"
        ]
    );
    let requested = &events(&journal, "tool_call_requested")[0]["event"];
    assert_eq!(requested["via"], "cli");
    assert_eq!(requested["arguments"]["name"], "Ada");
    assert_eq!(
        events(&journal, "policy_decided")[0]["event"]["allowed"],
        true
    );
    let digest = events(&journal, "approval_requested")[0]["event"]["digest"].clone();
    assert_eq!(structured["change_set_digest"], digest);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");

    let approve = s.approve(&id);
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    assert_eq!(
        std::fs::read(s.out().join("hello/ada.txt")).expect("applied"),
        b"Hello, Ada!"
    );
    assert_eq!(s.status(&id)["status"], "completed");
    crate::support::verify_ok(&s, &id);
}

#[test]
fn arguments_that_break_the_schema_fail_naming_the_field_and_nothing_runs() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    let out = call(&s, &plugins, r#"{"name":5}"#);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let result = json_of(&out);
    assert_eq!(result["error_kind"], "invalid-arguments");
    let message = result["message"].as_str().expect("message");
    assert!(message.contains("`/name`"), "{message}");
    let journal = s.journal(&session_id(&s));
    let failed = &events(&journal, "tool_call_failed")[0]["event"];
    assert_eq!(failed["error_kind"], "invalid-arguments");
    assert!(events(&journal, "policy_decided").is_empty());
    assert!(events(&journal, "tool_call_finished").is_empty());
    assert!(!s.out().join("hello").exists());
    // The one-call session ended with nothing pending: completed.
    assert_eq!(s.status(&session_id(&s))["status"], "completed");

    let missing = call(&s, &plugins, "{}");
    let message = json_of(&missing)["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.contains("\"name\" is a required property"),
        "{message}"
    );
}

#[test]
fn a_policy_deny_names_the_rule_and_an_ask_is_refused_without_a_person() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    std::fs::write(
        plugins.join("policy.toml"),
        "[[rule]]\nname = \"no-root\"\nplugin = \"hello\"\naction = \"deny\"\nwhen = { \"/name\" = \"*root*\" }\n\
         [[rule]]\nname = \"ask-ada\"\nplugin = \"hello\"\naction = \"ask\"\nwhen = { \"/name\" = \"ada\" }\n",
    )
    .expect("policy");
    let denied = call(&s, &plugins, r#"{"name":"Mr Root"}"#);
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied.stderr));
    let result = json_of(&denied);
    assert_eq!(result["error_kind"], "policy-denied");
    assert!(
        result["message"]
            .as_str()
            .expect("message")
            .contains("no-root")
    );
    let journal = s.journal(result["run"].as_str().expect("run"));
    let decided = &events(&journal, "policy_decided")[0]["event"];
    assert_eq!(decided["action"], "deny");
    assert_eq!(decided["rule"], "no-root");
    assert_eq!(decided["allowed"], false);
    assert!(events(&journal, "tool_call_finished").is_empty());

    let asked = call(&s, &plugins, r#"{"name":"Ada"}"#);
    let result = json_of(&asked);
    assert_eq!(result["error_kind"], "policy-denied");
    assert!(
        result["message"]
            .as_str()
            .expect("message")
            .contains("cannot ask a person"),
        "{result:#}"
    );
    let journal = s.journal(result["run"].as_str().expect("run"));
    let decided = &events(&journal, "policy_decided")[0]["event"];
    assert_eq!(decided["answer"], "unsupported");
    assert!(!s.out().join("hello").exists());
}

#[test]
fn inspect_shows_the_summary_and_input_schema_from_describe() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    let out = s
        .host()
        .args(["plugins", "inspect", "hello", "--json", "--plugins"])
        .arg(&plugins)
        .arg("--workspace")
        .arg(s.ws())
        .output()
        .expect("inspect");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value = json_of(&out);
    assert_eq!(value["describe"]["summary"], "Greets someone by name.");
    assert_eq!(value["describe"]["input_schema"]["required"][0], "name");
    let plain = s
        .host()
        .args(["plugins", "inspect", "hello", "--plugins"])
        .arg(&plugins)
        .arg("--workspace")
        .arg(s.ws())
        .output()
        .expect("inspect");
    let shown = text(&plain.stdout);
    assert!(
        shown.contains("summary    Greets someone by name."),
        "{shown}"
    );
    assert!(shown.contains("\"required\""), "{shown}");
}

/// The session's policy file is the admin's: a plugin whose `writes` grant
/// covers it (here the policy sits where hello writes) is refused at load,
/// before any call, naming the policy; no session run is made and the policy
/// is untouched.
#[test]
fn a_plugin_cannot_be_granted_writes_over_the_session_policy() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    let policy = s.out().join("hello/ada.txt");
    std::fs::create_dir_all(policy.parent().expect("parent")).expect("mkdir");
    let rules = "[[rule]]\nname = \"all\"\nplugin = \"*\"\naction = \"allow\"\n";
    std::fs::write(&policy, rules).expect("policy");
    let out = s
        .in_area(
            s.host(),
            &["call", "hello", "--input", r#"{"name":"Ada"}"#],
            &plugins,
        )
        .arg("--policy")
        .arg(&policy)
        .arg("--json")
        .output()
        .expect("run host call");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let result = json_of(&out);
    let error = result["error"].as_str().expect("error");
    assert!(
        error.contains("grants.writes") && error.contains("ada.txt"),
        "{result:#}"
    );
    assert!(error.contains("policy"), "{result:#}");
    assert!(
        crate::support::run_ids(&s.state()).is_empty(),
        "no session run"
    );
    assert_eq!(std::fs::read_to_string(&policy).expect("policy"), rules);
}
