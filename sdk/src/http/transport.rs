//! One exchange through wasi:http's outgoing handler: the request handed to
//! the host, the body streamed, the response read up to the limit.
//!
//! The host checks the request against the plugin's network grant when it is
//! handed over (a refusal comes back from `handle` or as the response's
//! outcome, as an `error-code`), so nothing here decides what may be reached.

use super::request::{Method, Request};
use super::url::Scheme;
use super::wasi::wasi::http::outgoing_handler;
use super::wasi::wasi::http::types::{
    self as wasi_http, Fields, OutgoingBody, OutgoingRequest, RequestOptions,
};
use super::wasi::wasi::io::streams::{InputStream, StreamError};
use super::{Error, Response};

/// `blocking-write-and-flush` takes at most 4096 bytes per call.
const WRITE_CHUNK: usize = 4096;
/// The most bytes asked of the body stream per read.
const READ_CHUNK: u64 = 64 * 1024;

const SENDING: &str = "sending the request to";
const READING: &str = "reading the response from";

/// Send `request` and read the whole response.
pub(super) fn send(request: &Request) -> Result<Response, Error> {
    let url = request.url().to_string();
    let host_error = |what: &str| Error::Host {
        url: url.clone(),
        code: "internal-error",
        message: Some(what.to_string()),
    };

    let headers = Fields::new();
    for (name, value) in request.headers() {
        headers
            .append(name, value)
            .map_err(|e| Error::InvalidHeader {
                name: name.clone(),
                reason: format!("the host refused it ({e:?})"),
            })?;
    }
    if request.method() == Method::Post || !request.body_bytes().is_empty() {
        headers
            .append(
                "content-length",
                request.body_bytes().len().to_string().as_bytes(),
            )
            .map_err(|e| host_error(&format!("cannot set content-length: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method() {
        Method::Get => wasi_http::Method::Get,
        Method::Post => wasi_http::Method::Post,
    };
    let scheme = match request.url().scheme() {
        Scheme::Http => wasi_http::Scheme::Http,
        Scheme::Https => wasi_http::Scheme::Https,
    };
    outgoing
        .set_method(&method)
        .map_err(|()| host_error("the method was refused"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| host_error("the scheme was refused"))?;
    outgoing
        .set_authority(Some(request.url().authority()))
        .map_err(|()| invalid_url(&url, "the host refused its authority"))?;
    outgoing
        .set_path_with_query(Some(request.url().path_and_query()))
        .map_err(|()| invalid_url(&url, "the host refused its path"))?;
    let body = outgoing
        .body()
        .map_err(|()| host_error("the request has no body"))?;
    let options = request.time_limit().map(|limit| {
        let options = RequestOptions::new();
        let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        // A host that does not support one of these keeps its default; the
        // invocation's own timeout still bounds the call.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    });

    // Hand the request over first, then stream the body: the host sends as
    // the body is written.
    let pending =
        outgoing_handler::handle(outgoing, options).map_err(|code| Error::from_code(&url, code))?;
    let written = write_body(&url, &body, request.body_bytes())
        .and_then(|()| OutgoingBody::finish(body, None).map_err(|c| Error::from_code(&url, c)));

    // The host decides on the request (a denial, a refused connection) while
    // the body is being written, so a failed write is explained by the
    // request's own outcome, when it has one.
    pending.subscribe().block();
    let outcome = pending
        .get()
        .ok_or_else(|| host_error("no response after the pollable was ready"))?
        .map_err(|()| host_error("the response was already taken"))?;
    let response = match (outcome, written) {
        (Err(code), _) => return Err(Error::from_code(&url, code)),
        (Ok(_), Err(e)) => return Err(e),
        (Ok(response), Ok(())) => response,
    };

    let status = response.status();
    let headers = {
        let fields = response.headers();
        fields.entries()
    };
    let incoming = response
        .consume()
        .map_err(|()| host_error("the response has no body"))?;
    let bytes = {
        let stream = incoming
            .stream()
            .map_err(|()| host_error("the response has no body stream"))?;
        read_body(&url, status, &stream, request.body_limit())?
    };
    drop(incoming);
    Ok(Response::new(url, status, headers, bytes))
}

/// Write `bytes` to the request's body stream, in chunks the stream accepts.
fn write_body(url: &str, body: &OutgoingBody, bytes: &[u8]) -> Result<(), Error> {
    let stream = body.write().map_err(|()| Error::Stream {
        url: url.to_string(),
        during: SENDING,
        message: "the request has no body stream".into(),
    })?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| stream_error(url, SENDING, e))?;
    }
    Ok(())
}

/// Read the body until it ends, failing once it exceeds `limit` bytes.
fn read_body(url: &str, status: u16, stream: &InputStream, limit: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(e) => return Err(stream_error(url, READING, e)),
        }
        if bytes.len() > limit {
            return Err(Error::BodyTooLarge {
                url: url.to_string(),
                status,
                limit,
            });
        }
    }
}

/// A stream failure, as the host's error code when it names one.
fn stream_error(url: &str, during: &'static str, e: StreamError) -> Error {
    match e {
        StreamError::Closed => Error::Stream {
            url: url.to_string(),
            during,
            message: "the connection closed".into(),
        },
        StreamError::LastOperationFailed(io) => match wasi_http::http_error_code(&io) {
            Some(code) => Error::from_code(url, code),
            None => Error::Stream {
                url: url.to_string(),
                during,
                message: io.to_debug_string(),
            },
        },
    }
}

fn invalid_url(url: &str, reason: &str) -> Error {
    Error::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}
