//! Who may use the console, and which requests count as theirs.
//!
//! - **Login token.** `host console` prints a URL carrying a random one-time
//!   token (as Jupyter does). `GET /login?token=..` exchanges it, once and
//!   before it expires, for a session; a reused or expired token is refused.
//! - **Session cookie.** `HttpOnly` (no script reads it), `SameSite=Strict`
//!   (no other site's page sends it), `Path=/`, `Max-Age` the session's
//!   lifetime. The session carries the identity decisions are journaled
//!   under; it ends when its lifetime (`--session-ttl`) is over, checked by
//!   the server whatever the browser keeps, or when the person logs out (a
//!   POST with its CSRF token, like a decision).
//! - **CSRF.** Every state-changing request is a POST that must carry the
//!   session's CSRF token (a hidden form field) *and* an `Origin` header
//!   naming the console itself.
//! - **Host header.** Every request must name the console's own address
//!   (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`, or the bind address
//!   given with `--allow-remote`): a DNS-rebinding page reaching the port
//!   under its own name is refused.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;

/// The session cookie's name.
pub const COOKIE: &str = "harness_console";

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The Host header names another host (a DNS-rebinding page, say).
    #[error(
        "the Host header `{}` does not name this console\nhint: open the URL `host console` printed (a page reaching this port under another name is refused: DNS rebinding)",
        crate::render::inert(host)
    )]
    ForeignHost {
        /// The Host header as sent.
        host: String,
    },
    /// The request carries no valid session cookie.
    #[error("no session\nhint: open the login URL `host console` printed")]
    NoSession,
    /// A decision came from a page of another origin.
    #[error(
        "the request's Origin `{}` is not this console\nhint: decisions can only be sent from the console's own pages",
        crate::render::inert(origin)
    )]
    ForeignOrigin {
        /// The Origin header as sent.
        origin: String,
    },
    /// A decision came without an Origin header.
    #[error(
        "the request has no Origin header\nhint: use a browser that sends one; decisions can only be sent from the console's own pages"
    )]
    NoOrigin,
    /// The form's CSRF token is missing or does not match the session.
    #[error("the form's CSRF token is missing or wrong\nhint: reload the page and decide again")]
    Csrf,
    /// The login token was already exchanged for a session.
    #[error(
        "the login token was already used\nhint: each token logs in once; restart `host console` for a new one"
    )]
    TokenUsed,
    /// The login token is older than `--token-ttl`.
    #[error(
        "the login token expired\nhint: restart `host console` for a new one (see --token-ttl)"
    )]
    TokenExpired,
    /// The login token is not the one this console made.
    #[error("the login token is wrong\nhint: copy the whole URL `host console` printed")]
    TokenWrong,
    /// The session is older than `--session-ttl`.
    #[error(
        "the session expired (it lasts --session-ttl seconds from login)\nhint: restart `host console` and open the new login URL it prints"
    )]
    SessionExpired,
}

/// A logged-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who decisions are journaled as.
    pub identity: String,
    /// The token every form of this session carries.
    pub csrf: String,
}

#[derive(Debug)]
struct Login {
    token: String,
    expires: Instant,
    used: bool,
}

/// A session and when it ends.
#[derive(Debug)]
struct Held {
    session: Session,
    expires: Instant,
}

#[derive(Debug)]
struct State {
    login: Login,
    sessions: HashMap<String, Held>,
}

/// The console's login token, its sessions, and the names it answers to.
#[derive(Debug)]
pub struct Auth {
    identity: String,
    hosts: Vec<String>,
    session_ttl: Duration,
    state: Mutex<State>,
}

impl Auth {
    /// A fresh login token for `identity`, valid for `ttl`; the session it
    /// is exchanged for lasts `session_ttl`; `hosts` are the `host:port`
    /// values the Host header may hold.
    pub fn new(
        identity: String,
        ttl: Duration,
        session_ttl: Duration,
        hosts: Vec<String>,
    ) -> std::io::Result<Auth> {
        Ok(Auth {
            identity,
            hosts,
            session_ttl,
            state: Mutex::new(State {
                login: Login {
                    token: random_token()?,
                    expires: Instant::now() + ttl,
                    used: false,
                },
                sessions: HashMap::new(),
            }),
        })
    }

