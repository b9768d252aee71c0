//! The traits a plugin implements, one per WIT world.
//!
//! Each trait mirrors the world's exported interface; a blanket impl connects
//! it to the generated `Guest` trait, so plugin code never names the bindings.

use crate::bindings::reviewer::exports::harness::plugin::reviewer_plugin;
use crate::bindings::tool::exports::harness::plugin::tool_plugin;
use crate::{Descriptor, PluginError, Review, ReviewInput, StepInput, ToolOutput};

/// A tool: one step of a workflow. Export it with [`crate::export_tool!`].
///
/// The host creates a fresh instance for every invocation, so a tool keeps no
/// state between calls; everything it needs arrives in the [`StepInput`].
pub trait Tool {
    /// Describe the tool: its name, a one-line summary and its input schema.
    fn describe() -> Descriptor;

    /// Run one step. Files are never written directly: return them as proposed
    /// writes with [`ToolOutput::propose_write`].
    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError>;
}

/// A reviewer: judges a run's outputs and proposed writes before a person
/// approves them. Export it with [`crate::export_reviewer!`].
pub trait Reviewer {
    /// Describe the reviewer.
    fn describe() -> Descriptor;

    /// Review every completed step's output and every proposed write.
    fn review(input: ReviewInput) -> Result<Review, PluginError>;
}

impl<T: Tool> tool_plugin::Guest for T {
    fn describe() -> Descriptor {
        <T as Tool>::describe()
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        <T as Tool>::invoke(input)
    }
}

impl<T: Reviewer> reviewer_plugin::Guest for T {
    fn describe() -> Descriptor {
        <T as Reviewer>::describe()
    }

    fn review(input: ReviewInput) -> Result<Review, PluginError> {
        <T as Reviewer>::review(input)
    }
}
