//! The host's own directories: where its state (runs, journals, staged
//! blobs) and its compile cache live. Every front end (the CLI, the
//! benchmark, later servers) starts from one [`HostDirs`].

use std::path::{Path, PathBuf};

use crate::protect::{Protected, ProtectedKind};
use crate::run::store::RunStore;

/// The host's own directories, resolved from the global options.
#[derive(Debug)]
pub struct HostDirs {
    state_dir: PathBuf,
    cache_dir: PathBuf,
}

impl HostDirs {
    /// The state directory, and the cache directory (default
    /// `<state-dir>/cache`), both made absolute.
    pub fn new(state_dir: PathBuf, cache_dir: Option<PathBuf>) -> HostDirs {
        let state_dir = std::path::absolute(&state_dir).unwrap_or(state_dir);
        let cache_dir = cache_dir
            .map(|c| std::path::absolute(&c).unwrap_or(c))
            .unwrap_or_else(|| state_dir.join("cache"));
        HostDirs {
            state_dir,
            cache_dir,
        }
    }

    /// Where runs live.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Where compiled components are cached.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The runs of the state directory.
    pub fn store(&self) -> RunStore {
        RunStore::new(&self.state_dir)
    }

    /// The host's own directories: no plugin may ever be granted them.
    pub fn protected(&self) -> Protected {
        let mut p = Protected::new();
        p.add(ProtectedKind::State, &self.state_dir)
            .add(ProtectedKind::Cache, &self.cache_dir);
        p
    }

    /// The person deciding on a run: `--as`, else the OS account running
    /// the host (from its passwd entry, not `$USER`, which anyone can set).
    pub fn approver(explicit: Option<String>) -> String {
        explicit
            .filter(|s| !s.trim().is_empty())
            .or_else(crate::os_user::name)
            .unwrap_or_else(|| {
                // SAFETY: getuid has no preconditions and cannot fail.
                format!("uid {}", unsafe { libc::getuid() })
            })
    }
}
