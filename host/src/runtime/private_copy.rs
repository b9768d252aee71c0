//! Read-write mounts as private copies: a plugin never writes a host
//! directory.
//!
//! For every call, each read-write mount is copied into a fresh directory of
//! the runtime's scratch space (inside the compile cache directory, which no
//! plugin can reach), and *that copy* is what the guest sees, writable.
//! When the call ends the copy is compared with what was copied in: every
//! file the plugin created, changed or deleted becomes a proposed change
//! ([`MountChange`]) for the run's change set, checked against the plugin's
//! `writes` grant and applied only after a person approves it. Then the copy
//! is removed. Nothing the plugin does in the copy reaches a host directory.
//!
//! What is copied: directories and regular files, read from the directory
//! handle opened when the plugin was loaded (so the copy is of the checked
//! directory, whatever its path names now). Symlinks, FIFOs, sockets and
//! devices are left out (reading a FIFO would block the host). The copy is
//! bounded by the plugin's `[limits] rw-copy-mib` and `rw-copy-files`; a
//! mount over either fails the call with an error that names the key.
//! Files are copied with `std::io::copy`, which uses `copy_file_range` on
//! Linux: a reflink on file systems that have them (btrfs, XFS), a
//! kernel-side copy elsewhere.
//!
//! What counts as a change: a regular file whose bytes differ from what was
//! copied in (or that is new), and a copied file that is gone. New empty
//! directories are not changes (directories exist only as the parents of
//! files). A symlink or any other special file left in the copy is not a
//! change (only regular files can be proposed); the call's log says it was
//! left out.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt as _};

use crate::digest::sha256_hex;

/// One change a plugin made in its private copy of a read-write mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountChange {
    /// The file, relative to the run's output directory (`/`-separated).
    pub path: String,
    /// The file's new bytes; `None` when the plugin deleted it.
    pub contents: Option<Vec<u8>>,
}

/// Bounds on one private copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CopyLimits {
    pub(crate) max_bytes: u64,
    pub(crate) max_files: u64,
}

/// Why a private copy could not be made or read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyError {
    #[error(
        "its read-write mount `{}` holds more than {limit} {what}\nhint: raise `[limits] {key}` in its manifest, or mount a smaller directory",
        crate::render::inert(guest)
    )]
    TooLarge {
        guest: String,
        what: &'static str,
        limit: u64,
        key: &'static str,
    },
    // `path` is a file name in the mount or one the plugin made: inert.
    #[error(
        "cannot copy its read-write mount `{}` ({}): {source}",
        crate::render::inert(guest),
        crate::render::inert(path)
    )]
    Io {
        guest: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A read-write mount as resolved at load: the directory handle and where
/// its files land in the output directory.
#[derive(Debug)]
pub(crate) struct RwSource<'a> {
    pub(crate) guest: &'a str,
    pub(crate) original: &'a Dir,
    /// The mount's path relative to the output directory ("" when it is the
    /// output directory itself).
    pub(crate) out_prefix: &'a str,
}

/// A private copy of one read-write mount, removed when dropped.
#[derive(Debug)]
pub(crate) struct PrivateCopy {
    pub(crate) guest: String,
    pub(crate) path: PathBuf,
    out_prefix: String,
    /// sha256 of every regular file copied in, by relative path.
    copied: BTreeMap<String, String>,
    limits: CopyLimits,
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        // remove_dir_all does not follow symlinks the guest may have made.
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a private copy");
        }
    }
}

