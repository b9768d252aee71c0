//! The project file and the per-user compile cache: `harness.toml` found by
//! walking up from the current directory names the plugins, workspace, out
//! and state folders (flags and `HARNESS_STATE_DIR` beat it), so `host`
//! works from any subdirectory; outside a project the errors say which flag
//! or file is missing; an unknown key is an error. The compile cache
//! defaults to `$XDG_CACHE_HOME/harness` (else `~/.cache/harness`), which
//! no plugin may be granted, and `host cache` and `host doctor` report it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::{Scratch, artifacts, hello_plugins, run_id, shared_cache, text};

/// `host` started in `cwd` with no directory flags and no host environment
/// but `XDG_CACHE_HOME` (the per-user cache) pointing at `xdg`.
fn bare(cwd: &Path, xdg: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.env_remove("HARNESS_STATE_DIR")
        .env_remove("HARNESS_CACHE_DIR")
        .env_remove("HARNESS_LOG")
        .env("XDG_CACHE_HOME", xdg)
        .env("USER", "test-operator")
        .current_dir(cwd)
        .stdin(Stdio::null());
    cmd
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        text(&out.stderr),
        text(&out.stdout)
    );
}

/// `out` parsed as JSON, after checking that `what` succeeded.
fn ok_json(out: &Output, what: &str) -> Value {
    ok(out, what);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e})"))
}

/// `host run` of `plugins` over `s`'s workspace with `s`'s state dir, started
/// in `s`'s root with no project file and `xdg` as the per-user cache home.
fn bare_run(s: &Scratch, xdg: &Path, plugins: &Path) -> Command {
    let mut cmd = bare(s.path(), xdg);
    cmd.arg("--state-dir")
        .arg(s.state())
        .args(["run", "--plugins"])
        .arg(plugins)
        .arg("--workspace")
        .arg(s.ws());
    cmd
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).expect("canonicalize")
}

/// The scratch area made a project: `harness.toml` at its root naming its
/// hello plugins, `ws/`, `out/` and `state/`.
fn project(s: &Scratch) -> PathBuf {
    let plugins = hello_plugins(s);
    assert_eq!(plugins, s.path().join("plugins"));
    std::fs::write(
        s.path().join("harness.toml"),
        "plugins = \"plugins\"\nworkspace = \"ws\"\nout = \"out\"\nstate = \"state\"\n",
    )
    .expect("write harness.toml");
    plugins
}

#[test]
fn a_project_file_lets_host_run_from_any_subdirectory() {
    let s = Scratch::new();
    let plugins = project(&s);
    let deep = s.ws().join("deep").join("er");
    std::fs::create_dir_all(&deep).expect("mkdir");
    let out = bare(&deep, &s.path().join("xdg"))
        .args(["--cache-dir"])
        .arg(shared_cache())
        .args(["run", "--json"])
        .output()
        .expect("run");
    ok(&out, "host run from a subdirectory");
    let id = run_id(&out);

    // The run lives in the project's state dir, read back from another
    // subdirectory, and records the project's folders.
    let elsewhere = s.path().join("plugins").join("hello");
    let status = bare(&elsewhere, &s.path().join("xdg"))
        .args(["status", &id, "--json"])
        .output()
        .expect("status");
    let state = ok_json(&status, "host status from another subdirectory");
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    assert_eq!(state["workspace"], canonical(&s.ws()).display().to_string());
    assert_eq!(state["out_dir"], canonical(&s.out()).display().to_string());
    assert_eq!(
        state["plugins_dir"],
        canonical(&plugins).display().to_string()
    );
    assert!(
        s.journal_path(&id).is_file(),
        "journal in the project's state dir"
    );
    assert!(
        !deep.join(".harness").exists(),
        "no state dir where the command ran"
    );

    // A flag beats the file, and so does HARNESS_STATE_DIR: neither sees the run.
    let other = s.path().join("other-state");
    let flagged = bare(&deep, &s.path().join("xdg"))
        .arg("--state-dir")
        .arg(&other)
        .args(["status", &id])
        .output()
        .expect("status");
    assert!(!flagged.status.success(), "{}", text(&flagged.stdout));
    let env = bare(&deep, &s.path().join("xdg"))
        .env("HARNESS_STATE_DIR", &other)
        .args(["status", &id])
        .output()
        .expect("status");
    assert!(!env.status.success(), "{}", text(&env.stdout));
    // The file is one of the host's inputs: a plugin may not be granted a
    // write to it (it would choose the next run's plugins).
    std::fs::write(
        plugins.join("hello").join("plugin.toml"),
        format!(
            "[plugin]\nname = \"hello\"\nkind = \"tool\"\ncomponent = \"{}\"\n[grants]\nwrites = [\"harness.toml\"]\n",
            artifacts::HELLO_TOOL
        ),
    )
    .expect("manifest");
    let refused = bare(&deep, &s.path().join("xdg"))
        .args(["--cache-dir"])
        .arg(shared_cache())
        .args(["run", "--out"])
        .arg(s.path())
        .output()
        .expect("run");
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(
        err.contains("a file the host reads to decide what runs"),
        "{err}"
    );
    assert_eq!(crate::support::run_ids(&s.state()), [id], "no second run");
}

