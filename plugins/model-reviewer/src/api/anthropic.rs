//! The Anthropic Messages API: `POST <MODEL_URL>` (such as
//! `https://api.anthropic.com/v1/messages`) with `x-api-key` and
//! `anthropic-version` headers, the system prompt as `system`, and the reply's
//! text in its `text` content blocks.

use harness_sdk::http::{self, Request};
use serde_json::{Value, json};

use crate::config::Config;
use crate::prompt::SYSTEM_PROMPT;
use crate::reply::{Unusable, endpoint_error, kind};

use super::Api;

/// The API version the request and reply shapes here follow.
pub const VERSION: &str = "2023-06-01";

/// The request for `config`, asking about `user`.
pub fn request(request: Request, config: &Config, user: &str) -> Result<Request, http::Error> {
    let request = request.header("anthropic-version", VERSION)?;
    let request = match &config.api_key {
        Some(key) => request.header("x-api-key", key)?,
        None => request,
    };
    request.json(&body(&config.model, config.max_tokens, user))
}

/// The request body: the system prompt, one user message as a text block.
pub fn body(model: &str, max_tokens: u32, user: &str) -> Value {
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "temperature": 0,
        "system": SYSTEM_PROMPT,
        "messages": [
            { "role": "user", "content": [{ "type": "text", "text": user }] },
        ],
    })
}

/// The model's text: every `text` block of `content`, in order, joined by
/// newlines. Other blocks (such as `thinking`) are not the answer and are
/// skipped; a reply without a text block is empty.
pub fn content_of(body: &[u8]) -> Result<String, Unusable> {
    let not_reply = |why: String| Unusable::NotReply {
        api: Api::Anthropic,
        why,
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| not_reply(format!("the body is not JSON ({e})")))?;
    if let Some(error) = value.get("error") {
        return Err(endpoint_error(error));
    }
    if let Some(other) = value
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| *t != "message")
    {
        return Err(not_reply(format!(
            "its `type` is {other:?}, not \"message\""
        )));
    }
    let blocks = match value.get("content") {
        Some(Value::Array(blocks)) => blocks,
        Some(other) => {
            return Err(not_reply(format!(
                "`content` is {}, not a list",
                kind(other)
            )));
        }
        None => return Err(not_reply("it has no `content`".into())),
    };
    // The model stopped at `max_tokens`: whatever it wrote is cut short.
    if value.get("stop_reason").and_then(Value::as_str) == Some("max_tokens") {
        return Err(Unusable::CutShort("`stop_reason` is \"max_tokens\""));
    }
    let mut texts = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        if block.get("type").and_then(Value::as_str) != Some("text") {
            continue;
        }
        match block.get("text") {
            Some(Value::String(text)) => texts.push(text.as_str()),
            Some(other) => {
                return Err(not_reply(format!(
                    "`content[{i}].text` is {}, not a string",
                    kind(other)
                )));
            }
            None => {
                return Err(not_reply(format!(
                    "`content[{i}]` is a text block without `text`"
                )));
            }
        }
    }
    if texts.is_empty() {
        return Err(Unusable::Empty);
    }
    Ok(texts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_a_top_level_system_prompt_and_a_text_block() {
        let body = body("claude-test", 512, "BEGIN DRAFT draft-b\n...");
        assert_eq!(body["model"], "claude-test");
        assert_eq!(body["max_tokens"], 512);
        assert!(
            body["system"]
                .as_str()
                .expect("system")
                .contains("\"verdict\"")
        );
        assert_eq!(body["messages"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(body["messages"][0]["content"][0]["type"], "text");
        assert_eq!(
            body["messages"][0]["content"][0]["text"],
            "BEGIN DRAFT draft-b\n..."
        );
    }

    #[test]
    fn text_blocks_are_joined_and_other_blocks_skipped() {
        let body = br#"{"type": "message", "role": "assistant", "content": [
            {"type": "thinking", "thinking": "{\"verdict\": \"pass\"}"},
            {"type": "text", "text": "{\"verdict\":"},
            {"type": "text", "text": "\"revise\"}"}
        ], "stop_reason": "end_turn"}"#;
        assert_eq!(content_of(body), Ok("{\"verdict\":\n\"revise\"}".into()));
    }

    #[test]
    fn every_other_shape_is_unusable() {
        for (body, why) in [
            (&b"Overloaded"[..], "not JSON"),
            (br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#, "\"Overloaded\""),
            (br#"{"type": "completion", "content": []}"#, "\"completion\""),
            (br#"{"type": "message"}"#, "no `content`"),
            (br#"{"type": "message", "content": "pass"}"#, "a string, not a list"),
            (br#"{"type": "message", "content": [{"type": "text", "text": 1}]}"#, "`content[0].text` is a number"),
            (br#"{"type": "message", "content": [{"type": "text"}]}"#, "without `text`"),
        ] {
            let e = content_of(body).expect_err("unusable").to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
        assert_eq!(
            content_of(br#"{"type": "message", "content": [{"type": "tool_use", "input": {}}]}"#),
            Err(Unusable::Empty)
        );
        let cut = br#"{"type": "message", "content": [{"type": "text", "text": "{"}], "stop_reason": "max_tokens"}"#;
        assert!(matches!(content_of(cut), Err(Unusable::CutShort(_))));
    }
}
