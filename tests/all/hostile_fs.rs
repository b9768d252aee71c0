//! Hostile corpus, file system: a plugin with a read-only mount at `/ro` and
//! a read-write mount at `/rw` tries to read, write or alias files outside
//! them, or to modify the read-only mount (the read-write mount is a private
//! copy per call). Each test names its attack and checks the host's files
//! afterwards: no host file changed (what the plugin did in its copy comes
//! back only as proposals), the canaries next to the mounts are unchanged,
//! and their content never reached the plugin (checked on every invocation
//! by [`Sandbox::invoke`]).

use std::path::Path;

use serde_json::json;

use crate::sandbox::{RO_FILE, RW_FILE, Sandbox};

/// Runs `attack` and asserts that nothing under the root changed.
fn nothing_changes(s: &Sandbox, attack: impl FnOnce(&Sandbox)) {
    let before = s.files();
    attack(s);
    assert_eq!(s.files(), before, "host files changed");
    s.assert_canaries_intact();
    s.assert_still_serves();
}

#[test]
fn dotdot_out_of_the_read_only_mount_cannot_read_the_canary() {
    let s = Sandbox::new();
    nothing_changes(&s, |s| {
        for path in [
            "/ro/../canary.txt",
            "/ro/../../canary.txt",
            "/ro/sub/../../secret/canary.txt",
            "/rw/../canary.txt",
        ] {
            s.refused(json!({ "op": "read", "path": path }));
        }
        s.refused(json!({ "op": "list", "path": "/ro/.." }));
    });
}

#[test]
fn dotdot_out_of_the_read_write_mount_cannot_create_or_overwrite() {
    let s = Sandbox::new();
    nothing_changes(&s, |s| {
        for path in [
            "/rw/../pwned.txt",
            "/rw/../canary.txt",
            "/rw/../../pwned.txt",
        ] {
            s.refused(json!({ "op": "write", "path": path, "data": "pwned" }));
        }
        s.refused(json!({ "op": "mkdir", "path": "/rw/../pwned-dir" }));
        s.refused(json!({ "op": "rename", "from": "/rw/existing.txt", "to": "/rw/../moved.txt" }));
    });
    assert!(!s.root.join("pwned.txt").exists() && !s.root.join("moved.txt").exists());
}

#[test]
fn absolute_paths_outside_every_mount_are_unreachable() {
    let s = Sandbox::new();
    let canary = s.root.join("canary.txt").display().to_string();
    nothing_changes(&s, |s| {
        for path in [
            "/etc/passwd",
            "/canary.txt",
            canary.as_str(),
            "/proc/self/environ",
        ] {
            s.refused(json!({ "op": "read", "path": path }));
        }
        s.refused(json!({ "op": "list", "path": "/" }));
        s.refused(json!({ "op": "write", "path": "/pwned.txt", "data": "x" }));
        s.refused(json!({ "op": "write", "path": canary, "data": "x" }));
    });
}

#[test]
fn step_out_and_back_in_is_refused() {
    // `sub/../../rw/x` ends inside the mount, but only by passing above its
    // root on the way; the sandbox resolves paths step by step and refuses.
    let s = Sandbox::new();
    nothing_changes(&s, |s| {
        s.refused(json!({ "op": "read", "path": "/ro/sub/../../ro/file.txt" }));
        s.refused(json!({ "op": "write", "path": "/rw/sub/../../rw/x.txt", "data": "x" }));
    });
}

