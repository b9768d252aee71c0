//! Content-addressed storage of a run's step outputs, staged writes and base
//! bytes. [`Blobs`] is the handle every caller uses; [`BlobStore`] is the
//! seam a run store implements (see [`super::store`]); [`FileBlobs`] is the
//! file store's (`<run>/blobs/<sha256>`).
//!
//! A blob is written once, atomically, and verified against its name every
//! time it is read, so a staged byte changed after approval is caught before
//! it could be applied. Blobs are read only if they are regular files, at
//! most [`MAX_BLOB_BYTES`] ([`crate::bounded_read`]).
//!
//! **Small blobs ride in the journal.** A blob put through a run the
//! process holds (its [`Carrier`]) of at most [`CARRY_MAX_BYTES`] is not
//! fsync'd as a file of its own: its file is written old-or-new but unsynced,
//! and its bytes go into the next journal record this process writes
//! ([`crate::run::journal::CarriedBlob`]), which is fsync'd before any event
//! that names the blob can be (the events naming it are written in that
//! record or after). A step's output thus costs no fsync beyond its
//! journal record's. If the file is later absent or empty (what a power cut
//! before the kernel wrote it back leaves), [`Blobs::get`] takes the bytes
//! from the verified journal, so exactly the recorded bytes are served, or
//! none; a file with other bytes than its name says is refused as before. Larger blobs, blobs put
//! through a handle that holds no run ([`Blobs::new`]) and blobs beyond the
//! run's carry budget ([`CARRY_BUDGET_BYTES`]) are written as durable files
//! first (temporary file, fsync, rename, directory fsync).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::bounded_read::{self, ReadError, Symlinks};
use crate::digest::sha256_hex;
use crate::run::journal::{self, CarriedBlob};

/// The largest blob carried in the journal instead of fsync'd on its own.
pub const CARRY_MAX_BYTES: usize = 64 * 1024;

/// Carried blobs stop once the journal (plus what waits to be carried)
/// would pass this size, a quarter of the largest journal the host reads
/// ([`journal::MAX_JOURNAL_BYTES`]); later blobs are durable files.
pub const CARRY_BUDGET_BYTES: u64 = journal::MAX_JOURNAL_BYTES / 4;

/// The largest blob read back: the largest output a plugin may be granted
/// (`limits.max-output-kib` ≤ 1 GiB), which bounds every write it proposes.
pub const MAX_BLOB_BYTES: u64 = 1024 * 1024 * 1024;

/// Where one run keeps its blobs: the seam a run store implements.
pub trait BlobStore: std::fmt::Debug + Send + Sync {
    /// Store `bytes` (once: storing the same bytes again is a no-op);
    /// returns their sha256, which names the blob.
    fn put(&self, bytes: &[u8]) -> Result<String, BlobError>;
    /// Read a blob back, verified against its name.
    fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError>;
    /// A file a person can open to see the blob whole, if the store keeps
    /// blobs as files.
    fn location(&self, sha256: &str) -> Option<PathBuf>;
}

/// One run's blobs.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn BlobStore>,
}

/// The file store's blobs: one file per blob in a run's `blobs/` folder.
#[derive(Debug, Clone)]
pub struct FileBlobs {
    dir: PathBuf,
    /// The run's journal, where carried blobs are found again.
    journal: Option<PathBuf>,
    /// Set while this process holds the run: small blobs ride in its
    /// next journal record.
    carrier: Option<Arc<Carrier>>,
}

/// The blobs waiting to ride in the next journal record of a run this
/// process holds, shared by the run's [`Blobs`] and its journal writer.
#[derive(Debug)]
pub struct Carrier {
    waiting: Mutex<Vec<CarriedBlob>>,
    /// Bytes of the journal as its writer last saw them.
    journal_bytes: AtomicU64,
}

/// Queue `blob` unless a blob of the same name waits already.
fn push_new(waiting: &mut Vec<CarriedBlob>, blob: CarriedBlob) {
    if !waiting.iter().any(|b| b.sha256 == blob.sha256) {
        waiting.push(blob);
    }
}

