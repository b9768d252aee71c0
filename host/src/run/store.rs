//! Where runs are kept: the run-store seam.
//!
//! [`Store`] is what a backend implements: create a run from its
//! `run_created` event, open one for driving (exclusively, with its
//! verified history and an appender for the hash-chained journal), read a
//! run's history for views (strictly, or leniently with warnings), list
//! runs, and reach a run's [`Blobs`]. [`RunStore`] is the handle every front
//! end uses (the CLI, the workflow executor, the MCP server, the console);
//! it derives state from the history ([`RunState::from_records`]) and never
//! knows where or how the backend keeps anything. [`FileStore`] (files under
//! `<state-dir>/runs/`) is today's backend.
//!
//! **A PostgreSQL backend (design note; not built).** Tables:
//! `runs(id text primary key, created_at timestamptz, head_seq bigint,
//! head_hash text)`, `events(run_id text references runs, seq bigint,
//! at_ms bigint, prev text, hash text, event jsonb, primary key (run_id,
//! seq))` and `blobs(run_id text, sha256 text, bytes bytea, primary key
//! (run_id, sha256))`. The hash chain is computed by the host exactly as in
//! [`crate::run::journal`] (the database stores, never computes, it);
//! an append is one transaction that inserts the event with `prev` = the
//! run's `head_hash` and updates `runs.head_seq/head_hash` with
//! `where head_seq = $expected` (a lost race aborts the append, as a torn
//! write does for the file journal). The single-driver lock maps onto a
//! session-level advisory lock (`pg_try_advisory_lock(hashtext(run_id))`)
//! held by the connection for as long as the [`Run`] is open, so a crashed
//! host's lock dies with its connection, as `flock` does. Verification reads
//! the events in `seq` order and checks the chain against `runs.head_*`,
//! the same checks [`crate::run::journal::verify`] makes. Blobs are
//! verified against their sha256 on every read, as files are.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bounded_read::FileKind;
use crate::render::inert;
use crate::run::blobs::{BlobError, Blobs};
use crate::run::event::Event;
use crate::run::journal::{JournalError, Record};
use crate::run::state::{RunState, StateError};

pub use crate::run::file_store::FileStore;

/// What a run-store backend implements (see the module doc).
pub trait Store: std::fmt::Debug + Send + Sync {
    /// Create run `id` (a fresh [`new_run_id`]) whose journal starts with
    /// `created`, atomically: afterwards it exists whole, or not at all.
    /// Returns it opened as [`Store::open`] would, its lock taken before
    /// the run could be seen.
    fn create(&self, id: &str, created: Event) -> Result<Opened, RunError>;
    /// Open a run for driving or deciding: exclusively (a second opener gets
    /// [`RunError::Busy`] until the returned log is dropped), with its
    /// strictly verified history (a missing head is refused).
    fn open(&self, id: &str) -> Result<Opened, RunError>;
    /// A run's verified history, without taking it. `strict` refuses what
    /// [`Store::open`] refuses; lenient reading reports a missing or
    /// unreadable head as a warning instead.
    fn history(&self, id: &str, strict: bool) -> Result<History, RunError>;
    /// Ids of every run, oldest first.
    fn ids(&self) -> Result<Vec<String>, RunError>;
    /// A run's blobs, for read-only views.
    fn blobs(&self, id: &str) -> Result<Blobs, RunError>;
    /// Remove run `id` and everything kept for it (its journal, its blobs:
    /// blobs belong to one run, so no other run loses any). The caller holds
    /// the run open (`held` is the log [`Store::open`] returned), so no
    /// other process drives it while it goes; the run disappears at once,
    /// and whatever a cut-short removal leaves is invisible and cleaned up
    /// later. Returns the bytes freed.
    fn remove(&self, id: &str, held: Box<dyn RunLog>) -> Result<u64, RunError>;
    /// Remove run `id`, which holds no record
    /// ([`RunError::CutOffAtCreation`], checked again under its lock), as
    /// [`Store::remove`] does. Returns the bytes freed.
    fn remove_cut_off(&self, id: &str) -> Result<u64, RunError>;
    /// Remove run `id`, whose history cannot be read or verified (damaged
    /// or tampered with: [`Store::open`] refuses it, checked again under its
    /// lock), as [`Store::remove`] does: the way out for a run nothing else
    /// can finish. Returns the bytes freed.
    fn remove_unreadable(&self, id: &str) -> Result<u64, RunError>;
    /// Where the runs are, for messages ("no runs in …").
    fn location(&self) -> String;
    /// Host paths the backend keeps data under: never mounted into or
    /// written by a plugin.
    fn own_paths(&self) -> Vec<PathBuf>;
}

