//! The command line's own surface: `host` with no command prints its help on
//! stdout and exits 0 (as `cargo` does), while a command group without its
//! subcommand (`host plugins`) is still a usage error (stderr, exit 2);
//! completions and the man page come from the clap definitions; `host
//! plugins build NAME` builds just that plugin.

use crate::support::{Scratch, text};

#[test]
fn bare_host_prints_its_help_on_stdout_and_exits_zero() {
    let s = Scratch::new();
    let out = s.host().output().expect("host");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Usage: host"), "{stdout}");
    for command in ["run", "approve", "mcp", "console", "doctor"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(command)),
            "`{command}` is listed:\n{stdout}"
        );
    }
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    assert!(!s.state().join("runs").exists(), "no state was touched");
}

#[test]
fn a_command_group_without_its_subcommand_is_a_usage_error() {
    let s = Scratch::new();
    let out = s.host().arg("plugins").output().expect("host plugins");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Usage: host plugins"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn completions_and_the_man_page_come_from_the_command_definitions() {
    let s = Scratch::new();
    for (shell, marker) in [
        ("bash", "_host()"),
        ("zsh", "#compdef host"),
        ("fish", "complete -c host"),
    ] {
        let out = s
            .host()
            .args(["completions", shell])
            .output()
            .expect("completions");
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains(marker),
            "{shell}: {}",
            &script[..script.len().min(300)]
        );
        for command in ["approve", "mcp", "console", "doctor"] {
            assert!(script.contains(command), "{shell} completes `{command}`");
        }
        // Subcommands are built only when they run (`cli::Command`): the
        // script still has every nested subcommand and argument, under its
        // own name and under `help`.
        if shell == "bash" {
            for path in [
                "host__subcmd__plugins__subcmd__new",
                "host__subcmd__help__subcmd__plugins__subcmd__new",
                "host__subcmd__runs__subcmd__prune",
                "host__subcmd__help__subcmd__cache__subcmd__clear",
            ] {
                assert!(script.contains(path), "bash completes `{path}`");
            }
            assert!(
                script.contains("--older-than"),
                "bash completes `runs prune`'s options"
            );
        }
    }
    let out = s.host().arg("man").output().expect("man");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH host"),
        "{}",
        &page[..page.len().min(300)]
    );
    assert!(page.contains("approve"), "the man page lists the commands");
    let bad = s
        .host()
        .args(["completions", "tcsh"])
        .output()
        .expect("completions");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn plugins_build_builds_only_the_named_plugins_and_refuses_unknown_names() {
    let s = Scratch::new();
    let dir = s.path().join("plugins");
    for name in ["one", "two"] {
        let pdir = dir.join(name);
        std::fs::create_dir_all(&pdir).expect("mkdir");
        std::fs::write(
            pdir.join("plugin.toml"),
            format!(
                "[plugin]\nname = \"{name}\"\nkind = \"tool\"\ncomponent = \"{name}.wasm\"\n\
                 [build]\ncommand = [\"sh\", \"-c\", \"printf built > {name}.wasm\"]\n"
            ),
        )
        .expect("manifest");
    }
    let plugins = dir.display().to_string();
    let out = s
        .host()
        .args(["plugins", "build", "one", "--plugins", &plugins])
        .output()
        .expect("build one");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        dir.join("one/one.wasm").is_file(),
        "the named plugin was built"
    );
    assert!(!dir.join("two/two.wasm").exists(), "the other one was not");

    let out = s
        .host()
        .args(["plugins", "build", "nope", "--plugins", &plugins])
        .output()
        .expect("build nope");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no plugin `nope`") && stderr.contains("one, two"),
        "{stderr}"
    );
    assert!(!dir.join("two/two.wasm").exists(), "nothing was built");
}

#[test]
fn plugins_new_defaults_to_a_rust_tool() {
    let s = Scratch::new();
    let dir = s.path().join("fresh-plugins");
    let out = s.host_plugins(&["plugins", "new", "word-count"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest = std::fs::read_to_string(dir.join("word-count/plugin.toml")).expect("manifest");
    assert!(manifest.contains("kind = \"tool\""), "{manifest}");
    assert!(dir.join("word-count/Cargo.toml").is_file(), "a Rust crate");
}

#[test]
fn a_component_older_than_its_sources_is_warned_about_without_build() {
    let s = Scratch::new();
    let dir = crate::support::hello_plugins(&s);
    let manifest_path = dir.join("hello/plugin.toml");
    let manifest = std::fs::read_to_string(&manifest_path).expect("manifest");
    // The component copied beside the manifest, one hour older than a source.
    std::fs::copy(
        crate::support::artifacts::HELLO_TOOL,
        dir.join("hello/hello.wasm"),
    )
    .expect("copy");
    let component_line = manifest
        .lines()
        .find(|l| l.starts_with("component"))
        .expect("component line")
        .to_string();
    std::fs::write(
        &manifest_path,
        manifest.replace(&component_line, "component = \"hello.wasm\""),
    )
    .expect("manifest");
    std::fs::create_dir_all(dir.join("hello/src")).expect("mkdir");
    std::fs::write(dir.join("hello/src/lib.rs"), "// edited after the build\n").expect("source");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(dir.join("hello/hello.wasm"))
        .and_then(|f| f.set_modified(hour_ago))
        .expect("age the component");
    let out = s.run(&dir, &[]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the component of plugin `hello` is older than its source")
            && stderr.contains("src/lib.rs")
            && stderr.contains("--build"),
        "{stderr}"
    );
    assert!(out.status.success(), "the run still goes on: {stderr}");
}

#[test]
fn with_json_an_error_is_a_json_object_on_stdout_too() {
    let s = Scratch::new();
    let out = s
        .host()
        .args(["status", "r20261123-104501-1a2b3c", "--json"])
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("no run `r20261123-104501-1a2b3c`")),
        "{error}"
    );
    assert!(
        error["hint"]
            .as_str()
            .is_some_and(|h| h.contains("host runs")),
        "{error}"
    );
    assert!(
        text(&out.stderr).contains("error: no run"),
        "still said on stderr"
    );
    let plain = s
        .host()
        .args(["status", "r20261123-104501-1a2b3c"])
        .output()
        .expect("status");
    assert!(
        plain.stdout.is_empty(),
        "without --json, stdout stays empty"
    );
}
