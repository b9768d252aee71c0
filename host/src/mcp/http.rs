//! `host mcp --http ADDR`: the same server over Streamable HTTP, guarded
//! before any MCP message is read.
//!
//! - Loopback only, unless the caller passes `allow_remote` (the CLI's
//!   `--allow-remote`, which warns): a tool server on a network interface
//!   lets anyone who can reach it run the tools and stage writes.
//! - Every request needs `Authorization: Bearer <token>` (401 otherwise,
//!   compared in constant time): a web page the person visits can reach a
//!   loopback port, but cannot know the token.
//! - `Host` must name the bound address (or `localhost`), and a request that
//!   carries an `Origin` must come from an allowed one (none by default):
//!   both answered 403 by the SDK's DNS-rebinding checks, which run first.
//! - Every response body goes out escaped ([`InertStream`]), as on stdio.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, combinators::BoxBody};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::mcp::server::Server;
use crate::render::json::InertStream;

/// How the HTTP endpoint is guarded.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The address and port to listen on (port 0: a free one).
    pub addr: SocketAddr,
    /// The bearer token every request must carry.
    pub token: String,
    /// Browser origins allowed to call (`http://localhost:3000`); none by default.
    pub allowed_origins: Vec<String>,
    /// Extra `Host` values accepted besides the bound address and localhost.
    pub allowed_hosts: Vec<String>,
}

/// An endpoint that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}\nhint: pick a free port, e.g. --http 127.0.0.1:0")]
    Bind {
        /// The address and port asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A 32-byte random token, hex, from the OS.
pub fn generate_token() -> std::io::Result<String> {
    crate::mcp::server::random_hex()
}

/// Bind `options.addr`; returns the bound address and the serving future.
pub async fn bind(
    server: Server,
    options: HttpOptions,
) -> Result<(SocketAddr, impl Future<Output = ()>), HttpError> {
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| HttpError::Bind {
            addr: options.addr,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| HttpError::Bind {
        addr: options.addr,
        source,
    })?;
    let mut hosts = vec![
        "localhost".to_string(),
        format!("localhost:{}", bound.port()),
        bound.ip().to_string(),
        bound.to_string(),
    ];
    if bound.ip().is_loopback() {
        hosts.extend(["127.0.0.1".to_string(), "::1".to_string()]);
        hosts.push(format!("127.0.0.1:{}", bound.port()));
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(options.allowed_origins.clone())
        .enforce_origin_validation();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let service = Arc::new(service);
    let token: Arc<str> = Arc::from(format!("Bearer {}", options.token));
    let serving = async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept an HTTP connection");
                    continue;
                }
            };
            let service = Arc::clone(&service);
            let token = Arc::clone(&token);
            tokio::spawn(async move {
                let handler = hyper::service::service_fn(move |request| {
                    let service = Arc::clone(&service);
                    let token = Arc::clone(&token);
                    async move { Ok::<_, Infallible>(guarded(&service, &token, request).await) }
                });
                if let Err(error) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), handler)
                    .await
                {
                    tracing::debug!(%error, %peer, "HTTP connection ended");
                }
            });
        }
    };
    Ok((bound, serving))
}

type Body = BoxBody<Bytes, Infallible>;

/// Check the bearer token, then hand the request to the SDK (which checks
/// Host and Origin first).
async fn guarded(
    service: &StreamableHttpService<Server, LocalSessionManager>,
    expected: &str,
    request: http::Request<hyper::body::Incoming>,
) -> http::Response<Body> {
    // Host and Origin first (403), so a rebinding page learns nothing more.
    let origin_or_host_bad = {
        let response = service.handle(strip_body(&request)).await;
        response.status() == http::StatusCode::FORBIDDEN
    };
    if origin_or_host_bad {
        return plain(
            http::StatusCode::FORBIDDEN,
            "forbidden: Host or Origin not allowed\n",
        );
    }
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(presented, expected.as_bytes()) {
        let mut response = plain(
            http::StatusCode::UNAUTHORIZED,
            "unauthorized: send `Authorization: Bearer <token>` (printed by `host mcp --http` on start, or set in HARNESS_MCP_TOKEN)\n",
        );
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    inert_body(service.handle(request).await)
}

/// `response` with its body escaped on the way out ([`InertStream`]: JSON
/// and SSE events whose JSON the SDK serialized with plain serde_json).
fn inert_body(response: http::Response<Body>) -> http::Response<Body> {
    response.map(|body| {
        let mut stream = InertStream::default();
        body.map_frame(move |frame| {
            frame.map_data(|data| {
                let mut out = Vec::with_capacity(data.len());
                stream.push(&data, &mut out);
                Bytes::from(out)
            })
        })
        .boxed()
    })
}

/// A body-less copy of `request`'s head, for the SDK's header checks. Its
/// method is OPTIONS so nothing else is acted on.
fn strip_body(request: &http::Request<hyper::body::Incoming>) -> http::Request<Full<Bytes>> {
    let mut probe = http::Request::new(Full::new(Bytes::new()));
    *probe.method_mut() = http::Method::OPTIONS;
    *probe.uri_mut() = request.uri().clone();
    for name in [http::header::HOST, http::header::ORIGIN] {
        for value in request.headers().get_all(&name) {
            probe.headers_mut().append(name.clone(), value.clone());
        }
    }
    probe
}

fn plain(status: http::StatusCode, text: &'static str) -> http::Response<Body> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response body (an SSE event carrying the SDK's JSON, cut inside a
    /// character) goes out escaped and parses to the same value.
    #[tokio::test]
    async fn response_bodies_go_out_inert() {
        let value = serde_json::json!({"title": "ok\u{9b}2J\u{202e}txt.exe\u{2028}"});
        let event = format!("data: {}\n\n", serde_json::to_string(&value).expect("json"));
        let bytes = event.as_bytes();
        let cut = event.find('\u{202e}').expect("bidi") + 1;
        let chunks: Vec<Result<hyper::body::Frame<Bytes>, Infallible>> = vec![
            Ok(hyper::body::Frame::data(Bytes::copy_from_slice(
                &bytes[..cut],
            ))),
            Ok(hyper::body::Frame::data(Bytes::copy_from_slice(
                &bytes[cut..],
            ))),
        ];
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(chunks)).boxed();
        let out = inert_body(http::Response::new(body))
            .into_body()
            .collect()
            .await
            .expect("collect")
            .to_bytes();
        let text = std::str::from_utf8(&out).expect("utf-8");
        assert!(text.is_ascii(), "{text:?}");
        let json = text.strip_prefix("data: ").expect("event").trim_end();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(json).expect("parses"),
            value
        );
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"Bearer ab", b"Bearer ab"));
        assert!(!constant_time_eq(b"Bearer ab", b"Bearer ac"));
        assert!(!constant_time_eq(b"Bearer a", b"Bearer ab"));
    }
}
