//! The two model APIs the reviewer speaks, chosen by `MODEL_API`: how each
//! one's request is built and where its reply keeps the model's text.
//!
//! - [`openai`]: OpenAI-compatible chat completions (`openai`, the default;
//!   Ollama, llama.cpp, vLLM, OpenAI, Azure OpenAI and most gateways);
//! - [`anthropic`]: the Anthropic Messages API (`anthropic`).
//!
//! Both take the same system prompt and user message (see [`crate::prompt`])
//! and hand the reply's text to the same fail-closed reading
//! ([`crate::reply`]): only the envelope differs.

pub mod anthropic;
pub mod openai;

use harness_sdk::http::{self, Request};

use crate::config::Config;
use crate::reply::{MAX_BODY_BYTES, Unusable};

/// Which API the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI-compatible chat completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl Api {
    /// The `MODEL_API` values, in the order they are listed in messages.
    pub const NAMES: &'static str = "`openai` or `anthropic`";

    /// `openai` or `anthropic`, ignoring case and surrounding whitespace.
    pub fn parse(text: &str) -> Option<Api> {
        match text.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(Api::OpenAi),
            "anthropic" => Some(Api::Anthropic),
            _ => None,
        }
    }

    /// The `MODEL_API` value naming this API.
    pub fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
        }
    }

    /// What a reply of this API is called, for explanations.
    pub fn reply_name(self) -> &'static str {
        match self {
            Api::OpenAi => "a chat completion",
            Api::Anthropic => "an Anthropic Messages reply",
        }
    }

    /// The POST to `config`'s endpoint asking the model to review, with
    /// `user` as the user message.
    pub fn request(self, config: &Config, user: &str) -> Result<Request, http::Error> {
        let url = config.url.to_string();
        let request = Request::post(&url)?.max_body_bytes(MAX_BODY_BYTES);
        match self {
            Api::OpenAi => openai::request(request, config, user),
            Api::Anthropic => anthropic::request(request, config, user),
        }
    }

    /// The model's text in a 2xx reply body of this API.
    pub fn content_of(self, body: &[u8]) -> Result<String, Unusable> {
        match self {
            Api::OpenAi => openai::content_of(body),
            Api::Anthropic => anthropic::content_of(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for api in [Api::OpenAi, Api::Anthropic] {
            assert_eq!(Api::parse(api.name()), Some(api));
        }
        assert_eq!(Api::parse(" Anthropic\n"), Some(Api::Anthropic));
        assert_eq!(Api::parse("OPENAI"), Some(Api::OpenAi));
        assert_eq!(Api::parse("claude"), None);
        assert_eq!(Api::parse(""), None);
    }
}
