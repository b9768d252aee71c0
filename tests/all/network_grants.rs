//! Network grants: a plugin reaches exactly the `host:port` entries of its
//! `[grants] network`, checked against resolved addresses, and nothing else.
//!
//! Each test starts its own loopback listeners (127.0.0.1, port 0) and asserts
//! what *they* saw: a denied attempt must leave them without a connection or a
//! datagram, an allowed one must deliver the probe's bytes. The denial must be
//! in the invocation's log, naming the plugin, the operation and the manifest
//! line that would allow it. The probe guest (`tests/guests/net-probe`)
//! reports each outcome as JSON instead of failing.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness_host::contract::StepInput;
use harness_host::grants::GrantContext;
use harness_host::manifest;
use harness_host::runtime::{
    FailureKind, Invocation, InvokeFailure, Plugin, Runtime, RuntimeConfig,
};
use serde_json::{Value, json};

use crate::support::{Scratch, TestPlugin, artifacts, one_step_workflow, reviewer, run_id, text};

/// What the probe writes over TCP and UDP (see the guest).
const PAYLOAD: &[u8] = b"net-probe says hello";

/// The probe, loaded through the library with the given manifest extras.
pub(crate) struct Probe {
    dir: tempfile::TempDir,
    plugin: Plugin,
    tokio: tokio::runtime::Runtime,
    _runtime: Runtime,
}

impl Probe {
    pub(crate) fn new(extra: &str) -> Probe {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest_path = dir.path().join("plugin.toml");
        let text = format!(
            "[plugin]\nname = \"probe\"\nkind = \"tool\"\ncomponent = {:?}\n{extra}\n",
            artifacts::GUEST_NET_PROBE
        );
        std::fs::write(&manifest_path, text).expect("write manifest");
        let manifest = manifest::load(&manifest_path).expect("manifest");
        let mut config = RuntimeConfig::new(shared_cache());
        config.max_instances = 4;
        let runtime = Runtime::new(config).expect("runtime");
        let plugin = runtime
            .load(&manifest, &GrantContext::new(dir.path()))
            .expect("load probe");
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio");
        Probe {
            dir,
            plugin,
            tokio,
            _runtime: runtime,
        }
    }

    pub(crate) fn granted(entries: &[String]) -> Probe {
        let list: Vec<String> = entries.iter().map(|e| format!("{e:?}")).collect();
        Probe::new(&format!("[grants]\nnetwork = [{}]\n", list.join(", ")))
    }

    pub(crate) fn manifest_path(&self) -> PathBuf {
        self.dir.path().join("plugin.toml")
    }

    pub(crate) fn invoke(&self, input: Value) -> Result<Invocation<Value>, InvokeFailure> {
        let input = StepInput {
            input: input.to_string(),
            needs: Vec::new(),
        };
        let invocation = self.tokio.block_on(self.plugin.invoke_tool(&input))?;
        let output = invocation.value.expect("the probe reports, never fails");
        Ok(Invocation {
            value: serde_json::from_str(&output.output).expect("probe output is JSON"),
            logs: invocation.logs,
            duration: invocation.duration,
            changes: invocation.changes,
        })
    }

    /// Run one action; return the probe's report and the invocation's log lines.
    pub(crate) fn call(&self, input: Value) -> (Value, String) {
        let invocation = self.invoke(input).expect("invocation");
        let logs: Vec<String> = invocation.logs.into_iter().map(|r| r.message).collect();
        (invocation.value, logs.join("\n"))
    }

    /// Assert the action was denied, and that the log explains it.
    pub(crate) fn assert_denied(
        &self,
        input: Value,
        action_logged: &str,
        allow_with: Option<&str>,
    ) {
        let (report, logs) = self.call(input.clone());
        assert_eq!(report["ok"], false, "{input}: {report}");
        let line = logs
            .lines()
            .find(|l| l.contains(action_logged))
            .unwrap_or_else(|| panic!("no log line with `{action_logged}` for {input}:\n{logs}"));
        assert!(
            line.starts_with("network access denied to plugin `probe`: "),
            "{line}"
        );
        match allow_with {
            Some(entry) => assert!(
                line.ends_with(&format!(
                    "to allow it, add \"{entry}\" to [grants] network in `{}`",
                    self.manifest_path().display()
                )),
                "{line}"
            ),
            None => assert!(!line.contains("to allow it"), "{line}"),
        }
    }
}

