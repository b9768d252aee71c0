//! The model-backed reviewer against an `https://` OpenAI-compatible
//! chat-completions endpoint on loopback: a rustls server with a
//! certificate from a test CA the reviewer's manifest trusts
//! (`[grants] tls-roots`), and the API key from an inherited env grant.
//!
//! Asserted host-side: the run's status and review (`host status --json`),
//! the journal's `review_completed`, nothing written before approval, and
//! what the TLS server received (the bearer key, the model, the draft).
//!
//! Ignored until the reviewer itself accepts `https://` URLs (issue 15,
//! point 2: `plugins/model-reviewer/src/http.rs` still refuses them before
//! the host is asked); the host side of these requests is covered by
//! `https_grants`. Run with `cargo test -p host --test all
//! model_reviewer_https -- --ignored`. OpenAI's API only: the Anthropic
//! Messages API variant belongs with that change.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{Scratch, TestPlugin, artifacts, events, run_id, snapshot, text};
use crate::tls_support::{Received, TestCa, TlsServer, Validity, response};

const DRAFT: &str = "# Report\n\nCANARY-77aa: served over TLS.\n";
const DRAFT_PATH: &str = "drafts/report.md";
const MODEL: &str = "test-model";
const API_KEY: &str = "sk-test-7f3e";

/// A chat completion whose message content is `content`.
fn completion(content: &str) -> Vec<u8> {
    let body = json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop"
        }]
    })
    .to_string();
    response(200, "application/json", &body, &[])
}

/// An https endpoint answering requests in turn with `replies` (the last
/// one repeats).
fn endpoint(ca: &TestCa, replies: Vec<&'static str>) -> TlsServer {
    TlsServer::start(
        ca.issue(&["localhost"], Validity::Current),
        Box::new(move |n, _| Some(completion(replies[n.min(replies.len() - 1)]))),
    )
}

/// The scripted tool proposing [`DRAFT`], reviewed by the model reviewer
/// granted `localhost:<port>` and trusting `ca_pem`, with MODEL_API_KEY
/// inherited.
fn plugins(s: &Scratch, port: u16, ca_pem: &Path) -> PathBuf {
    let tool = TestPlugin {
        name: "scripted",
        kind: "tool",
        component: artifacts::GUEST_SCRIPTED,
        extra: "[grants]\nwrites = [\"drafts/\"]\n",
    };
    let reviewer = TestPlugin {
        name: "model-reviewer",
        kind: "reviewer",
        component: artifacts::PLUGIN_MODEL_REVIEWER,
        extra: Box::leak(
            format!(
                "[grants]\nnetwork = [\"localhost:{port}\"]\ntls-roots = [{pem:?}]\n\
                 [grants.env]\nvars = {{ MODEL_URL = \"https://localhost:{port}/v1/chat/completions\", MODEL_NAME = \"{MODEL}\" }}\n\
                 inherit = [\"MODEL_API_KEY\"]\n[limits]\ntimeout-ms = 10000\n",
                pem = ca_pem.display().to_string()
            )
            .into_boxed_str(),
        ),
    };
    let workflow = format!(
        "[workflow]\nname = \"model-review\"\n[[steps]]\nid = \"draft\"\nplugin = \"scripted\"\n\
         input = {{ writes = [{{ path = \"{DRAFT_PATH}\", text = {DRAFT:?} }}] }}\n\
         [review]\nplugin = \"model-reviewer\"\n"
    );
    s.plugins_dir("plugins", &[tool, reviewer], &workflow)
}

/// One run with the API key in the host's environment; its id, state and
/// exit code. Nothing may be written before approval.
fn run(s: &Scratch, dir: &Path) -> (String, Value, Option<i32>) {
    let out = s
        .run_cmd(dir)
        .env("MODEL_API_KEY", API_KEY)
        .arg("--json")
        .output()
        .expect("host run");
    let id = run_id(&out);
    let state = s.status(&id);
    assert!(
        snapshot(&s.out()).is_empty(),
        "nothing written before approval"
    );
    assert_eq!(
        state["steps"]["draft"]["writes"][0]["path"],
        DRAFT_PATH,
        "{state:#}\nstderr: {}",
        text(&out.stderr)
    );
    (id, state, out.status.code())
}