    /// The one-time login token (for the URL printed at start).
    pub fn login_token(&self) -> String {
        self.lock().login.token.clone()
    }

    /// Who the console's sessions decide as.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Exchange the login token for a new session id.
    pub fn redeem(&self, token: &str) -> Result<String, Refusal> {
        let mut state = self.lock();
        if !same(token.as_bytes(), state.login.token.as_bytes()) {
            return Err(Refusal::TokenWrong);
        }
        if state.login.used {
            return Err(Refusal::TokenUsed);
        }
        if Instant::now() >= state.login.expires {
            return Err(Refusal::TokenExpired);
        }
        state.login.used = true;
        let id = random_token().map_err(|_| Refusal::TokenWrong)?;
        let csrf = random_token().map_err(|_| Refusal::TokenWrong)?;
        let now = Instant::now();
        state.sessions.retain(|_, held| held.expires > now);
        state.sessions.insert(
            id.clone(),
            Held {
                session: Session {
                    identity: self.identity.clone(),
                    csrf,
                },
                expires: now + self.session_ttl,
            },
        );
        Ok(id)
    }

    /// How long a session lasts from login (the cookie's `Max-Age`).
    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// The session the request's cookie names; one past its lifetime is
    /// forgotten and refused as expired.
    pub fn session(&self, headers: &HeaderMap) -> Result<Session, Refusal> {
        let id = cookie(headers, COOKIE).ok_or(Refusal::NoSession)?;
        let mut state = self.lock();
        let key = state
            .sessions
            .keys()
            .find(|known| same(known.as_bytes(), id.as_bytes()))
            .cloned()
            .ok_or(Refusal::NoSession)?;
        let held = &state.sessions[&key];
        if Instant::now() >= held.expires {
            state.sessions.remove(&key);
            return Err(Refusal::SessionExpired);
        }
        Ok(held.session.clone())
    }

    /// Whether `session` still stands: not logged out, not past its
    /// lifetime.
    pub fn lasts(&self, session: &Session) -> bool {
        let now = Instant::now();
        self.lock()
            .sessions
            .values()
            .any(|held| held.session.csrf == session.csrf && now < held.expires)
    }

    /// End `session` (a logout): its cookie and CSRF token are worth
    /// nothing from now on.
    pub fn end_session(&self, session: &Session) {
        self.lock()
            .sessions
            .retain(|_, held| held.session.csrf != session.csrf);
    }

    /// Whether the Host header names this console.
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Ok(());
        }
        Err(Refusal::ForeignHost {
            host: host.to_string(),
        })
    }

    /// A state-changing request: a session, the console's own Origin, and
    /// the session's CSRF token in the form.
    pub fn check_post(&self, headers: &HeaderMap, csrf: Option<&str>) -> Result<Session, Refusal> {
        let session = self.check_post_head(headers)?;
        check_csrf(&session, csrf)?;
        Ok(session)
    }

    /// The checks of a POST that need only its head (a session, and an
    /// `Origin` that is the console's own): made before its body is read,
    /// so an anonymous or cross-site request costs no form parsing.
    pub fn check_post_head(&self, headers: &HeaderMap) -> Result<Session, Refusal> {
        let session = self.session(headers)?;
        let origin = headers
            .get(http::header::ORIGIN)
            .ok_or(Refusal::NoOrigin)?
            .to_str()
            .unwrap_or("");
        let own = self
            .hosts
            .iter()
            .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
        if !own {
            return Err(Refusal::ForeignOrigin {
                origin: origin.to_string(),
            });
        }
        Ok(session)
    }
}

/// The rest of a POST's checks, once its form is read: the session's CSRF
/// token, compared in constant time.
pub fn check_csrf(session: &Session, csrf: Option<&str>) -> Result<(), Refusal> {
    match csrf {
        Some(given) if same(given.as_bytes(), session.csrf.as_bytes()) => Ok(()),
        _ => Err(Refusal::Csrf),
    }
}

/// The `Set-Cookie` value of a new session that lasts `ttl`.
pub fn set_cookie(session_id: &str, ttl: Duration) -> String {
    format!(
        "{COOKIE}={session_id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        ttl.as_secs()
    )
}

