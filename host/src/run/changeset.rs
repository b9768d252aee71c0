//! The change set a run asks a person to approve, and its digest.
//!
//! Approval binds content, not a flag: the digest covers, for every entry, the
//! normalized target path, the sha256 of the file it replaces (or "absent") and
//! the sha256 of the new bytes (or "delete" for a deletion, which only a
//! read-write mount's private copy can propose). If any of those differs at
//! apply time, the approval does not cover what would be written, and nothing
//! is.

use std::path::Path;

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};

use crate::digest::{sha256_hex, sha256_hex_parts};

/// Every write of a run, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    /// The writes and deletions, sorted by path.
    pub entries: Vec<ChangeEntry>,
}

/// One write or deletion of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEntry {
    /// Normalized relative path under the run's output directory.
    pub path: String,
    /// sha256 of the file the write replaces (or the deletion removes);
    /// `None` if it does not exist.
    pub base_sha256: Option<String>,
    /// sha256 of the bytes to write; `None` for a deletion.
    pub new_sha256: Option<String>,
    /// Bytes to write (0 for a deletion).
    pub size: u64,
}

impl ChangeEntry {
    /// Whether this entry deletes its file.
    pub fn is_delete(&self) -> bool {
        self.new_sha256.is_none()
    }

    /// What the entry does, for people: `new file`, `replace` or `delete`.
    pub fn action(&self) -> &'static str {
        match (&self.base_sha256, &self.new_sha256) {
            (_, None) => "delete",
            (None, Some(_)) => "new file",
            (Some(_), Some(_)) => "replace",
        }
    }
}

impl ChangeSet {
    /// Build a change set from entries (any order; sorted here).
    pub fn new(mut entries: Vec<ChangeEntry>) -> ChangeSet {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        ChangeSet { entries }
    }

    /// The digest an approval is bound to.
    pub fn digest(&self) -> String {
        digest_of(&self.entries)
    }

    /// Add `added` (paths the set does not hold) in path order: what a
    /// session's `change_set_extended` does to the set waiting for a
    /// person. A path the set already holds is refused, and then nothing
    /// is added.
    pub fn insert(&mut self, added: &[ChangeEntry]) -> Result<(), String> {
        self.check_new(added)?;
        for e in added {
            let (Ok(i) | Err(i)) = self.position(&e.path);
            self.entries.insert(i, e.clone());
        }
        Ok(())
    }

    /// The digest of this set with `added` inserted ([`ChangeSet::insert`],
    /// refused the same way), without making that set: a session's waiting
    /// set of hundreds of files is not copied for each call that adds one.
    pub fn digest_with(&self, added: &[ChangeEntry]) -> Result<String, String> {
        self.check_new(added)?;
        let mut added: Vec<&ChangeEntry> = added.iter().collect();
        added.sort_by(|a, b| a.path.cmp(&b.path));
        let mut merged = Vec::with_capacity(self.entries.len() + added.len());
        let (mut old, mut new) = (self.entries.iter().peekable(), added.into_iter().peekable());
        while let (Some(o), Some(n)) = (old.peek(), new.peek()) {
            if o.path < n.path {
                merged.extend(old.next());
            } else {
                merged.extend(new.next());
            }
        }
        merged.extend(old);
        merged.extend(new);
        Ok(digest_of(merged))
    }

    /// Where `path` is, or would go, in the sorted entries.
    fn position(&self, path: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|x| x.path.as_str().cmp(path))
    }

    /// Refuse `added` if it names a path the set holds, or one twice.
    fn check_new(&self, added: &[ChangeEntry]) -> Result<(), String> {
        for (i, e) in added.iter().enumerate() {
            if self.position(&e.path).is_ok() || added[..i].iter().any(|o| o.path == e.path) {
                return Err(format!(
                    "`{}` would be in the change set twice",
                    crate::render::inert(&e.path)
                ));
            }
        }
        Ok(())
    }

    /// Whether the change set holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The digest of a change set whose entries, in path order, are `entries`.
fn digest_of<'a>(entries: impl IntoIterator<Item = &'a ChangeEntry>) -> String {
    let mut parts: Vec<&[u8]> = vec![b"harness-change-set-v1"];
    for e in entries {
        parts.push(e.path.as_bytes());
        parts.push(e.base_sha256.as_deref().unwrap_or("absent").as_bytes());
        parts.push(e.new_sha256.as_deref().unwrap_or("delete").as_bytes());
    }
    sha256_hex_parts(parts)
}

/// The current content of a write's target, read without following symlinks.
#[derive(Debug, PartialEq, Eq)]
pub enum Base {
    /// Nothing is at the path.
    Absent,
    /// A regular file with these bytes.
    File(Vec<u8>),
}

impl Base {
    /// sha256 of the file's bytes; `None` when there is no file.
    pub fn sha256(&self) -> Option<String> {
        match self {
            Base::Absent => None,
            Base::File(bytes) => Some(sha256_hex(bytes)),
        }
    }

    /// The file's bytes; `None` when there is no file.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Base::Absent => None,
            Base::File(bytes) => Some(bytes),
        }
    }
}

