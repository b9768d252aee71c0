//! The SDK's HTTP client (`harness_sdk::http`) inside a real run: the
//! net-probe guest's `sdk-get` action sends a GET through it and reports the
//! typed error it got, so these tests check what a plugin author sees (the
//! host's denial, carried by `Error::Denied`) against what the host recorded
//! (the step's log in the run state) and what the loopback server received.

use std::io::Write as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Scratch, artifacts, run_id, text};

/// A loopback server that answers every request with `body` until dropped,
/// recording each request head.
struct Server {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<Mutex<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(body: &'static str) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(Mutex::new(false));
        let (seen, stopped) = (Arc::clone(&heads), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !*stopped.lock().expect("lock") {
                let Some((mut stream, head)) = crate::support::accept_head(&listener) else {
                    continue;
                };
                seen.lock().expect("lock").push(head);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-probe: yes\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Server {
            port,
            heads,
            stop,
            thread: Some(thread),
        }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        *self.stop.lock().expect("lock") = true;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Run the probe's `sdk-get` of `url` with `grant` (manifest extras); return
/// the probe's report, the step's log lines (host-side) and the plugins dir.
fn sdk_get(s: &Scratch, grant: &'static str, url: &str) -> (Value, String, std::path::PathBuf) {
    sdk_get_input(
        s,
        grant,
        &format!("{{ action = \"sdk-get\", url = \"{url}\" }}"),
    )
}

/// [`sdk_get`] with the probe's whole input (a TOML inline table).
fn sdk_get_input(
    s: &Scratch,
    grant: &'static str,
    input: &str,
) -> (Value, String, std::path::PathBuf) {
    let dir = s.tool_plugins("net-probe", artifacts::GUEST_NET_PROBE, grant, input);
    let started = Instant::now();
    let out = s.run(&dir, &[]);
    assert!(started.elapsed() < Duration::from_secs(60));
    let id = run_id(&out);
    let state = s.status(&id);
    let sha = state["steps"]["only"]["output_sha256"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "the probe reports, never fails: {state:#}\n{}",
                text(&out.stderr)
            )
        });
    let report: Value = serde_json::from_slice(&s.blob(&id, sha)).expect("report JSON");
    let logs: Vec<String> = state["steps"]["only"]["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect();
    (report, logs.join("\n"), dir)
}

fn grant(port: u16) -> &'static str {
    Box::leak(format!("[grants]\nnetwork = [\"127.0.0.1:{port}\"]\n").into_boxed_str())
}

#[test]
fn the_sdk_client_carries_the_hosts_denial_and_the_server_gets_nothing() {
    let server = Server::start("secret");
    let url = format!("http://127.0.0.1:{}/sdk", server.port);
    let s = Scratch::new();
    let (report, logs, dir) = sdk_get(&s, "", &url);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["kind"], "denied", "{report}");
    assert_eq!(report["transient"], false, "{report}");
    let error = report["error"].as_str().expect("error");
    assert!(
        error.starts_with(&format!(
            "the host denied the request to {url}: it is outside this plugin's network grant"
        )) && error.contains("\nhint: "),
        "{error}"
    );
    // The host's own line names the plugin, the request and the entry to add.
    let manifest = dir.join("net-probe").join("plugin.toml");
    let line = logs
        .lines()
        .find(|l| l.starts_with("network access denied to plugin `net-probe`: "))
        .unwrap_or_else(|| panic!("no denial line:\n{logs}"));
    assert!(line.contains(&format!("http GET {url}")), "{line}");
    assert!(
        line.ends_with(&format!(
            "to allow it, add \"127.0.0.1:{}\" to [grants] network in `{}`",
            server.port,
            manifest.display()
        )),
        "{line}"
    );
    assert!(server.heads().is_empty(), "{:?}", server.heads());
}

#[test]
fn the_sdk_client_reaches_a_granted_server_and_reads_the_response() {
    let server = Server::start("hello from the sdk");
    let url = format!("http://127.0.0.1:{}/sdk?x=1", server.port);
    let s = Scratch::new();
    let (report, logs, _) = sdk_get(&s, grant(server.port), &url);
    assert_eq!(report["ok"], true, "{report}\n{logs}");
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["body"], "hello from the sdk", "{report}");
    let heads = server.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with("GET /sdk?x=1 HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains(&format!("host: 127.0.0.1:{}", server.port)),
        "{}",
        heads[0]
    );
    assert!(!logs.contains("denied"), "{logs}");
}

#[test]
fn a_granted_port_with_no_server_is_a_transient_error_not_a_denial() {
    // Bind and drop: the port is granted, but nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let s = Scratch::new();
    let (report, logs, _) = sdk_get(&s, grant(port), &url);
    assert_eq!(report["ok"], false, "{report}");
    assert_ne!(report["kind"], "denied", "{report}");
    assert_eq!(report["transient"], true, "{report}");
    assert!(
        report["error"].as_str().expect("error").contains(&url),
        "{report}"
    );
    assert!(!logs.contains("network access denied"), "{logs}");
}

#[test]
fn the_sdk_timeout_bounds_the_wait_for_a_silent_server() {
    // A listener nobody accepts from: the kernel completes the connection and
    // buffers the request, and no response ever comes.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}/slow");
    let s = Scratch::new();
    let started = Instant::now();
    let (report, logs, _) = sdk_get_input(
        &s,
        grant(port),
        &format!("{{ action = \"sdk-get\", url = \"{url}\", timeout_ms = 300 }}"),
    );
    // Had the request's timeout not applied, the host's default 10 s limit
    // would have stopped the probe and there would be no report to read.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report["ok"], false, "{report}\n{logs}");
    assert_eq!(report["kind"], "timeout", "{report}");
    assert_eq!(report["transient"], true, "{report}");
    let error = report["error"].as_str().expect("error");
    assert!(
        error.starts_with(&format!("the request to {url} timed out (")),
        "{error}"
    );
    drop(silent);
}