#[test]
fn guest_made_symlink_to_outside_cannot_be_followed() {
    let s = Sandbox::new();
    let canary = s.root.join("canary.txt").display().to_string();
    let report = s.fs(json!([
        { "op": "symlink", "target": "../canary.txt", "link": "/rw/rel-link" },
        { "op": "read", "path": "/rw/rel-link" },
        { "op": "symlink", "target": canary, "link": "/rw/abs-link" },
        { "op": "read", "path": "/rw/abs-link" },
        { "op": "symlink", "target": "..", "link": "/rw/up" },
        { "op": "read", "path": "/rw/up/canary.txt" },
        { "op": "list", "path": "/rw/up" },
    ]));
    for (i, r) in report.iter().enumerate() {
        if r["op"] != "symlink" {
            assert_eq!(r["ok"], false, "op {i} succeeded: {report:?}");
        }
    }
    // Whatever links were created are inside the mount and point where the
    // guest said; following them is what the sandbox refuses.
    for link in ["rel-link", "abs-link", "up"] {
        if let Ok(target) = std::fs::read_link(s.root.join("rw").join(link)) {
            assert!(
                target.is_relative() || target == Path::new(&canary),
                "{target:?}"
            );
        }
    }
    s.assert_canaries_intact();
    s.assert_still_serves();
}

#[test]
fn guest_made_symlink_to_outside_cannot_be_written_through() {
    let s = Sandbox::new();
    let report = s.fs(json!([
        { "op": "symlink", "target": "../pwned.txt", "link": "/rw/out" },
        { "op": "write", "path": "/rw/out", "data": "pwned" },
        { "op": "create-new", "path": "/rw/out", "data": "pwned" },
        { "op": "symlink", "target": "../canary.txt", "link": "/rw/canary-link" },
        { "op": "write", "path": "/rw/canary-link", "data": "pwned" },
        { "op": "append", "path": "/rw/canary-link", "data": "pwned" },
        { "op": "truncate", "path": "/rw/canary-link" },
        { "op": "symlink", "target": "..", "link": "/rw/up" },
        { "op": "write", "path": "/rw/up/pwned.txt", "data": "pwned" },
        { "op": "mkdir", "path": "/rw/up/pwned-dir" },
    ]));
    for r in &report {
        if r["op"] != "symlink" {
            assert_eq!(r["ok"], false, "{report:?}");
        }
    }
    assert!(!s.root.join("pwned.txt").exists());
    assert!(!s.root.join("pwned-dir").exists());
    s.assert_canaries_intact();
    s.assert_still_serves();
}

#[test]
fn guest_made_symlink_from_the_read_write_into_the_read_only_mount_grants_nothing() {
    let s = Sandbox::new();
    let before = std::fs::read(s.root.join("ro/file.txt")).expect("read");
    let report = s.fs(json!([
        { "op": "symlink", "target": "../ro/file.txt", "link": "/rw/ro-link" },
        { "op": "write", "path": "/rw/ro-link", "data": "pwned" },
        { "op": "read", "path": "/rw/ro-link" },
    ]));
    assert_eq!(report[1]["ok"], false, "{report:?}");
    assert_eq!(report[2]["ok"], false, "{report:?}");
    assert_eq!(
        std::fs::read(s.root.join("ro/file.txt")).expect("read"),
        before
    );
    s.assert_still_serves();
}

#[cfg(unix)]
fn plant_escapes(root: &Path) {
    use std::os::unix::fs::symlink;
    symlink(root.join("canary.txt"), root.join("ro/abs-escape")).expect("symlink");
    symlink("../canary.txt", root.join("ro/rel-escape")).expect("symlink");
    symlink(root.join("secret"), root.join("ro/dir-escape")).expect("symlink");
    symlink(root.join("canary.txt"), root.join("rw/abs-escape")).expect("symlink");
    symlink("../secret", root.join("rw/dir-escape")).expect("symlink");
}

