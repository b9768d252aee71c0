//! Reading what a plugin receives: its own input and earlier steps' outputs.
//!
//! A reviewer's configuration (the workflow's `[review] input`) arrives as
//! the output of the pseudo-step [`REVIEW_INPUT_STEP`]; read it with
//! [`ReviewInput::config`].
//!
//! Every value crosses the boundary as JSON text. These helpers parse it into
//! serde types and turn every failure into [`PluginError::InvalidInput`] with a
//! message that says which value was wrong and why.

use serde::de::DeserializeOwned;

use crate::{PluginError, ReviewInput, StepInput, StepOutput};

impl StepInput {
    /// Parse the step's own input (the workflow's input for the step merged
    /// with the run parameters) into `T`.
    ///
    /// ```
    /// use harness_sdk::{PluginError, StepInput};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Input { topic: String, #[serde(default)] limit: Option<u32> }
    ///
    /// let step = StepInput { input: r#"{"topic":"wasm"}"#.into(), needs: vec![] };
    /// let input: Input = step.parse()?;
    /// assert_eq!((input.topic.as_str(), input.limit), ("wasm", None));
    ///
    /// // A missing field is the caller's mistake: `invalid-input`, never retried.
    /// let bad = StepInput { input: "{}".into(), needs: vec![] };
    /// assert!(matches!(bad.parse::<Input>(), Err(PluginError::InvalidInput(_))));
    /// # Ok::<(), PluginError>(())
    /// ```
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_str(&self.input).map_err(|e| {
            PluginError::invalid_input(format!("the step input does not fit this plugin: {e}"))
        })
    }

    /// Parse the output of the dependency whose step id is `step`.
    ///
    /// Fails with `invalid-input` if the workflow did not make this step need
    /// `step`, or if its output does not parse as `T`.
    ///
    /// ```
    /// use harness_sdk::{PluginError, StepInput, StepOutput};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Hits { hits: Vec<String> }
    ///
    /// let step = StepInput {
    ///     input: "{}".into(),
    ///     needs: vec![StepOutput { step: "search".into(), output: r#"{"hits":["a.md"]}"#.into() }],
    /// };
    /// let found: Hits = step.need("search")?;
    /// assert_eq!(found.hits, ["a.md"]);
    /// // The message names the missing step and how to fix the workflow.
    /// let Err(PluginError::InvalidInput(message)) = step.need::<Hits>("extract") else { panic!() };
    /// assert!(message.contains("needs = [\"extract\"]"));
    /// # Ok::<(), PluginError>(())
    /// ```
    pub fn need<T: DeserializeOwned>(&self, step: &str) -> Result<T, PluginError> {
        let Some(found) = self.needs.iter().find(|n| n.step == step) else {
            return Err(PluginError::invalid_input(format!(
                "this step needs the output of step `{step}`, but the host passed {}\nhint: add `needs = [\"{step}\"]` to the step in the workflow",
                describe_steps(&self.needs)
            )));
        };
        parse_output(found)
    }

    /// Parse the output of the first dependency whose output is a JSON object
    /// with a top-level `field`, whatever that step is called.
    ///
    /// Use this when the data matters more than the step id, so a workflow may
    /// rename or replace the producing step.
    ///
    /// ```
    /// use harness_sdk::{PluginError, StepInput, StepOutput};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Facts { facts: Vec<String> }
    ///
    /// let step = StepInput {
    ///     input: "{}".into(),
    ///     needs: vec![StepOutput { step: "renamed".into(), output: r#"{"facts":["x"]}"#.into() }],
    /// };
    /// let Facts { facts } = step.need_with("facts")?;
    /// assert_eq!(facts, ["x"]);
    /// # Ok::<(), PluginError>(())
    /// ```
    pub fn need_with<T: DeserializeOwned>(&self, field: &str) -> Result<T, PluginError> {
        match find_with(&self.needs, field)? {
            Some(value) => Ok(value),
            None => Err(PluginError::invalid_input(format!(
                "this step needs an output with a `{field}` field, but none of {} has one\nhint: make the step need the step that produces `{field}`",
                describe_steps(&self.needs)
            ))),
        }
    }
}

/// The `step` name under which the host passes the workflow's `[review]
/// input` table among a reviewer's outputs (contract 0.1.0 has no input field
/// for reviewers). No real step can be called this: step ids are lowercase
/// letters, digits and dashes.
pub const REVIEW_INPUT_STEP: &str = "[review]";

impl ReviewInput {
    /// Parse the reviewer's configuration, the workflow's `[review] input`
    /// table, into `T`; `T::default()` when the workflow sets none.
    ///
    /// A `T` with `#[serde(deny_unknown_fields)]` turns a misspelt key into
    /// `invalid-input` naming the key, so the run fails saying what to fix.
    ///
    /// ```
    /// use harness_sdk::{PluginError, ReviewInput, StepOutput};
    /// use harness_sdk::input::REVIEW_INPUT_STEP;
    ///
    /// #[derive(serde::Deserialize, Default)]
    /// #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
    /// struct Config { max_file_bytes: Option<u64> }
    ///
    /// let configured = ReviewInput {
    ///     outputs: vec![StepOutput { step: REVIEW_INPUT_STEP.into(), output: r#"{"max-file-bytes":10}"#.into() }],
    ///     writes: vec![],
    /// };
    /// assert_eq!(configured.config::<Config>()?.max_file_bytes, Some(10));
    /// let unset = ReviewInput { outputs: vec![], writes: vec![] };
    /// assert_eq!(unset.config::<Config>()?.max_file_bytes, None);
    /// let typo = ReviewInput {
    ///     outputs: vec![StepOutput { step: REVIEW_INPUT_STEP.into(), output: r#"{"max-bytes":10}"#.into() }],
    ///     writes: vec![],
    /// };
    /// assert!(matches!(typo.config::<Config>(), Err(PluginError::InvalidInput(m)) if m.contains("max-bytes")));
    /// # Ok::<(), PluginError>(())
    /// ```
    pub fn config<T: DeserializeOwned + Default>(&self) -> Result<T, PluginError> {
        let Some(found) = self.outputs.iter().find(|o| o.step == REVIEW_INPUT_STEP) else {
            return Ok(T::default());
        };
        serde_json::from_str(&found.output).map_err(|e| {
            PluginError::invalid_input(format!(
                "the workflow's [review] input does not fit this reviewer: {e}\nhint: fix `input` under [review] in the workflow file"
            ))
        })
    }

