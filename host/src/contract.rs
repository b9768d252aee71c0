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
    /// Short machine name, e.g. `search`.
    pub name: String,
    /// One line for humans.
    pub summary: String,
    /// JSON Schema of the plugin's input, as JSON text.
    pub input_schema: String,
}

/// The recorded output of an earlier step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutput {
    /// The workflow's id of that step.
    pub step: String,
    /// JSON text.
    pub output: String,
}

/// Everything a tool receives for one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInput {
    /// JSON text.
    pub input: String,
    /// Outputs of the steps this step depends on, in workflow order.
    pub needs: Vec<StepOutput>,
}

/// A file a plugin proposes to write. Untrusted until checked against the
/// plugin's `writes` grant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedWrite {
    /// Relative, `/`-separated path under the run's output directory, as the
    /// plugin gave it (not yet normalized or checked).
    pub path: String,
    /// The exact bytes to write.
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
    /// Files the tool proposes to write; nothing is written until approved.
    pub writes: Vec<ProposedWrite>,
}

/// The kind of error a plugin reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum PluginErrorKind {
    /// The input did not match the plugin's schema or made no sense.
    InvalidInput,
    /// The plugin ran and failed; retrying will not help.
    Failed,
    /// A temporary failure (a busy dependency, say); the host may retry.
    Transient,
}

/// An error a plugin returned (as opposed to a trap or a timeout, which the
/// runtime reports as its own error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct PluginError {
    /// Which kind of failure the plugin reports.
    pub kind: PluginErrorKind,
    /// The plugin's own text (untrusted).
    pub message: String,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Display, EnumIter)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Verdict {
    /// The proposed result may go to a person for approval.
    Pass,
    /// The result should be redrafted, taking the findings into account.
    Revise,
    /// The result must not be applied.
    Reject,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Severity {
    /// A remark, not a problem in itself.
    Info,
    /// A possible problem.
    Warning,
    /// A problem the reviewer considers real.
    Error,
}

/// One observation of a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// What the reviewer observed (untrusted text).
    pub message: String,
    /// The proposed file the finding is about, if any.
    pub path: Option<String>,
}

/// Everything a reviewer receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewInput {
    /// Outputs of every completed step of the run, in workflow order.
    pub outputs: Vec<StepOutput>,
    /// Every write proposed by the run's steps.
    pub writes: Vec<ProposedWrite>,
}

/// A reviewer's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The reviewer's decision.
    pub verdict: Verdict,
    /// What the reviewer pointed out.
    pub findings: Vec<Finding>,
    /// One or two sentences for humans.
    pub summary: String,
}

/// Log levels of the `host.log` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    /// The most detailed level.
    Trace,
    /// Detail for whoever debugs the plugin.
    Debug,
    /// Ordinary progress.
    Info,
    /// Something unexpected the plugin went on past.
    Warn,
    /// Something failed.
    Error,
}

/// One line a plugin logged through `host.log` (or wrote to stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The level the plugin gave; the host records stdout lines as `info`,
    /// stderr lines and its own notes (a network denial, say) as `warn`.
    pub level: LogLevel,
    /// The line's text (untrusted, bounded by the host).
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