/// The `Set-Cookie` value that makes the browser drop the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Compare secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the kernel, as hex.
pub fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("header"));
        }
        h
    }

    fn auth(ttl: Duration) -> Auth {
        Auth::new(
            "alice".into(),
            ttl,
            Duration::from_secs(60),
            vec!["127.0.0.1:9".into()],
        )
        .expect("auth")
    }

    #[test]
    fn a_token_logs_in_once() {
        let a = auth(Duration::from_secs(60));
        let token = a.login_token();
        assert_eq!(a.redeem("nope"), Err(Refusal::TokenWrong));
        let id = a.redeem(&token).expect("first use");
        assert_eq!(a.redeem(&token), Err(Refusal::TokenUsed));
        let s = a
            .session(&headers(&[("cookie", &format!("x=1; {COOKIE}={id}"))]))
            .expect("session");
        assert_eq!(s.identity, "alice");
    }

    #[test]
    fn a_session_ends_at_its_lifetime_or_at_logout() {
        let short = Auth::new(
            "alice".into(),
            Duration::from_secs(60),
            Duration::ZERO,
            vec!["127.0.0.1:9".into()],
        )
        .expect("auth");
        let id = short.redeem(&short.login_token()).expect("login");
        let cookie = headers(&[("cookie", &format!("{COOKIE}={id}"))]);
        let held = short.lock().sessions[&id].session.clone();
        assert!(!short.lasts(&held));
        assert_eq!(short.session(&cookie), Err(Refusal::SessionExpired));
        // An expired session is forgotten, not kept to be refused again.
        assert_eq!(short.session(&cookie), Err(Refusal::NoSession));
        assert!(short.lock().sessions.is_empty());

        let a = auth(Duration::from_secs(60));
        let id = a.redeem(&a.login_token()).expect("login");
        let cookie = headers(&[("cookie", &format!("{COOKIE}={id}"))]);
        let session = a.session(&cookie).expect("session");
        let other = Session {
            identity: "alice".into(),
            csrf: "other".into(),
        };
        a.end_session(&other);
        assert!(
            a.session(&cookie).is_ok() && a.lasts(&session),
            "another session's logout ended it"
        );
        a.end_session(&session);
        assert_eq!(a.session(&cookie), Err(Refusal::NoSession));
        assert!(!a.lasts(&session));
        assert!(set_cookie(&id, Duration::from_secs(90)).ends_with("; Max-Age=90"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let a = auth(Duration::ZERO);
        assert_eq!(a.redeem(&a.login_token()), Err(Refusal::TokenExpired));
    }

    #[test]
    fn posts_need_origin_and_csrf() {
        let a = auth(Duration::from_secs(60));
        let id = a.redeem(&a.login_token()).expect("login");
        let cookie = format!("{COOKIE}={id}");
        let csrf = a
            .session(&headers(&[("cookie", &cookie)]))
            .expect("session")
            .csrf;
        let good = headers(&[("cookie", &cookie), ("origin", "http://127.0.0.1:9")]);
        assert!(a.check_post(&good, Some(&csrf)).is_ok());
        assert_eq!(a.check_post(&good, None), Err(Refusal::Csrf));
        assert_eq!(a.check_post(&good, Some("x")), Err(Refusal::Csrf));
        let foreign = headers(&[("cookie", &cookie), ("origin", "http://evil.example")]);
        assert!(matches!(
            a.check_post(&foreign, Some(&csrf)),
            Err(Refusal::ForeignOrigin { .. })
        ));
        let none = headers(&[("cookie", &cookie)]);
        assert_eq!(a.check_post(&none, Some(&csrf)), Err(Refusal::NoOrigin));
        let anon = headers(&[("origin", "http://127.0.0.1:9")]);
        assert_eq!(a.check_post(&anon, Some(&csrf)), Err(Refusal::NoSession));
    }

    #[test]
    fn only_own_host_names_are_served() {
        let a = auth(Duration::from_secs(60));
        assert!(a.check_host(&headers(&[("host", "127.0.0.1:9")])).is_ok());
        assert!(
            a.check_host(&headers(&[("host", "evil.example:9")]))
                .is_err()
        );
        assert!(a.check_host(&HeaderMap::new()).is_err());
    }
}
