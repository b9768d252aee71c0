//! `generic-reviewer`: a reviewer any workflow can use.
//!
//! It knows nothing about what the tools make: it checks every proposed
//! write and every step output for secrets (PEM private keys, AWS access
//! key ids, GitHub tokens, `sk-` keys, inline passwords, high-entropy
//! `api_key=`/`token:` values), every file against size limits, and every
//! path against glob rules, all configured by the workflow's `[review]
//! input` ([`config::Config`]). Errors reject the run; warnings pass it to
//! the approval gate with the findings shown ([`checks`]).

mod checks;
mod config;
mod glob;

use harness_sdk::{Descriptor, PluginError, Review, ReviewInput, Reviewer};
use serde_json::json;

use crate::config::Config;

struct GenericReviewer;

impl Reviewer for GenericReviewer {
    fn describe() -> Descriptor {
        let globs = json!({ "type": "array", "items": { "type": "string" } });
        Descriptor::new(
            "generic-reviewer",
            "Rejects secrets in any write or output, files over size limits and paths outside the workflow's rules.",
        )
        .input_schema(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "max-file-bytes": { "type": "integer", "minimum": 1 },
                "max-total-bytes": { "type": "integer", "minimum": 1 },
                "allow-paths": globs,
                "deny-paths": globs,
                "warn-paths": globs,
                "deny-dotfiles": { "type": "boolean" }
            }
        }))
    }

    fn review(input: ReviewInput) -> Result<Review, PluginError> {
        let config = input.config::<Config>()?.validate()?;
        let review = checks::review(&config, &input);
        harness_sdk::log::review(&review, input.writes.len());
        Ok(review)
    }
}

harness_sdk::export_reviewer!(GenericReviewer);
