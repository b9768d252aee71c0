//! The file run store, today's implementation of [`Store`]: runs live in
//! `<state-dir>/runs/<id>/`, holding `journal.jsonl` (+ `journal.head` and its spare `journal.head.prev`), the
//! `blobs/` of step outputs, staged writes and base bytes, and a `lock`
//! file. Nothing outside this module knows that layout.
//!
//! A run is created atomically: built in a staging folder `.new-<pid>-<id>`
//! (its first record and head written, its lock taken), then renamed to
//! `<id>`, so it is seen only whole and its creator holds it from the moment
//! it can be seen. Its fsyncs (the journal, the head, the run's folder,
//! holding its `blobs/` folder from the start, and `runs/`) are one job on
//! the fsync worker ([`crate::run::sync_behind`]) that runs behind the first plugin call, handed to the journal
//! ([`Journal::durable_behind`]), which waits for it before the first record
//! that must be durable, before its head is written again and when the run
//! is let go. A killed process loses nothing by that (the files are whole in
//! the page cache); a power loss in that moment can leave a run whose first
//! record or head never reached the disk, on which nothing durable depended
//! (the head is fsync'd first, so a lost head comes with a lost record):
//! such a run (its journal holds no whole record) is refused as
//! [`RunError::CutOffAtCreation`], and `host runs prune` removes it
//! ([`Store::remove_cut_off`]). Runs are opened under an exclusive lock
//! (`flock` on `lock`), so two host processes can never drive the same run
//! at once: the second one is told who holds it.
//!
//! **Integrity on open.** [`Store::open`] refuses a journal that does not
//! verify, including one with records but no `journal.head`
//! ([`journal::read`]); [`Store::history`] in its lenient form shows such a
//! run with warnings instead. A run folder whose journal is gone or is not a
//! file is reported as tampered, not as unknown.
//!
//! **Leftovers of a killed host.** Whoever holds a run's lock keeps a
//! marker `runs/.busy-<id>` (a hard link to the run's `lock`, made right
//! after the lock is taken and removed right before it is let go); every temporary file of
//! the run (`journal.head.tmp`, `blobs/.tmp-<pid>-…`) is written under the
//! lock, so while the marker exists. A marker whose run's lock is free was
//! therefore left by a killed host, and that run may hold its temporary
//! files. `create` and `open` list `runs/` once: they remove the staging
//! folders and finish the removals of dead processes ([`crate::leftovers`]),
//! and for each marker of an idle run they remove that run's temporary files
//! and then the marker. So a run that is never resumed loses what a kill
//! left in it at the next `create`, for the cost of one listing of `runs/`,
//! not a look into every run. `open` also cleans its own run once it holds
//! the lock, and every view of a run ([`Store::history`]) cleans an idle
//! run it finds marked (one `stat` when there is no marker), so a run
//! completed by the append a kill cut short is clean after the next
//! `host status`.
//!
//! **Removal** (`host runs prune`) renames a run's folder, under its lock,
//! to `.gone-<pid>-<id>` and deletes that; a removal cut short is finished
//! by a later `create` or `open` once its process has exited. A run that a
//! process keeps open while letting its lock go (an MCP session between
//! calls) holds a shared lock on its `kept` file, and is not removed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bounded_read::FileKind;
use crate::leftovers;
use crate::render::inert;
use crate::run::blobs::{Blobs, Carrier};
use crate::run::event::Event;
use crate::run::journal::{self, Journal, JournalError, Record};
use crate::run::store::{Durable, History, Opened, RunError, RunLog, Store, is_valid_run_id};
use crate::run::sync_behind::SyncBehind;

const JOURNAL_FILE: &str = "journal.jsonl";
const LOCK_FILE: &str = "lock";
/// Locked shared by a process that keeps the run open while it lets the
/// run's `lock` go (an MCP session between calls): a removal refuses such a
/// run. The lock goes with the process, however it ends.
const KEPT_FILE: &str = "kept";
const BLOBS_DIR: &str = "blobs";
/// Prefix of a run's staging folder: `.new-<pid>-<id>`.
const STAGING_PREFIX: &str = ".new-";
/// Prefix of a removed run's folder while it is deleted: `.gone-<pid>-<id>`.
const GONE_PREFIX: &str = ".gone-";
/// Prefix of the marker of a run whose lock is held: `.busy-<id>`.
const BUSY_PREFIX: &str = ".busy-";

/// The runs of one state directory, as files.
#[derive(Debug, Clone)]
pub struct FileStore {
    state_dir: PathBuf,
    runs_dir: PathBuf,
}

/// An open run of the file store: its journal and the lock held for it
/// (or, after [`RunLog::release`], kept to take again).
#[derive(Debug)]
struct FileRun {
    id: String,
    journal: Journal,
    lock: File,
    lock_path: PathBuf,
    /// Whether this process holds the lock now (see [`RunLog::release`]).
    held: bool,
    /// The run's `.busy-<id>` marker, there while this process holds the
    /// lock (see the module doc).
    busy: PathBuf,
    /// The run's small blobs, waiting for the next record to carry them.
    carrier: Arc<Carrier>,
    /// The run's `kept` file, locked shared from the first time this
    /// process lets the run go while keeping it open (see [`KEPT_FILE`]).
    kept: Option<File>,
}

impl FileRun {
    /// Lock the run's `kept` file shared, once: from now on, until this
    /// process drops the run (or ends), nobody removes it.
    fn keep(&mut self) {
        if self.kept.is_some() {
            return;
        }
        let path = self.lock_path.with_file_name(KEPT_FILE);
        let kept = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|file| match file.try_lock_shared() {
                Ok(()) => Ok(file),
                Err(std::fs::TryLockError::WouldBlock) => {
                    Err(std::io::Error::other("locked by a removal"))
                }
                Err(std::fs::TryLockError::Error(e)) => Err(e),
            });
        match kept {
            Ok(file) => self.kept = Some(file),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot mark a run kept open; `host runs prune` could remove it while it is let go");
            }
        }
    }
}

/// The path of run `id`'s busy marker in `runs_dir`.
fn busy_marker(runs_dir: &Path, id: &str) -> PathBuf {
    runs_dir.join(format!("{BUSY_PREFIX}{id}"))
}

/// Mark a run busy, its lock (`lock_path`) just taken. The marker is a
/// second name of the lock file, a hard link: a new directory entry, no new
/// file (making a file costs far more here, see the README's figures). One
/// already there was left by a killed host, and is this process's now. A
/// marker that cannot be made (a full disk, say) costs only this: what a
/// kill leaves in the run is then removed when the run is next opened, not
/// by other commands.
fn mark_busy(busy: &Path, lock_path: &Path) {
    match std::fs::hard_link(lock_path, busy) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => {
            tracing::warn!(path = %busy.display(), %error, "cannot mark a run busy");
        }
    }
}

/// Remove a run's busy marker, its lock about to be let go.
fn unmark_busy(busy: &Path) {
    match std::fs::remove_file(busy) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %busy.display(), %error, "cannot remove a run's busy marker; a later command removes it");
        }
    }
}

