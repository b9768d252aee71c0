//! Where one command's time goes: with `HARNESS_TIMINGS=1` in the
//! environment, each [`mark`] prints `timing: <ms since the process
//! started> <phase>` to stderr (the marks of a warm `host run` are listed in
//! the README, "Where a warm `host run`'s time goes"). Without it, a mark
//! costs one cached check.

use std::sync::OnceLock;
use std::time::Instant;

/// Whether marks are printed, and the instant the first mark saw.
fn clock() -> Option<Instant> {
    static CLOCK: OnceLock<Option<Instant>> = OnceLock::new();
    *CLOCK.get_or_init(|| std::env::var_os("HARNESS_TIMINGS").map(|_| Instant::now()))
}

/// Print that `phase` ends now, if `HARNESS_TIMINGS` is set. `phase` is
/// host text or a plugin name (names follow the name rule, so they print
/// as they are); pass `format_args!` rather than a `String`, so nothing is
/// formatted when timings are off.
pub fn mark(phase: impl std::fmt::Display) {
    use std::io::Write as _;
    if let Some(start) = clock() {
        // The time is taken under stderr's lock, so marks from several
        // threads print in the order they happened, and the line goes out in
        // one write (stderr is unbuffered: written piece by piece, the marks
        // of one run took a millisecond of the time they measure). Write
        // errors are ignored, as for every note.
        let mut err = std::io::stderr().lock();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let line = format!("timing: {ms:8.2} ms  {phase}\n");
        let _ = err.write_all(line.as_bytes());
    }
}
