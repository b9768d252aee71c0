//! `host doctor` on a setup where things are missing: a PATH without node
//! and npm for a JavaScript plugin, a grant to a port nobody listens on, a
//! MODEL_URL outside the network grant, an https grant whose server's
//! issuer the plugin does not trust, and a component older than its source.
//! Each gap must be named with a fix, and the exit status must say so; what
//! works (a trusted TLS endpoint) must be `ok`.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::{Scratch, TestPlugin, artifacts, reviewer, text};
use crate::tls_support::{TestCa, TlsServer, Validity};

fn tool(name: &'static str, extra: String) -> TestPlugin {
    TestPlugin {
        name,
        kind: "tool",
        component: artifacts::GUEST_NET_PROBE,
        extra: Box::leak(extra.into_boxed_str()),
    }
}

/// The finding about `subject`, which must exist.
fn finding<'a>(report: &'a Value, subject: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["subject"] == subject)
        .unwrap_or_else(|| panic!("no finding for `{subject}` in {report:#}"))
}

fn assert_gap(report: &Value, subject: &str, status: &str, detail: &str, fix: &str) {
    let f = finding(report, subject);
    assert_eq!(f["status"], status, "{f:#}");
    let (d, x) = (
        f["detail"].as_str().expect("detail"),
        f["fix"].as_str().expect("a gap has a fix"),
    );
    assert!(d.contains(detail), "`{detail}` not in detail: {f:#}");
    assert!(x.contains(fix), "`{fix}` not in fix: {f:#}");
}

