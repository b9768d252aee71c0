//! Putting approved bytes on disk, and nothing else.
//!
//! Before anything is written, every entry of the approved change set is
//! re-verified ([`verify`], also on a resumed apply): the staged blob still has
//! the approved digest, the target's current content still has the approved
//! base digest, no component of the target path is a symlink, and the target
//! reaches none of the host's protected paths. Then [`preflight`] checks
//! everything else that can be known before the first byte: no entry is
//! another's parent directory, no directory stands where a file goes (and no
//! file where a directory must be), every file name fits, and the file
//! system has room for the whole set. Any mismatch refuses the whole apply.
//!
//! Each write then goes through cap-std (which cannot escape the output
//! directory), every directory on the way opened without following a link
//! (a symlink swapped in after [`verify`] fails the write, it never
//! redirects it): a temporary file `.harness-tmp-<pid>-<n>` in the target's
//! directory, fsync, rename over the target, fsync of the directory; a
//! deletion is an unlink and a directory fsync. A reader or a crash sees
//! the old file or the new one, never a torn mix. Temporary files a killed
//! host left beside the targets are removed before the next apply of the
//! run ([`sweep_temp_files`]).

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, OpenOptions};

use crate::protect::{Protected, ProtectedHit};
use crate::render::inert;
use crate::run::blobs::{BlobError, Blobs};
use crate::run::changeset::{Base, ChangeEntry, ChangeSet, TargetError, read_base};
use crate::run::out_dir::OutDirError;

/// An approved change, verified and ready to put on disk.
#[derive(Debug)]
pub struct VerifiedWrite {
    /// The approved change set's entry.
    pub entry: ChangeEntry,
    /// The new bytes; `None` for a deletion.
    pub bytes: Option<Vec<u8>>,
    /// The target's content now, checked against the entry's base.
    pub base: Base,
    /// The target already is as approved (only when resuming an apply that
    /// stopped after a rename or unlink, before journaling it).
    pub already_applied: bool,
}

/// Why approved writes were refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The output directory cannot be used: it will not open, was replaced, or is a system or protected path.
    #[error(transparent)]
    OutDir(#[from] OutDirError),
    /// A staged blob could not be read.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A staged blob's bytes do not hash to the change set's digest.
    #[error("staged bytes for `{}` do not match the change set", inert(path))]
    StagedMismatch {
        /// The entry's relative path.
        path: String,
    },
    /// The target changed since the run proposed its write.
    #[error(
        "`{}` changed since the run proposed its write (expected {expected}, found {found})\nhint: someone edited the file after the run staged its change; reject this run and start a new one so the change is reviewed against the current file (if it already failed while applying: put the file back as it was and `host resume --failed`, or `host runs prune` the run)",
        inert(path)
    )]
    BaseChanged {
        /// The entry's relative path.
        path: String,
        /// sha256 of the file the run proposed against, or `no file`.
        expected: String,
        /// sha256 of the file now, or `no file`.
        found: String,
    },
    /// The target reaches one of the host's protected paths.
    #[error(
        "`{}` reaches {reached}\nhint: no approval can write the host's own files; reject this run",
        inert(path)
    )]
    Protected {
        /// The entry's relative path.
        path: String,
        /// The protected path it reaches.
        reached: ProtectedHit,
    },
    /// A check of the whole change set, before any write, refused it.
    #[error("the change set cannot be applied as a whole: {reason}\nhint: {hint}")]
    Preflight {
        /// What in the change set cannot be applied.
        reason: String,
        /// What to do, for the message's `hint:` line.
        hint: String,
    },
    /// A target goes through a symlink, is not a regular file, or cannot be read.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A write, rename or removal failed.
    #[error("cannot write `{}`", inert(path))]
    Write {
        /// The entry's relative path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Re-check every entry of `change_set` against the staged blobs and the
/// current files. Returns the writes in order, or the first mismatch.
///
/// For an apply that may have been cut short, `resumed` holds the entries
/// journaled as written: they are left out, and a target already holding
/// exactly the approved bytes (or already deleted) is accepted.
pub fn verify(
    out: &Dir,
    out_path: &Path,
    protected: &Protected,
    blobs: &Blobs,
    change_set: &ChangeSet,
    resumed: Option<&[String]>,
) -> Result<Vec<VerifiedWrite>, ApplyError> {
    let accept_applied = resumed.is_some();
    let applied = resumed.unwrap_or_default();
    let mut verified = Vec::with_capacity(change_set.entries.len());
    for entry in change_set
        .entries
        .iter()
        .filter(|e| !applied.contains(&e.path))
    {
        if let Err(reached) = protected.check_write(&out_path.join(&entry.path), false) {
            return Err(ApplyError::Protected {
                path: entry.path.clone(),
                reached,
            });
        }
        let bytes = match &entry.new_sha256 {
            Some(sha) => {
                let bytes = blobs.get(sha)?;
                if bytes.len() as u64 != entry.size {
                    return Err(ApplyError::StagedMismatch {
                        path: entry.path.clone(),
                    });
                }
                Some(bytes)
            }
            None => None,
        };
        let base = read_base(out, &entry.path)?;
        let found = base.sha256();
        let already_applied =
            accept_applied && found != entry.base_sha256 && found == entry.new_sha256;
        if found != entry.base_sha256 && !already_applied {
            let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "no file".into());
            return Err(ApplyError::BaseChanged {
                path: entry.path.clone(),
                expected: show(&entry.base_sha256),
                found: show(&found),
            });
        }
        verified.push(VerifiedWrite {
            entry: entry.clone(),
            bytes,
            base,
            already_applied,
        });
    }
    Ok(verified)
}