/// The appender of an open run's journal; dropping it releases the run.
pub trait RunLog: std::fmt::Debug + Send {
    /// Append `events` after the last record, in order, extending the
    /// chain: all of them, or (on an error) none; durable when `durable`
    /// says.
    fn append(&mut self, events: Vec<Event>, durable: Durable) -> Result<Vec<Record>, RunError>;
    /// Wait until every append is durable ([`Durable::BeforeNextWrite`],
    /// [`Durable::WithNext`]); an error means the last ones may not be, and
    /// the log takes no more.
    fn settle(&mut self) -> Result<(), RunError>;
    /// Let other processes take the run (`host approve` of a serving MCP
    /// session) while this appender keeps its place in the chain; unless
    /// `briefly`, first bring the journal's head up to date (see
    /// [`Run::release_briefly`]); everything appended is durable first,
    /// except, when `briefly`, what was appended [`Durable::WithNext`].
    fn release(&mut self, briefly: bool) -> Result<(), RunError>;
    /// Take the run back after [`RunLog::release`] ([`RunError::Busy`] if
    /// another process holds it now): the records others appended
    /// meanwhile, verified to extend the chain this appender knows.
    fn retake(&mut self) -> Result<Vec<Record>, RunError>;
    /// Bytes the run's records take in the store.
    fn bytes(&self) -> u64;
}

/// When an append ([`RunLog::append`]) is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    /// When the append returns.
    Now,
    /// Before the next append, [`RunLog::settle`], letting go of the run or
    /// dropping the log; meanwhile the caller may go on (call a plugin),
    /// but shows or applies nothing that stands on the events. A backend
    /// may make them durable at once.
    BeforeNextWrite,
    /// When the append returns, the journal's head brought up to the events
    /// at the same time (its fsync beside the events'), so letting go of the
    /// run right after writes nothing more: for the last events before the
    /// run is let go ([`Run::closing`]). A backend without a separate head
    /// treats it as [`Durable::Now`].
    NowWithHead,
    /// With the next durable append (its fsync covers this one's too),
    /// [`RunLog::settle`] or letting go of the run for good, but not when it
    /// is let go briefly ([`RunLog::release`]): for the request of an MCP
    /// call with no effect outside the host until its end, which is durable
    /// (and these events with it) before the result goes out. A killed
    /// process does not lose the events; a power loss before the next
    /// durable append may. A backend may make them durable at once.
    WithNext,
}

/// How long [`RunStore::open_patiently`] waits for a run another process
/// holds.
pub const DECISION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// A run opened for driving: see [`Store::open`].
#[derive(Debug)]
pub struct Opened {
    /// Where the run's next events are appended.
    pub log: Box<dyn RunLog>,
    /// The run's verified records, in order.
    pub records: Vec<Record>,
    /// The run's staged bytes.
    pub blobs: Blobs,
}

/// A run's verified records, with what a reader should be warned about
/// (rendered inert, one line each).
#[derive(Debug)]
pub struct History {
    /// The run's verified records, in order.
    pub records: Vec<Record>,
    /// What a reader should be warned about.
    pub warnings: Vec<String>,
}

