//! Integration tests of the `host` binary: real components built from source
//! (see `tests/artifacts`), real files on disk, the real executable in a child
//! process. Every test asserts on host-side state (the files, the journal),
//! not only on what the command printed.

mod approval_gate;
mod hello_tool;
mod network_grants;
mod plugin_failures;
mod support;
mod write_grants;
