//! `host` with no command prints its help on stdout and exits 0 (as `cargo`
//! does); a command group without its subcommand (`host plugins`) is still
//! a usage error on stderr with exit code 2.

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
