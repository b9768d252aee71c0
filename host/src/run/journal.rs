//! The append-only, hash-chained event journal of one run (`journal.jsonl`).
//!
//! Each line is one record: a sequence number, a timestamp, the hash of the
//! previous record, the event, and this record's hash over all of those. Every
//! append is fsync'd before the host acts on it, so an event the host acted on is
//! never lost: before the caller goes on ([`Journal::append`]), or, for the
//! record written just before a plugin call, while the call runs
//! ([`Journal::append_carrying_behind`], settled before the next append, the
//! head and the end), or, for the request of an MCP call that has no effect
//! outside the host until its end is recorded, with the next durable append
//! ([`Journal::append_carrying_unsynced`]: the call's end, one fsync for
//! both, before its result goes out). Since journal format 3 a record may also carry blobs
//! ([`CarriedBlob`], `"blobs": {"<sha256>": "<base64>"}`, covered by its
//! hash), so small blobs are durable with the record instead of by fsyncs
//! of their own ([`crate::run::blobs`]). Loading re-checks the whole chain: an edited, reordered or
//! removed record is reported and never silently skipped. The hash covers the
//! event's JSON exactly as stored, so events written by a newer host (with
//! fields this one does not know) still verify.
//!
//! A hash chain cannot notice its own tail being cut off, so the journal's
//! head (sequence number and hash of the last record) is also written to
//! `journal.head` beside it ([`Journal::write_head`]): after a run's first
//! record, and whenever a process lets go of the run (its command ends, an
//! MCP session's call is done), not after every append, which would double
//! the fsyncs of every event. Readers check that the journal reaches the
//! head: a journal shorter than its head, or disagreeing with it, was
//! truncated or rewritten. Every journal this host writes has a head from
//! its first record on, so a journal with records and no head was tampered
//! with, and [`read`] (which opening a run for driving or deciding uses)
//! refuses it; [`inspect`], for read-only views, reports it as a warning. The
//! head is replaced old-or-new after the records are fsync'd (written over a
//! spare and swapped in, [`head_file`]): it may lag behind the journal (while
//! a process drives the run, or after it was killed, until the next process
//! lets go of the run), but it is never ahead of it and never empty: a handle
//! that opened a journal with records past its head (a killed process's,
//! perhaps never fsync'd) fsyncs them before a head names them. Only the lagging
//! records are then unprotected against a cut. Someone able to rewrite both
//! files can still forge a shorter history; `host verify` prints the head
//! hash so it can be kept elsewhere.
//!
//! **A failed append is undone.** An append that returned an error was never
//! acknowledged, so the journal must read as if it had not happened: the
//! file is cut back to its previous length and fsync'd. If even that fails
//! (the disk went away), the journal refuses further appends, and readers
//! treat the partial last line as absent as long as it is an *unacknowledged
//! torn tail*: a last line without a newline, beyond the recorded head.
//! [`Verified::torn_tail`] reports it (`host verify` prints it as a warning)
//! and [`Journal::open`] cuts it off before appending. A torn record at or
//! below the head was acknowledged, so it is corruption and refused.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::bounded_read::{self, ReadError, Symlinks};
use crate::clock::now_ms;
use crate::digest::sha256_hex_parts;
use crate::render::inert;
use crate::run::event::Event;
use crate::run::head_file;
pub use crate::run::head_file::{head_path, head_tmp_path};
use crate::run::sync_behind::SyncBehind;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The largest journal the host reads (it is read whole, into memory).
pub const MAX_JOURNAL_BYTES: u64 = 256 * 1024 * 1024;

/// The end of a journal's room kept for events that decide or finish its
/// run ([`Event::finishes`]): a person's decision and the apply's records
/// (one per file) of a change set of tens of thousands of files fit in it.
pub const FINISHING_RESERVE_BYTES: u64 = MAX_JOURNAL_BYTES / 16;

/// A head file is one small JSON object.
const MAX_HEAD_BYTES: u64 = 4096;

/// A verified journal record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Position in the journal, counting from 0.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// This record's hash over its sequence number, time, event and the previous hash.
    pub hash: String,
    /// What happened.
    pub event: Event,
}

/// Why a journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The journal file could not be opened, read or synced.
    #[error("cannot access journal `{}`", shown(.path))]
    Io {
        /// Path of the journal file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The journal file could not be read, or was refused unread (not a regular file, too large).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An event could not be appended; `undone` says whether the journal is as it was.
    #[error(
        "cannot append to journal `{}`: {cause}\nhint: {}",
        shown(.path),
        if *.undone { "nothing was recorded (the journal is as it was); fix the cause (free disk space, say), then run the command again (`host resume <run>` continues an interrupted run)" } else { "the partial record could not be removed either; it was never acknowledged and readers ignore it; fix the cause, then run the command again (`host resume <run>` continues an interrupted run)" }
    )]
    Append {
        /// Path of the journal file.
        path: PathBuf,
        /// Inline in the message (the hint must come after it).
        cause: std::io::Error,
        /// The journal was cut back to its length before the append.
        undone: bool,
    },
    /// An append would take the journal past the largest one the host
    /// reads back ([`MAX_JOURNAL_BYTES`]): refused before a byte is
    /// written, so the run stays readable (and decidable).
    #[error(
        "journal `{}` is full: {size} bytes, and {adding} more would pass the {limit} bytes such events may take (the host reads back journals of up to {MAX_JOURNAL_BYTES} bytes and keeps the last {FINISHING_RESERVE_BYTES} for deciding and finishing a run)\nhint: the run stays readable and decidable as it is: approve or reject its pending change set (`host approve` / `host reject`) and start a new run",
        shown(.path)
    )]
    Full {
        /// Path of the journal file.
        path: PathBuf,
        /// The journal's size now.
        size: u64,
        /// The size of the refused records.
        adding: u64,
        /// The largest the journal may grow.
        limit: u64,
    },
    /// An earlier append failed and could not be undone, so the journal takes no more events.
    #[error(
        "journal `{}` refuses further events: an earlier append failed and could not be undone\nhint: fix the cause (free disk space, say), then run the command again (`host resume <run>` continues an interrupted run)",
        shown(.path)
    )]
    Poisoned {
        /// Path of the journal file.
        path: PathBuf,
    },
    /// While a holder had let the run go, its journal was replaced or
    /// rewritten: the records it knew are no longer the journal's.
    #[error(
        "journal `{}` no longer holds event {seq} as this process recorded it: the journal was replaced or rewritten while another process held the run\nhint: do not trust this run's history; `host verify` shows what is there now",
        shown(.path)
    )]
    Diverged {
        /// Path of the journal file.
        path: PathBuf,
        /// The last event this process knew.
        seq: u64,
    },
    /// The last line is torn although the head says it was recorded.
    #[error(
        "journal `{}` ends in a torn record at line {line}, which its head says was recorded\nhint: the journal was damaged after the fact; the events before line {line} are intact; do not trust this run's history (`host runs prune --unreadable` removes the run)",
        shown(.path)
    )]
    TornTail {
        /// Path of the journal file.
        path: PathBuf,
        /// The torn line, counting from 1.
        line: usize,
    },
    /// A record has an event type this host does not know, from a newer journal format.
    #[error(
        "journal `{}` was written by a newer host: event {seq} at line {line} has type `{}`, which this host does not know (the run records journal format {format}; this host reads formats up to {})\nhint: read and drive this run with the host version that created it, or a newer one; the journal itself is not damaged",
        shown(.path),
        inert(.event_type),
        crate::run::event::JOURNAL_FORMAT
    )]
    NewerFormat {
        /// Path of the journal file.
        path: PathBuf,
        /// The line of the unknown event, counting from 1.
        line: usize,
        /// The event's sequence number.
        seq: u64,
        /// The unknown `type` tag.
        event_type: String,
        /// The format `run_created` records (1 when it records none).
        format: u32,
    },
    /// A line is not a valid record, or breaks the hash chain.
    #[error(
        "journal `{}` is corrupt at line {line}: {reason}\nhint: the journal was edited or damaged after the fact; do not trust this run's history (`host runs prune --unreadable` removes the run)",
        shown(.path)
    )]
    Corrupt {
        /// Path of the journal file.
        path: PathBuf,
        /// The bad line, counting from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal ends before the event its head records.
    #[error(
        "journal `{}` was truncated: its head records event {head_seq}, but the journal ends {found}\nhint: events were removed from the end of the journal; do not trust this run's history (`host runs prune --unreadable` removes the run)",
        shown(.path)
    )]
    Truncated {
        /// Path of the journal file.
        path: PathBuf,
        /// The sequence number the head records.
        head_seq: u64,
        /// Where the journal ends instead, in words.
        found: String,
    },
    /// The record the head points at has a different hash.
    #[error(
        "journal `{}` does not match its head: event {seq} has hash {found}, the head records {expected}\nhint: the journal was rewritten after the fact; do not trust this run's history (`host runs prune --unreadable` removes the run)",
        shown(.path)
    )]
    HeadMismatch {
        /// Path of the journal file.
        path: PathBuf,
        /// The head's sequence number.
        seq: u64,
        /// The hash the head records.
        expected: String,
        /// The hash the journal has for that event.
        found: String,
    },
    /// The journal has events but no head file.
    #[error(
        "journal `{}` has {events} events but its head `{}` is missing\nhint: every journal this host writes has a head from its first event on, so it was removed: the run was tampered with; restore `journal.head` from a copy you trust (`host verify` printed its hash), or start a new run and remove this one with `host runs prune --unreadable`",
        shown(.path),
        shown(&head_path(.path))
    )]
    HeadMissing {
        /// Path of the journal file.
        path: PathBuf,
        /// How many events the journal holds.
        events: usize,
    },
    /// The head file cannot be read or parsed.
    #[error(
        "the head `{}` of journal `{}` is unreadable: {reason}\nhint: the host writes heads whole (old or new, never torn), so it was changed by someone else: the run was tampered with; restore it from a copy you trust, or start a new run and remove this one with `host runs prune --unreadable`",
        shown(&head_path(.path)),
        shown(.path)
    )]
    HeadUnreadable {
        /// Path of the journal file (the head sits beside it).
        path: PathBuf,
        /// Why the head could not be read or parsed.
        reason: String,
    },
    /// An event could not be serialized to JSON.
    #[error("cannot encode a journal event")]
    Encode(#[source] serde_json::Error),
}

