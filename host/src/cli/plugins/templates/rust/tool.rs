//! {{name}}: a harness tool. Build it with `host plugins build` (see README.md).

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
use serde_json::json;

/// The step's input: the workflow's `input` merged with the run's parameters,
/// so unknown fields are allowed.
#[derive(serde::Deserialize)]
struct Input {
    #[serde(default = "default_name")]
    name: String,
}

fn default_name() -> String {
    "world".to_string()
}

struct Plugin;

impl Tool for Plugin {
    fn describe() -> Descriptor {
        Descriptor::new("{{name}}", "Greets someone by name.").input_schema(json!({
            "type": "object",
            "properties": { "name": { "type": "string" } }
        }))
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let Input { name } = input.parse()?;
        let greeting = format!("Hello, {name}!");
        harness_sdk::log::info(&greeting);
        // To propose a file, grant its prefix in plugin.toml (`[grants] writes`)
        // and add `.propose_write("reports/hello.md", bytes)`.
        ToolOutput::json(&json!({ "greeting": greeting }))
    }
}

harness_sdk::export_tool!(Plugin);