/// The runs of a host: the handle front ends use.
#[derive(Debug, Clone)]
pub struct RunStore {
    store: Arc<dyn Store>,
}

/// Why a run could not be created, opened or recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No run has this id in the state directory.
    #[error(
        "no run `{}` in {location}\nhint: `host runs` lists the runs of this state directory (see --state-dir)",
        crate::render::inert(id)
    )]
    Unknown {
        /// The run id (or prefix) asked for.
        id: String,
        /// Where the store looked ([`Store::location`]), rendered inert.
        location: String,
    },
    /// The run folder exists but has no journal.
    #[error(
        "run `{id}` exists but its journal `{}` is missing (the folder still holds {holds}): the run was tampered with\nhint: a run's state is its journal; restore `journal.jsonl` from a copy you trust, or start a new run",
        shown(.path)
    )]
    JournalMissing {
        /// The run's id.
        id: String,
        /// Where the journal should be.
        path: PathBuf,
        /// What is left in the run folder, for the message.
        holds: String,
    },
    /// The run's journal path is not a regular file.
    #[error(
        "run `{id}` exists but its journal `{}` is {kind}, not a file: the run was tampered with\nhint: a run's state is its journal; restore `journal.jsonl` from a copy you trust, or start a new run",
        shown(.path)
    )]
    JournalNotAFile {
        /// The run's id.
        id: String,
        /// The journal's path.
        path: PathBuf,
        /// What is there instead.
        kind: FileKind,
    },
    /// Something other than a folder sits where a run folder should be.
    #[error(
        "`{}` is {kind}, not a run folder\nhint: the host makes run folders itself; remove it, or start a new run",
        shown(.path)
    )]
    NotARunFolder {
        /// The path in the runs folder.
        path: PathBuf,
        /// What is there instead of a folder.
        kind: FileKind,
    },
    /// The text is not shaped like a run id.
    #[error(
        "`{}` is not a run id\nhint: run ids look like r20261123-104501-1a2b3c; `host runs` lists them",
        crate::render::inert(id)
    )]
    InvalidId {
        /// The text given as a run id.
        id: String,
    },
    /// A prefix given for a run matches more than one.
    #[error(
        "`{}` matches {count} runs ({})\nhint: give more of the id (`host runs` lists them)",
        crate::render::inert(prefix),
        crate::render::inert(&examples.join(", "))
    )]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// How many run ids start with it.
        count: usize,
        /// The first few matching ids.
        examples: Vec<String>,
    },
    /// The run was released by this process and not taken back (a bug).
    #[error(
        "run `{id}` was let go by this process and not taken back before recording\nhint: this is a bug in the host; please report it"
    )]
    Released {
        /// The run's id.
        id: String,
    },
    /// The run's journal holds no whole record: a power loss cut its
    /// creation off before its first record reached the disk.
    #[error(
        "run `{}` holds no record: it was cut off as it was created (a power loss before its first record reached the disk), so nothing was started or decided in it\nhint: `host runs prune --all` removes it; start it again with `host run`",
        crate::render::inert(id)
    )]
    CutOffAtCreation {
        /// The run's id.
        id: String,
    },
    /// Another host process holds the run's lock.
    #[error(
        "run `{id}` is busy: another host process holds its lock\nhint: wait for the other command to finish, then try again"
    )]
    Busy {
        /// The run's id.
        id: String,
    },
    /// A process keeps the run open (an MCP session serving it), though
    /// it holds the run's lock only while it writes: not removed.
    #[error(
        "run `{id}` is kept open by a host process that serves it (an MCP session)\nhint: stop that process (end the `host mcp` session) first"
    )]
    KeptOpen {
        /// The run's id.
        id: String,
    },
    /// The run folder could not be created or accessed.
    #[error(
        "cannot access the run folder `{}`\nhint: the state directory must be writable to create, resume, approve or reject a run (is it on a full or read-only file system?)",
        shown(.path)
    )]
    Io {
        /// The run folder, or the file in it, that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The run's journal could not be read or appended to.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A staged blob could not be read or written.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The journal's events do not describe a run.
    #[error(transparent)]
    State(#[from] StateError),
}

fn shown(path: &Path) -> String {
    inert(&path.display().to_string())
}

/// A run as a read-only view sees it.
#[derive(Debug)]
pub struct Inspection {
    /// What the journal says about the run.
    pub state: RunState,
    /// What a person should know before trusting the state: a missing or
    /// unreadable head (which [`RunStore::open`] refuses), an
    /// unacknowledged torn tail. Rendered inert, one line each.
    pub warnings: Vec<String>,
}

/// One run, open and locked for this process.
#[derive(Debug)]
pub struct Run {
    id: String,
    log: Box<dyn RunLog>,
    state: RunState,
    blobs: Blobs,
    store_paths: Vec<PathBuf>,
    /// False between [`Run::release`] and [`Run::retake`].
    held: bool,
    /// Events [`Run::record_deferred`] folded into `ahead` but did not
    /// write yet: the next [`Run::record_all`] writes them first, in the
    /// same write and fsync.
    deferred: Vec<Event>,
    /// `state` with `deferred` folded in; `None` when nothing is deferred.
    ahead: Option<RunState>,
    /// Set by [`Run::closing`] until the run is let go: durable appends
    /// bring the head along ([`Durable::NowWithHead`]).
    closing: bool,
}

impl Run {
    /// The run's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The run's state as of its latest event (deferred ones included, see
    /// [`Run::record_deferred`]).
    pub fn state(&self) -> &RunState {
        self.ahead.as_ref().unwrap_or(&self.state)
    }

    /// The run's staged bytes.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Bytes the run's records take in the store ([`RunLog::bytes`]).
    pub fn journal_bytes(&self) -> u64 {
        self.log.bytes()
    }

    /// Where the store keeps its data ([`Store::own_paths`]).
    pub fn store_paths(&self) -> &[PathBuf] {
        &self.store_paths
    }

    /// Append an event to the journal (durably) and fold it into the state.
    pub fn record(&mut self, event: Event) -> Result<(), RunError> {
        self.record_all(vec![event])
    }

    /// Append events that stand or fall together with one durable write
    /// (all recorded, or none), and fold them into the state.
    /// Deferred events ([`Run::record_deferred`]) are written first, in the
    /// same write; if it fails, they are dropped with the rest and the state
    /// is the journal's again.
    pub fn record_all(&mut self, events: Vec<Event>) -> Result<(), RunError> {
        self.append(events, Durable::Now)
    }

    /// [`Run::record`], but going on while the event becomes durable
    /// ([`Durable::BeforeNextWrite`]): for the event written just before a
    /// plugin call (a step's start), so the call need not wait for the disk.
    /// The next record, [`Run::flush`] and letting go of the run wait for
    /// it; the caller shows nothing that stands on it before one of those.
    pub fn record_overlapped(&mut self, event: Event) -> Result<(), RunError> {
        self.append(vec![event], Durable::BeforeNextWrite)
    }

    /// [`Run::record_all`], the events durable only with the next durable
    /// record ([`Durable::WithNext`]), even across [`Run::release_briefly`]:
    /// for the request of a call that has no effect outside the host before
    /// its end is recorded, and whose result waits for that record.
    pub fn record_with_next(&mut self, events: Vec<Event>) -> Result<(), RunError> {
        self.append(events, Durable::WithNext)
    }

    /// [`Run::flush`], going on while the deferred events become durable
    /// (as [`Run::record_overlapped`]).
    pub fn flush_overlapped(&mut self) -> Result<(), RunError> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        self.append(Vec::new(), Durable::BeforeNextWrite)
    }

    /// Say that the run is let go after its next records: from now until
    /// then, each durable append also brings the journal's head up to
    /// date, its fsync running beside the records' ([`Durable::NowWithHead`]),
    /// so letting go costs no head write of its own. Only a matter of speed:
    /// records appended after all are as durable as ever.
    pub fn closing(&mut self) {
        self.closing = true;
    }

    fn append(&mut self, events: Vec<Event>, durable: Durable) -> Result<(), RunError> {
        let durable = match durable {
            Durable::Now if self.closing => Durable::NowWithHead,
            other => other,
        };
        if !self.held {
            return Err(RunError::Released {
                id: self.id.clone(),
            });
        }
        self.ahead = None;
        let mut all = std::mem::take(&mut self.deferred);
        all.extend(events);
        for record in self.log.append(all, durable)? {
            self.fold(&record)?;
        }
        Ok(())
    }

    /// Fold `event` into the state now and write it with the next
    /// [`Run::record`] (group commit: one fsync for both). For an event that
    /// nothing outside this process acts on before the next one is
    /// recorded: a step's success, written with the next step's start
    /// before that step's plugin is called. The caller writes what is left
    /// with [`Run::flush`] before anything else may depend on it; letting
    /// go of the run does too. A kill before then loses the event as if it
    /// had happened a moment later (a resume redoes the step).
    pub fn record_deferred(&mut self, event: Event) -> Result<(), RunError> {
        if !self.held {
            return Err(RunError::Released {
                id: self.id.clone(),
            });
        }
        let mut ahead = self.state().clone();
        // Not the record the journal will hold (its time and hash are the
        // write's): only the scheduling before that write sees it.
        let record = Record {
            seq: ahead.events,
            at_ms: crate::clock::now_ms(),
            hash: String::new(),
            event: event.clone(),
        };
        ahead.apply(&record).map_err(|reason| StateError {
            id: self.id.clone(),
            reason,
        })?;
        self.ahead = Some(ahead);
        self.deferred.push(event);
        Ok(())
    }

    /// Write the deferred events ([`Run::record_deferred`]), if any, and
    /// wait until everything recorded is durable
    /// ([`Run::record_overlapped`]).
    pub fn flush(&mut self) -> Result<(), RunError> {
        if self.deferred.is_empty() {
            return self.log.settle();
        }
        self.record_all(Vec::new())
    }

    /// Let other processes open the run (to approve or reject it) while
    /// this process keeps it: a long-lived driver (an MCP session) holds
    /// the run only while it writes. [`Run::record`] is refused until
    /// [`Run::retake`].
    pub fn release(&mut self) -> Result<(), RunError> {
        self.let_go(false)
    }

    /// [`Run::release`] in the middle of a piece of work this process takes
    /// the run back to finish (an MCP call between its request and its
    /// end): the journal's head is left to lag until the final release,
    /// which saves a head write (an fsync and a rename). Readers accept a
    /// lagging head; another process that appends meanwhile writes its own.
    pub fn release_briefly(&mut self) -> Result<(), RunError> {
        self.let_go(true)
    }

    fn let_go(&mut self, briefly: bool) -> Result<(), RunError> {
        if self.held {
            // Deferred events written now carry the head along.
            self.closing |= !briefly;
            // The log's release settles the rest (briefly, all but what
            // was recorded with the next, which stays so).
            if !self.deferred.is_empty() {
                self.flush()?;
            }
            self.log.release(briefly)?;
            self.held = false;
            self.closing = false;
        }
        Ok(())
    }

    /// Take the run back after [`Run::release`] ([`RunError::Busy`] while
    /// another process holds it), folding in what others recorded
    /// meanwhile. Costs a `stat` when nobody did.
    pub fn retake(&mut self) -> Result<(), RunError> {
        if self.held {
            return Ok(());
        }
        let records = self.log.retake()?;
        self.held = true;
        for record in &records {
            self.fold(record)?;
        }
        Ok(())
    }

    fn fold(&mut self, record: &Record) -> Result<(), RunError> {
        self.state
            .apply(record)
            .map_err(|reason| StateError {
                id: self.id.clone(),
                reason,
            })
            .map_err(RunError::from)
    }
}