#[test]
fn outside_a_project_the_error_names_the_flag_and_the_search() {
    let s = Scratch::new();
    let nowhere = tempfile::tempdir().expect("tempdir");
    let out = bare(nowhere.path(), &s.path().join("xdg"))
        .args(["run", "--workspace"])
        .arg(s.ws())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("error: no plugins folder: "), "{err}");
    assert!(
        err.contains(&format!(
            "searched from `{}` up to /",
            nowhere.path().display()
        )),
        "{err}"
    );
    assert!(
        err.contains("\nhint: pass --plugins DIR, or create harness.toml"),
        "{err}"
    );
    // Nothing was created where the command ran.
    assert_eq!(
        std::fs::read_dir(nowhere.path()).expect("ls").count(),
        0,
        "no state dir, no cache"
    );
    // And with plugins but no workspace, the workspace is what is missing.
    let out = bare(nowhere.path(), &s.path().join("xdg"))
        .args(["run", "--plugins"])
        .arg(hello_plugins(&s))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("error: no workspace: "), "{err}");
    assert!(
        err.contains("\nhint: pass --workspace DIR, or create harness.toml"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(nowhere.path()).expect("ls").count(), 0);
}

#[test]
fn an_unknown_key_in_the_project_file_is_an_error_naming_key_and_file() {
    let s = Scratch::new();
    let file = s.path().join("harness.toml");
    std::fs::write(&file, "plugin = \"plugins\"\n").expect("write");
    let sub = s.ws();
    let out = bare(&sub, &s.path().join("xdg"))
        .args(["runs"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("`plugin`"), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("\nhint: "), "{err}");
    assert!(!s.path().join(".harness").exists(), "no state dir was made");
    // Commands that read no project still work.
    let out = bare(&sub, &s.path().join("xdg"))
        .args(["completions", "bash"])
        .output()
        .expect("completions");
    ok(&out, "host completions");
}

#[test]
fn host_init_writes_a_project_file_the_next_command_uses() {
    let s = Scratch::new();
    let root = s.path().join("new-project");
    std::fs::create_dir_all(root.join("src")).expect("mkdir");
    let xdg = s.path().join("xdg");
    ok(
        &bare(&root, &xdg).arg("init").output().expect("init"),
        "host init",
    );
    let file = root.join("harness.toml");
    let written = std::fs::read_to_string(&file).expect("harness.toml");
    assert!(written.contains("plugins = \"plugins\""), "{written}");
    // A second init refuses and leaves the file alone.
    let again = bare(&root, &xdg).arg("init").output().expect("init");
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("never overwrites"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), written);
    // `plugins new` from a subdirectory creates the plugin in the
    // project's plugins folder, not under the subdirectory.
    ok(
        &bare(&root.join("src"), &xdg)
            .args(["plugins", "new", "word-count"])
            .output()
            .expect("plugins new"),
        "host plugins new",
    );
    assert!(root.join("plugins/word-count/plugin.toml").is_file());
    assert!(!root.join("src/plugins").exists());
}

