//! The decisions a console form sends, turned into calls of the library's
//! one decision path ([`crate::run::approval`], [`crate::run::revert`]):
//! nothing here writes a file or a journal record itself.
//!
//! An approval names the change-set digest the page showed; ticking off
//! files or editing a file's text makes it an amendment
//! ([`crate::run::amend`]), journaled as the logged-in person's act before
//! the approval of its own digest.

use crate::render::inert;
use crate::run::amend::Amendment;
use crate::run::approval::{self, ApprovalError};
use crate::run::revert::{self, RevertError};
use crate::run::store::{RunError, RunStore};

/// A submitted form: its fields in order (a name may repeat).
pub type Form = Vec<(String, String)>;

/// Why a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The submitted form lacks a field the decision needs, or holds a bad one.
    #[error("the form is incomplete: {what}\nhint: reload the run's page and decide again")]
    Form {
        /// What is wrong with the form.
        what: String,
    },
    /// A rejection was submitted without a reason.
    #[error("a rejection needs a reason\nhint: say why in the reason field; it is journaled")]
    NoReason,
    /// The run has no change set to decide on.
    #[error(
        "run `{}` has no change set to decide on\nhint: reload the run's page",
        inert(id)
    )]
    NoChangeSet {
        /// The run's id.
        id: String,
    },
    /// The approval or rejection was refused, or the apply failed.
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// No revert could be proposed.
    #[error(transparent)]
    Revert(#[from] RevertError),
    /// The run could not be opened or recorded.
    #[error(transparent)]
    Run(#[from] RunError),
}

fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn indices(form: &Form, name: &str) -> Result<Vec<usize>, DecideError> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| {
            v.parse().map_err(|_| DecideError::Form {
                what: format!("`{}` is not a file number", inert(v)),
            })
        })
        .collect()
}

/// Approve run `id` as `who`, as the form says: the whole change set, or
/// the ticked files, with any edited text. Returns the paths written.
pub fn approve(
    store: &RunStore,
    id: &str,
    who: &str,
    form: &Form,
) -> Result<Vec<String>, DecideError> {
    let digest = field(form, "digest")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| DecideError::Form {
            what: "no change-set digest".into(),
        })?;
    let reason = field(form, "reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let mut run = store.open_patiently(id)?;
    let entries = run
        .state()
        .change_set
        .as_ref()
        .map(|cs| cs.entries.clone())
        .ok_or_else(|| DecideError::NoChangeSet { id: id.to_string() })?;
    let path_of = |i: usize| {
        entries
            .get(i)
            .map(|e| e.path.clone())
            .ok_or_else(|| DecideError::Form {
                what: format!("there is no file number {i}"),
            })
    };
    let kept = indices(form, "file")?;
    let only = if kept.len() == entries.len() && (0..entries.len()).all(|i| kept.contains(&i)) {
        None
    } else {
        Some(
            kept.iter()
                .map(|&i| path_of(i))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let mut edits = Vec::new();
    for i in indices(form, "edit")? {
        let path = path_of(i)?;
        // Left out and edited at once: the page's two boxes disagree (the
        // edit box hides in a folded section), so which the person meant
        // is not known; neither is guessed.
        if !kept.contains(&i) {
            return Err(DecideError::Form {
                what: format!(
                    "`{}` is left out (\"write this file\" unticked) but \"write my edited text instead\" is ticked; tick the file to write your text, or untick the edit to leave it out",
                    inert(&path)
                ),
            });
        }
        let text = field(form, &format!("text{i}")).ok_or_else(|| DecideError::Form {
            what: format!("the edited text of `{}` is missing", inert(&path)),
        })?;
        let staged = entries
            .get(i)
            .and_then(|e| e.new_sha256.as_ref())
            .and_then(|sha| run.blobs().get(sha).ok())
            .unwrap_or_default();
        edits.push((path, browser_text(text, &staged)));
    }
    let amendment = Amendment { only, edits };
    if amendment.is_empty() {
        return Ok(approval::approve(&mut run, who, reason, Some(digest))?);
    }
    let (amended, _) = approval::amendment(&run, &amendment)?;
    Ok(approval::approve_amended(
        &mut run,
        who,
        reason,
        Some(digest),
        amended,
    )?)
}

/// A textarea's text as bytes: browsers submit every line break as CRLF,
/// so a file whose staged bytes hold no CR gets its LF line breaks back.
fn browser_text(text: &str, staged: &[u8]) -> Vec<u8> {
    if staged.contains(&b'\r') {
        text.as_bytes().to_vec()
    } else {
        text.replace("\r\n", "\n").into_bytes()
    }
}

/// Reject run `id` as `who`, with the form's (required) reason.
pub fn reject(store: &RunStore, id: &str, who: &str, form: &Form) -> Result<(), DecideError> {
    let reason = field(form, "reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or(DecideError::NoReason)?;
    let mut run = store.open_patiently(id)?;
    approval::reject(&mut run, who, reason)?;
    Ok(())
}

/// Propose a revert of applied run `id`, asked for by `who`. Returns the
/// new run's id.
pub fn revert(store: &RunStore, id: &str, who: &str) -> Result<String, DecideError> {
    let proposed = revert::propose(store, id, who)?;
    Ok(proposed.run.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_from_a_textarea_becomes_lf_unless_the_file_used_cr() {
        assert_eq!(browser_text("a\r\nb\r\n", b"x\ny\n"), b"a\nb\n");
        assert_eq!(browser_text("a\r\nb", b"x\r\ny"), b"a\r\nb");
    }
}
