//! Run parameters: what `host run` gives a new run (`--input FILE.json`,
//! then `--topic`, then each `--param KEY=VALUE`, later ones winning), checked
//! against what the workflow's steps accept before the run is created, and
//! recorded as the `params` object of `run_created` (the same field older
//! journals hold `{"topic": ...}` in; `host resume` reuses what is recorded).
//!
//! A step's input is its fixed `input` from the workflow plus every run
//! parameter that input does not set (the executor merges them). What a step
//! accepts is its tool plugin's own `describe()` input schema, read and
//! compiled by [`crate::mcp::tools`] as `host mcp` does (compiled only where
//! a parameter a person gave reaches a step: the first compile in a process
//! costs milliseconds, and a plain `host run` should not pay them):
//!
//! * a schema that lists `properties` takes those keys (a key it does not
//!   list is taken as a typo, whatever `additionalProperties` says); one that
//!   lists none takes any key, unless it says `additionalProperties: false`
//!   (or has `patternProperties`, which the schema check then judges);
//! * a parameter must reach at least one step: accepted by its schema and
//!   not fixed by its input; otherwise the error names the key, every step
//!   and what each accepts;
//! * every step it reaches must accept its value (the schema's own check at
//!   that key), and every property a step's schema requires must come from
//!   its input or a parameter.
//!
//! The default topic goes only to a workflow some step of which lists
//! `topic` in its schema's `properties` and leaves it open.
//!
//! `VALUE` is JSON when it parses as JSON (a number, `true`, `null`, a quoted
//! string, an array or an object), else the text itself: `--param limit=3`
//! is the number 3, `--param topic=wasm sandboxing` the string, and
//! `--param 'name="3"'` the string "3".

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::manifest::PluginKind;
use crate::mcp::tools::{Described, InputSchema, ToolError};
use crate::render::{inert, inert_path};
use crate::run::executor::Plugins;
use crate::workflow::Workflow;

/// The key the `--topic` shorthand sets.
pub const TOPIC: &str = "topic";
/// The topic a workflow that takes one gets when none is given.
pub const DEFAULT_TOPIC: &str = "WebAssembly component sandboxing";
/// Where the default topic came from, for messages.
const DEFAULT_ORIGIN: &str = "the default topic";
/// Keys the executor sets itself (a re-draft round's `review`).
const RESERVED: &[&str] = &["review"];
/// The most bytes `--input` may hold.
const MAX_INPUT_FILE_BYTES: u64 = 1 << 20;

/// Run parameters as given, each with where it came from (for messages).
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: Map<String, Value>,
    origin: BTreeMap<String, String>,
}

