//! Integration tests of the `host` binary: real components built from source
//! (see `tests/artifacts`), real files on disk, the real executable in a child
//! process. Every test asserts on host-side state (the files, the journal),
//! not only on what the command printed.

mod apply_toctou;
mod approval_gate;
mod approval_replay;
mod crash_resume;
mod hello_tool;
mod journal_tampering;
mod plugin_failures;
mod resume_rules;
mod scheduling;
mod support;
mod trace;
mod two_writes;
mod workflow_export;
mod write_grants;
