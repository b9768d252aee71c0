//! What a run does once its review has a verdict: one decision, [`decide`],
//! which the executor follows ([`crate::run::executor`]) and `host workflow`
//! enumerates ([`outcomes`], drawn by [`crate::workflow_export`]), so the
//! graph a person reads is the one that runs. A workflow without `[review]`
//! never gets here: its run goes from the steps straight to the gate.

use strum::IntoEnumIterator as _;

use crate::contract::Verdict;
use crate::workflow::Workflow;

/// Where a reviewed run goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Re-run `steps` (the re-draft step and everything downstream of it)
    /// with the review as input, as re-draft `round`.
    Redraft {
        /// The re-draft round that starts (1 for the first).
        round: u32,
        /// Ids of the steps that run again, in execution order.
        steps: Vec<String>,
    },
    /// To the approval gate (which a run with nothing to write passes
    /// straight to `completed`).
    Approval,
    /// The reviewer rejected the result: nothing is written.
    Rejected,
}

/// The decision after a review with `verdict`, `rounds_done` re-drafts into
/// the run.
pub fn decide(workflow: &Workflow, verdict: Verdict, rounds_done: u32) -> Next {
    match verdict {
        Verdict::Reject => Next::Rejected,
        Verdict::Pass => Next::Approval,
        Verdict::Revise => match workflow.redraft() {
            Some(redraft) if rounds_done < redraft.max_rounds => Next::Redraft {
                round: rounds_done + 1,
                steps: workflow.downstream_of(&redraft.step),
            },
            _ => Next::Approval,
        },
    }
}

/// Every transition [`decide`] can take for `workflow`, labelled for a
/// person: each verdict, and for `revise` both before and after the last
/// re-draft round. None for a workflow without a reviewer.
pub fn outcomes(workflow: &Workflow) -> Vec<(String, Next)> {
    if workflow.review.is_none() {
        return Vec::new();
    }
    let max_rounds = workflow.redraft().map(|r| r.max_rounds);
    let mut out = Vec::new();
    for verdict in Verdict::iter() {
        let rounds: &[u32] = match (verdict, max_rounds) {
            (Verdict::Revise, Some(max)) => &[0, max],
            _ => &[0],
        };
        for &done in rounds {
            let next = decide(workflow, verdict, done);
            let label = match (&next, max_rounds) {
                (Next::Redraft { .. }, Some(max)) => format!("{verdict} (up to {max} re-drafts)"),
                (Next::Approval, Some(max)) if verdict == Verdict::Revise => {
                    format!("{verdict} (after {max} re-drafts)")
                }
                _ => verdict.to_string(),
            };
            out.push((label, next));
        }
    }
    out
}
