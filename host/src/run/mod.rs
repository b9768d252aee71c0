//! Runs: durable state machines that move through tool steps, a review and a
//! human approval gate before anything is written.
//!
//! - [`journal`]: the append-only, hash-chained event log (the only truth);
//! - [`event`]: what the journal records; [`state`]: the state it folds into;
//! - [`store`]: run folders, creation and locking; [`blobs`]: staged bytes;
//! - [`executor`]: steps → review → approval request;
//! - [`changeset`], [`approval`], [`apply`]: the change set a person approves,
//!   the decision, and putting exactly those bytes on disk.

pub mod apply;
pub mod approval;
pub mod blobs;
pub mod changeset;
pub mod event;
pub mod executor;
pub mod journal;
pub mod state;
pub mod store;