/// Why a target cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target is a symlink, or its path passes through one.
    #[error(
        "`{}` is a symbolic link (or passes through one); the host never writes through links",
        crate::render::inert(path)
    )]
    Symlink {
        /// The target's relative path.
        path: String,
    },
    /// Something other than a regular file is at the target.
    #[error("`{}` is not a regular file", crate::render::inert(path))]
    NotAFile {
        /// The target's relative path.
        path: String,
    },
    /// The target could not be read.
    #[error("cannot read `{}`", crate::render::inert(path))]
    Io {
        /// The target's relative path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Read the current content of `path` under `out`. Every component of the path
/// must be a real directory or file, never a symlink.
pub fn read_base(out: &Dir, path: &str) -> Result<Base, TargetError> {
    let io = |source| TargetError::Io {
        path: path.to_string(),
        source,
    };
    let mut prefix = std::path::PathBuf::new();
    let components: Vec<&str> = path.split('/').collect();
    for (i, part) in components.iter().enumerate() {
        prefix.push(part);
        let meta = match out.symlink_metadata(&prefix) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Base::Absent),
            Err(e) => return Err(io(e)),
        };
        if meta.file_type().is_symlink() {
            return Err(TargetError::Symlink {
                path: path.to_string(),
            });
        }
        let last = i + 1 == components.len();
        if last && !meta.is_file() || !last && !meta.is_dir() {
            return Err(TargetError::NotAFile {
                path: path.to_string(),
            });
        }
    }
    out.read(Path::new(path)).map(Base::File).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, base: Option<&str>, new: &str) -> ChangeEntry {
        ChangeEntry {
            path: path.into(),
            base_sha256: base.map(str::to_string),
            new_sha256: Some(new.into()),
            size: 1,
        }
    }

    #[test]
    fn the_digest_with_added_entries_is_the_digest_of_the_set_they_make() {
        let waiting = ChangeSet::new(vec![
            entry("b", None, "1"),
            entry("d/e", Some("2"), "3"),
            entry("m", None, "4"),
        ]);
        for added in [
            vec![entry("a", None, "5")],
            vec![entry("z", None, "5"), entry("c", Some("6"), "7")],
            vec![
                entry("d/f", None, "8"),
                entry("a", None, "9"),
                entry("n", None, "0"),
            ],
            vec![],
        ] {
            let mut made = waiting.clone();
            made.insert(&added).expect("insert");
            assert_eq!(waiting.digest_with(&added).expect("digest"), made.digest());
        }
        // Refused as `insert` refuses: a path held, or one twice.
        for added in [
            vec![entry("m", None, "5")],
            vec![entry("x", None, "5"), entry("x", None, "6")],
        ] {
            let e = waiting.digest_with(&added).expect_err("twice");
            assert_eq!(Err(e), waiting.clone().insert(&added));
        }
    }

    #[test]
    fn digest_binds_path_base_and_content() {
        let a = ChangeSet::new(vec![entry("a", None, "1"), entry("b", Some("2"), "3")]);
        let reordered = ChangeSet::new(vec![entry("b", Some("2"), "3"), entry("a", None, "1")]);
        assert_eq!(a.digest(), reordered.digest());
        for other in [
            ChangeSet::new(vec![entry("a", None, "1"), entry("c", Some("2"), "3")]),
            ChangeSet::new(vec![entry("a", Some("0"), "1"), entry("b", Some("2"), "3")]),
            ChangeSet::new(vec![entry("a", None, "1"), entry("b", Some("2"), "4")]),
            ChangeSet::new(vec![entry("a", None, "1")]),
            ChangeSet::new(vec![
                entry("a", None, "1"),
                ChangeEntry {
                    new_sha256: None,
                    ..entry("b", Some("2"), "")
                },
            ]),
        ] {
            assert_ne!(a.digest(), other.digest());
        }
    }

    #[test]
    fn an_extension_inserts_in_path_order_and_refuses_a_path_held_or_added_twice() {
        let mut set = ChangeSet::new(vec![entry("b", None, "1"), entry("d", None, "2")]);
        let added = vec![
            entry("e", None, "5"),
            entry("a", None, "3"),
            entry("c", Some("9"), "4"),
        ];
        set.insert(&added).expect("new paths");
        let mut whole = added.clone();
        whole.extend([entry("b", None, "1"), entry("d", None, "2")]);
        assert_eq!(set, ChangeSet::new(whole), "the same set as bound whole");
        let before = set.clone();
        for refused in [
            vec![entry("f", None, "6"), entry("b", None, "7")],
            vec![entry("f", None, "6"), entry("f", None, "7")],
        ] {
            let e = set.insert(&refused).expect_err("a path twice");
            assert!(e.contains("twice"), "{e}");
            assert_eq!(set, before, "nothing added");
        }
    }

    #[test]
    fn base_is_read_without_following_links() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("d")).expect("mkdir");
        std::fs::write(tmp.path().join("d/f"), b"x").expect("write");
        std::os::unix::fs::symlink("/etc", tmp.path().join("link")).expect("symlink");
        std::os::unix::fs::symlink("d/f", tmp.path().join("flink")).expect("symlink");
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("open");
        assert_eq!(
            read_base(&dir, "d/f").expect("read"),
            Base::File(b"x".to_vec())
        );
        assert_eq!(read_base(&dir, "d/new").expect("read"), Base::Absent);
        assert_eq!(read_base(&dir, "new/x").expect("read"), Base::Absent);
        assert!(matches!(
            read_base(&dir, "link/passwd"),
            Err(TargetError::Symlink { .. })
        ));
        assert!(matches!(
            read_base(&dir, "flink"),
            Err(TargetError::Symlink { .. })
        ));
        assert!(matches!(
            read_base(&dir, "d"),
            Err(TargetError::NotAFile { .. })
        ));
    }
}
