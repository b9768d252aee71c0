//! Putting approved bytes on disk, and nothing else.
//!
//! Before anything is written, every entry of the approved change set is
//! re-verified: the staged blob still has the approved digest, the target's
//! current content still has the approved base digest, and no component of the
//! target path is a symlink. Any mismatch refuses the whole apply. Each write
//! then goes through cap-std (which cannot escape the output directory): a
//! temporary file in the target's directory, fsync, rename over the target,
//! fsync of the directory. A reader or a crash sees the old file or the new
//! one, never a torn mix.

use std::io::Write as _;
use std::path::Path;

use cap_std::fs::{Dir, OpenOptions};

use crate::run::blobs::{BlobError, Blobs};
use crate::run::changeset::{Base, ChangeEntry, ChangeSet, TargetError, read_base};

/// An approved write, verified and ready to put on disk.
#[derive(Debug)]
pub struct VerifiedWrite {
    pub entry: ChangeEntry,
    pub bytes: Vec<u8>,
    pub base: Base,
    /// The target already holds exactly these bytes (only when resuming an
    /// apply that stopped after a rename, before journaling it).
    pub already_applied: bool,
}

/// Why approved writes were refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot open the output directory `{path}`")]
    OutDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(
        "staged bytes for `{}` do not match the change set",
        crate::render::inert(path)
    )]
    StagedMismatch { path: String },
    #[error(
        "`{}` changed since the run proposed its write (expected {expected}, found {found})\nhint: someone edited the file after the run staged its change; reject this run and start a new one so the change is reviewed against the current file",
        crate::render::inert(path)
    )]
    BaseChanged {
        path: String,
        expected: String,
        found: String,
    },
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("cannot write `{}`", crate::render::inert(path))]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Open the run's output directory as a capability: nothing can be written
/// outside it, whatever symlinks it contains.
pub fn open_out_dir(path: &Path) -> Result<Dir, ApplyError> {
    Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(|source| ApplyError::OutDir {
        path: path.to_path_buf(),
        source,
    })
}

/// Re-check every entry of `change_set` against the staged blobs and the
/// current files. Returns the writes in order, or the first mismatch.
pub fn verify(
    out: &Dir,
    blobs: &Blobs,
    change_set: &ChangeSet,
) -> Result<Vec<VerifiedWrite>, ApplyError> {
    verify_entries(out, blobs, change_set, &[], false)
}

/// Like [`verify`], for an apply that may have been cut short: entries in
/// `applied` (journaled as written) are left out, and a target already
/// holding exactly the approved bytes is accepted as written.
pub fn verify_remaining(
    out: &Dir,
    blobs: &Blobs,
    change_set: &ChangeSet,
    applied: &[String],
) -> Result<Vec<VerifiedWrite>, ApplyError> {
    verify_entries(out, blobs, change_set, applied, true)
}

