//! A person's amendment of a proposed change set: approve only some of its
//! files (`host approve --only`), or replace a proposed file's bytes before
//! approving (`host approve --edit`, the console's editor).
//!
//! An amendment is a new [`ChangeSet`] with its own digest, built only from
//! the proposal's entries: it can drop an entry or change the new bytes of
//! one, never add a path (a path the proposal does not hold was never vetted
//! against the plugin's `writes` grant). Edited bytes are stored as blobs of
//! the run like staged ones. The decision path ([`crate::run::approval`])
//! journals it as `change_set_amended` before the approval of its digest;
//! the proposal stays in the journal.

use crate::render::inert;
use crate::run::blobs::{BlobError, Blobs};
use crate::run::changeset::{ChangeEntry, ChangeSet};

/// What a person asks to change in the proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amendment {
    /// Keep only these paths (`None`: keep every path).
    pub only: Option<Vec<String>>,
    /// Replace the new bytes of these paths.
    pub edits: Vec<(String, Vec<u8>)>,
}

impl Amendment {
    /// Whether the amendment changes nothing.
    pub fn is_empty(&self) -> bool {
        self.only.is_none() && self.edits.is_empty()
    }
}

/// The amended change set, and what differs from the proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amended {
    /// Digest of the change set as proposed.
    pub from_digest: String,
    /// The amended change set.
    pub change_set: ChangeSet,
    /// Its digest, the one an approval must name.
    pub digest: String,
    /// Proposal paths left out, sorted.
    pub dropped: Vec<String>,
    /// Paths whose bytes were replaced (by bytes that differ), sorted.
    pub edited: Vec<String>,
}

/// Why an amendment was refused.
#[derive(Debug, thiserror::Error)]
pub enum AmendError {
    /// A path named in the amendment is not in the proposed change set.
    #[error(
        "`{}` is not in the change set\nhint: only files the run proposed can be approved or edited; `host show RUN` lists them",
        inert(path)
    )]
    UnknownPath {
        /// The path as the person gave it.
        path: String,
    },
    /// The amendment names a path twice.
    #[error("`{}` is named twice\nhint: name each file once", inert(path))]
    Duplicate {
        /// The path named twice.
        path: String,
    },
    /// The amendment drops every file.
    #[error(
        "the amendment leaves nothing to approve\nhint: to write nothing, reject the run (`host reject RUN --reason ...`)"
    )]
    Empty,
    /// An edited file's new bytes could not be staged as a blob.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Apply `amendment` to `proposal`, storing edited bytes in `blobs`.