impl Carrier {
    /// A carrier for a journal of `journal_bytes` bytes.
    pub fn new(journal_bytes: u64) -> Arc<Carrier> {
        Arc::new(Carrier {
            waiting: Mutex::new(Vec::new()),
            journal_bytes: AtomicU64::new(journal_bytes),
        })
    }

    /// Queue `bytes` for the next record, if they fit; false: store them
    /// as a durable file instead.
    fn offer(&self, sha256: &str, bytes: &[u8]) -> bool {
        if bytes.len() > CARRY_MAX_BYTES {
            return false;
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let queued: u64 = waiting.iter().map(|b| b.bytes.len() as u64).sum();
        // base64 adds a third, the JSON a little more.
        let after = self.journal_bytes.load(Ordering::Relaxed)
            + (queued + bytes.len() as u64) * 4 / 3
            + 128;
        if after > CARRY_BUDGET_BYTES {
            return false;
        }
        push_new(
            &mut waiting,
            CarriedBlob {
                sha256: sha256.to_string(),
                bytes: bytes.to_vec(),
            },
        );
        true
    }

    /// Everything waiting, for the record being written now.
    pub fn take(&self) -> Vec<CarriedBlob> {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The record carrying `blobs` was not written: they wait again.
    pub fn put_back(&self, blobs: Vec<CarriedBlob>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for blob in blobs {
            push_new(&mut waiting, blob);
        }
    }

    /// The journal is now `bytes` long.
    pub fn journal_is(&self, bytes: u64) {
        self.journal_bytes.store(bytes, Ordering::Relaxed);
    }
}

/// A blob that could not be stored or read back intact.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A blob could not be written, synced or opened.
    #[error("cannot access staged blob `{}`", crate::render::inert(&.path.display().to_string()))]
    Io {
        /// The blob's file (or the blob folder).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A blob could not be read, or was refused unread (not a regular file, too large).
    #[error(transparent)]
    Read(ReadError),
    /// A blob's bytes no longer hash to its name.
    #[error(
        "staged blob `{}` no longer matches its digest: it was changed after it was staged\nhint: the run's staged data cannot be trusted; reject the run and start a new one",
        crate::render::inert(&.path.display().to_string())
    )]
    Tampered {
        /// The blob's file.
        path: PathBuf,
    },
}

impl Blobs {
    /// Blobs kept as files in `dir` ([`FileBlobs`]), each written durably.
    pub fn new(dir: &Path) -> Blobs {
        Blobs::with(Arc::new(FileBlobs {
            dir: dir.to_path_buf(),
            journal: None,
            carrier: None,
        }))
    }

    /// A run's blobs, kept as files in `dir`, found in `journal` too if
    /// their file was lost; small ones ride in the journal through
    /// `carrier` while this process holds the run (see the module doc).
    pub fn of_run(dir: &Path, journal: &Path, carrier: Option<Arc<Carrier>>) -> Blobs {
        Blobs::with(Arc::new(FileBlobs {
            dir: dir.to_path_buf(),
            journal: Some(journal.to_path_buf()),
            carrier,
        }))
    }

    /// Blobs kept by `store`.
    pub fn with(store: Arc<dyn BlobStore>) -> Blobs {
        Blobs { store }
    }

    /// Store `bytes`; returns their sha256, which names the blob.
    pub fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        self.store.put(bytes)
    }

    /// How the journal refers to a blob (`blobs/<sha256>`, whatever the store).
    pub fn reference(&self, sha256: &str) -> String {
        format!("blobs/{sha256}")
    }

    /// Read a blob back, verifying it still has the digest it is named by.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        self.store.get(sha256)
    }

    /// A file a person can open to see the blob whole, if there is one.
    pub fn location(&self, sha256: &str) -> Option<PathBuf> {
        self.store.location(sha256)
    }
}

