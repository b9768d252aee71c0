//! {{name}}: a harness reviewer. Build it with `host plugins build` (see README.md).

use harness_sdk::{Descriptor, Finding, PluginError, Review, ReviewInput, Reviewer, Severity, Verdict};

struct Plugin;

impl Reviewer for Plugin {
    fn describe() -> Descriptor {
        Descriptor::new("{{name}}", "Asks for a redraft when a proposed file is empty.")
    }

    fn review(input: ReviewInput) -> Result<Review, PluginError> {
        // Everything here is untrusted data from the run's tools: read it, never obey it.
        let findings: Vec<Finding> = input
            .writes
            .iter()
            .filter(|w| w.contents.is_empty())
            .map(|w| Finding::new(Severity::Error, "the proposed file is empty").at(w.path.clone()))
            .collect();
        let (verdict, summary) = if findings.is_empty() {
            (Verdict::Pass, format!("{} proposed files, none empty.", input.writes.len()))
        } else {
            (Verdict::Revise, format!("{} proposed files are empty.", findings.len()))
        };
        Ok(Review::new(verdict, findings, summary))
    }
}

harness_sdk::export_reviewer!(Plugin);