/// A parameter that cannot be given to the run.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    /// `--param` without `=`, or with an empty key.
    #[error(
        "`--param {}` is not KEY=VALUE\nhint: e.g. --param limit=3 or --param 'topic=wasm sandboxing' (VALUE is JSON if it parses as JSON, else a string)",
        inert(.0)
    )]
    Syntax(String),
    /// A key the host sets itself.
    #[error(
        "run parameter `{0}` is reserved: the host gives it to steps itself\nhint: remove it; the reviewer's verdict reaches re-draft steps as `review`"
    )]
    Reserved(String),
    /// `--input` cannot be read, is not JSON, or not an object.
    #[error("--input `{}` {why}\nhint: give a file holding one JSON object, e.g. {{\"topic\": \"wasm\", \"limit\": 3}}", inert_path(.path))]
    InputFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A step's plugin could not describe its input.
    #[error(transparent)]
    Describe(#[from] ToolError),
    /// No step takes the key.
    #[error(
        "run parameter `{}` (from {origin}) is not an input of any step of workflow `{}`:\n{accepted}\nhint: {hint}",
        inert(.key),
        inert(.workflow)
    )]
    Unknown {
        /// The key.
        key: String,
        /// Where it was given.
        origin: String,
        /// The workflow.
        workflow: String,
        /// One line per step: what it accepts.
        accepted: String,
        /// What to do instead.
        hint: String,
    },
    /// Every step that takes the key sets it in its fixed input.
    #[error(
        "run parameter `{}` (from {origin}) would reach no step: the `input` of step {steps} in the workflow sets it, and a parameter does not override a step's input\nhint: remove `{}` from that `input` in `{}` to make it a parameter, or drop the parameter",
        inert(.key),
        inert(.key),
        inert_path(.workflow)
    )]
    Fixed {
        /// The key.
        key: String,
        /// Where it was given.
        origin: String,
        /// The steps fixing it, quoted.
        steps: String,
        /// The workflow file.
        workflow: std::path::PathBuf,
    },
    /// A step's schema refuses the value.
    #[error(
        "run parameter `{}` (from {origin}) does not fit step `{}` (plugin `{}`): {}\nhint: give a value its input schema accepts (`host plugins inspect {}` shows it)",
        inert(.key),
        inert(.step),
        inert(.plugin),
        inert(.why),
        inert(.plugin)
    )]
    Value {
        /// The key.
        key: String,
        /// Where it was given.
        origin: String,
        /// The step.
        step: String,
        /// Its plugin.
        plugin: String,
        /// What the schema check said.
        why: String,
    },
    /// A property a step requires is given by nobody.
    #[error(
        "step `{}` (plugin `{}`) requires `{}`, which neither its `input` in the workflow nor a run parameter gives\nhint: pass --param {}=VALUE{}",
        inert(.step),
        inert(.plugin),
        inert(.property),
        inert(.property),
        if .property == TOPIC { " (or --topic TEXT)" } else { "" }
    )]
    Missing {
        /// The step.
        step: String,
        /// Its plugin.
        plugin: String,
        /// The required property.
        property: String,
    },
}

impl Params {
    /// No parameters.
    pub fn new() -> Params {
        Params::default()
    }

    /// Take every key of the JSON object in `path` (`--input`).
    pub fn read_input_file(&mut self, path: &Path) -> Result<(), ParamError> {
        let err = |why: String| ParamError::InputFile {
            path: path.to_path_buf(),
            why,
        };
        let text = crate::bounded_read::read_text(
            path,
            MAX_INPUT_FILE_BYTES,
            "input file",
            crate::bounded_read::Symlinks::Follow,
        )
        .map_err(|e| {
            err(format!(
                "cannot be read: {}",
                e.to_string().replace('\n', " ")
            ))
        })?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| err(format!("is not JSON: {}", inert(&e.to_string()))))?;
        let Value::Object(map) = value else {
            return Err(err("is not a JSON object".to_string()));
        };
        let origin = format!("--input {}", inert_path(path));
        for (key, value) in map {
            self.set(key, value, &origin)?;
        }
        Ok(())
    }

    /// Take `--topic TEXT` (always a string).
    pub fn topic(&mut self, text: &str) -> Result<(), ParamError> {
        self.set(
            TOPIC.to_string(),
            Value::String(text.to_string()),
            "--topic",
        )
    }

    /// Take one `--param KEY=VALUE`.
    pub fn assign(&mut self, arg: &str) -> Result<(), ParamError> {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ParamError::Syntax(arg.to_string()));
        };
        if key.trim().is_empty() {
            return Err(ParamError::Syntax(arg.to_string()));
        }
        self.set(key.to_string(), parse_value(value), "--param")
    }

    fn set(&mut self, key: String, value: Value, origin: &str) -> Result<(), ParamError> {
        if RESERVED.contains(&key.as_str()) {
            return Err(ParamError::Reserved(inert(&key)));
        }
        self.origin.insert(key.clone(), origin.to_string());
        self.values.insert(key, value);
        Ok(())
    }

    /// The parameters as the run records them.
    pub fn into_json(self) -> Value {
        Value::Object(self.values)
    }

    /// Check the parameters against what `workflow`'s steps accept (each
    /// tool plugin's `describe()`, in a fresh sandbox), and give a workflow
    /// that takes a `topic` the default one when none is set. The
    /// parameters as the run records them.
    pub async fn check(
        mut self,
        workflow: &Workflow,
        plugins: &Plugins,
    ) -> Result<Value, ParamError> {
        let started = std::time::Instant::now();
        let steps = StepSchemas::describe(workflow, plugins).await?;
        if !self.values.contains_key(TOPIC) && steps.names(TOPIC) {
            self.values
                .insert(TOPIC.to_string(), Value::String(DEFAULT_TOPIC.to_string()));
            self.origin
                .insert(TOPIC.to_string(), DEFAULT_ORIGIN.to_string());
        }
        for key in self.values.keys() {
            let origin = self.origin.get(key).map_or("--param", String::as_str);
            steps.check_key(key, origin, workflow)?;
        }
        steps.check_values(&self)?;
        tracing::debug!(
            steps = steps.steps.len(),
            elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "checked the run parameters against the steps' input schemas"
        );
        Ok(self.into_json())
    }
}

