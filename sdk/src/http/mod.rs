//! A small blocking HTTP client over wasi:http, for plugins with a network
//! grant (cargo feature `http`).
//!
//! The plugin never opens a connection: it hands each request to the host,
//! which checks the URL against the plugin's `[grants] network`, connects to
//! a checked address, and does TLS for `https://` (verifying the certificate
//! against the host name in the URL). A refused request comes back as
//! [`Error::Denied`] (or another [`Error`] carrying the host's code and text),
//! and the host's log names the manifest entry that would allow it.
//!
//! ```no_run
//! use harness_sdk::http;
//!
//! #[derive(serde::Deserialize)]
//! struct Health { status: String }
//!
//! // GET, then insist on a 2xx and parse the JSON body.
//! let health: Health = http::get("http://127.0.0.1:8080/health")?
//!     .error_for_status()?
//!     .json()?;
//!
//! // POST JSON; a denial names the URL and carries what the host said.
//! match http::post_json("https://api.example.com/v1/notes", &serde_json::json!({ "status": health.status })) {
//!     Ok(response) => println!("HTTP {}", response.status()),
//!     Err(e @ http::Error::Denied { .. }) => eprintln!("not granted: {e}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), http::Error>(())
//! ```
//!
//! - [`Request`]: method, URL, headers, body, response size limit, timeout;
//! - [`Response`]: status, headers, body, [`Response::json`],
//!   [`Response::error_for_status`];
//! - [`Error`]: every failure, typed; [`Error::is_transient`] says whether a
//!   retry may help, [`Error::host_message`] gives the host's own words;
//! - [`Url`]: the strict parsing of `http://` and `https://` URLs;
//! - [`wasi`]: the raw bindings, generated from the repository's one copy of
//!   the WASI WIT (`wit/deps/`).
//!
//! Natively (outside WebAssembly, as in unit tests) there is no host to send
//! to: build requests and responses, but do not call [`Request::send`].

mod error;
mod request;
mod response;
mod transport;
mod url;
pub mod wasi;

use serde::Serialize;

pub use error::Error;
pub use request::{DEFAULT_MAX_BODY_BYTES, Method, Request};
pub use response::Response;
pub use url::{Scheme, Url};

/// `GET url`, with the default limits.
pub fn get(url: &str) -> Result<Response, Error> {
    Request::get(url)?.send()
}

/// `POST url` with `body` as JSON, with the default limits.
pub fn post_json<T: Serialize + ?Sized>(url: &str, body: &T) -> Result<Response, Error> {
    Request::post(url)?.json(body)?.send()
}