fn shared_cache() -> PathBuf {
    Path::new(artifacts::WORKSPACE_ROOT)
        .join("target")
        .join("test-compile-cache")
}

/// A TCP listener on 127.0.0.1 that records what reaches it.
pub(crate) struct Listener {
    listener: TcpListener,
}

impl Listener {
    pub(crate) fn new() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        Listener { listener }
    }

    pub(crate) fn port(&self) -> u16 {
        self.listener.local_addr().expect("addr").port()
    }

    /// The bytes of the first pending connection, or `None` if nobody
    /// connected.
    pub(crate) fn received(&self) -> Option<Vec<u8>> {
        match self.listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false).expect("blocking");
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let mut bytes = Vec::new();
                stream.read_to_end(&mut bytes).expect("read");
                Some(bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// A UDP socket on 127.0.0.1 that records what reaches it.
struct Datagrams {
    socket: UdpSocket,
}

impl Datagrams {
    fn new() -> Datagrams {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Datagrams { socket }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().expect("addr").port()
    }

    fn received(&self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 1024];
        match self.socket.recv_from(&mut buf) {
            Ok((n, _)) => Some(buf[..n].to_vec()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
}

/// A one-shot HTTP/1.1 server on 127.0.0.1: answers the first request with
/// `body` (or never answers, if `body` is `None`) and records the request.
struct HttpServer {
    port: u16,
    request: Arc<Mutex<Option<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    fn start(body: Option<&'static str>, serve_for: Duration) -> HttpServer {
        let listener = Listener::new();
        let port = listener.port();
        let request = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&request);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + serve_for;
            while Instant::now() < deadline {
                let Some((mut stream, head)) = crate::support::accept_head(&listener.listener)
                else {
                    continue;
                };
                *seen.lock().expect("lock") = Some(head);
                match body {
                    Some(body) => {
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        // The peer may already be gone (the tests' own poke).
                        let _ = stream.write_all(response.as_bytes());
                    }
                    // Hold the connection open without answering.
                    None => std::thread::sleep(deadline.saturating_duration_since(Instant::now())),
                }
                return;
            }
        });
        HttpServer {
            port,
            request,
            thread: Some(thread),
        }
    }

    /// Stop waiting and return the request the server saw, if any.
    fn finish(mut self) -> Option<String> {
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread");
        }
        self.request.lock().expect("lock").take()
    }
}

fn tcp(address: &str) -> Value {
    json!({ "action": "tcp-connect", "address": address })
}

fn udp(address: &str) -> Value {
    json!({ "action": "udp-send", "address": address })
}

