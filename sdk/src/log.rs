//! Logging through the host's `log` import.
//!
//! Lines land in the host's trace of the current step; the host bounds how
//! many it keeps, so log summaries, not every item. Outside WebAssembly (unit
//! tests on the build machine) there is no host, and lines go to stderr.

use crate::Review;
use crate::bindings::tool::harness::plugin::host;

/// A log level, lowest to highest (WIT `host.level`).
pub use host::Level;

/// Record `message` at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Record a trace-level line.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Record a debug-level line.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Record an info-level line.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Record a warning.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Record an error. Returning a [`crate::PluginError`] is what fails a step;
/// this only adds detail to the trace.
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Record an info line summing up `review` of `writes` proposed writes: its
/// verdict and how many findings it has (the line every reviewer ends with).
pub fn review(review: &Review, writes: usize) {
    info(&format!(
        "{:?} with {} findings over {writes} writes",
        review.verdict,
        review.findings.len()
    ));
}
