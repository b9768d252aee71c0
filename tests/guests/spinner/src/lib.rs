//! A tool whose `invoke` spins forever without calling the host, so only the
//! host's CPU limit (fuel or epoch interruption) can stop it.

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};

struct Spinner;

impl Tool for Spinner {
    fn describe() -> Descriptor {
        Descriptor::new("spinner", "Loops forever.")
    }

    fn invoke(_input: StepInput) -> Result<ToolOutput, PluginError> {
        let mut turns: u64 = 0;
        // `black_box` keeps the optimiser from proving the loop has no effect.
        loop {
            turns = std::hint::black_box(turns.wrapping_add(1));
        }
    }
}

harness_sdk::export_tool!(Spinner);
