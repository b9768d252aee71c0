//! Run parameters: `--param KEY=VALUE` (repeatable), `--input FILE.json`
//! and the `--topic` shorthand reach the steps whose input schema takes
//! them, are journaled in `run_created`, and survive a resume; a key no step
//! takes, a value a schema refuses, a key the workflow fixes and a required
//! input nobody gives are refused before any run exists; `topic:` is shown
//! only for runs that have one.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{
    Scratch, artifacts, events, hello_plugins, kill_at, one_step_workflow, reviewer, run_id,
    run_ids, text,
};

/// The hello tool (schema: `name`, required) in a one-step workflow whose
/// input leaves `name` open.
fn open_hello(s: &Scratch) -> PathBuf {
    s.plugins_dir(
        "open-hello",
        &[
            crate::support::TestPlugin {
                name: "hello",
                kind: "tool",
                component: artifacts::HELLO_TOOL,
                extra: "[grants]\nwrites = [\"hello/\"]\n",
            },
            reviewer(),
        ],
        &one_step_workflow("hello", "{}"),
    )
}

/// The params `run_created` journaled for run `id`.
fn journaled_params(s: &Scratch, id: &str) -> Value {
    let journal = s.journal(id);
    let created = events(&journal, "run_created");
    assert_eq!(created.len(), 1);
    created[0]["event"]["params"].clone()
}

/// A refused `host run`: exit 1, no run created; its stderr.
fn refused(s: &Scratch, plugins: &Path, extra: &[&str]) -> String {
    let out = s.run(plugins, extra);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(run_ids(&s.state()).is_empty(), "no run was created");
    text(&out.stderr)
}