fn shown(path: &Path) -> String {
    inert(&path.display().to_string())
}

#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    at_ms: u64,
    prev: &'a str,
    event: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    blobs: Option<&'a RawValue>,
    hash: &'a str,
}

#[derive(Deserialize)]
struct LineIn<'a> {
    seq: u64,
    at_ms: u64,
    prev: String,
    #[serde(borrow)]
    event: &'a RawValue,
    #[serde(borrow, default)]
    blobs: Option<&'a RawValue>,
    hash: String,
}

/// A record's hash: over its sequence number, time, the previous hash, the
/// event's JSON as stored and, when the record carries blobs, their JSON as
/// stored (after a separator no event's JSON ends with).
fn record_hash(seq: u64, at_ms: u64, prev: &str, event_json: &str, blobs: Option<&str>) -> String {
    let (sep, blobs) = match blobs {
        Some(json) => (b"\n".as_slice(), json.as_bytes()),
        None => (b"".as_slice(), b"".as_slice()),
    };
    sha256_hex_parts([
        seq.to_le_bytes().as_slice(),
        at_ms.to_le_bytes().as_slice(),
        prev.as_bytes(),
        event_json.as_bytes(),
        sep,
        blobs,
    ])
}

/// A blob written in a journal record: its bytes are durable with the
/// record (one fsync for both), and a reader finds them there if the blob's
/// own file was lost ([`Verified::carried`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedBlob {
    /// sha256 of the bytes, which names the blob.
    pub sha256: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The `blobs` member of a record: `{"<sha256>": "<base64>", ...}`.
fn carried_json(carried: &[CarriedBlob]) -> Result<Option<Box<RawValue>>, JournalError> {
    use base64::Engine as _;
    if carried.is_empty() {
        return Ok(None);
    }
    let map: std::collections::BTreeMap<&str, String> = carried
        .iter()
        .map(|b| {
            (
                b.sha256.as_str(),
                base64::engine::general_purpose::STANDARD.encode(&b.bytes),
            )
        })
        .collect();
    let json = serde_json::to_string(&map).map_err(JournalError::Encode)?;
    RawValue::from_string(json)
        .map(Some)
        .map_err(JournalError::Encode)
}

