//! Workflows as data: which plugins run, in what order, how failures are
//! retried, who reviews (if anyone), and what the review's verdict does.
//!
//! A workflow file (`workflow.toml` beside the plugins) lists tool steps with
//! their `needs` edges (steps that do not depend on each other run in
//! parallel), each step's retry policy and timeout, and, optionally, the
//! reviewer with its input and re-draft budget. Without a `[review]` the run
//! goes from its steps straight to the human approval gate. The runner
//! executes exactly this definition, and
//! [`crate::workflow_export`] renders exactly this definition; nothing about
//! the order lives in code. Validation happens before anything runs and names
//! what is wrong: unknown keys, duplicate or unknown steps, cycles (with the
//! cycle spelled out), unknown plugins and plugins of the wrong kind.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::bounded_read::{ReadError, Symlinks, read_text};
use crate::names::{NAME_RULE, is_valid_name};

use crate::manifest::{Manifest, PluginKind};
pub mod after_review;
pub mod retry;

use crate::workflow::retry::RetryPolicy;

/// The workflow file's name inside the plugins folder.
pub const WORKFLOW_FILE: &str = "workflow.toml";

/// Workflow files larger than this are refused before parsing.
const MAX_WORKFLOW_BYTES: u64 = 256 * 1024;

/// A validated workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    /// The workflow file this came from.
    pub path: PathBuf,
    /// The workflow's name, recorded in every run.
    pub name: String,
    /// The workflow's description, for people.
    pub description: String,
    /// Steps in execution order: every step comes after all the steps it needs.
    pub steps: Vec<Step>,
    /// The review after the steps; `None` when the workflow has no
    /// `[review]` (the run goes straight to the approval gate).
    pub review: Option<Review>,
    /// sha256 of the workflow file's bytes, recorded in every run.
    pub digest: String,
}

/// One tool step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step's id, unique in the workflow.
    pub id: String,
    /// The tool plugin the step calls.
    pub plugin: String,
    /// The step's fixed input, merged with the run's parameters.
    pub input: serde_json::Map<String, serde_json::Value>,
    /// Ids of the steps whose outputs this step receives.
    pub needs: Vec<String>,
    /// Caps the plugin's own `[limits] timeout-ms` for this step.
    pub timeout: Option<Duration>,
    /// How `transient` failures of this step are retried.
    pub retry: RetryPolicy,
}

/// The workflow's `[review]`: which reviewer judges the steps' outputs and
/// proposed writes, with what input, and what a `revise` verdict does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The reviewer plugin's name.
    pub plugin: String,
    /// The reviewer's configuration (`[review] input`), handed to it as the
    /// output of the pseudo-step [`REVIEW_INPUT_STEP`]; empty when unset.
    pub input: serde_json::Map<String, serde_json::Value>,
    /// What a `revise` verdict does before the run goes to the approval gate.
    pub redraft: Option<Redraft>,
}

/// The `step` name under which a reviewer receives `[review] input` among
/// the step outputs (contract 0.1.0 has no input field for reviewers). No
/// step can have it: step ids follow [`NAME_RULE`], which has no brackets.
pub const REVIEW_INPUT_STEP: &str = "[review]";

/// On a `revise` verdict, re-run `step` (and every step that depends on it)
/// with the review as input, at most `max_rounds` times; then review again.
/// A `revise` after the last round goes to the approval gate with the
/// reviewer's findings shown, so a person decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redraft {
    /// The step re-run first.
    pub step: String,
    /// Most re-draft rounds per run.
    pub max_rounds: u32,
}

impl Workflow {
    /// The plugins the workflow uses: every step's plugin and the reviewer's.
    pub fn plugin_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.steps.iter().map(|s| s.plugin.as_str()).collect();
        names.extend(self.reviewer());
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The reviewer plugin's name; `None` when the workflow has no `[review]`.
    pub fn reviewer(&self) -> Option<&str> {
        self.review.as_ref().map(|r| r.plugin.as_str())
    }

    /// The re-draft policy; `None` without a reviewer or without re-drafts.
    pub fn redraft(&self) -> Option<&Redraft> {
        self.review.as_ref().and_then(|r| r.redraft.as_ref())
    }

