//! `host plugins new`: a generated plugin builds with `host plugins build`,
//! passes `host plugins check` and runs, in each language; bad names and
//! existing folders are refused without touching anything.

use std::path::{Path, PathBuf};

use crate::support::{Scratch, TestPlugin, artifacts, reviewer, run_id, snapshot, text};
use crate::toolchains::{self, Lang};

/// `host plugins new <name> --kind <kind> --lang <lang> --plugins <dir>`.
fn new(s: &Scratch, dir: &Path, name: &str, kind: &str, lang: &str) -> std::process::Output {
    // `--` before the name, so a name starting with a dash reaches the check.
    s.host()
        .args([
            "plugins",
            "new",
            "--kind",
            kind,
            "--lang",
            lang,
            "--plugins",
        ])
        .arg(dir)
        .args(["--", name])
        .output()
        .expect("plugins new")
}

/// Generate, build, check: the generated plugin must build and check `ok`
/// with no change to what was generated, and then run.
fn generate_build_check(s: &Scratch, dir: &Path, name: &str, kind: &str, lang: &str) {
    generate(s, dir, name, kind, lang);
    build(s, dir, &[], &format!("the generated {lang} {kind}"));
    check(s, dir, name, lang);
}

/// `host plugins new`, asserting what every generated plugin has.
fn generate(s: &Scratch, dir: &Path, name: &str, kind: &str, lang: &str) -> String {
    let out = new(s, dir, name, kind, lang);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("created {kind} `{name}`")),
        "{stdout}"
    );
    let plugin = dir.join(name);
    let manifest = std::fs::read_to_string(plugin.join("plugin.toml")).expect("manifest");
    assert!(
        !manifest.lines().any(|l| l.starts_with("writes")
            || l.starts_with("network")
            || l.starts_with("[[grants.mounts]]")
            || l.starts_with("[grants.env]")),
        "a generated manifest grants nothing:\n{manifest}"
    );
    assert!(plugin.join("README.md").is_file());
    stdout
}

/// `host plugins build [NAMES] --plugins dir`, which must succeed; returns
/// how long it took.
fn build(s: &Scratch, dir: &Path, names: &[&str], what: &str) -> std::time::Duration {
    let started = std::time::Instant::now();
    let build = s
        .host()
        .args(["plugins", "build"])
        .args(names)
        .arg("--plugins")
        .arg(dir)
        .env(
            "HARNESS_TOOLCHAINS",
            Path::new(artifacts::WORKSPACE_ROOT).join("target/toolchains"),
        )
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .output()
        .expect("plugins build");
    assert!(
        build.status.success(),
        "{what} does not build:\n{}",
        text(&build.stderr)
    );
    let took = started.elapsed();
    eprintln!("built {what} in {} ms", took.as_millis());
    took
}

/// `host plugins check`: `ok` for `name` (Python: the one sockets warning).
fn check(s: &Scratch, dir: &Path, name: &str, lang: &str) {
    let check = s.check(dir);
    let stdout = text(&check.stdout);
    let stderr = text(&check.stderr);
    assert!(check.status.success(), "{stdout}{stderr}");
    if lang == "rust" {
        // A small component compiles in well under a second: no progress line.
        assert!(!stderr.contains("compiling plugin"), "{stderr}");
    }
    assert!(stdout.contains("0 with errors"), "{stdout}");
    if lang == "python" {
        // componentize-py's C library always imports wasi:sockets; with no
        // network grant, check says so, and that is the only remark.
        assert!(stdout.contains(&format!("warning  {name}\n")), "{stdout}");
        assert!(stdout.contains("always imports wasi:sockets"), "{stdout}");
        assert!(stdout.contains("1 with warnings"), "{stdout}");
    } else {
        assert!(stdout.contains(&format!("ok       {name}\n")), "{stdout}");
        assert!(stdout.contains("0 with warnings"), "{stdout}");
    }
}

/// A plugins folder for a generated tool `name`: the real reviewer and a
/// workflow running the tool with `{ name = "Ada" }`.
fn folder_for_tool(s: &Scratch, name: &str) -> PathBuf {
    s.plugins_dir(
        "plugins",
        &[reviewer()],
        &crate::support::one_step_workflow(name, "{ name = \"Ada\" }"),
    )
}

