//! One HTTP POST through wasi:http, and a classification of what went wrong.
//!
//! The host performs the request on the plugin's behalf and checks its URL
//! against the plugin's network grant first; a request outside the grant
//! never leaves the host and comes back as `HTTP-request-denied`.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::reply::MAX_BODY_BYTES;

/// `blocking-write-and-flush` takes at most this many bytes per call.
const WRITE_CHUNK: usize = 4096;

/// An `http://host:port/path` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub authority: String,
    pub path: String,
}

impl Url {
    /// Parse `url`; only `http://` (the host has no TLS client).
    pub fn parse(url: &str) -> Result<Url, String> {
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some(("https", _)) => {
                return Err(format!(
                    "`{url}` is https, but the host has no TLS client\nhint: use an http:// URL: a local model server, or a TLS-terminating proxy on a granted address"
                ));
            }
            _ => return Err(format!("`{url}` is not an http:// URL")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!(
                "`{url}` needs a host (and no user info), e.g. http://127.0.0.1:11434/v1/chat/completions"
            ));
        }
        Ok(Url {
            authority: authority.to_string(),
            path,
        })
    }
}

/// What a finished exchange gave back.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// At most [`MAX_BODY_BYTES`] + 1 bytes: one more than allowed tells the
    /// caller the body was too large without reading all of it.
    pub body: Vec<u8>,
}

/// Why no response arrived.
#[derive(Debug)]
pub enum Failure {
    /// The host refused the request: its address is not in the grant.
    Denied,
    /// Anything else (refused connection, reset, timeout, protocol error).
    Other(String),
}

/// POST `body` as JSON to `url`, with `authorization` if given.
pub fn post_json(url: &Url, body: &[u8], authorization: Option<&str>) -> Result<Response, Failure> {
    let other = |what: &str| Failure::Other(what.to_string());
    let headers = Fields::new();
    let set = |name: &str, value: &[u8]| {
        headers
            .append(name, value)
            .map_err(|e| Failure::Other(format!("cannot set header `{name}`: {e:?}")))
    };
    set("content-type", b"application/json")?;
    set("accept", b"application/json")?;
    set("content-length", body.len().to_string().as_bytes())?;
    if let Some(token) = authorization {
        set("authorization", format!("Bearer {token}").as_bytes())?;
    }
    let request = OutgoingRequest::new(headers);
    request
        .set_method(&Method::Post)
        .map_err(|()| other("invalid method"))?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| other("invalid scheme"))?;
    request
        .set_authority(Some(&url.authority))
        .map_err(|()| other("invalid authority"))?;
    request
        .set_path_with_query(Some(&url.path))
        .map_err(|()| other("invalid path"))?;
    let outgoing = request.body().map_err(|()| other("no request body"))?;

    // Hand the request over first, then stream the body: the host sends as
    // the body is written.
    let pending = outgoing_handler::handle(request, None).map_err(classify)?;
    let written = match write_body(&outgoing, body) {
        Ok(()) => OutgoingBody::finish(outgoing, None).map_err(classify),
        Err(e) => {
            drop(outgoing);
            Err(e)
        }
    };

    // The host decides on the request (a denial, a refused connection) while
    // the body is being written, so a failed write is explained by the
    // request's own outcome, when it has one.
    pending.subscribe().block();
    let outcome = pending
        .get()
        .ok_or_else(|| other("no response after the pollable was ready"))?
        .map_err(|()| other("the response was already taken"))?;
    let response = match (outcome, written) {
        (Err(code), _) => return Err(classify(code)),
        (Ok(_), Err(e)) => return Err(e),
        (Ok(response), Ok(())) => response,
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| other("no response body"))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| other("no response body stream"))?;
        while bytes.len() <= MAX_BODY_BYTES {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(stream_failure("reading the response", e)),
            }
        }
    }
    bytes.truncate(MAX_BODY_BYTES + 1);
    Ok(Response {
        status,
        body: bytes,
    })
}

/// Write `body` to the request's body stream, in chunks the stream accepts.
fn write_body(outgoing: &OutgoingBody, body: &[u8]) -> Result<(), Failure> {
    let stream = outgoing
        .write()
        .map_err(|()| Failure::Other("no request body stream".into()))?;
    for chunk in body.chunks(WRITE_CHUNK) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| stream_failure("sending the request", e))?;
    }
    Ok(())
}

fn classify(code: ErrorCode) -> Failure {
    match code {
        ErrorCode::HttpRequestDenied => Failure::Denied,
        other => Failure::Other(format!("{other:?}")),
    }
}

fn stream_failure(during: &str, e: StreamError) -> Failure {
    match e {
        StreamError::Closed => Failure::Other(format!("the connection closed while {during}")),
        StreamError::LastOperationFailed(e) => {
            Failure::Other(format!("{during} failed: {}", e.to_debug_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            Url::parse("http://127.0.0.1:11434/v1/chat/completions"),
            Ok(Url {
                authority: "127.0.0.1:11434".into(),
                path: "/v1/chat/completions".into()
            })
        );
        assert_eq!(
            Url::parse("http://localhost:8080").map(|u| u.path),
            Ok("/".into())
        );
        assert_eq!(
            Url::parse("http://h:1?x=1").map(|u| u.path),
            Ok("/?x=1".into())
        );
    }

    #[test]
    fn only_plain_http_urls_with_a_host_are_accepted() {
        let https = Url::parse("https://api.example.com/v1").expect_err("https");
        assert!(https.contains("no TLS client"), "{https}");
        assert!(Url::parse("ftp://h/").is_err());
        assert!(Url::parse("127.0.0.1:11434/v1").is_err());
        assert!(Url::parse("http:///v1").is_err());
        assert!(Url::parse("http://user:pw@h:1/").is_err());
    }
}
