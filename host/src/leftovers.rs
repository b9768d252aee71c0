//! Cleaning up the temporary files of a host process that was killed.
//!
//! A host writes through temporary names (atomic writes, a run's staging
//! folder) and removes them when it finishes; SIGKILL or a power loss leaves
//! them behind. [`remove_dead`] removes, in one directory, exactly the entries
//! that
//! - have a name this host gives its temporary files, which also carries the
//!   pid of the process that made them (the caller's `owner` parser says
//!   which names qualify and returns that pid), and
//! - whose process is gone (`kill(pid, 0)` answers `ESRCH`): a live
//!   process, this one included, may still be writing them.
//!
//! Nothing is followed: an entry is examined with `symlink_metadata`; a
//! regular file is removed; a directory has its regular files removed and is
//! then removed if that emptied it; a symlink, a subdirectory or anything
//! else is left alone (the host never makes those in a temporary place, so
//! someone else did, and it is theirs to judge).
//!
//! API: `remove_dead(dir, owner) -> Cleanup` where `owner: Fn(&str) ->
//! Option<u32>` maps an entry name to its creator's pid ([`pid_after`] builds
//! the common `<prefix><pid>-...` parser); [`remove_dead_in`] does the same
//! (regular files only) in a cap-std `Dir`; [`process_is_dead`]. Cleanup is
//! best effort and never fails the caller: what could not be removed is in
//! [`Cleanup::failed`] for the caller to log. Used for `blobs/.tmp-<pid>-…`
//! ([`crate::atomic_file`]), `runs/.new-<pid>-<id>` (run staging,
//! [`crate::run::store`]) and the workspace's `.harness-tmp-<pid>-<n>`.

use std::path::{Path, PathBuf};

/// What [`remove_dead`] did.
#[derive(Debug, Default)]
pub struct Cleanup {
    /// Entries removed (files, and staging folders after their files).
    pub removed: Vec<PathBuf>,
    /// Entries of a dead process that could not be removed, and why.
    pub failed: Vec<(PathBuf, std::io::Error)>,
}

impl Cleanup {
    /// Log what could not be removed (at `warn`) and what was (at `info`).
    pub fn log(&self) {
        for path in &self.removed {
            tracing::info!(path = %path.display(), "removed a temporary file left by a killed host");
        }
        for (path, error) in &self.failed {
            tracing::warn!(path = %path.display(), %error, "cannot remove a temporary file left by a killed host");
        }
    }
}

/// Whether process `pid` no longer exists. Pids that cannot name one
/// process (0, or above `i32::MAX`: `kill` would read them as a group) are
/// never called dead.
pub fn process_is_dead(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be
    // signalled; nothing is delivered.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// A name parser for `<prefix><pid>-<anything>` (or `<prefix><pid>` when
/// `rest_required` is false): returns the pid.
pub fn pid_after(name: &str, prefix: &str, rest_required: bool) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let (pid, tail) = match rest.split_once('-') {
        Some((pid, tail)) => (pid, Some(tail)),
        None => (rest, None),
    };
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match tail {
        Some("") => return None,
        None if rest_required => return None,
        _ => {}
    }
    pid.parse().ok()
}

/// Remove the entries of `dir` made by a host process that is now dead
/// (see the module doc). A missing `dir` has nothing to clean.
pub fn remove_dead(dir: &Path, owner: impl Fn(&str) -> Option<u32>) -> Cleanup {
    let mut cleanup = Cleanup::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return cleanup,
        Err(e) => {
            cleanup.failed.push((dir.to_path_buf(), e));
            return cleanup;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                cleanup.failed.push((dir.to_path_buf(), e));
                continue;
            }
        };
        if !owned_by_dead(&entry.file_name(), &owner) {
            continue;
        }
        let path = entry.path();
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => {
                let removed = std::fs::remove_file(&path);
                record(&mut cleanup, path, removed);
            }
            Ok(meta) if meta.file_type().is_dir() => remove_folder(&mut cleanup, path),
            Ok(_) => {}
            // Gone since it was listed: someone else cleaned it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => cleanup.failed.push((path, e)),
        }
    }
    cleanup
}

