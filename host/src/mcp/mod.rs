//! Agents calling the tools (issue 13, in progress): the admin's call
//! [`policy`]. The MCP server, `host call` and the governed call path
//! (schema check → policy → sandboxed invoke → journal → stage) are not
//! built yet; the journal events they will record
//! ([`crate::run::event::Event::ToolCallRequested`] and the following ones)
//! and the session run's change-set grouping
//! ([`crate::run::state::RunState::session_writes`]) are.

pub mod policy;
