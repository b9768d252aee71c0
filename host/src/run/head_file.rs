//! The journal's head file (`journal.head`, see [`crate::run::journal`]),
//! replaced old-or-new without creating a file per write.
//!
//! A head is written as a fixed-width record ([`WIDTH`] bytes: its JSON
//! padded with spaces). Beside it, `journal.head.prev` holds the head before
//! it: the spare. A new head is written over the spare in place, then the
//! two names are swapped with one `renameat2(RENAME_EXCHANGE)`. A reader
//! opening `journal.head` finds a whole head, the old one or the new one,
//! and no inode is created or freed per write: an MCP session replaces its
//! head at the end of every call, and on a journal-less ext4 every freed
//! inode slows the next file creation down (`recently_deleted`, see the
//! README), where a temporary file renamed into place created one and freed
//! one each time.
//!
//! **After a power loss.** The spare is overwritten in place with as many
//! bytes as it has, at offset 0: its blocks are allocated and its length
//! does not change, so on disk it holds one whole head or another (a write
//! of [`WIDTH`] bytes at offset 0 lies in one sector, which a disk writes
//! whole, as PostgreSQL assumes of `pg_control`), never an empty or partial
//! file, and it needs no fsync of its own. Every head the host writes is
//! written after the records it names are durable ([`place`] is called
//! after their fsync), so whichever of them a power loss leaves at
//! `journal.head`, it is never ahead of the durable journal; it may lag,
//! which readers accept. The first time (no spare yet, or one this host
//! did not write), the new head is a new temporary file, its data fsync'd
//! (a new file's blocks are allocated only at write-back, so without it a
//! power loss could leave an empty head), swapped in, and the old head
//! renamed to the spare. On a file system that cannot exchange two names,
//! each head is a temporary file renamed into place.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The bytes of a head file the host writes: a head's JSON (at most about
/// 100 bytes), then spaces, then a newline.
pub const WIDTH: usize = 128;

/// Where the head of the journal at `journal` is kept.
pub fn head_path(journal: &Path) -> PathBuf {
    journal.with_extension("head")
}

/// The temporary file a new head file is written to before it is put in
/// place (only ever written under the run's lock, so one name suffices).
pub fn head_tmp_path(journal: &Path) -> PathBuf {
    journal.with_extension("head.tmp")
}

/// The spare: the head before the current one, overwritten in place by the
/// next head and swapped in.
pub fn head_spare_path(journal: &Path) -> PathBuf {
    journal.with_extension("head.prev")
}

/// `json` padded to [`WIDTH`] bytes.
pub fn padded(json: &str) -> std::io::Result<[u8; WIDTH]> {
    if json.len() >= WIDTH {
        return Err(std::io::Error::other(format!(
            "a journal head of {} bytes is longer than {WIDTH}",
            json.len()
        )));
    }
    let mut bytes = [b' '; WIDTH];
    bytes[..json.len()].copy_from_slice(json.as_bytes());
    bytes[WIDTH - 1] = b'\n';
    Ok(bytes)
}

/// Where a new head waits until [`place`] swaps it in.
#[derive(Debug)]
pub enum Prepared {
    /// Written over the spare, in place (the bytes kept for a file system
    /// that turns out not to exchange names).
    Spare([u8; WIDTH]),
    /// A new temporary file, its data fsync'd (no usable spare yet).
    Fresh,
}

/// Write `bytes` where the head of `journal` will come from: over the spare
/// if there is one the host wrote (a regular file of [`WIDTH`] bytes with no
/// other name), else into a new temporary file, fsync'd. May run while the
/// records it names are still being fsync'd: nothing reads either file
/// until [`place`].
pub fn prepare(journal: &Path, bytes: &[u8; WIDTH]) -> std::io::Result<Prepared> {
    match spare(journal) {
        Some(spare) => spare.prepare(bytes),
        None => prepare_fresh(journal, bytes),
    }
}