/// A generated tool greets and, proposing nothing, completes without the
/// gate; returns its step's output.
fn assert_tool_runs(s: &Scratch, dir: &Path, step: &str, greeting: &str) -> serde_json::Value {
    let out = s.run(dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "completed", "{state:#}");
    let output = s.step_output(&id, step);
    assert_eq!(output["greeting"], greeting, "{output:#}");
    output
}

/// A plugins folder holding only the real reviewer, and no workflow.
fn folder_with_a_reviewer(s: &Scratch) -> PathBuf {
    let dir = s.plugins_dir("plugins", &[reviewer()], "");
    std::fs::remove_file(dir.join("workflow.toml")).expect("no workflow");
    dir
}

/// Rust libraries (`.rlib`) whose name starts with `prefix` in `dir`.
fn count_rlibs(dir: &Path, prefix: &str) -> usize {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(prefix) && name.ends_with(".rlib")
        })
        .count()
}

#[test]
fn new_rust_tools_share_one_target_dir_and_run_in_the_generated_workflow() {
    let s = Scratch::new();
    let dir = folder_with_a_reviewer(&s);
    let first = generate(&s, &dir, "greeter", "tool", "rust");
    assert!(
        first.contains("workflow.toml: `greeter` is its one step, reviewed by `reviewer`"),
        "{first}"
    );
    let workflow = std::fs::read(dir.join("workflow.toml")).expect("generated workflow");
    let second = generate(&s, &dir, "second", "tool", "rust");
    assert!(second.contains("exists and was left as it is"), "{second}");
    assert_eq!(
        std::fs::read(dir.join("workflow.toml")).expect("workflow"),
        workflow
    );

    // One plugin at a time, as an author iterates: the second one reuses
    // the first one's build of the SDK and its dependencies.
    // Following what `new` printed, the second tool joins the workflow.
    let hint = "[[steps]]\n  id = \"second\"\n  plugin = \"second\"";
    assert!(second.contains(hint), "{second}");
    let mut text_of = String::from_utf8(workflow).expect("utf-8");
    text_of.push_str(&format!("\n{}\n", hint.replace("\n  ", "\n")));
    std::fs::write(dir.join("workflow.toml"), text_of).expect("add the step");

    build(&s, &dir, &["greeter"], "the first generated Rust tool");
    assert!(
        !dir.join(".target/wasm32-wasip2/release/second.wasm")
            .exists(),
        "`build greeter` built only greeter"
    );
    build(
        &s,
        &dir,
        &["second"],
        "the second generated Rust tool (shared target dir)",
    );
    let release = dir.join(".target/wasm32-wasip2/release");
    for name in ["greeter", "second"] {
        assert!(release.join(format!("{name}.wasm")).is_file(), "{name}");
        assert!(
            !dir.join(name).join("target").exists(),
            "{name} has a target dir of its own"
        );
        check(&s, &dir, name, "rust");
    }
    // Built once for both: one library per dependency in the shared dir.
    let deps = release.join("deps");
    for lib in ["libharness_sdk-", "libserde_json-", "libwit_bindgen-"] {
        assert_eq!(count_rlibs(&deps, lib), 1, "{lib} was built more than once");
    }
    assert!(dir.join(".target/.gitignore").is_file());
    // The generated workflow runs the first tool with its generated input,
    // and the step added after it.
    assert_tool_runs(&s, &dir, "greeter", "Hello, world!");
}

#[test]
fn a_new_python_tool_builds_checks_and_runs() {
    if !toolchains::available(Lang::Python, "a_new_python_tool_builds_checks_and_runs") {
        return;
    }
    let s = Scratch::new();
    let dir = folder_for_tool(&s, "py-greeter");
    generate_build_check(&s, &dir, "py-greeter", "tool", "python");
    assert_tool_runs(&s, &dir, "only", "Hello, Ada!");
}

