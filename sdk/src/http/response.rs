//! A response read whole: status, headers and a body within the request's
//! size limit.

use serde::de::DeserializeOwned;

use super::Error;

/// Characters of a body quoted in an [`Error::Status`].
const QUOTED_BODY_CHARS: usize = 200;

/// What the server answered. Redirects are not followed: a 3xx is returned
/// as it is (the host would check a new location against the grant anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    url: String,
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Response {
    /// A response to the request for `url`. The client builds these; tests of
    /// plugin logic may too.
    ///
    /// ```
    /// use harness_sdk::http::Response;
    ///
    /// let r = Response::new("http://h/", 200, vec![("Content-Type".into(), b"application/json".to_vec())], br#"{"ok":true}"#.to_vec());
    /// assert_eq!(r.header("content-type"), Some("application/json"));
    /// let value: serde_json::Value = r.json()?;
    /// assert_eq!(value["ok"], true);
    /// # Ok::<(), harness_sdk::http::Error>(())
    /// ```
    pub fn new(
        url: impl Into<String>,
        status: u16,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    ) -> Response {
        Response {
            url: url.into(),
            status,
            headers,
            body,
        }
    }

    /// The URL the request went to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Every header, in the order the server sent them.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body's bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, taken.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|_| Error::NotText {
            url: self.url.clone(),
        })
    }

    /// The body parsed as JSON into `T`. The status is not checked: call
    /// [`Response::error_for_status`] first when only a 2xx body will do.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Json {
            url: self.url.clone(),
            source,
        })
    }

    /// `self` if the status is 2xx, else [`Error::Status`] quoting the start
    /// of the body (where servers put their error message).
    ///
    /// ```
    /// use harness_sdk::http::{Error, Response};
    ///
    /// let r = Response::new("http://h/v1", 404, vec![], b"no such model".to_vec());
    /// let Err(e @ Error::Status { status: 404, .. }) = r.error_for_status() else { panic!() };
    /// assert_eq!(e.to_string(), "http://h/v1 answered HTTP 404: \"no such model\"");
    /// ```
    pub fn error_for_status(self) -> Result<Response, Error> {
        if self.is_success() {
            return Ok(self);
        }
        Err(Error::Status {
            body: quote_start(&self.body),
            url: self.url,
            status: self.status,
        })
    }
}

/// The start of `body` as quoted text, for messages.
fn quote_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut chars = text.trim().chars();
    let head: String = chars.by_ref().take(QUOTED_BODY_CHARS).collect();
    let more = if chars.next().is_some() { "..." } else { "" };
    format!("{:?}", format!("{head}{more}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_for_status_quotes_a_short_start_of_the_body() {
        let ok = Response::new("http://h/", 204, vec![], Vec::new());
        assert_eq!(ok.error_for_status().map(|r| r.status()).ok(), Some(204));
        let long = Response::new("http://h/", 500, vec![], vec![b'y'; 10_000]);
        let e = long.error_for_status().expect_err("500");
        assert!(e.is_transient());
        let text = e.to_string();
        assert!(text.len() < 300 && text.ends_with("...\""), "{text}");
    }

    #[test]
    fn text_and_json_errors_name_the_url() {
        let r = Response::new("http://h/x", 200, vec![], vec![0xff, b'{']);
        assert!(matches!(r.text(), Err(Error::NotText { url }) if url == "http://h/x"));
        let e = r.json::<serde_json::Value>().expect_err("not JSON");
        assert!(
            e.to_string()
                .starts_with("the response from http://h/x is not the expected JSON")
        );
    }
}
