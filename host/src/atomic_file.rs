//! Writing a file so that readers see the old content or the new, never a mix:
//! write a temporary file in the same directory, fsync it, rename it over the
//! target, fsync the directory. Used for every file the host owns (staged
//! blobs the journal does not carry, the compile cache); approved writes into the output directory go
//! through [`crate::run::apply`], which does the same through cap-std.
//!
//! Temporary names carry the writer's pid (`.tmp-<pid>-<ms>-<n>`): a write
//! cut short by a kill leaves one behind, and [`temp_owner`] lets
//! [`crate::leftovers::remove_dead`] remove it once that process is gone.

use std::io::Write as _;
use std::path::Path;

/// Atomically replace `path` with `bytes`. The parent directory must exist.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_parts(path, &[bytes])
}

/// Atomically replace `path` with the concatenation of `parts`. On failure
/// the temporary file is removed and the old content (if any) stays.
pub fn write_parts(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    replace(path, parts, true)
}

/// [`write`] without the fsyncs: readers still see the old content or the
/// new, but a power cut may leave neither (an empty or partly written file).
/// Only for files whose reader detects that and loses nothing by it (the
/// compile cache's fingerprints, which carry their own checksum; small
/// staged blobs, whose bytes a journal record carries, see
/// [`crate::run::blobs`]).
pub fn write_unsynced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, &[bytes], false)
}

fn replace(path: &Path, parts: &[&[u8]], durable: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (tmp_path, mut tmp) = tempfile_in(dir)?;
    let result = (|| {
        for part in parts {
            tmp.write_all(part)?;
        }
        if durable {
            tmp.sync_all()?;
        }
        std::fs::rename(&tmp_path, path)?;
        if durable { sync_dir(dir) } else { Ok(()) }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
}

/// fsync a directory so a rename or create inside it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Prefix of the temporary files written before the rename.
const TEMP_PREFIX: &str = ".tmp-";

/// Whether `name` is one of this module's temporary files
/// (`.tmp-<pid>-<ms>-<attempt>`), e.g. one left behind by a crash mid-write.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX).is_some_and(|rest| {
        let parts: Vec<&str> = rest.split('-').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The pid that made temporary file `name`, if it is one of this module's.
pub fn temp_owner(name: &str) -> Option<u32> {
    if !is_temp_name(name) {
        return None;
    }
    crate::leftovers::pid_after(name, TEMP_PREFIX, true)
}

/// Create a fresh, uniquely named temporary file in `dir`.
fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    for attempt in 0u32..100 {
        let name = format!(
            "{TEMP_PREFIX}{}-{}-{attempt}",
            std::process::id(),
            crate::clock::now_ms()
        );
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot create a temporary file"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_content_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        super::write(&path, b"one").expect("write");
        super::write(&path, b"two").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn temp_names_are_recognised_exactly() {
        assert!(super::is_temp_name(".tmp-123-1700000000000-0"));
        for other in [
            ".tmp-",
            ".tmp-1-2",
            ".tmp-1-2-x",
            "tmp-1-2-3",
            ".tmp-1-2-3-4",
            "notes.txt",
        ] {
            assert!(!super::is_temp_name(other), "{other}");
            assert_eq!(super::temp_owner(other), None, "{other}");
        }
        assert_eq!(super::temp_owner(".tmp-123-1700000000000-0"), Some(123));
    }
}
