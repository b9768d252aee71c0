//! `search`: ranks the paragraphs of the mounted workspace against a topic.
//!
//! The workspace arrives as a read-only WASI preopen at `/workspace` (granted
//! in `plugin.toml`); nothing else of the host's file system is visible. Text
//! files are split into passages and ranked with BM25. The ranking lives in
//! [`corpus`] and [`rank`], plain functions with unit tests; this file only
//! adapts them to the plugin contract.

mod corpus;
mod rank;

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
use serde::Deserialize;
use serde_json::json;

/// The step input. Unknown keys are allowed: the host merges every run
/// parameter into every step's input.
#[derive(Deserialize)]
struct Input {
    topic: String,
    #[serde(default = "default_limit")]
    limit: usize,
    #[serde(default = "default_root")]
    root: String,
}

fn default_limit() -> usize {
    8
}

fn default_root() -> String {
    "/workspace".to_string()
}

/// The most hits a step may ask for; bounds the output the host must store.
const MAX_LIMIT: usize = 100;

struct Search;

impl Tool for Search {
    fn describe() -> Descriptor {
        Descriptor::new(
            "search",
            "Ranks the paragraphs of the workspace's .md and .txt files against a topic (BM25).",
        )
        .input_schema(json!({
            "type": "object",
            "required": ["topic"],
            "properties": {
                "topic": {"type": "string", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 8},
                "root": {"type": "string", "default": "/workspace"}
            }
        }))
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let input: Input = input.parse()?;
        if input.limit == 0 || input.limit > MAX_LIMIT {
            return Err(PluginError::invalid_input(format!(
                "`limit` is {}; give a number from 1 to {MAX_LIMIT}",
                input.limit
            )));
        }
        let query = harness_sdk::text::distinct_tokens(&input.topic);
        if query.is_empty() {
            return Err(PluginError::invalid_input(format!(
                "the topic `{}` has no searchable words (only punctuation or stop words)",
                input.topic
            )));
        }
        let corpus = corpus::load(std::path::Path::new(&input.root))?;
        let hits = rank::bm25(&corpus.passages, &query, input.limit);
        harness_sdk::log::info(&format!(
            "scanned {} files ({} skipped, {} earlier reports left out), {} passages; {} hits for {:?}",
            corpus.files,
            corpus.skipped,
            corpus.reports,
            corpus.passages.len(),
            hits.len(),
            query
        ));
        ToolOutput::json(&json!({ "topic": input.topic, "hits": hits }))
    }
}

harness_sdk::export_tool!(Search);