/// An open journal, positioned to append after its last verified record.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes of acknowledged records: where a failed append is cut back to.
    len: u64,
    next_seq: u64,
    head: String,
    /// An append failed and could not be undone: no more appends.
    poisoned: bool,
    /// The sequence number the head file records, as far as this handle
    /// knows (`None`: no head yet).
    head_written: Option<u64>,
    /// The largest the journal may grow ([`MAX_JOURNAL_BYTES`]; smaller
    /// only in tests).
    limit: u64,
    /// The fsyncs running behind the caller, oldest first, each with the
    /// journal's length it makes durable once done: of appends
    /// ([`Journal::append_carrying_behind`]), or a new run's first fsyncs
    /// ([`Journal::durable_behind`]). The worker does them in order.
    syncing: Vec<(SyncBehind, u64)>,
    /// Bytes durable or not this handle's to make durable: the records
    /// beyond were appended by it and not fsync'd yet
    /// ([`Journal::append_carrying_unsynced`], or behind). Where a failed
    /// fsync cuts back to: the next fsync covers them all, so its failure
    /// may have lost any of them.
    synced: u64,
    /// The journal had records past its head when this handle opened it:
    /// another process appended them and may have been killed before they
    /// were durable, so they are fsync'd before a head names them.
    sync_before_head: bool,
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
            len: 0,
            next_seq: 0,
            head: GENESIS.to_string(),
            poisoned: false,
            head_written: None,
            limit: MAX_JOURNAL_BYTES,
            syncing: Vec::new(),
            synced: 0,
            sync_before_head: false,
        })
    }

    /// Open an existing journal for appending, verifying it ([`read`]'s
    /// checks); returns its records. An unacknowledged torn tail is cut off
    /// first, so the next record starts on a line of its own.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        let verified = verify(path)?;
        // O_NOFOLLOW and O_NONBLOCK: a FIFO or symlink swapped in since the
        // read is refused instead of blocking the open or being followed.
        let file = OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|source| io_err(path, source))?;
        let meta = file.metadata().map_err(|source| io_err(path, source))?;
        if let Some(kind) = bounded_read::FileKind::of(&meta) {
            return Err(ReadError::NotRegular {
                what: "journal",
                path: path.to_path_buf(),
                kind,
            }
            .into());
        }
        if let Some(torn) = &verified.torn_tail {
            tracing::warn!(
                journal = %path.display(),
                line = torn.line,
                bytes = torn.bytes,
                "removing the unacknowledged torn last record of a failed append"
            );
            file.set_len(verified.len)
                .and_then(|()| file.sync_data())
                .map_err(|source| io_err(path, source))?;
        }
        let (next_seq, head) = match verified.records.last() {
            Some(r) => (r.seq + 1, r.hash.clone()),
            None => (0, GENESIS.to_string()),
        };
        let lagging = next_seq.checked_sub(1) != verified.head_seq;
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                len: verified.len,
                next_seq,
                head,
                poisoned: false,
                head_written: verified.head_seq,
                limit: MAX_JOURNAL_BYTES,
                syncing: Vec::new(),
                synced: verified.len,
                sync_before_head: lagging && verified.torn_tail.is_none(),
            },
            verified.records,
        ))
    }

    /// Append one event and fsync it. When this returns `Ok`, the event is
    /// durable. When it returns an error, the event was not recorded: the
    /// journal is cut back to where it was (see the module doc). The head
    /// file is not touched ([`Journal::write_head`]).
    pub fn append(&mut self, event: Event) -> Result<Record, JournalError> {
        only_record(self.append_all(vec![event])?)
    }

    /// [`Journal::append`] with its fsync running on behind the caller (see
    /// [`Journal::append_carrying_behind`]).
    pub fn append_behind(&mut self, event: Event) -> Result<Record, JournalError> {
        only_record(self.append_carrying_behind(vec![event], &[])?)
    }

    /// Append `events` in order with one write and one fsync: all of them
    /// are durable when this returns `Ok`, none is
    /// recorded when it returns an error. For events that stand or fall
    /// together, such as a call's request and the policy's decision on it.
    pub fn append_all(&mut self, events: Vec<Event>) -> Result<Vec<Record>, JournalError> {
        self.append_carrying(events, &[])
    }

    /// [`Journal::append_all`], the first record also carrying `carried`
    /// (see [`CarriedBlob`]): when this returns `Ok`, the blobs are durable
    /// with the events, which may name them.
    pub fn append_carrying(
        &mut self,
        events: Vec<Event>,
        carried: &[CarriedBlob],
    ) -> Result<Vec<Record>, JournalError> {
        self.write_batch(events, carried, Fsync::Now)
    }

    /// [`Journal::append_carrying`], but the fsync runs on behind the
    /// caller ([`crate::run::sync_behind`]). When this returns `Ok` the
    /// records are in the file, so a killed process does not lose them; they
    /// are durable against a power loss once [`Journal::settle`] returns,
    /// which the next durable append, [`Journal::write_head`] and dropping
    /// the journal call first (an append behind or unsynced only queues
    /// after it). For a record that nothing outside the process
    /// acts on before then: a step's start, written just before its plugin
    /// is called, so the call and the disk work at once.
    pub fn append_carrying_behind(
        &mut self,
        events: Vec<Event>,
        carried: &[CarriedBlob],
    ) -> Result<Vec<Record>, JournalError> {
        self.write_batch(events, carried, Fsync::Behind)
    }

    /// [`Journal::append_carrying`] without an fsync of its own: when this
    /// returns `Ok` the records are in the file, so a killed process does
    /// not lose them, and they become durable against a power loss with the
    /// next durable append (whose fsync covers them), [`Journal::settle`],
    /// [`Journal::write_head`] or dropping the journal. For a record that
    /// nothing outside the host acts on, and that no effect outside the
    /// host follows, before one of those: the request of an MCP call whose
    /// plugin has no network grant, durable with the call's end before the
    /// result goes out. A power loss before then loses the request of a
    /// call that changed nothing and answered nobody.
    pub fn append_carrying_unsynced(
        &mut self,
        events: Vec<Event>,
        carried: &[CarriedBlob],
    ) -> Result<Vec<Record>, JournalError> {
        self.write_batch(events, carried, Fsync::Later)
    }

    /// [`Journal::append_carrying`] that also brings the head up to the new
    /// records, in the same wait ([`head_file`]): the new head is written
    /// over the spare once the records are fsync'd (or, with no spare yet,
    /// into a new file, fsync'd while the records' fsync runs on the worker,
    /// [`crate::run::sync_behind`]), and it is put in place only once the records are durable,
    /// so the head is never ahead of the durable journal. For the last
    /// records before the run is let go, whose [`Journal::write_head`] then
    /// has nothing left to do. The records fare
    /// as with `append_carrying`; a head that cannot be written lags behind
    /// (readers accept that) and `write_head` tries again.
    pub fn append_carrying_with_head(
        &mut self,
        events: Vec<Event>,
        carried: &[CarriedBlob],
    ) -> Result<Vec<Record>, JournalError> {
        // Over a spare, the head costs one `pwrite`: the records' fsync
        // runs here, without a hand-off to the worker and back. Otherwise
        // the head's new file is written and fsync'd while the records'
        // fsync runs on the worker.
        let spare = head_file::spare(&self.path);
        let sync = if spare.is_some() {
            Fsync::Now
        } else {
            Fsync::Behind
        };
        let records = self.write_batch(events, carried, sync)?;
        let Some(last) = records.last().map(|record| record.seq) else {
            return Ok(records);
        };
        let head = Head {
            seq: last,
            hash: self.head.clone(),
        };
        let prepared = head_bytes(&head).and_then(|bytes| match spare {
            Some(spare) => spare.prepare(&bytes),
            None => head_file::prepare(&self.path, &bytes),
        });
        if let Err(error) = self.settle() {
            if let Ok(prepared) = prepared {
                head_file::discard(&self.path, prepared);
            }
            return Err(error);
        }
        // As `write_head`: only onto the file this handle appends to.
        let placed = match (prepared, self.unchanged()) {
            (Ok(prepared), Ok(true)) => head_file::place(&self.path, prepared).map(|()| true),
            (Ok(prepared), _) => {
                head_file::discard(&self.path, prepared);
                Ok(false)
            }
            (Err(error), _) => Err(error),
        };
        match placed {
            Ok(true) => self.head_written = Some(last),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(journal = %self.path.display(), %error, "cannot write the journal head beside the records; it lags until the run is let go");
            }
        }
        Ok(records)
    }

    /// Make every record this handle appended durable: wait for the fsync
    /// of an [`Journal::append_carrying_behind`], if one runs, and fsync
    /// what [`Journal::append_carrying_unsynced`] left. If an fsync failed,
    /// the records it covers may not survive a power loss although the
    /// caller went on from them: they are cut off if possible, and the
    /// journal takes no more appends either way.
    pub fn settle(&mut self) -> Result<(), JournalError> {
        self.settle_behind()?;
        if self.synced == self.len {
            return Ok(());
        }
        match self.file.sync_data() {
            Ok(()) => {
                self.synced_all();
                Ok(())
            }
            Err(cause) => Err(self.unsynced_lost(cause)),
        }
    }

    /// [`Journal::settle`] for the fsync running behind only: records
    /// appended unsynced stay so (an MCP call letting go of its run between
    /// its request and its end).
    pub fn settle_behind(&mut self) -> Result<(), JournalError> {
        for (pending, after) in std::mem::take(&mut self.syncing) {
            match pending.wait() {
                Ok(()) => {
                    self.synced = self.synced.max(after);
                    self.sync_before_head = false;
                }
                Err(cause) => return Err(self.unsynced_lost(cause)),
            }
        }
        Ok(())
    }

    /// `pending`, a job on the fsync worker ([`crate::run::sync_behind`]),
    /// fsyncs this journal's file: once it is done, everything appended so
    /// far is durable. Waited for as the journal's own fsyncs are. For a new
    /// run's first record, fsync'd with its head and folder by one job,
    /// behind the first plugin call.
    pub fn durable_behind(&mut self, pending: SyncBehind) {
        self.syncing.push((pending, self.len));
    }

    /// A second handle on the journal's file (for a job that fsyncs it,
    /// [`Journal::durable_behind`]).
    pub fn file_handle(&self) -> Result<File, JournalError> {
        self.file
            .try_clone()
            .map_err(|source| io_err(&self.path, source))
    }

    /// Everything in the file is durable (an fsync of it succeeded).
    fn synced_all(&mut self) {
        self.synced = self.len;
        self.sync_before_head = false;
    }

    /// Cut the file back to `len` bytes and fsync it; whether that worked
    /// (the bytes before `len` are then durable).
    fn cut_back(&mut self, len: u64) -> bool {
        let undone = self
            .file
            .set_len(len)
            .and_then(|()| self.file.sync_data())
            .is_ok();
        if undone {
            self.synced = len;
            self.sync_before_head = false;
        }
        undone
    }

    /// An fsync failed: the records this handle appended since its last
    /// good one are cut off if possible, and no more appends are taken.
    fn unsynced_lost(&mut self, cause: std::io::Error) -> JournalError {
        let undone = self.cut_back(self.synced);
        self.poisoned = true;
        JournalError::Append {
            path: self.path.clone(),
            cause,
            undone,
        }
    }

    fn write_batch(
        &mut self,
        events: Vec<Event>,
        carried: &[CarriedBlob],
        sync: Fsync,
    ) -> Result<Vec<Record>, JournalError> {
        // What an earlier append left unsynced, this one's fsync covers; an
        // append whose fsync runs behind (or comes with the next) queues it
        // after the ones running, in order, without waiting for them.
        if sync == Fsync::Now {
            self.settle_behind()?;
        }
        if self.poisoned {
            return Err(JournalError::Poisoned {
                path: self.path.clone(),
            });
        }
        let mut text = String::new();
        let mut records = Vec::with_capacity(events.len());
        let (mut seq, mut prev) = (self.next_seq, self.head.clone());
        let mut blobs = carried_json(carried)?;
        for event in events {
            let at_ms = now_ms();
            let event_json = serde_json::to_string(&event).map_err(JournalError::Encode)?;
            let raw = RawValue::from_string(event_json).map_err(JournalError::Encode)?;
            // The first record of the batch carries the blobs.
            let blobs = blobs.take();
            let hash = record_hash(
                seq,
                at_ms,
                &prev,
                raw.get(),
                blobs.as_deref().map(RawValue::get),
            );
            text.push_str(
                &serde_json::to_string(&LineOut {
                    seq,
                    at_ms,
                    prev: &prev,
                    event: &raw,
                    blobs: blobs.as_deref(),
                    hash: &hash,
                })
                .map_err(JournalError::Encode)?,
            );
            text.push('\n');
            records.push(Record {
                seq,
                at_ms,
                hash: hash.clone(),
                event,
            });
            seq += 1;
            prev = hash;
        }
        if records.is_empty() {
            return Ok(records);
        }
        // The last FINISHING_RESERVE_BYTES take only events that decide or
        // finish the run: a run that filled its journal can still be
        // approved, applied, rejected or failed.
        let room = if records.iter().all(|r| r.event.finishes()) {
            self.limit
        } else {
            self.limit.saturating_sub(FINISHING_RESERVE_BYTES)
        };
        if self.len + text.len() as u64 > room {
            return Err(JournalError::Full {
                path: self.path.clone(),
                size: self.len,
                adding: text.len() as u64,
                limit: room,
            });
        }
        // One write for the batch: a crash leaves a prefix of it (complete
        // lines, then at most one torn one), as separate appends would.
        if let Err(source) = self.file.write_all(text.as_bytes()) {
            // Cut back to the records before; the undo's fsync makes any
            // left unsynced durable too.
            let undone = self.cut_back(self.len);
            self.poisoned = !undone;
            return Err(JournalError::Append {
                path: self.path.clone(),
                cause: source,
                undone,
            });
        }
        let before = self.len;
        self.len += text.len() as u64;
        let pending = match sync {
            Fsync::Behind => SyncBehind::start(&self.file).ok(),
            Fsync::Now | Fsync::Later => None,
        };
        if let Some(pending) = pending {
            self.syncing.push((pending, self.len));
        } else if sync != Fsync::Later {
            // No fsync behind (none asked for, or none could start).
            if let Err(cause) = self.file.sync_data() {
                // Nothing before this batch left unsynced: it alone is
                // undone, and the journal goes on from where it was.
                if self.synced == before {
                    self.len = before;
                    let undone = self.cut_back(before);
                    self.poisoned = !undone;
                    return Err(JournalError::Append {
                        path: self.path.clone(),
                        cause,
                        undone,
                    });
                }
                return Err(self.unsynced_lost(cause));
            }
            self.synced_all();
        }
        self.next_seq = seq;
        self.head = prev;
        Ok(records)
    }

    /// Bring the head file up to this journal's last record, if it lags and
    /// the file at the path is still the one this handle appends to with
    /// nothing after it ([`Journal::unchanged`]: a handle that another
    /// process overtook writes nothing). Only under the run's lock: the
    /// head's temporary file has one name.
    pub fn write_head(&mut self) -> Result<(), JournalError> {
        // Never ahead of the durable journal, including records another
        // process appended and may not have made durable.
        self.settle()?;
        let Some(last) = self.next_seq.checked_sub(1) else {
            return Ok(());
        };
        if self.head_written == Some(last) || !self.unchanged()? {
            return Ok(());
        }
        if self.sync_before_head {
            self.file
                .sync_data()
                .map_err(|source| io_err(&self.path, source))?;
            self.synced_all();
        }
        let head = Head {
            seq: last,
            hash: self.head.clone(),
        };
        write_head_file(&self.path, &head)
            .map_err(|source| io_err(&head_path(&self.path), source))?;
        self.head_written = Some(last);
        Ok(())
    }

    /// The first head of a journal nobody reads yet (a new run's, in its
    /// staging folder until it is renamed into place), naming its last
    /// record: written, not fsync'd. Returns the head's file for the job
    /// that fsyncs it, and the journal, before the folder can be read
    /// ([`Journal::durable_behind`]).
    pub fn write_first_head(&mut self) -> Result<File, JournalError> {
        let head_err = |source| io_err(&head_path(&self.path), source);
        let Some(last) = self.next_seq.checked_sub(1) else {
            return Err(head_err(std::io::Error::other(
                "a journal without records has no head",
            )));
        };
        let head = Head {
            seq: last,
            hash: self.head.clone(),
        };
        // Nobody reads the folder yet: no temporary file and rename needed.
        let file = head_bytes(&head)
            .and_then(|bytes| head_file::create(&self.path, &bytes))
            .map_err(head_err)?;
        self.head_written = Some(last);
        Ok(file)
    }

    /// Whether the file at this journal's path is still the one this handle
    /// appends to, with nothing after the last record it knows: then no
    /// other process appended since (a holder of the run that let it go,
    /// see [`crate::run::store::RunLog::release`], takes it back cheaply).
    pub fn unchanged(&self) -> Result<bool, JournalError> {
        use std::os::unix::fs::MetadataExt as _;
        let ours = self
            .file
            .metadata()
            .map_err(|source| io_err(&self.path, source))?;
        let at_path = match std::fs::symlink_metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(io_err(&self.path, source)),
        };
        Ok(!self.poisoned
            && at_path.file_type().is_file()
            && ours.dev() == at_path.dev()
            && ours.ino() == at_path.ino()
            && ours.len() == self.len)
    }

    /// The journal file's new path, after the file (or its folder) was
    /// renamed: the handle appends to the same file either way.
    pub fn moved_to(&mut self, path: PathBuf) {
        self.path = path;
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Hash of the last record (or [`GENESIS`]).
    pub fn head(&self) -> &str {
        &self.head
    }

    /// Bytes of the acknowledged records.
    pub fn size(&self) -> u64 {
        self.len
    }

    /// Let the journal grow to `bytes` only, to test what happens when it
    /// is full.
    #[cfg(test)]
    fn limit_to(&mut self, bytes: u64) {
        self.limit = bytes;
    }
}

