//! A tool whose `invoke` panics with `trapper: deliberate panic`; in wasm the
//! panic becomes a trap, which the host must contain and report.

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};

struct Trapper;

impl Tool for Trapper {
    fn describe() -> Descriptor {
        Descriptor::new("trapper", "Panics on every invocation.")
    }

    fn invoke(_input: StepInput) -> Result<ToolOutput, PluginError> {
        panic!("trapper: deliberate panic");
    }
}

harness_sdk::export_tool!(Trapper);
