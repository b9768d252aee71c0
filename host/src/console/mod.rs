//! `host console`: a web console for a state directory, served by the host
//! itself (axum on the host's tokio). It lists runs, shows a run's timeline,
//! logs, review, tool-call policy decisions, workflow position and change
//! set diff, and takes decisions (approve, approve a subset or an edit,
//! reject, propose a revert) through the library's one decision path.
//!
//! Security model, module by module:
//! - [`auth`]: one-time login token → `HttpOnly`, `SameSite=Strict` session
//!   cookie; CSRF token and same-origin `Origin` on every POST; Host header
//!   checked on every request (DNS rebinding).
//! - [`server`]: binds loopback unless `--allow-remote`; a strict
//!   Content-Security-Policy (no inline script, nothing from elsewhere);
//!   every asset embedded.
//! - [`html`]: the one escape every untrusted string goes through
//!   (markup as entities; controls, bidi and ANSI made visible).
//! - [`decide`]: forms → [`crate::run::approval`] / [`crate::run::revert`];
//!   the approver is the session's identity.
//! - [`pages`]: the templates; [`sse`]: live updates; [`webhook`]: the
//!   optional notification when a run starts waiting.

pub mod auth;
pub mod decide;
pub mod html;
pub mod pages;
pub mod server;
pub mod sse;
pub mod webhook;

pub use server::{Options, Started, serve};
pub use webhook::Webhook;
