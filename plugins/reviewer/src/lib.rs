//! `reviewer`: deterministic checks of a run's proposed writes.
//!
//! No model is asked anything: the checks in [`checks`] look for missing
//! report sections, uncited or dangling citations, sources that no search hit
//! backs, and credentials in any proposed file. The verdict is a typed enum,
//! so it cannot be misread.

mod checks;

use harness_sdk::{Descriptor, PluginError, Review, ReviewInput, Reviewer};
use serde_json::json;

struct CitationReviewer;

impl Reviewer for CitationReviewer {
    fn describe() -> Descriptor {
        Descriptor::new(
            "reviewer",
            "Checks reports for required sections and citations backed by search hits, and every write for secrets.",
        )
        .input_schema(json!({"type": "object"}))
    }

    fn review(input: ReviewInput) -> Result<Review, PluginError> {
        let search: Option<checks::SearchOutput> = input.output_with("hits")?;
        if search.is_none() {
            harness_sdk::log::warn("no step output has `hits`; sources cannot be verified");
        }
        let review = checks::review(&input.writes, search.as_ref());
        harness_sdk::log::review(&review, input.writes.len());
        Ok(review)
    }
}

harness_sdk::export_reviewer!(CitationReviewer);