/// When a batch of records is fsync'd ([`Journal::write_batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fsync {
    /// Before the append returns.
    Now,
    /// On the fsync worker, waited for by the next durable append.
    Behind,
    /// By the next fsync of the file.
    Later,
}

/// The record of a one-event append.
fn only_record(mut records: Vec<Record>) -> Result<Record, JournalError> {
    records
        .pop()
        .ok_or_else(|| JournalError::Encode(serde::ser::Error::custom("no record")))
}

impl Drop for Journal {
    /// A journal let go of waits for its last fsync: the process may exit
    /// next, and nothing it shows may stand on a record not yet durable.
    fn drop(&mut self) {
        if let Err(error) = self.settle() {
            tracing::warn!(journal = %self.path.display(), %error, "the journal's last fsync failed");
        }
    }
}

/// The last record a journal is known to have reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Sequence number of the last record.
    pub seq: u64,
    /// That record's hash.
    pub hash: String,
}

/// Replace the head file, old-or-new ([`head_file::replace`]).
fn write_head_file(journal: &Path, head: &Head) -> std::io::Result<()> {
    head_bytes(head).and_then(|bytes| head_file::replace(journal, &bytes))
}

/// `head` as the host writes it ([`head_file::WIDTH`] bytes).
fn head_bytes(head: &Head) -> std::io::Result<[u8; head_file::WIDTH]> {
    head_file::padded(&serde_json::to_string(head).map_err(std::io::Error::other)?)
}

/// The recorded head: `None` if there is no head file, an error if there
/// is one that is not a head (not a regular file, not JSON of a head).
pub fn read_head(journal: &Path) -> Result<Option<Head>, JournalError> {
    read_head_bytes(journal)?
        .map(|bytes| parse_head(journal, &bytes))
        .transpose()
}

/// The head file's bytes (`None`: no head file).
fn read_head_bytes(journal: &Path) -> Result<Option<Vec<u8>>, JournalError> {
    let path = head_path(journal);
    match bounded_read::read_regular(&path, MAX_HEAD_BYTES, "journal head", Symlinks::Refuse) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(ReadError::Io { source, .. }) => Err(io_err(&path, source)),
        Err(e) => Err(JournalError::HeadUnreadable {
            path: journal.to_path_buf(),
            reason: first_line(&e.to_string()),
        }),
    }
}

fn parse_head(journal: &Path, bytes: &[u8]) -> Result<Head, JournalError> {
    serde_json::from_slice(bytes).map_err(|e| JournalError::HeadUnreadable {
        path: journal.to_path_buf(),
        reason: format!("not a journal head ({e})"),
    })
}