impl RunStore {
    /// The file store of `state_dir` ([`FileStore`]).
    pub fn new(state_dir: &Path) -> RunStore {
        RunStore::with(Arc::new(FileStore::new(state_dir)))
    }

    /// Runs kept by `store`.
    pub fn with(store: Arc<dyn Store>) -> RunStore {
        RunStore { store }
    }

    /// Where the runs are, for messages.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Create a run whose journal starts with `created` (a `run_created`
    /// event), and open it.
    pub fn create(&self, created: Event) -> Result<Run, RunError> {
        let id = new_run_id();
        let opened = self.store.create(&id, created)?;
        self.driven(&id, opened)
    }

    /// Open an existing run, taking its lock. `id` may be anything
    /// [`RunStore::resolve`] accepts (as for every method taking a run).
    pub fn open(&self, id: &str) -> Result<Run, RunError> {
        let id = &self.resolve(id)?;
        let opened = self.store.open(id)?;
        self.driven(id, opened)
    }

    /// [`RunStore::open`] for what a person does to a run (approve, reject,
    /// resume, revert, the console's decisions): a run
    /// another process holds is waited for up to [`DECISION_PATIENCE`]
    /// before it is refused as busy. An MCP session holds its run for a
    /// moment at each call's records, often: without the wait, a person's
    /// `host approve` while an agent calls tools was refused at random
    /// (12 of 20 tries with an agent calling in a loop).
    pub fn open_patiently(&self, id: &str) -> Result<Run, RunError> {
        self.open_within(id, DECISION_PATIENCE)
    }

