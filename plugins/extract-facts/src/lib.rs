//! `extract-facts`: turns search hits into short, cited, topical sentences.
//!
//! Reads the output of the step that produced `hits` (whatever its id), splits
//! each snippet into sentences, keeps those that mention the topic and ranks
//! them. The logic lives in [`facts`]; this file adapts it to the contract.

mod facts;

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
use serde::Deserialize;
use serde_json::json;

/// The step input. Unknown keys are allowed: the host merges every run
/// parameter into every step's input.
#[derive(Deserialize)]
struct Input {
    topic: String,
    #[serde(default = "default_max_facts")]
    max_facts: usize,
}

fn default_max_facts() -> usize {
    12
}

/// The most facts a step may ask for.
const MAX_FACTS: usize = 200;

struct ExtractFacts;

impl Tool for ExtractFacts {
    fn describe() -> Descriptor {
        Descriptor::new(
            "extract-facts",
            "Picks the sentences of the search hits that mention the topic, with their source lines.",
        )
        .input_schema(json!({
            "type": "object",
            "required": ["topic"],
            "properties": {
                "topic": {"type": "string", "minLength": 1},
                "max_facts": {"type": "integer", "minimum": 1, "maximum": MAX_FACTS, "default": 12}
            }
        }))
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let params: Input = input.parse()?;
        if params.max_facts == 0 || params.max_facts > MAX_FACTS {
            return Err(PluginError::invalid_input(format!(
                "`max_facts` is {}; give a number from 1 to {MAX_FACTS}",
                params.max_facts
            )));
        }
        let search: facts::SearchOutput = input.need_with("hits")?;
        let topic = harness_sdk::text::distinct_tokens(&params.topic);
        let facts = facts::extract(&search.hits, &topic, params.max_facts);
        harness_sdk::log::info(&format!(
            "{} facts from {} hits",
            facts.len(),
            search.hits.len()
        ));
        ToolOutput::json(&json!({ "topic": params.topic, "facts": facts }))
    }
}

harness_sdk::export_tool!(ExtractFacts);
