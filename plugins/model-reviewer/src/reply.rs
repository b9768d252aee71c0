//! Reading the endpoint's answer into a typed review, failing closed.
//!
//! The rules (the README's "A model-backed reviewer" repeats them):
//!
//! - **HTTP status.** 2xx is a reply. 408, 429 and 5xx are `transient` plugin
//!   errors; any other status is `failed`. Either way no review happened, and
//!   the run fails saying why (see [`status_error`]).
//! - **Envelope.** The body must be a reply of the configured API: a chat
//!   completion with a string at `choices[0].message.content`, or an
//!   Anthropic message whose `text` content blocks hold the answer (see
//!   [`crate::api`]). Anything else (an `error` object, HTML, truncated JSON,
//!   a reply stopped at its token limit, over [`MAX_BODY_BYTES`]) fails
//!   closed. From here on both APIs are read by the same code.
//! - **Exactly one JSON object.** The content is searched for top-level JSON
//!   objects wherever they are: the whole content, a fenced ```` ```json ````
//!   block, or a span inside prose. None, several (ambiguous), or an
//!   unterminated one (truncated) fails closed. Content over
//!   [`MAX_CONTENT_BYTES`] fails closed without being searched.
//! - **The verdict** must be a JSON *string* naming `pass`, `revise` or
//!   `reject`; case and surrounding whitespace are ignored (`"PASS "` is a
//!   pass, since it cannot mean anything else). Booleans, `"true"`,
//!   `"false"`, `"ok"`, `"approved"`, numbers, null: fail closed. A missing
//!   verdict fails closed.
//! - **Findings** must be well formed: `severity` one of `info`, `warning`,
//!   `error` (same normalisation), a string `message`, an optional string
//!   `path`. A malformed finding fails closed, since dropping it could hide
//!   the reason for a worse verdict. `summary` is an optional string. Other
//!   keys are ignored.
//! - **Consistency.** A `pass` carrying an `error` finding contradicts
//!   itself and becomes `revise`, keeping the model's findings.
//!
//! *Fails closed* means the verdict is `revise` with an `error` finding that
//! says what was wrong with the reply: never `pass`. It is not `reject`,
//! because an unreadable reply says nothing about the draft; `revise` sends
//! the draft back for a re-draft (as the workflow allows) and then to the
//! approval gate with the finding shown, so a person decides.

use harness_sdk::{Finding, PluginError, Review, Severity, Verdict};
use serde_json::{Map, Value};

use crate::api::Api;

/// The most of a response body the plugin reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most message content it searches for a verdict. A verdict object is a
/// few hundred bytes; more is a model that did not follow the format.
pub const MAX_CONTENT_BYTES: usize = 32 * 1024;
/// How many `{` it tries to parse a JSON object at. Each attempt may read to
/// the end of the content, so this bounds the work a hostile reply can cause.
const MAX_OBJECT_STARTS: usize = 64;
/// Findings kept from one reply; the rest are counted in a note.
const MAX_FINDINGS: usize = 50;
/// Characters kept of a finding's message or the summary.
const MAX_TEXT_CHARS: usize = 2000;
/// Characters of an untrusted value quoted in an explanation.
const MAX_QUOTE_CHARS: usize = 40;
/// Characters of an endpoint's error message quoted for a non-2xx status.
const MAX_STATUS_QUOTE_CHARS: usize = 120;

/// Why a reply is not a usable verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    BodyTooLarge,
    NotReply { api: Api, why: String },
    EndpointError(String),
    CutShort(&'static str),
    Empty,
    ContentTooLarge(usize),
    NoObject,
    Truncated,
    TooManyBraces,
    Several(usize),
    NoVerdict,
    VerdictNotString(&'static str),
    UnknownVerdict(String),
    Malformed(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::BodyTooLarge => write!(
                f,
                "the response body is larger than {} KiB",
                MAX_BODY_BYTES / 1024
            ),
            Unusable::NotReply { api, why } => {
                write!(f, "the response is not {}: {why}", api.reply_name())
            }
            Unusable::CutShort(why) => write!(
                f,
                "the model's reply was cut short at its token limit ({why})"
            ),
            Unusable::EndpointError(message) => {
                write!(f, "the endpoint answered with an error: {message}")
            }
            Unusable::Empty => write!(f, "the model's reply is empty"),
            Unusable::ContentTooLarge(n) => write!(
                f,
                "the model's reply is {n} bytes, more than the {MAX_CONTENT_BYTES} a verdict may take"
            ),
            Unusable::NoObject => write!(f, "the model's reply contains no JSON object"),
            Unusable::Truncated => write!(
                f,
                "the model's reply contains a JSON object that never ends (truncated?)"
            ),
            Unusable::TooManyBraces => write!(
                f,
                "the model's reply has more than {MAX_OBJECT_STARTS} `{{` to try as JSON objects"
            ),
            Unusable::Several(n) => write!(
                f,
                "the model's reply contains {n} JSON objects; exactly one is expected, so the verdict is ambiguous"
            ),
            Unusable::NoVerdict => write!(f, "the reply's JSON object has no `verdict`"),
            Unusable::VerdictNotString(what) => write!(
                f,
                "the reply's `verdict` is {what}, not one of \"pass\", \"revise\", \"reject\""
            ),
            Unusable::UnknownVerdict(v) => write!(
                f,
                "the reply's `verdict` is {}, not one of \"pass\", \"revise\", \"reject\"",
                quote(v)
            ),
            Unusable::Malformed(why) => write!(f, "the reply's JSON object is malformed: {why}"),
        }
    }
}

