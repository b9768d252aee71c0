//! `host runs prune`: finished runs go (their folders, journals and blobs),
//! a waiting run stays unless --force, a run another process holds stays
//! even then, a dry run removes nothing, and the files an approved run
//! wrote stay where they are.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{Scratch, run_id, text};

fn prune(s: &Scratch, args: &[&str]) -> (std::process::Output, Value) {
    let out = s
        .host()
        .args(["runs", "prune", "--json"])
        .args(args)
        .output()
        .expect("prune");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)));
    (out, json)
}

fn runs_of(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .expect(key)
        .iter()
        .map(|r| r["run"].as_str().expect("run").to_string())
        .collect()
}

#[test]
fn prune_removes_finished_runs_keeps_waiting_ones_and_force_removes_them() {
    let s = Scratch::new();
    let run_dir = |id: &str| -> PathBuf { s.state().join("runs").join(id) };
    // A completed run (approved: it wrote drafts/a.md), a failed one and one
    // waiting for approval.
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/a.md\", text = \"a\\nverdict: pass\\n\" }] }\n",
        "",
    );
    let completed = run_id(&s.run(&dir, &[]));
    assert!(s.approve(&completed).status.success());
    assert_eq!(s.status(&completed)["status"], "completed");
    s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { fail = \"failed\" }\n",
        "",
    );
    let failed = run_id(&s.run(&dir, &[]));
    assert_eq!(s.status(&failed)["status"], "failed");
    s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/c.md\", text = \"c\\nverdict: pass\\n\" }] }\n",
        "",
    );
    let waiting = run_id(&s.run(&dir, &[]));
    assert_eq!(s.status(&waiting)["status"], "waiting-approval");

    // Too young for --older-than: nothing is chosen.
    let (out, result) = prune(&s, &["--older-than", "1h"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs_of(&result, "removed"), Vec::<String>::new());
    // A dry run lists and removes nothing.
    let (out, result) = prune(&s, &["--all", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(result["dry_run"], true);
    assert_eq!(
        runs_of(&result, "removed"),
        vec![completed.clone(), failed.clone()]
    );
    assert_eq!(runs_of(&result, "kept"), vec![waiting.clone()]);
    assert!(
        [&completed, &failed, &waiting]
            .iter()
            .all(|id| run_dir(id).exists())
    );

    // The text view, for real.
    let out = s
        .host()
        .args(["runs", "prune", "--all"])
        .output()
        .expect("prune");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains(&format!("removed {completed} (completed")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("removed {failed} (failed")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "kept {waiting} (waiting for approval): not finished; pass --force"
        )),
        "{shown}"
    );
    assert!(shown.contains("removed 2 runs"), "{shown}");
    assert!(!run_dir(&completed).exists() && !run_dir(&failed).exists());
    assert!(run_dir(&waiting).join("journal.jsonl").exists());
    // What the approved run wrote is not the run's to take away.
    assert_eq!(
        std::fs::read_to_string(s.out().join("drafts/a.md")).expect("written file"),
        "a\nverdict: pass\n"
    );
    let listed = s.host().args(["runs", "--json"]).output().expect("runs");
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("runs json");
    let ids: Vec<&str> = listed
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, vec![waiting.as_str()]);

    // Held by another process (its lock taken): kept, even with --force.
    let lock = std::fs::File::options()
        .write(true)
        .open(run_dir(&waiting).join("lock"))
        .expect("lock file");
    lock.lock().expect("take the run's lock");
    let (out, result) = prune(&s, &["--all", "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs_of(&result, "removed"), Vec::<String>::new());
    assert!(
        result["kept"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("another host process holds it")),
        "{result:#}"
    );
    assert!(run_dir(&waiting).exists());
    drop(lock);

    // Free: --force removes it, and it is gone for every command.
    let (out, result) = prune(&s, &["--all", "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs_of(&result, "removed"), vec![waiting.clone()]);
    assert!(
        result["removed"][0]["bytes"]
            .as_u64()
            .is_some_and(|b| b > 0)
    );
    assert!(result["freed_bytes"].as_u64().is_some_and(|b| b > 0));
    assert!(!run_dir(&waiting).exists());
    assert!(crate::support::run_ids(&s.state()).is_empty());
    let out = s
        .host()
        .args(["status", &waiting])
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(1));
    let out = s.host().arg("runs").output().expect("runs");
    assert!(
        text(&out.stderr).contains("no runs in"),
        "{}",
        text(&out.stderr)
    );
    // Nothing left behind in the runs folder (no half-removed folders).
    let left: Vec<_> = std::fs::read_dir(s.state().join("runs"))
        .expect("runs folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn prune_needs_a_choice_of_runs() {
    let s = Scratch::new();
    let out = s.host().args(["runs", "prune"]).output().expect("prune");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--older-than") && stderr.contains("--all"),
        "{stderr}"
    );
}

/// What a power loss while a run is created can leave (its first record
/// never reached the disk; its head may have): every view says so, nothing
/// resumes it, and any prune removes it, while a real run beside it stays.
#[test]
fn a_run_cut_off_as_it_was_created_is_shown_so_and_pruned() {
    let s = Scratch::new();
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/a.md\", text = \"a\\nverdict: pass\\n\" }] }\n",
        "",
    );
    let waiting = run_id(&s.run(&dir, &[]));
    let runs = s.state().join("runs");
    let head = std::fs::read(runs.join(&waiting).join("journal.head")).expect("a head");
    // Empty, with its head; empty, without; a first line with no end.
    let cut: Vec<String> = (0..3)
        .map(|n| {
            let id = format!("r20261204-10000{n}-abc12{n}");
            let folder = runs.join(&id);
            std::fs::create_dir(&folder).expect("folder");
            let journal: &[u8] = if n == 2 { b"{\"seq\":0,\"ev" } else { b"" };
            std::fs::write(folder.join("journal.jsonl"), journal).expect("journal");
            if n == 0 {
                std::fs::write(folder.join("journal.head"), &head).expect("head");
            }
            std::fs::write(folder.join("lock"), b"").expect("lock");
            id
        })
        .collect();
    for id in &cut {
        for args in [vec!["status", id.as_str()], vec!["resume", id.as_str()]] {
            let out = s.host().args(&args).output().expect("host");
            assert!(!out.status.success());
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains("holds no record") && stderr.contains("host runs prune"),
                "{args:?}: {stderr}"
            );
        }
    }
    // Not chosen by age (it has none), yet it goes with any prune; the
    // waiting run stays. A dry run first.
    let (out, result) = prune(&s, &["--older-than", "30d", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs_of(&result, "removed"), cut);
    assert!(result["removed"][0]["status"].is_null());
    assert!(cut.iter().all(|id| runs.join(id).exists()));
    let (out, result) = prune(&s, &["--older-than", "30d"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs_of(&result, "removed"), cut);
    assert!(cut.iter().all(|id| !runs.join(id).exists()));
    assert_eq!(s.status(&waiting)["status"], "waiting-approval");
}

/// A run whose history does not read (a line edited in the middle of its
/// journal, or its head removed) can be finished by nothing: every prune
/// names it and how to remove it, `--unreadable` removes it (a dry run
/// first), and a healthy run beside it stays.
#[test]
fn an_unreadable_run_is_named_and_removed_by_prune_unreadable() {
    let s = Scratch::new();
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/a.md\", text = \"a\\nverdict: pass\\n\" }] }\n",
        "",
    );
    let healthy = run_id(&s.run(&dir, &[]));
    let edited = run_id(&s.run(&dir, &[]));
    let headless = run_id(&s.run(&dir, &[]));
    let runs = s.state().join("runs");
    let journal = runs.join(&edited).join("journal.jsonl");
    let text_of = std::fs::read_to_string(&journal).expect("journal");
    let mut lines: Vec<String> = text_of.lines().map(str::to_string).collect();
    assert!(lines.len() > 2, "{text_of}");
    assert!(lines[1].contains("\"only\""), "{}", lines[1]);
    lines[1] = lines[1].replacen("\"only\"", "\"onlx\"", 1);
    std::fs::write(&journal, lines.join("\n") + "\n").expect("edit");
    std::fs::remove_file(runs.join(&headless).join("journal.head")).expect("rm head");
    for id in [&edited, &headless] {
        let out = s
            .host()
            .args(["approve", id, "--yes"])
            .output()
            .expect("approve");
        assert!(!out.status.success(), "{id}");
        assert!(
            text(&out.stderr).contains("prune --unreadable"),
            "{}",
            text(&out.stderr)
        );
    }

    let (out, result) = prune(&s, &["--all"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kept: Vec<String> = result["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .filter(|k| {
            k["reason"]
                .as_str()
                .is_some_and(|r| r.contains("--unreadable"))
        })
        .map(|k| k["run"].as_str().expect("run").to_string())
        .collect();
    assert_eq!(kept, std::slice::from_ref(&edited), "{result:#}");
    let (out, result) = prune(&s, &["--unreadable", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut chosen = runs_of(&result, "removed");
    chosen.sort();
    let mut expected = vec![edited.clone(), headless.clone()];
    expected.sort();
    assert_eq!(chosen, expected, "{result:#}");
    assert!(runs.join(&edited).exists() && runs.join(&headless).exists());
    let (out, result) = prune(&s, &["--unreadable"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(result["removed"][0]["unreadable"], true, "{result:#}");
    assert!(!runs.join(&edited).exists() && !runs.join(&headless).exists());
    assert_eq!(s.status(&healthy)["status"], "waiting-approval");
}