#[test]
fn the_compile_cache_is_per_user_and_host_cache_and_doctor_report_it() {
    let s = Scratch::new();
    let plugins = hello_plugins(&s);
    let xdg = s.path().join("xdg");
    let run = bare_run(&s, &xdg, &plugins)
        .arg("--out")
        .arg(s.out())
        .output()
        .expect("run");
    ok(&run, "host run");
    // The components were compiled into the per-user cache, not the state dir.
    let cache = xdg.join("harness");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .expect("the per-user cache exists")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 2, "hello and the reviewer");
    assert!(!s.state().join("cache").exists());
    // A second project of the same user finds them there: no compile.
    let second = Scratch::new();
    let again = bare_run(&second, &xdg, &plugins).output().expect("run");
    ok(&again, "host run in another project");
    assert!(
        !text(&again.stderr).contains("compiled plugin"),
        "{}",
        text(&again.stderr)
    );

    let show = bare(s.path(), &xdg)
        .args(["cache", "show", "--json", "--plugins"])
        .arg(&plugins)
        .output()
        .expect("cache show");
    let listing = ok_json(&show, "host cache show");
    assert_eq!(listing["dir"], cache.display().to_string(), "{listing:#}");
    assert_eq!(listing["source"], "user");
    assert_eq!(listing["entries"].as_array().map(Vec::len), Some(2));

    // Without XDG_CACHE_HOME (or with a relative one, which XDG says to
    // ignore) it is ~/.cache/harness.
    let home = s.path().join("home");
    let show = bare(s.path(), &xdg)
        .env("XDG_CACHE_HOME", "relative/cache")
        .env("HOME", &home)
        .args(["cache", "show", "--json"])
        .output()
        .expect("cache show");
    let listing = ok_json(&show, "host cache show");
    assert_eq!(
        listing["dir"],
        home.join(".cache/harness").display().to_string()
    );
    assert!(!home.exists(), "showing the cache creates nothing");

    let doctor = bare(s.path(), &xdg)
        .args(["doctor", "--json", "--plugins"])
        .arg(&plugins)
        .output()
        .expect("doctor");
    let report: Value = serde_json::from_slice(&doctor.stdout).expect("doctor json");
    let cache_finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["subject"] == "cache dir")
        .expect("a cache dir finding")
        .clone();
    let detail = cache_finding["detail"].as_str().expect("detail");
    assert!(detail.contains(&cache.display().to_string()), "{detail}");
    assert!(detail.contains("per user"), "{detail}");
}

#[test]
fn a_write_grant_reaching_the_per_user_cache_is_refused_at_load() {
    let s = Scratch::new();
    let project = s.path().join("project");
    std::fs::create_dir_all(&project).expect("mkdir");
    let plugins = s.tool_plugins(
        "hello",
        artifacts::HELLO_TOOL,
        "[grants]\nwrites = [\".xdg/\", \"hello/\"]\n",
        "{ name = \"World\" }",
    );
    // The user's cache lies under the output directory's `.xdg/`.
    let out = bare_run(&s, &project.join(".xdg"), &plugins)
        .arg("--out")
        .arg(&project)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("grants.writes") && err.contains(".xdg/"),
        "{err}"
    );
    assert!(crate::support::run_ids(&s.state()).is_empty(), "no run");
    assert!(
        !project.join(".xdg/harness").exists()
            || std::fs::read_dir(project.join(".xdg/harness"))
                .expect("ls")
                .flatten()
                .all(|e| e.path().extension().is_some_and(|x| x == "cwasm")
                    || e.file_name() == "fingerprints"
                    || e.file_name() == "descriptors"),
        "nothing but the cache's own entries there"
    );
}
