//! A reviewer that always passes. Tests load it where a tool is expected, to
//! prove the host checks which world a component targets before running it.

use harness_sdk::{Descriptor, PluginError, Review, ReviewInput, Reviewer, Verdict};

struct WrongKind;

impl Reviewer for WrongKind {
    fn describe() -> Descriptor {
        Descriptor::new("wrong-kind", "A reviewer that always passes.")
    }

    fn review(_input: ReviewInput) -> Result<Review, PluginError> {
        Ok(Review::new(Verdict::Pass, Vec::new(), "Always passes."))
    }
}

harness_sdk::export_reviewer!(WrongKind);
