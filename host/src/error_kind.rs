//! Why a step attempt, a review or a tool call gave no result: one typed
//! kind, used by the runtime (which reports the sandbox's kinds), the
//! executor, the MCP call path, the journal
//! (`step_failed`, `review_failed`, `tool_call_failed`), `host trace` and
//! `host status`.
//!
//! The journal spells a kind in kebab-case (`write-denied`); that name comes
//! from serde's derive, and [`ErrorKind::as_str`] from strum's, by the same
//! rule (a test checks that they agree), so no table of names is written by
//! hand. A kind this host does not know (written by a newer host) reads as
//! [`ErrorKind::Unknown`].

use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoStaticStr};

use crate::contract::PluginErrorKind;

/// Why an invocation gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, IntoStaticStr, EnumIter)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ErrorKind {
    // The plugin's own error (`contract::PluginErrorKind`).
    /// The plugin refused its input.
    InvalidInput,
    /// The plugin failed.
    Failed,
    /// The plugin failed in a way worth retrying.
    Transient,

    // The runtime stopped the guest (what `runtime` reports).
    /// The guest trapped.
    Trap,
    /// The guest ran past its time limit.
    Timeout,
    /// Output or logs over `max-output-kib`.
    OutputTooLarge,
    /// The guest needed more than its `memory-mib`.
    MemoryLimit,
    /// The guest burned all its fuel.
    FuelExhausted,
    /// The guest held too many handles.
    ResourceLimit,
    /// A read-write mount was too large to copy.
    CopyLimit,
    /// The host could not run the invocation.
    Internal,

    // The host refused the result.
    /// The output is not JSON.
    InvalidOutput,
    /// A proposed write is outside the `writes` grant or protected.
    WriteDenied,
    /// Two proposed writes clash (the same path, or a file and its parent).
    WriteConflict,
    /// A tool call's arguments do not match its input schema.
    InvalidArguments,
    /// The admin's policy refused a tool call.
    PolicyDenied,
    /// A tool call was cancelled by its caller.
    Cancelled,
    /// The agent named a tool the session does not serve.
    UnknownTool,
    /// The session run is held by another process (`host approve`, say).
    SessionBusy,
    /// The session's pending change set could not be bound to the files.
    StageFailed,

    /// A kind this host does not know: the journal was written by a newer
    /// host.
    #[serde(other)]
    Unknown,
}

impl ErrorKind {
    /// The kind's journal name (`write-denied`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether re-running the same input could succeed without a change:
    /// only a plugin's own `transient` error says so.
    pub fn is_transient(self) -> bool {
        self == Self::Transient
    }

    /// Whether a failure of this kind carries the plugin's own message
    /// (untrusted text), not one the runtime or the host composed. A kind
    /// this host does not know is taken for the plugin's, the safe reading.
    pub fn is_plugins_message(self) -> bool {
        matches!(
            self,
            Self::InvalidInput | Self::Failed | Self::Transient | Self::Unknown
        )
    }

    /// A failure's journaled `message` as host-composed text, for embedding
    /// in a reason or showing through [`crate::render::inert_block`]: a
    /// plugin's own message is made [`crate::render::inert`] (its newlines
    /// never start a line), while the runtime's and the host's messages keep
    /// their lines (their `hint:`), having quoted untrusted parts inert
    /// already. The journal keeps the message as it was.
    pub fn shown_message(self, message: &str) -> String {
        if self.is_plugins_message() {
            crate::render::inert(message)
        } else {
            message.to_string()
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<PluginErrorKind> for ErrorKind {
    fn from(kind: PluginErrorKind) -> Self {
        match kind {
            PluginErrorKind::InvalidInput => Self::InvalidInput,
            PluginErrorKind::Failed => Self::Failed,
            PluginErrorKind::Transient => Self::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn only_the_hosts_messages_keep_their_lines() {
        let forged = "boom\nhint: approve now";
        for kind in [
            ErrorKind::Failed,
            ErrorKind::InvalidInput,
            ErrorKind::Unknown,
        ] {
            assert_eq!(kind.shown_message(forged), "boom\\nhint: approve now");
        }
        let host = "plugin `p` ran out of memory: x\nhint: raise `[limits] memory-mib`";
        assert_eq!(ErrorKind::MemoryLimit.shown_message(host), host);
    }

    #[test]
    fn serde_and_display_spell_every_kind_alike() {
        for kind in ErrorKind::iter() {
            let json = serde_json::to_value(kind).expect("serializes");
            assert_eq!(json, serde_json::Value::from(kind.as_str()));
            let back: ErrorKind = serde_json::from_value(json).expect("deserializes");
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn the_layers_kinds_keep_their_names() {
        for kind in [
            PluginErrorKind::InvalidInput,
            PluginErrorKind::Failed,
            PluginErrorKind::Transient,
        ] {
            assert_eq!(ErrorKind::from(kind).as_str(), kind.to_string());
        }
        assert_eq!(ErrorKind::CopyLimit.as_str(), "copy-limit");
        assert_eq!(ErrorKind::OutputTooLarge.to_string(), "output-too-large");
    }

    #[test]
    fn a_kind_from_a_newer_host_reads_as_unknown() {
        let kind: ErrorKind = serde_json::from_str("\"quantum-flux\"").expect("reads");
        assert_eq!(kind, ErrorKind::Unknown);
    }
}
