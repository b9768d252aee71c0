//! Descriptors: what each component's `describe()` answered, so that a warm
//! `host run` or `host mcp` start does not instantiate every tool to ask it
//! again.
//!
//! A run checks its parameters against the input schema of each tool step
//! (see [`crate::run::params`]) and the MCP server lists each tool's schema:
//! both need every tool's descriptor before anything else happens. Asking
//! means a fresh sandbox per plugin and a call into it: about 0.6 ms of a
//! warm `host run` of the default pipeline. The answer is the plugin's
//! self-description, fixed by its component (the WIT contract says so), so
//! it is kept per component digest (the sha256 the host pins) and asked
//! again only for a component not seen before. Only a successful answer is
//! kept: a plugin whose `describe()` traps or times out fails every time, as
//! before. `host plugins inspect` always asks the plugin itself.
//!
//! The table lives in the cache directory (`descriptors`), which belongs to
//! the host alone and is never mounted into a plugin (whoever could write it
//! could as well write a compiled entry: see [`super`]). It is written
//! atomically but not fsync'd ([`super::table_file`]): it carries its own
//! checksum, and a table that is missing, torn, too large or in another
//! format is ignored, which costs a `describe()` call per plugin and nothing
//! else. Two processes learning at once may each drop the other's news; it
//! is learned again next time.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::contract::Descriptor;

/// File name of the table in the cache directory.
pub(crate) const FILE_NAME: &str = "descriptors";
/// First bytes of the table, with the format version last.
const MAGIC: &[u8; 8] = b"HRNSDSv1";
/// Descriptors kept; the oldest learned go first (each rebuild of a plugin
/// leaves its old component's).
const MAX_RECORDS: usize = 256;
/// The largest table body read back; a larger one is ignored (and replaced
/// by the next learn with what fits).
const MAX_BYTES: usize = 4 << 20;

/// One component's descriptor: its sha256 (lowercase hex) and the answer.
type Record = (String, Descriptor);

/// The table of one cache directory, read on first use.
#[derive(Debug)]
pub(crate) struct Descriptors {
    path: PathBuf,
    max_records: usize,
    /// `None` until read; then the records, oldest learned first.
    known: Mutex<Option<Vec<Record>>>,
}

impl Descriptors {
    /// The table of the cache directory `dir` (nothing is read yet).
    pub(crate) fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE_NAME),
            max_records: MAX_RECORDS,
            known: Mutex::new(None),
        }
    }

    /// The descriptor the component with this sha256 gave, if known.
    pub(crate) fn get(&self, sha256: &str) -> Option<Descriptor> {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let records = known.get_or_insert_with(|| read_table(&self.path));
        records
            .iter()
            .rev()
            .find(|(digest, _)| digest == sha256)
            .map(|(_, descriptor)| descriptor.clone())
    }

    /// Remember what the component with this sha256 answered. The table is
    /// rewritten when it changed; a write that fails is logged and costs a
    /// `describe()` call next time.
    pub(crate) fn learn(&self, sha256: &str, descriptor: &Descriptor) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let records = known.get_or_insert_with(|| read_table(&self.path));
        if records
            .iter()
            .any(|(digest, known)| digest == sha256 && known == descriptor)
        {
            return;
        }
        records.retain(|(digest, _)| digest != sha256);
        records.push((sha256.to_string(), descriptor.clone()));
        let excess = records.len().saturating_sub(self.max_records);
        records.drain(..excess);
        let mut body = encode(records);
        // Descriptors are capped by the plugin's output limit, not by this
        // table: drop the oldest until the table is one a reader accepts.
        while body.len() > MAX_BYTES && !records.is_empty() {
            records.remove(0);
            body = encode(records);
        }
        super::table_file::write(&self.path, MAGIC, &body, "descriptors");
    }
}

fn encode(records: &[Record]) -> Vec<u8> {
    // A Vec of (String, plain struct) always serializes.
    serde_json::to_vec(records).unwrap_or_else(|_| b"[]".to_vec())
}

/// The records of the table at `path`; none if it is missing, torn, damaged
/// or of another format (it is then rewritten on the next learn).
fn read_table(path: &Path) -> Vec<Record> {
    super::table_file::read(path, MAGIC, MAX_BYTES, "compile cache descriptors")
        .and_then(|body| serde_json::from_slice(&body).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(name: &str) -> Descriptor {
        Descriptor {
            name: name.to_string(),
            summary: format!("{name}, \"quoted\"\n"),
            input_schema: r#"{"type":"object","properties":{"q":{"type":"string"}}}"#.to_string(),
        }
    }

    #[test]
    fn a_learned_descriptor_is_known_to_the_next_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = Descriptors::in_dir(dir.path());
        assert_eq!(table.get("aa"), None);
        assert!(!dir.path().join(FILE_NAME).exists(), "nothing written yet");
        table.learn("aa", &descriptor("one"));
        assert_eq!(table.get("aa"), Some(descriptor("one")));
        let other = Descriptors::in_dir(dir.path());
        assert_eq!(other.get("aa"), Some(descriptor("one")));
        assert_eq!(other.get("bb"), None, "another component is asked");
        // A component answering otherwise (a plugin changed its contract
        // without changing its bytes cannot happen; a test can) replaces it.
        other.learn("aa", &descriptor("two"));
        assert_eq!(
            Descriptors::in_dir(dir.path()).get("aa"),
            Some(descriptor("two"))
        );
    }

    #[test]
    fn a_symlinked_table_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        Descriptors::in_dir(elsewhere.path()).learn("aa", &descriptor("planted"));
        std::os::unix::fs::symlink(elsewhere.path().join(FILE_NAME), dir.path().join(FILE_NAME))
            .expect("symlink");
        assert_eq!(Descriptors::in_dir(dir.path()).get("aa"), None);
    }

    #[test]
    fn the_table_keeps_a_bounded_number_oldest_first_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = Descriptors {
            max_records: 4,
            ..Descriptors::in_dir(dir.path())
        };
        for i in 0..6 {
            table.learn(&format!("{i:02}"), &descriptor(&i.to_string()));
        }
        let reread = Descriptors::in_dir(dir.path());
        assert_eq!(reread.get("00"), None);
        assert_eq!(reread.get("01"), None);
        for i in 2..6 {
            assert_eq!(
                reread.get(&format!("{i:02}")),
                Some(descriptor(&i.to_string()))
            );
        }
    }
}
