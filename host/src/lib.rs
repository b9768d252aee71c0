//! The harness host: runs agent tools and reviewers as sandboxed WebAssembly
//! components, behind a human approval gate.
//!
//! The pipeline, module by module:
//! [`manifest`] (what an admin granted) → [`grants`] (the one place grants
//! become a sandbox) → [`runtime`] (engine, compile cache, one fresh instance
//! per call) → [`workflow`] (what runs, as data) → [`run`] (the journaled state
//! machine, approval and apply) → [`cli`] (the `host` command).
//!
//! Under all of them: [`bounded_read`] (every file the host reads on someone's
//! behalf: a regular file, capped), [`atomic_file`] (old-or-new writes) and
//! [`leftovers`] (removing the temporary files of a killed host).

pub mod atomic_file;
pub mod bounded_read;
pub mod cli;
pub mod console;
pub mod contract;
pub mod digest;
pub mod folder;
pub mod grants;
pub mod host_dirs;
pub mod leftovers;
pub mod manifest;
pub mod mcp;
pub mod os_user;
pub mod pause_point;
pub mod plugin_build;
pub mod protect;
pub mod render;
pub mod run;
pub mod runtime;
pub mod workflow;
pub mod workflow_export;
