//! The host's directories, resolved once for every front end (the CLI, the
//! MCP server, the console, the benchmark): its state (runs, journals,
//! staged blobs), its compile cache, and the project's plugins folder,
//! workspace and output directory.
//!
//! Each comes from, in this order: its flag (`--state-dir`, `--cache-dir`,
//! `--plugins`, `--workspace`, `--out`), its environment variable where
//! there is one (`HARNESS_STATE_DIR`, `HARNESS_CACHE_DIR`), the project file
//! ([`crate::project`], found by walking up from the current directory), and
//! last its default: `plugins`, `examples/workspace` and `.harness`, relative
//! to the project's folder inside a project and to the current directory
//! outside one. A default folder that does not exist is an error that says
//! which flag or project key would name one.
//!
//! The compile cache is per user, not per project: `$XDG_CACHE_HOME/harness`,
//! else `~/.cache/harness` (see [`user_cache_dir`]), shared by every
//! project of the user (entries are keyed by component digest and engine
//! settings, so sharing is safe). Like the state directory it is one of the
//! host's own paths ([`HostDirs::protected`]): no plugin can mount it or be
//! granted a write into it.

use std::path::{Path, PathBuf};

use crate::project::{self, PROJECT_FILE, Project, ProjectError};
use crate::protect::{Protected, ProtectedKind};
use crate::render::inert_path;
use crate::run::store::RunStore;
use crate::runtime::RuntimeConfig;

/// The folder name of the host's per-user cache.
pub const APP_DIR: &str = "harness";

/// The default state directory's name.
pub(crate) const DEFAULT_STATE: &str = ".harness";
/// The default plugins folder's name.
const DEFAULT_PLUGINS: &str = "plugins";
/// The default workspace.
const DEFAULT_WORKSPACE: &str = "examples/workspace";

/// Where the compile cache came from, for `host doctor` and `host cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSource {
    /// `--cache-dir` or `HARNESS_CACHE_DIR`.
    Explicit,
    /// The per-user cache directory ([`user_cache_dir`]).
    User,
    /// `<state-dir>/cache`: no home directory to put a user cache in.
    State,
}

impl CacheSource {
    /// How a person reads it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Explicit => "set by --cache-dir or HARNESS_CACHE_DIR",
            Self::User => {
                "per user, shared by every project ($XDG_CACHE_HOME/harness or ~/.cache/harness)"
            }
            Self::State => {
                "inside the state directory: no $XDG_CACHE_HOME or home directory was found"
            }
        }
    }
}

/// A folder that none of the flag, the project file or the default names.
#[derive(Debug, thiserror::Error)]
#[error("no {what}: {why}\nhint: {hint}")]
pub struct MissingDir {
    what: &'static str,
    why: String,
    hint: String,
}

/// The host's own directories and the project it runs in.
#[derive(Debug, Clone)]
pub struct HostDirs {
    state_dir: PathBuf,
    cache_dir: PathBuf,
    cache_source: CacheSource,
    project: Option<Project>,
    /// Where the command was started: what the project was searched from,
    /// and what defaults are relative to outside a project.
    cwd: PathBuf,
}

/// The per-user cache directory of the host: `$XDG_CACHE_HOME/harness` when
/// `XDG_CACHE_HOME` is an absolute path (the XDG rule: a relative one is
/// ignored), else `$HOME/.cache/harness`, else `<passwd home>/.cache/harness`;
/// `None` without any home.
pub fn user_cache_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(xdg.join(APP_DIR));
    }
    std::env::var_os("HOME")
        .and_then(absolute)
        .or_else(crate::os_user::home_dir)
        .filter(|home| home != Path::new("/"))
        .map(|home| home.join(".cache").join(APP_DIR))
}

impl HostDirs {
    /// Explicit directories, no project: the state directory, and the cache
    /// directory (default: [`user_cache_dir`], else `<state-dir>/cache`),
    /// both made absolute. For library users and the benchmark.
    pub fn new(state_dir: PathBuf, cache_dir: Option<PathBuf>) -> HostDirs {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Self::assemble(state_dir, cache_dir, None, cwd)
    }