/// `VALUE` of `--param KEY=VALUE`: JSON if it parses as JSON, else the text.
pub fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Which keys an input schema takes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Accepts {
    /// Exactly these (the schema's `properties`).
    Keys(Vec<String>),
    /// Any key (the schema names none).
    Any,
}

impl Accepts {
    fn of(schema: &Map<String, Value>) -> Accepts {
        match schema.get("properties").and_then(Value::as_object) {
            Some(props) => Accepts::Keys(props.keys().cloned().collect()),
            None if schema.get("additionalProperties") == Some(&Value::Bool(false))
                && !schema.contains_key("patternProperties") =>
            {
                Accepts::Keys(Vec::new())
            }
            None => Accepts::Any,
        }
    }

    fn takes(&self, key: &str) -> bool {
        match self {
            Accepts::Keys(keys) => keys.iter().any(|k| k == key),
            Accepts::Any => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Accepts::Keys(keys) if keys.is_empty() => "no keys".to_string(),
            Accepts::Keys(keys) => keys
                .iter()
                .map(|k| format!("`{}`", inert(k)))
                .collect::<Vec<_>>()
                .join(", "),
            Accepts::Any => "any key (its schema names none)".to_string(),
        }
    }
}

/// Each tool step of a workflow with its plugin's input schema.
struct StepSchemas<'a> {
    steps: Vec<StepSchema<'a>>,
}

struct StepSchema<'a> {
    step: &'a crate::workflow::Step,
    schema: std::sync::Arc<PluginSchema>,
    accepts: Accepts,
}

/// One plugin's described input, compiled on first need.
struct PluginSchema {
    described: Described,
    compiled: std::sync::OnceLock<InputSchema>,
}

impl PluginSchema {
    fn compiled(&self, plugin: &str) -> Result<&InputSchema, ParamError> {
        if let Some(compiled) = self.compiled.get() {
            return Ok(compiled);
        }
        let compiled = self.described.compile(plugin)?;
        Ok(self.compiled.get_or_init(|| compiled))
    }

    /// The properties the schema's top-level `required` lists.
    fn required(&self) -> impl Iterator<Item = &str> {
        self.described
            .input_schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }
}

impl StepSchema<'_> {
    /// Whether a parameter `key` reaches this step.
    fn receives(&self, key: &str) -> bool {
        self.accepts.takes(key) && !self.step.input.contains_key(key)
    }
}

