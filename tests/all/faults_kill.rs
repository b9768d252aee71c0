//! SIGKILL at random instants, not only at the named pause points: `host
//! run`, `host resume` and `host approve` are each killed after a random
//! delay (below how long that kind of command has been taking here, an
//! estimate updated by every command that ends), over and over.
//! After every kill the journal verifies (at most an unacknowledged torn
//! tail, which readers ignore), every target holds exactly its old bytes
//! (none) or its approved bytes, and after the next command no temporary
//! file of the dead process is left in the state dir. Every run is then
//! driven to completion. The seed is printed; `HARNESS_KILL_SEED=<n>`
//! replays a sequence.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Scratch, drive_to_completion, run_ids, state_temp_files, text, verify_ok};
use crate::two_writes::{A, A_TEXT, B, B_TEXT, plugins};

const ITERATIONS: usize = 15;

/// xorshift64*: a reproducible sequence of delays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// Start `cmd`, SIGKILL it after `delay` unless it is done first: `None`
/// when it was killed, else how long it took (in ms).
fn kill_after(mut cmd: Command, delay: Duration) -> Option<u64> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn host");
    while start.elapsed() < delay {
        if child.try_wait().expect("try_wait").is_some() {
            return Some(start.elapsed().as_millis() as u64);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if child.try_wait().expect("try_wait").is_some() {
        return Some(start.elapsed().as_millis() as u64);
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    None
}

/// How long each kind of command takes here, in ms, kept up to date from
/// every command that ran to its end: a loaded machine slows them down, a
/// warm cache speeds them up, and the delays follow.
struct Durations {
    run: u64,
    approve: u64,
}

impl Durations {
    fn of(&mut self, approve: bool) -> &mut u64 {
        if approve {
            &mut self.approve
        } else {
            &mut self.run
        }
    }

    /// A command of this kind took `ms`: move the estimate halfway there.
    fn took(&mut self, approve: bool, ms: u64) {
        let d = self.of(approve);
        *d = (*d + ms).div_ceil(2).max(1);
    }
}

/// How long `cmd` takes when left alone, in ms.
fn duration_ms(mut cmd: Command) -> u64 {
    let start = Instant::now();
    let out = cmd.output().expect("host");
    assert!(out.status.success(), "{}", text(&out.stderr));
    start.elapsed().as_millis() as u64
}

/// The checks after a kill: the journal of every run verifies (a warning
/// only for an unacknowledged torn tail), and each target is absent or
/// exactly approved.
fn after_kill(s: &Scratch, what: &str) -> usize {
    for id in run_ids(&s.state()) {
        let warnings = verify_ok(s, &id);
        for line in warnings.lines().filter(|l| l.starts_with("warning:")) {
            assert!(
                line.contains("never acknowledged"),
                "{what}: unexpected warning: {line}"
            );
        }
    }
    for (path, approved) in [(A, A_TEXT), (B, B_TEXT)] {
        if let Ok(bytes) = std::fs::read(s.out().join(path)) {
            assert_eq!(text(&bytes), approved, "{what}: {path} is torn or wrong");
        }
    }
    state_temp_files(&s.state()).len()
}

fn command(s: &Scratch, args: &[&str]) -> Command {
    let mut cmd = s.host();
    cmd.args(args);
    cmd
}

#[test]
fn sigkill_at_random_instants_never_loses_tears_or_bricks_a_run() {
    let seed = std::env::var("HARNESS_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("kill seed {seed} (HARNESS_KILL_SEED={seed} replays it)");
    let mut rng = Rng(seed);

    // Calibrate: how long a run and an approval take on this machine.
    let cal = Scratch::new();
    let plugins_dir = plugins(&cal, 0);
    let run_ms = duration_ms({
        let mut cmd = cal.run_cmd(&plugins_dir);
        cmd.arg("--json");
        cmd
    });
    let id = run_ids(&cal.state()).pop().expect("run");
    let approve_ms = duration_ms(command(&cal, &["approve", &id, "--yes"]));
    eprintln!("calibrated: run {run_ms} ms, approve {approve_ms} ms");
    let mut took = Durations {
        run: run_ms,
        approve: approve_ms,
    };

    let start = Instant::now();
    let (mut killed, mut finished, mut leftovers) = (0, 0, 0);
    for i in 0..ITERATIONS {
        let s = Scratch::new();
        let plugins_dir = plugins(&s, 0);
        let delay = rng.below(took.run);
        match kill_after(s.run_cmd(&plugins_dir), Duration::from_millis(delay)) {
            None => killed += 1,
            Some(ms) => {
                finished += 1;
                took.took(false, ms)
            }
        }
        let what = format!("iteration {i}: run killed after {delay} ms");
        leftovers += after_kill(&s, &what);

        // Then resume / approve, each killed at a random instant half the
        // time, until the run completes.
        for round in 0..6 {
            let ids = run_ids(&s.state());
            let (cmd, approve) = match ids.first() {
                None => (s.run_cmd(&plugins_dir), false),
                Some(id) => match s.status(id)["status"].as_str() {
                    Some("completed") => break,
                    Some("waiting-approval") => (command(&s, &["approve", id, "--yes"]), true),
                    Some("running" | "applying") => (command(&s, &["resume", id]), false),
                    other => panic!("{what}: run ended {other:?}"),
                },
            };
            if rng.below(2) == 0 {
                let delay = rng.below(*took.of(approve));
                match kill_after(cmd, Duration::from_millis(delay)) {
                    None => killed += 1,
                    Some(ms) => {
                        finished += 1;
                        took.took(approve, ms)
                    }
                }
                after_kill(
                    &s,
                    &format!("{what}, round {round} killed after {delay} ms"),
                );
            } else {
                let mut cmd = cmd;
                let start = Instant::now();
                let out = cmd.output().expect("host");
                assert!(out.status.success(), "{what}: {}", text(&out.stderr));
                took.took(approve, start.elapsed().as_millis() as u64);
                // The command that ran after a kill cleaned up after it.
                assert!(
                    state_temp_files(&s.state()).is_empty(),
                    "{what}: leftovers after the next command: {:?}",
                    state_temp_files(&s.state())
                );
            }
        }
        let ids = run_ids(&s.state());
        let id = match ids.first() {
            Some(id) => id.clone(),
            None => {
                let out = s.run(&plugins_dir, &[]);
                assert!(out.status.success(), "{what}: {}", text(&out.stderr));
                crate::support::run_id(&out)
            }
        };
        drive_to_completion(&s, &id, 4);
        assert_eq!(ids.len().max(1), run_ids(&s.state()).len(), "one run");
        for (path, approved) in [(A, A_TEXT), (B, B_TEXT)] {
            let bytes = std::fs::read(s.out().join(path)).unwrap_or_default();
            assert_eq!(text(&bytes), approved, "{what}: {path}");
        }
        verify_ok(&s, &id);
        let events = s.journal_events(&id);
        assert_eq!(events.last().map(String::as_str), Some("run_completed"));
        assert_eq!(
            events.iter().filter(|e| *e == "write_applied").count(),
            2,
            "{what}: each write journaled once: {events:?}"
        );
        assert!(
            state_temp_files(&s.state()).is_empty(),
            "{what}: {:?}",
            state_temp_files(&s.state())
        );
    }
    eprintln!(
        "{ITERATIONS} runs, {killed} commands killed, {finished} finished before their kill, {leftovers} temporary files left by kills (all removed by the next command), in {:?}",
        start.elapsed()
    );
    assert!(
        killed >= ITERATIONS,
        "most delays must land inside a command: {killed} killed, {finished} finished first (estimates now: run {} ms, approve {} ms)",
        took.run,
        took.approve
    );
}
