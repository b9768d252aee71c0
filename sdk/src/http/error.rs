//! Why a request got no usable response, as one typed error.
//!
//! The host sends every request on the plugin's behalf and answers refusals
//! with a wasi:http `error-code`: `HTTP-request-denied` when the URL is
//! outside the plugin's network grant, `internal-error` with a message when it
//! refuses for another reason, a `TLS-*` code when the certificate does not
//! verify. [`Error::from_code`] keeps the code's WIT name and any text the
//! host attached, so a plugin can pass the host's own words on to a person.
//! The host also writes each denial, naming the manifest entry that would
//! allow it, into the invocation's log.

use super::wasi::wasi::http::types::ErrorCode;

/// What went wrong with a request. Messages name the URL and, where one is
/// known, end in a `hint:` line saying what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be sent (scheme, host, port or characters).
    #[error("`{url}` is not a URL this client can send to: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value cannot be sent.
    #[error("header `{name}` cannot be sent: {reason}")]
    InvalidHeader {
        /// The header's name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request body could not be encoded as JSON.
    #[error("cannot encode the request body as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// The host refused the request: its destination is outside the plugin's
    /// network grant. Nothing was sent.
    #[error(
        "the host denied the request to {url}: it is outside this plugin's network grant{}\nhint: the host's log names the entry to add to `[grants] network` in the plugin's plugin.toml",
        detail(.message)
    )]
    Denied {
        /// The request's URL.
        url: String,
        /// The host's explanation, when it gave one.
        message: Option<String>,
    },
    /// The host reached the server but TLS failed (unknown issuer, a
    /// certificate for another name, an expired one, a protocol error).
    #[error(
        "the TLS connection to {url} failed ({code}){}\nhint: check the URL's host name; an internal CA needs its root in the plugin's `[grants] tls-roots`",
        detail(.message)
    )]
    Tls {
        /// The request's URL.
        url: String,
        /// The wasi:http error code's WIT name, e.g. `TLS-certificate-error`.
        code: &'static str,
        /// The host's explanation, when it gave one.
        message: Option<String>,
    },
    /// Connecting, or waiting for the response, took longer than allowed.
    #[error("the request to {url} timed out ({code})")]
    Timeout {
        /// The request's URL.
        url: String,
        /// The wasi:http error code's WIT name, e.g. `connection-timeout`.
        code: &'static str,
    },
    /// The server could not be reached: the name did not resolve, the
    /// connection was refused or cut.
    #[error("{url} could not be reached ({code}){}", detail(.message))]
    Unreachable {
        /// The request's URL.
        url: String,
        /// The wasi:http error code's WIT name, e.g. `connection-refused`.
        code: &'static str,
        /// The host's explanation, when it gave one.
        message: Option<String>,
    },
    /// Any other failure the host reported, with its code and message (an
    /// `internal-error` carries the host's reason as text).
    #[error("the host could not complete the request to {url} ({code}){}", detail(.message))]
    Host {
        /// The request's URL.
        url: String,
        /// The wasi:http error code's WIT name.
        code: &'static str,
        /// The host's explanation, when it gave one.
        message: Option<String>,
    },
    /// The server answered with a status outside 2xx (from
    /// [`super::Response::error_for_status`]).
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The request's URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body, as text, quoted.
        body: String,
    },
    /// The response body is larger than the request's limit; the rest was not
    /// read.
    #[error(
        "the response from {url} (HTTP {status}) is larger than {limit} bytes\nhint: raise the limit with `Request::max_body_bytes` if such a body is expected"
    )]
    BodyTooLarge {
        /// The request's URL.
        url: String,
        /// The status of the response.
        status: u16,
        /// The limit in bytes.
        limit: usize,
    },
    /// The response body is not UTF-8 (from [`super::Response::text`]).
    #[error("the response from {url} is not UTF-8 text")]
    NotText {
        /// The request's URL.
        url: String,
    },
    /// The response body is not the JSON the caller expected (from
    /// [`super::Response::json`]).
    #[error("the response from {url} is not the expected JSON: {source}")]
    Json {
        /// The request's URL.
        url: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// Sending the body or reading the response failed part way.
    #[error("{during} {url} failed: {message}")]
    Stream {
        /// The request's URL.
        url: String,
        /// `sending the request to` or `reading the response from`.
        during: &'static str,
        /// What the stream reported.
        message: String,
    },
}

