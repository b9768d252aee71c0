//! Where runs live: `<state-dir>/runs/<id>/` holding `journal.jsonl`, the
//! `blobs/` of step outputs and staged writes, and a `lock` file.
//!
//! A run is created atomically (built in a staging folder `.new-<pid>-<id>`,
//! then renamed into place) and opened under an exclusive lock, so two host
//! processes can never drive the same run at once: the second one is told
//! who holds it.
//!
//! **Integrity on open.** [`RunStore::open`] (driving or deciding a run:
//! `run`, `resume`, `approve`, `reject`) refuses a journal that does not
//! verify, including one with records but no `journal.head`
//! ([`journal::read`]). Read-only views use [`RunStore::inspect`], which
//! shows such a run with [`Inspection::warnings`] (a missing or unreadable
//! head, an unacknowledged torn tail) instead of refusing it;
//! [`RunStore::peek`] is its state alone, for listings. A run folder whose
//! journal is gone or is not a file is reported as tampered, not as unknown.
//!
//! **Leftovers of a killed host.** [`RunStore::create`] and
//! [`RunStore::open`] remove the staging folders of dead processes; `open`,
//! once it holds the lock, also removes the run's `journal.head.tmp` and the
//! `blobs/.tmp-<pid>-…` files of dead processes ([`crate::leftovers`]);
//! `create` does the same for every other run (a head's temporary file only
//! when that run's lock is free), so a run that is never resumed does not
//! keep them either.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::bounded_read::FileKind;
use crate::leftovers;
use crate::render::inert;
use crate::run::blobs::{BlobError, Blobs};
use crate::run::event::Event;
use crate::run::journal::{self, Journal, JournalError};
use crate::run::state::{RunState, StateError};

const JOURNAL_FILE: &str = "journal.jsonl";
const LOCK_FILE: &str = "lock";
const BLOBS_DIR: &str = "blobs";
/// Prefix of a run's staging folder: `.new-<pid>-<id>`.
const STAGING_PREFIX: &str = ".new-";

/// The runs of one state directory.
#[derive(Debug, Clone)]
pub struct RunStore {
    runs_dir: PathBuf,
}

/// Why a run could not be created, opened or recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "no run `{id}` in `{}`\nhint: `host runs` lists the runs of this state directory (see --state-dir)",
        shown(.runs_dir)
    )]
    Unknown { id: String, runs_dir: PathBuf },
    #[error(
        "run `{id}` exists but its journal `{}` is missing (the folder still holds {holds}): the run was tampered with\nhint: a run's state is its journal; restore `journal.jsonl` from a copy you trust, or start a new run",
        shown(.path)
    )]
    JournalMissing {
        id: String,
        path: PathBuf,
        /// What is left in the run folder, for the message.
        holds: String,
    },
    #[error(
        "run `{id}` exists but its journal `{}` is {kind}, not a file: the run was tampered with\nhint: a run's state is its journal; restore `journal.jsonl` from a copy you trust, or start a new run",
        shown(.path)
    )]
    JournalNotAFile {
        id: String,
        path: PathBuf,
        kind: FileKind,
    },
    #[error(
        "`{}` is {kind}, not a run folder\nhint: the host makes run folders itself; remove it, or start a new run",
        shown(.path)
    )]
    NotARunFolder { path: PathBuf, kind: FileKind },
    #[error(
        "`{}` is not a run id\nhint: run ids look like r20261123-104501-1a2b3c; `host runs` lists them",
        crate::render::inert(id)
    )]
    InvalidId { id: String },
    #[error(
        "run `{id}` is busy: another host process holds its lock\nhint: wait for the other command to finish, then try again"
    )]
    Busy { id: String },
    #[error(
        "cannot access the run folder `{}`\nhint: the state directory must be writable to create, resume, approve or reject a run (is it on a full or read-only file system?)",
        shown(.path)
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    State(#[from] StateError),
}

fn shown(path: &Path) -> String {
    inert(&path.display().to_string())
}

/// A run as a read-only view sees it.
#[derive(Debug)]
pub struct Inspection {
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
    dir: PathBuf,
    journal: Journal,
    state: RunState,
    blobs: Blobs,
    _lock: File,
}

