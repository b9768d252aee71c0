//! A reviewer whose verdict the proposed writes script: the first line
//! `verdict: pass|revise|reject` found in any proposed file decides (pass if
//! there is none). Lets the tests drive every branch after the review.

use harness_sdk::{
    Descriptor, Finding, PluginError, Review, ReviewInput, Reviewer, Severity, Verdict,
};

struct ScriptedReviewer;

impl Reviewer for ScriptedReviewer {
    fn describe() -> Descriptor {
        Descriptor::new(
            "scripted-reviewer",
            "Returns the verdict the draft asks for (tests only).",
        )
    }

    fn review(input: ReviewInput) -> Result<Review, PluginError> {
        let asked = input
            .writes
            .iter()
            .flat_map(|w| {
                String::from_utf8_lossy(&w.contents)
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .find_map(|line| line.strip_prefix("verdict: ").map(str::to_string));
        let (verdict, findings) = match asked.as_deref() {
            Some("revise") => (
                Verdict::Revise,
                vec![
                    Finding::new(Severity::Warning, "the draft asks for a revision")
                        .at("drafts/draft.md"),
                ],
            ),
            Some("reject") => (
                Verdict::Reject,
                vec![Finding::new(
                    Severity::Error,
                    "the draft asks to be rejected",
                )],
            ),
            _ => (Verdict::Pass, Vec::new()),
        };
        Ok(Review::new(
            verdict,
            findings,
            format!("scripted verdict {verdict:?}"),
        ))
    }
}

harness_sdk::export_reviewer!(ScriptedReviewer);