/// The review a response body (of a 2xx answer) of `api` amounts to: the
/// model's own verdict if the body is a usable one, otherwise a fail-closed
/// `revise`.
pub fn review_from_body(api: Api, body: &[u8]) -> Review {
    if body.len() > MAX_BODY_BYTES {
        return fail_closed(&Unusable::BodyTooLarge);
    }
    match api
        .content_of(body)
        .and_then(|content| parse_content(&content))
    {
        Ok(review) => review,
        Err(why) => fail_closed(&why),
    }
}

/// The [`Unusable`] for an `error` member of a reply body (both APIs put the
/// text at `error.message`).
pub fn endpoint_error(error: &Value) -> Unusable {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("(no message)");
    Unusable::EndpointError(quote(message))
}

/// The review the model's message content states, or why it states none.
pub fn parse_content(content: &str) -> Result<Review, Unusable> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(Unusable::ContentTooLarge(content.len()));
    }
    if content.trim().is_empty() {
        return Err(Unusable::Empty);
    }
    let mut objects = top_level_objects(content)?;
    let object = match objects.len() {
        0 => return Err(Unusable::NoObject),
        1 => objects.remove(0),
        n => return Err(Unusable::Several(n)),
    };
    let verdict = match object.get("verdict") {
        None => return Err(Unusable::NoVerdict),
        Some(Value::String(v)) => {
            parse_verdict(v).ok_or_else(|| Unusable::UnknownVerdict(v.clone()))?
        }
        Some(other) => return Err(Unusable::VerdictNotString(kind(other))),
    };
    let summary = match object.get("summary") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => clip(s.trim()),
        Some(other) => {
            return Err(Unusable::Malformed(format!(
                "`summary` is {}, not a string",
                kind(other)
            )));
        }
    };
    let findings = parse_findings(object.get("findings"))?;

    if verdict == Verdict::Pass && findings.iter().any(|f| f.severity == Severity::Error) {
        let mut findings = findings;
        findings.push(Finding::new(
            Severity::Error,
            "the model answered `pass` but reported an `error` finding; a contradictory \
             verdict fails closed, so this is treated as `revise`",
        ));
        return Ok(Review::new(
            Verdict::Revise,
            findings,
            "Revise (fail-closed): the model's pass contradicts its own error findings.",
        ));
    }
    let summary = if summary.is_empty() {
        format!("The model answered {} without a summary.", name(verdict))
    } else {
        summary
    };
    Ok(Review::new(verdict, findings, summary))
}

/// The fail-closed review for a reply that is not a usable verdict.
pub fn fail_closed(why: &Unusable) -> Review {
    Review::new(
        Verdict::Revise,
        vec![Finding::new(
            Severity::Error,
            format!(
                "the model's reply could not be used as a verdict, so the review fails closed: {why}"
            ),
        )],
        "Revise (fail-closed): the model gave no usable verdict; a person must judge this draft.",
    )
}

/// The plugin error for a non-2xx status, or `None` for a 2xx one.
pub fn status_error(status: u16, body: &[u8]) -> Option<PluginError> {
    if (200..300).contains(&status) {
        return None;
    }
    // Both APIs put the reason at `error.message`; anything else is quoted
    // as the start of the body.
    let reason = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned());
    let message = format!(
        "the model endpoint answered HTTP {status}, so no review was made: {}",
        quote_chars(reason.trim(), MAX_STATUS_QUOTE_CHARS)
    );
    Some(if status == 408 || status == 429 || status >= 500 {
        PluginError::transient(message)
    } else {
        PluginError::failed(format!(
            "{message}\nhint: check MODEL_URL, MODEL_API, MODEL_NAME and MODEL_API_KEY in this plugin's [grants.env]"
        ))
    })
}