    /// The step with id `id`, if there is one.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// `id` and every step that depends on it, directly or not, in execution
    /// order: what a re-draft of `id` re-runs.
    pub fn downstream_of(&self, id: &str) -> Vec<String> {
        let mut hit: Vec<String> = vec![id.to_string()];
        for step in &self.steps {
            if step.needs.iter().any(|n| hit.contains(n)) && !hit.contains(&step.id) {
                hit.push(step.id.clone());
            }
        }
        self.steps
            .iter()
            .filter(|s| hit.contains(&s.id))
            .map(|s| s.id.clone())
            .collect()
    }
}

/// Why a workflow was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// Missing, unreadable, not a regular file (refused unread) or not UTF-8.
    #[error(transparent)]
    File(ReadError),
    /// The workflow does not parse, or breaks a rule (an unknown key, a cycle in `needs`, say).
    #[error("invalid workflow `{path}`: {message}\nhint: {hint}")]
    Invalid {
        /// Path of the workflow file.
        path: PathBuf,
        /// What is wrong, as the parser or the rule says.
        message: String,
        /// What to change, for the message's `hint:` line.
        hint: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    workflow: RawHeader,
    #[serde(default)]
    steps: Vec<RawStep>,
    review: Option<RawReview>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStep {
    id: String,
    plugin: String,
    #[serde(default)]
    input: toml::Table,
    #[serde(default)]
    needs: Vec<String>,
    timeout_ms: Option<u64>,
    retry: Option<RawRetry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRetry {
    max_attempts: u32,
    backoff_ms: Option<u64>,
    max_backoff_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawReview {
    plugin: Option<String>,
    #[serde(default)]
    input: toml::Table,
    #[serde(default)]
    max_redrafts: u32,
    redraft: Option<String>,
}

/// Bounds of the numbers a workflow may set.
const MAX_STEP_TIMEOUT_MS: u64 = 3_600_000;
const MAX_ATTEMPTS: u32 = 10;
const MAX_BACKOFF_MS: u64 = 600_000;
const MAX_REDRAFTS: u32 = 5;

/// Load and validate a workflow against the plugins that are available.
pub fn load(path: &Path, plugins: &[Manifest]) -> Result<Workflow, WorkflowError> {
    let text =
        read_text(path, MAX_WORKFLOW_BYTES, "workflow", Symlinks::Follow).map_err(|e| match e {
            ReadError::TooLarge { size, .. } => WorkflowError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "the file is {size} bytes, over the {MAX_WORKFLOW_BYTES}-byte limit"
                ),
                hint: "a workflow lists steps and a reviewer; it should be small".into(),
            },
            other => WorkflowError::File(other),
        })?;
    parse(&text, path, plugins)
}

/// Parse and validate workflow text. `path` is used in messages.
pub fn parse(text: &str, path: &Path, plugins: &[Manifest]) -> Result<Workflow, WorkflowError> {
    let invalid = |message: String, hint: &str| WorkflowError::Invalid {
        path: path.to_path_buf(),
        message,
        hint: hint.to_string(),
    };
    let raw: RawWorkflow = toml::from_str(text).map_err(|e| {
        invalid(
            e.to_string().trim_end().to_string(),
            "allowed are [workflow] (name, description), [[steps]] (id, plugin, input, needs, timeout-ms, retry = { max-attempts, backoff-ms, max-backoff-ms }) and, optionally, [review] (plugin, input, max-redrafts, redraft)",
        )
    })?;
    let kind_of: HashMap<&str, PluginKind> =
        plugins.iter().map(|m| (m.name.as_str(), m.kind)).collect();
    let available = || {
        let mut names: Vec<&str> = kind_of.keys().copied().collect();
        names.sort_unstable();
        names.join(", ")
    };

    if raw.steps.is_empty() {
        return Err(invalid(
            "the workflow has no [[steps]]".into(),
            "add at least one [[steps]] entry with an id and a plugin",
        ));
    }
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, step) in raw.steps.iter().enumerate() {
        if !is_valid_name(&step.id) {
            return Err(invalid(
                format!("steps[{i}].id `{}` is not a valid step id", step.id),
                &format!("use {NAME_RULE}"),
            ));
        }
        if index.insert(&step.id, i).is_some() {
            return Err(invalid(
                format!("two steps have the id `{}`", step.id),
                "give every step a unique id",
            ));
        }
        match kind_of.get(step.plugin.as_str()) {
            None => {
                return Err(invalid(
                    format!(
                        "step `{}` uses plugin `{}`, which is not installed",
                        step.id, step.plugin
                    ),
                    &format!("installed plugins: {}", available()),
                ));
            }
            Some(PluginKind::Reviewer) => {
                return Err(invalid(
                    format!(
                        "step `{}` uses plugin `{}`, which is a reviewer, not a tool",
                        step.id, step.plugin
                    ),
                    "use a tool plugin for steps, and name the reviewer under [review]",
                ));
            }
            Some(PluginKind::Tool) => {}
        }
    }
    for step in &raw.steps {
        for need in &step.needs {
            if !index.contains_key(need.as_str()) {
                return Err(invalid(
                    format!(
                        "step `{}` needs `{need}`, which is not a step of this workflow",
                        step.id
                    ),
                    "`needs` lists ids of other [[steps]]",
                ));
            }
            if *need == step.id {
                return Err(invalid(
                    format!("step `{}` needs itself", step.id),
                    "remove the step's own id from its `needs`",
                ));
            }
        }
    }

    let order = topological_order(&raw.steps).map_err(|cycle| {
        invalid(
            format!("the steps form a cycle: {}", cycle.join(" -> ")),
            "`needs` edges must not loop back; remove one edge of the cycle",
        )
    })?;

    let review = match raw.review {
        None => None,
        Some(review) => Some(review_of(review, &index, &kind_of, &invalid, &available)?),
    };
    for raw_step in &raw.steps {
        if let Some(ms) = raw_step.timeout_ms
            && !(1..=MAX_STEP_TIMEOUT_MS).contains(&ms)
        {
            return Err(invalid(
                format!("step `{}`: timeout-ms = {ms} is out of range", raw_step.id),
                &format!("use 1 to {MAX_STEP_TIMEOUT_MS} milliseconds"),
            ));
        }
        if let Some(retry) = &raw_step.retry {
            retry_policy(retry).map_err(|message| {
                invalid(
                    format!("step `{}`: {message}", raw_step.id),
                    &format!(
                        "retry = {{ max-attempts = 1..={MAX_ATTEMPTS}, backoff-ms = 1..={MAX_BACKOFF_MS}, max-backoff-ms >= backoff-ms }}"
                    ),
                )
            })?;
        }
    }

    let mut steps_by_position: Vec<Option<RawStep>> = raw.steps.into_iter().map(Some).collect();
    let mut steps = Vec::with_capacity(order.len());
    for i in order {
        let Some(raw_step) = steps_by_position[i].take() else {
            continue;
        };
        let input = match serde_json::to_value(&raw_step.input) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(invalid(
                    format!(
                        "step `{}`: its input cannot be expressed as JSON",
                        raw_step.id
                    ),
                    "use plain strings, numbers, booleans, arrays and tables (no dates)",
                ));
            }
        };
        let retry = match &raw_step.retry {
            Some(raw_retry) => retry_policy(raw_retry).unwrap_or_default(),
            None => RetryPolicy::default(),
        };
        steps.push(Step {
            id: raw_step.id,
            plugin: raw_step.plugin,
            input,
            needs: raw_step.needs,
            timeout: raw_step.timeout_ms.map(Duration::from_millis),
            retry,
        });
    }

    Ok(Workflow {
        path: path.to_path_buf(),
        name: raw.workflow.name,
        description: raw.workflow.description,
        steps,
        review,
        digest: crate::digest::sha256_hex(text.as_bytes()),
    })
}

