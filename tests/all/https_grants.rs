//! `https://` under the network grant: TLS from the host's own sender,
//! verified against the host named in the URL, against real TLS servers on
//! loopback (see `tls_support`).
//!
//! Each test makes its own CA and server certificates, starts its own
//! servers, and asserts what the *servers* saw (a request, a failed
//! handshake, or no connection at all) as well as the host's log line for
//! the invocation, which must name the plugin, the request, what failed and
//! the key that would change it.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::network_grants::{Listener, Probe, http_get, times_out_within_3s};
use crate::support::{Scratch, artifacts, run_id, text};
use crate::tls_support::{TestCa, TlsServer, Validity, response};

/// The probe granted `entries`, trusting the PEM files `roots` besides the
/// compiled-in roots.
fn probe(entries: &[String], roots: &[&Path]) -> Probe {
    let list = |items: Vec<String>| {
        items
            .iter()
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Probe::new(&format!(
        "[grants]\nnetwork = [{}]\ntls-roots = [{}]\n",
        list(entries.to_vec()),
        list(roots.iter().map(|r| r.display().to_string()).collect())
    ))
}

/// Run a GET of `url`; assert it failed and the log has a line starting with
/// the failure of `url` and containing each of `needles`. Returns the line.
fn assert_tls_refused(probe: &Probe, url: &str, needles: &[&str]) -> String {
    let (report, logs) = probe.call(http_get(url));
    assert_eq!(report["ok"], false, "{url}: {report}\n{logs}");
    let prefix = format!("network request failed for plugin `probe`: http GET {url}: ");
    let line = logs
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no failure line for {url}:\n{logs}"))
        .to_string();
    for needle in needles {
        assert!(line.contains(needle), "`{needle}` not in: {line}");
    }
    line
}

fn ok_body(report: &Value) -> &str {
    assert_eq!(report["ok"], true, "{report}");
    report["body"].as_str().expect("body")
}

#[test]
fn a_granted_https_endpoint_with_a_trusted_internal_root_is_served() {
    let ca = TestCa::new("Internal CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "internal-ca.pem");
    let server = TlsServer::answering(
        ca.issue(&["localhost"], Validity::Current),
        "hello over tls",
    );
    let port = server.port();
    let probe = probe(&[format!("localhost:{port}")], &[&pem]);
    let (report, logs) = probe.call(http_get(&format!("https://localhost:{port}/secure?q=1")));
    assert_eq!(ok_body(&report), "hello over tls", "{logs}");
    assert_eq!(report["status"], 200);
    assert!(!logs.contains("network"), "{logs}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].head.starts_with("GET /secure?q=1 HTTP/1.1\r\n"),
        "{}",
        requests[0].head
    );
    assert!(
        requests[0]
            .head
            .to_ascii_lowercase()
            .contains(&format!("host: localhost:{port}")),
        "{}",
        requests[0].head
    );
    assert!(server.failures(0).is_empty(), "{:?}", server.failures(0));
}

#[test]
fn an_ip_url_is_verified_against_the_ip_and_a_name_url_against_the_name() {
    let ca = TestCa::new("Internal CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    // A certificate for the address only.
    let server = TlsServer::answering(ca.issue(&["127.0.0.1"], Validity::Current), "by ip");
    let port = server.port();
    let probe = probe(
        &[format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        &[&pem],
    );
    let (report, logs) = probe.call(http_get(&format!("https://127.0.0.1:{port}/")));
    assert_eq!(ok_body(&report), "by ip", "{logs}");
    // `localhost` resolves to 127.0.0.1, but the certificate must cover the
    // name in the URL, not the address it resolved to.
    assert_tls_refused(
        &probe,
        &format!("https://localhost:{port}/"),
        &[
            &format!("TLS handshake with `localhost:{port}` failed: name mismatch"),
            "verification cannot be turned off",
        ],
    );
    assert_eq!(
        server.requests().len(),
        1,
        "only the IP request got through"
    );
}

#[test]
fn an_untrusted_issuer_is_refused_naming_the_tls_roots_key() {
    let trusted = TestCa::new("Trusted CA");
    let other = TestCa::new("Someone else's CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = trusted.write_pem(roots.path(), "ca.pem");
    let server = TlsServer::answering(other.issue(&["localhost"], Validity::Current), "no");
    let port = server.port();
    let url = format!("https://localhost:{port}/");
    for probe in [
        probe(&[format!("localhost:{port}")], &[&pem]),
        // The compiled-in Mozilla roots alone do not know it either.
        probe(&[format!("localhost:{port}")], &[]),
    ] {
        let line = assert_tls_refused(
            &probe,
            &url,
            &[
                &format!("TLS handshake with `localhost:{port}` failed: unknown issuer"),
                "add its PEM file to [grants] tls-roots in `",
                "`tls-roots` in grants.toml",
            ],
        );
        assert!(
            line.contains(&probe.manifest_path().display().to_string()),
            "{line}"
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    let failures = server.failures(2);
    assert_eq!(failures.len(), 2, "{failures:?}");
}

#[test]
fn a_certificate_for_another_name_is_refused_as_a_name_mismatch() {
    let ca = TestCa::new("Internal CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let server = TlsServer::answering(ca.issue(&["api.other.example"], Validity::Current), "no");
    let port = server.port();
    let probe = probe(&[format!("localhost:{port}")], &[&pem]);
    assert_tls_refused(
        &probe,
        &format!("https://localhost:{port}/"),
        &[
            "failed: name mismatch",
            "does not cover the host named in the URL",
        ],
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    let failures = server.failures(1);
    assert_eq!(failures.len(), 1, "{failures:?}");
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let ca = TestCa::new("Internal CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let server = TlsServer::answering(ca.issue(&["localhost"], Validity::Expired), "no");
    let port = server.port();
    let probe = probe(&[format!("localhost:{port}")], &[&pem]);
    assert_tls_refused(
        &probe,
        &format!("https://localhost:{port}/"),
        &[
            "failed: expired certificate",
            "renew the server's certificate",
        ],
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn plain_http_to_a_tls_port_and_tls_to_a_plain_port_are_named() {
    let ca = TestCa::new("Internal CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let server = TlsServer::answering(ca.issue(&["localhost"], Validity::Current), "no");
    let plain = TcpListener::bind("127.0.0.1:0").expect("bind");
    let (tls_port, plain_port) = (server.port(), plain.local_addr().expect("addr").port());
    let probe = probe(
        &[
            format!("localhost:{tls_port}"),
            format!("localhost:{plain_port}"),
        ],
        &[&pem],
    );

    // http:// to the TLS server: it sees no request, the log says to use https.
    assert_tls_refused(
        &probe,
        &format!("http://localhost:{tls_port}/"),
        &[
            "the server answered with TLS, not HTTP",
            "if the server speaks TLS on that port, use an https:// URL",
        ],
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    let failures = server.failures(1);
    assert_eq!(failures.len(), 1, "{failures:?}");

    // https:// to a server that does not speak TLS (it closes after reading).
    let url = format!("https://localhost:{plain_port}/");
    // It reads what the client sends first, then hangs up.
    let waiter = std::thread::spawn(move || {
        let (mut stream, _) = plain.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut first = vec![0u8; 4096];
        let n = stream.read(&mut first).expect("read");
        first.truncate(n);
        first
    });
    assert_tls_refused(
        &probe,
        &url,
        &[
            &format!("TLS handshake with `localhost:{plain_port}` failed: not TLS"),
            "use an http:// URL if it serves plain HTTP",
        ],
    );
    let sent = waiter.join().expect("the probe connected");
    // What reached the plain port is a TLS ClientHello (a handshake record),
    // carrying the granted name as SNI, and no HTTP request.
    assert_eq!(sent.first(), Some(&0x16), "{sent:?}");
    assert!(
        sent.windows(b"localhost".len()).any(|w| w == b"localhost"),
        "SNI names the URL's host"
    );
    assert!(!sent.windows(4).any(|w| w == b"GET "), "{sent:?}");
}

#[test]
fn tls_to_a_port_the_grant_does_not_name_is_denied_before_connecting() {
    let ca = TestCa::new("Internal CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let granted = TlsServer::answering(ca.issue(&["localhost"], Validity::Current), "ok");
    let other = TlsServer::answering(ca.issue(&["localhost"], Validity::Current), "secret");
    let probe = probe(&[format!("localhost:{}", granted.port())], &[&pem]);
    let url = format!("https://localhost:{}/", other.port());
    probe.assert_denied(
        http_get(&url),
        &format!("http GET {url}: `localhost` now resolves to "),
        Some(&format!("localhost:{}", other.port())),
    );
    // No port in the URL means 443, which is not granted either.
    probe.assert_denied(
        http_get("https://localhost/"),
        "http GET https://localhost/: `localhost` now resolves to ",
        Some("localhost:443"),
    );
    assert_eq!(other.connections(), 0, "the other server was never reached");
    assert_eq!(granted.connections(), 0);
}

#[test]
fn a_redirect_to_a_host_outside_the_grant_is_not_followed() {
    let ca = TestCa::new("Internal CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let elsewhere = Listener::new();
    let location = format!("Location: http://127.0.0.1:{}/stolen", elsewhere.port());
    let server = TlsServer::start(
        ca.issue(&["localhost"], Validity::Current),
        Box::new(move |_, _| Some(response(302, "text/plain", "moved", &[&location]))),
    );
    let port = server.port();
    let probe = probe(&[format!("localhost:{port}")], &[&pem]);
    let (report, logs) = probe.call(http_get(&format!("https://localhost:{port}/start")));
    // The guest gets the 302 itself; the host made no second request.
    assert_eq!(report["ok"], true, "{report}\n{logs}");
    assert_eq!(report["status"], 302, "{report}");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(elsewhere.received(), None, "the redirect was followed");
    assert!(!logs.contains("network"), "{logs}");
}

#[test]
fn a_server_that_never_finishes_the_handshake_is_stopped_by_the_plugin_timeout() {
    // Accepts, reads the ClientHello, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let holder = std::thread::spawn(move || {
        let (mut stream, _) = silent.accept().expect("accept");
        let mut hello = [0u8; 512];
        let n = stream.read(&mut hello).unwrap_or(0);
        std::thread::sleep(Duration::from_secs(2));
        n
    });
    times_out_within_3s(
        "localhost",
        port,
        400,
        &format!("https://localhost:{port}/"),
    );
    assert!(holder.join().expect("holder") > 0, "a ClientHello was sent");
}

#[test]
fn an_admin_trust_root_in_grants_toml_serves_a_run_and_is_journaled() {
    let ca = TestCa::new("Admin's internal CA");
    let server = TlsServer::answering(
        ca.issue(&["localhost"], Validity::Current),
        "served over tls to the run",
    );
    let port = server.port();
    let s = Scratch::new();
    let extra: &'static str =
        Box::leak(format!("[grants]\nnetwork = [\"localhost:{port}\"]\n").into_boxed_str());
    let dir = s.tool_plugins(
        "net-probe",
        artifacts::GUEST_NET_PROBE,
        extra,
        &format!("{{ action = \"http-get\", url = \"https://localhost:{port}/run\" }}"),
    );
    // Without the admin's root, the issuer is unknown: the step's log says
    // where a root goes, and the server sees no request.
    std::fs::write(
        dir.join("grants.toml"),
        format!("[reviewer]\n[net-probe]\nnetwork = [\"localhost:{port}\"]\n"),
    )
    .expect("grants");
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    let logs = s.status(&id)["steps"]["only"]["logs"].to_string();
    assert!(
        logs.contains("failed: unknown issuer") && logs.contains("`tls-roots` in grants.toml"),
        "{logs}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(server.requests().is_empty());
    assert!(s.recorded_grants(&id, "net-probe")["grants"]["tls_roots"].is_null());

    // The admin adds the internal CA next to grants.toml.
    std::fs::create_dir(dir.join("ca")).expect("mkdir");
    ca.write_pem(&dir.join("ca"), "internal.pem");
    std::fs::write(
        dir.join("grants.toml"),
        format!(
            "[reviewer]\n[net-probe]\nnetwork = [\"localhost:{port}\"]\ntls-roots = [\"ca/internal.pem\"]\n"
        ),
    )
    .expect("grants");
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    let state = s.status(&id);
    let sha = state["steps"]["only"]["output_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("the step succeeded: {state:#}\n{}", text(&out.stderr)));
    let output: Value = serde_json::from_slice(&s.blob(&id, sha)).expect("output JSON");
    assert_eq!(output["body"], "served over tls to the run", "{output}");
    assert_eq!(server.requests().len(), 1);
    assert!(server.requests()[0].head.starts_with("GET /run HTTP/1.1"));
    let roots = &s.recorded_grants(&id, "net-probe")["grants"]["tls_roots"];
    let root = dir.join("ca").join("internal.pem");
    assert_eq!(roots, &serde_json::json!([root.display().to_string()]));
    // `plugins inspect` shows the effective roots too.
    let inspect = s
        .host()
        .args(["plugins", "inspect", "net-probe", "--json", "--plugins"])
        .arg(&dir)
        .output()
        .expect("inspect");
    let shown: Value = serde_json::from_slice(&inspect.stdout)
        .unwrap_or_else(|_| panic!("inspect JSON: {}", text(&inspect.stderr)));
    assert_eq!(shown["grants"]["tls_roots"], *roots, "{shown:#}");

    // A grants.toml naming a root that is not there fails the load, naming
    // the key, and creates no run.
    let before = s.journal(&id).len();
    std::fs::write(
        dir.join("grants.toml"),
        format!(
            "[reviewer]\n[net-probe]\nnetwork = [\"localhost:{port}\"]\ntls-roots = [\"ca/gone.pem\"]\n"
        ),
    )
    .expect("grants");
    let out = s.run(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("key `net-probe.tls-roots[0]`") && stderr.contains("cannot be read"),
        "{stderr}"
    );
    assert_eq!(s.journal(&id).len(), before);
}
