//! Child processes whose peak RSS is their own.
//!
//! Linux carries a process's peak RSS (`ru_maxrss`) across `exec`: it starts
//! at the high-water mark of the memory the process had before, and a child
//! started with `posix_spawn` (or `fork`) from this bench begins life in
//! *this* process's memory. After figure (5) has compiled an 18 MB Python
//! component, that mark is hundreds of MB, and every `host run` would report
//! it as its own peak.
//!
//! So the children are started by a spawner: this bench binary again, started
//! first thing in `main`, before the bench has grown, which does nothing but
//! start the commands it is sent, wait for them with wait4(2) and send back
//! what each cost. A child's `ru_maxrss` is then the larger of its own peak and
//! the spawner's (a few MB, reported alongside so it can be told apart).
//!
//! Protocol, one JSON line each way: the bench sends a batch of commands, the
//! spawner starts them all, waits for every one and answers with their costs.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::fixtures::{ChildRun, own_memory};

const ROLE_VAR: &str = "HARNESS_BENCH_SPAWNER";

/// A command as sent to the spawner.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    program: String,
    args: Vec<String>,
    /// `(key, Some(value))` to set, `(key, None)` to remove.
    env: Vec<(String, Option<String>)>,
}

/// What one command cost, as the spawner reports it.
#[derive(Debug, Serialize, Deserialize)]
struct Cost {
    elapsed_ns: u64,
    cpu_ns: u64,
    max_rss_kib: u64,
    ok: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    costs: Vec<Cost>,
    /// The spawner's own peak RSS: the floor of every `max_rss_kib`.
    spawner_peak_kib: u64,
}

/// The bench's end of the spawner.
#[derive(Debug)]
pub struct Spawner {
    _process: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

static SPAWNER: OnceLock<Mutex<Spawner>> = OnceLock::new();

pub fn is_spawner() -> bool {
    std::env::var_os(ROLE_VAR).is_some()
}

/// Start the spawner. Call first in `main`, while this process is small.
pub fn start() {
    let mut process = Command::new(std::env::current_exe().expect("current exe"))
        .env(ROLE_VAR, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the spawner");
    let to = process.stdin.take().expect("stdin");
    let from = BufReader::new(process.stdout.take().expect("stdout"));
    let spawner = Spawner {
        _process: process,
        to,
        from,
    };
    SPAWNER
        .set(Mutex::new(spawner))
        .expect("the spawner is started once");
}

/// Run `commands` at once (stdout and stderr discarded) and wait for all.
/// Each run's `elapsed` counts from the start of the batch to its exit.
/// Returns the costs and the spawner's own peak RSS (KiB). Panics if a
/// command fails: a figure from a failed run means nothing.
pub fn run(commands: &[Command]) -> (Vec<ChildRun>, u64) {
    let jobs: Vec<Job> = commands.iter().map(job).collect();
    let mut spawner = SPAWNER
        .get()
        .expect("spawner::start() was called")
        .lock()
        .expect("spawner lock");
    let mut line = serde_json::to_string(&jobs).expect("jobs json");
    line.push('\n');
    spawner.to.write_all(line.as_bytes()).expect("send jobs");
    spawner.to.flush().expect("send jobs");
    let mut answer = String::new();
    spawner.from.read_line(&mut answer).expect("read costs");
    let answer: Answer = serde_json::from_str(&answer).expect("costs json");
    let runs = answer
        .costs
        .into_iter()
        .map(|c| {
            assert!(c.ok, "the host failed");
            ChildRun {
                elapsed: Duration::from_nanos(c.elapsed_ns),
                cpu: Duration::from_nanos(c.cpu_ns),
                max_rss_kib: c.max_rss_kib,
            }
        })
        .collect();
    (runs, answer.spawner_peak_kib)
}

fn job(cmd: &Command) -> Job {
    let text = |s: &std::ffi::OsStr| s.to_str().expect("UTF-8 command").to_string();
    assert!(cmd.get_current_dir().is_none(), "the spawner keeps its cwd");
    Job {
        program: text(cmd.get_program()),
        args: cmd.get_args().map(text).collect(),
        env: cmd
            .get_envs()
            .map(|(k, v)| (text(k), v.map(text)))
            .collect(),
    }
}

/// The spawner's main loop: one batch per line of stdin until it closes.
pub fn spawner_main() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let jobs: Vec<Job> = serde_json::from_str(&line.expect("read jobs")).expect("jobs json");
        let start = Instant::now();
        let children: Vec<Child> = jobs.iter().map(spawn).collect();
        let costs = children.into_iter().map(|c| wait(c, start)).collect();
        let answer = Answer {
            costs,
            spawner_peak_kib: own_memory("VmHWM"),
        };
        let mut out = serde_json::to_string(&answer).expect("answer json");
        out.push('\n');
        stdout.write_all(out.as_bytes()).expect("send costs");
        stdout.flush().expect("send costs");
    }
}

fn spawn(job: &Job) -> Child {
    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in &job.env {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd.spawn().expect("spawn")
}

/// Wait for `child` with wait4(2), which also reports its CPU time and peak
/// RSS.
fn wait(child: Child, start: Instant) -> Cost {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: `rusage` is plain data; wait4 fills it in and reaps our own
    // child, whose `Child` handle is dropped without waiting again.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Cost {
        elapsed_ns: nanos(elapsed),
        cpu_ns: nanos(time(usage.ru_utime) + time(usage.ru_stime)),
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}