/// Read a journal against its head with `check`, again if the head it read
/// may have been torn by the process driving the run: a reader that opened
/// the head just before it was swapped out can read it while the next head
/// is written over it ([`head_file`]). Such a read fails to agree with the
/// journal, and the head at the path has changed since; a head that
/// disagrees and has not changed is what it says.
fn steadily(
    journal: &Path,
    mut check: impl FnMut(Result<Option<Head>, JournalError>) -> Result<Verified, JournalError>,
) -> Result<Verified, JournalError> {
    let mut tries = 0;
    loop {
        let bytes = read_head_bytes(journal);
        let seen = bytes.as_ref().ok().cloned().flatten();
        let head = bytes.and_then(|bytes| bytes.map(|b| parse_head(journal, &b)).transpose());
        let result = check(head);
        let doubtful = match &result {
            Err(
                JournalError::HeadUnreadable { .. }
                | JournalError::HeadMismatch { .. }
                | JournalError::Truncated { .. }
                | JournalError::TornTail { .. },
            ) => true,
            Ok(verified) => matches!(
                verified.head_problem,
                Some(JournalError::HeadUnreadable { .. })
            ),
            Err(_) => false,
        };
        tries += 1;
        if !doubtful || tries == 3 || read_head_bytes(journal).ok().flatten() == seen {
            return result;
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// An unacknowledged partial last record (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Its 1-based line number.
    pub line: usize,
    /// Its length in bytes.
    pub bytes: u64,
}

/// A journal whose chain verified, with what a reader should know about it.
#[derive(Debug)]
pub struct Verified {
    /// The records in order, their chain checked.
    pub records: Vec<Record>,
    /// A partial last line left by a failed append; not part of the run.
    pub torn_tail: Option<TornTail>,
    /// Only from [`inspect`]: the head is missing or unreadable, which
    /// [`read`] refuses. A read-only view shows the run with this warning.
    pub head_problem: Option<JournalError>,
    /// Bytes up to the end of the last complete record.
    len: u64,
    /// The sequence number the head file records (`None`: no head).
    head_seq: Option<u64>,
    /// The `blobs` JSON of each record that carries blobs.
    carried: Vec<String>,
}

impl Verified {
    /// The bytes of blob `sha256` if a record carries them (checked
    /// against the name: a record's hash covers what it carries, and the
    /// decoded bytes must hash to `sha256` too).
    pub fn carried(&self, sha256: &str) -> Option<Vec<u8>> {
        use base64::Engine as _;
        self.carried.iter().find_map(|json| {
            let map: std::collections::BTreeMap<String, String> =
                serde_json::from_str(json).ok()?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(map.get(sha256)?)
                .ok()?;
            (crate::digest::sha256_hex(&bytes) == sha256).then_some(bytes)
        })
    }

    /// One line per thing a reader should be warned about (rendered inert).
    pub fn warnings(&self, path: &Path) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(problem) = &self.head_problem {
            warnings.push(first_line(&problem.to_string()));
        }
        if let Some(torn) = &self.torn_tail {
            warnings.push(format!(
                "journal `{}` ends in a partial record at line {} ({} bytes) left by an append that failed (or being written this instant by the process driving the run); it was never acknowledged, so it is not part of the run (the next `host resume` or `host approve` removes a failed one)",
                shown(path),
                torn.line,
                torn.bytes
            ));
        }
        warnings
    }
}

/// Read and verify every record of a journal, and that it reaches its head.
/// A missing or unreadable head is refused; an unacknowledged torn tail is
/// left out.
pub fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
    verify(path).map(|v| v.records)
}

/// [`read`], also reporting an unacknowledged torn tail.
pub fn verify(path: &Path) -> Result<Verified, JournalError> {
    // The head before the chain: a process driving the run appends, then
    // moves the head on, so a head read first never lies beyond the journal
    // read after it. Read the other way round, a reader beside a live
    // session found the head beyond the journal it had just read, and
    // called the journal truncated.
    steadily(path, |head| {
        let scan = read_chain(path)?;
        check_head(path, scan, head?, false)
    })
}

/// Like [`verify`], but a missing or unreadable head is reported in
/// [`Verified::head_problem`] instead of refused: for read-only views.
pub fn inspect(path: &Path) -> Result<Verified, JournalError> {
    // The head first, as in `verify`.
    steadily(path, |head| {
        let scan = read_chain(path)?;
        let (head, problem) = match head {
            Ok(Some(head)) => (Some(head), None),
            Ok(None) if scan.records.is_empty() => (None, None),
            Ok(None) => (
                None,
                Some(JournalError::HeadMissing {
                    path: path.to_path_buf(),
                    events: scan.records.len(),
                }),
            ),
            Err(e @ JournalError::HeadUnreadable { .. }) => (None, Some(e)),
            Err(e) => return Err(e),
        };
        let mut verified = check_head(path, scan, head, problem.is_some())?;
        verified.head_problem = problem;
        Ok(verified)
    })
}

/// What reading the chain found.
struct Scan {
    records: Vec<Record>,
    torn_tail: Option<TornTail>,
    len: u64,
    /// The `blobs` JSON of each record that carries blobs, in order.
    carried: Vec<String>,
}

