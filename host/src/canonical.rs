//! Canonical paths in three system calls instead of one per component.
//!
//! `std::fs::canonicalize` (glibc's `realpath`) asks the kernel about each
//! component of a path in turn, a `readlink` each, so `/a/b/c/d` costs four
//! and every protected-path check resolves the same prefixes again (a warm
//! `host run` made about 230 such calls). [`canonicalize`] lets the kernel
//! resolve the whole path in one `open` with `O_PATH` (nothing is opened for
//! reading: no read permission needed, no FIFO waited on, no device touched)
//! and reads back what it resolved to from `/proc/self/fd`. The answer is
//! the one `realpath` gives: absolute, with every symlink, `.` and `..`
//! resolved, or the same kind of error for a path that does not resolve.
//! Where `/proc` is not there, or names something that is not a plain
//! absolute path (the file was removed meanwhile: `... (deleted)`), it falls
//! back to `std::fs::canonicalize`.

use std::path::{Path, PathBuf};

/// `path`, absolute and resolved through every symlink, as
/// `std::fs::canonicalize` returns it (see the module doc).
pub fn canonicalize(path: &Path) -> std::io::Result<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        // An empty path resolves to nothing in `realpath` either; `open`
        // would say the same, but with the caller's spelling of the error.
        if path.as_os_str().is_empty() {
            return std::fs::canonicalize(path);
        }
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(path)?;
        if let Ok(resolved) = std::fs::read_link(format!("/proc/self/fd/{}", opened.as_raw_fd()))
            && plain(&resolved)
        {
            return Ok(resolved);
        }
    }
    std::fs::canonicalize(path)
}

/// Whether `/proc/self/fd` named a path `realpath` could have returned.
#[cfg(target_os = "linux")]
fn plain(resolved: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = resolved.as_os_str().as_bytes();
    bytes.starts_with(b"/") && !bytes.ends_with(b" (deleted)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paths whose resolution `realpath` defines: the answers must agree.
    #[test]
    fn it_agrees_with_realpath_on_symlinks_dots_and_missing_paths() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("real/inner")).expect("dirs");
        std::fs::write(root.join("real/inner/file"), b"x").expect("file");
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).expect("link");
        std::os::unix::fs::symlink("inner/file", root.join("real/rel")).expect("relative link");
        std::os::unix::fs::symlink("../real/inner", root.join("real/inner/up")).expect("up link");
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).expect("dangling");
        std::os::unix::fs::symlink(root.join("loop"), root.join("loop")).expect("loop");
        std::os::unix::fs::symlink("with space\nand newline", root.join("odd")).expect("odd");
        std::fs::create_dir(root.join("with space\nand newline")).expect("odd dir");
        let paths = [
            root.to_path_buf(),
            root.join("real"),
            root.join("link"),
            root.join("link/inner/file"),
            root.join("link/rel"),
            root.join("real/./inner/../inner/file"),
            // `..` after a symlink goes up from where the link leads.
            root.join("link/inner/up/../inner/file"),
            root.join("link/inner/up/up/up"),
            root.join("odd"),
            root.join("missing"),
            root.join("missing/deeper"),
            root.join("real/inner/file/not-a-dir"),
            root.join("dangling"),
            root.join("loop"),
            PathBuf::from("/"),
            PathBuf::from("/.."),
            PathBuf::from("."),
            PathBuf::from(""),
        ];
        for path in &paths {
            let ours = canonicalize(path);
            let std = std::fs::canonicalize(path);
            match (&ours, &std) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", path.display()),
                (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{}", path.display()),
                _ => panic!("{}: {ours:?} but realpath says {std:?}", path.display()),
            }
        }
    }

    #[test]
    fn a_fifo_or_an_unreadable_file_is_resolved_without_being_opened() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().expect("tempdir");
        let fifo = tmp.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        // Opening a FIFO for reading would wait for a writer forever.
        let expected = std::fs::canonicalize(&fifo).expect("realpath");
        assert_eq!(canonicalize(&fifo).expect("resolved"), expected);
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, b"x").expect("write");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        assert_eq!(
            canonicalize(&secret).expect("resolved"),
            std::fs::canonicalize(&secret).expect("realpath")
        );
    }

    #[test]
    fn a_relative_path_resolves_against_the_working_directory() {
        let here = std::env::current_dir().expect("cwd");
        assert_eq!(
            canonicalize(Path::new("src/../Cargo.toml")).expect("resolved"),
            std::fs::canonicalize(here.join("Cargo.toml")).expect("realpath")
        );
    }
}
