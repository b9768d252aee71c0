//! The smallest useful tool: greets someone and proposes a file with the greeting.

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
use serde_json::json;

#[derive(serde::Deserialize)]
struct Input {
    name: String,
}

struct Hello;

impl Tool for Hello {
    fn describe() -> Descriptor {
        Descriptor::new("hello-tool", "Greets someone by name.").input_schema(json!({
            "type": "object",
            "properties": { "name": { "type": "string", "description": "Who to greet" } },
            "required": ["name"],
        }))
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let Input { name } = input.parse()?;
        let greeting = format!("Hello, {name}!");
        harness_sdk::log::info(&greeting);
        // Only [a-z0-9-] reaches the path, so the name cannot steer where the file goes.
        let lower = name
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let stem = Some(lower.trim_matches('-')).filter(|s| !s.is_empty());
        let path = format!("hello/{}.txt", stem.unwrap_or("anonymous"));
        Ok(ToolOutput::json(&json!({ "greeting": greeting }))?.propose_write(path, greeting))
    }
}

harness_sdk::export_tool!(Hello);
