//! The tools a session serves: one per tool plugin, described by the
//! plugin's own `describe()` (run once, in a fresh sandbox, at start), with
//! its input schema compiled for argument checks and two hints derived from
//! its grants. Reviewers are never tools.
//!
//! Arguments are checked against the schema before any policy decision or
//! invocation ([`Tool::check`]); a mismatch names the JSON pointer of the
//! offending field. The schema is compiled without the network and file
//! resolvers (`jsonschema` without default features): a plugin's `$ref` can
//! never make the host fetch anything.

use std::collections::BTreeMap;

use crate::manifest::PluginKind;
use crate::render::inert;
use crate::run::executor::Plugins;
use crate::runtime::Plugin;

/// One tool, ready to be listed and called.
#[derive(Debug)]
pub struct Tool {
    /// The loaded tool plugin that serves calls.
    pub plugin: Plugin,
    /// The plugin's name: the tool's MCP name.
    pub name: String,
    /// The name the plugin gives itself in `describe()` (its title).
    pub title: String,
    /// The plugin's one-line summary from `describe()`: the tool's description.
    pub summary: String,
    /// The input schema, as the plugin declared it.
    pub input_schema: serde_json::Map<String, serde_json::Value>,
    schema: InputSchema,
    /// The plugin cannot propose writes (no `writes` grant, no read-write mount).
    pub read_only: bool,
    /// The plugin has a network grant.
    pub open_world: bool,
}

/// One way arguments miss a tool's input schema (untrusted text: render inert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// The JSON pointer of the offending value (empty: the whole object).
    pub pointer: String,
    /// Why, as the validator says it.
    pub message: String,
    /// The property a `required` keyword asks for, when that is the problem.
    pub missing: Option<String>,
}

/// The session's tools by name (sorted: `tools/list` is deterministic).
pub type Tools = BTreeMap<String, Tool>;

/// A tool plugin that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The plugin's `describe()` call failed.
    #[error(
        "cannot describe tool plugin `{plugin}`: {message}\nhint: `host plugins inspect {plugin}` loads it as `host mcp` would"
    )]
    Describe {
        /// The tool plugin.
        plugin: String,
        /// Why `describe()` gave no descriptor.
        message: String,
    },
    /// The plugin's input schema is not JSON, not an object, or not a valid JSON Schema.
    #[error(
        "tool plugin `{plugin}` declares an input schema that {reason}\nhint: fix the schema its describe() returns (a JSON Schema object, e.g. {{\"type\":\"object\",\"properties\":{{...}}}})"
    )]
    Schema {
        /// The tool plugin.
        plugin: String,
        /// What is wrong with the schema, phrased to follow "a schema that".
        reason: String,
    },
}

/// A plugin's own description of its input: `describe()` run in a fresh
/// sandbox, its schema parsed (not compiled: see [`InputSchema::compile`]).
#[derive(Debug, Clone)]
pub struct Described {
    /// The name the plugin gives itself.
    pub title: String,
    /// Its one-line summary.
    pub summary: String,
    /// Its input schema, a JSON object.
    pub input_schema: serde_json::Map<String, serde_json::Value>,
}

impl Described {
    /// `plugin`'s descriptor ([`Plugin::descriptor`]: its `describe()`,
    /// asked once per component) and the schema it declares, parsed.
    pub async fn of(plugin: &Plugin) -> Result<Described, ToolError> {
        let name = plugin.name();
        let descriptor = plugin.descriptor().await.map_err(|e| ToolError::Describe {
            plugin: inert(name),
            message: e.to_string(),
        })?;
        let schema: serde_json::Value = serde_json::from_str(&descriptor.input_schema)
            .map_err(|e| schema_error(name, format!("is not JSON ({e})")))?;
        let serde_json::Value::Object(input_schema) = schema else {
            return Err(schema_error(name, "is not a JSON object".to_string()));
        };
        Ok(Described {
            title: descriptor.name,
            summary: descriptor.summary,
            input_schema,
        })
    }

    /// Compile the schema for checks (the first compile in a process builds
    /// the validator's own meta-schema: a few milliseconds).
    pub fn compile(&self, plugin: &str) -> Result<InputSchema, ToolError> {
        let validator =
            jsonschema::validator_for(&serde_json::Value::Object(self.input_schema.clone()))
                .map_err(|e| {
                    schema_error(
                        plugin,
                        format!("is not a valid JSON Schema ({})", inert(&e.to_string())),
                    )
                })?;
        Ok(InputSchema { validator })
    }
}

fn schema_error(plugin: &str, reason: String) -> ToolError {
    ToolError::Schema {
        plugin: inert(plugin),
        reason,
    }
}

/// A compiled input schema.
#[derive(Debug)]
pub struct InputSchema {
    validator: jsonschema::Validator,
}

impl InputSchema {
    /// Where and why `arguments` do not match the schema (at most eight
    /// problems), each with its JSON pointer (empty for the whole object)
    /// and, for a missing required property, that property's name.
    pub fn problems(&self, arguments: &serde_json::Value) -> Vec<SchemaProblem> {
        self.validator
            .iter_errors(arguments)
            .take(8)
            .map(|e| SchemaProblem {
                pointer: e.instance_path().to_string(),
                message: e.to_string(),
                missing: match e.kind() {
                    jsonschema::error::ValidationErrorKind::Required { property } => {
                        property.as_str().map(str::to_string)
                    }
                    _ => None,
                },
            })
            .collect()
    }
}

impl Tool {
    /// Describe `plugin` (a tool) and compile its schema.
    pub async fn describe(plugin: &Plugin) -> Result<Tool, ToolError> {
        let name = plugin.name().to_string();
        let described = Described::of(plugin).await?;
        let schema = described.compile(&name)?;
        let grants = plugin.grants();
        Ok(Tool {
            read_only: grants.writes().is_empty() && !grants.has_read_write(),
            open_world: !plugin.manifest().grants.network.is_empty(),
            plugin: plugin.clone(),
            name,
            title: described.title,
            summary: described.summary,
            input_schema: described.input_schema,
            schema,
        })
    }

    /// Check `arguments` against the input schema: `Err` names every
    /// offending field (by JSON pointer, `/` for the whole object) and why.
    pub fn check(&self, arguments: &serde_json::Value) -> Result<(), String> {
        let problems: Vec<String> = self
            .schema
            .problems(arguments)
            .into_iter()
            .map(|p| {
                let at = if p.pointer.is_empty() {
                    "/".to_string()
                } else {
                    p.pointer
                };
                format!("`{}`: {}", inert(&at), inert(&p.message))
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the arguments do not match the input schema of `{}`: {}",
            inert(&self.name),
            problems.join("; ")
        ))
    }
}

/// Describe every tool plugin of `plugins` (reviewers are skipped).
pub async fn describe_all(plugins: &Plugins) -> Result<Tools, ToolError> {
    let mut tools = Tools::new();
    for plugin in plugins.values().filter(|p| p.kind() == PluginKind::Tool) {
        let tool = Tool::describe(plugin).await?;
        tools.insert(tool.name.clone(), tool);
    }
    Ok(tools)
}