impl FileRun {
    /// Bring the journal's head up to date before letting go of the run; a
    /// head that cannot be written lags, which readers accept.
    fn write_head(&mut self) {
        if let Err(error) = self.journal.write_head() {
            tracing::warn!(run = %self.id, %error, "cannot update the journal head; it lags behind the journal");
        }
    }
}

impl Drop for FileRun {
    fn drop(&mut self) {
        // Fields drop after this: a held lock is still held here. A run let
        // go (briefly, say, by a session whose last call was cancelled) is
        // taken for the head if nobody else has it; if someone does, they
        // write their own when they let go.
        if self.held || take_lock(&self.lock, &self.lock_path, &self.id).is_ok() {
            if !self.held {
                mark_busy(&self.busy, &self.lock_path);
            }
            self.write_head();
            // The lock goes with the file, after this.
            unmark_busy(&self.busy);
        }
    }
}

impl RunLog for FileRun {
    fn append(&mut self, events: Vec<Event>, durable: Durable) -> Result<Vec<Record>, RunError> {
        let carried = self.carrier.take();
        let appended = match durable {
            Durable::Now => self.journal.append_carrying(events, &carried),
            Durable::BeforeNextWrite => self.journal.append_carrying_behind(events, &carried),
            Durable::NowWithHead => self.journal.append_carrying_with_head(events, &carried),
            Durable::WithNext => self.journal.append_carrying_unsynced(events, &carried),
        };
        match appended {
            Ok(records) => {
                self.carrier.journal_is(self.journal.size());
                Ok(records)
            }
            Err(e) => {
                self.carrier.put_back(carried);
                Err(e.into())
            }
        }
    }

    fn settle(&mut self) -> Result<(), RunError> {
        self.journal.settle().map_err(RunError::from)
    }

    fn release(&mut self, briefly: bool) -> Result<(), RunError> {
        // Not let go of before what it recorded is durable (briefly: what
        // was recorded with the next waits for it), and a new run's folder
        // with it (see the module doc).
        if briefly {
            self.journal.settle_behind()?;
        } else {
            self.journal.settle()?;
        }
        self.keep();
        if !briefly {
            self.write_head();
        }
        unmark_busy(&self.busy);
        self.lock.unlock().map_err(|source| RunError::Io {
            path: self.lock_path.clone(),
            source,
        })?;
        self.held = false;
        Ok(())
    }

    fn bytes(&self) -> u64 {
        self.journal.size()
    }

    fn retake(&mut self) -> Result<Vec<Record>, RunError> {
        take_lock(&self.lock, &self.lock_path, &self.id)?;
        mark_busy(&self.busy, &self.lock_path);
        self.held = true;
        if self.journal.unchanged()? {
            return Ok(Vec::new());
        }
        // Another process appended (an approval, say), cut a torn tail or
        // swapped the file: verify the whole journal as `open` does, and
        // require it to extend the chain this process knows.
        let path = self.journal.path().to_path_buf();
        remove_head_tmp(&journal::head_tmp_path(&path));
        let known = self.journal.next_seq();
        let (journal, mut records) = Journal::open(&path)?;
        let extends = known == 0
            || records
                .get(known as usize - 1)
                .is_some_and(|r| r.hash == self.journal.head());
        if !extends {
            return Err(JournalError::Diverged {
                path,
                seq: known.saturating_sub(1),
            }
            .into());
        }
        self.journal = journal;
        self.carrier.journal_is(self.journal.size());
        Ok(records.split_off(known as usize))
    }
}

/// Take the run's exclusive lock, or say who has it.
fn take_lock(lock: &File, lock_path: &Path, id: &str) -> Result<(), RunError> {
    match lock.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(RunError::Busy { id: id.to_string() }),
        Err(std::fs::TryLockError::Error(source)) => Err(RunError::Io {
            path: lock_path.to_path_buf(),
            source,
        }),
    }
}

impl FileStore {
    /// The runs kept under `state_dir` (nothing is created until a run is).
    pub fn new(state_dir: &Path) -> FileStore {
        FileStore {
            state_dir: state_dir.to_path_buf(),
            runs_dir: state_dir.join("runs"),
        }
    }

    /// What killed hosts left in `runs/`, found in one listing (see the
    /// module doc): staging folders and removals cut short by dead
    /// processes, and the markers of idle runs, whose temporary files go
    /// before the marker does. Nothing is followed.
    fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.runs_dir) else {
            return;
        };
        let dead = |name: &str, prefix: &str| {
            leftovers::pid_after(name, prefix, true)
                .is_some_and(|pid| pid != std::process::id() && leftovers::process_is_dead(pid))
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| n.starts_with('.')) else {
                continue;
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if let Some(id) = name.strip_prefix(BUSY_PREFIX) {
                if kind.is_file() && is_valid_run_id(id) {
                    clean_if_idle(&self.runs_dir, id);
                }
            } else if kind.is_dir() && dead(name, STAGING_PREFIX) {
                // A run whose creation was cut short, never visible as a run.
                if let Err(error) = remove_staging(&path) {
                    tracing::warn!(path = %path.display(), %error, "cannot remove a run's staging folder");
                }
            } else if kind.is_dir() && dead(name, GONE_PREFIX) {
                // A whole run, renamed out of sight under its lock;
                // `remove_dir_all` follows no symlink.
                if let Err(error) = std::fs::remove_dir_all(&path) {
                    tracing::warn!(path = %path.display(), %error, "cannot finish removing a pruned run");
                }
            }
        }
    }

    /// Run `id`, its lock taken: marked busy (before any temporary file is
    /// written to it; a dead host's marker of it, if any, is now this
    /// process's) and returned opened.
    fn held(&self, id: &str, journal: Journal, lock: File, records: Vec<Record>) -> Opened {
        let dir = self.runs_dir.join(id);
        let lock_path = dir.join(LOCK_FILE);
        let busy = busy_marker(&self.runs_dir, id);
        mark_busy(&busy, &lock_path);
        let carrier = Carrier::new(journal.size());
        let blobs = Blobs::of_run(
            &dir.join(BLOBS_DIR),
            &dir.join(JOURNAL_FILE),
            Some(carrier.clone()),
        );
        Opened {
            log: Box::new(FileRun {
                id: id.to_string(),
                journal,
                lock,
                lock_path,
                held: true,
                busy,
                carrier,
                kept: None,
            }),
            records,
            blobs,
        }
    }

    /// The journal file of an existing run. A run folder without a journal
    /// file is reported as tampered ([`RunError::JournalMissing`]), not as
    /// an unknown run.
    fn journal_path(&self, id: &str) -> Result<PathBuf, RunError> {
        if !is_valid_run_id(id) {
            return Err(RunError::InvalidId { id: id.to_string() });
        }
        let dir = self.runs_dir.join(id);
        let path = dir.join(JOURNAL_FILE);
        let io = |source| RunError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => match FileKind::of(&meta) {
                None => Ok(path),
                Some(kind) => Err(RunError::JournalNotAFile {
                    id: id.to_string(),
                    path,
                    kind,
                }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::symlink_metadata(&dir) {
                    Ok(meta) if meta.is_dir() => Err(RunError::JournalMissing {
                        id: id.to_string(),
                        holds: folder_summary(&dir),
                        path,
                    }),
                    Ok(meta) => Err(RunError::NotARunFolder {
                        kind: FileKind::of(&meta).unwrap_or(FileKind::Other),
                        path: dir,
                    }),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(RunError::Unknown {
                        id: id.to_string(),
                        location: self.location(),
                    }),
                    Err(e) => Err(io(e)),
                }
            }
            // A run folder we may not look into (ENOTDIR: `runs/<id>` is a file).
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                let kind = std::fs::symlink_metadata(&dir)
                    .ok()
                    .and_then(|m| FileKind::of(&m))
                    .unwrap_or(FileKind::Other);
                Err(RunError::NotARunFolder { path: dir, kind })
            }
            Err(e) => Err(io(e)),
        }
    }
}

