//! `model-reviewer`: asks a model to review a run's draft, and turns its
//! answer into a typed verdict.
//!
//! - [`config`]: the settings, from granted environment variables only
//!   (`MODEL_URL`, `MODEL_NAME`, `MODEL_API`, `MODEL_API_KEY`, ...);
//! - [`prompt`]: the system prompt and the draft as delimited data;
//! - [`api`]: OpenAI-compatible chat completions or the Anthropic Messages
//!   API, over `harness_sdk::http` (the host enforces the network grant and
//!   does TLS for `https://`; nothing here can widen either);
//! - [`reply`]: the pure, fail-closed reading of the answer, the same for
//!   both APIs.
//!
//! No review, no verdict: when the endpoint cannot be reached, is denied by
//! the host, or answers with an error status, the plugin returns a plugin
//! error (`transient` where retrying may help, `failed` otherwise) instead of
//! inventing one, and the run fails saying why; `host resume --failed` runs
//! the review again once the endpoint is back. An answer that arrives but is
//! not a usable verdict fails closed as `revise` (see [`reply`]).

mod api;
mod config;
mod prompt;
mod reply;

use harness_sdk::http::Error as HttpError;
use harness_sdk::{Descriptor, PluginError, Review, ReviewInput, Reviewer, Verdict};
use serde_json::json;

use crate::config::Config;

/// The wasi:random import, for the prompt's boundary marker. The WIT is the
/// repository's one copy (`wit/deps/`); the harness contract is the SDK's.
mod bindings {
    wit_bindgen::generate!({
        inline: "package harness-plugins:model-reviewer;\n\
                 world model-client { import wasi:random/random@0.2.12; }",
        path: "../../wit",
        generate_all,
    });
}

struct ModelReviewer;

impl Reviewer for ModelReviewer {
    fn describe() -> Descriptor {
        Descriptor::new(
            "model-reviewer",
            "Asks a model (OpenAI-compatible chat completions or the Anthropic Messages API, through a network grant) to review the draft; fails closed on any reply it cannot read.",
        )
        .input_schema(json!({"type": "object"}))
    }

    fn review(input: ReviewInput) -> Result<Review, PluginError> {
        let config = Config::from_env()?;
        let random = [
            bindings::wasi::random::random::get_random_u64(),
            bindings::wasi::random::random::get_random_u64(),
        ];
        let boundary = prompt::boundary(random);
        let user = prompt::user_message(&input, &boundary);
        let request = config
            .api
            .request(&config, &user)
            .map_err(|e| PluginError::failed(format!("cannot build the request: {e}")))?;
        harness_sdk::log::info(&format!(
            "asking model `{}` ({} API) at {} to review {} outputs and {} writes ({} bytes, boundary {boundary})",
            config.model,
            config.api.name(),
            config.url,
            input.step_outputs().count(),
            input.writes.len(),
            request.body_bytes().len()
        ));

        let (status, body) = match request.send() {
            Ok(response) => (response.status(), response.into_body()),
            // A 2xx body over the limit is a reply the plugin cannot read:
            // fail closed. Any other status is no review at all.
            Err(HttpError::BodyTooLarge { status, .. }) if (200..300).contains(&status) => {
                let review = reply::fail_closed(&reply::Unusable::BodyTooLarge);
                harness_sdk::log::warn(&format!("HTTP {status}: the body is over the limit"));
                return Ok(review);
            }
            Err(HttpError::BodyTooLarge { status, .. }) => (status, Vec::new()),
            Err(e) => return Err(request_error(&config, e)),
        };
        if let Some(error) = reply::status_error(status, &body) {
            harness_sdk::log::warn(error.message());
            return Err(error);
        }
        let review = reply::review_from_body(config.api, &body);
        let level: fn(&str) = if review.verdict == Verdict::Pass {
            harness_sdk::log::info
        } else {
            harness_sdk::log::warn
        };
        level(&format!(
            "HTTP {status} ({} bytes): {:?} with {} findings",
            body.len(),
            review.verdict,
            review.findings.len()
        ));
        Ok(review)
    }
}

/// The plugin error for a request that got no response.
fn request_error(config: &Config, error: HttpError) -> PluginError {
    match error {
        HttpError::Denied { .. } => PluginError::failed(format!(
            "{error}\nhint: MODEL_URL and [grants] network must name the same host:port"
        )),
        e if e.is_transient() => PluginError::transient(format!(
            "the model endpoint {} could not be reached, so no review was made: {e}",
            config.url
        )),
        e => PluginError::failed(format!(
            "the request to the model endpoint {} failed, so no review was made: {e}",
            config.url
        )),
    }
}

harness_sdk::export_reviewer!(ModelReviewer);
