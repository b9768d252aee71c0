//! A full disk and a read-only file system under a real `host`: the state
//! dir lives on a small tmpfs (root only; otherwise each test prints
//! `skipped: <reason>` and returns).
//!
//! The full-disk test does not guess where a run writes: it sweeps the free
//! space left before `host run` (and a `host approve` under the same full
//! disk) page by page, so ENOSPC strikes, in turn, while the run is created,
//! while blobs are staged, in the middle of a multi-page journal record and
//! while the head is replaced. After each, once the filler is deleted, the
//! journal verifies whole, `host status` works, the run is driven to
//! completion and every target holds exactly its approved bytes.

use std::path::Path;

use crate::support::{
    Scratch, Tmpfs, drive_to_completion, journal_is_whole, run_ids, state_temp_files, text,
    tmpfs_or_skip, verify_ok,
};

const PAGE: u64 = 4096;
const FILES: usize = 16;

/// A plugins folder whose one step proposes [`FILES`] writes with long
/// names, so its `step_succeeded` and `approval_requested` records are each
/// larger than a page.
fn big_plugins(s: &Scratch) -> std::path::PathBuf {
    let writes: Vec<String> = (0..FILES)
        .map(|i| format!("{{ path = \"{}\", text = \"file {i}\\n\" }}", target(i)))
        .collect();
    s.scripted_plugins(
        &format!(
            "[[steps]]\nid = \"big\"\nplugin = \"scripted\"\ninput = {{ writes = [{}] }}\n",
            writes.join(", ")
        ),
        "",
    )
}

fn target(i: usize) -> String {
    format!("drafts/f{i:02}-{}.md", "x".repeat(200))
}

/// Every target holds exactly its approved bytes.
fn assert_all_written(s: &Scratch) {
    for i in 0..FILES {
        let got = std::fs::read(s.out().join(target(i))).unwrap_or_default();
        assert_eq!(text(&got), format!("file {i}\n"), "{}", target(i));
    }
}

/// What the sweep saw fail, to show it reached every kind of write.
#[derive(Default, Debug)]
struct Seen {
    create: bool,
    blob: bool,
    journal: bool,
    head: bool,
    approve: bool,
}

#[test]
fn a_full_disk_never_bricks_a_run() {
    let mut seen = Seen::default();
    // From 0 pages free until a run and its approval fit three times in a row.
    let mut untouched = 0;
    for pages in 0..64u64 {
        if untouched == 3 {
            break;
        }
        let s = Scratch::new();
        let Some(fs) = tmpfs_or_skip(&s.state(), 1 << 20) else {
            return;
        };
        let plugins = big_plugins(&s);
        let filler = fs.fill_leaving(pages * PAGE);
        let run = s.run_cmd(&plugins).arg("--json").output().expect("run");
        let err = text(&run.stderr);
        let full = err.contains("No space left");
        seen.blob |= full && err.contains("staged blob");
        seen.head |= err.contains("cannot update the journal head");
        let ids = run_ids(&s.state());
        eprintln!(
            "{pages} pages free: run exit {:?}: {}",
            run.status.code(),
            err.lines()
                .find(|l| l.contains("rror") || l.contains("WARN"))
                .unwrap_or("")
        );
        if ids.is_empty() {
            assert!(full, "no run and no full disk ({pages} pages): {err}");
            seen.create = true;
            assert!(
                state_temp_files(&s.state()).is_empty(),
                "a failed create leaves no staging folder: {:?}",
                state_temp_files(&s.state())
            );
            continue;
        }
        let id = &ids[0];
        if err.contains("cannot append to journal") {
            seen.journal = true;
            // The failed append was undone before the host exited.
            assert!(journal_is_whole(&s, id), "{pages} pages: torn journal");
            assert!(err.contains("nothing was recorded"), "{err}");
        }
        untouched = if run.status.success() {
            untouched + 1
        } else {
            0
        };
        if s.status(id)["status"] == "waiting-approval" {
            let approve = s.approve(id);
            let err = text(&approve.stderr);
            eprintln!(
                "  approve exit {:?}: {}",
                approve.status.code(),
                err.lines()
                    .find(|l| l.contains("rror") || l.contains("WARN"))
                    .unwrap_or("")
            );
            if !approve.status.success() {
                untouched = 0;
                assert!(err.contains("No space left"), "{err}");
                assert_eq!(approve.status.code(), Some(1), "{err}");
                seen.approve = true;
            }
            seen.head |= err.contains("cannot update the journal head");
            assert!(journal_is_whole(&s, id), "{pages} pages: approve tore it");
        }
        std::fs::remove_file(&filler).expect("free the space");
        // Readable and verifiable as soon as the space is back...
        let warnings = verify_ok(&s, id);
        assert!(!warnings.contains("warning"), "{warnings}");
        s.status(id);
        // ...and it always finishes.
        drive_to_completion(&s, id, 4);
        assert_all_written(&s);
        verify_ok(&s, id);
        assert_eq!(
            s.journal_events(id).last().map(String::as_str),
            Some("run_completed")
        );
        assert!(
            state_temp_files(&s.state()).is_empty(),
            "{:?}",
            state_temp_files(&s.state())
        );
        drop(fs);
    }
    eprintln!("full-disk sweep saw: {seen:?}");
    assert!(
        seen.create && seen.blob && seen.journal && seen.head && seen.approve,
        "the sweep did not reach every kind of write: {seen:?}"
    );
}

