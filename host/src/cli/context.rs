//! What every subcommand shares: where the host's state and cache live.

use std::path::{Path, PathBuf};

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

    /// The directories no plugin may ever be granted.
    pub fn protected_dirs(&self) -> Vec<PathBuf> {
        vec![self.state_dir.clone(), self.cache_dir.clone()]
    }

    /// The person deciding on a run: `--as`, else the login name.
    pub fn approver(explicit: Option<String>) -> String {
        explicit
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }
}