impl Store for FileStore {
    fn create(&self, id: &str, created: Event) -> Result<Opened, RunError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        std::fs::create_dir_all(&self.runs_dir).map_err(io(&self.runs_dir))?;
        self.sweep();
        let staging = self
            .runs_dir
            .join(format!("{STAGING_PREFIX}{}-{id}", std::process::id()));
        std::fs::create_dir(&staging).map_err(io(&staging))?;
        let dir = self.runs_dir.join(id);
        let built = (|| {
            let mut journal = Journal::create(&staging.join(JOURNAL_FILE))?;
            // Made now so that the job below makes its name durable with the
            // run's other files (see `Blobs`).
            std::fs::create_dir(staging.join(BLOBS_DIR)).map_err(io(&staging))?;
            // Written, not fsync'd: the job below makes the record and the
            // head durable behind the first plugin call. A run's journal has
            // a head from its first record on (a run without one is refused
            // as tampered).
            let record = journal
                .append_carrying_unsynced(vec![created], &[])?
                .remove(0);
            crate::timing::mark("  run: first record written");
            let head = journal.write_first_head()?;
            // Locked before it is visible: nobody else can take the run
            // between its creation and this process driving it.
            let staged_lock = staging.join(LOCK_FILE);
            let lock = File::create(&staged_lock).map_err(io(&staging))?;
            take_lock(&lock, &staged_lock, id)?;
            let journal_file = journal.file_handle()?;
            std::fs::rename(&staging, &dir).map_err(io(&dir))?;
            // Same files, new names: the handles stay good.
            journal.moved_to(dir.join(JOURNAL_FILE));
            journal.durable_behind(made_durable_behind(
                journal_file,
                head,
                &dir,
                &self.runs_dir,
            ));
            crate::timing::mark("  run: head written, folder in place, fsyncs started");
            Ok((journal, lock, record))
        })();
        let (journal, lock, record) = match built {
            Ok(built) => built,
            Err(e) => {
                // Best effort; what stays is removed by a later `create`
                // once this process has exited.
                if let Err(error) = remove_staging(&staging) {
                    tracing::warn!(path = %staging.display(), %error, "cannot remove a run's staging folder");
                }
                return Err(e);
            }
        };
        Ok(self.held(id, journal, lock, vec![record]))
    }

    fn open(&self, id: &str) -> Result<Opened, RunError> {
        let journal_path = self.journal_path(id)?;
        let dir = self.runs_dir.join(id);
        let lock = self.locked(id)?;
        // Under the lock, nobody else is writing this run: temporary files
        // of dead processes can go.
        self.sweep();
        remove_head_tmp(&journal::head_tmp_path(&journal_path));
        leftovers::remove_dead(&dir.join(BLOBS_DIR), crate::atomic_file::temp_owner).log();
        match Journal::open(&journal_path) {
            Ok((journal, records)) if !records.is_empty() => {
                Ok(self.held(id, journal, lock, records))
            }
            _ if cut_off_at_creation(&journal_path) => {
                Err(RunError::CutOffAtCreation { id: id.to_string() })
            }
            Ok((journal, records)) => Ok(self.held(id, journal, lock, records)),
            Err(e) => Err(e.into()),
        }
    }

    fn history(&self, id: &str, strict: bool) -> Result<History, RunError> {
        let path = self.journal_path(id)?;
        // A view of a run is the last command a finished run sees: what a
        // killed host left in it goes here.
        clean_if_idle(&self.runs_dir, id);
        let verified = if strict {
            journal::verify(&path)
        } else {
            journal::inspect(&path)
        };
        let verified = match verified {
            Ok(verified) if !verified.records.is_empty() => verified,
            _ if cut_off_at_creation(&path) => {
                return Err(RunError::CutOffAtCreation { id: id.to_string() });
            }
            other => other?,
        };
        Ok(History {
            warnings: verified.warnings(&path),
            records: verified.records,
        })
    }

    /// Ids of every run, oldest first (ids sort by creation time).
    fn ids(&self) -> Result<Vec<String>, RunError> {
        let entries = match std::fs::read_dir(&self.runs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(RunError::Io {
                    path: self.runs_dir.clone(),
                    source,
                });
            }
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| is_valid_run_id(name))
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn blobs(&self, id: &str) -> Result<Blobs, RunError> {
        let journal = self.journal_path(id)?;
        Ok(Blobs::of_run(
            &self.runs_dir.join(id).join(BLOBS_DIR),
            &journal,
            None,
        ))
    }

    fn remove(&self, id: &str, held: Box<dyn RunLog>) -> Result<u64, RunError> {
        self.journal_path(id)?;
        self.take_away(id, held)
    }

    fn remove_cut_off(&self, id: &str) -> Result<u64, RunError> {
        let journal = self.journal_path(id)?;
        let lock = self.locked(id)?;
        if !cut_off_at_creation(&journal) {
            return Err(crate::run::state::StateError {
                id: id.to_string(),
                reason: "it holds records: it was not cut off as it was created".into(),
            }
            .into());
        }
        self.take_away(id, lock)
    }

    fn remove_unreadable(&self, id: &str) -> Result<u64, RunError> {
        self.journal_path(id)?;
        let lock = self.locked(id)?;
        match self.history(id, true) {
            // A newer host's journal is not damaged: it is kept for that host.
            Err(e @ RunError::Journal(JournalError::NewerFormat { .. })) => Err(e),
            Err(
                RunError::Journal(_)
                | RunError::State(_)
                | RunError::JournalMissing { .. }
                | RunError::JournalNotAFile { .. },
            ) => self.take_away(id, lock),
            Err(e) => Err(e),
            Ok(_) => Err(crate::run::state::StateError {
                id: id.to_string(),
                reason:
                    "its history reads and verifies: it is not unreadable (prune it by its status)"
                        .into(),
            }
            .into()),
        }
    }

    fn location(&self) -> String {
        format!("`{}`", inert(&self.runs_dir.display().to_string()))
    }

    fn own_paths(&self) -> Vec<PathBuf> {
        vec![self.state_dir.clone()]
    }
}

