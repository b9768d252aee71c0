//! The URLs the client sends to: `http://` or `https://`, a host, an optional
//! port, a path and query.
//!
//! Parsing is deliberately strict and small. The host checks the authority
//! against the plugin's network grant (and, for `https`, verifies the
//! certificate against the host name written here), so what matters is that
//! the plugin sends exactly what it was configured with: no user info, no
//! whitespace or control characters, and no fragment (which never leaves a
//! client anyway).

use std::fmt;

use super::Error;

/// `http` or `https`. For `https` the host makes the TLS connection; the
/// plugin only names the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (default port 80).
    Http,
    /// HTTP over TLS, done by the host (default port 443).
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed request URL.
///
/// ```
/// use harness_sdk::http::{Scheme, Url};
///
/// let url = Url::parse("https://api.example.com/v1/messages?beta=1")?;
/// assert_eq!(url.scheme(), Scheme::Https);
/// assert_eq!(url.authority(), "api.example.com");
/// assert_eq!(url.path_and_query(), "/v1/messages?beta=1");
///
/// let local = Url::parse("http://127.0.0.1:11434")?;
/// assert_eq!((local.authority(), local.path_and_query()), ("127.0.0.1:11434", "/"));
///
/// assert!(Url::parse("ftp://example.com/").is_err());
/// # Ok::<(), harness_sdk::http::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    authority: String,
    path_and_query: String,
}

impl Url {
    /// Parse `text` (surrounding whitespace is ignored).
    pub fn parse(text: &str) -> Result<Url, Error> {
        let text = text.trim();
        let invalid = |reason: &str| Error::InvalidUrl {
            url: text.to_string(),
            reason: reason.to_string(),
        };
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace or control characters"));
        }
        let (scheme, rest) = match text.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
            Some(_) => return Err(invalid("only http:// and https:// URLs are supported")),
            None => return Err(invalid("it has no scheme; write http:// or https://")),
        };
        // A fragment is for the client that shows the page; it is never sent.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, path_and_query) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(invalid("it names no host"));
        }
        if authority.contains('@') {
            return Err(invalid(
                "it carries user info (`user@`); send credentials in a header instead",
            ));
        }
        if let Some((host, port)) = split_port(authority) {
            if host.is_empty() {
                return Err(invalid("it names no host"));
            }
            if port.parse::<u16>().is_err() {
                return Err(invalid("its port is not a number from 0 to 65535"));
            }
        }
        Ok(Url {
            scheme,
            authority: authority.to_string(),
            path_and_query,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `host` or `host:port`, as written.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The path and query, starting with `/`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.path_and_query
        )
    }
}

/// `(host, port)` if `authority` ends in a port. An IPv6 literal
/// (`[::1]:8080`) keeps its brackets in `host`.
fn split_port(authority: &str) -> Option<(&str, &str)> {
    let colon = authority.rfind(':')?;
    let (host, port) = (&authority[..colon], &authority[colon + 1..]);
    if authority.starts_with('[') && !host.ends_with(']') {
        return None;
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (Scheme, String, String) {
        let url = Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (
            url.scheme(),
            url.authority().to_string(),
            url.path_and_query().to_string(),
        )
    }

    #[test]
    fn http_and_https_urls_split_into_authority_and_path() {
        assert_eq!(
            parts("http://127.0.0.1:11434/v1/chat/completions"),
            (
                Scheme::Http,
                "127.0.0.1:11434".into(),
                "/v1/chat/completions".into()
            )
        );
        assert_eq!(
            parts("HTTPS://api.anthropic.com/v1/messages"),
            (
                Scheme::Https,
                "api.anthropic.com".into(),
                "/v1/messages".into()
            )
        );
        assert_eq!(parts("http://h:1?x=1").2, "/?x=1");
        assert_eq!(parts("http://h:1/a#frag").2, "/a");
        assert_eq!(parts(" http://[::1]:8080/ ").1, "[::1]:8080");
        assert_eq!(parts("http://[::1]/").1, "[::1]");
        assert_eq!(
            Url::parse("https://h/p?q").map(|u| u.to_string()).ok(),
            Some("https://h/p?q".into())
        );
    }

    #[test]
    fn other_schemes_user_info_bad_ports_and_control_characters_are_refused() {
        for (text, why) in [
            ("ftp://h/", "only http:// and https://"),
            ("127.0.0.1:11434/v1", "no scheme"),
            ("http:///v1", "no host"),
            ("http://:80/", "no host"),
            ("http://user:pw@h:1/", "user info"),
            ("http://h:99999/", "port"),
            ("http://h:x/", "port"),
            ("http://h/a b", "whitespace"),
            ("http://h/\r\nx: y", "whitespace"),
        ] {
            match Url::parse(text) {
                Err(Error::InvalidUrl { reason, .. }) => {
                    assert!(reason.contains(why), "{text}: {reason}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
