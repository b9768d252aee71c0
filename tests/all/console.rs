//! `host console` through the real binary: the login token, the session
//! cookie, CSRF, Origin and Host checks (each refused request writes
//! nothing: files on disk and the journal are checked), decisions taken
//! over HTTP (approve, subset, edit, reject, revert), hostile run text
//! rendered inert, the webhook, `console.json`; and the same flows in a real
//! headless chromium driven by Playwright (`tests/console/e2e.mjs`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    Scratch, TestPlugin, artifacts, assert_inert, events, reviewer, run_id, text, toml_str,
};

/// A running `host console`; SIGTERM on drop.
struct Console {
    child: Child,
    /// `127.0.0.1:PORT`
    addr: String,
    login: String,
}

impl Console {
    fn start(s: &Scratch, extra: &[&str]) -> Console {
        let child = s
            .host()
            .args(["console", "--plugins"])
            .arg(s.path().join("no-plugins"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn host console");
        Console::adopt(child)
    }

    fn token_path(&self) -> String {
        self.login
            .split_once(&self.addr)
            .map(|(_, p)| p.to_string())
            .expect("path")
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn stop(&mut self) {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "console ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// One HTTP/1.1 response.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// A request to `addr` with the given headers (a `Host` of `addr` unless
/// one is given) and body.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    // The body may be chunked; the tests look for text in it, and chunk
    // sizes never split the markers they look for in a way that matters.
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// `/events` opened with `cookie`, its first event read: the open stream.
fn open_events(c: &Console, cookie: &str) -> TcpStream {
    let mut stream = TcpStream::connect(&c.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let req = format!(
        "GET /events HTTP/1.1\r\nConnection: close\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n",
        c.addr
    );
    stream.write_all(req.as_bytes()).expect("send");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("event: runs") {
        let n = stream.read(&mut buf).expect("the first event");
        assert!(n > 0, "the stream ended before its first event: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    stream
}

/// Whether the open event `stream` is closed by the server within `within`
/// (what it still sends before then is read and dropped).
fn ends_within(mut stream: TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(10)),
            ))
            .expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Log in; returns the `Cookie` header value.
fn login(c: &Console) -> String {
    let r = request(&c.addr, "GET", &c.token_path(), &[], "");
    assert_eq!(r.status, 303, "{r:?}");
    let cookie = r.header("set-cookie").expect("set-cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "{cookie}");
    cookie.split(';').next().expect("pair").to_string()
}

/// The value of the first `name="field" value="..."` in a page.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().expect("value").to_string()
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                harness_host::console::html::url_component(k),
                harness_host::console::html::url_component(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A plugins folder `name`: the scripted tool proposing `writes` (path,
/// text), reviewed by the scripted reviewer (passes) or the real one.
fn plugins(s: &Scratch, name: &str, writes: &[(&str, &str)], real_reviewer: bool) -> PathBuf {
    let writes: Vec<String> = writes
        .iter()
        .map(|(p, t)| format!("{{ path = {}, text = {} }}", toml_str(p), toml_str(t)))
        .collect();
    let tool = TestPlugin {
        name: "scripted",
        kind: "tool",
        component: artifacts::GUEST_SCRIPTED,
        extra: "[grants]\nwrites = [\"drafts/\"]\n",
    };
    let (review, reviewer_name) = if real_reviewer {
        (reviewer(), "reviewer")
    } else {
        (
            TestPlugin {
                name: "scripted-reviewer",
                kind: "reviewer",
                component: artifacts::GUEST_SCRIPTED_REVIEWER,
                extra: "",
            },
            "scripted-reviewer",
        )
    };
    let workflow = format!(
        "[workflow]\nname = \"console\"\n[[steps]]\nid = \"draft\"\nplugin = \"scripted\"\ninput = {{ writes = [{}] }}\n[review]\nplugin = \"{reviewer_name}\"\n",
        writes.join(", ")
    );
    s.plugins_dir(name, &[tool, review], &workflow)
}

/// A run of `plugins` waiting for approval.
/// Run `id`'s page as the session `cookie` sees it.
fn run_page(c: &Console, cookie: &str, id: &str) -> String {
    request(
        &c.addr,
        "GET",
        &format!("/runs/{id}"),
        &[("Cookie", cookie)],
        "",
    )
    .body
}

fn waiting(s: &Scratch, plugins: &Path) -> String {
    let out = s.run(plugins, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "waiting-approval");
    id
}

fn os_user() -> String {
    harness_host::os_user::name().expect("os user")
}

fn read(s: &Scratch, path: &str) -> Option<String> {
    std::fs::read_to_string(s.out().join(path)).ok()
}

#[test]
fn the_login_token_works_once_and_every_page_needs_its_session() {
    let s = Scratch::new();
    let id = waiting(&s, &plugins(&s, "p", &[("drafts/x.md", "x\n")], false));
    let mut c = Console::start(&s, &[]);
    let file: Value = serde_json::from_slice(
        &std::fs::read(s.state().join("console.json")).expect("console.json"),
    )
    .expect("json");
    assert_eq!(file["url"], c.origin());
    assert_eq!(file["pid"], c.child.id());
    assert!(!file.to_string().contains("token"), "{file}");

    for path in ["/", &format!("/runs/{id}"), "/events", "/fragment/runs"] {
        let r = request(&c.addr, "GET", path, &[], "");
        assert_eq!(r.status, 401, "{path}: {r:?}");
        assert!(
            !r.body.contains(&id) || path != "/",
            "{path} leaked the run"
        );
    }
    let wrong = request(&c.addr, "GET", "/login?token=0000", &[], "");
    assert_eq!(wrong.status, 403);
    let cookie = login(&c);
    let again = request(&c.addr, "GET", &c.token_path(), &[], "");
    assert_eq!(again.status, 403, "{again:?}");
    assert!(again.body.contains("already used"), "{}", again.body);
    assert!(again.header("set-cookie").is_none());

    let page = request(&c.addr, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&id), "{}", page.body);
    assert!(page.body.contains("<title>(1) runs"), "{}", page.body);
    let csp = page.header("content-security-policy").expect("csp");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // A DNS-rebinding page reaches the port under its own name.
    let rebound = request(
        &c.addr,
        "GET",
        "/",
        &[("Cookie", &cookie), ("Host", "evil.example:80")],
        "",
    );
    assert_eq!(rebound.status, 421, "{rebound:?}");
    assert!(!rebound.body.contains(&id));

    c.stop();
    assert!(
        !s.state().join("console.json").exists(),
        "console.json left behind"
    );
}

#[test]
fn an_expired_login_token_is_refused() {
    let s = Scratch::new();
    let c = Console::start(&s, &["--token-ttl", "1"]);
    std::thread::sleep(Duration::from_millis(1300));
    let r = request(&c.addr, "GET", &c.token_path(), &[], "");
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("expired"), "{}", r.body);
    assert!(r.header("set-cookie").is_none());
}

/// A logged-out or expired session's cookie and CSRF token decide nothing:
/// the run stays waiting, its file unwritten, its journal without a grant.
#[test]
fn a_session_ends_at_logout_or_at_its_lifetime_and_then_decides_nothing() {
    let s = Scratch::new();
    let id = waiting(&s, &plugins(&s, "p", &[("drafts/a.md", "alpha\n")], false));
    let approve_with = |c: &Console, cookie: &str, csrf: &str, digest: &str| {
        request(
            &c.addr,
            "POST",
            &format!("/runs/{id}/approve"),
            &[("Cookie", cookie), ("Origin", &c.origin())],
            &form_encode(&[("csrf", csrf), ("digest", digest), ("file", "0")]),
        )
    };
    let nothing_decided = |what: &str| {
        assert_eq!(read(&s, "drafts/a.md"), None, "{what} wrote the file");
        assert!(
            events(&s.journal(&id), "approval_granted").is_empty(),
            "{what}"
        );
        assert_eq!(s.status(&id)["status"], "waiting-approval", "{what}");
    };

    let c = Console::start(&s, &[]);
    let cookie = login(&c);
    let page = run_page(&c, &cookie, &id);
    assert!(page.contains("action=\"/logout\""), "{page}");
    let csrf = field(&page, "csrf");
    let digest = field(&page, "digest");
    // A logout needs the CSRF token and the console's Origin, like a decision.
    let forged = request(
        &c.addr,
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        &form_encode(&[("csrf", &csrf)]),
    );
    assert_eq!(forged.status, 403, "{forged:?}");
    let no_csrf = request(
        &c.addr,
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("Origin", &c.origin())],
        "",
    );
    assert_eq!(no_csrf.status, 403, "{no_csrf:?}");
    assert!(
        run_page(&c, &cookie, &id).contains(&digest),
        "a refused logout ended the session"
    );

    let events_open = open_events(&c, &cookie);
    let out = request(
        &c.addr,
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("Origin", &c.origin())],
        &form_encode(&[("csrf", &csrf)]),
    );
    assert_eq!(out.status, 200, "{out:?}");
    assert!(out.body.contains("logged out"), "{}", out.body);
    let cleared = out.header("set-cookie").expect("set-cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    for path in ["/", &format!("/runs/{id}"), "/events", "/fragment/runs"] {
        let r = request(&c.addr, "GET", path, &[("Cookie", &cookie)], "");
        assert_eq!(r.status, 401, "{path} after logout: {r:?}");
    }
    assert!(
        ends_within(events_open, Duration::from_secs(5)),
        "an event stream opened before the logout stayed open after it"
    );
    let after = approve_with(&c, &cookie, &csrf, &digest);
    assert_eq!(after.status, 403, "{after:?}");
    nothing_decided("an approval after logout");
    drop(c);

    let c = Console::start(&s, &["--session-ttl", "1"]);
    let cookie = login(&c);
    let page = run_page(&c, &cookie, &id);
    let events_open = open_events(&c, &cookie);
    assert!(
        ends_within(events_open, Duration::from_secs(5)),
        "an event stream stayed open past its session's lifetime"
    );
    std::thread::sleep(Duration::from_millis(300));
    let expired = request(&c.addr, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(expired.status, 401, "{expired:?}");
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let late = approve_with(&c, &cookie, &field(&page, "csrf"), &field(&page, "digest"));
    assert_eq!(late.status, 403, "{late:?}");
    nothing_decided("an approval past the session's lifetime");

    let bad = s
        .host()
        .args(["console", "--session-ttl", "0"])
        .output()
        .expect("host console");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("--session-ttl"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn a_non_loopback_bind_needs_allow_remote() {
    let s = Scratch::new();
    let out = s
        .host()
        .args(["console", "--bind", "0.0.0.0"])
        .output()
        .expect("console");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--allow-remote"),
        "{}",
        text(&out.stderr)
    );
    assert!(!s.state().join("console.json").exists());
}

#[test]
fn posts_without_csrf_own_origin_or_session_write_nothing() {
    let s = Scratch::new();
    let id = waiting(&s, &plugins(&s, "p", &[("drafts/a.md", "alpha\n")], false));
    let c = Console::start(&s, &[]);
    let cookie = login(&c);
    let page = run_page(&c, &cookie, &id);
    // The run was given no parameters, so its page shows no topic.
    assert_eq!(s.status(&id)["params"], serde_json::json!({}));
    assert!(!page.contains("<dt>topic</dt>"), "{page}");
    let csrf = field(&page, "csrf");
    let digest = field(&page, "digest");
    let path = format!("/runs/{id}/approve");
    let origin = c.origin();
    let body = |csrf: &str| form_encode(&[("csrf", csrf), ("digest", &digest), ("file", "0")]);
    // What is refused, the request's headers and body, the status expected.
    type Attempt<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, u16);
    let attempts: Vec<Attempt> = vec![
        (
            "no csrf",
            vec![("Cookie", &cookie), ("Origin", &origin)],
            form_encode(&[("digest", &digest), ("file", "0")]),
            403,
        ),
        (
            "wrong csrf",
            vec![("Cookie", &cookie), ("Origin", &origin)],
            body("00"),
            403,
        ),
        (
            "foreign origin",
            vec![("Cookie", &cookie), ("Origin", "http://evil.example")],
            body(&csrf),
            403,
        ),
        ("no origin", vec![("Cookie", &cookie)], body(&csrf), 403),
        ("no session", vec![("Origin", &origin)], body(&csrf), 403),
        (
            "rebound host",
            vec![
                ("Cookie", &cookie),
                ("Origin", "http://evil.example"),
                ("Host", "evil.example"),
            ],
            body(&csrf),
            421,
        ),
    ];
    for (what, headers, body, status) in &attempts {
        let r = request(&c.addr, "POST", &path, headers, body);
        assert_eq!(r.status, *status, "{what}: {r:?}");
        assert_eq!(read(&s, "drafts/a.md"), None, "{what} wrote the file");
        assert!(
            events(&s.journal(&id), "approval_granted").is_empty(),
            "{what}"
        );
        assert_eq!(s.status(&id)["status"], "waiting-approval", "{what}");
    }
    let reject = request(
        &c.addr,
        "POST",
        &format!("/runs/{id}/reject"),
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        &form_encode(&[("csrf", &csrf), ("reason", "x")]),
    );
    assert_eq!(reject.status, 403);
    assert_eq!(s.status(&id)["status"], "waiting-approval");

    // The same request with everything in place is taken.
    let ok = request(
        &c.addr,
        "POST",
        &path,
        &[("Cookie", &cookie), ("Origin", &origin)],
        &body(&csrf),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(read(&s, "drafts/a.md").as_deref(), Some("alpha\n"));
    let journal = s.journal(&id);
    let granted = events(&journal, "approval_granted");
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["event"]["approver"], os_user().as_str());
    assert_eq!(granted[0]["event"]["digest"], digest.as_str());
}

#[test]
fn decisions_over_http_go_through_the_library() {
    let s = Scratch::new();
    let waiting_for =
        |name: &str, files: &[(&str, &str)]| waiting(&s, &plugins(&s, name, files, false));
    let full = waiting_for(
        "p-full",
        &[("drafts/f1.md", "one\n"), ("drafts/f2.md", "two\n")],
    );
    let subset = waiting_for(
        "p-sub",
        &[("drafts/s1.md", "s1\n"), ("drafts/s2.md", "s2\n")],
    );
    let edit = waiting_for("p-edit", &[("drafts/e.md", "proposed\n")]);
    let rejected = waiting_for("p-rej", &[("drafts/r.md", "r\n")]);
    let c = Console::start(&s, &["--as", "alice"]);
    let cookie = login(&c);
    let origin = c.origin();
    let post = |id: &str, action: &str, extra: &[(&str, &str)]| {
        let page = run_page(&c, &cookie, id);
        let csrf = field(&page, "csrf");
        let mut pairs: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        let digest;
        if action == "approve" {
            digest = field(&page, "digest");
            pairs.push(("digest", &digest));
        }
        pairs.extend_from_slice(extra);
        request(
            &c.addr,
            "POST",
            &format!("/runs/{id}/{action}"),
            &[("Cookie", &cookie), ("Origin", &origin)],
            &form_encode(&pairs),
        )
    };

    let r = post(
        &full,
        "approve",
        &[("file", "0"), ("file", "1"), ("reason", "fine")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(read(&s, "drafts/f1.md").as_deref(), Some("one\n"));
    assert_eq!(read(&s, "drafts/f2.md").as_deref(), Some("two\n"));
    let journal = s.journal(&full);
    let granted = &events(&journal, "approval_granted")[0]["event"];
    assert_eq!(granted["approver"], "alice");
    assert_eq!(granted["reason"], "fine");
    assert!(events(&journal, "change_set_amended").is_empty());

    let r = post(&subset, "approve", &[("file", "0")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(read(&s, "drafts/s1.md").as_deref(), Some("s1\n"));
    assert_eq!(read(&s, "drafts/s2.md"), None);
    let journal = s.journal(&subset);
    let amended = &events(&journal, "change_set_amended")[0]["event"];
    assert_eq!(amended["dropped"], serde_json::json!(["drafts/s2.md"]));
    assert_eq!(amended["by"], "alice");

    // Left out and edited at once: refused, nothing decided or written.
    let r = post(&edit, "approve", &[("edit", "0"), ("text0", "x\r\n")]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("write this file"), "{}", r.body);
    assert_eq!(s.status(&edit)["status"], "waiting-approval");
    assert_eq!(read(&s, "drafts/e.md"), None);
    let r = post(
        &edit,
        "approve",
        &[
            ("file", "0"),
            ("edit", "0"),
            ("text0", "edited\r\nby alice\r\n"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        read(&s, "drafts/e.md").as_deref(),
        Some("edited\nby alice\n")
    );
    let journal = s.journal(&edit);
    assert_eq!(
        events(&journal, "change_set_amended")[0]["event"]["edited"],
        serde_json::json!(["drafts/e.md"])
    );
    assert_eq!(events(&journal, "approval_requested").len(), 1);

    let r = post(&rejected, "reject", &[("reason", "  ")]);
    assert_eq!(r.status, 409, "a rejection without a reason: {}", r.body);
    assert_eq!(s.status(&rejected)["status"], "waiting-approval");
    let r = post(&rejected, "reject", &[("reason", "not now")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let state = s.status(&rejected);
    assert_eq!(state["status"], "rejected");
    assert_eq!(state["rejection"]["approver"], "alice");
    assert_eq!(read(&s, "drafts/r.md"), None);

    let r = post(&full, "revert", &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let revert = field(&r.body, "digest");
    assert!(!revert.is_empty());
    let new_id = s.status(&full)["reverted_by"][0]
        .as_str()
        .expect("reverted_by")
        .to_string();
    assert_eq!(s.status(&new_id)["revert_of"], full.as_str());
    let r = post(&new_id, "approve", &[("file", "0"), ("file", "1")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(read(&s, "drafts/f1.md"), None);
    assert_eq!(read(&s, "drafts/f2.md"), None);
    assert_eq!(s.status(&new_id)["status"], "completed");
}

#[test]
fn a_stale_base_is_shown_and_refused() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::fs::write(s.out().join("drafts/b.md"), "base\n").expect("base");
    let id = waiting(&s, &plugins(&s, "p", &[("drafts/b.md", "new\n")], false));
    std::fs::write(s.out().join("drafts/b.md"), "changed meanwhile\n").expect("change");
    let c = Console::start(&s, &[]);
    let cookie = login(&c);
    let page = run_page(&c, &cookie, &id);
    assert!(page.contains("id=\"stale\""), "{page}");
    let csrf = field(&page, "csrf");
    let digest = field(&page, "digest");
    let r = request(
        &c.addr,
        "POST",
        &format!("/runs/{id}/approve"),
        &[("Cookie", &cookie), ("Origin", &c.origin())],
        &form_encode(&[("csrf", &csrf), ("digest", &digest), ("file", "0")]),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("nothing was written"), "{}", r.body);
    assert_eq!(
        read(&s, "drafts/b.md").as_deref(),
        Some("changed meanwhile\n")
    );
}

/// Text a plugin chose, carrying markup, ANSI and bidi characters.
const HOSTILE_PATH: &str =
    "drafts/<script>window.__pwned=1</script><img src=x onerror=alert(1)>.md";
const HOSTILE_TEXT: &str = "# <script>window.__pwned=2</script>\n\u{1b}[31mred\u{1b}[0m \u{202e}gnp.exe\u{202c} \u{2066}iso\u{2069}\n## Sources\n[1] <script>window.__pwned=3</script>\u{1b}[2J\u{202e}x, line 3\n";

fn hostile_run(s: &Scratch) -> String {
    waiting(
        s,
        &plugins(s, "p-hostile", &[(HOSTILE_PATH, HOSTILE_TEXT)], true),
    )
}

#[test]
fn hostile_path_diff_and_findings_render_inert() {
    let s = Scratch::new();
    let id = hostile_run(&s);
    let state = s.status(&id);
    assert!(
        state["review"]["findings"]
            .to_string()
            .contains("__pwned=3"),
        "the finding should quote the hostile source: {state}"
    );
    let c = Console::start(&s, &[]);
    let cookie = login(&c);
    for path in ["/".to_string(), format!("/runs/{id}")] {
        let page = request(&c.addr, "GET", &path, &[("Cookie", &cookie)], "").body;
        assert_inert(&page, &path);
        assert!(
            !page.contains("<script>window"),
            "{path}: raw markup in {page}"
        );
        assert!(!page.contains("<img"), "{path}: raw markup");
        assert_eq!(
            page.matches("<script").count(),
            1,
            "{path}: only console.js"
        );
    }
    let page = run_page(&c, &cookie, &id);
    assert!(
        page.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;window.__pwned=3"),
        "finding not shown: {page}"
    );
    // Made visible, and highlighted, in the diff and in the finding.
    assert!(
        page.contains("<span class=\"esc\">\\u{001b}</span>[31mred"),
        "{page}"
    );
    assert!(
        page.contains("<span class=\"esc\">\\u{202e}</span>gnp.exe"),
        "{page}"
    );
    assert!(
        page.contains("__pwned=3&lt;/script&gt;<span class=\"esc\">\\u{001b}</span>[2J"),
        "{page}"
    );
}

#[test]
fn the_webhook_is_called_when_a_run_starts_waiting() {
    let s = Scratch::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read until the body is complete (Content-Length).
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let raw = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = raw.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
                        let _ = tx.send((head.to_string(), body.to_string()));
                        break;
                    }
                }
            }
        }
    });
    let dir = plugins(&s, "p", &[("drafts/w.md", "w\n")], false);
    std::fs::write(dir.join("console.toml"), format!("webhook = \"{hook}\"\n"))
        .expect("console.toml");
    let c = s
        .host()
        .args(["console", "--plugins"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("console");
    let mut c = Console::adopt(c);
    std::thread::sleep(Duration::from_millis(800));
    let id = waiting(&s, &dir);
    let (head, body) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("webhook call");
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    let body: Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(body["event"], "approval_requested");
    assert_eq!(body["run"], id.as_str());
    assert_eq!(body["url"], format!("{}/runs/{id}", c.origin()));
    assert_eq!(body["digest"], s.status(&id)["change_set_digest"]);
    assert_eq!(body["files"], 1);
    assert!(!body.to_string().contains("token"), "{body}");
    c.stop();
}

impl Console {
    /// A console spawned by the caller (stdout piped).
    fn adopt(mut child: Child) -> Console {
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let login = loop {
            let line = lines.next().expect("login line").expect("read");
            if let Some(url) = line.strip_prefix("login: ") {
                break url.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let addr = login
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .expect("addr")
            .to_string();
        Console { child, addr, login }
    }
}

/// Debian's chromium, which Playwright drives (never a downloaded browser).
const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether node, npm and chromium are there; if not, says the browser test
/// did not run, and panics when `HARNESS_REQUIRE_PY_JS=1` (CI).
fn browser_available(test: &str) -> bool {
    let works = |program: &str| {
        std::process::Command::new(program)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let missing: Vec<&str> = ["node", "npm", CHROMIUM]
        .into_iter()
        .filter(|p| !works(p))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let line = format!(
        "test `{test}` DID NOT RUN: {} not found or not working (`apt-get install -y chromium nodejs npm`; `.ci/run` installs them)",
        missing.join(", ")
    );
    eprintln!("{line}");
    if std::env::var("HARNESS_REQUIRE_PY_JS").is_ok_and(|v| v == "1") {
        panic!("{line}, and HARNESS_REQUIRE_PY_JS=1 requires it");
    }
    false
}

/// `tests/console/install.sh`: the folder holding playwright-core.
fn playwright() -> PathBuf {
    let root = Path::new(artifacts::WORKSPACE_ROOT);
    let out = std::process::Command::new("sh")
        .arg(root.join("tests/console/install.sh"))
        .env("HARNESS_TOOLCHAINS", root.join("target/toolchains"))
        .stdin(Stdio::null())
        .output()
        .expect("run install.sh");
    assert!(
        out.status.success(),
        "installing playwright-core failed: {}",
        text(&out.stderr)
    );
    PathBuf::from(text(&out.stdout).trim())
}

#[test]
fn the_console_in_a_real_headless_chromium() {
    if !browser_available("the_console_in_a_real_headless_chromium") {
        return;
    }
    let driver = playwright();
    let s = Scratch::new();
    let full = waiting(
        &s,
        &plugins(
            &s,
            "p-full",
            &[
                ("drafts/full-1.md", "first file\nline two\n"),
                ("drafts/full-2.md", "second file\n"),
            ],
            false,
        ),
    );
    let subset = waiting(
        &s,
        &plugins(
            &s,
            "p-sub",
            &[
                ("drafts/sub-1.md", "kept\n"),
                ("drafts/sub-2.md", "dropped\n"),
            ],
            false,
        ),
    );
    let edit = waiting(
        &s,
        &plugins(&s, "p-edit", &[("drafts/edit.md", "as proposed\n")], false),
    );
    let reject = waiting(
        &s,
        &plugins(&s, "p-rej", &[("drafts/rej.md", "rejected\n")], false),
    );
    let hostile = hostile_run(&s);
    let live_dir = plugins(&s, "p-live", &[("drafts/live.md", "live\n")], false);

    let c = Console::start(&s, &[]);
    let other = Scratch::new();
    let expiring = Console::start(&other, &["--token-ttl", "1"]);

    let mut live = s.run_cmd(&live_dir);
    live.arg("--json");
    let mut argv = vec![live.get_program().to_string_lossy().into_owned()];
    argv.extend(live.get_args().map(|a| a.to_string_lossy().into_owned()));
    let screenshots = Path::new(artifacts::WORKSPACE_ROOT).join("target/console-screenshots");
    let plan = serde_json::json!({
        "chromium": CHROMIUM,
        "url": c.origin(),
        "login": c.login,
        "expired_login": expiring.login,
        "screenshots": screenshots,
        "live": { "argv": argv },
        "runs": {
            "full": { "id": full, "files": { "drafts/full-1.md": "first file\nline two\n", "drafts/full-2.md": "second file\n" } },
            "subset": { "id": subset },
            "edit": { "id": edit, "text": "edited in the browser\nsecond line\n" },
            "reject": { "id": reject },
            "hostile": { "id": hostile, "path": HOSTILE_PATH },
        },
    });
    let plan_path = s.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).expect("plan");
    let out = std::process::Command::new("node")
        .arg(Path::new(artifacts::WORKSPACE_ROOT).join("tests/console/e2e.mjs"))
        .arg(&plan_path)
        .env("PLAYWRIGHT_DIR", &driver)
        .env("USER", "test-operator")
        .stdin(Stdio::null())
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "browser test failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let learned: Value = serde_json::from_slice(&out.stdout).expect("driver result");
    assert_eq!(learned["logged_out"], true, "{learned}");
    let me = os_user();

    // The live run is the one the page showed, waiting.
    let live_id = learned["live"].as_str().expect("live id");
    assert_eq!(s.status(live_id)["status"], "waiting-approval");

    // Approve wrote exactly the staged bytes, journaled as the OS account;
    // then the revert deleted both created files, journals linked both ways.
    let journal = s.journal(&full);
    let granted = &events(&journal, "approval_granted")[0]["event"];
    assert_eq!(granted["approver"], me.as_str());
    assert_eq!(granted["reason"], "read the diff");
    assert_eq!(
        granted["digest"],
        events(&journal, "approval_requested")[0]["event"]["digest"]
    );
    let applied: Vec<&str> = events(&journal, "write_applied")
        .iter()
        .filter_map(|r| r["event"]["path"].as_str())
        .collect();
    assert_eq!(applied, ["drafts/full-1.md", "drafts/full-2.md"]);
    let revert_id = learned["revert"].as_str().expect("revert id");
    assert_eq!(
        s.status(&full)["reverted_by"],
        serde_json::json!([revert_id])
    );
    assert_eq!(s.status(revert_id)["revert_of"], full.as_str());
    assert_eq!(s.status(revert_id)["status"], "completed");
    assert_eq!(
        read(&s, "drafts/full-1.md"),
        None,
        "revert left the created file"
    );
    assert_eq!(
        read(&s, "drafts/full-2.md"),
        None,
        "revert left the created file"
    );

    // The subset wrote one file; the amendment is journaled before the approval.
    assert_eq!(read(&s, "drafts/sub-1.md").as_deref(), Some("kept\n"));
    assert_eq!(read(&s, "drafts/sub-2.md"), None);
    let journal = s.journal(&subset);
    assert_eq!(
        events(&journal, "change_set_amended")[0]["event"]["dropped"],
        serde_json::json!(["drafts/sub-2.md"])
    );

    // The edit: the file holds the edited bytes (LF, as staged), the journal both change sets.
    assert_eq!(
        read(&s, "drafts/edit.md").as_deref(),
        Some("edited in the browser\nsecond line\n")
    );
    let journal = s.journal(&edit);
    let proposed = &events(&journal, "approval_requested")[0]["event"]["change_set"]["entries"][0]
        ["new_sha256"];
    let amended = &events(&journal, "change_set_amended")[0]["event"]["change_set"]["entries"][0]["new_sha256"];
    assert_ne!(proposed, amended);
    assert_eq!(
        s.blob(&edit, proposed.as_str().expect("sha")),
        b"as proposed\n"
    );
    assert_eq!(
        s.blob(&edit, amended.as_str().expect("sha")),
        b"edited in the browser\nsecond line\n"
    );

    // The rejection wrote nothing.
    let state = s.status(&reject);
    assert_eq!(state["status"], "rejected");
    assert_eq!(state["rejection"]["reason"], "not this one");
    assert_eq!(read(&s, "drafts/rej.md"), None);

    // The hostile run is untouched, and the screenshots are there.
    assert_eq!(s.status(&hostile)["status"], "waiting-approval");
    for shot in ["runs.png", "run.png", "hostile-run.png"] {
        let len = std::fs::metadata(screenshots.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 1000, "screenshot {shot} missing");
    }
    drop(expiring);
    drop(c);
}