/// Validate `[review]`: a reviewer that is installed and is a reviewer, an
/// input that is JSON, and a re-draft policy that names a step. `redraft`
/// and `max-redrafts` need a reviewer (its `revise` verdict is what triggers
/// them), so a `[review]` without `plugin` is refused.
fn review_of(
    review: RawReview,
    index: &BTreeMap<&str, usize>,
    kind_of: &HashMap<&str, PluginKind>,
    invalid: &dyn Fn(String, &str) -> WorkflowError,
    available: &dyn Fn() -> String,
) -> Result<Review, WorkflowError> {
    let Some(plugin) = review.plugin else {
        let message = if review.redraft.is_some() || review.max_redrafts > 0 {
            "[review] sets re-drafts but names no reviewer plugin: re-drafts follow a reviewer's `revise` verdict"
        } else {
            "[review] names no reviewer plugin"
        };
        return Err(invalid(
            message.into(),
            "add `plugin = \"<reviewer>\"` under [review], or remove the whole [review] table to go straight to the approval gate",
        ));
    };
    match kind_of.get(plugin.as_str()) {
        None => {
            return Err(invalid(
                format!("the reviewer `{plugin}` is not installed"),
                &format!("installed plugins: {}", available()),
            ));
        }
        Some(PluginKind::Tool) => {
            return Err(invalid(
                format!("the reviewer `{plugin}` is a tool, not a reviewer"),
                "name a plugin whose manifest says kind = \"reviewer\"",
            ));
        }
        Some(PluginKind::Reviewer) => {}
    }
    let input = match serde_json::to_value(&review.input) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => {
            return Err(invalid(
                "[review] input cannot be expressed as JSON".into(),
                "use plain strings, numbers, booleans, arrays and tables (no dates)",
            ));
        }
    };
    let redraft = match (review.max_redrafts, review.redraft) {
        (0, None) => None,
        (0, Some(step)) => {
            return Err(invalid(
                format!("[review] names redraft step `{step}` but max-redrafts is 0"),
                "set `max-redrafts` (1 to 5) or remove `redraft`",
            ));
        }
        (n, _) if n > MAX_REDRAFTS => {
            return Err(invalid(
                format!("[review] max-redrafts = {n} is over the limit of {MAX_REDRAFTS}"),
                "re-drafts are bounded; a person decides after the last one",
            ));
        }
        (_, None) => {
            return Err(invalid(
                "[review] sets max-redrafts but not which step re-drafts".into(),
                "add `redraft = \"<step id>\"`: the step re-run (with its dependents) on a `revise` verdict",
            ));
        }
        (n, Some(step)) => {
            if !index.contains_key(step.as_str()) {
                return Err(invalid(
                    format!("[review] redraft = `{step}` is not a step of this workflow"),
                    "name the id of the [[steps]] entry that drafts the result",
                ));
            }
            Some(Redraft {
                step,
                max_rounds: n,
            })
        }
    };
    Ok(Review {
        plugin,
        input,
        redraft,
    })
}