#[test]
fn a_new_js_reviewer_builds_checks_and_reviews() {
    if !toolchains::available(Lang::Js, "a_new_js_reviewer_builds_checks_and_reviews") {
        return;
    }
    let s = Scratch::new();
    let hello = TestPlugin {
        name: "hello",
        kind: "tool",
        component: artifacts::HELLO_TOOL,
        extra: "[grants]\nwrites = [\"hello/\"]\n",
    };
    let workflow = "[workflow]\nname = \"test\"\n[[steps]]\nid = \"only\"\nplugin = \"hello\"\ninput = { name = \"World\" }\n[review]\nplugin = \"js-review\"\n";
    let dir = s.plugins_dir("plugins", &[hello], workflow);
    generate_build_check(&s, &dir, "js-review", "reviewer", "js");

    // The generated reviewer passes a non-empty proposed file: the run waits
    // for approval with the reviewer's verdict recorded.
    let out = s.run(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    let journal = s.journal(&id);
    let review = crate::support::events(&journal, "review_completed");
    assert_eq!(review.len(), 1, "{journal:#?}");
    assert_eq!(review[0]["event"]["verdict"], "pass", "{:#}", review[0]);
}

#[test]
fn new_refuses_bad_names_existing_folders_and_taken_names() {
    let s = Scratch::new();
    let taken = TestPlugin::new("taken", "tool", artifacts::HELLO_TOOL);
    let dir = s.plugins_dir("plugins", &[taken], "");
    // A folder named differently from the plugin it holds.
    std::fs::rename(dir.join("taken"), dir.join("elsewhere")).expect("rename");
    std::fs::create_dir(dir.join("existing")).expect("mkdir");
    let before = snapshot(&dir);

    let long = "a".repeat(65);
    for (name, expected) in [
        ("Bad_Name", "not a valid plugin name"),
        ("-dash", "not a valid plugin name"),
        ("../escape", "not a valid plugin name"),
        ("9lives", "not a valid plugin name"),
        (long.as_str(), "not a valid plugin name"),
        ("existing", "already exists"),
        ("taken", "a plugin named `taken` already exists"),
    ] {
        let out = new(&s, &dir, name, "tool", "rust");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains("hint:"),
            "{name}: {stderr}"
        );
    }
    for (args, expected) in [
        (["--kind", "widget", "--lang", "rust"], "widget"),
        (["--kind", "tool", "--lang", "cobol"], "cobol"),
    ] {
        let out = s
            .host()
            .args(["plugins", "new", "fine", "--plugins"])
            .arg(&dir)
            .args(args)
            .output()
            .expect("plugins new");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expected));
    }
    assert_eq!(
        snapshot(&dir),
        before,
        "a refused `plugins new` changed the folder"
    );
}

#[test]
fn the_generated_toolchain_pins_match_the_examples() {
    // Generated Python and JavaScript plugins pin the same toolchains as the
    // examples (byte for byte, so they share one install under
    // target/toolchains); the tests of the examples prove those pins work.
    let root = Path::new(artifacts::WORKSPACE_ROOT);
    let templates = root.join("host/src/cli/plugins/templates");
    for (template, example) in [
        (
            "python/requirements.txt",
            "examples/python-tool/requirements.txt",
        ),
        ("js/package.json", "examples/js-tool/package.json"),
        ("js/package-lock.json", "examples/js-tool/package-lock.json"),
    ] {
        assert_eq!(
            std::fs::read(templates.join(template)).expect("template"),
            std::fs::read(root.join(example)).expect("example"),
            "{template} differs from {example}"
        );
    }
}

