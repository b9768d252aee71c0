//! `draft-report`: writes the extracted facts up as a cited Markdown report.
//!
//! The report is proposed as `reports/<slug>.md`; the host writes it only
//! after a person approves. Rendering lives in [`report`].

mod report;

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
use serde::Deserialize;
use serde_json::json;

/// The step input. Unknown keys are allowed: the host merges every run
/// parameter into every step's input.
#[derive(Deserialize)]
struct Input {
    topic: String,
}

struct DraftReport;

impl Tool for DraftReport {
    fn describe() -> Descriptor {
        Descriptor::new(
            "draft-report",
            "Drafts a Markdown report from extracted facts, citing each source line, and proposes reports/<topic>.md.",
        )
        .input_schema(json!({
            "type": "object",
            "required": ["topic"],
            "properties": { "topic": {"type": "string", "minLength": 1} }
        }))
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let params: Input = input.parse()?;
        let facts: report::FactsOutput = input.need_with("facts")?;
        let draft = report::render(&params.topic, &facts.facts);
        let path = format!("reports/{}.md", report::slug(&params.topic));
        harness_sdk::log::info(&format!(
            "drafted {path}: {} facts, {} sources",
            facts.facts.len(),
            draft.sources
        ));
        Ok(ToolOutput::json(&json!({
            "path": path,
            "facts": facts.facts.len(),
            "sources": draft.sources,
        }))?
        .propose_write(path, draft.markdown))
    }
}

harness_sdk::export_tool!(DraftReport);