    /// [`RunStore::open`], waiting up to `patience` for a run another
    /// process holds ([`RunStore::open_patiently`] waits
    /// [`DECISION_PATIENCE`]; a page that only previews a decision waits
    /// less).
    pub fn open_within(&self, id: &str, patience: std::time::Duration) -> Result<Run, RunError> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            match self.open(id) {
                Err(RunError::Busy { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    /// The [`Run`] of an opened run.
    fn driven(&self, id: &str, opened: Opened) -> Result<Run, RunError> {
        let state = RunState::from_records(id, &opened.records)?;
        Ok(Run {
            id: id.to_string(),
            log: opened.log,
            state,
            blobs: opened.blobs,
            store_paths: self.store.own_paths(),
            held: true,
            deferred: Vec::new(),
            ahead: None,
            closing: false,
        })
    }

    /// Read a run's state without locking it (for listings); see [`RunStore::inspect`].
    pub fn peek(&self, id: &str) -> Result<RunState, RunError> {
        self.inspect(id).map(|i| i.state)
    }

    /// Read a run's state without locking it, for read-only views: a run
    /// whose head is missing or unreadable is shown with a warning rather
    /// than refused (opening it with [`RunStore::open`] refuses).
    pub fn inspect(&self, id: &str) -> Result<Inspection, RunError> {
        let id = &self.resolve(id)?;
        let history = self.store.history(id, false)?;
        Ok(Inspection {
            state: RunState::from_records(id, &history.records)?,
            warnings: history.warnings,
        })
    }

    /// A run's records, verified as strictly as [`RunStore::open`] does,
    /// with warnings (an unacknowledged torn tail): `host verify`, `host trace`.
    pub fn history(&self, id: &str) -> Result<History, RunError> {
        self.store.history(&self.resolve(id)?, true)
    }

    /// A run's blobs, for read-only views (`host show`).
    pub fn blobs(&self, id: &str) -> Result<Blobs, RunError> {
        self.store.blobs(&self.resolve(id)?)
    }

    /// Ids of every run, in id order (which is creation order to the second).
    pub fn ids(&self) -> Result<Vec<String>, RunError> {
        self.store.ids()
    }

    /// Remove `run` and everything the store keeps for it ([`Store::remove`]).
    /// It was opened with [`RunStore::open`], so its state (which the caller
    /// judged) was read under the run's lock and cannot change before it is
    /// gone. Returns the bytes freed.
    pub fn remove(&self, run: Run) -> Result<u64, RunError> {
        if !run.held {
            // Let go ([`Run::release`]): its lock is not held, so it may not go.
            return Err(RunError::Released { id: run.id });
        }
        let Run { id, log, .. } = run;
        self.store.remove(&id, log)
    }

    /// Remove run `id`, which holds no record
    /// ([`RunError::CutOffAtCreation`]): the bytes freed.
    pub fn remove_cut_off(&self, id: &str) -> Result<u64, RunError> {
        self.store.remove_cut_off(&self.resolve(id)?)
    }

    /// Remove run `id`, whose history cannot be read or verified
    /// ([`Store::remove_unreadable`]): the bytes freed.
    pub fn remove_unreadable(&self, id: &str) -> Result<u64, RunError> {
        self.store.remove_unreadable(&self.resolve(id)?)
    }

    /// The run a person means by `spec`: a whole id as it is, [`LATEST`]
    /// for the most recently created run, or the one run whose id starts
    /// with `spec`. Anything else is refused as not a run id.
    pub fn resolve(&self, spec: &str) -> Result<String, RunError> {
        if is_valid_run_id(spec) {
            return Ok(spec.to_string());
        }
        let unknown = || RunError::Unknown {
            id: spec.to_string(),
            location: self.store.location(),
        };
        if spec == LATEST {
            let newest = self
                .ids()?
                .into_iter()
                .filter_map(|id| self.peek(&id).ok().map(|s| (s.created_ms, id)))
                .max();
            return newest.map(|(_, id)| id).ok_or_else(unknown);
        }
        if !is_id_prefix(spec) {
            return Err(RunError::InvalidId {
                id: spec.to_string(),
            });
        }
        let matches: Vec<String> = self
            .ids()?
            .into_iter()
            .filter(|id| id.starts_with(spec))
            .collect();
        match matches.len() {
            0 => Err(unknown()),
            1 => Ok(matches.into_iter().next().unwrap_or_default()),
            count => Err(RunError::Ambiguous {
                prefix: spec.to_string(),
                count,
                examples: matches.into_iter().take(3).collect(),
            }),
        }
    }
}

/// What a person may write for a run: a whole id, `latest` (the newest
/// run), or a unique prefix of an id (`r20261201-1015`).
pub const LATEST: &str = "latest";

/// Whether `text` could begin a run id (so a prefix lookup is safe: it
/// never names a path).
fn is_id_prefix(text: &str) -> bool {
    text.len() >= 2
        && text.len() < 23
        && text.starts_with('r')
        && text[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || (b'a'..=b'f').contains(&b))
}

/// `r<YYYYMMDD>-<HHMMSS>-<6 hex>`: sortable by time, unique enough per second.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let noise = crate::digest::sha256_hex_parts([
        now.as_nanos().to_le_bytes().as_slice(),
        std::process::id().to_le_bytes().as_slice(),
        n.to_le_bytes().as_slice(),
    ]);
    format!(
        "r{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        &noise[..6]
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Run ids are user input on the command line: only the exact shape we
/// generate is accepted, so an id can never name a path outside `runs/`.
pub fn is_valid_run_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 23
        && b[0] == b'r'
        && b[9] == b'-'
        && b[16] == b'-'
        && b[1..9].iter().all(u8::is_ascii_digit)
        && b[10..16].iter().all(u8::is_ascii_digit)
        && b[17..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `run_created` for store tests.
    pub(crate) fn created() -> Event {
        Event::test_created("/ws", "/ws")
    }

    #[test]
    fn ids_are_valid_and_dates_are_right() {
        let id = new_run_id();
        assert!(is_valid_run_id(&id), "{id}");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
        for bad in [
            "",
            "../x",
            "r20261123-104501-1a2b3",
            "r20261123-104501-1a2b3g",
            "r2026112a-104501-1a2b3c",
        ] {
            assert!(!is_valid_run_id(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_and_malformed_ids_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        assert!(matches!(
            store.open("../../etc"),
            Err(RunError::InvalidId { .. })
        ));
        assert!(matches!(
            store.open("r20261123-104501-1a2b3c"),
            Err(RunError::Unknown { .. })
        ));
    }

    fn started(step: &str) -> Event {
        Event::StepStarted {
            step: step.into(),
            plugin: "p".into(),
            attempt: 1,
            round: 0,
        }
    }

    fn succeeded(step: &str) -> Event {
        Event::StepSucceeded {
            step: step.into(),
            attempt: 1,
            output_sha256: "0".repeat(64),
            output_blob: String::new(),
            writes: Vec::new(),
            logs: Vec::new(),
            duration_ms: 1,
        }
    }

    /// The event types the run's journal file holds, in order.
    fn journaled(tmp: &Path, id: &str) -> Vec<String> {
        let text = std::fs::read_to_string(tmp.join("runs").join(id).join("journal.jsonl"))
            .expect("journal");
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("record");
                v["event"]["type"].as_str().expect("type").to_string()
            })
            .collect()
    }

    #[test]
    fn a_deferred_event_is_folded_now_and_written_with_the_next_record() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let mut run = store.create(created()).expect("create");
        let id = run.id().to_string();
        run.record(started("a")).expect("record");
        run.record_deferred(succeeded("a")).expect("defer");
        // The state has it; the journal does not, yet.
        assert!(run.state().step_done("a"));
        assert_eq!(run.state().events, 3);
        assert_eq!(journaled(tmp.path(), &id), ["run_created", "step_started"]);
        run.record(started("b")).expect("record");
        assert_eq!(
            journaled(tmp.path(), &id),
            [
                "run_created",
                "step_started",
                "step_succeeded",
                "step_started"
            ]
        );
        // What this process folded is what the journal says.
        let state = run.state().clone();
        drop(run);
        let reopened = store.open(&id).expect("open");
        assert_eq!(reopened.state(), &state);
        assert!(reopened.state().step_done("a"));
    }

    #[test]
    fn deferred_events_are_written_by_flush_and_before_the_run_is_let_go() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let mut run = store.create(created()).expect("create");
        let id = run.id().to_string();
        run.record(started("a")).expect("record");
        run.flush().expect("nothing to flush");
        assert_eq!(journaled(tmp.path(), &id), ["run_created", "step_started"]);
        run.record_deferred(succeeded("a")).expect("defer");
        run.flush().expect("flush");
        assert_eq!(
            journaled(tmp.path(), &id),
            ["run_created", "step_started", "step_succeeded"]
        );
        run.record(started("b")).expect("record");
        run.record_deferred(succeeded("b")).expect("defer");
        run.release().expect("release");
        assert_eq!(journaled(tmp.path(), &id).len(), 5);
        assert!(store.peek(&id).expect("peek").step_done("b"));
        // Released: nothing more may be deferred until it is taken back.
        assert!(matches!(
            run.record_deferred(started("c")),
            Err(RunError::Released { .. })
        ));
    }

    #[test]
    fn a_deferred_event_the_state_refuses_is_neither_folded_nor_written() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let mut run = store.create(created()).expect("create");
        let id = run.id().to_string();
        run.record_deferred(started("a")).expect("defer");
        let before = run.state().clone();
        assert!(
            run.record_deferred(created()).is_err(),
            "a second run_created"
        );
        assert_eq!(run.state(), &before);
        run.flush().expect("flush");
        assert_eq!(journaled(tmp.path(), &id), ["run_created", "step_started"]);
    }
}
