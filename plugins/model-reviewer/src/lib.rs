//! `model-reviewer`: asks an OpenAI-compatible chat-completions endpoint to
//! review a run's draft, and turns its answer into a typed verdict.
//!
//! - [`prompt`]: the request, with the draft as delimited data;
//! - [`http`]: the POST through wasi:http (the host enforces the network
//!   grant; nothing here can widen it);
//! - [`reply`]: the pure, fail-closed reading of the answer.
//!
//! Configuration comes only from granted environment variables:
//! `MODEL_URL` (an `http://` URL inside `[grants] network`), `MODEL_NAME`,
//! and optionally `MODEL_API_KEY` (sent as a bearer token).
//!
//! No review, no verdict: when the endpoint cannot be reached, is denied by
//! the host, or answers with an error status, the plugin returns a plugin
//! error (`transient` where retrying may help, `failed` otherwise) instead of
//! inventing one, and the run fails saying why; `host resume --failed` runs
//! the review again once the endpoint is back. An answer that arrives but is
//! not a usable verdict fails closed as `revise` (see [`reply`]).

mod http;
mod prompt;
mod reply;

use harness_sdk::{Descriptor, PluginError, Review, ReviewInput, Reviewer, Verdict};
use serde_json::json;

/// The wasi:http and wasi:random imports (the harness contract is the SDK's).
mod bindings {
    wit_bindgen::generate!({
        world: "model-client",
        path: "wit",
        generate_all,
    });
}

struct ModelReviewer;

impl Reviewer for ModelReviewer {
    fn describe() -> Descriptor {
        Descriptor::new(
            "model-reviewer",
            "Asks an OpenAI-compatible chat-completions endpoint (through a network grant) to review the draft; fails closed on any reply it cannot read.",
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
        let body = prompt::request_body(&config.target, &input, &boundary);
        let body = serde_json::to_vec(&body)
            .map_err(|e| PluginError::failed(format!("cannot encode the request: {e}")))?;
        harness_sdk::log::info(&format!(
            "asking model `{}` at {} to review {} outputs and {} writes ({} bytes, boundary {boundary})",
            config.target.model,
            config.url_text,
            input.outputs.len(),
            input.writes.len(),
            body.len()
        ));

        let response = http::post_json(&config.url, &body, config.api_key.as_deref())
            .map_err(|failure| request_error(&config.url_text, failure))?;
        if let Some(error) = reply::status_error(response.status, &response.body) {
            harness_sdk::log::warn(error.message());
            return Err(error);
        }
        let review = reply::review_from_body(&response.body);
        let level: fn(&str) = if review.verdict == Verdict::Pass {
            harness_sdk::log::info
        } else {
            harness_sdk::log::warn
        };
        level(&format!(
            "HTTP {} ({} bytes): {:?} with {} findings",
            response.status,
            response.body.len(),
            review.verdict,
            review.findings.len()
        ));
        Ok(review)
    }
}

/// The plugin error for a request that got no response.
fn request_error(url: &str, failure: http::Failure) -> PluginError {
    match failure {
        http::Failure::Denied => PluginError::failed(format!(
            "the host denied the request to {url}: its host:port is not in this plugin's network grant (the host's log line names the entry to add)\nhint: MODEL_URL and [grants] network must name the same host:port"
        )),
        http::Failure::Other(why) => PluginError::transient(format!(
            "the model endpoint {url} could not be reached, so no review was made: {why}"
        )),
    }
}

/// What the environment configures.
struct Config {
    url: http::Url,
    url_text: String,
    target: prompt::Target,
    api_key: Option<String>,
}

impl Config {
    fn from_env() -> Result<Config, PluginError> {
        let required = |name: &str, example: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    PluginError::failed(format!(
                        "`{name}` is not set\nhint: grant it in this plugin's plugin.toml: [grants.env] vars = {{ {name} = \"{example}\" }}"
                    ))
                })
        };
        let url_text = required("MODEL_URL", "http://127.0.0.1:11434/v1/chat/completions")?;
        let url = http::Url::parse(url_text.trim())
            .map_err(|e| PluginError::failed(format!("MODEL_URL is not usable: {e}")))?;
        let model = required("MODEL_NAME", "llama3.1:8b")?;
        let api_key = std::env::var("MODEL_API_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty());
        Ok(Config {
            url,
            url_text: url_text.trim().to_string(),
            target: prompt::Target {
                model: model.trim().to_string(),
            },
            api_key,
        })
    }
}

harness_sdk::export_reviewer!(ModelReviewer);
