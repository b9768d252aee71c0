//! The network plumbing of an invocation: the wasi:http sender that enforces
//! the plugin's network grant, and the filter in front of wasi:sockets name
//! lookups.
//!
//! The decisions are [`NetPolicy`]'s (in [`crate::grants::net`]); this module
//! wires them into wasmtime-wasi and wasmtime-wasi-http and records every
//! denial in the invocation's log.
//!
//! Why the host sends HTTP requests itself: wasmtime-wasi-http's default
//! sender connects to whatever the URL names, bypassing the socket address
//! check. Here the authority is checked first (scheme, canonical IP or granted
//! name), a granted name is resolved and every candidate checked, and the
//! connection is made to a *checked* address, so a name cannot resolve
//! somewhere else between the check and the connect.
//!
//! `https://` URLs (port 443 unless the URL names one; the grant must name
//! the port either way) get TLS over that checked connection, with the
//! plugin's client configuration ([`crate::grants::tls`]): SNI and
//! certificate verification use the host named in the URL, never the
//! address it resolved to, and nothing can turn verification off. A failed
//! handshake is logged like a denial, naming what failed (unknown issuer,
//! name mismatch, expired, not TLS) and the key that would change it.
//!
//! Connecting, the TLS handshake and the wait for the response head are each
//! bounded by the request's own timeouts and always by the invocation's
//! deadline (`[limits] timeout-ms`). Redirects are never followed: the
//! response, 3xx included, is handed to the guest, and a request to the
//! `Location` it names is a new request, checked like any other.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http_body_util::BodyExt;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::{ip_name_lookup, network};
use wasmtime_wasi::sockets::WasiSocketsView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::logs::LogCollector;
use crate::contract::LogLevel;
use crate::grants::net::{HttpHost, NetDenial, NetPolicy};
use crate::grants::tls::{self, TlsFailure};
use crate::render::inert;

/// Connect (and TLS handshake) timeout of a wasi:http request whose options
/// set none. The invocation's deadline bounds it anyway.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The wasi:sockets name-lookup interface as wasmtime-wasi links it; the
/// filter replaces its `resolve-addresses`.
const IP_NAME_LOOKUP: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// The first byte of a TLS alert and of a TLS handshake record: what a TLS
/// server sends back to a plain-HTTP request, if anything.
const TLS_RECORD_FIRST_BYTES: [u8; 2] = [0x15, 0x16];

/// The response half of [`WasiHttpHooks::send_request`].
type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

/// What one invocation's network plumbing needs: the plugin's grant, its
/// TLS trust, the log its denials go to, and the invocation's deadline.
#[derive(Clone)]
pub(crate) struct NetScope {
    pub(crate) policy: Arc<NetPolicy>,
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) logs: LogCollector,
    /// When the invocation is stopped (its `timeout-ms` plus the runtime's
    /// grace): no connect, handshake or wait for a response outlives it.
    pub(crate) deadline: Instant,
}

impl NetScope {
    /// The earlier of `limit` from now and the invocation's deadline.
    fn bound(&self, limit: Option<Duration>) -> Instant {
        match limit.and_then(|l| Instant::now().checked_add(l)) {
            Some(at) => at.min(self.deadline),
            None => self.deadline,
        }
    }

    /// Record a denial in the invocation's log and turn it into the error
    /// the guest sees.
    fn denied(&self, d: &NetDenial) -> HttpError {
        self.logs.push(LogLevel::Warn, &self.policy.render(d));
        HttpError::HttpRequestDenied
    }

    /// Record a failed request in the invocation's log, like a denial:
    /// plugin, request, what failed and what would change it.
    fn failed(&self, action: &str, what: &str, remedy: &str) {
        self.logs.push(
            LogLevel::Warn,
            &format!(
                "network request failed for plugin `{}`: {action}: {what}; {remedy}",
                self.policy.plugin()
            ),
        );
    }
}

/// The wasi:http hooks of one invocation.
pub(crate) struct GrantedHttp {
    scope: NetScope,
}

