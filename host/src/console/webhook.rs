//! The optional webhook: a small JSON POST to a URL the admin chose, when a
//! run starts waiting for approval, so a chat or a pager can link to its page.
//!
//! Configured with `host console --webhook URL` or, for the admin of a
//! plugins folder, `<plugins>/console.toml`:
//!
//! ```toml
//! webhook = "http://127.0.0.1:9000/hooks/harness"
//! ```
//!
//! Only plain `http://` is spoken (point it at a local relay for anything
//! else). The body, one JSON object (escaped like every JSON the host
//! writes):
//!
//! ```json
//! {"event":"approval_requested","run":"r2026...","url":"http://127.0.0.1:PORT/runs/r2026...",
//!  "workflow":"research","digest":"<sha256 of the change set>","files":2,"at_ms":1764600000000}
//! ```
//!
//! The login token is never in it. The call runs on its own task with a
//! 5-second limit; a failure is logged and the console carries on.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::render::inert;

/// How long one webhook call may take, connect to response.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The name of the admin file in a plugins folder.
pub const CONFIG_FILE: &str = "console.toml";

/// Why the webhook could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not plain `http://` with a host.
    #[error(
        "webhook URL `{}` is not a plain http URL with a host: {reason}\nhint: give `http://HOST:PORT/PATH` (https is not spoken; use a local relay)",
        inert(url)
    )]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `console.toml` could not be read, or does not parse.
    #[error(
        "cannot read `{}`: {reason}\nhint: it holds one key, `webhook = \"http://HOST:PORT/PATH\"`",
        inert(&path.display().to_string())
    )]
    Config {
        /// Path of `console.toml`.
        path: std::path::PathBuf,
        /// Why it could not be read or parsed.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    webhook: Option<String>,
}

/// Where to POST.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    authority: String,
    path: String,
}

/// What a run waiting for approval is announced with.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    /// The journal event announced (`approval_requested`).
    pub event: &'static str,
    /// The run's id.
    pub run: String,
    /// The run's page in the console.
    pub url: String,
    /// The run's workflow name.
    pub workflow: String,
    /// The digest of the change set waiting for approval.
    pub digest: String,
    /// How many files the change set touches.
    pub files: usize,
    /// When the run last changed, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

impl Webhook {
    /// Parse a plain-http URL.
    pub fn parse(url: &str) -> Result<Webhook, WebhookError> {
        let bad = |reason: &str| WebhookError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: http::Uri = url.parse().map_err(|_| bad("it does not parse"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("the scheme is not http"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| bad("there is no host"))?
            .as_str()
            .to_string();
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let authority = if uri.port_u16().is_some() {
            authority
        } else {
            format!("{authority}:80")
        };
        let path = uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        Ok(Webhook {
            url: url.to_string(),
            authority,
            path,
        })
    }

    /// The webhook `--webhook` names, else the one `<plugins>/console.toml`
    /// names, else none.
    pub fn configured(flag: Option<&str>, plugins: &Path) -> Result<Option<Webhook>, WebhookError> {
        if let Some(url) = flag {
            return Webhook::parse(url).map(Some);
        }
        let path = plugins.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(WebhookError::Config {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let config: ConfigFile = toml::from_str(&text).map_err(|e| WebhookError::Config {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        config.webhook.as_deref().map(Webhook::parse).transpose()
    }

    /// The URL, for the start-up message.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// POST `body` on a task of its own; never blocks the caller.
    pub fn notify(&self, body: &Waiting) {
        let json = match crate::render::json::to_string(body) {
            Ok(json) => json,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode the webhook body");
                return;
            }
        };
        let hook = self.clone();
        let run = body.run.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(TIMEOUT, hook.post(&json)).await {
                Ok(Ok(status)) => {
                    tracing::info!(run = %inert(&run), status = %inert(&status), "webhook called");
                }
                Ok(Err(e)) => {
                    tracing::warn!(run = %inert(&run), url = %inert(&hook.url), error = %e, "webhook call failed");
                }
                Err(_) => {
                    tracing::warn!(run = %inert(&run), url = %inert(&hook.url), "webhook call timed out");
                }
            }
        });
    }

    /// One HTTP/1.1 POST; returns the response's status line.
    async fn post(&self, json: &str) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(&self.authority).await?;
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: harness-host-console\r\nConnection: close\r\n\r\n{json}",
            self.path,
            self.authority,
            json.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0u8; 512];
        let n = stream.read(&mut head).await?;
        let text = String::from_utf8_lossy(&head[..n]);
        Ok(text.lines().next().unwrap_or("").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        let hook = Webhook::parse("http://127.0.0.1:9000/h?x=1").expect("parse");
        assert_eq!(hook.authority, "127.0.0.1:9000");
        assert_eq!(hook.path, "/h?x=1");
        assert_eq!(
            Webhook::parse("http://example.org")
                .expect("parse")
                .authority,
            "example.org:80"
        );
        assert!(Webhook::parse("https://example.org/").is_err());
        assert!(Webhook::parse("http://u:p@example.org/").is_err());
        assert!(Webhook::parse("/relative").is_err());
    }

    #[test]
    fn the_admin_file_names_the_url_and_nothing_else() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert!(
            Webhook::configured(None, tmp.path())
                .expect("none")
                .is_none()
        );
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            "webhook = \"http://127.0.0.1:1/x\"\n",
        )
        .expect("write");
        let hook = Webhook::configured(None, tmp.path())
            .expect("read")
            .expect("some");
        assert_eq!(hook.url(), "http://127.0.0.1:1/x");
        std::fs::write(tmp.path().join(CONFIG_FILE), "hook = 1\n").expect("write");
        assert!(Webhook::configured(None, tmp.path()).is_err());
    }
}
