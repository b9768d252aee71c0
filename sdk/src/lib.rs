//! Write tools and reviewers for the harness in Rust.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2` that targets
//! one of the two worlds of the `harness:plugin@0.1.0` WIT contract. This crate
//! hides the bindings: implement [`Tool`] or [`Reviewer`] on a unit struct and
//! export it with [`export_tool!`] or [`export_reviewer!`].
//!
//! ```no_run
//! use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
//!
//! #[derive(serde::Deserialize)]
//! struct Input { name: String }
//!
//! struct Hello;
//!
//! impl Tool for Hello {
//!     fn describe() -> Descriptor {
//!         Descriptor::new("hello", "Greets someone.")
//!     }
//!
//!     fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
//!         let Input { name } = input.parse()?;
//!         harness_sdk::log::info(&format!("greeting {name}"));
//!         ToolOutput::json(&serde_json::json!({ "greeting": format!("Hello, {name}!") }))
//!     }
//! }
//!
//! harness_sdk::export_tool!(Hello);
//! ```
//!
//! Modules:
//! - [`bindings`]: the generated WIT bindings (rarely needed directly);
//! - [`plugin`]: the [`Tool`] and [`Reviewer`] traits;
//! - [`input`]: reading step input and the outputs of earlier steps;
//! - [`output`]: building descriptors, tool outputs and reviews;
//! - [`error`]: constructors for [`PluginError`];
//! - [`log`]: logging through the host;
//! - [`text`]: the tokenizer the default plugins share;
//! - `http` (cargo feature `http`): a blocking HTTP client over wasi:http for
//!   plugins with a network grant.

#![warn(missing_docs)]

pub mod bindings;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod input;
pub mod log;
pub mod output;
pub mod plugin;
pub mod text;

pub use plugin::{Reviewer, Tool};

/// What a plugin says about itself (WIT `descriptor`). Build one with [`Descriptor::new`].
pub use bindings::tool::harness::plugin::types::Descriptor;
/// A reviewer's observation (WIT `finding`). See [`Finding::new`].
pub use bindings::tool::harness::plugin::types::Finding;
/// Why a plugin could not do its job (WIT `plugin-error`).
pub use bindings::tool::harness::plugin::types::PluginError;
/// A file a tool proposes to write (WIT `proposed-write`).
pub use bindings::tool::harness::plugin::types::ProposedWrite;
/// Everything a reviewer receives (WIT `review-input`).
pub use bindings::tool::harness::plugin::types::ReviewInput;
/// A reviewer's result (WIT `review-result`). See [`Review::new`].
pub use bindings::tool::harness::plugin::types::ReviewResult as Review;
/// How serious a finding is (WIT `severity`).
pub use bindings::tool::harness::plugin::types::Severity;
/// Everything a tool receives for one step (WIT `step-input`).
pub use bindings::tool::harness::plugin::types::StepInput;
/// The recorded output of an earlier step (WIT `step-output`).
pub use bindings::tool::harness::plugin::types::StepOutput;
/// A tool's result (WIT `tool-output`). Build one with [`ToolOutput::json`].
pub use bindings::tool::harness::plugin::types::ToolOutput;
/// A reviewer's decision (WIT `verdict`).
pub use bindings::tool::harness::plugin::types::Verdict;

/// Export a type implementing [`Tool`] as this component's `tool-plugin`.
///
/// Use it once, at the top level of a `cdylib` crate that targets
/// `wasm32-wasip2`. The argument must be a plain type name (an identifier).
/// Built for any other target (a native `cargo build` or `cargo test` of the
/// crate) it exports nothing and only checks that the type implements the
/// trait.
///
/// ```no_run
/// use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
///
/// struct Echo;
///
/// impl Tool for Echo {
///     fn describe() -> Descriptor {
///         Descriptor::new("echo", "Returns its input.")
///     }
///     fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
///         Ok(ToolOutput { output: input.input, writes: Vec::new() })
///     }
/// }
///
/// harness_sdk::export_tool!(Echo);
/// ```
#[macro_export]
macro_rules! export_tool {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::tool::export!($ty with_types_in $crate::bindings::tool);
        // Built natively (unit tests, a `cargo build` of the workspace), the
        // crate exports nothing: WIT export names are not valid native symbol
        // names. This only checks that `$ty` implements the trait.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::Descriptor = <$ty as $crate::Tool>::describe;
    };
}

/// Export a type implementing [`Reviewer`] as this component's `reviewer-plugin`.
///
/// Use it once, at the top level of a `cdylib` crate that targets
/// `wasm32-wasip2`. The argument must be a plain type name (an identifier).
/// Built for any other target (a native `cargo build` or `cargo test` of the
/// crate) it exports nothing and only checks that the type implements the
/// trait.
///
/// ```no_run
/// use harness_sdk::{Descriptor, Finding, PluginError, Review, ReviewInput, Reviewer, Severity, Verdict};
///
/// /// Sends back anything that proposes no file.
/// struct Strict;
///
/// impl Reviewer for Strict {
///     fn describe() -> Descriptor {
///         Descriptor::new("strict", "Revises a run that writes nothing.")
///     }
///     fn review(input: ReviewInput) -> Result<Review, PluginError> {
///         if input.writes.is_empty() {
///             let finding = Finding::new(Severity::Warning, "no file was proposed");
///             return Ok(Review::new(Verdict::Revise, vec![finding], "Revise: nothing to review."));
///         }
///         Ok(Review::new(Verdict::Pass, Vec::new(), "Pass."))
///     }
/// }
///
/// harness_sdk::export_reviewer!(Strict);
/// ```
#[macro_export]
macro_rules! export_reviewer {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::reviewer::export!($ty with_types_in $crate::bindings::reviewer);
        // Built natively (unit tests, a `cargo build` of the workspace), the
        // crate exports nothing: WIT export names are not valid native symbol
        // names. This only checks that `$ty` implements the trait.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::Descriptor = <$ty as $crate::Reviewer>::describe;
    };
}
