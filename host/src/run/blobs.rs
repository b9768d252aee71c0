//! Content-addressed storage of a run's step outputs, staged writes and base
//! bytes. [`Blobs`] is the handle every caller uses; [`BlobStore`] is the
//! seam a run store implements (see [`super::store`]); [`FileBlobs`] is the
//! file store's (`<run>/blobs/<sha256>`).
//!
//! A blob is written once, atomically, and verified against its name every
//! time it is read, so a staged byte changed after approval is caught before
//! it could be applied. Blobs are read only if they are regular files, at
//! most [`MAX_BLOB_BYTES`] ([`crate::bounded_read`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bounded_read::{self, ReadError, Symlinks};
use crate::digest::sha256_hex;

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
    /// Blobs kept as files in `dir` ([`FileBlobs`]).
    pub fn new(dir: &Path) -> Blobs {
        Blobs::with(Arc::new(FileBlobs {
            dir: dir.to_path_buf(),
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
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        if !path.exists() {
            crate::atomic_file::write(&path, bytes).map_err(io)?;
        }
        Ok(sha)
    }

    fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.dir.join(sha256);
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BlobError::Tampered { path });
        }
        let bytes =
            bounded_read::read_regular(&path, MAX_BLOB_BYTES, "staged blob", Symlinks::Refuse)
                .map_err(|e| match e {
                    ReadError::Io { source, .. } => BlobError::Io {
                        path: path.clone(),
                        source,
                    },
                    other => BlobError::Read(other),
                })?;
        if sha256_hex(&bytes) != sha256 {
            return Err(BlobError::Tampered { path });
        }
        Ok(bytes)
    }

    fn location(&self, sha256: &str) -> Option<PathBuf> {
        Some(self.dir.join(sha256))
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
    }
}
