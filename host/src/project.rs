//! The project file, `harness.toml`: where a project keeps its plugins
//! folder, workspace, output directory and state directory, so `host` works
//! from any subdirectory of the project.
//!
//! It is found as cargo finds `Cargo.toml`: the first `harness.toml` in the
//! current directory or one of its ancestors. Every key is optional and is a
//! path relative to the file's own folder (an absolute path is taken as
//! given). An unknown key is an error naming the key and the file, never
//! ignored: a typo (`plugin = ...`) would otherwise silently fall back to a
//! default folder. A file that another account owns, or that anyone may
//! write, is refused (as git refuses a repository another user
//! owns): whoever controls it chooses which plugins run and where approved
//! writes go. [`crate::HostDirs`] is the one place that combines it with
//! the flags, the environment and the defaults; the file is one of the paths
//! no plugin may write (it decides which plugins folder runs).
//!
//! The compile cache is not a project setting: it is per user (see
//! [`crate::host_dirs`]), shared by every project.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::render::inert_path;

/// The project file's name.
pub const PROJECT_FILE: &str = "harness.toml";

/// The most bytes a project file may have (it holds four paths).
const MAX_PROJECT_FILE_BYTES: u64 = 64 * 1024;

/// A project file, read and resolved: every path absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The `harness.toml` itself, absolute.
    pub file: PathBuf,
    /// The folder holding it: what its relative paths are relative to.
    pub root: PathBuf,
    /// `plugins`: the plugins folder.
    pub plugins: Option<PathBuf>,
    /// `workspace`: the directory the plugins' `${workspace}` mounts resolve to.
    pub workspace: Option<PathBuf>,
    /// `out`: where approved writes go (default: the workspace).
    pub out: Option<PathBuf>,
    /// `state`: the host's state directory (runs, journals, staged writes).
    pub state: Option<PathBuf>,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    plugins: Option<PathBuf>,
    workspace: Option<PathBuf>,
    out: Option<PathBuf>,
    state: Option<PathBuf>,
}

/// A project file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The file exists but cannot be read (or is not a regular UTF-8 file).
    #[error("cannot read the project file: {0}")]
    Read(#[from] crate::bounded_read::ReadError),
    /// The file is not valid TOML, has an unknown key, or a value that is not a path.
    #[error(
        "project file `{}` is invalid: {message}\nhint: a harness.toml may set only `plugins`, `workspace`, `out` and `state`, each a path relative to the file's folder",
        inert_path(.file)
    )]
    Invalid {
        /// The project file.
        file: PathBuf,
        /// What the TOML parser said (it names an unknown key and its line).
        message: String,
    },
    /// The file could be changed by someone other than this account.
    #[error(
        "project file `{}` {why}: whoever can change it chooses which plugins run and where approved writes go, so it is not used\nhint: if it is yours, `chown` it and `chmod o-w` it; otherwise remove it, or run from a folder outside it and pass --plugins, --workspace and --state-dir",
        inert_path(.file)
    )]
    NotYours {
        /// The project file.
        file: PathBuf,
        /// Who else could change it ("is owned by uid 1001, not 1000").
        why: String,
    },
    /// A key is set to an empty path.
    #[error(
        "project file `{}` sets `{key}` to an empty path\nhint: give a folder relative to the file's folder (e.g. `{key} = \"{key}\"`), or remove the key",
        inert_path(.file)
    )]
    Empty {
        /// The project file.
        file: PathBuf,
        /// The key.
        key: &'static str,
    },
}

/// The project file governing `start`: the first `harness.toml` in `start`
/// or an ancestor, read and resolved; `None` if there is none up to `/`.
pub fn find(start: &Path) -> Result<Option<Project>, ProjectError> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    for dir in start.ancestors() {
        let file = dir.join(PROJECT_FILE);
        // Only a file counts (a folder named harness.toml does not).
        match std::fs::metadata(&file) {
            Ok(md) if !md.is_dir() => {
                check_owner(&file, &md)?;
                return load(&file).map(Some);
            }
            _ => continue,
        }
    }
    Ok(None)
}

/// Refuse a project file owned by another account (root's is fine) or
/// writable by anyone (a group-writable one is the norm under umask 002).
fn check_owner(file: &Path, md: &std::fs::Metadata) -> Result<(), ProjectError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let me = crate::os_user::uid();
        let why = if md.uid() != me && md.uid() != 0 {
            Some(format!(
                "is owned by uid {}, not by you (uid {me})",
                md.uid()
            ))
        } else if md.mode() & 0o002 != 0 {
            Some(format!(
                "may be written by anyone (mode {:o})",
                md.mode() & 0o777
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(ProjectError::NotYours {
                file: file.to_path_buf(),
                why,
            });
        }
    }
    let _ = (file, md);
    Ok(())
}

