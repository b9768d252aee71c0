//! Building plugin components from source with the command their manifest
//! gives under `[build]` (`host plugins build`, `host run --build`).
//!
//! The command runs in the manifest's folder, as an argument list (no shell),
//! with its output on stderr so stdout stays data. When a command targets
//! `wasm32-wasip2` and rustup is present, the target is installed first if it
//! is missing, so a fresh machine needs nothing but Rust.
//!
//! Rust plugins of one plugins folder share one Cargo target dir,
//! `<plugins>/.target` ([`SHARED_TARGET_DIR`]), so wit-bindgen, serde and the
//! SDK compile once per folder, not once per plugin. A plugin builds there
//! when its build command is `cargo` and its component lies under that
//! folder (what `host plugins new` generates); any other plugin's build is
//! left exactly as its manifest says. The shared dir is inside the plugins
//! folder, which the host protects like the rest of its inputs: no plugin can
//! be granted a mount of it (nor of an ancestor), so no plugin can read or
//! plant build output there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use crate::manifest::Manifest;

const WASM_TARGET: &str = "wasm32-wasip2";

/// The Cargo target dir the Rust plugins of a plugins folder share, as a
/// folder name inside the plugins folder.
pub const SHARED_TARGET_DIR: &str = ".target";

/// Why a plugin could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build command could not be started.
    #[error("cannot start `{program}` to build plugin `{plugin}`")]
    Spawn {
        /// The plugin being built.
        plugin: String,
        /// The build command's program.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The build command exited unsuccessfully.
    #[error(
        "building plugin `{plugin}` failed: `{command}` exited with {status}\nhint: fix the error printed above, or build the component yourself and run without --build"
    )]
    Failed {
        /// The plugin being built.
        plugin: String,
        /// The build command, as one line.
        command: String,
        /// How it exited.
        status: std::process::ExitStatus,
    },
    /// The build succeeded but left no file at the component path.
    #[error(
        "plugin `{plugin}` built, but its component `{path}` does not exist\nhint: make `plugin.component` in {manifest} name the file the build command produces"
    )]
    Missing {
        /// The plugin that was built.
        plugin: String,
        /// The component path the manifest names.
        path: PathBuf,
        /// Path of the manifest.
        manifest: PathBuf,
    },
    /// `rustup target add` for the wasm target failed.
    #[error(
        "cannot install the {WASM_TARGET} target: `rustup target add {WASM_TARGET}` failed\nhint: run it yourself and look at its error"
    )]
    Target,
    /// The shared target dir of a plugins folder could not be made.
    #[error(
        "cannot create the shared Cargo target dir `{path}` for plugin `{plugin}`\nhint: check that the plugins folder is writable"
    )]
    SharedTarget {
        /// The plugin being built.
        plugin: String,
        /// The shared target dir.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The shared Cargo target dir `m` builds into, if it uses one: its build
/// command runs `cargo` and its component lies under
/// `<plugins folder>/.target`.
pub fn shared_target_dir(m: &Manifest) -> Option<PathBuf> {
    let build = m.build.as_ref()?;
    let program = build.argv.first()?;
    if Path::new(program).file_name().is_none_or(|n| n != "cargo") {
        return None;
    }
    let dir = crate::protect::lexical_absolute(&m.dir);
    let shared = dir.parent()?.join(SHARED_TARGET_DIR);
    crate::protect::lexical_absolute(&m.component)
        .starts_with(&shared)
        .then_some(shared)
}

/// Make the shared target dir, with a `.gitignore` so a plugins folder kept
/// in git does not pick up build output.
fn prepare_shared_target(dir: &Path, plugin: &str) -> Result<(), BuildError> {
    let failed = |source| BuildError::SharedTarget {
        plugin: plugin.to_string(),
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let ignore = dir.join(".gitignore");
    if std::fs::symlink_metadata(&ignore).is_err() {
        std::fs::write(
            &ignore,
            "# Build output of the plugins of this folder (host plugins build).\n*\n",
        )
        .map_err(failed)?;
    }
    Ok(())
}

/// Build every plugin in `manifests` that has a `[build]` command, in order.
/// `progress` receives one line per plugin.
pub fn build_all(manifests: &[&Manifest], progress: &dyn Fn(&str)) -> Result<(), BuildError> {
    let buildable: Vec<&&Manifest> = manifests.iter().filter(|m| m.build.is_some()).collect();
    if buildable.iter().any(|m| {
        m.build
            .as_ref()
            .is_some_and(|b| b.argv.iter().any(|a| a == WASM_TARGET))
    }) {
        ensure_wasm_target(progress)?;
    }
    for (i, manifest) in buildable.iter().enumerate() {
        let Some(build) = &manifest.build else {
            continue;
        };
        progress(&format!(
            "building plugin `{}` ({}/{})",
            manifest.name,
            i + 1,
            buildable.len()
        ));
        let Some((program, args)) = build.argv.split_first() else {
            continue;
        };
        let mut command = Command::new(program);
        if let Some(target_dir) = shared_target_dir(manifest) {
            prepare_shared_target(&target_dir, &manifest.name)?;
            // Set even when the user's environment names another target dir:
            // the manifest's component path is under this one.
            command.env("CARGO_TARGET_DIR", &target_dir);
        }
        let status = command
            .args(args)
            .current_dir(&manifest.dir)
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .status()
            .map_err(|source| BuildError::Spawn {
                plugin: manifest.name.clone(),
                program: program.clone(),
                source,
            })?;
        if !status.success() {
            return Err(BuildError::Failed {
                plugin: manifest.name.clone(),
                command: build.argv.join(" "),
                status,
            });
        }
        if !manifest.component.is_file() {
            return Err(BuildError::Missing {
                plugin: manifest.name.clone(),
                path: manifest.component.clone(),
                manifest: manifest.path.clone(),
            });
        }
    }
    Ok(())
}

/// Install the wasm32-wasip2 target through rustup if it is missing. Without
/// rustup there is nothing to do here: the build itself will say what's wrong.
fn ensure_wasm_target(progress: &dyn Fn(&str)) -> Result<(), BuildError> {
    let Ok(listed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::null())
        .output()
    else {
        return Ok(());
    };
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    progress(&format!("installing the {WASM_TARGET} target with rustup"));
    let ok = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok { Ok(()) } else { Err(BuildError::Target) }
}

/// Folders below a plugin that hold build output or installed tools, not
/// its sources.
const NOT_SOURCES: &[&str] = &["target", "node_modules", "__pycache__", "dist", "build"];
/// Deepest folder level searched for sources below a plugin's folder.
const MAX_SOURCE_DEPTH: usize = 6;

/// The most recently modified source file below the plugin's folder (not
/// the manifest, the component, build output or hidden files).
pub fn newest_source(m: &Manifest) -> Option<(PathBuf, SystemTime)> {
    let (dir, manifest, component) = (&m.dir, &m.path, &m.component);
    let mut newest: Option<(PathBuf, SystemTime)> = None;
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((folder, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < MAX_SOURCE_DEPTH && !NOT_SOURCES.contains(&name.as_ref()) {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            if !kind.is_file() || path == *manifest || path == *component {
                continue;
            }
            if let Ok(at) = entry.metadata().and_then(|md| md.modified())
                && newest.as_ref().is_none_or(|(_, t)| at > *t)
            {
                newest = Some((path, at));
            }
        }
    }
    newest
}

/// The source the component of `m` is older than, if it is (`host doctor`
/// reports it; `host run` without `--build` warns about it).
pub fn stale_source(m: &Manifest) -> Option<PathBuf> {
    let built = std::fs::metadata(&m.component)
        .and_then(|md| md.modified())
        .ok()?;
    newest_source(m).and_then(|(source, at)| (at > built).then_some(source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(component: &str, command: &str) -> Manifest {
        let text = format!(
            "[plugin]\nname = \"p\"\nkind = \"tool\"\ncomponent = \"{component}\"\n[build]\ncommand = {command}\n"
        );
        crate::manifest::parse(
            &text,
            Path::new("/plugins/p/plugin.toml"),
            Path::new("/plugins/p"),
        )
        .expect("manifest")
    }

    #[test]
    fn only_cargo_builds_into_the_shared_dir_use_it() {
        let cargo = r#"["cargo", "build", "--release"]"#;
        assert_eq!(
            shared_target_dir(&manifest("../.target/wasm32-wasip2/release/p.wasm", cargo)),
            Some(PathBuf::from("/plugins/.target"))
        );
        // A plugin with a target dir of its own, or built by something else,
        // builds as its manifest says.
        assert_eq!(
            shared_target_dir(&manifest("target/wasm32-wasip2/release/p.wasm", cargo)),
            None
        );
        assert_eq!(
            shared_target_dir(&manifest(
                "../../target/wasm32-wasip2/release/p.wasm",
                cargo
            )),
            None
        );
        assert_eq!(
            shared_target_dir(&manifest("../.target/p.wasm", r#"["sh", "build.sh"]"#)),
            None
        );
        assert_eq!(
            shared_target_dir(&manifest("../.target-other/p.wasm", cargo)),
            None
        );
    }
}