fn retry_policy(raw: &RawRetry) -> Result<RetryPolicy, String> {
    let defaults = RetryPolicy::default();
    if !(1..=MAX_ATTEMPTS).contains(&raw.max_attempts) {
        return Err(format!(
            "retry.max-attempts = {} is out of range",
            raw.max_attempts
        ));
    }
    let backoff = raw
        .backoff_ms
        .map_or(defaults.backoff, Duration::from_millis);
    let max_backoff = raw
        .max_backoff_ms
        .map_or(defaults.max_backoff.max(backoff), Duration::from_millis);
    if backoff.is_zero() || backoff > Duration::from_millis(MAX_BACKOFF_MS) {
        return Err(format!(
            "retry.backoff-ms = {} is out of range",
            backoff.as_millis()
        ));
    }
    if max_backoff < backoff || max_backoff > Duration::from_millis(MAX_BACKOFF_MS) {
        return Err(format!(
            "retry.max-backoff-ms = {} is out of range",
            max_backoff.as_millis()
        ));
    }
    Ok(RetryPolicy {
        max_attempts: raw.max_attempts,
        backoff,
        max_backoff,
    })
}

/// Order steps so each comes after its needs, keeping file order where free.
/// On a cycle, returns the ids along it (first id repeated at the end).
fn topological_order(steps: &[RawStep]) -> Result<Vec<usize>, Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut marks = vec![Mark::New; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    let mut path: Vec<usize> = Vec::new();

    fn visit(
        i: usize,
        steps: &[RawStep],
        index: &HashMap<&str, usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), Vec<String>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|&p| steps[p].id.clone()).collect();
                cycle.push(steps[i].id.clone());
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Active;
        path.push(i);
        for need in &steps[i].needs {
            if let Some(&n) = index.get(need.as_str()) {
                visit(n, steps, index, marks, path, order)?;
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        order.push(i);
        Ok(())
    }

    for i in 0..steps.len() {
        visit(i, steps, &index, &mut marks, &mut path, &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(name: &str, kind: PluginKind) -> Manifest {
        crate::manifest::stub(name, kind)
    }

    fn plugins() -> Vec<Manifest> {
        vec![
            plugin("a", PluginKind::Tool),
            plugin("b", PluginKind::Tool),
            plugin("rev", PluginKind::Reviewer),
        ]
    }

    fn check(text: &str) -> Result<Workflow, String> {
        parse(text, Path::new("workflow.toml"), &plugins()).map_err(|e| e.to_string())
    }

    const HEAD: &str = "[workflow]\nname = \"w\"\n[review]\nplugin = \"rev\"\n";

    #[test]
    fn steps_are_ordered_by_needs() {
        let w = check(&format!(
            "{HEAD}[[steps]]\nid = \"second\"\nplugin = \"b\"\nneeds = [\"first\"]\n\
             [[steps]]\nid = \"first\"\nplugin = \"a\"\ninput = {{ limit = 3 }}\n"
        ))
        .expect("valid");
        let ids: Vec<&str> = w.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["first", "second"]);
        assert_eq!(w.steps[0].input["limit"], 3);
        assert_eq!(w.plugin_names(), ["a", "b", "rev"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let e = check(&format!(
            "{HEAD}[[steps]]\nid = \"x\"\nplugin = \"a\"\nneeds = [\"y\"]\n\
             [[steps]]\nid = \"y\"\nplugin = \"b\"\nneeds = [\"x\"]\n"
        ))
        .expect_err("cycle");
        assert!(e.contains("x -> y -> x"), "{e}");
    }

    #[test]
    fn refusals_name_the_problem() {
        for (body, needle) in [
            (
                "[[steps]]\nid = \"x\"\nplugin = \"nope\"\n",
                "plugin `nope`, which is not installed",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"rev\"\n",
                "is a reviewer, not a tool",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"a\"\nneeds = [\"z\"]\n",
                "needs `z`",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"a\"\n[[steps]]\nid = \"x\"\nplugin = \"b\"\n",
                "two steps have the id `x`",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"a\"\nretry = 3\n",
                "retry",
            ),
        ] {
            let e = check(&format!("{HEAD}{body}")).expect_err(needle);
            assert!(e.contains(needle), "expected `{needle}` in: {e}");
        }
    }

    #[test]
    fn retries_timeouts_and_redrafts_are_read() {
        let w = check(
            "[workflow]\nname = \"w\"\n[review]\nplugin = \"rev\"\nmax-redrafts = 2\nredraft = \"x\"\n\
             [[steps]]\nid = \"x\"\nplugin = \"a\"\ntimeout-ms = 500\nretry = { max-attempts = 3, backoff-ms = 50 }\n\
             [[steps]]\nid = \"y\"\nplugin = \"b\"\nneeds = [\"x\"]\n\
             [[steps]]\nid = \"z\"\nplugin = \"b\"\n",
        )
        .expect("valid");
        let x = w.step("x").expect("x");
        assert_eq!(x.timeout, Some(Duration::from_millis(500)));
        assert_eq!(x.retry.max_attempts, 3);
        assert_eq!(x.retry.backoff, Duration::from_millis(50));
        assert_eq!(w.step("y").expect("y").retry, RetryPolicy::default());
        assert_eq!(
            w.redraft(),
            Some(&Redraft {
                step: "x".into(),
                max_rounds: 2
            })
        );
        assert_eq!(w.downstream_of("x"), ["x", "y"]);
        assert_eq!(w.downstream_of("z"), ["z"]);
    }

    #[test]
    fn bad_retries_timeouts_and_redrafts_are_refused() {
        let step = "[[steps]]\nid = \"x\"\nplugin = \"a\"\n";
        for (tail, needle) in [
            ("timeout-ms = 0\n", "timeout-ms = 0 is out of range"),
            ("retry = { max-attempts = 0 }\n", "max-attempts = 0"),
            (
                "retry = { max-attempts = 2, backoff-ms = 0 }\n",
                "backoff-ms = 0",
            ),
            (
                "retry = { max-attempts = 2, backoff-ms = 100, max-backoff-ms = 10 }\n",
                "max-backoff-ms = 10",
            ),
            ("retry = { attempts = 2 }\n", "attempts"),
        ] {
            let e = check(&format!("{HEAD}{step}{tail}")).expect_err(needle);
            assert!(e.contains(needle), "expected `{needle}` in: {e}");
        }
        for (review, needle) in [
            ("max-redrafts = 1\n", "not which step"),
            ("max-redrafts = 9\nredraft = \"x\"\n", "over the limit"),
            (
                "max-redrafts = 1\nredraft = \"nope\"\n",
                "`nope` is not a step",
            ),
            ("redraft = \"x\"\n", "max-redrafts is 0"),
        ] {
            let e = check(&format!(
                "[workflow]\nname = \"w\"\n{step}[review]\nplugin = \"rev\"\n{review}"
            ))
            .expect_err(needle);
            assert!(e.contains(needle), "expected `{needle}` in: {e}");
        }
    }

    #[test]
    fn the_reviewer_must_exist_and_be_a_reviewer() {
        let steps = "[[steps]]\nid = \"x\"\nplugin = \"a\"\n";
        for (review, needle) in [
            ("[review]\nplugin = \"a\"\n", "is a tool, not a reviewer"),
            ("[review]\nplugin = \"nope\"\n", "`nope` is not installed"),
            ("[review]\ninput = { x = 1 }\n", "names no reviewer plugin"),
        ] {
            let e = check(&format!("[workflow]\nname = \"w\"\n{steps}{review}")).expect_err(needle);
            assert!(e.contains(needle), "expected `{needle}` in: {e}");
            assert!(e.contains("\nhint: "), "{e}");
        }
    }

    #[test]
    fn without_review_the_run_has_no_reviewer() {
        let w = check("[workflow]\nname = \"w\"\n[[steps]]\nid = \"x\"\nplugin = \"a\"\n")
            .expect("a workflow without [review] is valid");
        assert_eq!(w.review, None);
        assert_eq!(w.reviewer(), None);
        assert_eq!(w.redraft(), None);
        assert_eq!(w.plugin_names(), ["a"]);
    }

    #[test]
    fn redrafts_need_a_reviewer() {
        for review in [
            "[review]\nmax-redrafts = 1\nredraft = \"x\"\n",
            "[review]\nredraft = \"x\"\n",
            "[review]\nmax-redrafts = 2\n",
        ] {
            let e = check(&format!(
                "[workflow]\nname = \"w\"\n[[steps]]\nid = \"x\"\nplugin = \"a\"\n{review}"
            ))
            .expect_err(review);
            assert!(
                e.contains("sets re-drafts but names no reviewer plugin"),
                "{review}: {e}"
            );
            assert!(e.contains("remove the whole [review] table"), "{e}");
        }
    }

    #[test]
    fn the_review_input_is_read_as_json() {
        let w = check(&format!(
            "{HEAD}input = {{ max-file-bytes = 10, deny-paths = [\"*.sh\"] }}\n[[steps]]\nid = \"x\"\nplugin = \"a\"\n"
        ))
        .expect("valid");
        let review = w.review.expect("review");
        assert_eq!(review.plugin, "rev");
        assert_eq!(review.input["max-file-bytes"], 10);
        assert_eq!(review.input["deny-paths"][0], "*.sh");
        let e = check(&format!(
            "{HEAD}input = 3\n[[steps]]\nid = \"x\"\nplugin = \"a\"\n"
        ))
        .expect_err("not a table");
        assert!(e.contains("invalid type: integer `3`"), "{e}");
    }
}