#[test]
fn doctor_names_each_gap_with_a_fix_and_exits_non_zero() {
    let s = Scratch::new();
    // A port nobody listens on (bound, then released).
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let ca = TestCa::new("Doctor CA");
    let stranger = TestCa::new("Unknown CA");
    let trusted = TlsServer::answering(ca.issue(&["localhost"], Validity::Current), "ok");
    let untrusted = TlsServer::answering(stranger.issue(&["localhost"], Validity::Current), "no");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");

    let plugins = [
        tool(
            "js-thing",
            "[build]\ncommand = [\"sh\", \"build.sh\"]\n".to_string(),
        ),
        tool(
            "unreachable",
            format!("[grants]\nnetwork = [\"127.0.0.1:{closed}\"]\n"),
        ),
        tool(
            "wrong-url",
            format!(
                "[grants]\nnetwork = [\"127.0.0.1:{closed}\"]\n[grants.env]\nvars = {{ MODEL_URL = \"http://127.0.0.1:9/v1/chat/completions\" }}\n"
            ),
        ),
        tool(
            "tls-ok",
            format!(
                "[grants]\nnetwork = [\"localhost:{port}\"]\ntls-roots = [{pem:?}]\n[grants.env]\nvars = {{ MODEL_URL = \"https://localhost:{port}/v1\" }}\n",
                port = trusted.port(),
                pem = pem.display().to_string()
            ),
        ),
        tool(
            "tls-bad",
            format!(
                "[grants]\nnetwork = [\"localhost:{port}\"]\n[grants.env]\nvars = {{ MODEL_URL = \"https://localhost:{port}/v1\" }}\n",
                port = untrusted.port()
            ),
        ),
        reviewer(),
    ];
    let mut workflow = String::from("[workflow]\nname = \"doctor\"\n");
    for p in &plugins[..plugins.len() - 1] {
        workflow.push_str(&format!(
            "[[steps]]\nid = \"{0}\"\nplugin = \"{0}\"\ninput = {{}}\n",
            p.name
        ));
    }
    workflow.push_str("[review]\nplugin = \"reviewer\"\n");
    let dir = s.plugins_dir("plugins", &plugins, &workflow);
    // A JavaScript plugin (it has a package.json), with its own component
    // file that is older than its source.
    let js = dir.join("js-thing");
    std::fs::write(js.join("package.json"), "{}\n").expect("package.json");
    std::fs::copy(artifacts::GUEST_NET_PROBE, js.join("thing.wasm")).expect("copy component");
    let manifest = std::fs::read_to_string(js.join("plugin.toml")).expect("manifest");
    std::fs::write(
        js.join("plugin.toml"),
        manifest.replace(artifacts::GUEST_NET_PROBE, "thing.wasm"),
    )
    .expect("manifest");
    std::fs::write(js.join("tool.js"), "export const x = 1;\n").expect("source");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(js.join("thing.wasm"))
        .expect("open")
        .set_modified(an_hour_ago)
        .expect("set mtime");

    // PATH without node or npm (nor anything else).
    let empty_path = tempfile::tempdir().expect("tempdir");
    let out = s
        .host()
        .env("PATH", empty_path.path())
        .env_remove("HARNESS_TOOLCHAINS")
        .args(["doctor", "--json", "--plugins"])
        .arg(&dir)
        .output()
        .expect("host doctor");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    assert_eq!(report["ok"], false);

    for program in ["node", "npm"] {
        assert_gap(
            &report,
            program,
            "missing",
            "needed to build js-thing",
            "install Node.js with npm",
        );
    }
    assert_gap(
        &report,
        "js-thing: component",
        "warning",
        "stale: ",
        &format!("host plugins build --plugins {}", dir.display()),
    );
    assert!(
        finding(&report, "js-thing: component")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("tool.js")),
        "the stale finding names the newer source"
    );
    assert_gap(
        &report,
        &format!("unreachable: 127.0.0.1:{closed}"),
        "missing",
        "does not accept TCP connections",
        "start the service, or correct the entry in [grants] network",
    );
    assert_gap(
        &report,
        "wrong-url: MODEL_URL",
        "missing",
        "names 127.0.0.1:9, which is not in the plugin's network grant",
        "add \"127.0.0.1:9\" to [grants] network in `",
    );
    let ok = finding(&report, &format!("tls-ok: localhost:{}", trusted.port()));
    assert_eq!(ok["status"], "ok", "{ok:#}");
    assert!(
        ok["detail"]
            .as_str()
            .is_some_and(|d| d.contains("verified TLS handshake for `localhost`")),
        "{ok:#}"
    );
    assert_eq!(finding(&report, "tls-ok: MODEL_URL")["status"], "ok");
    assert_gap(
        &report,
        &format!("tls-bad: localhost:{}", untrusted.port()),
        "missing",
        "failed: unknown issuer",
        "[grants] tls-roots",
    );
    // The probes really happened: one handshake each, no request.
    assert_eq!(trusted.connections(), 1);
    let failures = untrusted.failures(1);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(trusted.requests().is_empty() && untrusted.requests().is_empty());

    // The text form says the same, one gap per line with its fix.
    let out = s
        .host()
        .env("PATH", empty_path.path())
        .args(["doctor", "--plugins"])
        .arg(&dir)
        .output()
        .expect("host doctor");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("missing  toolchain  node: ")),
        "{stdout}"
    );
    assert!(stdout.contains("fix: install Node.js with npm"), "{stdout}");
    assert!(stdout.contains(" missing\n"), "{stdout}");
    assert!(
        !Path::new(&s.state()).join("runs").exists(),
        "doctor creates no run"
    );
}

#[test]
fn doctor_on_a_folder_that_is_not_there_says_how_to_make_one() {
    let s = Scratch::new();
    let out = s
        .host()
        .args(["doctor", "--json", "--plugins"])
        .arg(s.path().join("nowhere"))
        .output()
        .expect("host doctor");
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    let f = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["area"] == "plugin")
        .expect("a plugin finding");
    assert_eq!(f["status"], "missing");
    assert!(
        f["fix"]
            .as_str()
            .is_some_and(|x| x.contains("host plugins new")),
        "{f:#}"
    );
}