#[cfg(unix)]
#[test]
fn host_planted_symlink_inside_a_mount_pointing_outside_is_not_followed() {
    let s = Sandbox::build("", plant_escapes);
    nothing_changes(&s, |s| {
        for path in [
            "/ro/abs-escape",
            "/ro/rel-escape",
            "/ro/dir-escape/canary.txt",
            "/rw/abs-escape",
            "/rw/dir-escape/canary.txt",
        ] {
            s.refused(json!({ "op": "read", "path": path }));
        }
        s.refused(json!({ "op": "list", "path": "/ro/dir-escape" }));
        s.refused(json!({ "op": "truncate", "path": "/rw/abs-escape" }));
        s.refused(json!({ "op": "write", "path": "/rw/dir-escape/new.txt", "data": "pwned" }));
        // Symlinks are not copied into the private copy: a write there makes
        // a plain file in the copy, proposed under the link's name, and
        // staging it is refused because the target is a link.
        let (report, changes) =
            s.fs_changes(json!([{ "op": "write", "path": "/rw/abs-escape", "data": "pwned" }]));
        assert_eq!(report[0]["ok"], true, "{report:?}");
        assert_eq!(
            changes,
            [("abs-escape".to_string(), Some("pwned".to_string()))]
        );
    });
    assert_staging_refuses_the_link(&s, "abs-escape");
    assert!(!s.root.join("secret/new.txt").exists());
}

/// The output directory (the read-write mount's host directory) holds a
/// symlink at `path`: a proposal for it is refused when the run binds its
/// change set, so nothing is ever written through the link.
fn assert_staging_refuses_the_link(s: &Sandbox, path: &str) {
    let out = cap_std::fs::Dir::open_ambient_dir(s.root.join("rw"), cap_std::ambient_authority())
        .expect("open the output directory");
    let e = harness_host::run::changeset::read_base(&out, path).expect_err("a link is refused");
    assert!(e.to_string().contains("symbolic link"), "{e}");
}

#[cfg(unix)]
#[test]
fn dangling_symlink_cannot_create_a_file_outside() {
    let s = Sandbox::build("", |root| {
        use std::os::unix::fs::symlink;
        symlink("../created-outside.txt", root.join("rw/dangling-rel")).expect("symlink");
        symlink(
            root.join("created-outside.txt"),
            root.join("rw/dangling-abs"),
        )
        .expect("symlink");
    });
    nothing_changes(&s, |s| {
        for link in ["/rw/dangling-rel", "/rw/dangling-abs"] {
            s.refused(json!({ "op": "read", "path": link }));
            let (report, changes) = s.fs_changes(json!([
                { "op": "write", "path": link, "data": "pwned" },
                { "op": "create-new", "path": link, "data": "pwned" },
            ]));
            assert_eq!(report[0]["ok"], true, "the copy has no link: {report:?}");
            let name = link.trim_start_matches("/rw/").to_string();
            assert_eq!(changes, [(name, Some("pwned".to_string()))]);
        }
    });
    assert_staging_refuses_the_link(&s, "dangling-rel");
    assert_staging_refuses_the_link(&s, "dangling-abs");
    assert!(!s.root.join("created-outside.txt").exists());
}

#[cfg(unix)]
#[test]
fn looping_symlinks_fail_cleanly() {
    let s = Sandbox::build("", |root| {
        use std::os::unix::fs::symlink;
        symlink("loop-b", root.join("rw/loop-a")).expect("symlink");
        symlink("loop-a", root.join("rw/loop-b")).expect("symlink");
        symlink("self", root.join("ro/self")).expect("symlink");
    });
    nothing_changes(&s, |s| {
        s.refused(json!({ "op": "read", "path": "/rw/loop-a" }));
        s.refused(json!({ "op": "read", "path": "/ro/self" }));
        s.refused(json!({ "op": "list", "path": "/ro/self/" }));
        let (_, changes) =
            s.fs_changes(json!([{ "op": "write", "path": "/rw/loop-b", "data": "x" }]));
        assert_eq!(changes, [("loop-b".to_string(), Some("x".to_string()))]);
    });
    assert_staging_refuses_the_link(&s, "loop-b");
}

