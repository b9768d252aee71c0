//! An fsync that runs on while its caller goes on: [`SyncBehind::start`]
//! hands a file's data fsync to one worker thread of the process and
//! returns at once; [`SyncBehind::wait`] blocks until it is done and says
//! how it went.
//!
//! The journal uses it for the record written just before a plugin call
//! ([`crate::run::journal::Journal::append_carrying_behind`]): the record is in the
//! file (a killed process cannot lose it) when the call starts, and durable
//! against a power loss a moment later, while the plugin runs on the other
//! core, instead of the call waiting for the disk. Whoever acts on the
//! record outside the process waits first: the journal waits before its
//! next append, before writing its head and when it is dropped. The file
//! store uses it for the fsync of `runs/` once a new run's folder is renamed
//! into place ([`SyncBehind::start_folder`]), waited for before the run's
//! first durable record.
//!
//! The worker is started on first use and lives as long as the process; it
//! syncs one file at a time, in the order they were handed over. If it
//! cannot be started, the fsync is done on the caller's thread.

use std::fs::File;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// An fsync handed to the worker (see the module doc).
#[derive(Debug)]
pub struct SyncBehind {
    done: Arc<Done>,
}

/// Where the worker puts an fsync's result.
#[derive(Debug, Default)]
struct Done {
    result: Mutex<Option<std::io::Result<()>>>,
    ready: Condvar,
}

impl Done {
    fn set(&self, result: std::io::Result<()>) {
        let mut slot = self.result.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(result);
        self.ready.notify_all();
    }
}

/// One fsync for the worker: the file (a second handle, so the caller
/// keeps its own), whether all of it (`fsync`, a folder's entries) or its
/// data (`fdatasync`), and where to report.
type Job = (File, Whole, Arc<Done>);

/// Whether a job syncs the whole file (metadata included) or its data.
#[derive(Debug, Clone, Copy)]
enum Whole {
    Data,
    All,
}

/// Sync `file` as `whole` says.
fn sync(file: &File, whole: Whole) -> std::io::Result<()> {
    match whole {
        Whole::Data => file.sync_data(),
        Whole::All => file.sync_all(),
    }
}

impl SyncBehind {
    /// Start `fdatasync` of `file`'s data on the worker. An error here (no
    /// second handle to be had) means nothing was started.
    pub fn start(file: &File) -> std::io::Result<SyncBehind> {
        Ok(Self::hand_over(file.try_clone()?, Whole::Data))
    }

    /// Start `fsync` of the folder at `dir` (its entries: a file renamed
    /// into it) on the worker, after the fsyncs handed over before it. An
    /// error here (the folder cannot be opened) means nothing was started.
    pub fn start_folder(dir: &std::path::Path) -> std::io::Result<SyncBehind> {
        Ok(Self::hand_over(File::open(dir)?, Whole::All))
    }

    fn hand_over(handle: File, whole: Whole) -> SyncBehind {
        let done = Arc::new(Done::default());
        match worker() {
            Some(worker) => {
                let sender = worker.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(returned) = sender.send((handle, whole, done.clone())) {
                    // The worker is gone (it never is while the process
                    // lives): sync here instead.
                    let (handle, whole, _) = returned.0;
                    done.set(sync(&handle, whole));
                }
            }
            None => done.set(sync(&handle, whole)),
        }
        SyncBehind { done }
    }

    /// Block until the fsync is done; its result.
    pub fn wait(self) -> std::io::Result<()> {
        let mut slot = self.done.result.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(result) = slot.take() {
                return result;
            }
            slot = self
                .done
                .ready
                .wait(slot)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The worker's queue, or `None` if no thread could be started.
fn worker() -> Option<&'static Mutex<Sender<Job>>> {
    static WORKER: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (sender, jobs) = channel::<Job>();
            let started = std::thread::Builder::new()
                .name("journal-sync".into())
                // It only calls fsync and fdatasync: a small stack does.
                .stack_size(64 * 1024)
                .spawn(move || {
                    for (file, whole, done) in jobs {
                        done.set(sync(&file, whole));
                    }
                });
            match started {
                Ok(_) => Some(Mutex::new(sender)),
                Err(error) => {
                    tracing::warn!(%error, "cannot start the journal's fsync thread; fsyncs wait on the caller's thread");
                    None
                }
            }
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_started_sync_reports_success_and_the_caller_keeps_its_handle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut file = File::create(dir.path().join("f")).expect("create");
        file.write_all(b"one\n").expect("write");
        let pending = SyncBehind::start(&file).expect("start");
        // The caller's handle is its own: it writes on meanwhile.
        file.write_all(b"two\n").expect("write");
        pending.wait().expect("synced");
        SyncBehind::start(&file)
            .expect("start")
            .wait()
            .expect("synced");
        assert_eq!(
            std::fs::read(dir.path().join("f")).expect("read"),
            b"one\ntwo\n"
        );
    }

    #[test]
    fn a_folder_s_sync_reports_success_and_a_missing_folder_starts_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("f"), b"x").expect("write");
        SyncBehind::start_folder(dir.path())
            .expect("start")
            .wait()
            .expect("synced");
        let missing = SyncBehind::start_folder(&dir.path().join("gone"));
        assert!(missing.is_err(), "{missing:?}");
    }

    #[test]
    fn a_failed_sync_is_reported_to_the_waiter() {
        // fdatasync of a pipe fails (EINVAL): the worker reports it, not
        // swallows it.
        let (reader, _writer) = std::io::pipe().expect("pipe");
        let file = File::from(std::os::fd::OwnedFd::from(reader));
        let result = SyncBehind::start(&file).expect("start").wait();
        assert!(result.is_err(), "{result:?}");
    }
}