impl Run {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state(&self) -> &RunState {
        &self.state
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Append an event to the journal (durably) and fold it into the state.
    pub fn record(&mut self, event: Event) -> Result<(), RunError> {
        let record = self.journal.append(event)?;
        self.state
            .apply(&record)
            .map_err(|reason| StateError {
                id: self.id.clone(),
                reason,
            })
            .map_err(RunError::from)
    }
}

impl RunStore {
    pub fn new(state_dir: &Path) -> RunStore {
        RunStore {
            runs_dir: state_dir.join("runs"),
        }
    }

    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    /// Create a run whose journal starts with `created` (a `run_created` event).
    /// Staging folders left by dead host processes are removed first.
    pub fn create(&self, created: Event) -> Result<Run, RunError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        std::fs::create_dir_all(&self.runs_dir).map_err(io(&self.runs_dir))?;
        self.remove_dead_staging();
        self.remove_leftovers_of_idle_runs();
        let id = new_run_id();
        let staging = self
            .runs_dir
            .join(format!("{STAGING_PREFIX}{}-{id}", std::process::id()));
        std::fs::create_dir(&staging).map_err(io(&staging))?;
        let built = (|| {
            let journal_path = staging.join(JOURNAL_FILE);
            let mut journal = Journal::create(&journal_path)?;
            journal.append(created)?;
            // A run's journal has a head from its first record on (a run
            // without one is refused as tampered), so this one must land.
            if let Some(source) = journal.take_head_error() {
                return Err(RunError::Io {
                    path: journal::head_path(&journal_path),
                    source,
                });
            }
            drop(journal);
            File::create(staging.join(LOCK_FILE)).map_err(io(&staging))?;
            let dir = self.runs_dir.join(&id);
            std::fs::rename(&staging, &dir).map_err(io(&dir))?;
            crate::atomic_file::sync_dir(&self.runs_dir).map_err(io(&self.runs_dir))
        })();
        if let Err(e) = built {
            // Best effort; what stays is removed by a later `create` once
            // this process has exited.
            if let Err(error) = remove_staging(&staging) {
                tracing::warn!(path = %staging.display(), %error, "cannot remove a run's staging folder");
            }
            return Err(e);
        }
        self.open(&id)
    }

