//! The append-only, hash-chained event journal of one run (`journal.jsonl`).
//!
//! Each line is one record: a sequence number, a timestamp, the hash of the
//! previous record, the event, and this record's hash over all of those. Every
//! append is fsync'd before the caller goes on, so an event the host acted on is
//! never lost. Loading re-checks the whole chain: an edited, reordered or
//! removed record, or a torn last line, is reported and never silently skipped.
//! The hash covers the event's JSON exactly as stored, so events written by a
//! newer host (with fields this one does not know) still verify.
//!
//! A hash chain cannot notice its own tail being cut off, so after each
//! append the journal's head (sequence number and hash of the last record) is
//! also written to `journal.head` beside it. Readers check that the journal
//! reaches the head: a journal shorter than its head, or disagreeing with it,
//! was truncated or rewritten. The head is written after the record is
//! fsync'd and is not itself fsync'd: after a power loss it may lag behind
//! the journal (which is fine), but it is never ahead of it. Someone able to
//! rewrite both files can still forge a shorter history; `host verify` prints
//! the head hash so it can be kept elsewhere.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::digest::sha256_hex_parts;
use crate::run::event::Event;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A verified journal record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub hash: String,
    pub event: Event,
}

/// Why a journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot access journal `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal `{path}` ends in a torn record at line {line}\nhint: the host was interrupted while appending; the events before line {line} are intact"
    )]
    TornTail { path: PathBuf, line: usize },
    #[error("journal `{path}` is corrupt at line {line}: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "journal `{path}` was truncated: its head records event {head_seq}, but the journal ends {found}\nhint: events were removed from the end of the journal; do not trust this run's history"
    )]
    Truncated {
        path: PathBuf,
        head_seq: u64,
        found: String,
    },
    #[error(
        "journal `{path}` does not match its head: event {seq} has hash {found}, the head records {expected}\nhint: the journal was rewritten after the fact; do not trust this run's history"
    )]
    HeadMismatch {
        path: PathBuf,
        seq: u64,
        expected: String,
        found: String,
    },
    #[error("cannot encode a journal event")]
    Encode(#[source] serde_json::Error),
}

#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    at_ms: u64,
    prev: &'a str,
    event: &'a RawValue,
    hash: &'a str,
}

#[derive(Deserialize)]
struct LineIn<'a> {
    seq: u64,
    at_ms: u64,
    prev: String,
    #[serde(borrow)]
    event: &'a RawValue,
    hash: String,
}

fn record_hash(seq: u64, at_ms: u64, prev: &str, event_json: &str) -> String {
    sha256_hex_parts([
        seq.to_le_bytes().as_slice(),
        at_ms.to_le_bytes().as_slice(),
        prev.as_bytes(),
        event_json.as_bytes(),
    ])
}

/// An open journal, positioned to append after its last verified record.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    head: String,
}

impl Journal {
    /// Create a new, empty journal. Fails if the file exists.
    pub fn create(path: &Path) -> Result<Journal, JournalError> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)
            .map_err(|source| io_err(path, source))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            next_seq: 0,
            head: GENESIS.to_string(),
        })
    }

    /// Open an existing journal for appending, verifying it; returns its records.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        let records = read(path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| io_err(path, source))?;
        let (next_seq, head) = match records.last() {
            Some(r) => (r.seq + 1, r.hash.clone()),
            None => (0, GENESIS.to_string()),
        };
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                next_seq,
                head,
            },
            records,
        ))
    }

    /// Append one event and fsync it. When this returns `Ok`, the event is durable.
    pub fn append(&mut self, event: Event) -> Result<Record, JournalError> {
        let at_ms = now_ms();
        let event_json = serde_json::to_string(&event).map_err(JournalError::Encode)?;
        let raw = RawValue::from_string(event_json).map_err(JournalError::Encode)?;
        let hash = record_hash(self.next_seq, at_ms, &self.head, raw.get());
        let mut line = serde_json::to_string(&LineOut {
            seq: self.next_seq,
            at_ms,
            prev: &self.head,
            event: &raw,
            hash: &hash,
        })
        .map_err(JournalError::Encode)?;
        line.push('\n');
        // One write per record: a crash tears at most this line, which `read` reports.
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|source| io_err(&self.path, source))?;
        let record = Record {
            seq: self.next_seq,
            at_ms,
            hash: hash.clone(),
            event,
        };
        self.next_seq += 1;
        self.head = hash;
        write_head(
            &self.path,
            &Head {
                seq: record.seq,
                hash: record.hash.clone(),
            },
        )
        .map_err(|source| io_err(&head_path(&self.path), source))?;
        Ok(record)
    }

    /// Hash of the last record (or [`GENESIS`]).
    pub fn head(&self) -> &str {
        &self.head
    }
}

/// The last record a journal is known to have reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// Where the head of the journal at `journal` is kept.
pub fn head_path(journal: &Path) -> PathBuf {
    journal.with_extension("head")
}

/// Replace the head file (temporary file and rename: old or new, never torn).
fn write_head(journal: &Path, head: &Head) -> std::io::Result<()> {
    let path = head_path(journal);
    let tmp = path.with_extension("head.tmp");
    let text = serde_json::to_string(head).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)
}