#[test]
fn params_and_an_input_file_reach_the_steps_and_are_journaled() {
    let s = Scratch::new();
    let plugins = open_hello(&s);
    let out = s.run(&plugins, &["--param", "name=Ada Lovelace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    assert_eq!(journaled_params(&s, &id), json!({ "name": "Ada Lovelace" }));
    assert_eq!(
        s.step_output(&id, "only")["greeting"],
        "Hello, Ada Lovelace!"
    );
    // No topic was given and the workflow takes none: none is recorded or shown.
    let shown = s.host().args(["status", &id]).output().expect("status");
    assert!(shown.status.success());
    assert!(
        !text(&shown.stdout).contains("topic:"),
        "{}",
        text(&shown.stdout)
    );

    // --input gives a JSON object; --param overrides its keys.
    let file = s.path().join("params.json");
    std::fs::write(&file, r#"{"name": "From the file"}"#).expect("write");
    let from_file = s.run(&plugins, &["--input", file.to_str().expect("utf-8")]);
    assert!(from_file.status.success(), "{}", text(&from_file.stderr));
    let id = run_id(&from_file);
    assert_eq!(
        journaled_params(&s, &id),
        json!({ "name": "From the file" })
    );
    let both = s.run(
        &plugins,
        &[
            "--input",
            file.to_str().expect("utf-8"),
            "--param",
            "name=Grace",
        ],
    );
    assert!(both.status.success(), "{}", text(&both.stderr));
    let id = run_id(&both);
    assert_eq!(journaled_params(&s, &id), json!({ "name": "Grace" }));
    assert_eq!(s.step_output(&id, "only")["greeting"], "Hello, Grace!");

    // An --input that is not an object is refused, naming the file.
    std::fs::write(&file, "[1, 2]").expect("write");
    let err = s.run(&plugins, &["--input", file.to_str().expect("utf-8")]);
    assert_eq!(err.status.code(), Some(1));
    let err = text(&err.stderr);
    assert!(
        err.contains("params.json") && err.contains("not a JSON object"),
        "{err}"
    );
    assert_eq!(run_ids(&s.state()).len(), 3, "no run for the bad file");
}

#[test]
fn an_unknown_param_names_the_key_the_steps_and_what_they_take() {
    let s = Scratch::new();
    let plugins = open_hello(&s);
    let err = refused(
        &s,
        &plugins,
        &["--param", "name=Ada", "--param", "nmae=Ada"],
    );
    assert!(
        err.contains(
            "run parameter `nmae` (from --param) is not an input of any step of workflow `test`"
        ),
        "{err}"
    );
    assert!(
        err.contains("step `only` (plugin `hello`) takes `name`"),
        "{err}"
    );
    assert!(err.contains("\nhint: check the spelling"), "{err}");

    // --topic on a workflow that takes no topic.
    let err = refused(&s, &plugins, &["--param", "name=Ada", "--topic", "wasm"]);
    assert!(
        err.contains("run parameter `topic` (from --topic)"),
        "{err}"
    );
    assert!(err.contains("this workflow takes no topic"), "{err}");
}

#[test]
fn values_are_checked_against_the_schema_and_required_inputs_must_be_given() {
    let s = Scratch::new();
    let plugins = open_hello(&s);
    // `3` parses as JSON: a number, which `name` (a string) refuses.
    let err = refused(&s, &plugins, &["--param", "name=3"]);
    assert!(
        err.contains(
            "run parameter `name` (from --param) does not fit step `only` (plugin `hello`)"
        ),
        "{err}"
    );
    // Nobody gives the required `name`.
    let err = refused(&s, &plugins, &[]);
    assert!(
        err.contains("step `only` (plugin `hello`) requires `name`"),
        "{err}"
    );
    assert!(err.contains("\nhint: pass --param name=VALUE"), "{err}");
    // A key the workflow's input fixes is not a parameter.
    let fixed = hello_plugins(&s);
    let out = s.run(&fixed, &["--param", "name=Ada"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("would reach no step: the `input` of step `only` in the workflow sets it"),
        "{err}"
    );
    assert!(run_ids(&s.state()).is_empty());
    // Quoted, it is the string "3".
    let out = s.run(&plugins, &["--param", "name=\"3\""]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(journaled_params(&s, &run_id(&out)), json!({ "name": "3" }));
}

#[test]
fn the_topic_is_a_shorthand_for_workflows_that_take_one() {
    let s = Scratch::new();
    let research = Path::new(artifacts::PLUGINS_DIR);
    // The research steps take `topic`: --topic sets it, and without one the
    // default topic is recorded.
    let out = s.run(research, &["--topic", "wasi preview"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    assert_eq!(
        journaled_params(&s, &id),
        json!({ "topic": "wasi preview" })
    );
    let shown = s.host().args(["status", &id]).output().expect("status");
    assert!(
        text(&shown.stdout).contains("topic: wasi preview"),
        "{}",
        text(&shown.stdout)
    );
    let out = s.run(research, &["--param", "root=/workspace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        journaled_params(&s, &run_id(&out)),
        json!({ "topic": "WebAssembly component sandboxing", "root": "/workspace" })
    );
    // `limit` is fixed by the search step's input in the workflow.
    let out = s.run(research, &["--param", "limit=3"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("run parameter `limit`") && err.contains("`search`"),
        "{err}"
    );
    assert_eq!(run_ids(&s.state()).len(), 2);
}

#[test]
fn a_resumed_run_keeps_its_params() {
    let s = Scratch::new();
    let plugins = open_hello(&s);
    let mut cmd = s.run_cmd(&plugins);
    cmd.args(["--param", "name=Resumed"]);
    kill_at(cmd, "step-running");
    let ids = run_ids(&s.state());
    assert_eq!(ids.len(), 1);
    let id = &ids[0];
    let out = s
        .host()
        .args(["resume", id, "--json"])
        .output()
        .expect("resume");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(journaled_params(&s, id), json!({ "name": "Resumed" }));
    assert_eq!(s.step_output(id, "only")["greeting"], "Hello, Resumed!");
    assert_eq!(s.status(id)["params"], json!({ "name": "Resumed" }));
}