impl FileStore {
    /// Run `id`'s lock file (made if missing), its exclusive lock taken.
    fn locked(&self, id: &str) -> Result<File, RunError> {
        let lock_path = self.runs_dir.join(id).join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| RunError::Io {
                path: lock_path.clone(),
                source,
            })?;
        take_lock(&lock, &lock_path, id)?;
        Ok(lock)
    }

    /// Take run `id`'s folder away whole (see the module doc), `held` (its
    /// lock) let go once it is out of sight: the bytes freed.
    fn take_away(&self, id: &str, held: impl Sized) -> Result<u64, RunError> {
        let dir = self.runs_dir.join(id);
        let bytes = folder_bytes(&dir);
        let gone = self
            .runs_dir
            .join(format!("{GONE_PREFIX}{}-{id}", std::process::id()));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        // A process that keeps the run open (an MCP session between two
        // calls) has let its lock go, not the run.
        if let Ok(kept) = File::open(dir.join(KEPT_FILE))
            && let Err(std::fs::TryLockError::WouldBlock) = kept.try_lock()
        {
            return Err(RunError::KeptOpen { id: id.to_string() });
        }
        // One rename takes the run out of sight whole; the deletion after it
        // may take a while or be cut short without a half run being visible.
        std::fs::rename(&dir, &gone).map_err(io(&dir))?;
        crate::atomic_file::sync_dir(&self.runs_dir).map_err(io(&self.runs_dir))?;
        drop(held);
        if let Err(error) = std::fs::remove_dir_all(&gone) {
            tracing::warn!(path = %gone.display(), %error, "cannot remove a pruned run's folder; a later run removes it");
        }
        Ok(bytes)
    }
}

/// The most a journal holding no whole record can be: a new run's first
/// record is a few hundred bytes.
const FIRST_RECORD_MAX: u64 = 64 * 1024;

/// Whether `journal` holds no whole record (empty, or a first line with no
/// end): a run cut off as it was created, by a power loss before its first
/// record reached the disk (see the module doc). Nothing was started or
/// decided in it.
fn cut_off_at_creation(journal: &Path) -> bool {
    use std::io::Read as _;
    let mut start = Vec::new();
    File::open(journal)
        .and_then(|file| file.take(FIRST_RECORD_MAX).read_to_end(&mut start))
        .is_ok_and(|read| (read as u64) < FIRST_RECORD_MAX && !start.contains(&b'\n'))
}

/// What is left in a run folder, for [`RunError::JournalMissing`]:
/// "blobs/ and journal.head", say.
fn folder_summary(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name() != LOCK_FILE && e.file_name() != KEPT_FILE)
                .map(|e| {
                    let name = inert(&e.file_name().to_string_lossy());
                    match e.file_type() {
                        Ok(t) if t.is_dir() => format!("{name}/"),
                        _ => name,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    match names.len() {
        0 => "nothing else".to_string(),
        1 => names.remove(0),
        _ => {
            let last = names.pop().unwrap_or_default();
            format!("{} and {last}", names.join(", "))
        }
    }
}

/// The bytes of the regular files under `dir` (symlinks are not followed).
fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match std::fs::symlink_metadata(e.path()) {
            Ok(meta) if meta.is_dir() => folder_bytes(&e.path()),
            Ok(meta) if meta.is_file() => meta.len(),
            _ => 0,
        })
        .sum()
}

/// Start the job that makes a new run durable (see the module doc): its
/// `head` and `journal` fsync'd, then its folder `dir` and `runs`, in which
/// it was just renamed.
fn made_durable_behind(journal: File, head: File, dir: &Path, runs: &Path) -> SyncBehind {
    let (dir, runs) = (dir.to_path_buf(), runs.to_path_buf());
    SyncBehind::run(move || {
        // The head first: a power loss between the two leaves a run with no
        // record (cut off as it was created), not a record with no head
        // (which reads as tampered).
        head.sync_data()?;
        journal.sync_data()?;
        File::open(&dir)?.sync_all()?;
        File::open(&runs)?.sync_all()
    })
}

/// Remove a run's staging folder: its regular files and its (empty)
/// `blobs/` folder, then the folder.
fn remove_staging(staging: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(staging) {
        Ok(entries) => entries,
        // Renamed into place before the failure.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let kind = std::fs::symlink_metadata(&path)?.file_type();
        if kind.is_file() {
            std::fs::remove_file(&path)?;
        } else if kind.is_dir() && path.file_name() == Some(BLOBS_DIR.as_ref()) {
            std::fs::remove_dir(&path)?;
        }
    }
    std::fs::remove_dir(staging)
}

/// If run `id` of `runs_dir` is marked busy or has a head's temporary file
/// while no process drives it (its lock is free), a killed host left it so:
/// remove the run's temporary files of dead processes, then the marker.
/// Two `stat`s when there is neither.
fn clean_if_idle(runs_dir: &Path, id: &str) {
    let dir = runs_dir.join(id);
    let busy = busy_marker(runs_dir, id);
    let tmp = journal::head_tmp_path(&dir.join(JOURNAL_FILE));
    let marked = std::fs::symlink_metadata(&busy).is_ok_and(|m| m.is_file());
    if !marked && std::fs::symlink_metadata(&tmp).is_err() {
        return;
    }
    let lock = match File::options().write(true).open(dir.join(LOCK_FILE)) {
        Ok(lock) => lock,
        // The run is gone (pruned): the marker leads nowhere.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && marked => {
            unmark_busy(&busy);
            return;
        }
        Err(_) => return,
    };
    if lock.try_lock().is_err() {
        return;
    }
    leftovers::remove_dead(&dir.join(BLOBS_DIR), crate::atomic_file::temp_owner).log();
    remove_head_tmp(&tmp);
    if marked {
        unmark_busy(&busy);
    }
}

