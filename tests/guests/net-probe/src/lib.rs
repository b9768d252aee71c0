//! A tool that tries one network operation named by its input and reports what
//! happened as JSON instead of failing, so tests can drive every kind of
//! attempt (TCP connect, UDP send, listen, name lookup, wasi:http GET) and then
//! check, host-side, whether anything got through.
//!
//! Input: `{"action": "tcp-connect" | "udp-send" | "tcp-listen", "address": "host:port"}`,
//! `{"action": "lookup", "name": "..."}`, `{"action": "http-get", "url": "http://..."}`
//! (raw wasi:http, so any scheme can be tried) or `{"action": "sdk-get", "url": ...}`
//! (through `harness_sdk::http`, optionally with `"timeout_ms"`, reporting its
//! typed error).
//! Output: `{"action": ..., "ok": true, ...}` or `{"action": ..., "ok": false, "error": "..."}`.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
use serde_json::{Value, json};

use harness_sdk::http::wasi::wasi::http::outgoing_handler;
use harness_sdk::http::wasi::wasi::http::types::{Fields, OutgoingRequest, Scheme};
use harness_sdk::http::wasi::wasi::io::streams::StreamError;

/// What the probe sends over TCP and UDP; tests look for these bytes.
const PAYLOAD: &[u8] = b"net-probe says hello";

#[derive(serde::Deserialize)]
struct Input {
    action: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    /// For `sdk-get`: the request's timeout.
    #[serde(default)]
    timeout_ms: Option<u64>,
}

struct NetProbe;

impl Tool for NetProbe {
    fn describe() -> Descriptor {
        Descriptor::new(
            "net-probe",
            "Tries one network operation and reports the outcome.",
        )
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let input: Input = input.parse()?;
        let outcome = match input.action.as_str() {
            "tcp-connect" => tcp_connect(&input.address),
            "udp-send" => udp_send(&input.address),
            "tcp-listen" => tcp_listen(&input.address),
            "lookup" => lookup(&input.name),
            "http-get" => http_get(&input.url),
            "sdk-get" => sdk_get(&input.url, input.timeout_ms),
            other => {
                return Err(PluginError::invalid_input(format!(
                    "unknown action `{other}`"
                )));
            }
        };
        let mut report = match outcome {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(other) => json!({ "result": other }),
            Err(error) => json!({ "ok": false, "error": error }),
        };
        report["action"] = json!(input.action);
        if report.get("ok").is_none() {
            report["ok"] = json!(true);
        }
        ToolOutput::json(&report)
    }
}

fn tcp_connect(address: &str) -> Result<Value, String> {
    let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream.write_all(PAYLOAD).map_err(|e| e.to_string())?;
    stream.flush().map_err(|e| e.to_string())?;
    Ok(json!({ "sent": PAYLOAD.len() }))
}

fn udp_send(address: &str) -> Result<Value, String> {
    let target: SocketAddr = address.parse().map_err(|e| format!("bad address: {e}"))?;
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(local).map_err(|e| format!("bind: {e}"))?;
    let sent = socket.send_to(PAYLOAD, target).map_err(|e| e.to_string())?;
    Ok(json!({ "sent": sent }))
}

fn tcp_listen(address: &str) -> Result<Value, String> {
    let listener = TcpListener::bind(address).map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    Ok(json!({ "listening": local.to_string() }))
}

fn lookup(name: &str) -> Result<Value, String> {
    let addrs: Vec<String> = (name, 0)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .map(|a| a.ip().to_string())
        .collect();
    Ok(json!({ "addresses": addrs }))
}

fn http_get(url: &str) -> Result<Value, String> {
    let (scheme, rest) = url.split_once("://").ok_or("the url has no scheme")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| "invalid scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "invalid authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "invalid path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response after the pollable was ready")?
        .map_err(|()| "the response was already taken")?
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "no body")?;
    let stream = body.stream().map_err(|()| "no body stream")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(4096) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
        }
    }
    Ok(json!({ "status": status, "body": String::from_utf8_lossy(&bytes) }))
}

/// A GET through the SDK's client. A failure is reported with the error's
/// variant, its message and the host's own text, so tests can check what a
/// plugin author gets to see.
fn sdk_get(url: &str, timeout_ms: Option<u64>) -> Result<Value, String> {
    use harness_sdk::http::{Error, Request};
    let sent = Request::get(url).and_then(|request| match timeout_ms {
        Some(ms) => request.timeout(std::time::Duration::from_millis(ms)).send(),
        None => request.send(),
    });
    match sent {
        Ok(response) => Ok(json!({
            "status": response.status(),
            "body": String::from_utf8_lossy(response.body()),
        })),
        Err(e) => {
            let kind = match &e {
                Error::Denied { .. } => "denied",
                Error::Tls { .. } => "tls",
                Error::Timeout { .. } => "timeout",
                Error::Unreachable { .. } => "unreachable",
                Error::Host { .. } => "host",
                Error::InvalidUrl { .. } => "invalid-url",
                _ => "other",
            };
            Ok(json!({
                "ok": false,
                "kind": kind,
                "error": e.to_string(),
                "host_message": e.host_message(),
                "transient": e.is_transient(),
            }))
        }
    }
}

harness_sdk::export_tool!(NetProbe);
