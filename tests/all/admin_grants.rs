//! The admin's grants (`<plugins>/grants.toml`) against a plugin's own
//! request: a request beyond the grant fails at load and nothing runs, `host
//! plugins grant`/`revoke` edit the file and the next load follows it,
//! `--all-requested` migrates a legacy folder, a legacy folder still loads
//! (with a warning), every run records the effective grants it ran under, and
//! `host resume` refuses a run whose effective grants changed unless told to
//! accept the change, which it journals.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{Scratch, TestPlugin, events, hello_plugins, one_step_workflow, reviewer};
use crate::support::{artifacts, run_id, text};

fn host_plugins(s: &Scratch, args: &[&str], dir: &Path) -> Output {
    s.host()
        .arg("plugins")
        .args(args)
        .arg("--plugins")
        .arg(dir)
        .output()
        .expect("host plugins")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn runs_in(s: &Scratch) -> Vec<PathBuf> {
    match std::fs::read_dir(s.state().join("runs")) {
        Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn grants_file(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("grants.toml")).expect("grants.toml")
}

#[test]
fn a_request_beyond_the_grant_fails_at_load_naming_the_command_and_nothing_runs() {
    let s = Scratch::new();
    let dir = hello_plugins(&s);
    // The admin granted the reviewer, and hello nothing: its manifest asks for writes under hello/.
    std::fs::write(
        dir.join("grants.toml"),
        "[reviewer]\n[hello]\nwrites = []\n",
    )
    .expect("grants");

    let out = s.run(&dir, &[]);
    assert!(!out.status.success());
    let why = text(&out.stderr);
    assert!(why.contains("plugin `hello` asks for more than"), "{why}");
    assert!(why.contains("key `grants.writes`"), "{why}");
    assert!(
        why.contains("writes under `hello/` are not granted"),
        "{why}"
    );
    let command = format!(
        "host plugins grant hello --write hello/ --plugins {}",
        dir.display()
    );
    assert!(why.contains(&command), "expected `{command}` in: {why}");
    assert!(
        runs_in(&s).is_empty(),
        "no run was created: {:?}",
        runs_in(&s)
    );
    assert!(!s.out().join("hello").exists());

    // The hint's command, run as printed, edits the file; the next load follows it.
    let granted = host_plugins(&s, &["grant", "hello", "--write", "hello/"], &dir);
    assert!(ok(&granted).contains("writes = [\"hello/\"]"));
    assert!(
        grants_file(&dir).contains("[hello]\nwrites = [\"hello/\"]"),
        "{}",
        grants_file(&dir)
    );
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    assert_eq!(
        s.status(&id)["status"],
        "waiting-approval",
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("no admin grants file"));
    let hello = s.recorded_grants(&id, "hello");
    assert_eq!(hello["granted_by"], "grants.toml");
    assert_eq!(hello["grants"]["writes"], serde_json::json!(["hello/"]));
}

#[test]
fn revoke_takes_a_grant_away_and_check_list_and_inspect_show_the_gap() {
    let s = Scratch::new();
    let dir = hello_plugins(&s);
    let created = host_plugins(&s, &["grant", "--all-requested"], &dir);
    assert!(ok(&created).contains("granting exactly what 2 manifest(s) request"));
    let file = grants_file(&dir);
    assert!(file.contains("[hello]\nwrites = [\"hello/\"]"), "{file}");
    assert!(file.contains("[reviewer]"), "{file}");
    let again = host_plugins(&s, &["grant", "--all-requested"], &dir);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"));
    assert_eq!(grants_file(&dir), file, "the existing file is left alone");

    // Under the generated file, the folder checks and runs in strict mode.
    let check = s
        .host()
        .args(["plugins", "check", "--workspace"])
        .arg(s.ws())
        .arg("--plugins")
        .arg(&dir)
        .output()
        .expect("check");
    assert!(
        ok(&check).contains("ok       hello"),
        "{}",
        text(&check.stdout)
    );
    assert!(!text(&check.stderr).contains("no admin grants file"));
    let inspect = s
        .host()
        .args(["plugins", "inspect", "hello", "--json", "--workspace"])
        .arg(s.ws())
        .arg("--plugins")
        .arg(&dir)
        .output()
        .expect("inspect");
    let json: serde_json::Value = serde_json::from_str(&ok(&inspect)).expect("json");
    assert_eq!(json["requested"]["writes"], serde_json::json!(["hello/"]));
    assert_eq!(json["granted"]["writes"], serde_json::json!(["hello/"]));
    assert_eq!(json["granted_by"], "grants.toml");

    let revoked = host_plugins(&s, &["revoke", "hello", "--write", "hello/"], &dir);
    ok(&revoked);
    assert!(
        grants_file(&dir).contains("[hello]\nwrites = []"),
        "{}",
        grants_file(&dir)
    );
    let typo = host_plugins(&s, &["revoke", "hello", "--write", "hello/"], &dir);
    assert!(!typo.status.success());
    assert!(text(&typo.stderr).contains("is not granted to `hello`"));

    let check = s
        .host()
        .args(["plugins", "check", "--workspace"])
        .arg(s.ws())
        .arg("--plugins")
        .arg(&dir)
        .output()
        .expect("check");
    assert!(
        !check.status.success(),
        "a request beyond the grant fails the check"
    );
    let report = text(&check.stdout);
    assert!(report.contains("error    hello"), "{report}");
    assert!(
        report.contains("host plugins grant hello --write hello/"),
        "{report}"
    );
    let list = ok(&host_plugins(&s, &["list"], &dir));
    assert!(
        list.contains("  not granted: writes under `hello/` are not granted (grants.writes)"),
        "{list}"
    );
    let out = s.run(&dir, &[]);
    assert!(!out.status.success());
    assert!(runs_in(&s).is_empty(), "nothing ran after the revoke");

    let all = host_plugins(&s, &["revoke", "reviewer", "--all"], &dir);
    ok(&all);
    assert!(
        !grants_file(&dir).contains("[reviewer]"),
        "{}",
        grants_file(&dir)
    );
}

#[test]
fn a_folder_without_grants_toml_loads_with_one_warning_and_records_the_manifest_as_grantor() {
    let s = Scratch::new();
    let dir = hello_plugins(&s);
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("has no admin grants file").count(),
        1,
        "one warning per load: {stderr}"
    );
    assert!(
        stderr.contains("host plugins grant --all-requested --plugins"),
        "{stderr}"
    );
    let hello = s.recorded_grants(&id, "hello");
    assert_eq!(hello["granted_by"], "manifest");
    assert_eq!(hello["grants"]["writes"], serde_json::json!(["hello/"]));
}

#[test]
fn run_created_records_each_plugins_effective_grants_and_their_digest() {
    let s = Scratch::new();
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"draft\"\nplugin = \"scripted\"\ninput = { draft = true }\n",
        "",
    );
    ok(&host_plugins(&s, &["grant", "--all-requested"], &dir));
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    let scripted = s.recorded_grants(&id, "scripted");
    let grants = &scripted["grants"];
    assert_eq!(grants["writes"], serde_json::json!(["drafts/"]));
    assert_eq!(
        grants["network"].as_array().map(Vec::len),
        Some(1),
        "{grants}"
    );
    assert_eq!(grants["mounts"], serde_json::json!([]));
    assert_eq!(grants["limits"]["timeout_ms"], 10000);
    let digest = harness_host::digest::sha256_hex(&serde_json::to_vec(grants).expect("json"));
    assert_eq!(
        scripted["digest"],
        digest.as_str(),
        "the digest is over the recorded grants"
    );
    assert_ne!(
        s.recorded_grants(&id, "scripted-reviewer")["digest"],
        digest.as_str()
    );
    let state = s.status(&id);
    let shown: Vec<&str> = state["grants"]
        .as_array()
        .expect("status shows grants")
        .iter()
        .map(|g| g["name"].as_str().expect("name"))
        .collect();
    assert_eq!(shown, ["scripted", "scripted-reviewer"]);
}