/// Everything that can be checked before the first byte, beyond
/// [`verify`]: see the module doc.
pub fn preflight(out: &Dir, writes: &[VerifiedWrite]) -> Result<(), ApplyError> {
    let refuse = |reason: String, hint: &str| ApplyError::Preflight {
        reason,
        hint: hint.to_string(),
    };
    for (i, a) in writes.iter().enumerate() {
        for b in &writes[i + 1..] {
            if let Some(reason) = crate::run::stage::clash(&a.entry.path, &b.entry.path) {
                return Err(refuse(
                    reason,
                    "reject this run; a change set must not hold a file and its parent directory",
                ));
            }
        }
        for segment in a.entry.path.split('/') {
            if segment.len() > crate::grants::MAX_NAME_BYTES {
                return Err(refuse(
                    format!(
                        "a name in `{}` is {} bytes, more than the file system allows ({})",
                        inert(&a.entry.path),
                        segment.len(),
                        crate::grants::MAX_NAME_BYTES
                    ),
                    "reject this run; the plugin must propose shorter file names",
                ));
            }
        }
    }
    let needed: u64 = writes
        .iter()
        .filter(|w| !w.already_applied)
        .map(|w| w.entry.size)
        .sum();
    if let Some(available) = free_bytes(out)
        && needed > available
    {
        return Err(refuse(
            format!(
                "the writes need {needed} bytes and the output directory's file system has {available} free"
            ),
            "free some space, then approve again (nothing was written)",
        ));
    }
    Ok(())
}