pub fn amend(
    blobs: &Blobs,
    proposal: &ChangeSet,
    amendment: &Amendment,
) -> Result<Amended, AmendError> {
    let known = |path: &str| proposal.entries.iter().any(|e| e.path == path);
    let mut named: Vec<&str> = Vec::new();
    let check = |path: &str| {
        if !known(path) {
            return Err(AmendError::UnknownPath {
                path: path.to_string(),
            });
        }
        Ok(())
    };
    if let Some(only) = &amendment.only {
        for path in only {
            check(path)?;
            if named.contains(&path.as_str()) {
                return Err(AmendError::Duplicate { path: path.clone() });
            }
            named.push(path);
        }
    }
    let mut edited_paths: Vec<&str> = Vec::new();
    for (path, _) in &amendment.edits {
        check(path)?;
        if edited_paths.contains(&path.as_str()) {
            return Err(AmendError::Duplicate { path: path.clone() });
        }
        edited_paths.push(path);
    }
    let mut entries = Vec::new();
    let mut dropped = Vec::new();
    let mut edited = Vec::new();
    for entry in &proposal.entries {
        let kept = amendment
            .only
            .as_ref()
            .is_none_or(|only| only.contains(&entry.path));
        // An edited file is kept even when `only` does not name it: the
        // person wrote its bytes, so they meant it to be written.
        let edit = amendment.edits.iter().find(|(p, _)| *p == entry.path);
        if !kept && edit.is_none() {
            dropped.push(entry.path.clone());
            continue;
        }
        match edit {
            Some((_, bytes)) => {
                let sha = blobs.put(bytes)?;
                if entry.new_sha256.as_deref() != Some(sha.as_str()) {
                    edited.push(entry.path.clone());
                }
                entries.push(ChangeEntry {
                    path: entry.path.clone(),
                    base_sha256: entry.base_sha256.clone(),
                    new_sha256: Some(sha),
                    size: bytes.len() as u64,
                });
            }
            None => entries.push(entry.clone()),
        }
    }
    if entries.is_empty() {
        return Err(AmendError::Empty);
    }
    let change_set = ChangeSet::new(entries);
    Ok(Amended {
        from_digest: proposal.digest(),
        digest: change_set.digest(),
        change_set,
        dropped,
        edited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;

    fn proposal(blobs: &Blobs) -> ChangeSet {
        let entry = |path: &str, bytes: &[u8]| ChangeEntry {
            path: path.into(),
            base_sha256: None,
            new_sha256: Some(blobs.put(bytes).expect("put")),
            size: bytes.len() as u64,
        };
        ChangeSet::new(vec![entry("a.md", b"a"), entry("b.md", b"b")])
    }

    /// The two-file proposal amended by `amendment`.
    fn amended(amendment: Amendment) -> (tempfile::TempDir, Blobs, ChangeSet, Amended) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::new(tmp.path());
        let p = proposal(&blobs);
        let a = amend(&blobs, &p, &amendment).expect("amend");
        (tmp, blobs, p, a)
    }

    #[test]
    fn a_subset_is_a_new_change_set_with_its_own_digest() {
        let (_tmp, _, p, a) = amended(Amendment {
            only: Some(vec!["b.md".into()]),
            edits: Vec::new(),
        });
        assert_eq!(a.from_digest, p.digest());
        assert_ne!(a.digest, p.digest());
        assert_eq!(a.digest, a.change_set.digest());
        assert_eq!(a.dropped, ["a.md"]);
        assert!(a.edited.is_empty());
        let paths: Vec<&str> = a
            .change_set
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(paths, ["b.md"]);
    }

    #[test]
    fn an_edit_replaces_the_bytes_and_stores_them() {
        let (_tmp, blobs, p, a) = amended(Amendment {
            only: None,
            edits: vec![("a.md".into(), b"edited".to_vec())],
        });
        assert_eq!(a.edited, ["a.md"]);
        let e = &a.change_set.entries[0];
        assert_eq!(
            e.new_sha256.as_deref(),
            Some(sha256_hex(b"edited").as_str())
        );
        assert_eq!(e.size, 6);
        assert_eq!(blobs.get(&sha256_hex(b"edited")).expect("get"), b"edited");
        assert_eq!(a.change_set.entries[1], p.entries[1]);
    }

    #[test]
    fn unknown_duplicate_and_empty_amendments_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::new(tmp.path());
        let p = proposal(&blobs);
        let only = |paths: &[&str]| Amendment {
            only: Some(paths.iter().map(|p| p.to_string()).collect()),
            edits: Vec::new(),
        };
        assert!(matches!(
            amend(&blobs, &p, &only(&["c.md"])),
            Err(AmendError::UnknownPath { .. })
        ));
        assert!(matches!(
            amend(&blobs, &p, &only(&["a.md", "a.md"])),
            Err(AmendError::Duplicate { .. })
        ));
        assert!(matches!(
            amend(&blobs, &p, &only(&[])),
            Err(AmendError::Empty)
        ));
        let add = Amendment {
            only: None,
            edits: vec![("new.md".into(), b"x".to_vec())],
        };
        assert!(matches!(
            amend(&blobs, &p, &add),
            Err(AmendError::UnknownPath { .. })
        ));
    }
}
