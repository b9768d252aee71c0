//! A failure's `hint:` stands on a line of its own in every view of a run
//! (`host run`, `status`, `show`, `trace`, the resume refusal), while a
//! plugin's text that spells `\nhint: approve now` stays on its line,
//! escaped; the journal keeps the plugin's bytes as they were.

use std::process::Output;

use crate::support::{Scratch, assert_inert, text, toml_str};

const FORGED: &str = "boom\nhint: approve now";

/// Every text view of run `id` (stdout and stderr of each), with `run` (the
/// output of the `host run` that made it) first.
fn views(s: &Scratch, run: &Output, id: &str) -> Vec<(String, String)> {
    let mut shown = vec![("run".to_string(), text(&run.stdout) + &text(&run.stderr))];
    for args in [
        vec!["status", id],
        vec!["show", id],
        vec!["trace", id],
        vec!["resume", id],
    ] {
        let out = s.host().args(&args).output().expect("host");
        shown.push((args.join(" "), text(&out.stdout) + &text(&out.stderr)));
    }
    shown
}

/// A run of one scripted step with `input` (a TOML inline table) that fails:
/// the `host run` output and the run's id.
fn failed_run(s: &Scratch, input: &str) -> (Output, String) {
    let dir = s.scripted_plugins(
        &format!("[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = {input}\n"),
        "",
    );
    let run = s.run_cmd(&dir).output().expect("run");
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let id = crate::support::run_ids(&s.state())
        .pop()
        .expect("a run was created");
    (run, id)
}

fn assert_no_forged_line(what: &str, shown: &str) {
    assert_inert(shown, what);
    assert!(
        !shown
            .lines()
            .any(|l| l.trim_start().starts_with("hint: approve now")),
        "{what}: a plugin's newline started a line:\n{shown}"
    );
    assert!(!shown.contains("\\\\n"), "{what}: escaped twice:\n{shown}");
}

#[test]
fn a_failures_hint_has_its_own_line_and_a_plugins_forged_hint_does_not() {
    let s = Scratch::new();
    // The host refuses the plugin's path (it holds a newline) with a hint of
    // its own; the path is quoted inert inside the refusal.
    let (run, id) = failed_run(
        &s,
        &format!(
            "{{ writes = [{{ path = {}, text = \"x\" }}] }}",
            toml_str(&format!("drafts/{FORGED}.md"))
        ),
    );
    for (what, shown) in views(&s, &run, &id) {
        assert_no_forged_line(&what, &shown);
        if what.starts_with("resume") {
            // The refusal quotes the failure, then says how to go on.
            assert!(
                shown
                    .lines()
                    .any(|l| l.starts_with("hint: fix the cause, then pass --failed")),
                "{what}:\n{shown}"
            );
        }
        let hint = shown
            .lines()
            .find(|l| l.trim_start().starts_with("hint: writes are granted in"))
            .unwrap_or_else(|| panic!("{what}: no hint line:\n{shown}"));
        if !what.starts_with("resume") {
            // Under the step or reason it belongs to.
            assert!(
                hint.starts_with(' '),
                "{what}: the hint is not indented: {hint}"
            );
        }
        assert!(
            shown.contains("drafts/boom\\nhint: approve now.md"),
            "{what}: the path is not shown escaped:\n{shown}"
        );
    }
    // Host-side: nothing was written, and the state's failure reason is host
    // text whose only line break is the host's own.
    assert!(!s.out().join("drafts").exists());
    let state = s.status(&id);
    assert_eq!(state["status"], "failed");
    let failure = state["failure"].as_str().expect("failure");
    assert_eq!(failure.lines().count(), 2, "{failure}");
    assert!(
        failure
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("hint: writes are granted"))
    );
}

#[test]
fn a_plugins_own_message_stays_on_its_line_and_is_journaled_as_it_was() {
    let s = Scratch::new();
    let (run, id) = failed_run(&s, &format!("{{ fail = {} }}", toml_str(FORGED)));
    for (what, shown) in views(&s, &run, &id) {
        assert_no_forged_line(&what, &shown);
    }
    let shown = text(
        &s.host()
            .args(["status", &id])
            .output()
            .expect("status")
            .stdout,
    );
    assert!(
        shown.contains("FAILED: invalid-input: unknown fail mode boom\\nhint: approve now"),
        "{shown}"
    );
    // The derived state quotes the plugin inert; the journal keeps its bytes.
    let state = s.status(&id);
    assert_eq!(
        state["steps"]["only"]["error"],
        "invalid-input: unknown fail mode boom\\nhint: approve now"
    );
    assert!(
        state["failure"]
            .as_str()
            .is_some_and(|f| !f.contains('\n') && f.ends_with("boom\\nhint: approve now")),
        "{state:#}"
    );
    let journal = s.journal(&id);
    let failed = crate::support::events(&journal, "step_failed");
    assert_eq!(
        failed[0]["event"]["message"],
        format!("unknown fail mode {FORGED}")
    );
}
