//! Content-addressed storage of a run's step outputs and staged writes
//! (`<run>/blobs/<sha256>`). A blob is written once, atomically, and verified
//! against its name every time it is read, so a staged byte changed on disk
//! after approval is caught before it could be applied.

use std::path::{Path, PathBuf};

use crate::digest::sha256_hex;

/// The blob folder of one run.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

/// A blob that could not be stored or read back intact.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("cannot access staged blob `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "staged blob `{path}` no longer matches its digest: it was changed after it was staged\nhint: the run's staged data cannot be trusted; reject the run and start a new one"
    )]
    Tampered { path: PathBuf },
}

impl Blobs {
    pub fn new(dir: &Path) -> Blobs {
        Blobs {
            dir: dir.to_path_buf(),
        }
    }

    /// Store `bytes`; returns their sha256, which names the blob.
    pub fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
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

    /// Where a blob lives, relative to the run folder (for the journal).
    pub fn relative_path(&self, sha256: &str) -> String {
        format!("blobs/{sha256}")
    }

    /// Read a blob back, verifying it still has the digest it is named by.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.dir.join(sha256);
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BlobError::Tampered { path });
        }
        let bytes = std::fs::read(&path).map_err(|source| BlobError::Io {
            path: path.clone(),
            source,
        })?;
        if sha256_hex(&bytes) != sha256 {
            return Err(BlobError::Tampered { path });
        }
        Ok(bytes)
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
