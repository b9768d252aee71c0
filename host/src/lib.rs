//! The harness host: runs agent tools and reviewers as sandboxed WebAssembly
//! components, behind a human approval gate.
//!
//! **One path for every front end** (the `host` CLI, the workflow executor,
//! the MCP server, the console, the benchmark): [`folder::load`] (a plugins
//! folder → manifests → effective admin grants → loaded plugins, progress
//! through a callback) → [`runtime`] (a fresh sandbox per call) →
//! [`run::stage`] (proposed writes vetted and staged) → [`run::approval`]
//! (a person approves one digest) → [`run::apply`] (exactly those bytes,
//! crash-safe). Runs live behind the [`run::store`] seam; the host's
//! directories are [`HostDirs`].
//!
//! The pipeline, module by module: [`manifest`] (what a plugin asks for) →
//! [`grants`] (what the admin granted, and the one place grants become a
//! sandbox) → [`runtime`] (engines, compile cache, one fresh instance per
//! call) → [`workflow`] (what runs, as data) → [`run`] (the journaled state
//! machine, approval and apply) → [`cli`] (the `host` command). [`contract`]
//! is the plugin contract's data, [`error_kind`] why a call gave no result,
//! [`render`] how untrusted text is shown inert, [`timing`] where a command's
//! time goes, [`protect`] the paths no
//! plugin may reach, [`project`] the project file (`harness.toml`) that
//! [`HostDirs`] reads.
//!
//! Private to the crate: bounded reads of files the host reads on someone's
//! behalf, canonical paths in three system calls, old-or-new file writes, removal of a killed host's leftovers, the
//! name rule, network-grant spelling, the workflow graph export, `host
//! doctor`'s checks, the crash-test pause points and a server's stop signal.

#![warn(missing_docs)]

mod atomic_file;
mod bounded_read;
mod canonical;
pub mod cli;
mod clock;
pub mod console;
pub mod contract;
mod cores;
pub mod digest;
mod doctor;
pub mod error_kind;
pub mod folder;
pub mod grants;
pub mod host_dirs;
mod leftovers;
pub mod manifest;
pub mod mcp;
mod names;
mod network_grant;
pub mod os_user;
mod pause_point;
pub mod plugin_build;
pub mod project;
pub mod protect;
pub mod render;
pub mod run;
pub mod runtime;
mod shutdown;
pub mod timing;
pub mod workflow;
mod workflow_export;

pub use crate::error_kind::ErrorKind;
pub use crate::folder::{Loaded, load};
pub use crate::host_dirs::HostDirs;
pub use crate::run::store::{Run, RunStore};