    /// Resolve the directories as the `host` command does: `state_dir` and
    /// `cache_dir` are the flags (or their environment variables), the
    /// project file is searched from the current directory up.
    pub fn discover(
        state_dir: Option<PathBuf>,
        cache_dir: Option<PathBuf>,
    ) -> Result<HostDirs, ProjectError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let project = project::find(&cwd)?;
        let base = project.as_ref().map_or(cwd.as_path(), |p| p.root.as_path());
        let state_dir = state_dir
            .map(|s| cwd.join(s))
            .or_else(|| project.as_ref().and_then(|p| p.state.clone()))
            .unwrap_or_else(|| base.join(DEFAULT_STATE));
        let cache_dir = cache_dir.map(|c| cwd.join(c));
        Ok(Self::assemble(state_dir, cache_dir, project, cwd))
    }

    fn assemble(
        state_dir: PathBuf,
        cache_dir: Option<PathBuf>,
        project: Option<Project>,
        cwd: PathBuf,
    ) -> HostDirs {
        let state_dir = std::path::absolute(&state_dir).unwrap_or(state_dir);
        let (cache_dir, cache_source) = match cache_dir {
            Some(c) => (std::path::absolute(&c).unwrap_or(c), CacheSource::Explicit),
            None => match user_cache_dir() {
                Some(c) => (c, CacheSource::User),
                None => (state_dir.join("cache"), CacheSource::State),
            },
        };
        HostDirs {
            state_dir,
            cache_dir,
            cache_source,
            project,
            cwd,
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

    /// Where [`HostDirs::cache_dir`] came from.
    pub fn cache_source(&self) -> CacheSource {
        self.cache_source
    }

    /// The project file in effect, if the command runs inside a project.
    pub fn project(&self) -> Option<&Project> {
        self.project.as_ref()
    }

    /// Where a missing project file was searched from (the current directory).
    pub fn searched_from(&self) -> &Path {
        &self.cwd
    }

    /// The runtime settings for these directories: the compile cache, and the
    /// scratch space for read-write mounts' private copies in the state
    /// directory (they hold the project's files, so they stay with the
    /// project rather than in the shared per-user cache).
    pub fn runtime_config(&self) -> RuntimeConfig {
        let mut config = RuntimeConfig::new(&self.cache_dir);
        config.scratch_dir = self.state_dir.join("private-copies");
        config
    }

    /// The plugins folder: `--plugins` (`flag`), else the project's
    /// `plugins`, else `plugins`; an error if the default does not exist.
    pub fn plugins_dir(&self, flag: Option<&Path>) -> Result<PathBuf, MissingDir> {
        self.folder(
            flag,
            self.project.as_ref().and_then(|p| p.plugins.as_deref()),
            Slot {
                what: "plugins folder",
                flag: "--plugins",
                key: "plugins",
                default: DEFAULT_PLUGINS,
            },
        )
    }

    /// The workspace: `--workspace` (`flag`), else the project's
    /// `workspace`, else `examples/workspace`; an error if the default does
    /// not exist.
    pub fn workspace_dir(&self, flag: Option<&Path>) -> Result<PathBuf, MissingDir> {
        self.folder(
            flag,
            self.project.as_ref().and_then(|p| p.workspace.as_deref()),
            Slot {
                what: "workspace",
                flag: "--workspace",
                key: "workspace",
                default: DEFAULT_WORKSPACE,
            },
        )
    }

    /// Like [`HostDirs::plugins_dir`], for a command that creates the
    /// folder (`host plugins new`): a default that does not exist is still
    /// the default path.
    pub fn plugins_path(&self, flag: Option<&Path>) -> PathBuf {
        self.plugins_dir(flag)
            .unwrap_or_else(|_| self.base().join(DEFAULT_PLUGINS))
    }

    /// Like [`HostDirs::workspace_dir`], for commands that only resolve
    /// mounts against the workspace: a default that does not exist is still
    /// the default path.
    pub fn workspace_path(&self, flag: Option<&Path>) -> PathBuf {
        self.workspace_dir(flag)
            .unwrap_or_else(|_| self.base().join(DEFAULT_WORKSPACE))
    }

    /// What defaults are relative to: the project's folder, else the
    /// current directory.
    fn base(&self) -> &Path {
        self.project
            .as_ref()
            .map_or(self.cwd.as_path(), |p| p.root.as_path())
    }

    /// The output directory: `--out` (`flag`), else the project's `out`;
    /// `None` means the workspace.
    pub fn out_dir(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(|f| self.cwd.join(f))
            .or_else(|| self.project.as_ref().and_then(|p| p.out.clone()))
    }

    fn folder(
        &self,
        flag: Option<&Path>,
        configured: Option<&Path>,
        slot: Slot,
    ) -> Result<PathBuf, MissingDir> {
        if let Some(flag) = flag {
            return Ok(self.cwd.join(flag));
        }
        if let Some(configured) = configured {
            return Ok(configured.to_path_buf());
        }
        let default = self.base().join(slot.default);
        if default.is_dir() {
            return Ok(default);
        }
        let (why, hint) = match &self.project {
            Some(p) => (
                format!(
                    "`{}` does not set `{}`, and the default `{}` does not exist",
                    inert_path(&p.file),
                    slot.key,
                    inert_path(&default)
                ),
                format!(
                    "pass {} DIR, or set `{} = \"...\"` in `{}`",
                    slot.flag,
                    slot.key,
                    inert_path(&p.file)
                ),
            ),
            None => (
                format!(
                    "no {PROJECT_FILE} was found (searched from `{}` up to /) and the default `{}` does not exist",
                    inert_path(&self.cwd),
                    inert_path(&default)
                ),
                format!(
                    "pass {} DIR, or create {PROJECT_FILE} with `{} = \"...\"` in the project's folder (`host init` writes one)",
                    slot.flag, slot.key
                ),
            ),
        };
        Err(MissingDir {
            what: slot.what,
            why,
            hint,
        })
    }

    /// The runs of the state directory.
    pub fn store(&self) -> RunStore {
        RunStore::new(&self.state_dir)
    }

    /// The host's own paths: no plugin may ever be granted them. The state
    /// directory and the compile cache (secret: never mounted), and the
    /// project file (an input: it decides which plugins run).
    pub fn protected(&self) -> Protected {
        let mut p = Protected::new();
        p.add(ProtectedKind::State, &self.state_dir)
            .add(ProtectedKind::Cache, &self.cache_dir);
        if let Some(project) = &self.project {
            p.add(ProtectedKind::Input, &project.file);
        }
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

/// One folder setting, for [`HostDirs::folder`]'s messages.
struct Slot {
    what: &'static str,
    flag: &'static str,
    key: &'static str,
    default: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs_in(cwd: &Path, project: Option<Project>) -> HostDirs {
        HostDirs::assemble(
            cwd.join(".harness"),
            Some(cwd.join("cache")),
            project,
            cwd.to_path_buf(),
        )
    }

    #[test]
    fn a_flag_beats_the_project_which_beats_the_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("plugins")).expect("mkdir");
        let project = Project {
            file: root.join(PROJECT_FILE),
            root: root.to_path_buf(),
            plugins: Some(root.join("my-plugins")),
            workspace: None,
            out: Some(root.join("out")),
            state: None,
        };
        let dirs = dirs_in(root, Some(project));
        assert_eq!(
            dirs.plugins_dir(Some(Path::new("x"))).expect("flag"),
            root.join("x")
        );
        assert_eq!(
            dirs.plugins_dir(None).expect("project"),
            root.join("my-plugins")
        );
        assert_eq!(dirs.out_dir(None), Some(root.join("out")));
        let err = dirs.workspace_dir(None).expect_err("no default workspace");
        let text = err.to_string();
        assert!(text.starts_with("no workspace: "), "{text}");
        assert!(
            text.contains("set `workspace = \"...\"` in `"),
            "names the key and the file: {text}"
        );
        assert!(
            dirs.protected()
                .check_write(&root.join(PROJECT_FILE), false)
                .is_err(),
            "the project file is protected"
        );
    }

    #[test]
    fn outside_a_project_the_error_names_the_flag_and_the_search() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dirs = dirs_in(dir.path(), None);
        let text = dirs.plugins_dir(None).expect_err("no plugins").to_string();
        assert!(text.starts_with("no plugins folder: "), "{text}");
        assert!(text.contains("up to /"), "{text}");
        assert!(
            text.contains("\nhint: pass --plugins DIR, or create harness.toml"),
            "{text}"
        );
        std::fs::create_dir(dir.path().join("plugins")).expect("mkdir");
        assert_eq!(
            dirs.plugins_dir(None).expect("default"),
            dir.path().join("plugins")
        );
        assert_eq!(dirs.out_dir(None), None);
    }

    #[test]
    fn the_runtime_keeps_private_copies_with_the_state_and_the_cache_is_protected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dirs = dirs_in(dir.path(), None);
        let config = dirs.runtime_config();
        assert_eq!(config.cache_dir, dir.path().join("cache"));
        assert!(config.scratch_dir.starts_with(dirs.state_dir()));
        assert!(
            dirs.protected()
                .check_mount(&dir.path().join("cache"), false)
                .is_err()
        );
    }
}
