//! Bounded collection of what a plugin logs during one invocation: lines
//! from the `harness:plugin/host.log` import and from stdout/stderr.
//!
//! A guest controls how much it logs, so the host keeps at most
//! [`MAX_LOG_LINES`] lines of at most [`MAX_LOG_LINE_BYTES`] each per source
//! and counts the rest in a final "N log lines dropped" record. Lines are kept
//! as the guest wrote them (whoever renders them must make them inert); the
//! copies sent to `tracing` are `Debug`-escaped so a plugin cannot write
//! terminal escapes into the host's own log.
//!
//! The host's own lines about an invocation (network denials) go into the same
//! collector, in order with the plugin's: a clone shares the records, so the
//! socket check and the HTTP sender, which run outside the store, can record
//! too.

use std::sync::{Arc, Mutex, PoisonError};

use super::bindings::{wit, wit_host};
use crate::contract::{LogLevel, LogRecord};

/// Most lines kept per invocation and source.
pub const MAX_LOG_LINES: usize = 1000;
/// Longest line kept, in bytes; longer lines are cut at a character boundary.
pub const MAX_LOG_LINE_BYTES: usize = 4 * 1024;

/// Collects log lines of one invocation. Clones share the same records.
#[derive(Debug, Clone)]
pub(crate) struct LogCollector {
    plugin: Arc<str>,
    inner: Arc<Mutex<Records>>,
}

#[derive(Debug, Default)]
struct Records {
    records: Vec<LogRecord>,
    dropped: usize,
}

impl LogCollector {
    pub(crate) fn new(plugin: Arc<str>) -> Self {
        Self {
            plugin,
            inner: Arc::default(),
        }
    }

    /// Record one line (emitting it to `tracing` as well).
    pub(crate) fn push(&self, level: LogLevel, message: &str) {
        // A panic while holding the lock cannot leave the records torn (each
        // push is one Vec::push), so a poisoned lock is still usable.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.records.len() >= MAX_LOG_LINES {
            inner.dropped += 1;
            return;
        }
        let message = truncate(message, MAX_LOG_LINE_BYTES);
        emit(&self.plugin, level, message);
        inner.records.push(LogRecord {
            level,
            message: message.to_string(),
        });
    }

    /// Record captured output, one record per non-blank line.
    pub(crate) fn push_output(&self, level: LogLevel, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.push(level, line);
        }
    }

    /// The collected records, followed by a count of dropped lines if any.
    /// Takes them out of every clone.
    pub(crate) fn finish(self) -> Vec<LogRecord> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Records {
            mut records,
            dropped,
        } = std::mem::take(&mut *inner);
        if dropped > 0 {
            let message = format!("{dropped} log lines dropped");
            emit(&self.plugin, LogLevel::Warn, &message);
            records.push(LogRecord {
                level: LogLevel::Warn,
                message,
            });
        }
        records
    }
}

impl wit_host::Host for LogCollector {
    fn log(&mut self, level: wit_host::Level, message: String) {
        self.push(level.into(), &message);
    }
}

// The `types` interface has no functions; its host trait is empty.
impl wit::Host for LogCollector {}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn emit(plugin: &str, level: LogLevel, message: &str) {
    match level {
        LogLevel::Trace => tracing::trace!(plugin, message = ?message, "plugin log"),
        LogLevel::Debug => tracing::debug!(plugin, message = ?message, "plugin log"),
        LogLevel::Info => tracing::info!(plugin, message = ?message, "plugin log"),
        LogLevel::Warn => tracing::warn!(plugin, message = ?message, "plugin log"),
        LogLevel::Error => tracing::error!(plugin, message = ?message, "plugin log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_capped_and_counted() {
        let c = LogCollector::new("p".into());
        for i in 0..MAX_LOG_LINES + 5 {
            c.push(LogLevel::Info, &format!("line {i}"));
        }
        let records = c.finish();
        assert_eq!(records.len(), MAX_LOG_LINES + 1);
        assert_eq!(records[MAX_LOG_LINES].message, "5 log lines dropped");
        assert_eq!(records[MAX_LOG_LINES].level, LogLevel::Warn);
    }

    #[test]
    fn long_lines_are_cut_at_a_char_boundary() {
        let c = LogCollector::new("p".into());
        let long = format!("a{}", "é".repeat(MAX_LOG_LINE_BYTES));
        c.push(LogLevel::Info, &long);
        let records = c.finish();
        assert!(records[0].message.len() <= MAX_LOG_LINE_BYTES);
        assert!(records[0].message.len() >= MAX_LOG_LINE_BYTES - 1);
    }

    #[test]
    fn output_is_split_into_lines() {
        let c = LogCollector::new("p".into());
        c.push_output(LogLevel::Warn, b"\none\ntwo\r\n\n  \n\xffthree");
        let messages: Vec<_> = c.finish().into_iter().map(|r| r.message).collect();
        assert_eq!(messages, vec!["one", "two", "\u{fffd}three"]);
    }
}