/// `pass`, `revise` or `reject`, ignoring case and surrounding whitespace.
fn parse_verdict(text: &str) -> Option<Verdict> {
    match text.trim().to_ascii_lowercase().as_str() {
        "pass" => Some(Verdict::Pass),
        "revise" => Some(Verdict::Revise),
        "reject" => Some(Verdict::Reject),
        _ => None,
    }
}

fn parse_severity(text: &str) -> Option<Severity> {
    match text.trim().to_ascii_lowercase().as_str() {
        "info" => Some(Severity::Info),
        "warning" => Some(Severity::Warning),
        "error" => Some(Severity::Error),
        _ => None,
    }
}

fn parse_findings(value: Option<&Value>) -> Result<Vec<Finding>, Unusable> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(Unusable::Malformed(format!(
                "`findings` is {}, not a list",
                kind(other)
            )));
        }
    };
    let mut findings = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let bad = |why: String| Unusable::Malformed(format!("finding {}: {why}", i + 1));
        let Value::Object(item) = item else {
            return Err(bad(format!("is {}, not an object", kind(item))));
        };
        let severity = match item.get("severity") {
            Some(Value::String(s)) => parse_severity(s).ok_or_else(|| {
                bad(format!(
                    "`severity` is {}, not one of \"info\", \"warning\", \"error\"",
                    quote(s)
                ))
            })?,
            Some(other) => return Err(bad(format!("`severity` is {}", kind(other)))),
            None => return Err(bad("has no `severity`".into())),
        };
        let message = match item.get("message") {
            Some(Value::String(m)) if !m.trim().is_empty() => clip(m.trim()),
            Some(Value::String(_)) => return Err(bad("`message` is empty".into())),
            Some(other) => return Err(bad(format!("`message` is {}", kind(other)))),
            None => return Err(bad("has no `message`".into())),
        };
        let path = match item.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.trim().is_empty() => None,
            Some(Value::String(p)) => Some(clip(p.trim())),
            Some(other) => return Err(bad(format!("`path` is {}", kind(other)))),
        };
        if findings.len() < MAX_FINDINGS {
            let finding = Finding::new(severity, message);
            findings.push(match path {
                Some(p) => finding.at(p),
                None => finding,
            });
        }
    }
    if items.len() > MAX_FINDINGS {
        findings.push(Finding::new(
            Severity::Info,
            format!(
                "{} more findings of the model were left out",
                items.len() - MAX_FINDINGS
            ),
        ));
    }
    Ok(findings)
}

/// Every top-level JSON object in `text`: at each `{`, try to parse one
/// JSON value; an object that parses is kept and skipped over whole (so the
/// objects nested in it are not counted again). An attempt that runs off the
/// end of the text means an object was cut short.
fn top_level_objects(text: &str) -> Result<Vec<Map<String, Value>>, Unusable> {
    let mut found = Vec::new();
    let mut at = 0;
    let mut starts = 0;
    while let Some(offset) = text[at..].find('{') {
        let start = at + offset;
        starts += 1;
        if starts > MAX_OBJECT_STARTS {
            return Err(Unusable::TooManyBraces);
        }
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(Value::Object(object))) => {
                found.push(object);
                at = start + values.byte_offset();
            }
            Some(Err(e)) if e.is_eof() => return Err(Unusable::Truncated),
            // `{` is one byte, so `start + 1` is a character boundary.
            _ => at = start + 1,
        }
    }
    Ok(found)
}

/// What kind of JSON value `v` is, for explanations.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(true) => "the boolean `true`",
        Value::Bool(false) => "the boolean `false`",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Revise => "revise",
        Verdict::Reject => "reject",
    }
}

/// An untrusted value, quoted and shortened for an explanation.
fn quote(text: &str) -> String {
    quote_chars(text, MAX_QUOTE_CHARS)
}

/// `text` quoted, cut to `max` characters.
fn quote_chars(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    let more = if chars.next().is_some() { "..." } else { "" };
    format!("{:?}", format!("{head}{more}"))
}

