//! Building a request: method, URL, headers, body, limits. Everything is
//! checked here, before anything crosses to the host, so a mistake is a typed
//! [`Error`] naming the bad value rather than an opaque wasi:http failure.

use std::time::Duration;

use serde::Serialize;

use super::{Error, Response, Url, transport};

/// The largest response body read by default: 4 MiB. A plugin's memory is
/// small and a hostile or broken server may send without end; the rest of a
/// larger body is never read.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The request methods the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// One HTTP request, sent with [`Request::send`].
///
/// ```no_run
/// use harness_sdk::http::Request;
///
/// #[derive(serde::Deserialize)]
/// struct Reply { id: String }
///
/// let key = std::env::var("API_KEY").unwrap_or_default();
/// let reply: Reply = Request::post("https://api.example.com/v1/things")?
///     .header("authorization", format!("Bearer {key}"))?
///     .json(&serde_json::json!({ "name": "draft" }))?
///     .max_body_bytes(64 * 1024)
///     .timeout(std::time::Duration::from_secs(20))
///     .send()?
///     .error_for_status()?
///     .json()?;
/// println!("created {}", reply.id);
/// # Ok::<(), harness_sdk::http::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: Url,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    max_body_bytes: usize,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` to `url`.
    pub fn new(method: Method, url: &str) -> Result<Request, Error> {
        Ok(Request {
            method,
            url: Url::parse(url)?,
            headers: Vec::new(),
            body: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeout: None,
        })
    }

    /// A `GET` of `url`.
    pub fn get(url: &str) -> Result<Request, Error> {
        Request::new(Method::Get, url)
    }

    /// A `POST` to `url` (set the body with [`Request::json`] or
    /// [`Request::body`]).
    pub fn post(url: &str) -> Result<Request, Error> {
        Request::new(Method::Post, url)
    }

    /// Add header `name: value`. Names are tokens (letters, digits and
    /// ``!#$%&'*+-.^_`|~``); values may not contain CR, LF or NUL, so a
    /// configured value cannot inject a header of its own.
    ///
    /// ```
    /// use harness_sdk::http::{Error, Request};
    ///
    /// let request = Request::get("http://127.0.0.1:8080/")?.header("accept", "text/plain")?;
    /// assert_eq!(request.headers()[0].0, "accept");
    /// let bad = Request::get("http://127.0.0.1:8080/")?.header("x-key", "k\r\nhost: evil");
    /// assert!(matches!(bad, Err(Error::InvalidHeader { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Result<Request, Error> {
        let value = value.as_ref();
        let invalid = |reason: &str| Error::InvalidHeader {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(invalid(
                "a header name is letters, digits and !#$%&'*+-.^_`|~ only",
            ));
        }
        if value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(invalid("the value contains CR, LF or NUL"));
        }
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("host") {
            return Err(invalid(
                "the client sets it itself (from the body and the URL)",
            ));
        }
        self.headers.push((name.to_string(), value.to_vec()));
        Ok(self)
    }

    /// Send `body` as the request body, as it is.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Send `value` serialized as JSON, with `content-type: application/json`
    /// (and `accept: application/json` unless an `accept` header is set).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Request, Error> {
        self.body = serde_json::to_vec(value).map_err(Error::Encode)?;
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("content-type".into(), b"application/json".to_vec()));
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
        {
            self.headers
                .push(("accept".into(), b"application/json".to_vec()));
        }
        Ok(self)
    }

    /// Read at most `limit` bytes of the response body; a longer body fails
    /// with [`Error::BodyTooLarge`] (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn max_body_bytes(mut self, limit: usize) -> Request {
        self.max_body_bytes = limit;
        self
    }

    /// Give up connecting, and waiting for the first byte of the response or
    /// for the next one, after `limit`. The host stops the whole call at the
    /// plugin's `[limits] timeout-ms` in any case.
    pub fn timeout(mut self, limit: Duration) -> Request {
        self.timeout = Some(limit);
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The headers set so far, in order.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body set so far.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The response body limit.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    /// The timeout, if one was set.
    pub fn time_limit(&self) -> Option<Duration> {
        self.timeout
    }

    /// Send the request through the host and read the response. Any status
    /// is a response; see [`Response::error_for_status`].
    pub fn send(&self) -> Result<Response, Error> {
        transport::send(self)
    }
}

/// Whether `b` may appear in a header name (RFC 9110 `tchar`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_sets_the_body_and_content_type_once() {
        let request = Request::post("http://h/")
            .and_then(|r| r.header("Content-Type", "text/plain"))
            .and_then(|r| r.header("accept", "application/x-ndjson"))
            .and_then(|r| r.json(&serde_json::json!({"a": 1})))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.body_bytes(), br#"{"a":1}"#);
        let names: Vec<&str> = request.headers().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["accept", "content-type"]);
        assert_eq!(request.method(), Method::Post);
        assert_eq!(request.body_limit(), DEFAULT_MAX_BODY_BYTES);
    }

    #[test]
    fn bad_header_names_and_values_are_refused() {
        let base = Request::get("http://h/").unwrap_or_else(|e| panic!("{e}"));
        for (name, value) in [
            ("", "v"),
            ("x key", "v"),
            ("x:key", "v"),
            ("x-key", "a\nb"),
            ("x-key", "a\0b"),
            ("Host", "other"),
            ("content-length", "1"),
        ] {
            let result = base.clone().header(name, value);
            assert!(
                matches!(result, Err(Error::InvalidHeader { .. })),
                "{name:?}: {value:?}"
            );
        }
    }
}