fn verify_entries(
    out: &Dir,
    blobs: &Blobs,
    change_set: &ChangeSet,
    applied: &[String],
    accept_applied: bool,
) -> Result<Vec<VerifiedWrite>, ApplyError> {
    let mut verified = Vec::with_capacity(change_set.entries.len());
    for entry in change_set
        .entries
        .iter()
        .filter(|e| !applied.contains(&e.path))
    {
        let bytes = blobs.get(&entry.new_sha256)?;
        if bytes.len() as u64 != entry.size {
            return Err(ApplyError::StagedMismatch {
                path: entry.path.clone(),
            });
        }
        let base = read_base(out, &entry.path)?;
        let found = base.sha256();
        let already_applied = accept_applied
            && found != entry.base_sha256
            && found.as_deref() == Some(entry.new_sha256.as_str());
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

/// Atomically put `bytes` at `path` (relative, `/`-separated) under `out`.
pub fn write_file(out: &Dir, path: &str, bytes: &[u8]) -> Result<(), ApplyError> {
    let err = |source| ApplyError::Write {
        path: path.to_string(),
        source,
    };
    let (parent_path, name) = match path.rsplit_once('/') {
        Some((parent, name)) => (Some(parent), name),
        None => (None, path),
    };
    let parent = match parent_path {
        Some(parent) => {
            out.create_dir_all(parent).map_err(err)?;
            out.open_dir(parent).map_err(err)?
        }
        None => out.try_clone().map_err(err)?,
    };
    // Re-check right before the rename: a symlink planted after verification
    // must not be written through (rename replaces a link, but a linked
    // parent directory would redirect the write).
    read_base(out, path)?;
    let tmp_name = format!(".{name}.harness-tmp-{}", std::process::id());
    let mut tmp = parent
        .open_with(&tmp_name, OpenOptions::new().write(true).create_new(true))
        .map_err(err)?;
    let written = tmp.write_all(bytes).and_then(|()| tmp.sync_all());
    drop(tmp);
    if let Err(e) = written {
        let _ = parent.remove_file(&tmp_name);
        return Err(err(e));
    }
    if let Err(e) = parent.rename(&tmp_name, &parent, name) {
        let _ = parent.remove_file(&tmp_name);
        return Err(err(e));
    }
    // cap-std holds directories as O_PATH descriptors, which cannot be
    // fsync'd; open the directory for reading to make the rename durable.
    parent
        .open_with(".", OpenOptions::new().read(true))
        .and_then(|d| d.sync_all())
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;

    fn setup() -> (tempfile::TempDir, Dir, Blobs) {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("out")).expect("mkdir");
        let out = open_out_dir(&tmp.path().join("out")).expect("open");
        let blobs = Blobs::new(&tmp.path().join("blobs"));
        (tmp, out, blobs)
    }

    fn change(blobs: &Blobs, path: &str, base: Option<&[u8]>, new: &[u8]) -> ChangeSet {
        let sha = blobs.put(new).expect("put");
        ChangeSet::new(vec![ChangeEntry {
            path: path.into(),
            base_sha256: base.map(sha256_hex),
            new_sha256: sha,
            size: new.len() as u64,
        }])
    }

    #[test]
    fn verified_bytes_land_exactly() {
        let (tmp, out, blobs) = setup();
        let cs = change(&blobs, "reports/a.md", None, b"report\n");
        let writes = verify(&out, &blobs, &cs).expect("verify");
        for w in &writes {
            write_file(&out, &w.entry.path, &w.bytes).expect("write");
        }
        let written = std::fs::read(tmp.path().join("out/reports/a.md")).expect("read");
        assert_eq!(written, b"report\n");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("out/reports"))
            .expect("ls")
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
    }

    #[test]
    fn an_edited_base_is_refused() {
        let (tmp, out, blobs) = setup();
        std::fs::write(tmp.path().join("out/a.md"), b"old").expect("write");
        let cs = change(&blobs, "a.md", Some(b"old"), b"new");
        std::fs::write(tmp.path().join("out/a.md"), b"edited").expect("write");
        assert!(matches!(
            verify(&out, &blobs, &cs),
            Err(ApplyError::BaseChanged { .. })
        ));
        assert_eq!(
            std::fs::read(tmp.path().join("out/a.md")).expect("read"),
            b"edited"
        );
    }

    #[test]
    fn a_symlinked_target_is_refused_and_its_target_untouched() {
        let (tmp, out, blobs) = setup();
        std::fs::write(tmp.path().join("victim"), b"keep").expect("write");
        std::os::unix::fs::symlink(tmp.path().join("victim"), tmp.path().join("out/a.md"))
            .expect("symlink");
        let cs = change(&blobs, "a.md", None, b"new");
        assert!(verify(&out, &blobs, &cs).is_err());
        assert!(write_file(&out, "a.md", b"new").is_err());
        assert_eq!(
            std::fs::read(tmp.path().join("victim")).expect("read"),
            b"keep"
        );
    }
}