/// [`remove_dead`] for a directory held as a cap-std [`Dir`](cap_std::fs::Dir)
/// (an output directory or workspace, where nothing may escape it): only
/// regular files are removed; `removed` and `failed` hold names relative
/// to `dir`.
pub fn remove_dead_in(dir: &cap_std::fs::Dir, owner: impl Fn(&str) -> Option<u32>) -> Cleanup {
    let mut cleanup = Cleanup::default();
    let entries = match dir.entries() {
        Ok(entries) => entries,
        Err(e) => {
            cleanup.failed.push((PathBuf::from("."), e));
            return cleanup;
        }
    };
    for entry in entries {
        let Ok(entry) = entry.map_err(|e| cleanup.failed.push((PathBuf::from("."), e))) else {
            continue;
        };
        let name = entry.file_name();
        if !owned_by_dead(&name, &owner) {
            continue;
        }
        // `DirEntry::file_type` does not follow symlinks.
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match dir.remove_file(&name) {
            Ok(()) => cleanup.removed.push(PathBuf::from(&name)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => cleanup.failed.push((PathBuf::from(&name), e)),
        }
    }
    cleanup
}

/// Whether `name` is a leftover (`owner` reads a pid from it) of a process
/// that is not this one and is dead.
fn owned_by_dead(name: &std::ffi::OsStr, owner: impl Fn(&str) -> Option<u32>) -> bool {
    name.to_str()
        .and_then(owner)
        .is_some_and(|pid| pid != std::process::id() && process_is_dead(pid))
}

/// Note the outcome of removing `path` (already gone counts as neither).
fn record(cleanup: &mut Cleanup, path: PathBuf, removed: std::io::Result<()>) {
    match removed {
        Ok(()) => cleanup.removed.push(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => cleanup.failed.push((path, e)),
    }
}

/// A staging folder: its regular files, then the folder if that emptied it.
fn remove_folder(cleanup: &mut Cleanup, dir: PathBuf) {
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            cleanup.failed.push((dir, e));
            return;
        }
    };
    let mut kept = false;
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                cleanup.failed.push((dir.clone(), e));
                kept = true;
                continue;
            }
        };
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) => {
                    cleanup.failed.push((path, e));
                    kept = true;
                }
            },
            Ok(_) => kept = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                cleanup.failed.push((path, e));
                kept = true;
            }
        }
    }
    if !kept {
        let removed = std::fs::remove_dir(&dir);
        record(cleanup, dir, removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pid that was certainly running and is now certainly gone.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        pid
    }

    #[test]
    fn a_cap_std_dir_loses_only_dead_regular_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        let dead = dead_pid();
        let alive = std::process::id();
        std::fs::write(d.join(format!(".harness-tmp-{dead}-0")), b"x").expect("write");
        std::fs::write(d.join(format!(".harness-tmp-{alive}-0")), b"x").expect("write");
        std::fs::create_dir(d.join(format!(".harness-tmp-{dead}-1"))).expect("mkdir");
        let dir = cap_std::fs::Dir::open_ambient_dir(d, cap_std::ambient_authority()).expect("dir");
        let cleanup = remove_dead_in(&dir, |n| pid_after(n, ".harness-tmp-", true));
        assert_eq!(
            cleanup.removed,
            vec![PathBuf::from(format!(".harness-tmp-{dead}-0"))]
        );
        assert!(d.join(format!(".harness-tmp-{alive}-0")).exists());
        assert!(d.join(format!(".harness-tmp-{dead}-1")).is_dir());
    }

    #[test]
    fn names_parse_to_their_pid() {
        assert_eq!(pid_after(".tmp-12-3-4", ".tmp-", true), Some(12));
        assert_eq!(pid_after(".new-7-r1", ".new-", true), Some(7));
        for bad in [
            ".tmp-", ".tmp--1", ".tmp-x-1", ".tmp-12", ".tmp-12-", "tmp-1-2",
        ] {
            assert_eq!(pid_after(bad, ".tmp-", true), None, "{bad}");
        }
        assert_eq!(pid_after(".lock-9", ".lock-", false), Some(9));
    }

    #[test]
    fn only_a_dead_processs_regular_files_and_folders_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let dead = dead_pid();
        let alive = std::process::id();
        std::fs::write(d.join(format!(".tmp-{dead}-1-0")), b"x").expect("write");
        std::fs::write(d.join(format!(".tmp-{alive}-1-0")), b"x").expect("write");
        std::fs::write(d.join("notes.txt"), b"keep").expect("write");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("precious"), b"keep").expect("write");
        // A planted symlink with a temp name, to a folder and to a file.
        std::os::unix::fs::symlink(outside.path(), d.join(format!(".tmp-{dead}-2-0")))
            .expect("symlink");
        std::os::unix::fs::symlink(
            outside.path().join("precious"),
            d.join(format!(".tmp-{dead}-3-0")),
        )
        .expect("symlink");
        // A staging folder of the dead process, one holding a symlink, one
        // of a live process.
        let staging = d.join(format!(".new-{dead}-r1"));
        std::fs::create_dir(&staging).expect("mkdir");
        std::fs::write(staging.join("journal.jsonl"), b"x").expect("write");
        let mixed = d.join(format!(".new-{dead}-r2"));
        std::fs::create_dir(&mixed).expect("mkdir");
        std::fs::write(mixed.join("lock"), b"").expect("write");
        std::os::unix::fs::symlink(outside.path(), mixed.join("blobs")).expect("symlink");
        let live = d.join(format!(".new-{alive}-r3"));
        std::fs::create_dir(&live).expect("mkdir");

        let owner = |name: &str| pid_after(name, ".tmp-", true).or(pid_after(name, ".new-", true));
        let cleanup = remove_dead(d, owner);
        assert!(cleanup.failed.is_empty(), "{:?}", cleanup.failed);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .collect();
        left.sort();
        let mut want = vec![
            format!(".new-{alive}-r3"),
            format!(".new-{dead}-r2"),
            format!(".tmp-{alive}-1-0"),
            format!(".tmp-{dead}-2-0"),
            format!(".tmp-{dead}-3-0"),
            "notes.txt".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
        assert_eq!(cleanup.removed.len(), 2, "{:?}", cleanup.removed);
        // The folder with a symlink lost its file but kept the link; nothing
        // behind any symlink was touched.
        assert!(!mixed.join("lock").exists());
        assert!(std::fs::symlink_metadata(mixed.join("blobs")).is_ok());
        assert_eq!(
            std::fs::read(outside.path().join("precious")).expect("read"),
            b"keep"
        );
        assert!(!process_is_dead(alive));
        assert!(process_is_dead(dead));
        assert!(!process_is_dead(0));
        assert!(!process_is_dead(u32::MAX));
    }
}