/// `journal`'s spare head, opened, if it is one the host wrote (see
/// [`prepare`]): a head prepared over it costs one `pwrite`.
pub fn spare(journal: &Path) -> Option<Spare> {
    usable_spare(&head_spare_path(journal)).map(Spare)
}

/// A usable spare head, opened for writing ([`spare`]).
#[derive(Debug)]
pub struct Spare(File);

impl Spare {
    /// Write `bytes` over the spare, in place ([`prepare`]).
    pub fn prepare(self, bytes: &[u8; WIDTH]) -> std::io::Result<Prepared> {
        self.0.write_all_at(bytes, 0)?;
        Ok(Prepared::Spare(*bytes))
    }
}

/// Put the prepared head in place of `journal`'s head. Only once the records
/// it names are durable.
pub fn place(journal: &Path, prepared: Prepared) -> std::io::Result<()> {
    let head = head_path(journal);
    match prepared {
        Prepared::Spare(bytes) => {
            let spare = head_spare_path(journal);
            match exchange(&spare, &head) {
                Ok(()) => Ok(()),
                // No head yet: the spare becomes it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::rename(&spare, &head)
                }
                Err(e) if cannot_exchange(&e) => {
                    // The spare's bytes were not fsync'd: write a new file.
                    place(journal, prepare_fresh(journal, &bytes)?)
                }
                Err(e) => Err(e),
            }
        }
        Prepared::Fresh => {
            let tmp = head_tmp_path(journal);
            let placed = match exchange(&tmp, &head) {
                // The old head is the spare from now on; if something else
                // holds the spare's name (a folder, say), there is no spare
                // and the head is in place all the same.
                Ok(()) => {
                    if std::fs::rename(&tmp, head_spare_path(journal)).is_err() {
                        discard(journal, Prepared::Fresh);
                    }
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound || cannot_exchange(&e) => {
                    std::fs::rename(&tmp, &head)
                }
                Err(e) => Err(e),
            };
            if placed.is_err() {
                discard(journal, Prepared::Fresh);
            }
            placed
        }
    }
}

/// Give up a prepared head (the records it names were not recorded): a
/// temporary file is removed; a spare stays a spare.
pub fn discard(journal: &Path, prepared: Prepared) {
    if let Prepared::Fresh = prepared {
        let _ = std::fs::remove_file(head_tmp_path(journal));
    }
}

/// Replace `journal`'s head with `bytes` ([`prepare`], then [`place`]).
pub fn replace(journal: &Path, bytes: &[u8; WIDTH]) -> std::io::Result<()> {
    place(journal, prepare(journal, bytes)?)
}

/// Write the first head of a journal nobody reads yet (a new run's, in its
/// staging folder); returns the file, which the caller fsyncs before the
/// folder can be read.
pub fn create(journal: &Path, bytes: &[u8; WIDTH]) -> std::io::Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(head_path(journal))?;
    file.write_all(bytes)?;
    Ok(file)
}

/// `bytes` in a new temporary file, its data fsync'd (removed if that fails).
fn prepare_fresh(journal: &Path, bytes: &[u8; WIDTH]) -> std::io::Result<Prepared> {
    let tmp = head_tmp_path(journal);
    let written = File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_data()
    });
    match written {
        Ok(()) => Ok(Prepared::Fresh),
        Err(error) => {
            let _ = std::fs::remove_file(&tmp);
            Err(error)
        }
    }
}

/// The spare, opened for writing, if it is one the host wrote: a regular
/// file (not followed if a symlink), of [`WIDTH`] bytes, with no other name
/// (a hard link to another file there must not be written through).
fn usable_spare(path: &Path) -> Option<File> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    (meta.file_type().is_file() && meta.len() == WIDTH as u64 && meta.nlink() == 1).then_some(file)
}

