//! The approval gate has no side door (issue: read-write mounts, the host's
//! own state, partial applies, swapped directories, system mounts). Each
//! test drives the real `host` binary and checks the host's files and the
//! journal: nothing is written before approval, nothing outside the grant,
//! never into the host's own paths, and an apply is all or nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{Scratch, TestPlugin, artifacts, events, run_id, snapshot, text};

/// The hostile tool with `${workspace}` mounted read-write at `/ws` and
/// writes granted under `docs/`, reviewed by the scripted reviewer (which
/// passes), running the file system operations `ops` (a TOML array).
fn rw_plugins(s: &Scratch, ops: &str) -> PathBuf {
    let hostile = TestPlugin {
        name: "hostile",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra: "[grants]\nwrites = [\"docs/\"]\n[[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/ws\"\nmode = \"read-write\"\n",
    };
    let reviewer = TestPlugin {
        name: "scripted-reviewer",
        kind: "reviewer",
        component: artifacts::GUEST_SCRIPTED_REVIEWER,
        extra: "",
    };
    let workflow = format!(
        "[workflow]\nname = \"rw\"\n[[steps]]\nid = \"only\"\nplugin = \"hostile\"\ninput = {{ attack = \"fs\", ops = {ops} }}\n[review]\nplugin = \"scripted-reviewer\"\n"
    );
    s.plugins_dir("rw-plugins", &[hostile, reviewer], &workflow)
}

/// `host run --json` with the workspace as the output directory (where a
/// read-write mount of `${workspace}` proposes its changes).
fn run_in_workspace(s: &Scratch, plugins: &Path) -> Output {
    s.host()
        .arg("run")
        .arg("--plugins")
        .arg(plugins)
        .arg("--workspace")
        .arg(s.ws())
        .arg("--json")
        .output()
        .expect("run host")
}

fn docs(s: &Scratch) -> PathBuf {
    let docs = s.ws().join("docs");
    std::fs::create_dir_all(&docs).expect("mkdir docs");
    std::fs::write(docs.join("keep.md"), b"keep\n").expect("write");
    std::fs::write(docs.join("edit.md"), b"old\n").expect("write");
    std::fs::write(docs.join("gone.md"), b"doomed\n").expect("write");
    docs
}

#[test]
fn a_read_write_mount_proposes_its_changes_and_writes_nothing_before_approval() {
    let s = Scratch::new();
    let docs = docs(&s);
    let plugins = rw_plugins(
        &s,
        "[{ op = \"write\", path = \"/ws/docs/new.md\", data = \"fresh\\n\" }, \
          { op = \"append\", path = \"/ws/docs/edit.md\", data = \"more\\n\" }, \
          { op = \"unlink\", path = \"/ws/docs/gone.md\" }]",
    );
    let before = snapshot(&s.ws());
    let out = run_in_workspace(&s, &plugins);
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    // While the run waits, the workspace is exactly as it was.
    assert_eq!(
        snapshot(&s.ws()),
        before,
        "the plugin wrote through its mount"
    );

    let entries = state["change_set"]["entries"].as_array().expect("entries");
    let by_path = |p: &str| {
        entries
            .iter()
            .find(|e| e["path"] == p)
            .unwrap_or_else(|| panic!("no entry for {p}: {entries:?}"))
    };
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(by_path("docs/new.md")["base_sha256"].is_null());
    assert!(by_path("docs/edit.md")["base_sha256"].is_string());
    assert!(
        by_path("docs/gone.md")["new_sha256"].is_null(),
        "a deletion"
    );

    let show = s.host().args(["show", &id]).output().expect("show");
    let shown = text(&show.stdout);
    assert!(shown.contains("docs/gone.md (delete"), "{shown}");
    assert!(
        shown.contains("+++ /dev/null") && shown.contains("-doomed"),
        "{shown}"
    );

    let approved = s.approve(&id);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    assert_eq!(std::fs::read(docs.join("new.md")).expect("new"), b"fresh\n");
    assert_eq!(
        std::fs::read(docs.join("edit.md")).expect("edit"),
        b"old\nmore\n"
    );
    assert!(!docs.join("gone.md").exists(), "the deletion was applied");
    assert_eq!(
        std::fs::read(docs.join("keep.md")).expect("keep"),
        b"keep\n"
    );
    let journal = s.journal(&id);
    let applied = events(&journal, "write_applied");
    assert_eq!(applied.len(), 3);
    let deletion = applied
        .iter()
        .find(|e| e["event"]["path"] == "docs/gone.md")
        .expect("the deletion is journaled");
    assert!(deletion["event"]["sha256"].is_null());
}

