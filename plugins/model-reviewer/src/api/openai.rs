//! OpenAI-compatible chat completions: `POST <MODEL_URL>` (such as
//! `/v1/chat/completions`) with `Authorization: Bearer <MODEL_API_KEY>` when a
//! key is set; the text is at `choices[0].message.content`.

use harness_sdk::http::{self, Request};
use serde_json::{Value, json};

use crate::config::Config;
use crate::prompt::SYSTEM_PROMPT;
use crate::reply::{Unusable, endpoint_error, kind};

use super::Api;

/// The request for `config`, asking about `user`.
pub fn request(request: Request, config: &Config, user: &str) -> Result<Request, http::Error> {
    let request = match &config.api_key {
        Some(key) => request.header("authorization", format!("Bearer {key}"))?,
        None => request,
    };
    request.json(&body(&config.model, user))
}

/// The request body: the system prompt and one user message.
pub fn body(model: &str, user: &str) -> Value {
    json!({
        "model": model,
        "temperature": 0,
        "stream": false,
        "messages": [
            { "role": "system", "content": SYSTEM_PROMPT },
            { "role": "user", "content": user },
        ],
    })
}

/// `choices[0].message.content` of a chat-completion body.
pub fn content_of(body: &[u8]) -> Result<String, Unusable> {
    let not_reply = |why: String| Unusable::NotReply {
        api: Api::OpenAi,
        why,
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| not_reply(format!("the body is not JSON ({e})")))?;
    if let Some(error) = value.get("error") {
        return Err(endpoint_error(error));
    }
    let choice = value
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first());
    let message = choice
        .and_then(|choice| choice.get("message"))
        .ok_or_else(|| not_reply("it has no `choices[0].message`".into()))?;
    // The model stopped at its token limit: whatever it wrote is cut short.
    if choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
        == Some("length")
    {
        return Err(Unusable::CutShort("`finish_reason` is \"length\""));
    }
    match message.get("content") {
        Some(Value::String(content)) => Ok(content.clone()),
        Some(Value::Null) | None => Err(Unusable::Empty),
        Some(other) => Err(not_reply(format!(
            "`choices[0].message.content` is {}, not a string",
            kind(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_names_the_model_and_carries_system_and_user_messages() {
        let body = body("tiny", "BEGIN DRAFT draft-b\n...");
        assert_eq!(body["model"], "tiny");
        assert_eq!(body["stream"], false);
        assert_eq!(body["messages"][0]["role"], "system");
        let system = body["messages"][0]["content"].as_str().expect("system");
        assert!(system.contains("DATA") && system.contains("\"verdict\""));
        assert_eq!(body["messages"][1]["role"], "user");
        assert_eq!(body["messages"][1]["content"], "BEGIN DRAFT draft-b\n...");
    }

    #[test]
    fn the_content_is_read_and_every_other_shape_is_unusable() {
        let ok = br#"{"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}]}"#;
        assert_eq!(content_of(ok), Ok("{}".into()));
        let cut = br#"{"choices": [{"message": {"content": "{\"verdict\": \"pass\"}"}, "finish_reason": "length"}]}"#;
        assert!(matches!(content_of(cut), Err(Unusable::CutShort(_))));
        for (body, why) in [
            (&b"<html>502</html>"[..], "not JSON"),
            (br#"{"choices": []}"#, "no `choices[0].message`"),
            (
                br#"{"choices": [{"message": {"content": 5}}]}"#,
                "is a number",
            ),
            (
                br#"{"error": {"message": "model not found"}}"#,
                "\"model not found\"",
            ),
        ] {
            let e = content_of(body).expect_err("unusable").to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
        assert_eq!(
            content_of(br#"{"choices": [{"message": {"content": null}}]}"#),
            Err(Unusable::Empty)
        );
    }
}