    /// The outputs of the run's steps, without the `[review] input`
    /// pseudo-step.
    pub fn step_outputs(&self) -> impl Iterator<Item = &StepOutput> {
        self.outputs.iter().filter(|o| o.step != REVIEW_INPUT_STEP)
    }

    /// Parse the output of step `step`, if the run has one.
    ///
    /// ```
    /// use harness_sdk::{PluginError, ReviewInput, StepOutput};
    ///
    /// let review = ReviewInput {
    ///     outputs: vec![StepOutput { step: "draft".into(), output: r#"{"words":120}"#.into() }],
    ///     writes: vec![],
    /// };
    /// let draft: Option<serde_json::Value> = review.output("draft")?;
    /// assert_eq!(draft.map(|d| d["words"].clone()), Some(120.into()));
    /// assert!(review.output::<serde_json::Value>("missing")?.is_none());
    /// # Ok::<(), PluginError>(())
    /// ```
    pub fn output<T: DeserializeOwned>(&self, step: &str) -> Result<Option<T>, PluginError> {
        self.outputs
            .iter()
            .find(|o| o.step == step)
            .map(parse_output)
            .transpose()
    }

    /// Parse the output of the first step whose output is a JSON object with a
    /// top-level `field`, if any step produced one.
    pub fn output_with<T: DeserializeOwned>(&self, field: &str) -> Result<Option<T>, PluginError> {
        let steps: Vec<StepOutput> = self.step_outputs().cloned().collect();
        find_with(&steps, field)
    }
}

/// Parse one step output as `T`.
fn parse_output<T: DeserializeOwned>(output: &StepOutput) -> Result<T, PluginError> {
    serde_json::from_str(&output.output).map_err(|e| {
        PluginError::invalid_input(format!(
            "the output of step `{}` is not what this plugin expects: {e}",
            output.step
        ))
    })
}

/// The first output that is a JSON object with `field`, parsed as `T`.
fn find_with<T: DeserializeOwned>(
    outputs: &[StepOutput],
    field: &str,
) -> Result<Option<T>, PluginError> {
    for output in outputs {
        // Outputs that are not JSON objects simply do not match.
        let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(&output.output)
        else {
            continue;
        };
        if map.contains_key(field) {
            return serde_json::from_value(serde_json::Value::Object(map))
                .map(Some)
                .map_err(|e| {
                    PluginError::invalid_input(format!(
                        "the output of step `{}` has a `{field}` field but is not what this plugin expects: {e}",
                        output.step
                    ))
                });
        }
    }
    Ok(None)
}

/// "steps `a`, `b`" or "no step outputs", for messages.
fn describe_steps(outputs: &[StepOutput]) -> String {
    if outputs.is_empty() {
        return "no step outputs".to_string();
    }
    let names: Vec<String> = outputs.iter().map(|o| format!("`{}`", o.step)).collect();
    format!("the outputs of {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str, needs: &[(&str, &str)]) -> StepInput {
        StepInput {
            input: json.to_string(),
            needs: needs
                .iter()
                .map(|(s, o)| StepOutput {
                    step: (*s).to_string(),
                    output: (*o).to_string(),
                })
                .collect(),
        }
    }

    #[derive(serde::Deserialize, Debug)]
    struct Named {
        name: String,
    }

    #[test]
    fn parse_reports_the_serde_error_as_invalid_input() {
        let ok: Named = input(r#"{"name":"x"}"#, &[])
            .parse()
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ok.name, "x");
        let err = input("{}", &[]).parse::<Named>().err();
        assert!(
            matches!(&err, Some(PluginError::InvalidInput(m)) if m.contains("missing field `name`")),
            "{err:?}"
        );
    }

    #[test]
    fn need_finds_by_step_id_and_names_missing_steps() {
        let i = input("{}", &[("a", r#"{"name":"n"}"#)]);
        assert_eq!(
            i.need::<Named>("a").map(|n| n.name).ok().as_deref(),
            Some("n")
        );
        let err = i.need::<Named>("search").err();
        assert!(
            matches!(&err, Some(PluginError::InvalidInput(m)) if m.contains("`search`") && m.contains("`a`")),
            "{err:?}"
        );
    }

    #[test]
    fn need_with_finds_by_field() {
        let i = input(
            "{}",
            &[
                ("a", "[1]"),
                ("b", r#"{"other":1}"#),
                ("renamed", r#"{"name":"n"}"#),
            ],
        );
        assert_eq!(
            i.need_with::<Named>("name").map(|n| n.name).ok().as_deref(),
            Some("n")
        );
        assert!(i.need_with::<Named>("hits").is_err());
    }
}
