//! The model-backed reviewer against an `https://` endpoint on loopback,
//! once for each API it speaks: OpenAI-compatible chat completions
//! (`/v1/chat/completions`, `Authorization: Bearer`) and the Anthropic
//! Messages API (`/v1/messages`, `x-api-key` and `anthropic-version`,
//! `MODEL_API = "anthropic"`). The server is rustls with a certificate from
//! a test CA the reviewer's manifest trusts (`[grants] tls-roots`); the API
//! key comes from an inherited env grant.
//!
//! Each test is written once, taking an [`Api`], and runs as
//! `openai::<name>` and `anthropic::<name>`. Asserted host-side: the run's
//! status and review (`host status --json`), the journal's
//! `review_completed`/`review_failed`, nothing written before approval and
//! exactly the draft after it, the key absent from the journal, and what the
//! TLS server received (the key in the API's header, the model, the draft in
//! the data block). The manifest, run and reply helpers are
//! `model_reviewer`'s; the host side of https is covered by `https_grants`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model_reviewer::{
    DRAFT, DRAFT_PATH, MODEL, Settings, anthropic_message, chat_completion, data_block, findings,
    header, journal_text, plugins_with, run_with_env,
};
use crate::support::{Scratch, events, text};
use crate::tls_support::{Received, TestCa, TlsServer, Validity, response};

const API_KEY: &str = "sk-test-7f3e";

/// The model API a test speaks.
#[derive(Debug, Clone, Copy)]
enum Api {
    OpenAi,
    Anthropic,
}

impl Api {
    /// The endpoint's path.
    fn path(self) -> &'static str {
        match self {
            Api::OpenAi => "/v1/chat/completions",
            Api::Anthropic => "/v1/messages",
        }
    }

    /// The extra `[grants.env] vars` entries selecting this API.
    fn vars(self) -> &'static str {
        match self {
            Api::OpenAi => "",
            Api::Anthropic => ", MODEL_API = \"anthropic\"",
        }
    }

    /// A 200 reply in this API's shape whose text is `text`.
    fn reply(self, text: &str) -> Vec<u8> {
        let body = match self {
            Api::OpenAi => chat_completion(text),
            Api::Anthropic => anthropic_message(text),
        };
        response(200, "application/json", &body.to_string(), &[])
    }

    /// What the endpoint must have received for one review: a POST to the
    /// API's path, the inherited key in the API's header (and not in the
    /// other one), the model, and the draft inside the user message's data
    /// block.
    fn assert_request(self, received: &Received) {
        let head = &received.head;
        assert!(
            head.starts_with(&format!("POST {} HTTP/1.1\r\n", self.path())),
            "{self:?}: {head}"
        );
        let request = received.json();
        assert_eq!(request["model"], MODEL, "{self:?}");
        let user = match self {
            Api::OpenAi => {
                let bearer = format!("Bearer {API_KEY}");
                assert_eq!(
                    header(head, "authorization"),
                    Some(bearer.as_str()),
                    "{head}"
                );
                assert_eq!(header(head, "x-api-key"), None, "{head}");
                &request["messages"][1]["content"]
            }
            Api::Anthropic => {
                assert_eq!(header(head, "x-api-key"), Some(API_KEY), "{head}");
                assert_eq!(
                    header(head, "anthropic-version"),
                    Some("2023-06-01"),
                    "{head}"
                );
                assert_eq!(header(head, "authorization"), None, "{head}");
                &request["messages"][0]["content"][0]["text"]
            }
        };
        let user = user.as_str().expect("the user message's text");
        let (_, block) = data_block(user);
        assert_eq!(block["proposed_writes"][0]["path"], DRAFT_PATH);
        assert_eq!(block["proposed_writes"][0]["contents"], DRAFT);
    }
}

/// Each test once per API, as `openai::<test>` and `anthropic::<test>`.
macro_rules! for_each_api {
    ($($test:ident),* $(,)?) => {
        mod openai {
            $(#[test]
            fn $test() {
                super::$test(super::Api::OpenAi);
            })*
        }
        mod anthropic {
            $(#[test]
            fn $test() {
                super::$test(super::Api::Anthropic);
            })*
        }
    };
}

for_each_api!(
    over_https_a_pass_goes_to_the_gate,
    over_https_a_revise_carries_its_findings_to_the_gate,
    over_https_garbage_fails_closed_and_an_untrusted_server_gets_no_request,
);

/// An https endpoint for `localhost`, its certificate issued by `ca`,
/// answering requests in turn with `replies` in `api`'s shape (the last
/// one repeats).
fn endpoint(api: Api, ca: &TestCa, replies: Vec<&'static str>) -> TlsServer {
    TlsServer::start(
        ca.issue(&["localhost"], Validity::Current),
        Box::new(move |n, _| Some(api.reply(replies[n.min(replies.len() - 1)]))),
    )
}

/// The scripted tool proposing [`DRAFT`], reviewed by the model reviewer
/// speaking `api` at `https://localhost:<port>`, granted exactly that
/// `host:port`, trusting `ca_pem`, with MODEL_API_KEY inherited.
fn plugins(s: &Scratch, api: Api, port: u16, ca_pem: &Path) -> PathBuf {
    let settings = Settings {
        vars: api.vars(),
        inherit: &["MODEL_API_KEY"],
        grants: format!("tls-roots = [{:?}]\n", ca_pem.display().to_string()),
    };
    let url = format!("https://localhost:{port}{}", api.path());
    plugins_with(
        s,
        Some(&format!("localhost:{port}")),
        &url,
        10_000,
        &settings,
    )
}

