//! Constructors and accessors for [`PluginError`].
//!
//! The variant decides what the host does next: `invalid-input` and `failed`
//! end the step, `transient` may be retried. Messages are shown to people, so
//! they should name the offending value and, where possible, the fix.

use crate::PluginError;

impl PluginError {
    /// The input did not match the plugin's schema or made no sense.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// The plugin ran and failed; retrying will not help.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// A temporary failure; the host may retry the step (when the workflow
    /// gives the step a `retry` policy).
    ///
    /// ```
    /// use harness_sdk::PluginError;
    ///
    /// let e = PluginError::transient("the index is being rebuilt; try again");
    /// assert_eq!(e.kind(), "transient");
    /// assert_eq!(e.message(), "the index is being rebuilt; try again");
    /// assert_eq!(PluginError::invalid_input("no topic").kind(), "invalid-input");
    /// ```
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient(message.into())
    }

    /// The human-readable message, whatever the variant.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidInput(m) | Self::Failed(m) | Self::Transient(m) => m,
        }
    }

    /// The WIT name of the variant: `invalid-input`, `failed` or `transient`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid-input",
            Self::Failed(_) => "failed",
            Self::Transient(_) => "transient",
        }
    }
}