static COPY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The scratch folder name prefix of this process's copies:
/// `<pid>-<n>-<plugin>`, so a sweep can tell a dead process's leftovers.
pub(crate) fn copy_dir_name(plugin: &str) -> String {
    format!(
        "{}-{}-{plugin}",
        std::process::id(),
        COPY_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Remove private copies left in `scratch` by processes that no longer run
/// (a killed host). Never follows a symlink.
pub(crate) fn sweep(scratch: &Path) {
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && pid != std::process::id() && crate::leftovers::process_is_dead(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl RwSource<'_> {
    /// Copy the mount into a new folder under `scratch`.
    pub(crate) fn copy(
        &self,
        scratch: &Path,
        plugin: &str,
        limits: CopyLimits,
    ) -> Result<PrivateCopy, CopyError> {
        let path = scratch.join(copy_dir_name(plugin));
        let io = |what: &str| io_error(self.guest, what);
        std::fs::create_dir_all(scratch).map_err(io("the scratch directory"))?;
        std::fs::create_dir(&path).map_err(io("a new private copy"))?;
        let mut copy = PrivateCopy {
            guest: self.guest.to_string(),
            path,
            out_prefix: self.out_prefix.to_string(),
            copied: BTreeMap::new(),
            limits,
        };
        let mut budget = Budget::new(self.guest, limits);
        copy_tree(
            self.original,
            &copy.path.clone(),
            "",
            &mut copy,
            &mut budget,
        )?;
        Ok(copy)
    }
}

/// What a copy or a read-back has used of its limits.
struct Budget<'a> {
    guest: &'a str,
    limits: CopyLimits,
    bytes: u64,
    files: u64,
}

impl<'a> Budget<'a> {
    fn new(guest: &'a str, limits: CopyLimits) -> Self {
        Self {
            guest,
            limits,
            bytes: 0,
            files: 0,
        }
    }

    fn file(&mut self) -> Result<(), CopyError> {
        self.files += 1;
        let limit = self.limits.max_files;
        self.within(self.files, limit, "files and directories", "rw-copy-files")
    }

    fn bytes(&mut self, n: u64) -> Result<(), CopyError> {
        self.bytes = self.bytes.saturating_add(n);
        self.within(self.bytes, self.limits.max_bytes, "bytes", "rw-copy-mib")
    }

    /// `used` of `what` against its `limit`; the error names the limit's `key`.
    fn within(
        &self,
        used: u64,
        limit: u64,
        what: &'static str,
        key: &'static str,
    ) -> Result<(), CopyError> {
        if used > limit {
            return Err(CopyError::TooLarge {
                guest: self.guest.to_string(),
                what,
                limit,
                key,
            });
        }
        Ok(())
    }

    /// Bytes still allowed.
    fn left(&self) -> u64 {
        self.limits.max_bytes.saturating_sub(self.bytes)
    }
}

/// For `map_err`: an I/O error at `path` in the read-write mount `guest`.
fn io_error(guest: &str, path: &str) -> impl FnOnce(std::io::Error) -> CopyError + use<> {
    let (guest, path) = (guest.to_string(), path.to_string());
    move |source| CopyError::Io {
        guest,
        path,
        source,
    }
}

/// The entries of the directory at `rel` sorted by name, so that a copy and
/// its read-back walk in the same order; `name` is the entry's file name.
fn by_name<E>(
    listing: std::io::Result<impl Iterator<Item = std::io::Result<E>>>,
    name: fn(&E) -> std::ffi::OsString,
    guest: &str,
    rel: &str,
) -> Result<Vec<E>, CopyError> {
    let mut entries = listing
        .map_err(io_error(guest, rel))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error(guest, rel))?;
    entries.sort_by_key(name);
    Ok(entries)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Copy the directories and regular files of `src` into `dest` (a host
/// path), recording each file's digest under `rel`.
fn copy_tree(
    src: &Dir,
    dest: &Path,
    rel: &str,
    copy: &mut PrivateCopy,
    budget: &mut Budget<'_>,
) -> Result<(), CopyError> {
    let guest = copy.guest.clone();
    let io = |path: &str| io_error(&guest, path);
    let entries = by_name(src.entries(), cap_std::fs::DirEntry::file_name, &guest, rel)?;
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            // A name that is not UTF-8 cannot become a proposed path; the
            // plugin does not see the file.
            continue;
        };
        let child = join(rel, name);
        let file_type = entry.file_type().map_err(io(&child))?;
        if file_type.is_dir() {
            budget.file()?;
            let sub = src.open_dir(name).map_err(io(&child))?;
            let target = dest.join(name);
            std::fs::create_dir(&target).map_err(io(&child))?;
            copy_tree(&sub, &target, &child, copy, budget)?;
        } else if file_type.is_file() {
            budget.file()?;
            let mut options = OpenOptions::new();
            options.read(true).custom_flags(libc::O_NONBLOCK);
            let file = src.open_with(name, &options).map_err(io(&child))?;
            let meta = file.metadata().map_err(io(&child))?;
            if !meta.is_file() {
                continue;
            }
            budget.bytes(meta.len())?;
            let mut reader = file.into_std().take(budget.left().saturating_add(1));
            let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
            reader.read_to_end(&mut bytes).map_err(io(&child))?;
            if bytes.len() as u64 > meta.len() {
                budget.bytes(bytes.len() as u64 - meta.len())?;
            }
            std::fs::write(dest.join(name), &bytes).map_err(io(&child))?;
            copy.copied.insert(child, sha256_hex(&bytes));
        }
        // Symlinks, FIFOs, sockets, devices: not copied.
    }
    Ok(())
}

impl PrivateCopy {
    /// Every file the plugin created, changed or deleted in the copy, sorted
    /// by path, as paths under the output directory; and a note for each
    /// special file (symlink, FIFO, ...) left out.
    pub(crate) fn changes(&self) -> Result<(Vec<MountChange>, Vec<String>), CopyError> {
        let mut found: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut budget = Budget::new(&self.guest, self.limits);
        let mut skipped = Vec::new();
        self.read_back(&self.path, "", &mut found, &mut budget, &mut skipped)?;
        let mut changes = Vec::new();
        for (rel, bytes) in &found {
            if self.copied.get(rel) != Some(&sha256_hex(bytes)) {
                changes.push(MountChange {
                    path: join(&self.out_prefix, rel),
                    contents: Some(bytes.clone()),
                });
            }
        }
        for rel in self.copied.keys() {
            if !found.contains_key(rel) {
                changes.push(MountChange {
                    path: join(&self.out_prefix, rel),
                    contents: None,
                });
            }
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        let notes = skipped
            .into_iter()
            .map(|(path, kind)| {
                format!(
                    "{kind} `{}` left in the read-write mount `{}` is not proposed: only regular files can be",
                    crate::render::inert(&path),
                    self.guest
                )
            })
            .collect();
        Ok((changes, notes))
    }

    fn read_back(
        &self,
        dir: &Path,
        rel: &str,
        found: &mut BTreeMap<String, Vec<u8>>,
        budget: &mut Budget<'_>,
        skipped: &mut Vec<(String, &'static str)>,
    ) -> Result<(), CopyError> {
        let io = |path: &str| io_error(&self.guest, path);
        let entries = by_name(
            std::fs::read_dir(dir),
            std::fs::DirEntry::file_name,
            &self.guest,
            rel,
        )?;
        for entry in entries {
            let name = entry.file_name();
            let child = join(rel, &name.to_string_lossy());
            let Some(name) = name.to_str() else {
                skipped.push((child, "a file whose name is not UTF-8"));
                continue;
            };
            let file_type = entry.file_type().map_err(io(&child))?;
            budget.file()?;
            if file_type.is_symlink() {
                skipped.push((child, "the symbolic link"));
            } else if file_type.is_dir() {
                self.read_back(&dir.join(name), &child, found, budget, skipped)?;
            } else if file_type.is_file() {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(dir.join(name))
                    .map_err(io(&child))?;
                let mut bytes = Vec::new();
                file.take(budget.left().saturating_add(1))
                    .read_to_end(&mut bytes)
                    .map_err(io(&child))?;
                budget.bytes(bytes.len() as u64)?;
                found.insert(child, bytes);
            } else {
                skipped.push((child, "the special file"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> CopyLimits {
        CopyLimits {
            max_bytes: 1 << 20,
            max_files: 100,
        }
    }

    fn fixture() -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        std::fs::write(src.join("keep.txt"), b"keep").expect("write");
        std::fs::write(src.join("edit.txt"), b"old").expect("write");
        std::fs::write(src.join("sub/gone.txt"), b"gone").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).expect("symlink");
        let dir = Dir::open_ambient_dir(&src, cap_std::ambient_authority()).expect("open");
        (tmp, dir)
    }

    /// The fixture's directory as a read-write mount staged under `out_prefix`.
    fn source<'a>(dir: &'a Dir, out_prefix: &'a str) -> RwSource<'a> {
        RwSource {
            guest: "/rw",
            original: dir,
            out_prefix,
        }
    }

    #[test]
    fn changes_in_the_copy_become_proposals_and_the_original_is_untouched() {
        let (tmp, dir) = fixture();
        let copy = source(&dir, "data")
            .copy(&tmp.path().join("scratch"), "p", limits())
            .expect("copy");
        assert!(!copy.path.join("link").exists(), "symlinks are not copied");
        std::fs::write(copy.path.join("edit.txt"), b"new").expect("write");
        std::fs::write(copy.path.join("new.txt"), b"fresh").expect("write");
        std::fs::remove_file(copy.path.join("sub/gone.txt")).expect("rm");
        std::fs::create_dir(copy.path.join("empty")).expect("mkdir");
        let (changes, notes) = copy.changes().expect("changes");
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(
            changes,
            vec![
                MountChange {
                    path: "data/edit.txt".into(),
                    contents: Some(b"new".to_vec())
                },
                MountChange {
                    path: "data/new.txt".into(),
                    contents: Some(b"fresh".to_vec())
                },
                MountChange {
                    path: "data/sub/gone.txt".into(),
                    contents: None
                },
            ]
        );
        let copy_path = copy.path.clone();
        drop(copy);
        assert!(!copy_path.exists(), "the copy is removed");
        let src = tmp.path().join("src");
        assert_eq!(std::fs::read(src.join("edit.txt")).expect("read"), b"old");
        assert!(src.join("sub/gone.txt").exists());
        assert!(!src.join("new.txt").exists());
    }

    #[test]
    fn a_symlink_left_in_the_copy_is_not_proposed() {
        let (tmp, dir) = fixture();
        let copy = source(&dir, "")
            .copy(&tmp.path().join("scratch"), "p", limits())
            .expect("copy");
        std::os::unix::fs::symlink("/etc", copy.path.join("escape")).expect("symlink");
        let (changes, notes) = copy.changes().expect("changes");
        assert!(changes.is_empty(), "{changes:?}");
        assert!(notes[0].contains("symbolic link `escape`"), "{notes:?}");
    }

    #[test]
    fn limits_are_enforced_with_the_key_named() {
        let (tmp, dir) = fixture();
        let source = source(&dir, "");
        let small = CopyLimits {
            max_bytes: 5,
            max_files: 100,
        };
        let e = source
            .copy(&tmp.path().join("scratch"), "p", small)
            .expect_err("too big");
        assert!(e.to_string().contains("rw-copy-mib"), "{e}");
        let few = CopyLimits {
            max_bytes: 1 << 20,
            max_files: 2,
        };
        let e = source
            .copy(&tmp.path().join("scratch"), "p", few)
            .expect_err("too many");
        assert!(e.to_string().contains("rw-copy-files"), "{e}");
    }
}