    /// Open an existing run, taking its lock.
    pub fn open(&self, id: &str) -> Result<Run, RunError> {
        let journal_path = self.journal_path(id)?;
        let dir = self.runs_dir.join(id);
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| RunError::Io {
                path: lock_path.clone(),
                source,
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(RunError::Busy { id: id.to_string() });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(RunError::Io {
                    path: lock_path,
                    source,
                });
            }
        }
        // Under the lock, nobody else is writing this run: temporary files
        // of dead processes can go.
        self.remove_dead_staging();
        remove_head_tmp(&journal::head_tmp_path(&journal_path));
        leftovers::remove_dead(&dir.join(BLOBS_DIR), crate::atomic_file::temp_owner).log();
        let (journal, records) = Journal::open(&journal_path)?;
        let state = RunState::from_records(id, &records)?;
        Ok(Run {
            id: id.to_string(),
            blobs: Blobs::new(&dir.join(BLOBS_DIR)),
            dir,
            journal,
            state,
            _lock: lock,
        })
    }

    /// The temporary files a killed host left in the other runs: blobs of
    /// dead processes, and a `journal.head.tmp` when the run's lock is free
    /// (no process drives it). One `read_dir` of `blobs/` and one `stat`
    /// per run (measured here: 17-23 ms for 1000 runs of 20 blobs, debug build).
    fn remove_leftovers_of_idle_runs(&self) {
        let Ok(ids) = self.ids() else {
            return;
        };
        for id in ids {
            let dir = self.runs_dir.join(&id);
            leftovers::remove_dead(&dir.join(BLOBS_DIR), crate::atomic_file::temp_owner).log();
            let tmp = journal::head_tmp_path(&dir.join(JOURNAL_FILE));
            if std::fs::symlink_metadata(&tmp).is_err() {
                continue;
            }
            let Ok(lock) = File::options().write(true).open(dir.join(LOCK_FILE)) else {
                continue;
            };
            if lock.try_lock().is_ok() {
                remove_head_tmp(&tmp);
            }
        }
    }

    /// Remove the staging folders (`.new-<pid>-<id>`) of dead processes:
    /// runs whose creation was cut short, never visible as runs.
    fn remove_dead_staging(&self) {
        leftovers::remove_dead(&self.runs_dir, |name| {
            leftovers::pid_after(name, STAGING_PREFIX, true)
        })
        .log();
    }

    /// The journal file of an existing run. A run folder without a journal
    /// file is reported as tampered ([`RunError::JournalMissing`]), not as
    /// an unknown run.
    pub fn journal_path(&self, id: &str) -> Result<PathBuf, RunError> {
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
                        runs_dir: self.runs_dir.clone(),
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

    /// Read a run's state without locking it (for listings); see [`RunStore::inspect`].
    pub fn peek(&self, id: &str) -> Result<RunState, RunError> {
        self.inspect(id).map(|i| i.state)
    }

    /// Read a run's state without locking it, for read-only views: a run
    /// whose head is missing or unreadable is shown with a warning rather
    /// than refused (opening it with [`RunStore::open`] refuses).
    pub fn inspect(&self, id: &str) -> Result<Inspection, RunError> {
        let path = self.journal_path(id)?;
        let verified = journal::inspect(&path)?;
        let warnings = verified.warnings(&path);
        Ok(Inspection {
            state: RunState::from_records(id, &verified.records)?,
            warnings,
        })
    }

    /// Ids of every run, oldest first (ids sort by creation time).
    pub fn ids(&self) -> Result<Vec<String>, RunError> {
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
}

/// What is left in a run folder, for [`RunError::JournalMissing`]:
/// "blobs/ and journal.head", say.
fn folder_summary(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name() != LOCK_FILE)
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

/// Remove a run's staging folder: its regular files, then the folder.
fn remove_staging(staging: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(staging) {
        Ok(entries) => entries,
        // Renamed into place before the failure.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if std::fs::symlink_metadata(&path)?.file_type().is_file() {
            std::fs::remove_file(&path)?;
        }
    }
    std::fs::remove_dir(staging)
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

/// `r<YYYYMMDD>-<HHMMSS>-<6 hex>`: sortable by time, unique enough per second.
fn new_run_id() -> String {
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
mod tests {
    use super::*;

    fn created() -> Event {
        Event::RunCreated {
            format: crate::run::event::JOURNAL_FORMAT,
            workflow: "w".into(),
            workflow_digest: "d".into(),
            plugins_dir: None,
            workflow_path: None,
            params: serde_json::json!({"topic": "t"}),
            workspace: PathBuf::from("/ws"),
            out_dir: PathBuf::from("/ws"),
            out_dir_id: None,
            protected: Vec::new(),
            plugins: Vec::new(),
            grants: Vec::new(),
        }
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
    fn a_run_without_its_journal_or_head_is_reported_as_tampered() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RunStore::new(tmp.path());
        let run = store.create(created()).expect("create");
        run.blobs().put(b"staged").expect("blob");
        let id = run.id().to_string();
        let journal = run.dir().join(JOURNAL_FILE);
        drop(run);

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
        let run = store.create(created()).expect("create");
        run.blobs().put(b"staged").expect("blob");
        let id = run.id().to_string();
        let dir = run.dir().to_path_buf();
        drop(run);
        let dead = {
            let mut child = std::process::Command::new("true").spawn().expect("spawn");
            let pid = child.id();
            child.wait().expect("wait");
            pid
        };
        let me = std::process::id();
        let blobs = dir.join(BLOBS_DIR);
        std::fs::write(blobs.join(format!(".tmp-{dead}-1-0")), b"x").expect("tmp");
        std::fs::write(blobs.join(format!(".tmp-{me}-1-0")), b"x").expect("tmp");
        let head_tmp = journal::head_tmp_path(&dir.join(JOURNAL_FILE));
        std::fs::write(&head_tmp, b"{").expect("head tmp");
        let staging = store.runs_dir().join(format!(".new-{dead}-{id}"));
        std::fs::create_dir(&staging).expect("staging");
        std::fs::write(staging.join(JOURNAL_FILE), b"{").expect("staging journal");
        let live_staging = store.runs_dir().join(format!(".new-{me}-{id}"));
        std::fs::create_dir(&live_staging).expect("staging");

        drop(store.open(&id).expect("open"));
        assert!(!blobs.join(format!(".tmp-{dead}-1-0")).exists());
        assert!(blobs.join(format!(".tmp-{me}-1-0")).exists());
        assert!(!head_tmp.exists());
        assert!(!staging.exists(), "the dead process's staging folder went");
        assert!(live_staging.exists());
        // A run nobody resumes loses them at the next `create`.
        std::fs::write(blobs.join(format!(".tmp-{dead}-2-0")), b"x").expect("tmp");
        std::fs::write(&head_tmp, b"{").expect("head tmp");
        let other = store.create(created()).expect("create");
        assert!(live_staging.exists());
        assert!(!blobs.join(format!(".tmp-{dead}-2-0")).exists());
        assert!(!head_tmp.exists());
        assert!(blobs.join(format!(".tmp-{me}-1-0")).exists());
        let mut ids = store.ids().expect("ids");
        ids.sort();
        let mut want = vec![id, other.id().to_string()];
        want.sort();
        assert_eq!(ids, want);
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
}