/// Swap the names `a` and `b` (both must exist).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are NUL-terminated paths that outlive the call.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The file system (or kernel) cannot exchange two names.
fn cannot_exchange(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(dir: &Path) -> PathBuf {
        dir.join("journal.jsonl")
    }

    #[test]
    fn a_head_is_swapped_with_its_spare_after_the_first_replacement() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = head(dir.path());
        create(&journal, &padded("{\"seq\":0}").expect("pad")).expect("create");
        // No spare yet: a new file, fsync'd, swapped in; the old head is the spare.
        replace(&journal, &padded("{\"seq\":1}").expect("pad")).expect("first");
        assert!(!head_tmp_path(&journal).exists());
        let read = |p: &Path| String::from_utf8(std::fs::read(p).expect("read")).expect("utf8");
        assert!(read(&head_path(&journal)).starts_with("{\"seq\":1}"));
        assert!(read(&head_spare_path(&journal)).starts_with("{\"seq\":0}"));
        let inodes = |j: &Path| {
            let mut v = [head_path(j), head_spare_path(j)]
                .map(|p| std::fs::metadata(p).expect("meta").ino());
            v.sort_unstable();
            v
        };
        let before = inodes(&journal);
        for seq in 2..6 {
            replace(
                &journal,
                &padded(&format!("{{\"seq\":{seq}}}")).expect("pad"),
            )
            .expect("replace");
            let current = read(&head_path(&journal));
            assert!(
                current.starts_with(&format!("{{\"seq\":{seq}}}")),
                "{current}"
            );
            assert_eq!(current.len(), WIDTH);
            assert!(
                read(&head_spare_path(&journal)).starts_with(&format!("{{\"seq\":{}}}", seq - 1))
            );
        }
        assert_eq!(
            inodes(&journal),
            before,
            "no file created or freed per head"
        );
    }

    #[test]
    fn a_spare_the_host_did_not_write_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = head(dir.path());
        create(&journal, &padded("{\"seq\":0}").expect("pad")).expect("create");
        // A hard link to another file at the spare's name: never written through.
        let other = dir.path().join("other");
        std::fs::write(&other, vec![b'x'; WIDTH]).expect("other");
        std::fs::hard_link(&other, head_spare_path(&journal)).expect("link");
        replace(&journal, &padded("{\"seq\":1}").expect("pad")).expect("replace");
        assert_eq!(std::fs::read(&other).expect("other"), vec![b'x'; WIDTH]);
        // A symlink there is not followed either.
        std::fs::remove_file(head_spare_path(&journal)).expect("rm");
        std::os::unix::fs::symlink(&other, head_spare_path(&journal)).expect("symlink");
        replace(&journal, &padded("{\"seq\":2}").expect("pad")).expect("replace");
        assert_eq!(std::fs::read(&other).expect("other"), vec![b'x'; WIDTH]);
        let read = |p: &Path| String::from_utf8(std::fs::read(p).expect("read")).expect("utf8");
        assert!(read(&head_path(&journal)).starts_with("{\"seq\":2}"));
        // Nor is a folder there in the way: the head is placed, with no spare.
        std::fs::remove_file(head_spare_path(&journal)).expect("rm");
        std::fs::create_dir(head_spare_path(&journal)).expect("dir");
        replace(&journal, &padded("{\"seq\":3}").expect("pad")).expect("replace");
        assert!(!head_tmp_path(&journal).exists());
        assert!(read(&head_path(&journal)).starts_with("{\"seq\":3}"));
        std::fs::remove_dir(head_spare_path(&journal)).expect("rmdir");
        // A short spare (a head of an older host) is not overwritten in place either.
        std::fs::write(head_spare_path(&journal), b"{\"seq\":1}").expect("short");
        replace(&journal, &padded("{\"seq\":3}").expect("pad")).expect("replace");
        assert_eq!(
            std::fs::read(head_spare_path(&journal))
                .expect("spare")
                .len(),
            WIDTH
        );
    }

    #[test]
    fn a_head_longer_than_its_width_is_refused() {
        assert!(padded(&"x".repeat(WIDTH)).is_err());
        assert_eq!(padded("{}").expect("pad").len(), WIDTH);
    }
}