#[test]
fn a_new_js_tool_reads_its_mount_without_hand_written_wit() {
    if !toolchains::available(
        Lang::Js,
        "a_new_js_tool_reads_its_mount_without_hand_written_wit",
    ) {
        return;
    }
    let s = Scratch::new();
    let notes = "First line only this test knows\nsecond line\n";
    std::fs::write(s.ws().join("from-the-test.md"), notes).expect("write notes");
    let dir = folder_with_a_reviewer(&s);
    generate_build_check(&s, &dir, "js-reader", "tool", "js");
    let plugin = dir.join("js-reader");
    for wit in [
        "wit/world.wit",
        "wit/deps/harness-plugin/plugin.wit",
        "wit/deps/filesystem.wit",
        "wit/deps/io.wit",
        "wit/deps/clocks.wit",
    ] {
        assert!(plugin.join(wit).is_file(), "{wit}");
    }

    // What an author does next: ask for the mount the template reads, and
    // give the generated workflow's step a file to read. No WIT is written.
    let manifest = std::fs::read_to_string(plugin.join("plugin.toml")).expect("manifest");
    let manifest = manifest.replacen(
        "[grants]\n",
        "[grants]\n[[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/workspace\"\nmode = \"read\"\n",
        1,
    );
    std::fs::write(plugin.join("plugin.toml"), manifest).expect("write manifest");
    let workflow = std::fs::read_to_string(dir.join("workflow.toml")).expect("workflow");
    assert!(
        workflow.contains("input = { name = \"world\" }"),
        "{workflow}"
    );
    let workflow = workflow.replace(
        "input = { name = \"world\" }",
        "input = { name = \"Ada\", file = \"from-the-test.md\" }",
    );
    std::fs::write(dir.join("workflow.toml"), workflow).expect("write workflow");

    let before = snapshot(&s.ws());
    let output = assert_tool_runs(&s, &dir, "js-reader", "Hello, Ada!");
    assert_eq!(output["file"]["path"], "from-the-test.md", "{output:#}");
    assert_eq!(output["file"]["bytes"], notes.len(), "{output:#}");
    assert_eq!(
        output["file"]["firstLine"], "First line only this test knows",
        "{output:#}"
    );
    assert_eq!(snapshot(&s.ws()), before, "reading changed the workspace");
}

#[test]
fn new_writes_the_workflow_only_when_the_folder_has_none() {
    let s = Scratch::new();
    let workflow = |dir: &Path| s.host_plugins(&["workflow", "--format", "json"], dir);

    // No reviewer: the workflow has no review (the run goes from the step to
    // the gate), says how to add one, and validates as `host run` loads it.
    let empty = s.path().join("empty");
    let out = text(&new(&s, &empty, "greeter", "tool", "rust").stdout);
    assert!(out.contains("with no review"), "{out}");
    let generated = std::fs::read_to_string(empty.join("workflow.toml")).expect("generated");
    assert!(
        !generated.contains("\n[review]")
            && generated.contains("# To add one: `host plugins new my-reviewer --kind reviewer"),
        "{generated}"
    );
    let shown = workflow(&empty);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let graph: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    let ids: Vec<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert!(ids.contains(&"step:greeter"), "{graph:#}");
    assert!(!ids.iter().any(|id| id.contains("review")), "{graph:#}");
    // A reviewer made afterwards leaves the workflow as it is.
    let out = text(&new(&s, &empty, "strict", "reviewer", "rust").stdout);
    assert!(out.contains("exists and was left as it is"), "{out}");
    assert_eq!(
        std::fs::read_to_string(empty.join("workflow.toml")).expect("workflow"),
        generated
    );

    // A reviewer already in the folder is the one the workflow names.
    let strict = TestPlugin::new("strict", "reviewer", artifacts::PLUGIN_REVIEWER);
    let with_reviewer = s.plugins_dir("with-reviewer", &[strict], "");
    std::fs::remove_file(with_reviewer.join("workflow.toml")).expect("no workflow");
    let out = text(&new(&s, &with_reviewer, "greeter", "tool", "python").stdout);
    assert!(
        out.contains("reviewed by `strict`") && !out.contains("no review"),
        "{out}"
    );
    let text_of = std::fs::read_to_string(with_reviewer.join("workflow.toml")).expect("workflow");
    assert!(
        text_of.contains("[review]\nplugin = \"strict\""),
        "{text_of}"
    );
    assert!(workflow(&with_reviewer).status.success());

    // An existing workflow is never touched; the output says what to add.
    let mut existing = crate::support::hello_plugins(&s);
    let before = std::fs::read(existing.join("workflow.toml")).expect("workflow");
    let out = text(&new(&s, &existing, "extra", "tool", "js").stdout);
    assert!(
        out.contains("exists and was left as it is")
            && out.contains("[[steps]]\n  id = \"extra\"\n  plugin = \"extra\""),
        "{out}"
    );
    assert_eq!(
        std::fs::read(existing.join("workflow.toml")).expect("workflow"),
        before
    );
    existing.push("extra");
    assert!(existing.join("plugin.toml").is_file());
}
