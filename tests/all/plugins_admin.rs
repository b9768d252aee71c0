//! `host plugins check` and `host plugins inspect`: what an admin uses to
//! see what each plugin is and may do before anything runs.

use crate::support::{Scratch, TestPlugin, artifacts, one_step_workflow, reviewer, text};

fn hostile(extra: &'static str) -> TestPlugin {
    TestPlugin {
        name: "hostile",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra,
    }
}

#[test]
fn check_passes_the_shipped_plugins() {
    let s = Scratch::new();
    let out = s
        .host()
        .args([
            "plugins",
            "check",
            "--plugins",
            artifacts::PLUGINS_DIR,
            "--workspace",
        ])
        .arg(s.ws())
        .output()
        .expect("check");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for name in ["search", "extract-facts", "draft-report", "reviewer"] {
        assert!(stdout.contains(&format!("ok       {name}\n")), "{stdout}");
    }
    // The model reviewer and the generic reviewer ship as alternatives:
    // their only warning is that the default workflow does not use them (the
    // model reviewer's network grant covers its wasi:http import, so there is
    // no network warning).
    for name in ["model-reviewer", "generic-reviewer"] {
        assert!(
            stdout.contains(&format!(
                "warning  {name}\n  warning: the workflow `research` does not use this plugin\n"
            )),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("grants no network"), "{stdout}");
    assert!(
        stdout.contains("2 with warnings, 0 with errors"),
        "{stdout}"
    );

    // With the model-review workflow, it is the rule-based reviewer that is unused.
    let out = s
        .host()
        .args(["plugins", "check", "--plugins", artifacts::PLUGINS_DIR])
        .arg("--workflow")
        .arg(std::path::Path::new(artifacts::PLUGINS_DIR).join("workflow-model.toml"))
        .arg("--workspace")
        .arg(s.ws())
        .output()
        .expect("check");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("ok       model-reviewer\n"), "{stdout}");
    assert!(stdout.contains("warning  reviewer\n"), "{stdout}");
}

#[test]
fn check_reports_one_line_per_plugin_with_warnings_and_errors() {
    let s = Scratch::new();
    let sockets = TestPlugin {
        name: "socket-user",
        kind: "tool",
        component: artifacts::GUEST_SOCKET_USER,
        extra: "",
    };
    let unused = TestPlugin {
        name: "unused",
        kind: "tool",
        component: artifacts::GUEST_TRAPPER,
        extra: "",
    };
    let missing_mount = TestPlugin {
        name: "missing-mount",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra: "[[grants.mounts]]\nhost = \"no-such-dir\"\nguest = \"/data\"\nmode = \"read\"\n",
    };
    let workflow = "[workflow]\nname = \"test\"\n\
        [[steps]]\nid = \"a\"\nplugin = \"hostile\"\n\
        [[steps]]\nid = \"b\"\nplugin = \"socket-user\"\n\
        [[steps]]\nid = \"c\"\nplugin = \"missing-mount\"\n\
        [review]\nplugin = \"reviewer\"\n";
    let dir = s.plugins_dir(
        "plugins",
        &[hostile(""), sockets, unused, missing_mount, reviewer()],
        workflow,
    );
    let before = crate::support::snapshot(&dir);
    let out = s.check(&dir);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let status_lines: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        status_lines,
        [
            "ok       hostile",
            "error    missing-mount",
            "ok       reviewer",
            "warning  socket-user",
            "warning  unused",
            &format!(
                "ok       workflow ({})",
                dir.join("workflow.toml").display()
            ),
            "checked 5 plugins and the workflow: 3 ok, 2 with warnings, 1 with errors",
        ]
    );
    assert!(
        stdout.contains("imports `wasi:sockets/") && stdout.contains("grants no network"),
        "{stdout}"
    );
    assert!(
        stdout.contains("grants.mounts[0].host") && stdout.contains("no-such-dir"),
        "{stdout}"
    );
    assert!(stdout.contains("does not use this plugin"), "{stdout}");
    assert_eq!(
        crate::support::snapshot(&dir),
        before,
        "check changed the plugins"
    );
    assert!(!s.state().join("runs").exists(), "check started a run");
}