/// A probe granted `host:port` with a `timeout_ms` timeout, fetching `url`
/// from a server that never answers, fails with a timeout in under 3 s.
pub(crate) fn times_out_within_3s(host: &str, port: u16, timeout_ms: u64, url: &str) {
    let probe = Probe::new(&format!(
        "[grants]\nnetwork = [\"{host}:{port}\"]\n[limits]\ntimeout-ms = {timeout_ms}\n"
    ));
    let started = Instant::now();
    let failure = probe
        .invoke(http_get(url))
        .expect_err("the call must time out");
    assert_eq!(failure.kind, FailureKind::Timeout, "{failure}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

pub(crate) fn http_get(url: &str) -> Value {
    json!({ "action": "http-get", "url": url })
}

#[test]
fn without_a_grant_tcp_connect_is_denied_and_the_listener_gets_nothing() {
    let listener = Listener::new();
    let port = listener.port();
    let probe = Probe::new("");
    let target = format!("127.0.0.1:{port}");
    probe.assert_denied(
        tcp(&target),
        &format!("tcp connect {target}: the address is not in the plugin's network grant"),
        Some(&target),
    );
    assert_eq!(listener.received(), None);
}

#[test]
fn without_a_grant_udp_send_is_denied_and_no_datagram_arrives() {
    let sink = Datagrams::new();
    let target = format!("127.0.0.1:{}", sink.port());
    let probe = Probe::new("");
    probe.assert_denied(
        udp(&target),
        &format!("udp send to {target}"),
        Some(&target),
    );
    assert_eq!(sink.received(), None);
}

#[test]
fn without_a_grant_name_lookup_is_denied_before_the_resolver() {
    let probe = Probe::new("");
    probe.assert_denied(
        json!({ "action": "lookup", "name": "localhost" }),
        "dns lookup `localhost`",
        Some("localhost:<port>"),
    );
}

#[test]
fn without_a_grant_http_is_denied_and_the_server_gets_nothing() {
    let server = HttpServer::start(Some("secret"), Duration::from_millis(300));
    let url = format!("http://127.0.0.1:{}/", server.port);
    let probe = Probe::new("");
    probe.assert_denied(
        http_get(&url),
        &format!("http GET {url}"),
        Some(&format!("127.0.0.1:{}", server.port)),
    );
    assert_eq!(server.finish(), None);
}

#[test]
fn listening_is_denied_with_or_without_a_grant() {
    let listener = Listener::new();
    for probe in [
        Probe::new(""),
        Probe::granted(&[format!("127.0.0.1:{}", listener.port())]),
    ] {
        // Binding a chosen address is refused at bind...
        probe.assert_denied(
            json!({ "action": "tcp-listen", "address": "127.0.0.1:0" }),
            "tcp bind 127.0.0.1:0",
            None,
        );
        // ...and after the ephemeral wildcard bind, listening is refused
        // (the log names the port the OS picked).
        probe.assert_denied(
            json!({ "action": "tcp-listen", "address": "0.0.0.0:0" }),
            "plugins may not accept connections; listening is never granted",
            None,
        );
    }
}

#[test]
fn a_granted_address_reaches_the_real_listener() {
    let listener = Listener::new();
    let target = format!("127.0.0.1:{}", listener.port());
    let probe = Probe::granted(std::slice::from_ref(&target));
    let (report, logs) = probe.call(tcp(&target));
    assert_eq!(report["ok"], true, "{report}\n{logs}");
    assert_eq!(listener.received().as_deref(), Some(PAYLOAD));
    assert!(!logs.contains("denied"), "{logs}");
}

#[test]
fn a_granted_udp_address_receives_the_datagram() {
    let sink = Datagrams::new();
    let target = format!("127.0.0.1:{}", sink.port());
    let probe = Probe::granted(std::slice::from_ref(&target));
    let (report, logs) = probe.call(udp(&target));
    assert_eq!(report["ok"], true, "{report}\n{logs}");
    assert_eq!(sink.received().as_deref(), Some(PAYLOAD));
}

#[test]
fn tcp_bypass_spellings_and_other_ports_are_denied() {
    let granted = Listener::new();
    let other = Listener::new();
    let port = granted.port();
    let probe = Probe::granted(&[format!("127.0.0.1:{port}")]);

    // An IPv4-mapped IPv6 spelling of the granted address. WASI itself
    // refuses mapped addresses on sockets (`invalid-argument`) before the
    // host's check runs (which would refuse it too); no log line to expect.
    let (report, _) = probe.call(tcp(&format!("[::ffff:127.0.0.1]:{port}")));
    assert_eq!(report["ok"], false, "{report}");
    // Numeric spellings are not socket addresses, so the guest's libc asks
    // the resolver; only granted names are looked up.
    for spelling in ["127.1", "2130706433", "0x7f000001"] {
        probe.assert_denied(
            tcp(&format!("{spelling}:{port}")),
            &format!("dns lookup `{spelling}`"),
            Some(&format!("{spelling}:<port>")),
        );
    }
    // The right host, a port that is not granted.
    let other_target = format!("127.0.0.1:{}", other.port());
    probe.assert_denied(
        tcp(&other_target),
        &format!("tcp connect {other_target}"),
        Some(&other_target),
    );
    // Another loopback address on the granted port.
    probe.assert_denied(
        tcp(&format!("127.0.0.2:{port}")),
        &format!("tcp connect 127.0.0.2:{port}"),
        Some(&format!("127.0.0.2:{port}")),
    );
    assert_eq!(
        granted.received(),
        None,
        "a bypass reached the granted listener"
    );
    assert_eq!(
        other.received(),
        None,
        "a bypass reached the other listener"
    );
}

#[test]
fn a_granted_name_is_looked_up_and_reached_but_other_names_are_never_looked_up() {
    let listener = Listener::new();
    let port = listener.port();
    let probe = Probe::granted(&[format!("localhost:{port}")]);

    let (report, logs) = probe.call(json!({ "action": "lookup", "name": "localhost" }));
    assert_eq!(report["ok"], true, "{report}\n{logs}");
    let addresses = report["addresses"].to_string();
    assert!(addresses.contains("127.0.0.1"), "{addresses}");

    // A name that would carry data out to a resolver is not looked up.
    probe.assert_denied(
        json!({ "action": "lookup", "name": "c2VjcmV0.exfil.example" }),
        "dns lookup `c2VjcmV0.exfil.example`",
        Some("c2VjcmV0.exfil.example:<port>"),
    );

    let (report, logs) = probe.call(tcp(&format!("127.0.0.1:{port}")));
    assert_eq!(report["ok"], true, "{report}\n{logs}");
    assert_eq!(listener.received().as_deref(), Some(PAYLOAD));
}

#[test]
fn http_to_the_granted_host_is_served_by_the_real_server() {
    let server = HttpServer::start(Some("hello from loopback"), Duration::from_secs(20));
    let port = server.port;
    let probe = Probe::granted(&[format!("127.0.0.1:{port}")]);
    let (report, logs) = probe.call(http_get(&format!("http://127.0.0.1:{port}/hello?x=1")));
    let request = server.finish().expect("the server got the request");
    assert_eq!(report["ok"], true, "{report}\n{logs}");
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["body"], "hello from loopback", "{report}");
    assert!(
        request.starts_with("GET /hello?x=1 HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains(&format!("host: 127.0.0.1:{port}")),
        "{request}"
    );
}

#[test]
fn http_bypass_spellings_and_other_ports_are_denied() {
    let server = HttpServer::start(Some("secret"), Duration::from_secs(30));
    let other = Listener::new();
    let port = server.port;
    let granted = format!("127.0.0.1:{port}");
    let probe = Probe::granted(std::slice::from_ref(&granted));

    for spelling in ["2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"] {
        let url = format!("http://{spelling}:{port}/");
        probe.assert_denied(
            http_get(&url),
            &format!("http GET {url}: "),
            None, // the canonical address is granted: the log says to use it
        );
    }
    let url = format!("http://127.0.0.1:{}/", other.port());
    probe.assert_denied(
        http_get(&url),
        &format!("http GET {url}: the address is not in the plugin's network grant"),
        Some(&format!("127.0.0.1:{}", other.port())),
    );
    // A name outside the grant is not even resolved.
    let url = format!("http://localhost:{port}/");
    probe.assert_denied(
        http_get(&url),
        &format!("http GET {url}: `localhost` is not a name in the plugin's network grant"),
        Some(&format!("localhost:{port}")),
    );
    // https to a port the grant does not name (443 when the URL names
    // none) is denied like http (TLS itself: see `https_grants`).
    for (url, entry) in [
        (
            "https://127.0.0.1/".to_string(),
            "127.0.0.1:443".to_string(),
        ),
        (
            format!("https://127.0.0.1:{}/", other.port()),
            format!("127.0.0.1:{}", other.port()),
        ),
    ] {
        probe.assert_denied(
            http_get(&url),
            &format!("http GET {url}: the address is not in the plugin's network grant"),
            Some(&entry),
        );
    }

    drop(probe);
    // Stop the server by connecting to it ourselves once the probe is done.
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("poke the server");
    assert_eq!(
        server.finish().as_deref(),
        Some(""),
        "only our own poke may have reached the server"
    );
    assert_eq!(other.received(), None);
}

#[test]
fn http_to_a_granted_name_resolving_to_a_non_granted_port_is_denied() {
    let server = HttpServer::start(Some("secret"), Duration::from_millis(500));
    let other = Listener::new();
    // The grant names `localhost` on another port; the request's name is
    // granted, but what it resolves to (with the request's port) is not.
    let probe = Probe::granted(&[format!("localhost:{}", other.port())]);
    let url = format!("http://localhost:{}/", server.port);
    probe.assert_denied(
        http_get(&url),
        &format!("http GET {url}: `localhost` now resolves to "),
        Some(&format!("localhost:{}", server.port)),
    );
    assert_eq!(server.finish(), None);
}

#[test]
fn a_guest_blocked_in_an_http_request_is_stopped_by_its_timeout() {
    let server = HttpServer::start(None, Duration::from_secs(3));
    let port = server.port;
    times_out_within_3s(
        "127.0.0.1",
        port,
        300,
        &format!("http://127.0.0.1:{port}/slow"),
    );
    let request = server.finish().expect("the request reached the server");
    assert!(request.starts_with("GET /slow HTTP/1.1"), "{request}");
}

#[test]
fn a_run_of_an_ungranted_plugin_records_the_denial_in_its_step_logs() {
    let listener = Listener::new();
    let s = Scratch::new();
    let target = format!("127.0.0.1:{}", listener.port());
    let dir = s.tool_plugins(
        "net-probe",
        artifacts::GUEST_NET_PROBE,
        "",
        &format!("{{ action = \"tcp-connect\", address = \"{target}\" }}"),
    );
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    let state = s.status(&id);
    let logs = state["steps"]["only"]["logs"].to_string();
    let manifest = dir.join("net-probe").join("plugin.toml");
    assert!(
        logs.contains(&format!(
            "network access denied to plugin `net-probe`: tcp connect {target}"
        )),
        "{logs}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(
        logs.contains(&format!(
            "add \\\"{target}\\\" to [grants] network in `{}`",
            manifest.display()
        )),
        "{logs}"
    );
    assert_eq!(listener.received(), None);
}

#[test]
fn a_run_with_a_network_grant_gets_the_response_of_the_real_server() {
    let server = HttpServer::start(Some("served to the run"), Duration::from_secs(60));
    let s = Scratch::new();
    let grant: &'static str = Box::leak(
        format!("[grants]\nnetwork = [\"127.0.0.1:{}\"]\n", server.port).into_boxed_str(),
    );
    let dir = s.tool_plugins(
        "net-probe",
        artifacts::GUEST_NET_PROBE,
        grant,
        &format!(
            "{{ action = \"http-get\", url = \"http://127.0.0.1:{}/run\" }}",
            server.port
        ),
    );
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    let state = s.status(&id);
    let sha = state["steps"]["only"]["output_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("the step succeeded: {state:#}"));
    let output: Value = serde_json::from_slice(&s.blob(&id, sha)).expect("output JSON");
    assert_eq!(output["body"], "served to the run", "{output}");
    let request = server.finish().expect("the server got the request");
    assert!(request.starts_with("GET /run HTTP/1.1"), "{request}");
}

#[test]
fn plugins_list_shows_the_network_grant() {
    let s = Scratch::new();
    let probe = TestPlugin {
        name: "net-probe",
        kind: "tool",
        component: artifacts::GUEST_NET_PROBE,
        extra: "[grants]\nnetwork = [\"127.0.0.1:8080\", \"localhost:11434\", \"[::1]:9000\"]\n",
    };
    let dir = s.plugins_dir(
        "plugins",
        &[probe, reviewer()],
        &one_step_workflow("net-probe", "{}"),
    );
    let out = s
        .host()
        .args(["plugins", "list", "--plugins"])
        .arg(&dir)
        .output()
        .expect("plugins list");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("network 127.0.0.1:8080, localhost:11434, [::1]:9000"),
        "{stdout}"
    );
    let reviewer_line = stdout
        .lines()
        .find(|l| l.starts_with("reviewer"))
        .expect("reviewer listed");
    assert!(reviewer_line.contains("no network"), "{reviewer_line}");
}

#[test]
fn an_odd_ip_spelling_in_a_manifest_is_refused_before_any_run() {
    let s = Scratch::new();
    let dir = s.tool_plugins(
        "net-probe",
        artifacts::GUEST_NET_PROBE,
        "[grants]\nnetwork = [\"127.1:8080\"]\n",
        "{}",
    );
    let out = s.run(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("grants.network[0]")
            && stderr.contains("net-probe/plugin.toml")
            && stderr.contains("hint: write it in canonical form: \"127.0.0.1:8080\""),
        "{stderr}"
    );
    assert!(
        !s.state().join("runs").exists()
            || std::fs::read_dir(s.state().join("runs"))
                .expect("ls")
                .count()
                == 0
    );
}
