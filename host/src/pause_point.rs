//! Named points where the host can be made to stop dead, for crash tests.
//!
//! The durability claims (a run survives a crash at any instant; `host
//! resume` never re-runs a finished step or applies a write twice) are proven
//! by killing a real `host` process with SIGKILL at each interesting instant.
//! A test sets `HARNESS_PAUSE_AT=<point>`; when the host reaches that point it
//! prints `harness: paused at <point>` on stderr and sleeps until killed. With
//! the variable unset (always, outside tests) a pause point does nothing.
//!
//! The points, in the order a run reaches them:
//! - `step-running`: a step's `step_started` is journaled, its plugin not yet done;
//! - `staged`: the change set is staged and approval requested;
//! - `approved`: `approval_granted` is journaled, nothing written yet;
//! - `written`: a file is renamed into place, its `write_applied` not journaled;
//! - `between-writes`: one write is journaled, the next not started;
//! - `revert-created`: a revert's run is created, its restore bytes and its
//!   proposal not yet stored.

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable naming the point to pause at.
pub const PAUSE_VAR: &str = "HARNESS_PAUSE_AT";

/// Every pause point, for validation and docs.
pub const POINTS: &[&str] = &[
    "step-running",
    "staged",
    "approved",
    "written",
    "between-writes",
    "revert-created",
];

/// Stop here forever if `HARNESS_PAUSE_AT` names this point.
pub fn reached(point: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(PAUSE_VAR).ok());
    if wanted.as_deref() == Some(point) {
        debug_assert!(POINTS.contains(&point), "unknown pause point {point}");
        // Not `eprintln!`: a closed stderr must not turn a pause into a panic.
        let _ = writeln!(std::io::stderr(), "harness: paused at {point}");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