const FLAKY_ONCE: &str = "[[steps]]\nid = \"prep\"\nplugin = \"scripted\"\ninput = { counter = \"prep\" }\n\
     [[steps]]\nid = \"flaky\"\nplugin = \"scripted\"\nneeds = [\"prep\"]\n\
     input = { counter = \"flaky\", fail_times = 1 }\n";

fn resume(s: &Scratch, id: &str, extra: &[&str]) -> Output {
    s.host()
        .args(["resume", id, "--failed"])
        .args(extra)
        .output()
        .expect("resume")
}

#[test]
fn resume_refuses_changed_grants_unless_accepted_and_then_journals_the_change() {
    let s = Scratch::new();
    let dir = s.scripted_plugins(FLAKY_ONCE, "");
    ok(&host_plugins(&s, &["grant", "--all-requested"], &dir));
    let out = s.run(&dir, &[]);
    assert!(!out.status.success());
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "failed");
    let before = s.journal(&id);
    let recorded_digest = s.recorded_grants(&id, "scripted")["digest"].clone();

    // The admin takes the plugin's write grant away: it no longer loads.
    ok(&host_plugins(
        &s,
        &["revoke", "scripted", "--write", "drafts/"],
        &dir,
    ));
    let refused = resume(&s, &id, &[]);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("host plugins grant scripted --write drafts/"),
        "{why}"
    );
    assert_eq!(s.journal(&id), before, "a refused resume journals nothing");
    assert_eq!(
        (s.counter("prep"), s.counter("flaky")),
        (1, 1),
        "nothing ran"
    );

    // The request grows within a wider grant: the effective grants changed.
    ok(&host_plugins(
        &s,
        &[
            "grant", "scripted", "--write", "drafts/", "--write", "notes/",
        ],
        &dir,
    ));
    let manifest = dir.join("scripted").join("plugin.toml");
    let edited = std::fs::read_to_string(&manifest)
        .expect("manifest")
        .replace(
            "writes = [\"drafts/\"]",
            "writes = [\"drafts/\", \"notes/\"]",
        );
    std::fs::write(&manifest, edited).expect("edit manifest");
    let refused = resume(&s, &id, &[]);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("the effective grants changed since it started"),
        "{why}"
    );
    assert!(why.contains("plugin `scripted`"), "{why}");
    assert!(why.contains("writes: added notes/"), "{why}");
    assert!(why.contains("--accept-grant-changes"), "{why}");
    assert_eq!(s.journal(&id), before, "a refused resume journals nothing");
    assert_eq!(
        (s.counter("prep"), s.counter("flaky")),
        (1, 1),
        "nothing ran"
    );

    let accepted = resume(&s, &id, &["--accept-grant-changes", "--json"]);
    ok(&accepted);
    assert_eq!(s.status(&id)["status"], "completed");
    assert_eq!(s.counter("prep"), 1, "the finished step was not re-run");
    assert_eq!(s.counter("flaky"), 2);
    let journal = s.journal(&id);
    let changed = events(&journal, "grants_changed");
    assert_eq!(changed.len(), 1, "only scripted changed");
    let event = &changed[0]["event"];
    assert_eq!(event["plugin"], "scripted");
    assert_eq!(event["from_digest"], recorded_digest);
    assert_ne!(event["to_digest"], recorded_digest);
    assert_eq!(
        event["by"],
        harness_host::os_user::name()
            .expect("an OS account")
            .as_str()
    );
    assert_eq!(
        event["changes"],
        serde_json::json!(["writes: added notes/"])
    );
    let seq = |kind: &str| events(&journal, kind)[0]["seq"].as_u64().expect("seq");
    assert!(
        seq("grants_changed") < seq("run_resumed"),
        "journaled before continuing"
    );
    let state = s.status(&id);
    let now = state["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .find(|g| g["name"] == "scripted")
        .expect("scripted")
        .clone();
    assert_eq!(
        now["digest"], event["to_digest"],
        "the state holds the accepted grants"
    );
    let verify = s.host().args(["verify", &id]).output().expect("verify");
    ok(&verify);
}

