//! Agents calling the tools (issue 13). One governed call path
//! ([`call`]: schema check → [`policy`] → sandboxed invoke → journal →
//! stage) that both `host call` and the MCP server (`host mcp`) use, over
//! a [`session`] run that holds the calls' journal and pending change set,
//! serving the [`tools`] of a plugins folder, over [`stdio`] or [`http`].

pub mod call;
pub mod http;
pub mod loading;
pub mod policy;
pub mod server;
pub mod session;
pub mod stdio;
pub mod tools;