/// A waiting run whose state dir is on `fs`, then remounted read-only.
fn waiting_on_read_only(s: &Scratch, fs: &Tmpfs) -> String {
    let out = s.run(&big_plugins(s), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = crate::support::run_id(&out);
    fs.remount(true);
    id
}

#[test]
fn a_read_only_state_dir_fails_cleanly_and_changes_nothing() {
    let s = Scratch::new();
    let Some(fs) = tmpfs_or_skip(&s.state(), 4 << 20) else {
        return;
    };
    let id = waiting_on_read_only(&s, &fs);
    let before = crate::support::snapshot(&s.state());
    let plugins = s.path().join("scripted-plugins");
    let commands: [(&str, Vec<&str>); 4] = [
        ("approve", vec!["approve", &id, "--yes"]),
        ("resume", vec!["resume", &id]),
        ("reject", vec!["reject", &id, "--reason", "no"]),
        ("run", vec![]),
    ];
    for (name, args) in commands {
        let out = if args.is_empty() {
            s.run_cmd(&plugins).output().expect("run")
        } else {
            s.host().args(&args).output().expect("host")
        };
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(err.contains("Read-only file system"), "{name}: {err}");
    }
    // Read-only views still work.
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    verify_ok(&s, &id);
    assert_eq!(crate::support::snapshot(&s.state()), before);
    assert!(!s.out().join("drafts").exists(), "nothing was written");

    fs.remount(false);
    drive_to_completion(&s, &id, 2);
    assert_all_written(&s);
}

/// The tmpfs helper itself: a filled file system has exactly the free
/// space asked for (the sweep above depends on it).
#[test]
fn the_filler_leaves_exactly_the_space_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(fs) = tmpfs_or_skip(&dir.path().join("fs"), 64 * PAGE) else {
        return;
    };
    let filler = fs.fill_leaving(3 * PAGE);
    assert_eq!(fs.free(), 3 * PAGE);
    let big = std::fs::write(fs.path().join("big"), vec![0u8; 4 * PAGE as usize]);
    assert_eq!(
        big.map_err(|e| e.raw_os_error()),
        Err(Some(libc::ENOSPC)),
        "a write past the free space hits ENOSPC"
    );
    std::fs::remove_file(filler).expect("rm");
    // The refused write may have left what fitted (up to 3 pages) in `big`.
    let _ = std::fs::remove_file(fs.path().join("big"));
    assert!(
        fs.free() > 60 * PAGE,
        "free after removing the filler: {}",
        fs.free()
    );
    assert!(Path::new(fs.path()).is_dir());
}
