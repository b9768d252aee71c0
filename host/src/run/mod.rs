//! Runs: durable state machines that move through tool steps, a review and a
//! human approval gate before anything is written.
//!
//! - [`journal`]: the append-only, hash-chained event log (the only truth),
//!   [`head_file`] its head, swapped old-or-new;
//!   [`sync_behind`]: its fsync running on while a plugin is called;
//! - [`event`]: what the journal records; [`state`]: the state it folds into;
//! - [`store`]: the run-store seam (runs, journal, blobs, the per-run lock),
//!   [`file_store`] its implementation on files; [`blobs`]: staged bytes;
//! - [`executor`]: steps (independent ones in parallel, retried on
//!   transient errors by [`crate::workflow::retry`]) → review → re-drafts → approval request;
//! - [`stage`]: the one path from a plugin's proposals to the change set;
//!   [`out_dir`]: the run's output directory, pinned by identity;
//! - [`changeset`], [`approval`], [`apply`]: the change set a person approves,
//!   the decision, and putting exactly those bytes on disk;
//! - [`amend`]: a person's subset or edit of a change set (a new digest);
//!   [`revert`]: a new run undoing an applied one;
//! - [`params`]: a new run's parameters, checked against what its steps'
//!   input schemas accept;
//! - [`resume`]: continuing a run after the host stopped, from its journal;
//!   [`review_input`]: the workflow's `[review] input` against the reviewer's schema.
//! - [`trace`]: attempt, review, approval and apply timings from the journal.

pub mod amend;
pub mod apply;
pub mod approval;
pub mod blobs;
pub mod changeset;
pub mod event;
pub mod executor;
pub mod file_store;
pub mod head_file;
pub mod journal;
pub mod out_dir;
pub mod params;
pub mod resume;
pub mod revert;
pub mod review_input;
pub mod stage;
pub mod state;
pub mod store;
pub mod sync_behind;
pub mod trace;