impl GrantedHttp {
    pub(crate) fn new(scope: NetScope) -> Self {
        Self { scope }
    }
}

impl WasiHttpHooks for GrantedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        Box::new(send(self.scope.clone(), request, options))
    }
}

async fn send(
    scope: NetScope,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    let uri = request.uri().clone();
    let action = format!(
        "http {} {}",
        inert(request.method().as_str()),
        inert(&uri.to_string())
    );
    let https = uri.scheme_str() == Some("https");

    let (host, port) = scope
        .policy
        .http_target(&action, &uri)
        .map_err(|d| scope.denied(&d))?;
    // The name certificates are checked against: the URL's host, never an
    // address it resolved to.
    let (candidates, server_name) = match host {
        HttpHost::Ip(ip) => (
            vec![SocketAddr::new(ip, port)],
            ServerName::IpAddress(ip.into()),
        ),
        HttpHost::Name(name) => {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|e| HttpError::DnsError {
                    rcode: Some(e.to_string()),
                    info_code: None,
                })?
                .collect();
            let allowed = scope
                .policy
                .check_resolved(&action, &name, port, &resolved)
                .map_err(|d| scope.denied(&d))?;
            let server_name =
                ServerName::try_from(name).map_err(|_| HttpError::HttpRequestUriInvalid)?;
            (allowed, server_name)
        }
    };

    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .or(Some(DEFAULT_CONNECT_TIMEOUT));
    let first_byte_timeout = options.and_then(|o| o.first_byte_timeout);
    let stream = connect_any(&candidates, scope.bound(connect_timeout)).await?;

    // The request line carries only the path: scheme and authority are for
    // proxies (the Host header names the authority).
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    if https {
        let stream = tls_handshake(
            &scope,
            &action,
            server_name,
            port,
            stream,
            scope.bound(connect_timeout),
        )
        .await?;
        exchange(stream, request, scope.bound(first_byte_timeout)).await
    } else {
        let first = Arc::new(AtomicU16::new(NO_BYTE));
        let stream = FirstByte {
            inner: stream,
            first: Arc::clone(&first),
        };
        let result = exchange(stream, request, scope.bound(first_byte_timeout)).await;
        if let Err(e) = &result
            && !matches!(e, HttpError::ConnectionReadTimeout)
        {
            name_plain_failure(&scope, &action, first.load(Ordering::Relaxed));
        }
        result
    }
}

/// TLS over the checked connection, verified for `server_name` (the URL's
/// host). A failure is logged, named, with what would change it.
async fn tls_handshake(
    scope: &NetScope,
    action: &str,
    server_name: ServerName<'static>,
    port: u16,
    stream: TcpStream,
    by: Instant,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, HttpError> {
    let shown_server = format!("{}:{port}", inert(&server_name.to_str()));
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&scope.tls));
    match tokio::time::timeout_at(by, connector.connect(server_name, stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => {
            let (failure, detail) = tls::classify(&e);
            scope.failed(
                action,
                &format!(
                    "TLS handshake with `{shown_server}` failed: {} ({})",
                    failure.name(),
                    inert(&detail)
                ),
                &failure.remedy(scope.policy.manifest()),
            );
            Err(match failure {
                TlsFailure::NotTls | TlsFailure::Other => HttpError::TlsProtocolError,
                _ => HttpError::TlsCertificateError,
            })
        }
        Err(_) => {
            scope.failed(
                action,
                &format!("TLS handshake with `{shown_server}` timed out"),
                "the server accepted the connection but did not complete a TLS handshake in time; check that it serves TLS on that port",
            );
            Err(HttpError::ConnectionTimeout)
        }
    }
}

/// After a plain-HTTP exchange failed: if the server answered with a TLS
/// record, or hung up without a byte, say that it may want https.
fn name_plain_failure(scope: &NetScope, action: &str, first: u16) {
    let tls_answer = u8::try_from(first).is_ok_and(|b| TLS_RECORD_FIRST_BYTES.contains(&b));
    let what = if tls_answer {
        "the server answered with TLS, not HTTP"
    } else if first == NO_BYTE {
        "the server closed the connection without an HTTP response"
    } else {
        return;
    };
    scope.failed(
        action,
        what,
        "if the server speaks TLS on that port, use an https:// URL",
    );
}