#[test]
fn trailing_slash_on_a_file_is_refused() {
    let s = Sandbox::new();
    nothing_changes(&s, |s| {
        s.refused(json!({ "op": "read", "path": "/ro/file.txt/" }));
        s.refused(json!({ "op": "write", "path": "/rw/existing.txt/", "data": "x" }));
        s.refused(json!({ "op": "append", "path": "/rw/existing.txt/", "data": "x" }));
        s.refused(json!({ "op": "rename", "from": "/rw/existing.txt/", "to": "/rw/moved.txt" }));
        s.refused(json!({ "op": "unlink", "path": "/rw/existing.txt/" }));
    });
}

#[test]
fn double_slashes_stay_inside_the_mount() {
    let s = Sandbox::new();
    let before = s.files();
    let (report, changes) = s.fs_changes(json!([
        { "op": "read", "path": "/ro//sub//inner.txt" },
        { "op": "list", "path": "/ro//" },
        { "op": "mkdir", "path": "/rw/made//" },
        { "op": "write", "path": "/rw//sub//made.txt", "data": "inside" },
        { "op": "read", "path": "/ro//..//canary.txt" },
    ]));
    assert_eq!(report[0]["data"], String::from_utf8_lossy(RO_FILE).as_ref());
    assert_eq!(report[1]["data"], "file.txt\nsub");
    assert_eq!(report[4]["ok"], false, "{report:?}");
    // What was allowed happened in the private copy, and comes back as a
    // proposal for the file inside the mount; no host file changed.
    assert_eq!(
        changes,
        [("sub/made.txt".to_string(), Some("inside".to_string()))]
    );
    assert_eq!(s.files(), before);
    s.assert_canaries_intact();
}

/// One modification attempt on the read-only mount: refused, and the mount
/// is byte-for-byte unchanged.
fn read_only_refuses(op: serde_json::Value) {
    let s = Sandbox::new();
    let before = crate::support::snapshot(&s.root.join("ro"));
    let error = s.refused(op.clone());
    assert!(!error.is_empty(), "{op}");
    assert_eq!(crate::support::snapshot(&s.root.join("ro")), before, "{op}");
    assert_eq!(
        std::fs::read(s.root.join("ro/file.txt")).expect("read"),
        RO_FILE
    );
    s.assert_canaries_intact();
    s.assert_still_serves();
}

#[test]
fn read_only_mount_refuses_overwrite() {
    read_only_refuses(json!({ "op": "write", "path": "/ro/file.txt", "data": "pwned" }));
}

#[test]
fn read_only_mount_refuses_append() {
    read_only_refuses(json!({ "op": "append", "path": "/ro/file.txt", "data": "pwned" }));
}

#[test]
fn read_only_mount_refuses_truncate_on_open() {
    read_only_refuses(json!({ "op": "truncate", "path": "/ro/file.txt" }));
}

#[test]
fn read_only_mount_refuses_create() {
    read_only_refuses(json!({ "op": "create-new", "path": "/ro/new.txt", "data": "pwned" }));
}

#[test]
fn read_only_mount_refuses_mkdir() {
    read_only_refuses(json!({ "op": "mkdir", "path": "/ro/newdir" }));
}

#[test]
fn read_only_mount_refuses_rename() {
    read_only_refuses(json!({ "op": "rename", "from": "/ro/file.txt", "to": "/ro/renamed.txt" }));
}

#[test]
fn read_only_mount_refuses_unlink() {
    read_only_refuses(json!({ "op": "unlink", "path": "/ro/file.txt" }));
}

#[test]
fn read_only_mount_refuses_rmdir() {
    read_only_refuses(json!({ "op": "rmdir", "path": "/ro/sub" }));
}

#[test]
fn read_only_mount_refuses_symlink_creation() {
    read_only_refuses(json!({ "op": "symlink", "target": "file.txt", "link": "/ro/link" }));
}

