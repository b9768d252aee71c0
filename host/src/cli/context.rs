//! What every subcommand shares: where the host's state and cache live.

use std::path::{Path, PathBuf};

use crate::protect::{Protected, ProtectedKind};
use crate::run::store::RunStore;

/// The host's own directories, resolved from the global options.
#[derive(Debug)]
pub struct Context {
    state_dir: PathBuf,
    cache_dir: PathBuf,
}

impl Context {
    pub fn new(state_dir: PathBuf, cache_dir: Option<PathBuf>) -> Context {
        let state_dir = std::path::absolute(&state_dir).unwrap_or(state_dir);
        let cache_dir = cache_dir
            .map(|c| std::path::absolute(&c).unwrap_or(c))
            .unwrap_or_else(|| state_dir.join("cache"));
        Context {
            state_dir,
            cache_dir,
        }
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

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