/// One run with the API key in the host's environment: its id, state and
/// exit code (nothing is written before approval, and the key is not in
/// the journal).
fn run(s: &Scratch, dir: &Path) -> (String, Value, Option<i32>) {
    let (id, state, code) = run_with_env(s, dir, &[("MODEL_API_KEY", API_KEY)]);
    assert!(
        !journal_text(s, &id).contains(API_KEY),
        "the key is not journaled"
    );
    (id, state, code)
}

/// A fresh test CA and its certificate written to a PEM file (kept alive
/// by the returned directory).
fn trusted_ca() -> (TestCa, tempfile::TempDir, PathBuf) {
    let ca = TestCa::new("Model CA");
    let roots = tempfile::tempdir().expect("tempdir");
    let pem = ca.write_pem(roots.path(), "ca.pem");
    (ca, roots, pem)
}

fn over_https_a_pass_goes_to_the_gate(api: Api) {
    let (ca, _roots, pem) = trusted_ca();
    let server = endpoint(
        api,
        &ca,
        vec![r#"{"verdict": "pass", "summary": "Fine over TLS.", "findings": []}"#],
    );
    let s = Scratch::new();
    let dir = plugins(&s, api, server.port(), &pem);
    let (id, state, code) = run(&s, &dir);
    assert_eq!(code, Some(0), "{api:?}: {state:#}");
    assert_eq!(state["status"], "waiting-approval", "{api:?}: {state:#}");
    assert_eq!(state["review"]["plugin"], "model-reviewer");
    assert_eq!(state["review"]["verdict"], "pass");
    assert_eq!(state["review"]["summary"], "Fine over TLS.");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    api.assert_request(&requests[0]);
    assert_eq!(
        events(&s.journal(&id), "review_completed")[0]["event"]["verdict"],
        "pass"
    );

    // The gate still decides: approval writes exactly the proposed bytes.
    let approved = s.approve(&id);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    assert_eq!(
        std::fs::read_to_string(s.out().join(DRAFT_PATH)).expect("written"),
        DRAFT
    );
}

fn over_https_a_revise_carries_its_findings_to_the_gate(api: Api) {
    let (ca, _roots, pem) = trusted_ca();
    let server = endpoint(
        api,
        &ca,
        vec![
            r#"{"verdict": "revise", "summary": "Cite it.", "findings": [{"severity": "warning", "message": "Uncited claim.", "path": "drafts/report.md"}]}"#,
        ],
    );
    let s = Scratch::new();
    let dir = plugins(&s, api, server.port(), &pem);
    let (id, state, code) = run(&s, &dir);
    assert_eq!(code, Some(0), "{api:?}: {state:#}");
    assert_eq!(state["status"], "waiting-approval", "{api:?}: {state:#}");
    assert_eq!(state["review"]["verdict"], "revise");
    assert_eq!(state["review"]["summary"], "Cite it.");
    assert_eq!(findings(&state), ["Uncited claim."]);
    assert_eq!(state["review"]["findings"][0]["path"], DRAFT_PATH);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    api.assert_request(&requests[0]);
    assert_eq!(
        events(&s.journal(&id), "review_completed")[0]["event"]["verdict"],
        "revise"
    );
}

fn over_https_garbage_fails_closed_and_an_untrusted_server_gets_no_request(api: Api) {
    let (ca, _roots, pem) = trusted_ca();
    let server = endpoint(api, &ca, vec!["LGTM, ship it!"]);
    let s = Scratch::new();
    let dir = plugins(&s, api, server.port(), &pem);
    let (id, state, code) = run(&s, &dir);
    assert_eq!(code, Some(0), "{api:?}: {state:#}");
    assert_eq!(state["status"], "waiting-approval", "{api:?}: {state:#}");
    assert_eq!(state["review"]["verdict"], "revise", "{api:?}: {state:#}");
    let messages = findings(&state);
    assert!(
        messages.len() == 1
            && messages[0].contains("no JSON object")
            && messages[0].contains("fails closed"),
        "{api:?}: {messages:?}"
    );
    assert_eq!(state["review"]["findings"][0]["severity"], "error");
    assert_eq!(
        events(&s.journal(&id), "review_completed")[0]["event"]["verdict"],
        "revise"
    );
    assert_eq!(server.requests().len(), 1);

    // A server whose certificate comes from another CA: the handshake is
    // refused, the run fails with the host's line in the journal, and the
    // server never sees the request (nor the key).
    let stranger = TestCa::new("Someone else's CA");
    let impostor = endpoint(api, &stranger, vec![r#"{"verdict": "pass"}"#]);
    let s = Scratch::new();
    let dir = plugins(&s, api, impostor.port(), &pem);
    let (id, state, code) = run(&s, &dir);
    assert_eq!(code, Some(1), "{api:?}: {state:#}");
    assert_eq!(state["status"], "failed", "{api:?}: {state:#}");
    assert!(state["review"].is_null(), "no verdict was made up");
    let journal = s.journal(&id);
    let failed = &events(&journal, "review_failed")[0]["event"];
    assert_eq!(failed["error_kind"], "failed", "{failed:#}");
    assert!(
        failed["logs"]
            .to_string()
            .contains("failed: unknown issuer"),
        "{api:?}: {failed:#}"
    );
    assert!(impostor.connections() >= 1, "the host did connect");
    assert!(impostor.requests().is_empty(), "{:?}", impostor.requests());
}
