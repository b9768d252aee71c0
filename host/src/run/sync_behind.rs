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
//! next durable append, before writing its head and when it is dropped.
//! The file store hands it a whole job ([`SyncBehind::run`]): a new run's
//! first record, its head, its folder and `runs/` fsync'd, behind the run's
//! first plugin call, waited for as the journal's own fsyncs are.
//!
//! The worker is started on first use and lives as long as the process; it
//! does one job at a time, in the order they were handed over. If it
//! cannot be started, the job is done on the caller's thread.

use std::fs::File;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// An fsync (or a job) handed to the worker (see the module doc).
#[derive(Debug)]
pub struct SyncBehind {
    done: Arc<Done>,
}

/// Where the worker puts a job's result.
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

/// What the worker does: an fsync, or a job of the file store's.
type Work = Box<dyn FnOnce() -> std::io::Result<()> + Send>;

/// One job for the worker, and where to report.
type Job = (Work, Arc<Done>);

impl SyncBehind {
    /// Start `fdatasync` of `file`'s data on the worker. An error here (no
    /// second handle to be had) means nothing was started.
    pub fn start(file: &File) -> std::io::Result<SyncBehind> {
        let handle = file.try_clone()?;
        Ok(Self::run(move || handle.sync_data()))
    }

    /// Start `job` on the worker, after the jobs handed over before it.
    pub fn run(job: impl FnOnce() -> std::io::Result<()> + Send + 'static) -> SyncBehind {
        let done = Arc::new(Done::default());
        let job: Work = Box::new(job);
        match worker() {
            Some(worker) => {
                let sender = worker.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(returned) = sender.send((job, done.clone())) {
                    // The worker is gone (it never is while the process
                    // lives): do it here instead.
                    let (job, _) = returned.0;
                    done.set(job());
                }
            }
            None => done.set(job()),
        }
        SyncBehind { done }
    }

    /// Block until the job is done; its result.
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
                // Its jobs call fsync and fdatasync: a small stack does.
                .stack_size(64 * 1024)
                .spawn(move || {
                    for (job, done) in jobs {
                        done.set(job());
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
    fn a_failed_sync_is_reported_to_the_waiter() {
        // fdatasync of a pipe fails (EINVAL): the worker reports it, not
        // swallows it.
        let (reader, _writer) = std::io::pipe().expect("pipe");
        let file = File::from(std::os::fd::OwnedFd::from(reader));
        let result = SyncBehind::start(&file).expect("start").wait();
        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn a_job_runs_after_the_jobs_before_it_and_reports_its_result() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (from, to) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&from, b"x").expect("write");
        let file = File::open(&from).expect("open");
        let synced = SyncBehind::start(&file).expect("start");
        let (from2, to2) = (from.clone(), to.clone());
        let moved = SyncBehind::run(move || std::fs::rename(&from2, &to2));
        let done = synced.done.clone();
        moved.wait().expect("renamed");
        // In order: the fsync handed over first is done by now.
        assert!(done.result.lock().expect("lock").is_some());
        assert!(to.exists() && !from.exists());

        // A failure, with its OS error code.
        let failed = SyncBehind::run(move || std::fs::rename(&from, &to));
        let error = failed.wait().expect_err("the source is gone");
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT), "{error}");
        synced.wait().expect("synced");
    }
}
