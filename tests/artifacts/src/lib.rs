//! Paths to the guest components the host's tests load, built from source by this
//! crate's build script (see `build.rs`).
//!
//! One constant per component, named after its package in upper case:
//! `PLUGIN_SEARCH`, `HELLO_TOOL`, `GUEST_ESCAPE_WRITER`, and so on. Adding a crate
//! under `tests/guests/` adds a constant. The components are the same files the
//! plugin manifests in `plugins/*/plugin.toml` point at.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// A scratch area for one test or benchmark: `ws/` (a fresh copy of the
/// example workspace, so nothing can change the original) and an empty `out/`.
/// Removed when dropped. Made in the system's temporary directory.
pub fn scratch_with_workspace() -> std::io::Result<tempfile::TempDir> {
    scratch_with_workspace_in(&std::env::temp_dir())
}

/// [`scratch_with_workspace`], made under `parent` (created if missing).
pub fn scratch_with_workspace_in(parent: &std::path::Path) -> std::io::Result<tempfile::TempDir> {
    std::fs::create_dir_all(parent)?;
    let dir = tempfile::tempdir_in(parent)?;
    copy_dir(
        std::path::Path::new(EXAMPLE_WORKSPACE),
        &dir.path().join("ws"),
    )?;
    std::fs::create_dir(dir.path().join("out"))?;
    Ok(dir)
}

/// Copy the directory tree `from` to `to` (regular files and directories).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
