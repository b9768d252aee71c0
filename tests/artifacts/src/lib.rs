//! Paths to the guest components the host's tests load, built from source by this
//! crate's build script (see `build.rs`).
//!
//! One constant per component, named after its package in upper case:
//! `PLUGIN_SEARCH`, `HELLO_TOOL`, `GUEST_ESCAPE_WRITER`, and so on. Adding a crate
//! under `tests/guests/` adds a constant. The components are the same files the
//! plugin manifests in `plugins/*/plugin.toml` point at.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