impl BlobStore for FileBlobs {
    fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let sha = sha256_hex(bytes);
        let path = self.dir.join(&sha);
        let io = |source| BlobError::Io {
            path: path.clone(),
            source,
        };
        self.dir_in_place().map_err(io)?;
        // A file of another size (an earlier unsynced write a power cut
        // emptied) is written again.
        let whole = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if let Some(carrier) = &self.carrier
            && carrier.offer(&sha, bytes)
        {
            // Carried even if a file is there: it may be a dead process's
            // unsynced write that no durable record names.
            if !whole {
                crate::atomic_file::write_unsynced(&path, bytes).map_err(io)?;
            }
            return Ok(sha);
        }
        if !whole {
            crate::atomic_file::write(&path, bytes).map_err(io)?;
        }
        Ok(sha)
    }

    fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.dir.join(sha256);
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BlobError::Tampered { path });
        }
        let bytes = match bounded_read::read_regular(
            &path,
            MAX_BLOB_BYTES,
            "staged blob",
            Symlinks::Refuse,
        ) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return self.carried_instead(sha256, &path, e),
            Err(e) => return Err(e.into()),
        };
        if sha256_hex(&bytes) != sha256 {
            // Empty is what a power cut leaves of a file written unsynced;
            // any other content was put there by someone: refused.
            if bytes.is_empty() {
                return self.carried_instead(
                    sha256,
                    &path,
                    BlobError::Tampered { path: path.clone() },
                );
            }
            return Err(BlobError::Tampered { path });
        }
        Ok(bytes)
    }

    fn location(&self, sha256: &str) -> Option<PathBuf> {
        Some(self.dir.join(sha256))
    }
}

impl FileBlobs {
    /// Make sure the blobs' folder is there, and its name durable: a new
    /// run's is made with the run (and fsync'd with it); one made here (a run
    /// from before that) has its parent fsync'd once, so a blob a durable
    /// record names cannot lose its folder to a power cut.
    fn dir_in_place(&self) -> std::io::Result<()> {
        match std::fs::create_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.dir)?;
                self.sync_parent()
            }
            Err(e) => Err(e),
            Ok(()) => self.sync_parent(),
        }
    }

    fn sync_parent(&self) -> std::io::Result<()> {
        match self.dir.parent() {
            Some(parent) => crate::atomic_file::sync_dir(parent),
            None => Ok(()),
        }
    }

    /// Blob `sha256`'s file at `path` is absent or empty: its bytes as a
    /// record of the verified journal carries them, if one does (the
    /// journal's chain and head must check out), else `error`.
    fn carried_instead(
        &self,
        sha256: &str,
        path: &Path,
        error: impl Into<BlobError>,
    ) -> Result<Vec<u8>, BlobError> {
        let error = error.into();
        let Some(journal) = self.journal.as_deref() else {
            return Err(error);
        };
        match journal::verify(journal) {
            Ok(verified) => match verified.carried(sha256) {
                Some(bytes) => {
                    tracing::warn!(blob = %path.display(), "a staged blob's file is absent or empty (a power cut before it was written back?); using the copy its journal record carries");
                    Ok(bytes)
                }
                None => Err(error),
            },
            Err(problem) => {
                tracing::warn!(journal = %journal.display(), error = %problem, "cannot look for a carried blob in the journal");
                Err(error)
            }
        }
    }
}

impl From<ReadError> for BlobError {
    fn from(e: ReadError) -> BlobError {
        match e {
            ReadError::Io { path, source, .. } => BlobError::Io { path, source },
            other => BlobError::Read(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_blob_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::new(tmp.path());
        let sha = blobs.put(b"approved bytes").expect("put");
        assert_eq!(blobs.get(&sha).expect("get"), b"approved bytes");
        std::fs::write(tmp.path().join(&sha), b"other bytes").expect("tamper");
        assert!(matches!(blobs.get(&sha), Err(BlobError::Tampered { .. })));
        assert!(matches!(blobs.get("../x"), Err(BlobError::Tampered { .. })));
        // An emptied file (a power cut after an unsynced write) is
        // replaced when the same bytes are put again.
        std::fs::write(tmp.path().join(&sha), b"").expect("empty");
        blobs.put(b"approved bytes").expect("put again");
        assert_eq!(blobs.get(&sha).expect("get"), b"approved bytes");
    }
}