#[test]
fn hard_link_of_a_read_only_file_into_the_read_write_mount_then_write() {
    let s = Sandbox::new();
    let report = s.fs(json!([
        { "op": "hard-link", "from": "/ro/file.txt", "to": "/rw/linked.txt" },
        { "op": "write", "path": "/rw/linked.txt", "data": "pwned" },
    ]));
    assert_eq!(
        report[0]["ok"], false,
        "hard link across mounts: {report:?}"
    );
    // The write, if any, created a new file in the read-write mount; the
    // read-only original is untouched.
    assert_eq!(
        std::fs::read(s.root.join("ro/file.txt")).expect("read"),
        RO_FILE
    );
    s.assert_canaries_intact();
    s.assert_still_serves();
}

#[test]
fn rename_of_a_read_only_file_into_the_read_write_mount_then_write() {
    let s = Sandbox::new();
    let report = s.fs(json!([
        { "op": "rename", "from": "/ro/file.txt", "to": "/rw/stolen.txt" },
        { "op": "write", "path": "/rw/stolen.txt", "data": "pwned" },
    ]));
    assert_eq!(report[0]["ok"], false, "rename across mounts: {report:?}");
    assert_eq!(
        std::fs::read(s.root.join("ro/file.txt")).expect("read"),
        RO_FILE
    );
    s.assert_canaries_intact();
    s.assert_still_serves();
}

#[test]
fn hard_link_inside_the_read_write_mount_to_outside_is_refused() {
    // A hard link names an inode; linking the canary in would expose it.
    let s = Sandbox::new();
    nothing_changes(&s, |s| {
        s.refused(json!({ "op": "hard-link", "from": "/rw/../canary.txt", "to": "/rw/canary" }));
        s.refused(
            json!({ "op": "hard-link", "from": "/rw/existing.txt", "to": "/rw/../linked.txt" }),
        );
    });
}

#[test]
fn allowed_operations_in_the_read_write_mount_work_and_stay_there() {
    // The control case: the same plugin can do everything its grant allows,
    // in its private copy; what it did comes back as proposals, and no host
    // file changes before a person approves them.
    let s = Sandbox::new();
    let before = s.files();
    let (report, changes) = s.fs_changes(json!([
        { "op": "read", "path": "/rw/existing.txt" },
        { "op": "append", "path": "/rw/existing.txt", "data": "more\n" },
        { "op": "mkdir", "path": "/rw/sub/deeper" },
        { "op": "write", "path": "/rw/sub/deeper/new.txt", "data": "new" },
        { "op": "rename", "from": "/rw/sub/deeper/new.txt", "to": "/rw/moved.txt" },
        { "op": "read", "path": "/ro/file.txt" },
    ]));
    for r in &report {
        assert_eq!(r["ok"], true, "{report:?}");
    }
    assert_eq!(report[0]["data"], String::from_utf8_lossy(RW_FILE).as_ref());
    let appended = String::from_utf8_lossy(&[RW_FILE, b"more\n"].concat()).into_owned();
    assert_eq!(
        changes,
        [
            ("existing.txt".to_string(), Some(appended)),
            ("moved.txt".to_string(), Some("new".to_string())),
        ]
    );
    assert_eq!(s.files(), before, "no host file changed");
    // A deletion is a proposal too.
    let (_, changes) = s.fs_changes(json!([{ "op": "unlink", "path": "/rw/existing.txt" }]));
    assert_eq!(changes, [("existing.txt".to_string(), None)]);
    assert_eq!(s.files(), before);
    s.assert_canaries_intact();
}