impl<'a> StepSchemas<'a> {
    async fn describe(
        workflow: &'a Workflow,
        plugins: &Plugins,
    ) -> Result<StepSchemas<'a>, ParamError> {
        // Each distinct tool once, all at once (one waits on a file operation
        // while another runs); the first failure in step order is reported.
        let mut tools: Vec<(&str, &crate::runtime::Plugin)> = Vec::new();
        for step in &workflow.steps {
            if let Some(plugin) = plugins.get(&step.plugin)
                && plugin.kind() == PluginKind::Tool
                && !tools.iter().any(|(name, _)| *name == step.plugin)
            {
                tools.push((&step.plugin, plugin));
            }
        }
        let answers =
            futures_util::future::join_all(tools.iter().map(|(_, p)| Described::of(p))).await;
        let mut described: BTreeMap<&str, std::sync::Arc<PluginSchema>> = BTreeMap::new();
        for ((name, _), answer) in tools.iter().zip(answers) {
            let schema = PluginSchema {
                described: answer?,
                compiled: std::sync::OnceLock::new(),
            };
            described.insert(name, std::sync::Arc::new(schema));
        }
        let mut steps = Vec::with_capacity(workflow.steps.len());
        for step in &workflow.steps {
            let Some(schema) = described.get(step.plugin.as_str()) else {
                continue;
            };
            let schema = std::sync::Arc::clone(schema);
            steps.push(StepSchema {
                step,
                accepts: Accepts::of(&schema.described.input_schema),
                schema,
            });
        }
        Ok(StepSchemas { steps })
    }

    /// Whether some step's schema lists `key` and its input leaves it open
    /// (a schema that lists no keys takes any, but uses none in particular).
    fn names(&self, key: &str) -> bool {
        self.steps.iter().any(|s| {
            matches!(&s.accepts, Accepts::Keys(keys) if keys.iter().any(|k| k == key))
                && !s.step.input.contains_key(key)
        })
    }

    /// Whether a parameter `key` would reach some step.
    fn reaches(&self, key: &str) -> bool {
        self.steps.iter().any(|s| s.receives(key))
    }

    fn check_key(&self, key: &str, origin: &str, workflow: &Workflow) -> Result<(), ParamError> {
        if self.reaches(key) {
            return Ok(());
        }
        let fixing: Vec<String> = self
            .steps
            .iter()
            .filter(|s| s.accepts.takes(key))
            .map(|s| format!("`{}`", inert(&s.step.id)))
            .collect();
        if !fixing.is_empty() {
            return Err(ParamError::Fixed {
                key: key.to_string(),
                origin: origin.to_string(),
                steps: fixing.join(", "),
                workflow: workflow.path.clone(),
            });
        }
        let accepted = if self.steps.is_empty() {
            "  (it has no tool steps)".to_string()
        } else {
            self.steps
                .iter()
                .map(|s| {
                    let open: Vec<&str> = match &s.accepts {
                        Accepts::Keys(keys) => keys
                            .iter()
                            .map(String::as_str)
                            .filter(|k| !s.step.input.contains_key(*k))
                            .collect(),
                        Accepts::Any => Vec::new(),
                    };
                    let set: Vec<String> = s
                        .step
                        .input
                        .keys()
                        .filter(|k| s.accepts.takes(k))
                        .map(|k| format!("`{}`", inert(k)))
                        .collect();
                    let fixed = if set.is_empty() {
                        String::new()
                    } else {
                        format!(" (its `input` in the workflow sets {})", set.join(", "))
                    };
                    let takes = match &s.accepts {
                        Accepts::Keys(_) if open.is_empty() => "no parameter".to_string(),
                        Accepts::Keys(_) => {
                            Accepts::Keys(open.iter().map(|k| k.to_string()).collect()).describe()
                        }
                        Accepts::Any => s.accepts.describe(),
                    };
                    format!(
                        "  step `{}` (plugin `{}`) takes {takes}{fixed}",
                        inert(&s.step.id),
                        inert(&s.step.plugin)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let hint = if key == TOPIC {
            "this workflow takes no topic: drop --topic, or pass what its steps take with --param KEY=VALUE".to_string()
        } else {
            "check the spelling; each step's input schema is what `host plugins inspect PLUGIN` shows as `schema`".to_string()
        };
        Err(ParamError::Unknown {
            key: key.to_string(),
            origin: origin.to_string(),
            workflow: workflow.name.clone(),
            accepted,
            hint,
        })
    }

    /// Every step's input as it will be given (its fixed input, then each
    /// parameter it does not fix): every property its schema requires is
    /// there, and where a parameter a person gave reaches it, the schema
    /// accepts the whole input.
    fn check_values(&self, params: &Params) -> Result<(), ParamError> {
        for s in &self.steps {
            let mut input = s.step.input.clone();
            let mut given = false;
            for (key, value) in &params.values {
                if s.receives(key) {
                    input.insert(key.clone(), value.clone());
                    given |= params.origin.get(key).map(String::as_str) != Some(DEFAULT_ORIGIN);
                }
            }
            if let Some(property) = s.schema.required().find(|p| !input.contains_key(*p)) {
                return Err(ParamError::Missing {
                    step: s.step.id.clone(),
                    plugin: s.step.plugin.clone(),
                    property: property.to_string(),
                });
            }
            if !given {
                continue;
            }
            let compiled = s.schema.compiled(&s.step.plugin)?;
            for problem in compiled.problems(&Value::Object(input)) {
                if let Some(property) = problem.missing {
                    return Err(ParamError::Missing {
                        step: s.step.id.clone(),
                        plugin: s.step.plugin.clone(),
                        property,
                    });
                }
                // A problem inside the workflow's own input is the plugin's
                // to report when the step runs, as before parameters.
                let Some(key) = first_segment(&problem.pointer) else {
                    continue;
                };
                if s.receives(&key) && params.values.contains_key(&key) {
                    return Err(ParamError::Value {
                        origin: params.origin.get(&key).cloned().unwrap_or_default(),
                        key,
                        step: s.step.id.clone(),
                        plugin: s.step.plugin.clone(),
                        why: problem.message,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The first key of a JSON pointer (`/limit/0` → `limit`), unescaped.
fn first_segment(pointer: &str) -> Option<String> {
    let rest = pointer.strip_prefix('/')?;
    let first = rest.split('/').next()?;
    Some(first.replace("~1", "/").replace("~0", "~"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_json_when_they_parse_and_text_otherwise() {
        assert_eq!(parse_value("3"), serde_json::json!(3));
        assert_eq!(parse_value("true"), serde_json::json!(true));
        assert_eq!(parse_value("[1,2]"), serde_json::json!([1, 2]));
        assert_eq!(parse_value("{\"a\":1}"), serde_json::json!({"a": 1}));
        assert_eq!(parse_value("\"3\""), serde_json::json!("3"));
        assert_eq!(
            parse_value("wasm sandboxing"),
            serde_json::json!("wasm sandboxing")
        );
        assert_eq!(parse_value("08"), serde_json::json!("08"));
        assert_eq!(parse_value(""), serde_json::json!(""));
    }

    #[test]
    fn later_sources_win_and_bad_assignments_are_refused() {
        let mut p = Params::new();
        p.topic("from topic").expect("topic");
        p.assign("topic=from param").expect("param");
        p.assign("limit=3").expect("param");
        p.assign("eq=a=b").expect("value may hold =");
        assert_eq!(
            p.clone().into_json(),
            serde_json::json!({"topic": "from param", "limit": 3, "eq": "a=b"})
        );
        assert!(matches!(p.assign("novalue"), Err(ParamError::Syntax(_))));
        assert!(matches!(p.assign("=3"), Err(ParamError::Syntax(_))));
        assert!(matches!(p.assign("review=x"), Err(ParamError::Reserved(_))));
    }

    #[test]
    fn a_schema_naming_properties_takes_only_those() {
        let schema = |v: Value| v.as_object().cloned().expect("object");
        let named = Accepts::of(&schema(serde_json::json!({"properties": {"topic": {}}})));
        assert!(named.takes("topic") && !named.takes("topik"));
        let open = Accepts::of(&schema(serde_json::json!({"type": "object"})));
        assert!(open.takes("anything"));
        let closed = Accepts::of(&schema(
            serde_json::json!({"type": "object", "additionalProperties": false}),
        ));
        assert!(!closed.takes("anything"));
        assert_eq!(first_segment("/a~1b/0"), Some("a/b".to_string()));
        assert_eq!(first_segment(""), None);
    }
}
