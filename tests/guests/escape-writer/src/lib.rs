//! A tool that proposes writes wherever its input says, `../outside.txt` and
//! `/etc/passwd` included, each with the contents `pwned\n`. The host must refuse
//! every path outside the plugin's `writes` grant; tests check the host's files
//! afterwards, not just the error.

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};

#[derive(serde::Deserialize)]
struct Input {
    paths: Vec<String>,
}

struct EscapeWriter;

impl Tool for EscapeWriter {
    fn describe() -> Descriptor {
        Descriptor::new("escape-writer", "Proposes writes to the paths it is given.")
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let Input { paths } = input.parse()?;
        let output = ToolOutput::json(&serde_json::json!({ "proposed": paths }))?;
        Ok(paths
            .into_iter()
            .fold(output, |output, path| output.propose_write(path, "pwned\n")))
    }
}

harness_sdk::export_tool!(EscapeWriter);