impl Error {
    /// The error for a wasi:http `code` the host answered a request to `url`
    /// with.
    ///
    /// ```
    /// use harness_sdk::http::Error;
    /// use harness_sdk::http::wasi::wasi::http::types::ErrorCode;
    ///
    /// let denied = Error::from_code("http://10.0.0.1/", ErrorCode::HttpRequestDenied);
    /// assert!(matches!(denied, Error::Denied { .. }));
    /// assert!(denied.to_string().starts_with("the host denied the request to http://10.0.0.1/"));
    ///
    /// let refused = Error::from_code(
    ///     "https://h/",
    ///     ErrorCode::InternalError(Some("https is not supported by this host".into())),
    /// );
    /// assert_eq!(refused.host_message(), Some("https is not supported by this host"));
    /// assert!(refused.to_string().contains("(internal-error): https is not supported"));
    /// ```
    pub fn from_code(url: &str, code: ErrorCode) -> Error {
        let url = url.to_string();
        let name = code_name(&code);
        match code {
            ErrorCode::HttpRequestDenied => Error::Denied { url, message: None },
            ErrorCode::TlsProtocolError | ErrorCode::TlsCertificateError => Error::Tls {
                url,
                code: name,
                message: None,
            },
            ErrorCode::TlsAlertReceived(alert) => Error::Tls {
                url,
                code: name,
                message: alert.alert_message.or_else(|| {
                    alert
                        .alert_id
                        .map(|id| format!("the server sent TLS alert {id}"))
                }),
            },
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => Error::Timeout { url, code: name },
            ErrorCode::DnsError(dns) => Error::Unreachable {
                url,
                code: name,
                message: dns.rcode,
            },
            ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTerminated
            | ErrorCode::ConnectionLimitReached => Error::Unreachable {
                url,
                code: name,
                message: None,
            },
            ErrorCode::InternalError(message)
            | ErrorCode::HttpResponseTransferCoding(message)
            | ErrorCode::HttpResponseContentCoding(message) => Error::Host {
                url,
                code: name,
                message,
            },
            _ => Error::Host {
                url,
                code: name,
                message: None,
            },
        }
    }

