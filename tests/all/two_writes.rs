//! The fixture of the crash, resume and apply tests: a run of the scripted
//! tool whose `draft` step proposes two files (`drafts/a.md`, `drafts/b.md`),
//! with helpers to resume it and to check the output directory and journal.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Scratch, events, run_id, text};

pub const A: &str = "drafts/a.md";
pub const B: &str = "drafts/b.md";
pub const A_TEXT: &str = "alpha\n";
pub const B_TEXT: &str = "beta\n";

/// Two steps; `draft` proposes two files. `hang_on_call` makes the n-th call
/// of `draft` hang (0: never).
pub fn plugins(s: &Scratch, hang_on_call: u32) -> PathBuf {
    s.scripted_plugins(
        &format!(
            "[[steps]]\nid = \"prep\"\nplugin = \"scripted\"\ninput = {{ counter = \"prep\" }}\n\
             [[steps]]\nid = \"draft\"\nplugin = \"scripted\"\nneeds = [\"prep\"]\n\
             input = {{ counter = \"draft\", hang_on_call = {hang_on_call}, writes = [\
             {{ path = \"{A}\", text = \"alpha\\n\" }}, {{ path = \"{B}\", text = \"beta\\n\" }}] }}\n"
        ),
        "",
    )
}

/// The only run of the scratch area.
pub fn the_run(s: &Scratch) -> String {
    let ids: Vec<String> = std::fs::read_dir(s.state().join("runs"))
        .expect("runs")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with('r'))
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

/// Each target absent or holding exactly its approved bytes, as `expected`
/// says, and no temporary file left behind.
pub fn assert_files(s: &Scratch, expected: &[(&str, Option<&str>)]) {
    for (path, want) in expected {
        let got = std::fs::read(s.out().join(path)).ok();
        assert_eq!(
            got.as_deref(),
            want.map(str::as_bytes),
            "{path}: expected {want:?}, found {:?}",
            got.as_deref().map(String::from_utf8_lossy)
        );
    }
    if let Ok(entries) = std::fs::read_dir(s.out().join("drafts")) {
        let names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert!(
            names.iter().all(|n| n == "a.md" || n == "b.md"),
            "leftover files: {names:?}"
        );
    }
}

pub fn resume(s: &Scratch, id: &str) -> std::process::Output {
    s.host()
        .args(["resume", id, "--json"])
        .output()
        .expect("resume")
}

pub fn applied(s: &Scratch, id: &str) -> Vec<(String, bool)> {
    events(&s.journal(id), "write_applied")
        .iter()
        .map(|r| {
            (
                r["event"]["path"].as_str().expect("path").to_string(),
                r["event"]["recovered"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// A run waiting for approval (nothing killed yet).
pub fn waiting(s: &Scratch) -> String {
    let out = s.run(&plugins(s, 0), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    id
}

pub fn approve_cmd(s: &Scratch, id: &str) -> Command {
    let mut cmd = s.host();
    cmd.args(["approve", id, "--yes"]);
    cmd
}

/// A `host run` whose `draft` step hangs inside its plugin call; returns
/// once the call is in progress (the host still running).
pub fn run_hanging_in_draft(s: &Scratch) -> Child {
    let mut child = s
        .run_cmd(&plugins(s, 1))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn host run");
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.counter("draft") < 1 {
        assert!(Instant::now() < deadline, "draft never started");
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("host ended ({status}) before draft started");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
