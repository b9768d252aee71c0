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
//! somewhere else between the check and the connect. There is no TLS client:
//! `https://` is refused with a message saying so.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::net::TcpStream;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::{ip_name_lookup, network};
use wasmtime_wasi::sockets::WasiSocketsView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::invoke::StoreState;
use super::logs::LogCollector;
use crate::contract::LogLevel;
use crate::grants::net::{HttpHost, NetDenial, NetPolicy};
use crate::render::inert;

/// Connect timeout of a wasi:http request whose options set none. The
/// invocation's own timeout bounds everything anyway.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The wasi:sockets name-lookup interface as wasmtime-wasi links it; the
/// filter replaces its `resolve-addresses`.
const IP_NAME_LOOKUP: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// The response half of [`WasiHttpHooks::send_request`].
type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

/// The wasi:http hooks of one invocation.
pub(crate) struct GrantedHttp {
    policy: Arc<NetPolicy>,
    logs: LogCollector,
}

impl GrantedHttp {
    pub(crate) fn new(policy: Arc<NetPolicy>, logs: LogCollector) -> Self {
        Self { policy, logs }
    }
}

impl WasiHttpHooks for GrantedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let policy = Arc::clone(&self.policy);
        let logs = self.logs.clone();
        Box::new(send(policy, logs, request, options))
    }
}

/// Record a denial in the invocation's log and turn it into the error the
/// guest sees.
fn denied(policy: &NetPolicy, logs: &LogCollector, uri: &http::Uri, d: &NetDenial) -> HttpError {
    logs.push(LogLevel::Warn, &policy.render(d));
    if uri.scheme_str() == Some("https") {
        HttpError::InternalError(Some(
            "https is not supported by this host (it has no TLS client); use an http:// URL".into(),
        ))
    } else {
        HttpError::HttpRequestDenied
    }
}

async fn send(
    policy: Arc<NetPolicy>,
    logs: LogCollector,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    let uri = request.uri().clone();
    let action = format!(
        "http {} {}",
        inert(request.method().as_str()),
        inert(&uri.to_string())
    );
    let deny = |d: NetDenial| denied(&policy, &logs, &uri, &d);

    let (host, port) = policy.http_target(&action, &uri).map_err(deny)?;
    let candidates = match host {
        HttpHost::Ip(ip) => vec![SocketAddr::new(ip, port)],
        HttpHost::Name(name) => {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|e| HttpError::DnsError {
                    rcode: Some(e.to_string()),
                    info_code: None,
                })?
                .collect();
            policy
                .check_resolved(&action, &name, port, &resolved)
                .map_err(deny)?
        }
    };

    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let first_byte_timeout = options.and_then(|o| o.first_byte_timeout);
    let stream = connect_any(&candidates, connect_timeout).await?;
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)??;

    // The request line carries only the path: scheme and authority are for
    // proxies (the Host header names the authority).
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    // Drive the connection while waiting for the response head; afterwards
    // the connection future is handed back so the body can keep streaming.
    let response = async {
        let response = sender.send_request(request);
        match first_byte_timeout {
            Some(limit) => tokio::time::timeout(limit, response)
                .await
                .map_err(|_| HttpError::ConnectionReadTimeout)?
                .map_err(HttpError::from),
            None => response.await.map_err(HttpError::from),
        }
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

/// Connect to the first candidate that answers. Every candidate has been
/// checked against the grant.
async fn connect_any(
    candidates: &[SocketAddr],
    timeout: Duration,
) -> wasmtime_wasi_http::Result<TcpStream> {
    let mut last = HttpError::ConnectionRefused;
    for addr in candidates {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = HttpError::Connect(e),
            Err(_) => last = HttpError::ConnectionTimeout,
        }
    }
    Err(last)
}

/// Replace wasmtime-wasi's `resolve-addresses` with one that asks the
/// plugin's [`NetPolicy`] first, so only granted names ever reach the
/// resolver. A denied lookup is logged and answers `access-denied`.
pub(crate) fn add_lookup_filter(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = linker.instance(IP_NAME_LOOKUP).and_then(|mut instance| {
        instance.func_wrap(
            "resolve-addresses",
            |mut store: wasmtime::StoreContextMut<'_, StoreState>,
             (net, name): (Resource<network::Network>, String)| {
                let state = store.data_mut();
                if let Err(denial) = state.network.check_lookup(&name) {
                    state
                        .logs
                        .push(LogLevel::Warn, &state.network.render(&denial));
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