#[test]
fn check_reports_every_broken_manifest_not_just_the_first() {
    let s = Scratch::new();
    let typo = TestPlugin {
        name: "typo",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra: "[limits]\nmemory-mb = 5\n",
    };
    let etc = TestPlugin {
        name: "etc",
        kind: "tool",
        component: artifacts::GUEST_HOSTILE,
        extra: "[[grants.mounts]]\nhost = \"/etc\"\nguest = \"/etc\"\nmode = \"read\"\n",
    };
    let dir = s.plugins_dir(
        "plugins",
        &[typo, etc, reviewer()],
        &one_step_workflow("typo", "{}"),
    );
    let out = s.host_plugins(&["plugins", "check"], &dir);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("error    typo\n") && stdout.contains("memory-mb"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error    etc\n") && stdout.contains("would expose the host system"),
        "{stdout}"
    );
    assert!(stdout.contains("hint:"), "{stdout}");
}

#[test]
fn inspect_shows_imports_exports_grants_limits_sha256_and_cache() {
    let s = Scratch::new();
    let dir = s.plugins_dir(
        "plugins",
        &[
            hostile(
                "[grants]\nwrites = [\"reports/\"]\n[grants.env]\nvars = { MODE = \"secret-value\" }\n\
                 [[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/workspace\"\nmode = \"read\"\n\
                 [limits]\nfuel = 123456789\nmemory-mib = 16\n",
            ),
            reviewer(),
        ],
        &one_step_workflow("hostile", "{}"),
    );
    let cache = s.path().join("cache");
    let inspect = |json: bool| {
        let mut cmd = s.host_with_cache(&cache);
        cmd.args(["plugins", "inspect", "hostile", "--plugins"])
            .arg(&dir)
            .arg("--workspace")
            .arg(s.ws());
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("inspect");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let first: serde_json::Value = serde_json::from_str(&inspect(true)).expect("json");
    assert_eq!(first["cache"]["outcome"], "miss");
    let v: serde_json::Value = serde_json::from_str(&inspect(true)).expect("json");
    assert_eq!(v["cache"]["outcome"], "hit");
    assert_eq!(v["name"], "hostile");
    assert_eq!(v["kind"], "tool");
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(artifacts::GUEST_HOSTILE).expect("read"),
        ))
    };
    assert_eq!(v["sha256"], sha);
    assert_eq!(
        v["exports"],
        serde_json::json!(["harness:plugin/tool-plugin@0.1.0"])
    );
    let imports: Vec<&str> = v["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .map(|i| i.as_str().expect("str"))
        .collect();
    assert!(
        imports.contains(&"harness:plugin/types@0.1.0"),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:filesystem/types@0.2.")),
        "{imports:?}"
    );
    let ws = std::fs::canonicalize(s.ws()).expect("canonical");
    assert_eq!(v["grants"]["mounts"][0]["host"], ws.display().to_string());
    assert_eq!(v["grants"]["mounts"][0]["mode"], "read");
    assert_eq!(v["grants"]["writes"], serde_json::json!(["reports/"]));
    assert_eq!(v["grants"]["env"], serde_json::json!(["MODE"]));
    assert_eq!(v["limits"]["fuel"], 123456789);
    assert_eq!(v["limits"]["memory_bytes"], 16 << 20);

    let human = inspect(false);
    for needle in [
        "plugin     hostile (tool)",
        &format!("sha256     {sha} (not pinned)"),
        "cache      hit",
        "exports    harness:plugin/tool-plugin@0.1.0",
        "mount ",
        "propose writes under reports/",
        "env MODE (set)",
        "no network",
        "fuel 123456789",
    ] {
        assert!(human.contains(needle), "expected `{needle}` in:\n{human}");
    }
    assert!(
        !human.contains("secret-value"),
        "env values are never shown"
    );
}

#[test]
fn inspect_of_an_unknown_plugin_names_the_ones_there() {
    let s = Scratch::new();
    let dir = s.plugins_dir(
        "plugins",
        &[hostile(""), reviewer()],
        &one_step_workflow("hostile", "{}"),
    );
    let out = s.host_plugins(&["plugins", "inspect", "nope"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no plugin named `nope`") && stderr.contains("hostile, reviewer"),
        "{stderr}"
    );
}