    /// The text the host attached to its answer, if any: for a refusal, the
    /// host's own reason.
    pub fn host_message(&self) -> Option<&str> {
        match self {
            Error::Denied { message, .. }
            | Error::Tls { message, .. }
            | Error::Unreachable { message, .. }
            | Error::Host { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: timeouts, unreachable servers,
    /// cut streams, and the statuses 408, 429 and 5xx. A denial, a TLS
    /// failure or a malformed request will fail the same way again.
    ///
    /// ```
    /// use harness_sdk::http::Error;
    ///
    /// let busy = Error::Status { url: "http://h/".into(), status: 503, body: String::new() };
    /// assert!(busy.is_transient());
    /// let gone = Error::Status { url: "http://h/".into(), status: 404, body: String::new() };
    /// assert!(!gone.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Unreachable { .. } | Error::Stream { .. } => true,
            Error::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// `: <message>` when the host said more, else nothing.
fn detail(message: &Option<String>) -> String {
    message
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .map_or(String::new(), |m| format!(": {m}"))
}

/// The WIT name of `code`'s case, as the wasi:http spec spells it.
fn code_name(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::DnsTimeout => "DNS-timeout",
        ErrorCode::DnsError(_) => "DNS-error",
        ErrorCode::DestinationNotFound => "destination-not-found",
        ErrorCode::DestinationUnavailable => "destination-unavailable",
        ErrorCode::DestinationIpProhibited => "destination-IP-prohibited",
        ErrorCode::DestinationIpUnroutable => "destination-IP-unroutable",
        ErrorCode::ConnectionRefused => "connection-refused",
        ErrorCode::ConnectionTerminated => "connection-terminated",
        ErrorCode::ConnectionTimeout => "connection-timeout",
        ErrorCode::ConnectionReadTimeout => "connection-read-timeout",
        ErrorCode::ConnectionWriteTimeout => "connection-write-timeout",
        ErrorCode::ConnectionLimitReached => "connection-limit-reached",
        ErrorCode::TlsProtocolError => "TLS-protocol-error",
        ErrorCode::TlsCertificateError => "TLS-certificate-error",
        ErrorCode::TlsAlertReceived(_) => "TLS-alert-received",
        ErrorCode::HttpRequestDenied => "HTTP-request-denied",
        ErrorCode::HttpRequestLengthRequired => "HTTP-request-length-required",
        ErrorCode::HttpRequestBodySize(_) => "HTTP-request-body-size",
        ErrorCode::HttpRequestMethodInvalid => "HTTP-request-method-invalid",
        ErrorCode::HttpRequestUriInvalid => "HTTP-request-URI-invalid",
        ErrorCode::HttpRequestUriTooLong => "HTTP-request-URI-too-long",
        ErrorCode::HttpRequestHeaderSectionSize(_) => "HTTP-request-header-section-size",
        ErrorCode::HttpRequestHeaderSize(_) => "HTTP-request-header-size",
        ErrorCode::HttpRequestTrailerSectionSize(_) => "HTTP-request-trailer-section-size",
        ErrorCode::HttpRequestTrailerSize(_) => "HTTP-request-trailer-size",
        ErrorCode::HttpResponseIncomplete => "HTTP-response-incomplete",
        ErrorCode::HttpResponseHeaderSectionSize(_) => "HTTP-response-header-section-size",
        ErrorCode::HttpResponseHeaderSize(_) => "HTTP-response-header-size",
        ErrorCode::HttpResponseBodySize(_) => "HTTP-response-body-size",
        ErrorCode::HttpResponseTrailerSectionSize(_) => "HTTP-response-trailer-section-size",
        ErrorCode::HttpResponseTrailerSize(_) => "HTTP-response-trailer-size",
        ErrorCode::HttpResponseTransferCoding(_) => "HTTP-response-transfer-coding",
        ErrorCode::HttpResponseContentCoding(_) => "HTTP-response-content-coding",
        ErrorCode::HttpResponseTimeout => "HTTP-response-timeout",
        ErrorCode::HttpUpgradeFailed => "HTTP-upgrade-failed",
        ErrorCode::HttpProtocolError => "HTTP-protocol-error",
        ErrorCode::LoopDetected => "loop-detected",
        ErrorCode::ConfigurationError => "configuration-error",
        ErrorCode::InternalError(_) => "internal-error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::wasi::wasi::http::types::{DnsErrorPayload, TlsAlertReceivedPayload};

    #[test]
    fn a_denial_keeps_the_url_and_says_which_grant() {
        let e = Error::from_code("http://127.0.0.1:9/x", ErrorCode::HttpRequestDenied);
        let text = e.to_string();
        assert!(
            text.starts_with("the host denied the request to http://127.0.0.1:9/x: "),
            "{text}"
        );
        assert!(text.contains("\nhint: ") && text.contains("[grants] network"));
        assert!(!e.is_transient());
    }

    #[test]
    fn codes_are_grouped_and_keep_the_hosts_text() {
        let tls = Error::from_code(
            "https://h/",
            ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload {
                alert_id: Some(42),
                alert_message: Some("bad certificate".into()),
            }),
        );
        assert!(matches!(
            tls,
            Error::Tls {
                code: "TLS-alert-received",
                ..
            }
        ));
        assert_eq!(tls.host_message(), Some("bad certificate"));
        assert!(tls.to_string().contains("tls-roots"));

        let dns = Error::from_code(
            "http://nowhere/",
            ErrorCode::DnsError(DnsErrorPayload {
                rcode: Some("no such host".into()),
                info_code: None,
            }),
        );
        assert!(matches!(dns, Error::Unreachable { .. }) && dns.is_transient());
        assert!(
            dns.to_string().ends_with("(DNS-error): no such host"),
            "{dns}"
        );

        let timeout = Error::from_code("http://h/", ErrorCode::ConnectionReadTimeout);
        assert!(matches!(timeout, Error::Timeout { .. }) && timeout.is_transient());

        let refused = Error::from_code("http://h/", ErrorCode::ConnectionRefused);
        assert_eq!(
            refused.to_string(),
            "http://h/ could not be reached (connection-refused)"
        );

        let internal = Error::from_code("http://h/", ErrorCode::InternalError(Some(" ".into())));
        assert_eq!(
            internal.to_string(),
            "the host could not complete the request to http://h/ (internal-error)"
        );
        assert!(!internal.is_transient());
    }
}