#[test]
fn read_write_changes_outside_the_writes_grant_fail_the_step() {
    let s = Scratch::new();
    docs(&s);
    std::fs::write(s.ws().join("notes.md"), b"mine\n").expect("write");
    let plugins = rw_plugins(
        &s,
        "[{ op = \"write\", path = \"/ws/notes.md\", data = \"overwritten\\n\" }]",
    );
    let before = snapshot(&s.ws());
    let out = run_in_workspace(&s, &plugins);
    let id = run_id(&out);
    let state = s.status(&id);
    assert_eq!(state["status"], "failed", "{state:#}");
    assert!(
        state["steps"]["only"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("write-denied") && e.contains("notes.md")),
        "{state:#}"
    );
    assert_eq!(snapshot(&s.ws()), before);
}

#[test]
fn a_swapped_output_directory_is_refused_at_show_and_approve() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/x.md\", text = \"x\\n\" }] }\n",
        "",
    );
    let out = s.run(&plugins, &[]);
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    // Someone moves the output directory away and leaves a symlink to
    // another directory in its place.
    let elsewhere = s.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    std::fs::rename(s.out(), s.path().join("out-moved")).expect("rename");
    std::os::unix::fs::symlink(&elsewhere, s.out()).expect("symlink");

    let show = s.host().args(["show", &id]).output().expect("show");
    assert!(
        text(&show.stdout).contains("not the directory this run was created with"),
        "{}",
        text(&show.stdout)
    );
    let approved = s.approve(&id);
    assert!(!approved.status.success());
    assert!(
        text(&approved.stderr).contains("not the directory this run was created with"),
        "{}",
        text(&approved.stderr)
    );
    assert!(
        snapshot(&elsewhere).is_empty(),
        "nothing landed in the new directory"
    );
    assert!(
        !s.path().join("out-moved/drafts").exists(),
        "nor in the old one"
    );
    assert!(events(&s.journal(&id), "approval_granted").is_empty());
}

/// `host run` of `plugins` over `workspace` into `out`, from `cmd` (a
/// `host` command with its state and cache set).
fn run_into(mut cmd: Command, plugins: &Path, workspace: &Path, out: &Path) -> Output {
    cmd.arg("run")
        .arg("--plugins")
        .arg(plugins)
        .arg("--workspace")
        .arg(workspace)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run host")
}

/// Whether the state directory holds no run.
fn no_runs(state: &Path) -> bool {
    std::fs::read_dir(state.join("runs")).map_or(true, |d| d.count() == 0)
}

/// `host` with its own state and cache directories.
fn host_with(state: &Path, cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.env_remove("HARNESS_STATE_DIR")
        .env_remove("HARNESS_CACHE_DIR")
        .env("XDG_CACHE_HOME", cache)
        .arg("--state-dir")
        .arg(state)
        .arg("--cache-dir")
        .arg(cache)
        .stdin(Stdio::null());
    cmd
}

#[test]
fn writes_that_could_reach_the_hosts_own_paths_are_refused_at_load() {
    let s = Scratch::new();
    let out_dir = s.path().join("project");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    for (what, writes, state, cache) in [
        (
            "the state dir",
            ".state/",
            out_dir.join(".state"),
            crate::support::shared_cache(),
        ),
        ("the cache", ".cache/", s.state(), out_dir.join(".cache")),
    ] {
        let plugins = s.tool_plugins(
            "hello",
            artifacts::HELLO_TOOL,
            Box::leak(format!("[grants]\nwrites = [\"{writes}\", \"hello/\"]\n").into_boxed_str()),
            "{ name = \"World\" }",
        );
        let out = run_into(host_with(&state, &cache), &plugins, &s.ws(), &out_dir);
        assert!(!out.status.success(), "{what}");
        let err = text(&out.stderr);
        assert!(
            err.contains("grants.writes") && err.contains(writes),
            "{what}: {err}"
        );
        assert!(no_runs(&state), "{what}: no run was created");
    }
    // The plugins folder is a host input: no `writes` prefix may cover it.
    let plugins = s.tool_plugins(
        "hello",
        artifacts::HELLO_TOOL,
        "[grants]\nwrites = [\"plugins/\"]\n",
        "{ name = \"World\" }",
    );
    let out = run_into(s.host(), &plugins, &s.ws(), s.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("a file the host reads to decide what runs"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_output_directory_inside_the_state_is_refused() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.state().join("runs")).expect("mkdir");
    let plugins = crate::support::hello_plugins(&s);
    let out = run_into(s.host(), &plugins, &s.ws(), &s.state().join("runs"));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("state directory"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(s.state().join("runs"))
            .expect("ls")
            .count(),
        0
    );
}

#[test]
fn a_read_write_mount_holding_the_plugins_folder_is_refused() {
    let s = Scratch::new();
    // The plugins folder lies inside the workspace the tool mounts read-write.
    let hostile = TestPlugin {
        name: "hostile",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra: "[grants]\nwrites = [\"x/\"]\n[[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/ws\"\nmode = \"read-write\"\n",
    };
    let dir = s.plugins_dir(
        "ws/plugins",
        &[hostile, crate::support::reviewer()],
        &crate::support::one_step_workflow("hostile", "{ attack = \"none\" }"),
    );
    let manifest_before = std::fs::read(dir.join("hostile/plugin.toml")).expect("manifest");
    let out = run_in_workspace(&s, &dir);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("grants.mounts[0]"), "{err}");
    assert_eq!(
        std::fs::read(dir.join("hostile/plugin.toml")).expect("manifest"),
        manifest_before
    );
}