/// Remove a head temporary file left by a killed host (only a regular file:
/// a symlink there was planted and is not followed or removed).
fn remove_head_tmp(tmp: &Path) {
    match std::fs::symlink_metadata(tmp) {
        Ok(meta) if meta.file_type().is_file() => match std::fs::remove_file(tmp) {
            Ok(()) => {
                tracing::info!(path = %tmp.display(), "removed a temporary file left by a killed host");
            }
            Err(error) => {
                tracing::warn!(path = %tmp.display(), %error, "cannot remove a temporary file left by a killed host");
            }
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::journal::JournalError;
    use crate::run::store::{Run, RunStore, tests::created};

    #[test]
    fn a_run_is_locked_while_open() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let run = store.create(created()).expect("create");
        let id = run.id().to_string();
        assert!(matches!(store.open(&id), Err(RunError::Busy { .. })));
        drop(run);
        let run = store.open(&id).expect("reopen after the lock is released");
        assert_eq!(run.state().workflow, "w");
        assert_eq!(store.ids().expect("ids"), vec![id]);
    }

    #[test]
    fn a_reader_beside_a_process_that_appends_and_moves_the_head_sees_a_whole_journal() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (_store, mut run, _id, journal) = new_run(tmp.path());
        // An MCP session: each call appends, then lets go (the head moves on).
        let writing = std::thread::spawn(move || {
            for n in 1..=150 {
                run.retake().expect("retake");
                run.record(call(n)).expect("record");
                run.release().expect("release");
            }
        });
        let mut reads = 0;
        while !writing.is_finished() {
            journal::verify(&journal).expect("verify beside the writer");
            journal::inspect(&journal).expect("inspect beside the writer");
            reads += 1;
        }
        writing.join().expect("writer");
        assert!(reads > 10, "read while the writer wrote: {reads}");
        assert_eq!(journal::read(&journal).expect("read").len(), 151);
    }

    #[test]
    fn a_run_kept_open_by_a_process_that_let_its_lock_go_is_not_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // A session between two calls: the lock is free, the run kept.
        let (store, keeper, id) = released_run(tmp.path());
        let opened = store.open(&id).expect("open: the lock is free");
        assert!(matches!(
            store.remove(opened),
            Err(RunError::KeptOpen { .. })
        ));
        let journal = tmp.path().join("runs").join(&id).join(JOURNAL_FILE);
        assert_eq!(journal::read(&journal).expect("still there").len(), 2);
        // Once the keeper is gone (dropped, or its process ended), it goes.
        drop(keeper);
        let opened = store.open(&id).expect("open");
        store.remove(opened).expect("removed");
        assert!(!tmp.path().join("runs").join(&id).exists());
    }

    #[test]
    fn a_decision_waits_for_a_run_held_for_a_moment_and_not_for_one_held_longer() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, mut run, id) = released_run(tmp.path());
        // Held for a moment (an MCP session writing a call's records).
        run.retake().expect("retake");
        let holder = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            run.record(call(2)).expect("c2");
            run.release().expect("release");
            run
        });
        let mut decider = store.open_patiently(&id).expect("waited for the holder");
        assert_eq!(
            decider.state().tool_calls,
            2,
            "opened after the holder's write"
        );
        decider.record(call(3)).expect("c3");
        drop(decider);
        let mut run = holder.join().expect("holder");

        // Held past the patience (a run another command drives): refused,
        // after the wait, with nothing written.
        run.retake().expect("retake");
        let started = std::time::Instant::now();
        assert!(matches!(
            store.open_patiently(&id),
            Err(RunError::Busy { .. })
        ));
        assert!(started.elapsed() >= crate::run::store::DECISION_PATIENCE);
        drop(run);
        let state = store.peek(&id).expect("peek");
        assert_eq!(state.tool_calls, 3);
    }

    #[test]
    fn a_new_run_s_fsyncs_run_behind_and_are_waited_for_before_a_durable_record() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let runs = tmp.path().join("runs");
        let store = FileStore::new(tmp.path());
        let id = crate::run::store::new_run_id();
        let mut opened = Store::create(&store, &id, created()).expect("create");
        // In place under its name when `create` returns; made durable
        // behind the caller, waited for by the first durable append.
        let journal_path = runs.join(&id).join(JOURNAL_FILE);
        assert!(journal_path.is_file());
        opened
            .log
            .append(vec![call(1)], Durable::BeforeNextWrite)
            .expect("append behind");
        opened
            .log
            .append(vec![call(2)], Durable::Now)
            .expect("durable append");
        drop(opened);
        assert_eq!(journal::read(&journal_path).expect("read").len(), 3);

        // A job behind that fails: reported by the first append that must
        // be durable, which writes nothing, and by every later one; what it
        // was to make durable, and what was appended behind it, is cut back.
        let (mut journal, _) = Journal::open(&journal_path).expect("open");
        let lock_path = runs.join(&id).join(LOCK_FILE);
        let lock = File::options().write(true).open(&lock_path).expect("lock");
        take_lock(&lock, &lock_path, &id).expect("take");
        let (reader, _writer) = std::io::pipe().expect("pipe");
        let failing =
            SyncBehind::start(&File::from(std::os::fd::OwnedFd::from(reader))).expect("start");
        journal.durable_behind(failing);
        let mut log = store.held(&id, journal, lock, Vec::new()).log;
        log.append(vec![call(3)], Durable::BeforeNextWrite)
            .expect("append behind");
        for _ in 0..2 {
            match log.append(vec![call(4)], Durable::Now) {
                Err(RunError::Journal(error)) => {
                    assert!(error.to_string().contains(&id), "names the run: {error}");
                }
                other => panic!("expected the job's error, got {other:?}"),
            }
        }
        drop(log);
        let calls: Vec<String> = journal::read(&journal_path)
            .expect("read")
            .iter()
            .filter_map(|r| match &r.event {
                Event::ToolCallRequested { call, .. } => Some(call.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(calls, ["c1", "c2"]);
    }

    #[test]
    fn a_closing_run_s_last_records_bring_the_head_and_letting_go_writes_none() {
        use crate::run::journal::{head_path, read_head};
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, mut run, id, journal) = new_run(tmp.path());
        run.record(call(1)).expect("record");
        assert_eq!(
            read_head(&journal).expect("head").expect("a head").seq,
            0,
            "an append leaves the head"
        );
        run.closing();
        // A deferred event goes in the same write, the head after both.
        run.record_deferred(call(2)).expect("deferred");
        run.record(call(3)).expect("record");
        let head = read_head(&journal).expect("head").expect("a head");
        assert_eq!(
            head.seq, 3,
            "the head is up to date before the run is let go"
        );
        use std::os::unix::fs::MetadataExt as _;
        let ino = std::fs::metadata(head_path(&journal)).expect("head").ino();
        run.release().expect("release");
        assert_eq!(
            std::fs::metadata(head_path(&journal)).expect("head").ino(),
            ino,
            "no second head write"
        );
        // Taken back, the run appends as before: closing ended with the release.
        run.retake().expect("retake");
        run.record(call(4)).expect("record");
        assert_eq!(read_head(&journal).expect("head").expect("a head").seq, 3);
        drop(run);
        assert_eq!(read_head(&journal).expect("head").expect("a head").seq, 4);
        assert_eq!(store.open(&id).expect("open").state().tool_calls, 4);
    }

    #[test]
    fn a_held_runs_small_blobs_ride_in_its_next_record_and_are_found_there_if_lost() {
        use crate::run::blobs::{BlobError, CARRY_MAX_BYTES};
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let mut run = store.create(created()).expect("create");
        let id = run.id().to_string();
        let dir = tmp.path().join("runs").join(&id);
        let small = run.blobs().put(b"a step's output").expect("put");
        let large_bytes = vec![b'x'; CARRY_MAX_BYTES + 1];
        let large = run.blobs().put(&large_bytes).expect("put");
        // Written as files at once (others may read them while the run
        // is driven), the small one carried by the next record.
        assert!(dir.join(BLOBS_DIR).join(&small).is_file());
        assert!(dir.join(BLOBS_DIR).join(&large).is_file());
        run.record(call(1)).expect("record");
        let journal = std::fs::read_to_string(dir.join(JOURNAL_FILE)).expect("journal");
        let last = journal.lines().last().expect("a record");
        assert!(last.contains(&format!("\"{small}\"")), "{last}");
        assert!(
            !journal.contains(&large),
            "a large blob is a durable file only"
        );
        drop(run);

        // A power cut before write-back leaves the file empty or absent:
        // the bytes come from the journal, through every handle.
        let blobs = store.blobs(&id).expect("blobs");
        let file = dir.join(BLOBS_DIR).join(&small);
        std::fs::write(&file, b"").expect("empty it");
        assert_eq!(
            blobs.get(&small).expect("from the journal"),
            b"a step's output"
        );
        std::fs::remove_file(&file).expect("remove it");
        assert_eq!(
            blobs.get(&small).expect("from the journal"),
            b"a step's output"
        );
        let reopened = store.open(&id).expect("open");
        assert_eq!(
            reopened.blobs().get(&small).expect("get"),
            b"a step's output"
        );
        drop(reopened);
        // Other bytes in the file are refused, as for any blob; so is a
        // lost blob no record carries.
        std::fs::write(&file, b"swapped").expect("tamper");
        assert!(matches!(blobs.get(&small), Err(BlobError::Tampered { .. })));
        std::fs::remove_file(dir.join(BLOBS_DIR).join(&large)).expect("remove");
        assert!(matches!(blobs.get(&large), Err(BlobError::Io { .. })));
        // And nothing is served from a journal that does not verify.
        std::fs::remove_file(&file).expect("remove");
        let journal_path = dir.join(JOURNAL_FILE);
        let text = std::fs::read_to_string(&journal_path).expect("journal");
        std::fs::write(&journal_path, text.replacen("\"seq\":1", "\"seq\":7", 1)).expect("edit");
        assert!(blobs.get(&small).is_err());
    }

    #[test]
    fn a_blob_put_without_holding_the_run_is_durable_and_not_carried() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let run = store.create(created()).expect("create");
        let id = run.id().to_string();
        drop(run);
        let sha = store.blobs(&id).expect("blobs").put(b"bytes").expect("put");
        let mut run = store.open(&id).expect("open");
        run.record(call(1)).expect("record");
        let journal = tmp.path().join("runs").join(&id).join(JOURNAL_FILE);
        assert!(
            !std::fs::read_to_string(journal)
                .expect("journal")
                .contains(&sha)
        );
    }

    #[test]
    fn a_created_run_is_held_from_the_start_and_appends_where_it_now_lives() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let mut run = store.create(created()).expect("create");
        let id = run.id().to_string();
        let runs = tmp.path().join("runs");
        // Held (lock and marker) without a second open; no staging left.
        assert!(matches!(store.open(&id), Err(RunError::Busy { .. })));
        assert!(busy_marker(&runs, &id).exists());
        let names: Vec<String> = std::fs::read_dir(&runs)
            .expect("runs")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(STAGING_PREFIX)),
            "{names:?}"
        );
        // The journal handle follows the rename: the record lands in the
        // run's folder, and the head follows it when the run is let go.
        run.record(call(1)).expect("record");
        drop(run);
        let journal = runs.join(&id).join(JOURNAL_FILE);
        assert_eq!(
            std::fs::read_to_string(&journal)
                .expect("journal")
                .lines()
                .count(),
            2
        );
        let head = journal::read_head(&journal).expect("head").expect("a head");
        assert_eq!(head.seq, 1);
        assert!(!busy_marker(&runs, &id).exists());
        assert_eq!(store.open(&id).expect("reopen").state().events, 2);
    }

    /// Hold the fsync worker until the returned sender sends (or drops):
    /// every job handed to it meanwhile waits.
    fn hold_the_worker() -> std::sync::mpsc::Sender<()> {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        SyncBehind::run(move || {
            let _ = wait.recv();
            Ok(())
        });
        go
    }

    /// The names in `runs`.
    fn names_in(runs: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(runs)
            .expect("runs")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_run_is_whole_in_place_at_once_and_durable_before_its_first_durable_record() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let runs = tmp.path().join("runs");
        let go = hold_the_worker();
        let mut run = store.create(created()).expect("create");
        let id = run.id().to_string();
        // In place while its fsyncs wait: whole (its first record and head
        // verify, so a kill now loses nothing), held by its creator, listed.
        let dir = runs.join(&id);
        assert_eq!(
            names_in(&runs),
            vec![format!("{BUSY_PREFIX}{id}"), id.clone()]
        );
        assert_eq!(
            journal::verify(&dir.join(JOURNAL_FILE))
                .expect("verify")
                .records
                .len(),
            1
        );
        assert_eq!(store.ids().expect("ids"), vec![id.clone()]);
        assert!(
            dir.join(BLOBS_DIR).is_dir(),
            "made with the run, fsync'd with it"
        );
        assert!(matches!(
            RunStore::new(tmp.path()).open(&id),
            Err(RunError::Busy { .. })
        ));
        // Appended to and given blobs meanwhile (a step's start and output).
        run.record_overlapped(call(1)).expect("a record behind");
        let sha = run.blobs().put(b"a step's output").expect("put");
        assert!(dir.join(BLOBS_DIR).join(&sha).is_file());
        // A record that must be durable waits for the job.
        let released = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let releasing = {
            let released = released.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(30));
                released.store(true, std::sync::atomic::Ordering::SeqCst);
                go.send(()).expect("go");
            })
        };
        run.record(call(2)).expect("durable");
        assert!(
            released.load(std::sync::atomic::Ordering::SeqCst),
            "the durable record waited for the new run's fsyncs"
        );
        releasing.join().expect("thread");
        drop(run);
        assert_eq!(store.open(&id).expect("reopen").state().events, 3);
    }

    #[test]
    fn a_new_run_whose_name_is_taken_says_so_and_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = FileStore::new(tmp.path());
        let runs = tmp.path().join("runs");
        let id = crate::run::store::new_run_id();
        // Something else has the run's name (a folder with a file in it:
        // the rename cannot replace it).
        std::fs::create_dir_all(runs.join(&id)).expect("squat");
        std::fs::write(runs.join(&id).join("theirs"), b"x").expect("squat");
        let error = Store::create(&store, &id, created()).expect_err("taken");
        let message = error.to_string();
        assert!(message.contains(&id), "names the run folder: {message}");
        // The squatter's folder is untouched; no staging, no marker left.
        assert_eq!(names_in(&runs), vec![id.clone()]);
        assert_eq!(names_in(&runs.join(&id)), vec!["theirs".to_string()]);
    }

    #[test]
    fn a_run_with_no_whole_record_is_cut_off_and_only_such_a_run_is_removed_as_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, run, id, journal) = new_run(tmp.path());
        drop(run);
        // A real run is not taken for one.
        assert!(store.remove_cut_off(&id).is_err());
        assert!(journal.is_file());
        // Its first record lost (the head is fsync'd first, so it may stay).
        for cut in [&b""[..], b"{\"seq\":0"] {
            std::fs::write(&journal, cut).expect("cut");
            for error in [
                store.open(&id).map(|_| ()),
                store.peek(&id).map(|_| ()),
                store.history(&id).map(|_| ()),
            ] {
                assert!(
                    matches!(error, Err(RunError::CutOffAtCreation { .. })),
                    "{error:?}"
                );
            }
        }
        // Held by another opener: not removed.
        let lock = File::open(journal.with_file_name(LOCK_FILE)).expect("lock");
        lock.try_lock().expect("take");
        assert!(matches!(
            store.remove_cut_off(&id),
            Err(RunError::Busy { .. })
        ));
        drop(lock);
        assert!(store.remove_cut_off(&id).expect("removed") > 0);
        assert!(!journal.parent().expect("folder").exists());
        assert!(store.ids().expect("ids").is_empty());
    }

    /// A run of `store` holding one blob, `bytes`, closed again: its id.
    fn run_with_blob(store: &RunStore, bytes: &[u8]) -> String {
        let run = store.create(created()).expect("create");
        run.blobs().put(bytes).expect("blob");
        run.id().to_string()
    }

    /// An id of the pid space nobody has any more: a thread's that ended.
    /// Not a child process's: a child holds copies of this process's
    /// descriptors (the run locks of tests running beside) until it execs,
    /// and a lock held that way reads as busy.
    fn dead_pid() -> u32 {
        // SAFETY: gettid has no preconditions.
        let tid = std::thread::spawn(|| unsafe { libc::gettid() } as u32)
            .join()
            .expect("thread");
        // Joined is not yet gone: wait until the kernel let go of the id.
        let proc = PathBuf::from(format!("/proc/{tid}"));
        for _ in 0..1000 {
            if !proc.exists() {
                return tid;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("thread {tid} still listed in /proc");
    }

    /// A new run in the state dir `state`: its store, the run, its id and
    /// its journal's path.
    fn new_run(state: &Path) -> (RunStore, Run, String, PathBuf) {
        let store = RunStore::new(state);
        let run = store.create(created()).expect("create");
        let id = run.id().to_string();
        let journal = state.join("runs").join(&id).join(JOURNAL_FILE);
        (store, run, id, journal)
    }

    fn call(n: u32) -> Event {
        Event::ToolCallRequested {
            call: format!("c{n}"),
            plugin: "p".into(),
            plugin_sha256: "0".repeat(64),
            arguments_sha256: "0".repeat(64),
            arguments: serde_json::Value::Null,
            via: "cli".into(),
        }
    }

    /// A store in `tmp` with a run that recorded `c1` and was let go.
    fn released_run(tmp: &Path) -> (RunStore, Run, String) {
        let store = RunStore::new(tmp);
        let mut run = store.create(created()).expect("create");
        let id = run.id().to_string();
        run.record(call(1)).expect("c1");
        run.release().expect("release");
        (store, run, id)
    }

    #[test]
    fn the_head_catches_up_when_the_run_is_let_go() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, mut run, id, journal) = new_run(tmp.path());
        let head_seq = || {
            journal::read_head(&journal)
                .expect("head")
                .expect("present")
                .seq
        };
        assert_eq!(head_seq(), 0, "a head from the first record on");
        run.record(call(1)).expect("c1");
        run.record(call(2)).expect("c2");
        assert_eq!(head_seq(), 0, "appends do not move the head");
        run.release().expect("release");
        assert_eq!(head_seq(), 2, "letting go brings it up to date");
        run.retake().expect("retake");
        run.record(call(3)).expect("c3");
        run.release_briefly().expect("release briefly");
        assert_eq!(head_seq(), 2, "a brief release leaves it lagging");
        run.retake().expect("retake");
        run.record(call(4)).expect("c4");
        drop(run);
        assert_eq!(head_seq(), 4, "so does the end of the command");
        // A run last let go briefly is brought up to date by the drop when
        // nobody else holds it.
        let mut run = store.open(&id).expect("open");
        run.record(call(5)).expect("c5");
        run.release_briefly().expect("release briefly");
        drop(run);
        assert_eq!(head_seq(), 5, "the drop took the free lock for the head");
        // A cut of the last record is now caught.
        let text = std::fs::read_to_string(&journal).expect("journal");
        let cut: Vec<&str> = text.lines().take(5).collect();
        std::fs::write(&journal, format!("{}\n", cut.join("\n"))).expect("cut");
        assert!(matches!(
            store.history(&id),
            Err(RunError::Journal(JournalError::Truncated { .. }))
        ));
    }

    #[test]
    fn a_released_run_is_taken_back_with_what_others_recorded() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, mut run, id) = released_run(tmp.path());
        assert!(
            matches!(run.record(call(2)), Err(RunError::Released { .. })),
            "a released run records nothing"
        );
        let marker = tmp.path().join("runs").join(format!(".busy-{id}"));
        assert!(!marker.exists(), "released: not marked busy");
        // Nobody wrote: taken back as it was.
        run.retake().expect("retake");
        assert!(marker.is_file(), "held again: marked");
        assert!(matches!(store.open(&id), Err(RunError::Busy { .. })));
        assert!(
            marker.is_file(),
            "a refused open leaves the holder's marker"
        );
        run.record(call(2)).expect("c2");
        run.release().expect("release");

        // Another process (here, another handle) records meanwhile.
        let mut other = store.open(&id).expect("open while released");
        assert_eq!(other.state().tool_calls, 2);
        other.record(call(3)).expect("c3");
        assert!(matches!(run.retake(), Err(RunError::Busy { .. })));
        drop(other);
        assert!(!marker.exists(), "the other let go: unmarked");
        run.retake().expect("retake after the other one");
        assert_eq!(run.state().tool_calls, 3, "the other's event is folded in");
        run.record(call(4)).expect("c4");
        run.release().expect("release");
        let history = store.history(&id).expect("verified history");
        assert_eq!(history.records.len(), 5, "created + c1..c4, one chain");
    }

    #[test]
    fn a_journal_rewritten_while_released_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (store, mut run, id) = released_run(tmp.path());
        // Someone cuts the journal back to `run_created` (head included)
        // and another history continues from there.
        let journal = tmp.path().join("runs").join(&id).join(JOURNAL_FILE);
        let first = journal::read(&journal).expect("read")[0].clone();
        let bytes = std::fs::read(&journal).expect("journal");
        let first_line = bytes.iter().position(|&b| b == b'\n').expect("a line") + 1;
        std::fs::write(&journal, &bytes[..first_line]).expect("cut");
        let head = journal::Head {
            seq: 0,
            hash: first.hash,
        };
        std::fs::write(
            journal::head_path(&journal),
            serde_json::to_vec(&head).expect("head"),
        )
        .expect("head");
        let mut other = store.open(&id).expect("open the cut journal");
        other.record(call(10)).expect("c10 where c1 was");
        drop(other);

        let e = run.retake().expect_err("diverged");
        assert!(
            matches!(e, RunError::Journal(JournalError::Diverged { seq: 1, .. })),
            "{e}"
        );
        assert!(e.to_string().contains("rewritten"), "{e}");
        let history = store.history(&id).expect("history");
        assert_eq!(history.records.len(), 2, "nothing was appended by `run`");
    }

    /// A removed run goes whole (journal, head, blobs, lock), only under
    /// its lock, and only its own folder; a removal a dead process cut
    /// short is finished by the next `open`.
    #[test]
    fn a_removed_run_goes_whole_and_alone() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let runs = tmp.path().join("runs");
        let keep_id = run_with_blob(&store, b"kept bytes");
        let id = run_with_blob(&store, b"staged bytes");
        let run = store.open(&id).expect("open");
        // Held by another opener: a second one cannot take it to remove it.
        assert!(matches!(store.open(&id), Err(RunError::Busy { .. })));
        let freed = store.remove(run).expect("remove");
        assert!(freed >= b"staged bytes".len() as u64, "{freed}");
        assert!(!runs.join(&id).exists());
        assert_eq!(store.ids().expect("ids"), vec![keep_id.clone()]);
        assert!(matches!(store.open(&id), Err(RunError::Unknown { .. })));
        let kept = store.open(&keep_id).expect("the other run");
        assert_eq!(
            kept.blobs()
                .get(&crate::digest::sha256_hex(b"kept bytes"))
                .expect("blob"),
            b"kept bytes"
        );
        drop(kept);
        let dead = dead_pid();
        let cut = runs.join(format!("{GONE_PREFIX}{dead}-{id}"));
        std::fs::create_dir_all(cut.join(BLOBS_DIR)).expect("cut short");
        std::fs::write(cut.join(BLOBS_DIR).join("x"), b"x").expect("blob");
        let live = runs.join(format!("{GONE_PREFIX}{}-{id}", std::process::id()));
        std::fs::create_dir(&live).expect("in progress");
        drop(store.open(&keep_id).expect("open"));
        assert!(!cut.exists(), "a dead process's removal is finished");
        assert!(live.exists(), "a live one's is its own");
    }

    #[test]
    fn a_run_without_its_journal_or_head_is_reported_as_tampered() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let runs = tmp.path().join("runs");
        let id = run_with_blob(&store, b"staged");
        let journal = runs.join(&id).join(JOURNAL_FILE);

        std::fs::remove_file(journal::head_path(&journal)).expect("rm head");
        let e = store.open(&id).expect_err("headless");
        assert!(
            matches!(e, RunError::Journal(JournalError::HeadMissing { .. })),
            "{e}"
        );
        let inspection = store.inspect(&id).expect("read-only view");
        assert_eq!(inspection.state.workflow, "w");
        assert_eq!(inspection.warnings.len(), 1, "{:?}", inspection.warnings);
        assert!(inspection.warnings[0].contains("journal.head"));

        std::fs::rename(&journal, tmp.path().join("elsewhere")).expect("mv journal");
        std::fs::write(journal::head_path(&journal), b"{}").expect("head");
        let e = store.open(&id).expect_err("no journal");
        assert!(matches!(e, RunError::JournalMissing { .. }), "{e}");
        let message = e.to_string();
        assert!(
            message.contains("blobs/ and journal.head") && message.contains("tampered"),
            "{message}"
        );
        std::fs::create_dir(&journal).expect("journal as a folder");
        let e = store.peek(&id).expect_err("a folder");
        assert!(
            matches!(
                e,
                RunError::JournalNotAFile {
                    kind: FileKind::Directory,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn leftovers_of_dead_processes_are_removed_and_live_ones_kept() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let runs = tmp.path().join("runs");
        let id = run_with_blob(&store, b"staged");
        let dir = runs.join(&id);
        let dead = dead_pid();
        let me = std::process::id();
        let blobs = dir.join(BLOBS_DIR);
        std::fs::write(blobs.join(format!(".tmp-{dead}-1-0")), b"x").expect("tmp");
        std::fs::write(blobs.join(format!(".tmp-{me}-1-0")), b"x").expect("tmp");
        let head_tmp = journal::head_tmp_path(&dir.join(JOURNAL_FILE));
        std::fs::write(&head_tmp, b"{").expect("head tmp");
        let staging = runs.join(format!(".new-{dead}-{id}"));
        std::fs::create_dir(&staging).expect("staging");
        std::fs::write(staging.join(JOURNAL_FILE), b"{").expect("staging journal");
        std::fs::create_dir(staging.join(BLOBS_DIR)).expect("staging blobs");
        let live_staging = runs.join(format!(".new-{me}-{id}"));
        std::fs::create_dir(&live_staging).expect("staging");

        drop(store.open(&id).expect("open"));
        assert!(!blobs.join(format!(".tmp-{dead}-1-0")).exists());
        assert!(blobs.join(format!(".tmp-{me}-1-0")).exists());
        assert!(!head_tmp.exists());
        assert!(!staging.exists(), "the dead process's staging folder went");
        assert!(live_staging.exists());
        // A run nobody resumes loses them at the next `create`: the killed
        // host left its busy marker with the lock free, which leads there.
        std::fs::write(blobs.join(format!(".tmp-{dead}-2-0")), b"x").expect("tmp");
        std::fs::write(&head_tmp, b"{").expect("head tmp");
        let marker = runs.join(format!(".busy-{id}"));
        std::fs::write(&marker, b"").expect("marker");
        let other = store.create(created()).expect("create");
        assert!(live_staging.exists());
        assert!(!blobs.join(format!(".tmp-{dead}-2-0")).exists());
        assert!(!head_tmp.exists());
        assert!(blobs.join(format!(".tmp-{me}-1-0")).exists());
        assert!(!marker.exists(), "swept once its run was cleaned");
        // A run whose lock is held is marked busy, and is not swept: its
        // holder may be writing.
        let other_id = other.id().to_string();
        let held_marker = runs.join(format!(".busy-{other_id}"));
        assert!(held_marker.is_file());
        {
            use std::os::unix::fs::MetadataExt as _;
            let ino = |p: &Path| std::fs::metadata(p).expect("stat").ino();
            let lock = runs.join(&other_id).join(LOCK_FILE);
            assert_eq!(ino(&held_marker), ino(&lock), "a second name, no new file");
        }
        std::fs::write(&head_tmp, b"{").expect("head tmp");
        std::fs::write(&marker, b"").expect("marker");
        let held_head_tmp = journal::head_tmp_path(&runs.join(&other_id).join(JOURNAL_FILE));
        std::fs::write(&held_head_tmp, b"{").expect("head tmp");
        let third = store.create(created()).expect("create");
        let third_id = third.id().to_string();
        assert!(
            held_head_tmp.exists() && held_marker.is_file(),
            "held: left alone"
        );
        assert!(!head_tmp.exists() && !marker.exists(), "idle: cleaned");
        drop(other);
        assert!(!held_marker.exists(), "let go: unmarked");
        std::fs::remove_file(&held_head_tmp).expect("rm");
        // A view of an idle marked run cleans it; so does a marker whose
        // run is gone, or that names no run.
        std::fs::write(&head_tmp, b"{").expect("head tmp");
        std::fs::write(&marker, b"").expect("marker");
        store.inspect(&id).expect("view");
        assert!(!head_tmp.exists() && !marker.exists(), "cleaned by a view");
        let gone = runs.join(".busy-r20990101-000000-abcdef");
        std::fs::write(&gone, b"").expect("marker");
        let odd = runs.join(".busy-not-a-run");
        std::fs::write(&odd, b"").expect("marker");
        let folder = runs.join(format!(".busy-{id}x"));
        std::fs::create_dir(&folder).expect("folder");
        drop(store.open(&other_id).expect("open"));
        assert!(!gone.exists(), "its run is gone: removed");
        assert!(
            odd.exists() && folder.is_dir(),
            "not the host's: left alone"
        );
        drop(third);
        let mut ids = store.ids().expect("ids");
        ids.sort();
        let mut want = vec![id, other_id, third_id];
        want.sort();
        assert_eq!(ids, want);
    }
}