#[test]
fn escape_attempts_through_the_real_host_leave_no_canary_in_journal_or_output() {
    // The same attacks through `host run`: the canary next to the workspace
    // appears nowhere in what the host printed or recorded.
    use crate::sandbox::CANARY;
    use crate::support::{
        Scratch, TestPlugin, artifacts, one_step_workflow, reviewer, run_id, snapshot, text,
    };

    let s = Scratch::new();
    std::fs::write(s.path().join("canary.txt"), CANARY).expect("write canary");
    let hostile = TestPlugin {
        name: "hostile",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra: "[[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/ws\"\nmode = \"read\"\n",
    };
    let input = "{ attack = \"fs\", ops = [\
        { op = \"read\", path = \"/ws/../canary.txt\" }, \
        { op = \"read\", path = \"/ws/../../canary.txt\" }, \
        { op = \"list\", path = \"/ws/..\" }, \
        { op = \"write\", path = \"/ws/../canary.txt\", data = \"pwned\" }, \
        { op = \"symlink\", target = \"../canary.txt\", link = \"/ws/link\" } ] }";
    let dir = s.plugins_dir(
        "plugins",
        &[hostile, reviewer()],
        &one_step_workflow("hostile", input),
    );
    let ws_before = snapshot(&s.ws());
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    let state = s.status(&id);
    let sha = state["steps"]["only"]["output_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("the step failed: {state:#}"));
    let report: serde_json::Value = serde_json::from_slice(&s.blob(&id, sha)).expect("json");
    for op in report["ops"].as_array().expect("ops") {
        assert_eq!(op["ok"], false, "{report}");
    }
    assert_eq!(snapshot(&s.ws()), ws_before);
    assert_eq!(
        std::fs::read_to_string(s.path().join("canary.txt")).expect("read"),
        CANARY
    );
    let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!printed.contains(CANARY), "{printed}");
    for (path, bytes) in snapshot(&s.state()) {
        assert!(
            !text(&bytes).contains(CANARY),
            "canary in {}",
            path.display()
        );
    }
    assert!(
        s.journal_events(&id)
            .contains(&"step_succeeded".to_string())
    );
}

#[cfg(unix)]
#[test]
fn mount_paths_swapped_after_load_do_not_redirect_the_plugin() {
    let s = Sandbox::new();
    let root = s.root.clone();
    // After the plugin was loaded: the read-only mount's path now leads to
    // the secret directory, and the read-write mount's directory was moved
    // away and replaced by an empty one.
    std::fs::rename(root.join("ro"), root.join("ro-moved")).expect("rename");
    std::os::unix::fs::symlink(root.join("secret"), root.join("ro")).expect("symlink");
    std::fs::rename(root.join("rw"), root.join("rw-moved")).expect("rename");
    std::fs::create_dir(root.join("rw")).expect("mkdir");

    // The plugin still sees the directories it was granted, opened at load.
    let report = s.fs(json!([
        { "op": "read", "path": "/ro/file.txt" },
        { "op": "read", "path": "/rw/existing.txt" },
        { "op": "write", "path": "/rw/new.txt", "data": "into the granted one" },
    ]));
    assert_eq!(
        report[0]["data"],
        String::from_utf8_lossy(RO_FILE).as_ref(),
        "{report:?}"
    );
    assert_eq!(
        report[1]["data"],
        String::from_utf8_lossy(RW_FILE).as_ref(),
        "{report:?}"
    );
    assert_eq!(report[2]["ok"], true, "{report:?}");
    // Nothing reaches the secret directory the path now points at.
    s.refused(json!({ "op": "read", "path": "/ro/canary.txt" }));
    s.refused(json!({ "op": "write", "path": "/ro/planted.txt", "data": "pwned" }));
    assert!(!root.join("secret/planted.txt").exists());
    // Host side: the write is a proposal; neither directory changed (and a
    // run's pinned output directory refuses the swapped path at the gate).
    let (_, changes) = s.fs_changes(json!([
        { "op": "write", "path": "/rw/new.txt", "data": "into the granted one" },
    ]));
    assert_eq!(
        changes,
        [(
            "new.txt".to_string(),
            Some("into the granted one".to_string())
        )]
    );
    assert!(!root.join("rw-moved/new.txt").exists());
    assert!(!root.join("rw/new.txt").exists());
    s.assert_canaries_intact();
    s.assert_still_serves();
}
