//! The run's output directory, pinned like a mount.
//!
//! When a run is created its output directory is checked (not a system or
//! credential directory, not one of the host's own paths) and identified by
//! device and inode; the identity is journaled in `run_created`. Every later
//! open (staging the change set, `host show`, `approve`, `resume`) opens the
//! path and compares the identity of what it opened: a directory renamed
//! and replaced, or a path that now leads through a symlink elsewhere, is
//! refused, naming what changed. The open directory is a cap-std `Dir`, so
//! nothing under it can be reached through a symlink either.

use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};

use crate::protect::{Protected, ProtectedHit};
use crate::render::inert;

/// A directory's identity: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirId {
    /// The file system's device number.
    pub dev: u64,
    /// The directory's inode number on that device.
    pub ino: u64,
}

impl std::fmt::Display for DirId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device {} inode {}", self.dev, self.ino)
    }
}

/// Why an output directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// The output directory could not be opened (or its identity read).
    #[error("cannot open the output directory `{}`", inert(&path.display().to_string()))]
    Open {
        /// The output directory's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The directory at the output path is not the one the run was created with.
    #[error(
        "the output directory `{}` is not the directory this run was created with (it was {recorded}, it is now {found})\nhint: the directory was replaced, moved, or its path now leads through a symlink; nothing is written to a directory other than the one the run staged against: reject this run and start a new one",
        inert(&path.display().to_string())
    )]
    Changed {
        /// The output directory's path.
        path: PathBuf,
        /// The identity the run recorded at creation.
        recorded: DirId,
        /// The identity of the directory at that path now.
        found: DirId,
    },
    /// The output directory is, or lies inside, a system or credential directory.
    #[error(
        "the output directory `{}` is or lies inside the system or credential directory `{}`\nhint: choose an output directory for the run's results, e.g. a folder in your project",
        inert(&path.display().to_string()),
        system.display()
    )]
    System {
        /// The output directory's path.
        path: PathBuf,
        /// The system or credential directory it reaches.
        system: PathBuf,
    },
    /// The output directory is, or lies inside, one of the host's protected paths.
    #[error(
        "the output directory `{}` is or lies inside {reached}\nhint: the host's state, cache, plugins folder, workflow, manifests and components can never receive a run's writes; choose another --out",
        inert(&path.display().to_string())
    )]
    Protected {
        /// The output directory's path.
        path: PathBuf,
        /// The protected path it is or lies inside.
        reached: ProtectedHit,
    },
}

/// The identity of an open directory.
fn identity(dir: &Dir) -> std::io::Result<DirId> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = dir.try_clone()?.into_std_file().metadata()?;
    Ok(DirId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Check a new run's output directory and take its identity.
pub fn pin(path: &Path, protected: &Protected) -> Result<DirId, OutDirError> {
    if let Some(system) = crate::protect::system_dir(path) {
        return Err(OutDirError::System {
            path: path.to_path_buf(),
            system,
        });
    }
    // An output directory that merely *contains* a protected path is fine:
    // every `writes` prefix and every write is checked against it.
    if let Err(reached) = protected.check_write(path, false) {
        return Err(OutDirError::Protected {
            path: path.to_path_buf(),
            reached,
        });
    }
    let dir = open_unpinned(path)?;
    identity(&dir).map_err(|source| OutDirError::Open {
        path: path.to_path_buf(),
        source,
    })
}

fn open_unpinned(path: &Path) -> Result<Dir, OutDirError> {
    Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(|source| OutDirError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Open the output directory, refusing one that is not the directory the
/// run was created with (`recorded`; runs from before pinning have none).
pub fn open(path: &Path, recorded: Option<DirId>) -> Result<Dir, OutDirError> {
    let dir = open_unpinned(path)?;
    if let Some(recorded) = recorded {
        let found = identity(&dir).map_err(|source| OutDirError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        if found != recorded {
            return Err(OutDirError::Changed {
                path: path.to_path_buf(),
                recorded,
                found,
            });
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_or_redirected_directory_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let id = pin(&out, &Protected::new()).expect("pin");
        open(&out, Some(id)).expect("the same directory opens");
        // Renamed away and replaced by a symlink to another directory.
        std::fs::rename(&out, tmp.path().join("moved")).expect("rename");
        std::fs::create_dir(tmp.path().join("elsewhere")).expect("mkdir");
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &out).expect("symlink");
        let e = open(&out, Some(id)).expect_err("refused");
        assert!(matches!(e, OutDirError::Changed { .. }), "{e}");
        assert!(e.to_string().contains("not the directory"), "{e}");
    }

    #[test]
    fn system_and_protected_directories_are_refused() {
        assert!(matches!(
            pin(Path::new("/etc"), &Protected::new()),
            Err(OutDirError::System { .. })
        ));
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut protected = Protected::new();
        protected.add(
            crate::protect::ProtectedKind::State,
            &tmp.path().join("state"),
        );
        std::fs::create_dir_all(tmp.path().join("state/runs")).expect("mkdir");
        assert!(matches!(
            pin(&tmp.path().join("state/runs"), &protected),
            Err(OutDirError::Protected { .. })
        ));
        // Containing the state dir is allowed: writes are checked one by one.
        pin(tmp.path(), &protected).expect("a parent of the state dir");
    }
}
