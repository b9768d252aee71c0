//! The console's HTTP server: binding, routes, the checks every request
//! passes (Host header, session, Origin and CSRF for POSTs), the security
//! headers, the embedded assets, and `<state-dir>/console.json` while it runs.
//!
//! Store reads and decisions are blocking file work: they run on tokio's
//! blocking pool, never on the threads serving requests.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use tokio::sync::watch;

use crate::console::auth::{self, Auth, Refusal};
use crate::console::decide::{self, DecideError};
use crate::console::pages::{self, Notice};
use crate::console::sse::{self, Snapshot};
use crate::console::webhook::Webhook;
use crate::host_dirs::HostDirs;
use crate::render::inert;
use crate::run::store::RunStore;

/// The stylesheet and script, compiled into the binary.
const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// No inline script or style, nothing from elsewhere, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The file naming a running console, in the state directory.
pub const CONSOLE_FILE: &str = "console.json";

/// How the console is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address to listen on.
    pub bind: IpAddr,
    /// 0: a free port.
    pub port: u16,
    /// Required for an address that is not loopback.
    pub allow_remote: bool,
    /// Who the login token's session decides as.
    pub identity: String,
    /// How long the printed login token can be used (once) to sign in.
    pub token_ttl: Duration,
    /// How long a session lasts from login.
    pub session_ttl: Duration,
    /// Where to send a notice when a run starts waiting; `None`: no notices.
    pub webhook: Option<Webhook>,
}

/// Why the console did not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The address is not loopback and `--allow-remote` was not given.
    #[error(
        "refusing to serve the console on {addr}, which is not a loopback address\nhint: anyone who can reach it gets the login page; pass --allow-remote if that is what you want (and read the README's Console security model)"
    )]
    NotLoopback {
        /// The address asked for.
        addr: IpAddr,
    },
    /// The address is the unspecified one (all interfaces), so no Host header can be checked against it.
    #[error(
        "`{addr}` is not one address\nhint: with --allow-remote, bind the one address people reach the console by; the Host header is checked against it"
    )]
    Unspecified {
        /// The address asked for (`0.0.0.0` or `::`).
        addr: IpAddr,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}\nhint: choose another --port, or 0 for a free one")]
    Bind {
        /// The address and port asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The console file (the running console's address) could not be written.
    #[error(
        "cannot write `{}`: {source}\nhint: the state directory must be writable",
        inert(&path.display().to_string())
    )]
    ConsoleFile {
        /// Path of the console file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The system's random source failed while making the login token.
    #[error("cannot make a login token: {0}")]
    Random(#[source] std::io::Error),
    /// The server stopped with an I/O error.
    #[error("the console stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// What `host console` prints once it listens.
#[derive(Debug, Clone)]
pub struct Started {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The one-time login URL (carries the token).
    pub login_url: String,
    /// Set when the bind is not loopback.
    pub warning: Option<String>,
}

#[derive(Debug)]
struct App {
    store: RunStore,
    auth: Auth,
    snapshots: watch::Receiver<Snapshot>,
}

type Shared = State<Arc<App>>;

/// Removes `console.json` when the console ends (if it is still ours).
#[derive(Debug)]
struct ConsoleFile {
    path: PathBuf,
    pid: u32,
}

impl Drop for ConsoleFile {
    fn drop(&mut self) {
        let ours = std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["pid"] == self.pid);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Serve the console for `dirs` until SIGINT or SIGTERM; `started` is
/// called once the port is bound.
pub async fn serve(
    dirs: &HostDirs,
    options: Options,
    started: &(dyn Fn(&Started) + Sync),
) -> Result<(), ConsoleError> {
    let loopback = options.bind.is_loopback();
    if !loopback && !options.allow_remote {
        return Err(ConsoleError::NotLoopback { addr: options.bind });
    }
    if options.bind.is_unspecified() {
        return Err(ConsoleError::Unspecified { addr: options.bind });
    }
    let addr = SocketAddr::new(options.bind, options.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ConsoleError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ConsoleError::Bind { addr, source })?;
    let port = local.port();
    let own = match local.ip() {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    };
    let mut hosts = vec![own.clone()];
    if loopback {
        for name in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ] {
            if !hosts.contains(&name) {
                hosts.push(name);
            }
        }
    }
    let url = format!("http://{own}");
    let auth = Auth::new(
        options.identity.clone(),
        options.token_ttl,
        options.session_ttl,
        hosts,
    )
    .map_err(ConsoleError::Random)?;
    let login_url = format!("{url}/login?token={}", auth.login_token());
    let store = dirs.store();
    let snapshots = sse::watch(store.clone(), options.webhook.clone(), url.clone());
    let app = Arc::new(App {
        store,
        auth,
        snapshots,
    });

    std::fs::create_dir_all(dirs.state_dir()).map_err(|source| ConsoleError::ConsoleFile {
        path: dirs.state_dir().to_path_buf(),
        source,
    })?;
    let path = dirs.state_dir().join(CONSOLE_FILE);
    let pid = std::process::id();
    let body = serde_json::json!({ "url": url, "pid": pid }).to_string();
    crate::atomic_file::write(&path, body.as_bytes()).map_err(|source| {
        ConsoleError::ConsoleFile {
            path: path.clone(),
            source,
        }
    })?;
    let _file = ConsoleFile { path, pid };

    started(&Started {
        url: url.clone(),
        login_url,
        warning: (!loopback).then(|| {
            format!(
                "warning: the console listens on {own}, which is not loopback: anyone who can reach it can try the login page, and traffic is plain http (no TLS)"
            )
        }),
    });

    let router = Router::new()
        .route("/", get(runs_page))
        .route("/fragment/runs", get(runs_fragment))
        .route("/events", get(events))
        .route("/login", get(login))
        .route("/logout", post(logout))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/approve", Decision::Approve.route())
        .route("/runs/{id}/reject", Decision::Reject.route())
        .route("/runs/{id}/revert", Decision::Revert.route())
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .with_state(app);
    tokio::select! {
        served = axum::serve(listener, router) => served.map_err(ConsoleError::Serve),
        () = crate::shutdown::requested() => Ok(()),
    }
}

/// Every request: the Host header must name the console; every response
/// gets the security headers.
async fn guard(State(app): Shared, request: Request, next: Next) -> Response {
    let mut response = match app.auth.check_host(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refused(StatusCode::MISDIRECTED_REQUEST, &refusal),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refused(status: StatusCode, refusal: &Refusal) -> Response {
    (
        status,
        Html(pages::message("refused", &refusal.to_string(), "/")),
    )
        .into_response()
}

fn no_session(refusal: &Refusal) -> Response {
    refused(StatusCode::UNAUTHORIZED, refusal)
}

/// Run blocking store work off the serving threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html(pages::message("error", &e.to_string(), "/")),
        )
            .into_response()
    })
}