#[test]
fn a_file_and_its_parent_or_a_too_long_invisible_or_host_kind_name_are_refused_before_staging() {
    for (writes, kind, needle) in [
        (
            "[{ path = \"drafts/a\", text = \"1\" }, { path = \"drafts/a/b\", text = \"2\" }]",
            "write-conflict",
            "a file and a directory at once",
        ),
        (
            &*Box::leak(
                format!(
                    "[{{ path = \"drafts/{}\", text = \"1\" }}]",
                    "n".repeat(300)
                )
                .into_boxed_str(),
            ),
            "write-denied",
            "longer than 255 bytes",
        ),
        (
            "[{ path = \"drafts/evil\u{202e}dm.exe\", text = \"1\" }]",
            "write-denied",
            "invisible characters",
        ),
        (
            "[{ path = \"drafts/zero\u{200b}width.md\", text = \"1\" }]",
            "write-denied",
            "invisible characters",
        ),
        (
            "[{ path = \"drafts/README.md\u{180e}\", text = \"1\" }]",
            "write-denied",
            "invisible characters",
        ),
        (
            "[{ path = \"drafts/hangul\u{3164}filler.md\", text = \"1\" }]",
            "write-denied",
            "invisible characters",
        ),
        (
            "[{ path = \"drafts/.harness/runs/r1/journal\", text = \"1\" }]",
            "write-denied",
            "of the host's own kind",
        ),
        (
            "[{ path = \"drafts/harness.toml\", text = \"state = '/tmp'\" }]",
            "write-denied",
            "of the host's own kind",
        ),
        (
            "[{ path = \"drafts/.harness-tmp-1-1\", text = \"1\" }]",
            "write-denied",
            "of the host's own kind",
        ),
    ] {
        let s = Scratch::new();
        let plugins = s.scripted_plugins(
            &format!(
                "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = {{ writes = {writes} }}\n"
            ),
            "",
        );
        let out = s.run(&plugins, &[]);
        let id = run_id(&out);
        let state = s.status(&id);
        assert_eq!(state["status"], "failed", "{state:#}");
        let error = state["steps"]["only"]["error"].as_str().expect("error");
        assert!(error.starts_with(kind) && error.contains(needle), "{error}");
        assert!(state["change_set"].is_null(), "nothing reached the gate");
        assert!(snapshot(&s.out()).is_empty(), "nothing was written");
    }
}

#[test]
fn system_and_credential_directories_are_refused_as_mounts() {
    let s = Scratch::new();
    let home = harness_host::os_user::home_dir().expect("a home directory");
    for host in [
        "/etc/ssh".to_string(),
        "/etc/ssl/private".to_string(),
        "/proc/1".to_string(),
        "/proc/self".to_string(),
        "/sys/kernel".to_string(),
        "/dev/shm".to_string(),
        "/usr/bin".to_string(),
        "/home".to_string(),
        home.display().to_string(),
        home.join(".ssh").display().to_string(),
        home.join(".aws").display().to_string(),
    ] {
        for mode in ["read", "read-write"] {
            let plugins = s.tool_plugins(
                "hello",
                artifacts::HELLO_TOOL,
                Box::leak(
                    format!(
                        "[[grants.mounts]]\nhost = \"{host}\"\nguest = \"/d\"\nmode = \"{mode}\"\n"
                    )
                    .into_boxed_str(),
                ),
                "{ name = \"World\" }",
            );
            let out = s.run(&plugins, &[]);
            assert!(!out.status.success(), "{host} ({mode}) was accepted");
            let err = text(&out.stderr);
            assert!(
                err.contains("system") && err.contains("grants.mounts[0]"),
                "{host}: {err}"
            );
            assert!(!err.contains("/proc/<pid>"), "{err}");
        }
    }
    // `${workspace}` is checked too.
    let plugins = s.tool_plugins(
        "hello",
        artifacts::HELLO_TOOL,
        "[[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/ws\"\nmode = \"read\"\n",
        "{ name = \"World\" }",
    );
    let out = run_into(s.host(), &plugins, Path::new("/etc"), &s.out());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`/etc`"),
        "{}",
        text(&out.stderr)
    );
    assert!(no_runs(&s.state()));
}
