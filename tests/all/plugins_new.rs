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

    let started = std::time::Instant::now();
    let build = s
        .host()
        .args(["plugins", "build", "--plugins"])
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
        "the generated {lang} {kind} does not build:\n{}",
        text(&build.stderr)
    );
    eprintln!(
        "built the generated {lang} {kind} in {} ms",
        started.elapsed().as_millis()
    );

    let check = s
        .host()
        .args(["plugins", "check", "--plugins"])
        .arg(dir)
        .arg("--workspace")
        .arg(s.ws())
        .output()
        .expect("plugins check");
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

/// A generated tool greets and, proposing nothing, completes without the gate.
fn assert_tool_runs(s: &Scratch, dir: &Path) {
    let out = s.run(dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "completed", "{state:#}");
    let sha = state["steps"]["only"]["output_sha256"]
        .as_str()
        .expect("output");
    let output: serde_json::Value = serde_json::from_slice(&s.blob(&id, sha)).expect("json");
    assert_eq!(output["greeting"], "Hello, Ada!");
}

#[test]
fn a_new_rust_tool_builds_checks_and_runs() {
    let s = Scratch::new();
    let dir = folder_for_tool(&s, "greeter");
    generate_build_check(&s, &dir, "greeter", "tool", "rust");
    assert!(
        dir.join("greeter/target/wasm32-wasip2/release/greeter.wasm")
            .is_file()
    );
    assert_tool_runs(&s, &dir);
}

#[test]
fn a_new_python_tool_builds_checks_and_runs() {
    if !toolchains::available(Lang::Python, "a_new_python_tool_builds_checks_and_runs") {
        return;
    }
    let s = Scratch::new();
    let dir = folder_for_tool(&s, "py-greeter");
    generate_build_check(&s, &dir, "py-greeter", "tool", "python");
    assert_tool_runs(&s, &dir);
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
    let taken = TestPlugin {
        name: "taken",
        kind: "tool",
        component: artifacts::HELLO_TOOL,
        extra: "",
    };
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