#[test]
fn a_legacy_manifest_edited_between_run_and_resume_is_noticed() {
    let s = Scratch::new();
    let dir = s.scripted_plugins(FLAKY_ONCE, "");
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "failed");
    let before = s.journal(&id);
    let manifest = dir.join("scripted").join("plugin.toml");
    let edited = format!(
        "{}\n[limits]\ntimeout-ms = 20000\n",
        std::fs::read_to_string(&manifest).expect("manifest")
    );
    std::fs::write(&manifest, edited).expect("edit manifest");
    let refused = resume(&s, &id, &[]);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(why.contains("limits.timeout_ms: 10000 -> 20000"), "{why}");
    assert_eq!(s.journal(&id), before);
    assert_eq!(s.counter("flaky"), 1, "nothing ran");
}

#[test]
fn a_read_write_mount_that_reaches_the_grants_file_is_refused() {
    let s = Scratch::new();
    let dir = s.path().join("plugins");
    let extra = format!(
        "[grants]\nwrites = [\"hello/\"]\n[[grants.mounts]]\nhost = \"{}\"\nguest = \"/plugins\"\nmode = \"read-write\"\n",
        dir.display()
    );
    let hello = TestPlugin {
        name: "hello",
        kind: "tool",
        component: artifacts::HELLO_TOOL,
        extra: Box::leak(extra.into_boxed_str()),
    };
    let dir = s.plugins_dir(
        "plugins",
        &[hello, reviewer()],
        &one_step_workflow("hello", "{ name = \"World\" }"),
    );
    ok(&host_plugins(&s, &["grant", "--all-requested"], &dir));
    let before = grants_file(&dir);
    let out = s.run(&dir, &[]);
    assert!(!out.status.success());
    let why = text(&out.stderr);
    assert!(
        why.contains("contains the plugins folder and its `grants.toml`"),
        "{why}"
    );
    assert!(runs_in(&s).is_empty());
    assert_eq!(grants_file(&dir), before);
}