#[derive(Debug, Deserialize)]
struct Filter {
    status: Option<String>,
}

fn filter_of(q: Filter) -> Option<String> {
    q.status.filter(|s| !s.is_empty())
}

async fn runs_page(State(app): Shared, headers: HeaderMap, Query(q): Query<Filter>) -> Response {
    let session = match app.auth.session(&headers) {
        Ok(s) => s,
        Err(r) => return no_session(&r),
    };
    let filter = filter_of(q);
    let a = Arc::clone(&app);
    match blocking(move || pages::runs_page(&a.store, filter.as_deref(), &session.csrf)).await {
        Ok(page) => Html(page).into_response(),
        Err(r) => r,
    }
}

async fn runs_fragment(
    State(app): Shared,
    headers: HeaderMap,
    Query(q): Query<Filter>,
) -> Response {
    if let Err(r) = app.auth.session(&headers) {
        return no_session(&r);
    }
    let filter = filter_of(q);
    let a = Arc::clone(&app);
    match blocking(move || {
        let rows = pages::runs_rows(&a.store, filter.as_deref());
        let waiting = pages::waiting_count(&a.store);
        serde_json::json!({ "waiting": waiting, "title": pages::runs_title(waiting), "rows": rows })
    })
    .await
    {
        Ok(json) => (
            [(header::CONTENT_TYPE, "application/json")],
            json.to_string(),
        )
            .into_response(),
        Err(r) => r,
    }
}

async fn events(State(app): Shared, headers: HeaderMap) -> Response {
    let session = match app.auth.session(&headers) {
        Ok(s) => s,
        Err(r) => return no_session(&r),
    };
    let a = Arc::clone(&app);
    sse::stream(app.snapshots.clone(), move || a.auth.lasts(&session)).into_response()
}

#[derive(Debug, Deserialize)]
struct Login {
    token: Option<String>,
}

async fn login(State(app): Shared, Query(q): Query<Login>) -> Response {
    match app.auth.redeem(q.token.as_deref().unwrap_or("")) {
        Ok(session) => {
            let mut response = Redirect::to("/").into_response();
            if let Ok(cookie) =
                HeaderValue::from_str(&auth::set_cookie(&session, app.auth.session_ttl()))
            {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(r) => refused(StatusCode::FORBIDDEN, &r),
    }
}

/// End the session: the same checks as a decision (session, own Origin,
/// CSRF token), then the session is forgotten and its cookie dropped.
async fn logout(State(app): Shared, request: Request) -> Response {
    let session = match checked_post(&app, request).await {
        Ok((session, _)) => session,
        Err(r) => return r,
    };
    app.auth.end_session(&session);
    let mut response = Html(pages::message(
        "logged out",
        "this session has ended: its cookie and forms are refused from now on\nrestart `host console` and open the new login URL it prints to log in again",
        "/",
    ))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::clear_cookie()).expect("a cookie of visible ASCII"),
    );
    response
}