/// Send `request` over `io` and wait (until `first_byte_by`) for the
/// response head. The connection keeps running in the returned future so
/// the body can stream.
async fn exchange<S>(io: S, request: http::Request<WasiBody>, first_byte_by: Instant) -> SendResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;

    // Drive the connection while waiting for the response head; afterwards
    // the connection future is handed back so the body can keep streaming.
    let response = async {
        tokio::time::timeout_at(first_byte_by, sender.send_request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(HttpError::from)
    };
    let mut response = pin!(response);
    let mut conn = Some(conn);
    let response = poll_fn(|cx| match response.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result),
        Poll::Pending => {
            let Some(fut) = conn.as_mut() else {
                return Poll::Pending;
            };
            let finished = ready!(Pin::new(fut).poll(cx));
            conn = None;
            match finished {
                Ok(()) => response.as_mut().poll(cx),
                Err(e) => Poll::Ready(Err(HttpError::from(e))),
            }
        }
    })
    .await?;

    let io: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
        Box::new(async move {
            match conn {
                Some(conn) => conn.await.map_err(HttpError::from),
                None => Ok(()),
            }
        });
    Ok((
        response.map(|body| body.map_err(HttpError::from).boxed_unsync()),
        io,
    ))
}

/// [`FirstByte::first`] before anything was read.
const NO_BYTE: u16 = u16::MAX;

/// A plain connection that remembers the first byte the server sent, so a
/// failed plain-HTTP exchange can say whether the server spoke TLS.
struct FirstByte {
    inner: TcpStream,
    first: Arc<AtomicU16>,
}

impl AsyncRead for FirstByte {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Some(&byte) = buf.filled().get(before) {
            let _ = self.first.compare_exchange(
                NO_BYTE,
                u16::from(byte),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        result
    }
}

impl AsyncWrite for FirstByte {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Connect to the first candidate that answers. Every candidate has been
/// checked against the grant.
async fn connect_any(
    candidates: &[SocketAddr],
    by: Instant,
) -> wasmtime_wasi_http::Result<TcpStream> {
    let mut last = HttpError::ConnectionRefused;
    for addr in candidates {
        match tokio::time::timeout_at(by, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = HttpError::Connect(e),
            Err(_) => last = HttpError::ConnectionTimeout,
        }
    }
    Err(last)
}

/// Replace wasmtime-wasi's `resolve-addresses` with one that asks the
/// plugin's [`NetPolicy`] first, so only granted names ever reach the
/// resolver. A denied lookup is logged and answers `access-denied`. `scope`
/// finds the invocation's [`NetScope`] in the store's data.
pub(crate) fn add_lookup_filter<T>(
    linker: &mut Linker<T>,
    scope: fn(&mut T) -> &NetScope,
) -> wasmtime::Result<()>
where
    T: WasiSocketsView + 'static,
{
    linker.allow_shadowing(true);
    let result = linker.instance(IP_NAME_LOOKUP).and_then(|mut instance| {
        instance.func_wrap(
            "resolve-addresses",
            move |mut store: wasmtime::StoreContextMut<'_, T>,
                  (net, name): (Resource<network::Network>, String)| {
                let state = store.data_mut();
                let scope = scope(state);
                if let Err(denial) = scope.policy.check_lookup(&name) {
                    scope
                        .logs
                        .push(LogLevel::Warn, &scope.policy.render(&denial));
                    return Ok((Err(network::ErrorCode::AccessDenied),));
                }
                let mut view = state.sockets();
                match ip_name_lookup::Host::resolve_addresses(&mut view, net, name) {
                    Ok(stream) => Ok((Ok(stream),)),
                    Err(e) => Ok((Err(network::Host::convert_error_code(&mut view, e)?),)),
                }
            },
        )
    });
    linker.allow_shadowing(false);
    result
}