/// Check that the records reach the recorded head and agree with it, and
/// that a torn tail lies beyond it. Without a head, a journal with records
/// is refused unless `headless_ok`.
fn check_head(
    path: &Path,
    scan: Scan,
    head: Option<Head>,
    headless_ok: bool,
) -> Result<Verified, JournalError> {
    let head_seq = head.as_ref().map(|h| h.seq);
    let verified = |scan: Scan| Verified {
        records: scan.records,
        torn_tail: scan.torn_tail,
        head_problem: None,
        len: scan.len,
        head_seq,
        carried: scan.carried,
    };
    let Some(head) = head else {
        if !scan.records.is_empty() && !headless_ok {
            return Err(JournalError::HeadMissing {
                path: path.to_path_buf(),
                events: scan.records.len(),
            });
        }
        return Ok(verified(scan));
    };
    let Some(record) = scan.records.get(head.seq as usize) else {
        if let Some(torn) = &scan.torn_tail
            && head.seq as usize == scan.records.len()
        {
            // The head says this record was acknowledged, yet it is torn.
            return Err(JournalError::TornTail {
                path: path.to_path_buf(),
                line: torn.line,
            });
        }
        return Err(JournalError::Truncated {
            path: path.to_path_buf(),
            head_seq: head.seq,
            found: match scan.records.last() {
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
    Ok(verified(scan))
}

/// Read and verify the hash chain of a journal.
fn read_chain(path: &Path) -> Result<Scan, JournalError> {
    let bytes = bounded_read::read_regular(path, MAX_JOURNAL_BYTES, "journal", Symlinks::Refuse)?;
    let corrupt = |line: usize, reason: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut records = Vec::new();
    let mut carried = Vec::new();
    let mut format = 1;
    let mut prev = GENESIS.to_string();
    let mut rest = bytes.as_slice();
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            // Whether it may be ignored depends on the head (`check_head`).
            return Ok(Scan {
                len: (bytes.len() - rest.len()) as u64,
                torn_tail: Some(TornTail {
                    line: line_no,
                    bytes: rest.len() as u64,
                }),
                records,
                carried,
            });
        };
        let (line, tail) = rest.split_at(end);
        rest = &tail[1..];
        let text = std::str::from_utf8(line).map_err(|_| corrupt(line_no, "not UTF-8".into()))?;
        let parsed: LineIn<'_> =
            serde_json::from_str(text).map_err(|e| corrupt(line_no, inert(&e.to_string())))?;
        let what = format!(
            "event {} `{}`",
            parsed.seq,
            inert(&event_type(parsed.event))
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
        let expected = record_hash(
            parsed.seq,
            parsed.at_ms,
            &parsed.prev,
            parsed.event.get(),
            parsed.blobs.map(RawValue::get),
        );
        if parsed.hash != expected {
            return Err(corrupt(
                line_no,
                format!("{what}: the record's hash does not match its content (it was edited)"),
            ));
        }
        if parsed.seq == 0 {
            format = recorded_format(parsed.event);
        }
        let event: Event = match serde_json::from_str(parsed.event.get()) {
            Ok(event) => event,
            Err(e) => {
                let event_type = event_type(parsed.event);
                if !Event::NAMES.contains(&event_type.as_str()) && event_type != "?" {
                    return Err(JournalError::NewerFormat {
                        path: path.to_path_buf(),
                        line: line_no,
                        seq: parsed.seq,
                        event_type,
                        format,
                    });
                }
                // serde quotes the bad value (an unknown variant, say): inert.
                return Err(corrupt(
                    line_no,
                    format!("{what} is malformed: {}", inert(&e.to_string())),
                ));
            }
        };
        prev = parsed.hash.clone();
        if let Some(blobs) = parsed.blobs {
            carried.push(blobs.get().to_string());
        }
        records.push(Record {
            seq: parsed.seq,
            at_ms: parsed.at_ms,
            hash: parsed.hash,
            event,
        });
    }
    Ok(Scan {
        records,
        torn_tail: None,
        len: bytes.len() as u64,
        carried,
    })
}

/// The journal format a stored `run_created` records (1 when none).
fn recorded_format(event: &RawValue) -> u32 {
    #[derive(Deserialize)]
    struct Format {
        #[serde(default)]
        format: Option<u32>,
    }
    serde_json::from_str::<Format>(event.get())
        .ok()
        .and_then(|f| f.format)
        .unwrap_or(1)
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
        j.write_head().expect("head");
        path
    }

    #[test]
    fn carried_blobs_are_found_in_the_verified_journal_and_covered_by_the_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut j, _) = Journal::open(&path).expect("open");
        let blob = |bytes: &[u8]| CarriedBlob {
            sha256: crate::digest::sha256_hex(bytes),
            bytes: bytes.to_vec(),
        };
        let (a, b) = (blob(b"step output"), blob(b"\x00binary\xff"));
        let records = j
            .append_carrying(
                vec![Event::RunCompleted {}, Event::RunCompleted {}],
                &[a.clone(), b.clone()],
            )
            .expect("append");
        j.write_head().expect("head");
        assert_eq!(records.len(), 2);
        let text = std::fs::read_to_string(&path).expect("journal");
        let lines: Vec<&str> = text.lines().collect();
        // The batch's first record carries them, the second does not.
        assert!(lines[2].contains("\"blobs\""), "{}", lines[2]);
        assert!(!lines[3].contains("\"blobs\""), "{}", lines[3]);
        let verified = verify(&path).expect("verifies");
        assert_eq!(verified.carried(&a.sha256), Some(a.bytes.clone()));
        assert_eq!(verified.carried(&b.sha256), Some(b.bytes.clone()));
        assert_eq!(verified.carried(&"0".repeat(64)), None);

        // The carried bytes are part of the record: changing them is an edit.
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&a.bytes);
        let forged = base64::engine::general_purpose::STANDARD.encode(b"other bytes");
        std::fs::write(&path, text.replace(&encoded, &forged)).expect("tamper");
        assert!(matches!(
            verify(&path),
            Err(JournalError::Corrupt { line: 3, .. })
        ));
    }

    #[test]
    fn an_append_whose_fsync_runs_behind_is_in_the_file_at_once_and_settled_before_the_next() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).expect("create");
        j.append_behind(Event::RunCompleted {}).expect("append");
        // Written before the call returns: a reader (or a killed process's
        // successor) sees it while its fsync may still run.
        assert_eq!(inspect(&path).expect("inspect").records.len(), 1);
        assert!(!j.syncing.is_empty(), "the fsync runs behind");
        j.append(Event::RunCompleted {}).expect("append");
        assert!(
            j.syncing.is_empty(),
            "a durable append settles the one before"
        );
        j.append_carrying_behind(vec![Event::RunCompleted {}], &[])
            .expect("append");
        // The head is never written ahead of the durable journal: it settles first.
        j.write_head().expect("head");
        assert!(j.syncing.is_empty());
        assert_eq!(read_head(&path).expect("head").expect("a head").seq, 2);
        assert_eq!(read(&path).expect("verified").len(), 3);
        j.append_behind(Event::RunCompleted {}).expect("append");
        j.settle().expect("settled");
        j.settle().expect("settling twice is nothing");
        drop(j);
        assert_eq!(inspect(&path).expect("inspect").records.len(), 4);
    }

    #[test]
    fn an_unsynced_append_is_in_the_file_at_once_and_durable_with_the_next_fsync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).expect("create");
        j.append(Event::RunCompleted {}).expect("append");
        j.write_head().expect("head");
        assert_eq!(j.synced, j.len);

        // In the file at once (a killed process does not lose it), not
        // fsync'd: neither by itself nor by letting go briefly.
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        assert_eq!(inspect(&path).expect("inspect").records.len(), 2);
        assert!(j.synced < j.len && j.syncing.is_empty());
        let first_unsynced = j.synced;
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        assert_eq!(j.synced, first_unsynced, "still cut back to the first");
        j.settle_behind().expect("nothing behind");
        assert_eq!(j.synced, first_unsynced);

        // The next durable append covers them: one fsync for all.
        j.append(Event::RunCompleted {}).expect("append");
        assert_eq!(j.synced, j.len);

        // Behind: covered once that fsync is done.
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        j.append_carrying_behind(vec![Event::RunCompleted {}], &[])
            .expect("append");
        j.settle_behind().expect("settled");
        assert_eq!(j.synced, j.len);

        // A head never names a record before it is durable: `write_head`
        // and the closing append fsync what was left first.
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        j.write_head().expect("head");
        assert_eq!(j.synced, j.len);
        assert_eq!(read_head(&path).expect("head").expect("a head").seq, 6);
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        j.append_carrying_with_head(vec![Event::RunCompleted {}], &[])
            .expect("append");
        assert_eq!(j.synced, j.len);
        assert_eq!(read_head(&path).expect("head").expect("a head").seq, 8);

        // Settling or dropping the journal makes them durable too.
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        j.settle().expect("settle");
        assert_eq!(j.synced, j.len);
        drop(j);
        assert_eq!(read(&path).expect("verified").len(), 10);
    }

    #[test]
    fn a_handle_opened_on_records_past_the_head_fsyncs_them_before_a_head_names_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        // Another process appended without fsync or head, and was killed.
        let mut j = Journal::open(&path).expect("open").0;
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        std::mem::forget(j);

        let (mut j, records) = Journal::open(&path).expect("open");
        assert_eq!(records.len(), 3);
        assert!(
            j.sync_before_head,
            "records past the head may not be durable"
        );
        // Never cut back: they were not this handle's.
        assert_eq!(j.synced, j.len);
        j.write_head().expect("head");
        assert!(!j.sync_before_head, "fsync'd before the head named them");
        assert_eq!(read_head(&path).expect("head").expect("a head").seq, 2);

        // A head that reaches the journal needs nothing of the sort.
        let (j, _) = Journal::open(&path).expect("open");
        assert!(!j.sync_before_head);
        // Nor one whose own durable append covered them.
        let mut j = Journal::open(&path).expect("open").0;
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append");
        std::mem::forget(j);
        let (mut j, _) = Journal::open(&path).expect("open");
        assert!(j.sync_before_head);
        j.append(Event::RunCompleted {}).expect("append");
        assert!(!j.sync_before_head, "the append's fsync covered them");
    }

    #[test]
    fn a_new_journal_s_first_record_and_head_are_made_durable_by_a_job_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).expect("create");
        assert!(j.write_first_head().is_err(), "no record, no head");
        let first = j
            .append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("append")
            .remove(0);
        let head_file = j.write_first_head().expect("head");
        let head = read_head(&path).expect("head").expect("a head");
        assert_eq!((head.seq, head.hash), (0, first.hash));
        let journal_file = j.file_handle().expect("handle");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let job = SyncBehind::run(move || {
            // Held until the test says so: the appends below do not wait.
            rx.recv().ok();
            journal_file.sync_data()?;
            head_file.sync_data()
        });
        j.durable_behind(job);
        assert_eq!(j.synced, 0);
        // Appends whose fsync runs behind or comes later queue after it.
        j.append_behind(Event::RunCompleted {}).expect("behind");
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("unsynced");
        assert_eq!(j.syncing.len(), 2, "both behind, in order");
        tx.send(()).expect("go");
        // A durable append waits for both, then covers the rest.
        j.append(Event::RunCompleted {}).expect("durable");
        assert!(j.syncing.is_empty());
        assert_eq!(j.synced, j.len);
        // Up to date already: a later write_head writes nothing new.
        j.write_head().expect("head");
        assert_eq!(read(&path).expect("verified").len(), 4);
    }

    #[test]
    fn a_failed_job_behind_cuts_back_what_it_covered_and_poisons_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::create(&path).expect("create");
        j.append(Event::RunCompleted {}).expect("durable");
        let durable = j.len;
        j.append_carrying_unsynced(vec![Event::RunCompleted {}], &[])
            .expect("unsynced");
        j.durable_behind(SyncBehind::run(|| {
            Err(std::io::Error::from_raw_os_error(libc::EIO))
        }));
        j.append_behind(Event::RunCompleted {})
            .expect("queued behind it");
        let error = j.settle().expect_err("the job failed");
        assert!(error.to_string().contains("Input/output error"), "{error}");
        // Cut back to the last record known durable; no more appends.
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), durable);
        assert!(j.append(Event::RunCompleted {}).is_err());
        assert_eq!(inspect(&path).expect("inspect").records.len(), 1);
    }

    #[test]
    fn a_closing_append_brings_the_head_along_once_the_records_are_durable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut j, _) = Journal::open(&path).expect("open");
        let head_before = std::fs::metadata(head_path(&path)).expect("head");
        let records = j
            .append_carrying_with_head(vec![Event::RunCompleted {}, Event::RunCompleted {}], &[])
            .expect("append");
        assert!(
            j.syncing.is_empty(),
            "the records are durable when it returns"
        );
        let head = read_head(&path).expect("head").expect("a head");
        assert_eq!((head.seq, head.hash), (3, records[1].hash.clone()));
        assert_eq!(records[1].hash, j.head());
        assert!(!head_tmp_path(&path).exists(), "no temporary file is left");
        assert_eq!(read(&path).expect("the chain verifies").len(), 4);
        // Up to date: letting go writes no head of its own.
        let written = std::fs::metadata(head_path(&path)).expect("head");
        use std::os::unix::fs::MetadataExt as _;
        assert_ne!(
            written.ino(),
            head_before.ino(),
            "a new head file was put in place"
        );
        j.write_head().expect("head");
        let after = std::fs::metadata(head_path(&path)).expect("head");
        assert_eq!(after.ino(), written.ino(), "write_head had nothing to do");
        // An empty batch writes nothing, head included.
        assert!(
            j.append_carrying_with_head(Vec::new(), &[])
                .expect("empty")
                .is_empty()
        );
        assert_eq!(
            std::fs::metadata(head_path(&path)).expect("head").ino(),
            written.ino()
        );
    }

    #[test]
    fn a_head_that_cannot_be_prepared_lags_while_the_records_stand() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut j, _) = Journal::open(&path).expect("open");
        // Something (not the host) sits where the head's temporary file goes.
        std::fs::create_dir(head_tmp_path(&path)).expect("dir");
        let records = j
            .append_carrying_with_head(vec![Event::RunCompleted {}], &[])
            .expect("the records do not depend on the head");
        assert_eq!(records[0].seq, 2);
        let verified = verify(&path).expect("a lagging head verifies");
        assert_eq!(verified.records.len(), 3);
        assert_eq!(
            read_head(&path).expect("head").expect("a head").seq,
            1,
            "the head lags"
        );
        // Once the way is clear, letting go brings it up to date.
        std::fs::remove_dir(head_tmp_path(&path)).expect("rmdir");
        j.write_head().expect("head");
        let head = read_head(&path).expect("head").expect("a head");
        assert_eq!((head.seq, head.hash), (2, records[0].hash.clone()));
    }

    #[test]
    fn a_closing_append_onto_a_swapped_journal_leaves_the_head_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut j, _) = Journal::open(&path).expect("open");
        // The file at the path is replaced behind the handle's back: the
        // head must not describe records that are not in it.
        let copy = dir.path().join("copy");
        std::fs::copy(&path, &copy).expect("copy");
        std::fs::rename(&copy, &path).expect("swap");
        j.append_carrying_with_head(vec![Event::RunCompleted {}], &[])
            .expect("append");
        assert_eq!(read_head(&path).expect("head").expect("a head").seq, 1);
        assert!(!head_tmp_path(&path).exists());
        assert_eq!(read(&path).expect("the swapped file verifies").len(), 2);
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
    fn an_append_past_the_largest_journal_the_host_reads_is_refused_with_nothing_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let before = std::fs::read(&path).expect("bytes");
        let (mut j, _) = Journal::open(&path).expect("open");
        j.limit_to(before.len() as u64 + 10);
        let started = Event::StepStarted {
            step: "b".into(),
            plugin: "p".into(),
            attempt: 1,
            round: 0,
        };
        for durable in [false, true] {
            let e = if durable {
                j.append_all(vec![started.clone(), Event::RunCompleted {}])
            } else {
                j.append_carrying_behind(vec![started.clone()], &[])
            }
            .expect_err("full");
            assert!(matches!(e, JournalError::Full { .. }), "{e}");
            assert!(e.to_string().contains("is full"), "{e}");
        }
        assert_eq!(
            std::fs::read(&path).expect("bytes"),
            before,
            "nothing written"
        );
        assert_eq!(j.size(), before.len() as u64);
        // Not poisoned: what fits still goes in, and the journal reads back.
        j.limit_to(MAX_JOURNAL_BYTES);
        j.append(started).expect("fits");
        assert_eq!(read(&path).expect("read").len(), 3);
    }

    /// The end of a journal's room takes only what decides or finishes the
    /// run: a run that filled its journal can still be decided.
    #[test]
    fn a_full_journal_still_takes_a_decision_and_the_runs_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut j, _) = Journal::open(&path).expect("open");
        let before = std::fs::metadata(&path).expect("meta").len();
        j.limit_to(before + FINISHING_RESERVE_BYTES + 10);
        let started = Event::StepStarted {
            step: "b".into(),
            plugin: "p".into(),
            attempt: 1,
            round: 0,
        };
        let e = j.append(started.clone()).expect_err("full for a step");
        assert!(matches!(e, JournalError::Full { .. }), "{e}");
        j.append_all(vec![
            Event::ApprovalRejected {
                approver: "someone".into(),
                reason: "too late".into(),
            },
            Event::RunFailed {
                step: None,
                reason: "rejected".into(),
            },
        ])
        .expect("a decision fits in the reserve");
        assert!(j.append_all(vec![started, Event::RunCompleted {}]).is_err());
        assert_eq!(read(&path).expect("read").len(), 4);
    }

    #[test]
    fn a_batch_is_one_write_of_chained_records_and_the_head_follows_on_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut j, _) = Journal::open(&path).expect("open");
        let before = std::fs::metadata(&path).expect("meta").len();
        let records = j
            .append_all(vec![
                Event::RunCompleted {},
                Event::RunCompleted {},
                Event::RunCompleted {},
            ])
            .expect("batch");
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert!(std::fs::metadata(&path).expect("meta").len() > before);
        let read_back = read(&path).expect("the chain verifies");
        assert_eq!(read_back.len(), 5);
        assert_eq!(read_back[4].hash, records[2].hash);
        // The head is the last record a process that let go of the run
        // left: appends do not move it, `write_head` does.
        assert_eq!(read_head(&path).expect("head").expect("a head").seq, 1);
        j.write_head().expect("head");
        let head = read_head(&path).expect("head").expect("a head");
        assert_eq!((head.seq, head.hash), (4, records[2].hash.clone()));
        assert!(j.unchanged().expect("stat"), "nobody else appended");
        assert!(j.append_all(Vec::new()).expect("empty batch").is_empty());
        assert_eq!(read(&path).expect("read").len(), 5);
    }

    /// A journal as a newer host might write it: `run_created` with `format`
    /// 5, then an event type this host has never heard of.
    fn newer_journal(dir: &Path) -> PathBuf {
        let path = dir.join("journal.jsonl");
        let events = [
            r#"{"type":"run_created","format":5,"workflow":"w","workflow_digest":"d","params":{},"workspace":"/w","out_dir":"/o","plugins":[]}"#,
            r#"{"type":"quantum_entangled","with":"r2"}"#,
        ];
        let mut prev = GENESIS.to_string();
        let mut text = String::new();
        for (seq, event) in events.iter().enumerate() {
            let hash = record_hash(seq as u64, 7, &prev, event, None);
            let raw = RawValue::from_string((*event).to_string()).expect("raw");
            let line = LineOut {
                seq: seq as u64,
                at_ms: 7,
                prev: &prev,
                event: &raw,
                blobs: None,
                hash: &hash,
            };
            text.push_str(&serde_json::to_string(&line).expect("line"));
            text.push('\n');
            prev = hash;
        }
        std::fs::write(&path, text).expect("write");
        write_head_file(&path, &Head { seq: 1, hash: prev }).expect("head");
        path
    }

    #[test]
    fn an_unknown_event_type_names_the_newer_format_not_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = newer_journal(dir.path());
        let e = read(&path).expect_err("newer");
        assert!(
            matches!(
                &e,
                JournalError::NewerFormat { seq: 1, line: 2, format: 5, event_type, .. }
                    if event_type == "quantum_entangled"
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("newer host") && text.contains("format 5"),
            "{text}"
        );
        assert!(!text.contains("corrupt"), "{text}");
    }

    #[test]
    fn every_event_this_host_writes_has_a_known_name_and_the_current_format() {
        for name in Event::NAMES {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
        let created: Event = serde_json::from_str(
            r#"{"type":"run_created","workflow":"w","workflow_digest":"d","params":{},"workspace":"/w","out_dir":"/o","plugins":[]}"#,
        )
        .expect("a format 1 run_created reads");
        assert!(matches!(created, Event::RunCreated { format: 1, .. }));
        assert_eq!(
            serde_json::to_value(&created).expect("json")["type"],
            created.name()
        );
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
        write_head_file(
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
    fn an_unacknowledged_torn_tail_is_absent_for_readers_and_cut_off_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let intact = std::fs::read(&path).expect("read");
        // What a failed append that could not be undone leaves: part of a
        // third record, beyond the head (which still names event 1).
        let mut torn = intact.clone();
        torn.extend_from_slice(br#"{"seq":2,"at_ms":1,"prev":"ab"#);
        std::fs::write(&path, &torn).expect("write");
        assert_eq!(read(&path).expect("read").len(), 2);
        let verified = verify(&path).expect("verify");
        assert_eq!(
            verified.torn_tail,
            Some(TornTail {
                line: 3,
                bytes: (torn.len() - intact.len()) as u64
            })
        );
        assert!(verified.warnings(&path)[0].contains("never acknowledged"));
        let (mut j, records) = Journal::open(&path).expect("open");
        assert_eq!(records.len(), 2);
        assert_eq!(std::fs::read(&path).expect("read"), intact, "cut off");
        j.append(Event::RunCompleted {}).expect("append");
        let verified = verify(&path).expect("verify");
        assert_eq!(verified.records.len(), 3);
        assert_eq!(verified.torn_tail, None);
    }

    #[test]
    fn a_missing_head_is_refused_by_read_and_flagged_by_inspect() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        std::fs::remove_file(head_path(&path)).expect("rm head");
        let e = read(&path).expect_err("headless");
        assert!(
            matches!(e, JournalError::HeadMissing { events: 2, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("journal.head") && e.to_string().contains("hint:"));
        assert!(Journal::open(&path).is_err());
        let inspected = inspect(&path).expect("inspect");
        assert_eq!(inspected.records.len(), 2);
        assert!(inspected.warnings(&path)[0].contains("is missing"));
        // A head that is not a head is no better than none.
        std::fs::write(head_path(&path), b"").expect("empty head");
        let e = read(&path).expect_err("unreadable");
        assert!(matches!(e, JournalError::HeadUnreadable { .. }), "{e}");
        assert!(inspect(&path).expect("inspect").head_problem.is_some());
        std::fs::remove_file(head_path(&path)).expect("rm head");
        std::fs::create_dir(head_path(&path)).expect("head as a folder");
        let e = read(&path).expect_err("a folder");
        assert!(e.to_string().contains("a directory"), "{e}");
    }

    #[test]
    fn the_first_head_replaced_goes_through_a_temporary_file_that_does_not_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        assert!(!head_tmp_path(&path).exists());
        let head = read_head(&path).expect("head").expect("present");
        assert_eq!(head.seq, 1);
        // A stale temporary file of a killed host is simply replaced.
        std::fs::write(head_tmp_path(&path), b"{\"seq\":").expect("stale tmp");
        let (mut j, _) = Journal::open(&path).expect("open");
        j.append(Event::RunCompleted {}).expect("append");
        j.write_head().expect("head");
        assert!(!head_tmp_path(&path).exists());
        assert_eq!(read_head(&path).expect("head").expect("present").seq, 2);
        // From then on each head is swapped with the one before it.
        let spare = head_file::head_spare_path(&path);
        assert_eq!(read_head_at(&spare).seq, 1);
        j.append(Event::RunCompleted {}).expect("append");
        j.write_head().expect("head");
        assert_eq!(read_head(&path).expect("head").expect("present").seq, 3);
        assert_eq!(read_head_at(&spare).seq, 2);
        assert_eq!(
            std::fs::metadata(head_path(&path)).expect("head").len(),
            head_file::WIDTH as u64
        );
    }

    fn read_head_at(path: &Path) -> Head {
        serde_json::from_slice(&std::fs::read(path).expect("read")).expect("a head")
    }

    #[test]
    fn a_head_read_while_it_was_being_replaced_is_read_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut j, _) = Journal::open(&path).expect("open");
        j.append(Event::RunCompleted {}).expect("append");
        // The first read sees a torn head; the writer has moved it on since.
        let reads = std::cell::Cell::new(0);
        let verified = steadily(&path, |head| {
            reads.set(reads.get() + 1);
            if reads.get() == 1 {
                j.write_head().expect("the writer moves the head on");
                return Err(JournalError::HeadUnreadable {
                    path: path.clone(),
                    reason: "torn".into(),
                });
            }
            let scan = read_chain(&path)?;
            check_head(&path, scan, head?, false)
        })
        .expect("read again");
        assert_eq!((reads.get(), verified.head_seq), (2, Some(2)));
        // A head that disagrees and stays as it is, is what it says.
        let reads = std::cell::Cell::new(0);
        let refused = steadily(&path, |_| {
            reads.set(reads.get() + 1);
            Err::<Verified, _>(JournalError::HeadMismatch {
                path: path.clone(),
                seq: 2,
                expected: "a".into(),
                found: "b".into(),
            })
        });
        assert!(matches!(refused, Err(JournalError::HeadMismatch { .. })));
        assert_eq!(reads.get(), 1);
    }

    #[test]
    fn a_handle_another_process_overtook_writes_no_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let (mut stale, _) = Journal::open(&path).expect("open");
        stale.append(Event::RunCompleted {}).expect("append");
        // Another handle appends after it and brings the head up to date.
        let (mut other, _) = Journal::open(&path).expect("open again");
        other.append(Event::RunCompleted {}).expect("append");
        other.write_head().expect("head");
        assert_eq!(read_head(&path).expect("head").expect("present").seq, 3);
        // The overtaken handle would set the head back (or, had the file
        // been replaced, make it disagree): it leaves it alone.
        stale.write_head().expect("nothing to do");
        assert_eq!(read_head(&path).expect("head").expect("present").seq, 3);
        assert_eq!(read(&path).expect("verifies").len(), 4);
    }

    #[test]
    fn an_append_that_cannot_be_undone_stops_further_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sample(dir.path());
        let before = std::fs::read(&path).expect("read");
        // A handle that can neither write nor truncate: the append fails
        // and so does its undo.
        let mut j = Journal {
            path: path.clone(),
            file: File::open(&path).expect("open read-only"),
            len: before.len() as u64,
            next_seq: 2,
            head: read(&path).expect("read")[1].hash.clone(),
            poisoned: false,
            head_written: Some(1),
            limit: MAX_JOURNAL_BYTES,
            syncing: Vec::new(),
            synced: before.len() as u64,
            sync_before_head: false,
        };
        let e = j.append(Event::RunCompleted {}).expect_err("cannot write");
        assert!(
            matches!(e, JournalError::Append { undone: false, .. }),
            "{e}"
        );
        assert!(matches!(
            j.append(Event::RunCompleted {}),
            Err(JournalError::Poisoned { .. })
        ));
        assert_eq!(std::fs::read(&path).expect("read"), before);
        assert_eq!(read(&path).expect("still verifies").len(), 2);
    }

    #[test]
    fn a_journal_that_is_not_a_regular_file_is_refused_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        std::fs::create_dir(&path).expect("mkdir");
        let e = read(&path).expect_err("a folder");
        assert!(
            matches!(
                &e,
                JournalError::Read(ReadError::NotRegular {
                    kind: bounded_read::FileKind::Directory,
                    ..
                })
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_fields_from_newer_hosts_are_tolerated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let event = r#"{"type":"run_completed","added_later":true}"#;
        let hash = record_hash(0, 5, GENESIS, event, None);
        std::fs::write(
            &path,
            format!("{{\"seq\":0,\"at_ms\":5,\"prev\":\"{GENESIS}\",\"event\":{event},\"hash\":\"{hash}\",\"extra\":1}}\n"),
        )
        .expect("write");
        write_head_file(&path, &Head { seq: 0, hash }).expect("head");
        let records = read(&path).expect("read");
        assert_eq!(records[0].event, Event::RunCompleted {});
    }
}