async fn run_page(State(app): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let session = match app.auth.session(&headers) {
        Ok(s) => s,
        Err(r) => return no_session(&r),
    };
    let a = Arc::clone(&app);
    match blocking(move || pages::run_page(&a.store, &id, &session.csrf, None).ok_or(id)).await {
        Ok(Ok(page)) => Html(page).into_response(),
        Ok(Err(id)) => (
            StatusCode::NOT_FOUND,
            Html(pages::message(
                "no such run",
                &format!("there is no run `{}`", inert(&id)),
                "/",
            )),
        )
            .into_response(),
        Err(r) => r,
    }
}

fn csrf_of(form: &decide::Form) -> Option<&str> {
    form.iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
}

/// What a decision shows: the (new) run's page with the outcome on top.
fn decided(app: &App, id: &str, csrf: &str, outcome: Result<String, DecideError>) -> Response {
    let (status, notice) = match outcome {
        Ok(text) => (
            StatusCode::OK,
            Notice {
                text,
                refused: false,
            },
        ),
        Err(e) => (
            StatusCode::CONFLICT,
            Notice {
                text: crate::render::inert_lines(&crate::render::error_chain(&e)),
                refused: true,
            },
        ),
    };
    match pages::run_page(&app.store, id, csrf, Some(&notice)) {
        Some(page) => (status, Html(page)).into_response(),
        None => (status, Html(pages::message("decision", &notice.text, "/"))).into_response(),
    }
}

/// The checks of every POST, and its form. The session and the `Origin`
/// are checked before the body is read (an anonymous or cross-site request
/// gets no form parsed), the CSRF token after.
async fn checked_post(
    app: &App,
    request: Request,
) -> Result<(auth::Session, decide::Form), Response> {
    let session = app
        .auth
        .check_post_head(request.headers())
        .map_err(|r| refused(StatusCode::FORBIDDEN, &r))?;
    let Form(form) =
        <Form<decide::Form> as axum::extract::FromRequest<()>>::from_request(request, &())
            .await
            .map_err(IntoResponse::into_response)?;
    auth::check_csrf(&session, csrf_of(&form)).map_err(|r| refused(StatusCode::FORBIDDEN, &r))?;
    Ok((session, form))
}

/// A checked POST (see [`checked_post`]), then `act` with the session's
/// identity on the blocking pool; shows the run page `act` names with its
/// outcome.
async fn post_decision(
    app: Arc<App>,
    request: Request,
    act: impl FnOnce(&App, &str, &decide::Form) -> (String, Result<String, DecideError>)
    + Send
    + 'static,
) -> Response {
    let (session, form) = match checked_post(&app, request).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    match blocking(move || {
        let (page, outcome) = act(&app, &session.identity, &form);
        decided(&app, &page, &session.csrf, outcome)
    })
    .await
    {
        Ok(r) | Err(r) => r,
    }
}

/// The three decisions a person can POST about a run.
#[derive(Debug, Clone, Copy)]
enum Decision {
    Approve,
    Reject,
    Revert,
}

impl Decision {
    /// The route that makes this decision about run `{id}`.
    fn route(self) -> MethodRouter<Arc<App>> {
        post(
            move |State(app): Shared, Path(id): Path<String>, request: Request| async move {
                post_decision(app, request, move |app, who, form| {
                    self.act(app, id, who, form)
                })
                .await
            },
        )
    }

    /// Make the decision about run `id` as `who`: the run whose page shows
    /// the outcome (for a revert, the new run), and the outcome's text.
    fn act(
        self,
        app: &App,
        id: String,
        who: &str,
        form: &decide::Form,
    ) -> (String, Result<String, DecideError>) {
        match self {
            Decision::Approve => {
                let outcome = decide::approve(&app.store, &id, who, form).map(|written| {
                    format!(
                        "approved by {}; wrote {} file(s): {}",
                        inert(who),
                        written.len(),
                        written
                            .iter()
                            .map(|p| inert(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
                (id, outcome)
            }
            Decision::Reject => {
                let outcome = decide::reject(&app.store, &id, who, form)
                    .map(|()| format!("rejected by {}; nothing was written", inert(who)));
                (id, outcome)
            }
            Decision::Revert => match decide::revert(&app.store, &id, who) {
                Ok(new) => {
                    let text = format!(
                        "run {} proposes to revert run {}; approve it here to restore the files",
                        inert(&new),
                        inert(&id)
                    );
                    (new, Ok(text))
                }
                Err(e) => (id, Err(e)),
            },
        }
    }
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}
