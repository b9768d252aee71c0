//! The workflow's `[review] input`, checked against the input schema the
//! reviewer declares in `describe()` before a run's first step: a misspelt
//! or mistyped setting then fails the run at once, naming the field, instead
//! of after every step has run. The reviewer still parses the input itself
//! (the schema cannot say everything, a glob's syntax say); the schema is
//! compiled without the network and file resolvers, as for MCP tools, so a
//! reviewer's `$ref` never makes the host fetch anything.

use crate::render::inert;
use crate::runtime::Plugin;
use crate::workflow::Review;

/// Fields named in one refusal, at most.
const MAX_PROBLEMS: usize = 8;

/// `Err` with the run's failure reason when `review.input` does not fit the
/// schema `reviewer` declares (or the reviewer cannot say what it accepts).
pub async fn check(reviewer: &Plugin, review: &Review) -> Result<(), String> {
    let refuse = |what: String| {
        format!(
            "the [review] input does not fit reviewer `{}`: {what}\nhint: fix `input` under [review] in the workflow file; `host plugins inspect {}` shows the schema the reviewer accepts",
            inert(&review.plugin),
            inert(&review.plugin)
        )
    };
    let descriptor = reviewer
        .describe()
        .await
        .map_err(|e| refuse(format!("its describe() failed ({})", inert(&e.to_string()))))?
        .value;
    let schema: serde_json::Value = serde_json::from_str(&descriptor.input_schema)
        .map_err(|e| refuse(format!("its input schema is not JSON ({e})")))?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| {
        refuse(format!(
            "its input schema is not a valid JSON Schema ({})",
            inert(&e.to_string())
        ))
    })?;
    let input = serde_json::Value::Object(review.input.clone());
    let problems: Vec<String> = validator
        .iter_errors(&input)
        .take(MAX_PROBLEMS)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            format!("`{}`: {}", inert(&at), inert(&e.to_string()))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(refuse(problems.join("; ")))
    }
}