/// The recorded head, if there is a readable one (a journal from before
/// heads existed, or a head emptied by a power loss, has none).
pub fn read_head(journal: &Path) -> Option<Head> {
    let text = std::fs::read_to_string(head_path(journal)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Check that `records` reach the recorded head and agree with it.
fn check_head(path: &Path, records: &[Record]) -> Result<(), JournalError> {
    let Some(head) = read_head(path) else {
        return Ok(());
    };
    let Some(record) = records.get(head.seq as usize) else {
        return Err(JournalError::Truncated {
            path: path.to_path_buf(),
            head_seq: head.seq,
            found: match records.last() {
                Some(last) => format!("at event {}", last.seq),
                None => "before its first event".into(),
            },
        });
    };
    if record.hash != head.hash {
        return Err(JournalError::HeadMismatch {
            path: path.to_path_buf(),
            seq: head.seq,
            expected: head.hash,
            found: record.hash.clone(),
        });
    }
    Ok(())
}

/// Read and verify every record of a journal, and that it reaches its head.
pub fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
    let records = read_chain(path)?;
    check_head(path, &records)?;
    Ok(records)
}

/// Read and verify the hash chain of a journal.
fn read_chain(path: &Path) -> Result<Vec<Record>, JournalError> {
    let bytes = std::fs::read(path).map_err(|source| io_err(path, source))?;
    let corrupt = |line: usize, reason: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut records = Vec::new();
    let mut prev = GENESIS.to_string();
    let mut rest = bytes.as_slice();
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(JournalError::TornTail {
                path: path.to_path_buf(),
                line: line_no,
            });
        };
        let (line, tail) = rest.split_at(end);
        rest = &tail[1..];
        let text = std::str::from_utf8(line).map_err(|_| corrupt(line_no, "not UTF-8".into()))?;
        let parsed: LineIn<'_> =
            serde_json::from_str(text).map_err(|e| corrupt(line_no, e.to_string()))?;
        let what = format!(
            "event {} `{}`",
            parsed.seq,
            crate::render::inert(&event_type(parsed.event))
        );
        if parsed.seq != records.len() as u64 {
            return Err(corrupt(
                line_no,
                format!(
                    "{what} stands where event {} belongs (events were removed or reordered)",
                    records.len()
                ),
            ));
        }
        if parsed.prev != prev {
            return Err(corrupt(
                line_no,
                format!(
                    "{what} does not follow the one before it (an event was removed, reordered or edited)"
                ),
            ));
        }
        let expected = record_hash(parsed.seq, parsed.at_ms, &parsed.prev, parsed.event.get());
        if parsed.hash != expected {
            return Err(corrupt(
                line_no,
                format!("{what}: the record's hash does not match its content (it was edited)"),
            ));
        }
        let event: Event = serde_json::from_str(parsed.event.get())
            .map_err(|e| corrupt(line_no, format!("unknown or malformed event: {e}")))?;
        prev = parsed.hash.clone();
        records.push(Record {
            seq: parsed.seq,
            at_ms: parsed.at_ms,
            hash: parsed.hash,
            event,
        });
    }
    Ok(records)
}

/// The `type` tag of a stored event, for messages ("?" if it has none).
fn event_type(event: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Tag {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Tag>(event.get()).map_or_else(|_| "?".into(), |t| t.kind)
}

fn io_err(path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> PathBuf {
        let path = dir.join("journal.jsonl");
        let mut j = Journal::create(&path).expect("create");
        j.append(Event::StepStarted {
            step: "a".into(),
            plugin: "p".into(),
            attempt: 1,
            round: 0,
        })
        .expect("append");
        j.append(Event::RunCompleted {}).expect("append");
        path
    }

    #[test]
    fn appended_events_read_back_verified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let records = read(&path).expect("read");
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].event, Event::RunCompleted {});
        let (mut j, _) = Journal::open(&path).expect("open");
        j.append(Event::RunCompleted {})
            .expect("append after reopen");
        assert_eq!(read(&path).expect("read").len(), 3);
    }

    #[test]
    fn an_edited_event_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("\"attempt\":1", "\"attempt\":2")).expect("write");
        let e = read(&path).expect_err("tampered");
        assert!(e.to_string().contains("edited"), "{e}");
    }

    #[test]
    fn a_removed_event_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let text = std::fs::read_to_string(&path).expect("read");
        let second = text.lines().nth(1).expect("line");
        std::fs::write(&path, format!("{second}\n")).expect("write");
        assert!(matches!(
            read(&path),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
    }

    #[test]
    fn a_cut_off_tail_is_detected_by_the_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let text = std::fs::read_to_string(&path).expect("read");
        let first = text.lines().next().expect("line");
        std::fs::write(&path, format!("{first}\n")).expect("write");
        let e = read(&path).expect_err("truncated");
        assert!(
            matches!(e, JournalError::Truncated { head_seq: 1, .. }),
            "{e}"
        );
        // A head that lags one record behind (the host stopped between the
        // append and the head write) is fine.
        std::fs::write(&path, &text).expect("restore");
        let records = read(&path).expect("read");
        write_head(
            &path,
            &Head {
                seq: 0,
                hash: records[0].hash.clone(),
            },
        )
        .expect("head");
        assert_eq!(read(&path).expect("lagging head").len(), 2);
    }

    #[test]
    fn a_torn_tail_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.truncate(text.len() - 5);
        std::fs::write(&path, text).expect("write");
        assert!(matches!(
            read(&path),
            Err(JournalError::TornTail { line: 2, .. })
        ));
    }

    #[test]
    fn unknown_fields_from_newer_hosts_are_tolerated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let event = r#"{"type":"run_completed","added_later":true}"#;
        let hash = record_hash(0, 5, GENESIS, event);
        std::fs::write(
            &path,
            format!("{{\"seq\":0,\"at_ms\":5,\"prev\":\"{GENESIS}\",\"event\":{event},\"hash\":\"{hash}\",\"extra\":1}}\n"),
        )
        .expect("write");
        let records = read(&path).expect("read");
        assert_eq!(records[0].event, Event::RunCompleted {});
    }
}
