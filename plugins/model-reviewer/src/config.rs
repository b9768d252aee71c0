//! The reviewer's settings, read only from granted environment variables:
//!
//! - `MODEL_URL` (required): the endpoint, `http://` or `https://` (the host
//!   does TLS); its host and port must be in `[grants] network`;
//! - `MODEL_NAME` (required): sent as `model`;
//! - `MODEL_API`: `openai` (default) or `anthropic`;
//! - `MODEL_API_KEY`: the key, best inherited from the host's environment
//!   (`[grants.env] inherit = ["MODEL_API_KEY"]`) so it is written in no file;
//!   sent as a bearer token (`openai`) or as `x-api-key` (`anthropic`);
//! - `MODEL_MAX_TOKENS`: the reply's token limit for `anthropic` (default
//!   1024; the API requires one).

use harness_sdk::PluginError;
use harness_sdk::http::Url;

use crate::api::Api;

/// The reply's token limit for `anthropic` when `MODEL_MAX_TOKENS` is unset.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// What the environment configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub api: Api,
    pub url: Url,
    pub model: String,
    pub api_key: Option<String>,
    pub max_tokens: u32,
}

impl Config {
    /// Read the process environment (what the host granted).
    pub fn from_env() -> Result<Config, PluginError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the settings through `get`; blank values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, PluginError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &str, example: &str| {
            get(name).ok_or_else(|| {
                PluginError::failed(format!(
                    "`{name}` is not set\nhint: grant it in this plugin's plugin.toml: [grants.env] vars = {{ {name} = \"{example}\" }}"
                ))
            })
        };
        let api = match get("MODEL_API") {
            None => Api::OpenAi,
            Some(text) => Api::parse(&text).ok_or_else(|| {
                PluginError::failed(format!(
                    "MODEL_API is {text:?}, not {}\nhint: set MODEL_API = \"anthropic\" for the Anthropic Messages API, or leave it unset for OpenAI-compatible chat completions",
                    Api::NAMES
                ))
            })?,
        };
        let example_url = match api {
            Api::OpenAi => "http://127.0.0.1:11434/v1/chat/completions",
            Api::Anthropic => "https://api.anthropic.com/v1/messages",
        };
        let url_text = required("MODEL_URL", example_url)?;
        let url = Url::parse(&url_text).map_err(|e| {
            PluginError::failed(format!(
                "MODEL_URL is not usable: {e}\nhint: write it like {example_url}"
            ))
        })?;
        let model = required("MODEL_NAME", "llama3.1:8b")?;
        let max_tokens = match get("MODEL_MAX_TOKENS") {
            None => DEFAULT_MAX_TOKENS,
            Some(text) => text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                PluginError::failed(format!(
                    "MODEL_MAX_TOKENS is {text:?}, not a positive whole number\nhint: leave it unset for {DEFAULT_MAX_TOKENS}"
                ))
            })?,
        };
        Ok(Config {
            api,
            url,
            model,
            api_key: get("MODEL_API_KEY"),
            max_tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness_sdk::http::Scheme;

    fn config(vars: &[(&str, &str)]) -> Result<Config, PluginError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_string())
        })
    }

    #[test]
    fn openai_over_http_is_the_default() {
        let c = config(&[
            ("MODEL_URL", " http://127.0.0.1:11434/v1/chat/completions "),
            ("MODEL_NAME", "llama3.1:8b"),
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.api, Api::OpenAi);
        assert_eq!(c.url.scheme(), Scheme::Http);
        assert_eq!(c.url.authority(), "127.0.0.1:11434");
        assert_eq!(c.model, "llama3.1:8b");
        assert_eq!((c.api_key, c.max_tokens), (None, DEFAULT_MAX_TOKENS));
    }

    #[test]
    fn https_endpoints_and_the_anthropic_api_are_accepted() {
        let c = config(&[
            ("MODEL_API", "Anthropic"),
            ("MODEL_URL", "https://api.anthropic.com/v1/messages"),
            ("MODEL_NAME", "claude-sonnet-4-5"),
            ("MODEL_API_KEY", "sk-ant-test"),
            ("MODEL_MAX_TOKENS", "2048"),
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.api, Api::Anthropic);
        assert_eq!(c.url.scheme(), Scheme::Https);
        assert_eq!(c.url.to_string(), "https://api.anthropic.com/v1/messages");
        assert_eq!(c.api_key.as_deref(), Some("sk-ant-test"));
        assert_eq!(c.max_tokens, 2048);
        let openai = config(&[
            ("MODEL_URL", "https://api.openai.com/v1/chat/completions"),
            ("MODEL_NAME", "gpt-4o-mini"),
            ("MODEL_API_KEY", "  "),
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (openai.api, openai.url.scheme()),
            (Api::OpenAi, Scheme::Https)
        );
        assert_eq!(openai.api_key, None, "a blank key is no key");
    }

    #[test]
    fn bad_settings_fail_naming_the_setting_and_the_fix() {
        for (vars, why) in [
            (&[("MODEL_NAME", "m")][..], "`MODEL_URL` is not set\nhint: "),
            (&[("MODEL_URL", "http://h/")][..], "`MODEL_NAME` is not set"),
            (
                &[("MODEL_URL", "ftp://h/"), ("MODEL_NAME", "m")][..],
                "MODEL_URL is not usable",
            ),
            (
                &[("MODEL_URL", "http://u:p@h/"), ("MODEL_NAME", "m")][..],
                "user info",
            ),
            (
                &[
                    ("MODEL_API", "claude"),
                    ("MODEL_URL", "http://h/"),
                    ("MODEL_NAME", "m"),
                ][..],
                "MODEL_API is \"claude\", not `openai` or `anthropic`",
            ),
            (
                &[
                    ("MODEL_MAX_TOKENS", "0"),
                    ("MODEL_URL", "http://h/"),
                    ("MODEL_NAME", "m"),
                ][..],
                "MODEL_MAX_TOKENS is \"0\"",
            ),
        ] {
            let e = config(vars).expect_err(why);
            assert_eq!(e.kind(), "failed");
            assert!(e.message().contains(why), "{why}: {}", e.message());
        }
    }
}
