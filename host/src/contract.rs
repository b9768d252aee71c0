//! Host-side mirror of the `harness:plugin` WIT types.
//!
//! The runtime converts between these and the generated bindings, so the rest
//! of the host (workflow, journal, approval) never depends on bindgen output and
//! can serialize everything it records with serde.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter};

/// Version of the WIT package this host serves, as it appears in export names.
pub const WIT_PACKAGE: &str = "harness:plugin@0.1.0";

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    pub name: String,
    pub summary: String,
    /// JSON Schema of the plugin's input, as JSON text.
    pub input_schema: String,
}

/// The recorded output of an earlier step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutput {
    pub step: String,
    /// JSON text.
    pub output: String,
}

/// Everything a tool receives for one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInput {
    /// JSON text.
    pub input: String,
    pub needs: Vec<StepOutput>,
}

/// A file a plugin proposes to write. Untrusted until checked against the
/// plugin's `writes` grant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedWrite {
    pub path: String,
    pub contents: Vec<u8>,
}

impl std::fmt::Debug for ProposedWrite {
    // Contents can be large; the length is what matters in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProposedWrite")
            .field("path", &self.path)
            .field("len", &self.contents.len())
            .finish()
    }
}

/// A tool's successful result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOutput {
    /// JSON text.
    pub output: String,
    pub writes: Vec<ProposedWrite>,
}

/// The kind of error a plugin reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum PluginErrorKind {
    InvalidInput,
    Failed,
    Transient,
}

/// An error a plugin returned (as opposed to a trap or a timeout, which the
/// runtime reports as its own error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct PluginError {
    pub kind: PluginErrorKind,
    pub message: String,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Display, EnumIter)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Revise,
    Reject,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One observation of a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
    pub path: Option<String>,
}

/// Everything a reviewer receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewInput {
    pub outputs: Vec<StepOutput>,
    pub writes: Vec<ProposedWrite>,
}

/// A reviewer's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub summary: String,
}

/// Log levels of the `host.log` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One line a plugin logged through `host.log` (or wrote to stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wit_file_declares_the_package_this_host_serves() {
        let wit =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/plugin.wit"))
                .expect("wit/plugin.wit");
        assert!(
            wit.lines()
                .any(|l| l.trim() == format!("package {WIT_PACKAGE};")),
            "wit/plugin.wit does not declare `package {WIT_PACKAGE};`"
        );
    }
}
