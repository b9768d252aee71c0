//! A tool that sleeps for an hour inside a host call (WASI `poll`), burning no
//! guest CPU, so only the host's wall-clock timeout can stop it.

use std::time::Duration;

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};

struct Sleeper;

impl Tool for Sleeper {
    fn describe() -> Descriptor {
        Descriptor::new("sleeper", "Sleeps for an hour.")
    }

    fn invoke(_input: StepInput) -> Result<ToolOutput, PluginError> {
        std::thread::sleep(Duration::from_secs(3600));
        ToolOutput::json(&serde_json::json!({ "slept": true }))
    }
}

harness_sdk::export_tool!(Sleeper);
