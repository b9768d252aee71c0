//! Where runs live: `<state-dir>/runs/<id>/` holding `journal.jsonl`, the
//! `blobs/` of step outputs and staged writes, and a `lock` file.
//!
//! A run is created atomically (built in a temporary folder, then renamed into
//! place) and opened under an exclusive lock, so two host processes can never
//! drive the same run at once: the second one is told who holds it.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::run::blobs::{BlobError, Blobs};
use crate::run::event::Event;
use crate::run::journal::{self, Journal, JournalError};
use crate::run::state::{RunState, StateError};

const JOURNAL_FILE: &str = "journal.jsonl";
const LOCK_FILE: &str = "lock";
const BLOBS_DIR: &str = "blobs";

/// The runs of one state directory.
#[derive(Debug, Clone)]
pub struct RunStore {
    runs_dir: PathBuf,
}

/// Why a run could not be created, opened or recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "no run `{id}` in `{runs_dir}`\nhint: `host runs` lists the runs of this state directory (see --state-dir)"
    )]
    Unknown { id: String, runs_dir: PathBuf },
    #[error(
        "`{id}` is not a run id\nhint: run ids look like r20261123-104501-1a2b3c; `host runs` lists them"
    )]
    InvalidId { id: String },
    #[error(
        "run `{id}` is busy: another host process holds its lock\nhint: wait for the other command to finish, then try again"
    )]
    Busy { id: String },
    #[error("cannot access the run folder `{path}`")]
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
    pub fn create(&self, created: Event) -> Result<Run, RunError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        std::fs::create_dir_all(&self.runs_dir).map_err(io(&self.runs_dir))?;
        let id = new_run_id();
        let staging = self.runs_dir.join(format!(".new-{id}"));
        std::fs::create_dir(&staging).map_err(io(&staging))?;
        let mut journal = Journal::create(&staging.join(JOURNAL_FILE))?;
        journal.append(created)?;
        drop(journal);
        File::create(staging.join(LOCK_FILE)).map_err(io(&staging))?;
        let dir = self.runs_dir.join(&id);
        std::fs::rename(&staging, &dir).map_err(io(&dir))?;
        crate::atomic_file::sync_dir(&self.runs_dir).map_err(io(&self.runs_dir))?;
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

    /// The journal file of an existing run.
    pub fn journal_path(&self, id: &str) -> Result<PathBuf, RunError> {
        if !is_valid_run_id(id) {
            return Err(RunError::InvalidId { id: id.to_string() });
        }
        let path = self.runs_dir.join(id).join(JOURNAL_FILE);
        if !path.is_file() {
            return Err(RunError::Unknown {
                id: id.to_string(),
                runs_dir: self.runs_dir.clone(),
            });
        }
        Ok(path)
    }

    /// Read a run's state without locking it (for listings).
    pub fn peek(&self, id: &str) -> Result<RunState, RunError> {
        let records = journal::read(&self.journal_path(id)?)?;
        Ok(RunState::from_records(id, &records)?)
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
            workflow: "w".into(),
            workflow_digest: "d".into(),
            plugins_dir: None,
            workflow_path: None,
            params: serde_json::json!({"topic": "t"}),
            workspace: PathBuf::from("/ws"),
            out_dir: PathBuf::from("/ws"),
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