/// What the endpoint must have received for one review.
fn assert_request(received: &Received) {
    assert!(
        received
            .head
            .starts_with("POST /v1/chat/completions HTTP/1.1\r\n"),
        "{}",
        received.head
    );
    let head = received.head.to_ascii_lowercase();
    assert!(
        head.contains(&format!(
            "authorization: bearer {}",
            API_KEY.to_ascii_lowercase()
        )),
        "the inherited key is sent: {}",
        received.head
    );
    let request = received.json();
    assert_eq!(request["model"], MODEL);
    assert!(request.to_string().contains("CANARY-77aa"), "{request}");
}

#[test]
fn over_https_a_pass_goes_to_the_gate() {
    let ca = TestCa::new("Model CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let server = endpoint(
        &ca,
        vec![r#"{"verdict": "pass", "summary": "Fine over TLS.", "findings": []}"#],
    );
    let s = Scratch::new();
    let dir = plugins(&s, server.port(), &pem);
    let (id, state, code) = run(&s, &dir);
    assert_eq!(code, Some(0), "{state:#}");
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    assert_eq!(state["review"]["verdict"], "pass");
    assert_eq!(state["review"]["summary"], "Fine over TLS.");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_request(&requests[0]);
    let journal = s.journal(&id);
    assert_eq!(
        events(&journal, "review_completed")[0]["event"]["verdict"],
        "pass"
    );
    let approved = s.approve(&id);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    assert_eq!(
        std::fs::read_to_string(s.out().join(DRAFT_PATH)).expect("written"),
        DRAFT
    );
}

#[test]
fn over_https_a_revise_carries_its_findings_to_the_gate() {
    let ca = TestCa::new("Model CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let server = endpoint(
        &ca,
        vec![
            r#"{"verdict": "revise", "summary": "Cite it.", "findings": [{"severity": "warning", "message": "Uncited claim.", "path": "drafts/report.md"}]}"#,
        ],
    );
    let s = Scratch::new();
    let dir = plugins(&s, server.port(), &pem);
    let (id, state, code) = run(&s, &dir);
    assert_eq!(code, Some(0), "{state:#}");
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    assert_eq!(state["review"]["verdict"], "revise");
    assert_eq!(state["review"]["findings"][0]["message"], "Uncited claim.");
    assert_request(&server.requests()[0]);
    assert_eq!(
        events(&s.journal(&id), "review_completed")[0]["event"]["verdict"],
        "revise"
    );
}

#[test]
fn over_https_garbage_fails_closed_and_an_untrusted_server_gets_no_request() {
    let ca = TestCa::new("Model CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    let server = endpoint(&ca, vec!["LGTM, ship it!"]);
    let s = Scratch::new();
    let dir = plugins(&s, server.port(), &pem);
    let (_, state, code) = run(&s, &dir);
    assert_eq!(code, Some(0), "{state:#}");
    assert_eq!(state["review"]["verdict"], "revise", "{state:#}");
    let message = state["review"]["findings"][0]["message"]
        .as_str()
        .expect("finding");
    assert!(message.contains("fails closed"), "{message}");
    assert_eq!(server.requests().len(), 1);

    // A server whose certificate comes from another CA: the handshake is
    // refused, the run fails with the host's line in the journal, and the
    // server never sees the request (nor the key).
    let stranger = TestCa::new("Someone else's CA");
    let impostor = endpoint(&stranger, vec![r#"{"verdict": "pass"}"#]);
    let s = Scratch::new();
    let dir = plugins(&s, impostor.port(), &pem);
    let (id, state, code) = run(&s, &dir);
    assert_eq!(code, Some(1));
    assert_eq!(state["status"], "failed", "{state:#}");
    assert!(state["review"].is_null(), "no verdict was made up");
    let journal = s.journal(&id);
    let failed = &events(&journal, "review_failed")[0]["event"];
    assert!(
        failed["logs"]
            .to_string()
            .contains("failed: unknown issuer"),
        "{failed:#}"
    );
    assert!(impostor.requests().is_empty());
}