/// `text` cut to [`MAX_TEXT_CHARS`] characters.
fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A chat-completion body whose message content is `content`.
    fn body(content: &str) -> Vec<u8> {
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content },
                "finish_reason": "stop"
            }]
        })
        .to_string()
        .into_bytes()
    }

    const CLEAN: &str = r#"{"verdict": "pass", "summary": "Looks fine.", "findings": [{"severity": "info", "message": "Short.", "path": "reports/t.md"}]}"#;

    /// Assert `content` fails closed with an explanation containing `why`.
    #[track_caller]
    fn assert_fails_closed(content: &str, why: &str) {
        let review = review_from_body(Api::OpenAi, &body(content));
        assert!(review.verdict == Verdict::Revise, "{content:?}: {review:?}");
        assert_eq!(review.findings.len(), 1, "{review:?}");
        let finding = &review.findings[0];
        assert!(finding.severity == Severity::Error);
        assert!(
            finding.message.contains("fails closed") && finding.message.contains(why),
            "{content:?}: {}",
            finding.message
        );
        assert!(review.summary.starts_with("Revise (fail-closed)"));
    }

    #[test]
    fn plain_json_is_read() {
        let review = review_from_body(Api::OpenAi, &body(CLEAN));
        assert!(review.verdict == Verdict::Pass, "{review:?}");
        assert_eq!(review.summary, "Looks fine.");
        assert_eq!(review.findings.len(), 1);
        assert!(review.findings[0].severity == Severity::Info);
        assert_eq!(review.findings[0].message, "Short.");
        assert_eq!(review.findings[0].path.as_deref(), Some("reports/t.md"));
    }

    #[test]
    fn fenced_json_is_read() {
        for fence in ["```json", "```JSON", "```"] {
            let content = format!("{fence}\n{CLEAN}\n```");
            let review = review_from_body(Api::OpenAi, &body(&content));
            assert!(review.verdict == Verdict::Pass, "{content}: {review:?}");
        }
        let reject = "Here you go:\n```json\n{\"verdict\": \"reject\", \"summary\": \"Leaks a key.\", \"findings\": [{\"severity\": \"error\", \"message\": \"AWS key on line 3\"}]}\n```\n";
        let review = review_from_body(Api::OpenAi, &body(reject));
        assert!(review.verdict == Verdict::Reject);
        assert_eq!(review.findings[0].path, None);
    }

    #[test]
    fn json_inside_prose_is_read() {
        let content = format!(
            "I looked at the draft carefully. {} Let me know if you need more.",
            r#"{"verdict": "revise", "summary": "Cite more.", "findings": [{"severity": "warning", "message": "Uncited claim {in braces}.", "path": null}]}"#
        );
        let review = review_from_body(Api::OpenAi, &body(&content));
        assert!(review.verdict == Verdict::Revise, "{review:?}");
        assert_eq!(review.findings[0].message, "Uncited claim {in braces}.");
        // Braces in prose that are not JSON are skipped.
        let content = format!("The set {{a, b}} is fine; {{ not json }}. {CLEAN}");
        assert!(review_from_body(Api::OpenAi, &body(&content)).verdict == Verdict::Pass);
    }

    #[test]
    fn several_objects_are_ambiguous() {
        assert_fails_closed(
            &format!("{CLEAN}\n{}", r#"{"verdict": "reject"}"#),
            "2 JSON objects",
        );
        // Even when they agree: the reply did not follow the format.
        assert_fails_closed(&format!("```json\n{CLEAN}\n```\n{CLEAN}"), "ambiguous");
        // An object nested inside the one answer is not a second answer.
        let nested = r#"{"verdict": "pass", "summary": "ok", "extra": {"verdict": "reject"}}"#;
        assert!(review_from_body(Api::OpenAi, &body(nested)).verdict == Verdict::Pass);
    }

    #[test]
    fn a_missing_or_unknown_verdict_fails_closed() {
        assert_fails_closed(r#"{"summary": "fine"}"#, "no `verdict`");
        assert_fails_closed(r#"{"verdict": "approve"}"#, "\"approve\"");
        assert_fails_closed(r#"{"verdict": "lgtm"}"#, "not one of");
        assert_fails_closed(r#"{"verdict": "pass."}"#, "not one of");
        assert_fails_closed(r#"{"verdict": ""}"#, "not one of");
        assert_fails_closed(r#"{"verdict": null}"#, "null");
        assert_fails_closed(r#"{"verdict": 1}"#, "a number");
        assert_fails_closed(r#"{"verdict": ["pass"]}"#, "a list");
        assert_fails_closed(r#"{"verdict": {"value": "pass"}}"#, "an object");
    }

    #[test]
    fn booleans_and_boolean_strings_are_never_a_pass() {
        assert_fails_closed(r#"{"verdict": false}"#, "the boolean `false`");
        assert_fails_closed(r#"{"verdict": true}"#, "the boolean `true`");
        assert_fails_closed(r#"{"verdict": "false"}"#, "\"false\"");
        assert_fails_closed(r#"{"verdict": "true"}"#, "\"true\"");
        assert_fails_closed(r#"{"verdict": "False"}"#, "\"False\"");
        assert_fails_closed(r#"{"verdict": "yes"}"#, "\"yes\"");
        // A bare value is no JSON object at all.
        assert_fails_closed("false", "no JSON object");
        assert_fails_closed("\"pass\"", "no JSON object");
        assert_fails_closed("pass", "no JSON object");
    }

    #[test]
    fn case_and_surrounding_whitespace_of_the_three_words_are_ignored() {
        for (text, verdict) in [
            ("PASS ", Verdict::Pass),
            (" Pass\n", Verdict::Pass),
            ("REVISE", Verdict::Revise),
            ("\tReject", Verdict::Reject),
        ] {
            let content = json!({ "verdict": text }).to_string();
            let review = review_from_body(Api::OpenAi, &body(&content));
            assert!(review.verdict == verdict, "{text:?}: {review:?}");
            assert!(review.summary.contains("without a summary"));
        }
        // Inner whitespace is not surrounding whitespace.
        assert_fails_closed(r#"{"verdict": "pa ss"}"#, "not one of");
    }

    #[test]
    fn empty_garbage_and_truncated_replies_fail_closed() {
        assert_fails_closed("", "empty");
        assert_fails_closed("  \n\t", "empty");
        assert_fails_closed("The draft looks great, ship it!", "no JSON object");
        assert_fails_closed("\u{0}\u{1b}[31m\u{202e}garbage{{{]]]", "no JSON object");
        assert_fails_closed(r#"{"verdict": "pass", "summary": "cut"#, "never ends");
        // A truncated answer whose nested finding would parse on its own.
        assert_fails_closed(
            r#"{"verdict": "pass", "findings": [{"severity": "info", "message": "ok"}"#,
            "never ends",
        );
        assert_fails_closed(
            r#"{"summary": "x", "inner": {"verdict": "pass"}"#,
            "never ends",
        );
        assert_fails_closed("```json\n{\"verdict\": \"pa", "never ends");
    }

    #[test]
    fn oversized_and_brace_bombs_fail_closed() {
        let big = format!(
            r#"{{"verdict": "pass", "summary": "{}"}}"#,
            "x".repeat(MAX_CONTENT_BYTES)
        );
        assert_fails_closed(&big, "more than the");
        assert_fails_closed(&"{ a ".repeat(1000), "more than 64");
        let mut huge = body(CLEAN);
        huge.resize(MAX_BODY_BYTES + 1, b' ');
        let review = review_from_body(Api::OpenAi, &huge);
        assert!(review.verdict == Verdict::Revise);
        assert!(review.findings[0].message.contains("larger than"));
    }

    #[test]
    fn malformed_findings_and_summary_fail_closed() {
        assert_fails_closed(
            r#"{"verdict": "pass", "findings": "none"}"#,
            "`findings` is a string",
        );
        assert_fails_closed(
            r#"{"verdict": "pass", "findings": [{"severity": "critical", "message": "x"}]}"#,
            "finding 1: `severity` is \"critical\"",
        );
        assert_fails_closed(
            r#"{"verdict": "pass", "findings": [{"severity": "info"}]}"#,
            "has no `message`",
        );
        assert_fails_closed(
            r#"{"verdict": "pass", "findings": [{"severity": "info", "message": "m", "path": 3}]}"#,
            "`path` is a number",
        );
        assert_fails_closed(
            r#"{"verdict": "pass", "findings": ["fine"]}"#,
            "not an object",
        );
        assert_fails_closed(
            r#"{"verdict": "pass", "summary": false}"#,
            "`summary` is the boolean `false`",
        );
    }

    #[test]
    fn a_pass_with_an_error_finding_becomes_revise() {
        let content = r#"{"verdict": "pass", "summary": "ok", "findings": [{"severity": "ERROR", "message": "secret on line 2", "path": "a.md"}]}"#;
        let review = review_from_body(Api::OpenAi, &body(content));
        assert!(review.verdict == Verdict::Revise, "{review:?}");
        assert_eq!(review.findings.len(), 2);
        assert_eq!(review.findings[0].message, "secret on line 2");
        assert!(review.findings[1].message.contains("contradictory"));
    }

    #[test]
    fn too_many_findings_are_cut_with_a_note() {
        let findings: Vec<Value> = (0..60)
            .map(|i| json!({"severity": "warning", "message": format!("m{i}")}))
            .collect();
        let content = json!({"verdict": "revise", "findings": findings}).to_string();
        let review = review_from_body(Api::OpenAi, &body(&content));
        assert!(review.verdict == Verdict::Revise);
        assert_eq!(review.findings.len(), MAX_FINDINGS + 1);
        assert!(review.findings[MAX_FINDINGS].message.starts_with("10 more"));
    }

    #[test]
    fn bodies_that_are_not_chat_completions_fail_closed() {
        for (body, why) in [
            (&b"<html>502</html>"[..], "not JSON"),
            (b"", "not JSON"),
            (br#"{"choices": []}"#, "no `choices[0].message`"),
            (br#"{"object": "list"}"#, "no `choices[0].message`"),
            (
                br#"{"choices": [{"message": {"content": 5}}]}"#,
                "is a number",
            ),
            (br#"{"choices": [{"message": {"content": null}}]}"#, "empty"),
            (
                br#"{"error": {"message": "model not found"}}"#,
                "\"model not found\"",
            ),
            (
                br#"{"choices": [{"message": {"content": "{\"verdict\""#,
                "not JSON",
            ),
        ] {
            let review = review_from_body(Api::OpenAi, body);
            assert!(review.verdict == Verdict::Revise, "{why}: {review:?}");
            assert!(
                review.findings[0].message.contains(why),
                "{why}: {}",
                review.findings[0].message
            );
        }
    }

    /// An Anthropic Messages body whose one text block is `content`.
    fn anthropic_body(content: &str) -> Vec<u8> {
        json!({
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{ "type": "text", "text": content }],
            "stop_reason": "end_turn"
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn both_apis_read_the_same_text_the_same_way() {
        let contents = [
            CLEAN.to_string(),
            format!("```json\n{CLEAN}\n```"),
            r#"{"verdict": "false"}"#.to_string(),
            r#"{"verdict": "pass"} {"verdict": "reject"}"#.to_string(),
            r#"{"verdict": "pass", "summary": "cut"#.to_string(),
            r#"{"verdict": "pass", "findings": [{"severity": "error", "message": "m"}]}"#
                .to_string(),
            String::new(),
        ];
        for content in contents {
            let openai = review_from_body(Api::OpenAi, &body(&content));
            let anthropic = review_from_body(Api::Anthropic, &anthropic_body(&content));
            assert_eq!(format!("{openai:?}"), format!("{anthropic:?}"), "{content}");
        }
        // An Anthropic error envelope fails closed with the endpoint's message.
        let error = br#"{"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}}"#;
        let review = review_from_body(Api::Anthropic, error);
        assert!(review.verdict == Verdict::Revise);
        assert!(
            review.findings[0]
                .message
                .contains("\"max_tokens: Field required\"")
        );
        // A chat completion is not an Anthropic reply, and the other way round.
        let review = review_from_body(Api::Anthropic, &body(CLEAN));
        assert!(
            review.findings[0]
                .message
                .contains("not an Anthropic Messages reply")
        );
        let review = review_from_body(Api::OpenAi, &anthropic_body(CLEAN));
        assert!(review.findings[0].message.contains("not a chat completion"));
    }

    #[test]
    fn statuses_map_to_plugin_errors() {
        assert!(status_error(200, b"").is_none());
        assert!(status_error(204, b"").is_none());
        let e = status_error(500, b"boom").expect("error");
        assert_eq!(e.kind(), "transient");
        assert!(e.message().contains("HTTP 500") && e.message().contains("\"boom\""));
        assert_eq!(status_error(429, b"").expect("error").kind(), "transient");
        assert_eq!(status_error(503, b"").expect("error").kind(), "transient");
        let e = status_error(
            529,
            br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#,
        )
        .expect("error");
        assert!(e.message().ends_with(": \"Overloaded\""), "{}", e.message());
        let e = status_error(404, b"no such model").expect("error");
        assert_eq!(e.kind(), "failed");
        assert!(e.message().contains("hint: check MODEL_URL"));
        let long = "y".repeat(10_000);
        assert!(
            status_error(500, long.as_bytes())
                .expect("error")
                .message()
                .len()
                < 200
        );
    }
}