/// Bytes available to this user on the file system of `dir`, if known.
fn free_bytes(dir: &Dir) -> Option<u64> {
    use std::os::fd::AsRawFd as _;
    let file = dir.try_clone().ok()?.into_std_file();
    // SAFETY: an all-zero statvfs is a valid value to be filled in.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open for the duration of the call and
    // `stat` is a valid, writable statvfs.
    let rc = unsafe { libc::fstatvfs(file.as_raw_fd(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The prefix of the apply's temporary files.
pub(crate) const TEMP_PREFIX: &str = ".harness-tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Remove temporary files a killed host left in the directories the change
/// set writes to: only regular files named `.harness-tmp-<pid>-<n>` whose
/// process is gone, never through a symlink. Returns the paths removed.
pub fn sweep_temp_files(out: &Dir, change_set: &ChangeSet) -> Vec<String> {
    let mut dirs: Vec<&str> = change_set
        .entries
        .iter()
        .map(|e| e.path.rsplit_once('/').map_or("", |(parent, _)| parent))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    let mut removed = Vec::new();
    for parent in dirs {
        let dir = if parent.is_empty() {
            out.try_clone()
        } else {
            open_parent(out, parent, false)
        };
        let Ok(dir) = dir else {
            continue;
        };
        let cleanup = crate::leftovers::remove_dead_in(&dir, |name| {
            crate::leftovers::pid_after(name, TEMP_PREFIX, true)
        });
        cleanup.log();
        for path in cleanup.removed {
            let name = path.to_string_lossy();
            removed.push(if parent.is_empty() {
                name.into_owned()
            } else {
                format!("{parent}/{name}")
            });
        }
    }
    removed
}

/// The directory `parent` (relative, `/`-separated) under `out`, walked one
/// component at a time, each opened with `O_NOFOLLOW | O_DIRECTORY`; with
/// `create`, a missing component is made first and the directory it was
/// made in fsync'd (so a new file's directory survives a power loss with
/// it). A symlink in the output directory, planted before the apply or
/// swapped in for one of its directories while this walks, fails the write
/// rather than redirect it (into a protected directory the output directory
/// holds, say): no component is ever resolved through a link, so the path
/// checked against the protected paths is where the bytes go.
fn open_parent(out: &Dir, parent: &str, create: bool) -> std::io::Result<Dir> {
    use cap_std::fs::OpenOptionsExt as _;
    let mut dir = out.try_clone()?;
    let mut walked = String::new();
    for name in parent.split('/') {
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(name);
        if create {
            match dir.create_dir(name) {
                Ok(()) => sync(&dir)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let opened = dir.open_with(
            name,
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK),
        );
        let file = opened.map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP | libc::ENOTDIR) => std::io::Error::new(
                e.kind(),
                format!(
                    "`{}` in the output directory is not a directory (a symbolic link or a file); approved writes never go through a link",
                    inert(&walked)
                ),
            ),
            _ => e,
        })?;
        dir = Dir::from_std_file(file.into_std());
    }
    Ok(dir)
}

fn split(path: &str) -> (Option<&str>, &str) {
    match path.rsplit_once('/') {
        Some((parent, name)) => (Some(parent), name),
        None => (None, path),
    }
}

/// fsync a directory (cap-std holds directories as O_PATH descriptors,
/// which cannot be fsync'd; open it for reading).
fn sync(dir: &Dir) -> std::io::Result<()> {
    dir.open_with(".", OpenOptions::new().read(true))
        .and_then(|d| d.sync_all())
}

/// Apply one verified entry: write its bytes, or delete its file, the
/// target checked once more, right before the rename or the unlink, to hold
/// the content the entry was proposed against (an edit made since
/// [`verify`] fails the write rather than be overwritten).
pub fn apply_one(out: &Dir, write: &VerifiedWrite) -> Result<(), ApplyError> {
    let expected = Some(&write.entry.base_sha256);
    match &write.bytes {
        Some(bytes) => put(out, &write.entry.path, bytes, expected),
        None => remove(out, &write.entry.path, expected),
    }
}

/// Atomically put `bytes` at `path` (relative, `/`-separated) under `out`.
pub fn write_file(out: &Dir, path: &str, bytes: &[u8]) -> Result<(), ApplyError> {
    put(out, path, bytes, None)
}

/// Remove the file at `path` under `out` (never through a symlink), durably.
pub fn delete_file(out: &Dir, path: &str) -> Result<(), ApplyError> {
    remove(out, path, None)
}

/// The target at `path` now, refused if a symlink is on its way, or if it
/// no longer has the `expected` content (sha256; `None`: no file).
fn unchanged(out: &Dir, path: &str, expected: Option<&Option<String>>) -> Result<Base, ApplyError> {
    let base = read_base(out, path)?;
    if let Some(expected) = expected {
        let found = base.sha256();
        if found != *expected {
            let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "no file".into());
            return Err(ApplyError::BaseChanged {
                path: path.to_string(),
                expected: show(expected),
                found: show(&found),
            });
        }
    }
    Ok(base)
}

/// A temporary file's name in a target's directory: `.harness-tmp-<pid>-<n>`,
/// `n` unique in this process. One a killed process with the same pid left
/// (a host that is pid 1 in a fresh container, resumed) is stepped over.
fn create_temp(parent: &Dir) -> std::io::Result<(String, cap_std::fs::File)> {
    let mut tries = 0;
    loop {
        let name = format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        match parent.open_with(&name, OpenOptions::new().write(true).create_new(true)) {
            Ok(file) => return Ok((name, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 1000 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

fn put(
    out: &Dir,
    path: &str,
    bytes: &[u8],
    expected: Option<&Option<String>>,
) -> Result<(), ApplyError> {
    let err = |source| ApplyError::Write {
        path: path.to_string(),
        source,
    };
    let (parent_path, name) = split(path);
    let parent = match parent_path {
        Some(parent) => open_parent(out, parent, true).map_err(err)?,
        None => out.try_clone().map_err(err)?,
    };
    let (tmp_name, mut tmp) = create_temp(&parent).map_err(err)?;
    let written = tmp.write_all(bytes).and_then(|()| tmp.sync_all());
    drop(tmp);
    if let Err(e) = written {
        let _ = parent.remove_file(&tmp_name);
        return Err(err(e));
    }
    // Re-check right before the rename: a symlink planted after verification
    // must not be written through (rename replaces a link, but a linked
    // parent directory would redirect the write), and an edit since must
    // not be overwritten.
    if let Err(e) = unchanged(out, path, expected) {
        let _ = parent.remove_file(&tmp_name);
        return Err(e);
    }
    if let Err(e) = parent.rename(&tmp_name, &parent, name) {
        let _ = parent.remove_file(&tmp_name);
        return Err(err(e));
    }
    sync(&parent).map_err(err)
}

fn remove(out: &Dir, path: &str, expected: Option<&Option<String>>) -> Result<(), ApplyError> {
    let err = |source| ApplyError::Write {
        path: path.to_string(),
        source,
    };
    if unchanged(out, path, expected)? == Base::Absent {
        return Ok(());
    }
    let (parent_path, name) = split(path);
    let parent = match parent_path {
        Some(parent) => open_parent(out, parent, false).map_err(err)?,
        None => out.try_clone().map_err(err)?,
    };
    parent.remove_file(name).map_err(err)?;
    sync(&parent).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;

    /// A symlink in the output directory, to a directory it holds (where a
    /// protected one could be), is never written, created or deleted through.
    #[test]
    fn writes_and_deletes_never_go_through_a_linked_directory() {
        let (tmp, out, _blobs) = setup();
        let root = tmp.path().join("out");
        std::fs::create_dir(root.join("kept")).expect("mkdir");
        std::fs::write(root.join("kept/x"), b"host state").expect("write");
        std::os::unix::fs::symlink("kept", root.join("link")).expect("symlink");
        std::os::unix::fs::symlink(root.join("kept"), root.join("abs")).expect("symlink");
        std::fs::create_dir(root.join("real")).expect("mkdir");
        std::os::unix::fs::symlink("../kept", root.join("real/up")).expect("symlink");
        for path in [
            "link/x",
            "link/new",
            "link/a/b/c",
            "abs/x",
            "real/up/x",
            "real/up/d/e",
        ] {
            let err = write_file(&out, path, b"evil").expect_err(path);
            let chain = anyhow_like(&err);
            assert!(chain.contains("not a directory"), "{path}: {chain}");
            let err = delete_file(&out, path);
            assert!(err.is_err(), "{path}: a delete through a link");
        }
        let mut left: Vec<_> = std::fs::read_dir(root.join("kept"))
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        left.sort();
        assert_eq!(left, ["x"], "nothing made in the linked directory");
        assert_eq!(
            std::fs::read(root.join("kept/x")).expect("read"),
            b"host state"
        );
        // A real directory path still works, and makes what is missing.
        write_file(&out, "real/d/e/f.txt", b"ok").expect("a real path");
        assert_eq!(
            std::fs::read(root.join("real/d/e/f.txt")).expect("read"),
            b"ok"
        );
        delete_file(&out, "real/d/e/f.txt").expect("delete");
        assert!(!root.join("real/d/e/f.txt").exists());
    }

    /// A file where a directory of the path must be is refused, not replaced.
    #[test]
    fn a_file_on_the_way_is_refused() {
        let (tmp, out, _blobs) = setup();
        let root = tmp.path().join("out");
        std::fs::write(root.join("f"), b"a file").expect("write");
        assert!(write_file(&out, "f/x", b"evil").is_err());
        assert_eq!(std::fs::read(root.join("f")).expect("read"), b"a file");
    }

    fn anyhow_like(err: &ApplyError) -> String {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    fn setup() -> (tempfile::TempDir, Dir, Blobs) {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("out")).expect("mkdir");
        let out = crate::run::out_dir::open(&tmp.path().join("out"), None).expect("open");
        let blobs = Blobs::new(&tmp.path().join("blobs"));
        (tmp, out, blobs)
    }

    fn check(
        tmp: &tempfile::TempDir,
        out: &Dir,
        blobs: &Blobs,
        cs: &ChangeSet,
    ) -> Result<Vec<VerifiedWrite>, ApplyError> {
        let writes = verify(
            out,
            &tmp.path().join("out"),
            &Protected::new(),
            blobs,
            cs,
            None,
        )?;
        preflight(out, &writes)?;
        Ok(writes)
    }

    /// Write `bytes` at `rel` in the test's folder.
    fn put_file(tmp: &tempfile::TempDir, rel: &str, bytes: &[u8]) {
        std::fs::write(tmp.path().join(rel), bytes).expect("write");
    }

    /// The bytes at `rel` in the test's folder.
    fn file_at(tmp: &tempfile::TempDir, rel: &str) -> Vec<u8> {
        std::fs::read(tmp.path().join(rel)).expect("read")
    }

    fn change(blobs: &Blobs, path: &str, base: Option<&[u8]>, new: &[u8]) -> ChangeSet {
        let sha = blobs.put(new).expect("put");
        ChangeSet::new(vec![ChangeEntry {
            path: path.into(),
            base_sha256: base.map(sha256_hex),
            new_sha256: Some(sha),
            size: new.len() as u64,
        }])
    }

    #[test]
    fn verified_bytes_land_exactly() {
        let (tmp, out, blobs) = setup();
        let cs = change(&blobs, "reports/a.md", None, b"report\n");
        let writes = check(&tmp, &out, &blobs, &cs).expect("verify");
        for w in &writes {
            apply_one(&out, w).expect("write");
        }
        let written = file_at(&tmp, "out/reports/a.md");
        assert_eq!(written, b"report\n");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("out/reports"))
            .expect("ls")
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
    }

    #[test]
    fn an_edited_base_is_refused() {
        let (tmp, out, blobs) = setup();
        put_file(&tmp, "out/a.md", b"old");
        let cs = change(&blobs, "a.md", Some(b"old"), b"new");
        put_file(&tmp, "out/a.md", b"edited");
        assert!(matches!(
            check(&tmp, &out, &blobs, &cs),
            Err(ApplyError::BaseChanged { .. })
        ));
        assert_eq!(file_at(&tmp, "out/a.md"), b"edited");
    }

    #[test]
    fn a_symlinked_target_is_refused_and_its_target_untouched() {
        let (tmp, out, blobs) = setup();
        put_file(&tmp, "victim", b"keep");
        std::os::unix::fs::symlink(tmp.path().join("victim"), tmp.path().join("out/a.md"))
            .expect("symlink");
        let cs = change(&blobs, "a.md", None, b"new");
        assert!(check(&tmp, &out, &blobs, &cs).is_err());
        assert!(write_file(&out, "a.md", b"new").is_err());
        assert_eq!(file_at(&tmp, "victim"), b"keep");
    }

    #[test]
    fn a_parent_and_its_child_are_refused_before_any_byte() {
        let (tmp, out, blobs) = setup();
        let a = blobs.put(b"a").expect("put");
        let b = blobs.put(b"b").expect("put");
        let entry = |path: &str, sha: &str| ChangeEntry {
            path: path.into(),
            base_sha256: None,
            new_sha256: Some(sha.into()),
            size: 1,
        };
        let cs = ChangeSet::new(vec![entry("reports/a", &a), entry("reports/a/b", &b)]);
        let e = check(&tmp, &out, &blobs, &cs).expect_err("refused");
        assert!(matches!(e, ApplyError::Preflight { .. }), "{e}");
        assert!(
            !tmp.path().join("out/reports").exists(),
            "nothing was written"
        );
    }

    #[test]
    fn a_protected_target_is_refused() {
        let (tmp, out, blobs) = setup();
        let cs = change(&blobs, "state/runs/x", None, b"forged");
        let mut protected = Protected::new();
        protected.add(
            crate::protect::ProtectedKind::State,
            &tmp.path().join("out/state"),
        );
        let e = verify(&out, &tmp.path().join("out"), &protected, &blobs, &cs, None)
            .expect_err("refused");
        assert!(matches!(e, ApplyError::Protected { .. }), "{e}");
    }

    #[test]
    fn deletions_remove_exactly_their_file_and_stale_temp_files_are_swept() {
        let (tmp, out, blobs) = setup();
        std::fs::create_dir(tmp.path().join("out/d")).expect("mkdir");
        put_file(&tmp, "out/d/gone.txt", b"old");
        put_file(&tmp, "out/d/keep.txt", b"keep");
        // A temporary file of a process that no longer exists, and one that
        // only looks like one.
        put_file(&tmp, "out/d/.harness-tmp-999999999-0", b"x");
        put_file(&tmp, "out/d/.harness-tmp-notes", b"mine");
        let cs = ChangeSet::new(vec![ChangeEntry {
            path: "d/gone.txt".into(),
            base_sha256: Some(sha256_hex(b"old")),
            new_sha256: None,
            size: 0,
        }]);
        assert_eq!(
            sweep_temp_files(&out, &cs),
            vec!["d/.harness-tmp-999999999-0".to_string()]
        );
        let writes = check(&tmp, &out, &blobs, &cs).expect("verify");
        for w in &writes {
            apply_one(&out, w).expect("delete");
        }
        assert!(!tmp.path().join("out/d/gone.txt").exists());
        assert!(tmp.path().join("out/d/keep.txt").exists());
        assert!(tmp.path().join("out/d/.harness-tmp-notes").exists());
    }
}