/// Read and resolve the project file at `file`.
pub fn load(file: &Path) -> Result<Project, ProjectError> {
    let text = crate::bounded_read::read_text(
        file,
        MAX_PROJECT_FILE_BYTES,
        "project file",
        crate::bounded_read::Symlinks::Follow,
    )?;
    parse(&text, file)
}

/// Parse the text of the project file at `file` (absolute).
fn parse(text: &str, file: &Path) -> Result<Project, ProjectError> {
    let raw: RawProject = toml::from_str(text).map_err(|e| ProjectError::Invalid {
        file: file.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let root = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let resolve = |key: &'static str, value: Option<PathBuf>| match value {
        Some(p) if p.as_os_str().is_empty() => Err(ProjectError::Empty {
            file: file.to_path_buf(),
            key,
        }),
        Some(p) => Ok(Some(root.join(p))),
        None => Ok(None),
    };
    Ok(Project {
        plugins: resolve("plugins", raw.plugins)?,
        workspace: resolve("workspace", raw.workspace)?,
        out: resolve("out", raw.out)?,
        state: resolve("state", raw.state)?,
        file: file.to_path_buf(),
        root,
    })
}

/// The text `host init` writes: the defaults, spelled out.
pub fn template(plugins: &str, workspace: &str) -> String {
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let (plugins, workspace) = (quoted(plugins), quoted(workspace));
    format!(
        "# The project file of `host`: found from this folder and every folder below it.\n\
# Paths are relative to this file's folder. Flags (--plugins, --workspace, --out,\n\
# --state-dir) and HARNESS_STATE_DIR override them.\n\
plugins = {plugins}\n\
workspace = {workspace}\n\
# out = \"out\"          # where approved writes go [default: the workspace]\n\
state = \".harness\"\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_files_folder_and_absolute_ones_stay() {
        let p = parse(
            "plugins = \"plugins\"\nworkspace = \"docs/ws\"\nout = \"/abs/out\"\n",
            Path::new("/proj/harness.toml"),
        )
        .expect("parse");
        assert_eq!(p.root, Path::new("/proj"));
        assert_eq!(p.plugins.as_deref(), Some(Path::new("/proj/plugins")));
        assert_eq!(p.workspace.as_deref(), Some(Path::new("/proj/docs/ws")));
        assert_eq!(p.out.as_deref(), Some(Path::new("/abs/out")));
        assert_eq!(p.state, None);
    }

    #[test]
    fn an_unknown_key_names_the_key_and_the_file() {
        let err = parse("plugin = \"p\"\n", Path::new("/proj/harness.toml")).expect_err("typo");
        let text = err.to_string();
        assert!(text.contains("`plugin`"), "{text}");
        assert!(text.contains("/proj/harness.toml"), "{text}");
        assert!(text.contains("\nhint: "), "{text}");
        let err = parse("state = \"\"\n", Path::new("/p/harness.toml")).expect_err("empty");
        assert!(
            matches!(err, ProjectError::Empty { key: "state", .. }),
            "{err}"
        );
    }

    #[test]
    fn a_project_file_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(PROJECT_FILE);
        std::fs::write(&file, "plugins = \"p\"\n").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let err = find(dir.path()).expect_err("world-writable");
        assert!(matches!(err, ProjectError::NotYours { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("may be written by anyone (mode 666)") && text.contains("\nhint: "),
            "{text}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(find(dir.path()).expect("own file").is_some());
    }

    #[test]
    fn the_nearest_file_up_the_tree_wins_and_none_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = dir.path().join("a").join("b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        assert_eq!(find(&deep).expect("find"), None);
        std::fs::write(dir.path().join(PROJECT_FILE), "state = \"s\"\n").expect("write");
        std::fs::write(dir.path().join("a").join(PROJECT_FILE), "plugins = \"p\"\n")
            .expect("write");
        let found = find(&deep).expect("find").expect("a project");
        assert_eq!(found.root, dir.path().join("a"));
        assert_eq!(found.plugins, Some(dir.path().join("a").join("p")));
        assert_eq!(found.state, None, "only the nearest file counts");
        let written = template("plugins", "workspace");
        let back = parse(&written, &dir.path().join(PROJECT_FILE)).expect("template parses");
        assert_eq!(back.plugins, Some(dir.path().join("plugins")));
        assert_eq!(back.state, Some(dir.path().join(".harness")));
    }
}
