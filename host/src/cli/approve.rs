//! `host approve`: apply exactly the approved bytes of a waiting run.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{Context, output, present};
use crate::render::inert;
use crate::run::approval;

/// Approve a waiting run and write exactly its staged bytes.
///
/// The diff is shown first and a
/// confirmation asked unless --yes. Every staged byte and every target's
/// current content are re-verified against the change-set digest the run
/// requested approval for; on any mismatch nothing is written.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `host runs`).
    run: String,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,

    /// Approve only if the change set has this digest (or a prefix of at
    /// least 8 hex digits), as shown by `host show`.
    #[arg(long)]
    digest: Option<String>,

    /// Who is approving [default: $USER].
    #[arg(long = "as", value_name = "NAME")]
    approver: Option<String>,

    /// Why (recorded in the journal).
    #[arg(long)]
    reason: Option<String>,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut run = ctx.store().open(&args.run)?;
    let pending = approval::pending(&run)?;
    let state = run.state();
    // The person decides on what was printed: every diff is written and
    // flushed before anything is recorded, and a print that fails (a full
    // disk, a reader that went away) approves nothing.
    let mut shown = present::summary(state);
    shown.push('\n');
    for w in &pending.writes {
        let staged = w
            .entry
            .new_sha256
            .as_ref()
            .map(|sha| run.dir().join(run.blobs().relative_path(sha)));
        shown.push_str(&present::change_diff(
            state,
            &w.entry.path,
            w.base.bytes(),
            w.bytes.as_deref(),
            staged.as_deref(),
        ));
    }
    output::print(&shown)?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to approve run `{}` without confirmation\nhint: read the diff above, then pass --yes",
                inert(run.id())
            );
        }
        output::print(&format!(
            "\nwrite {} file(s) to {}? [y/N] ",
            pending.writes.len(),
            inert(&state.out_dir.display().to_string())
        ))?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            output::line("not approved; nothing was written")?;
            return Ok(ExitCode::from(crate::cli::EXIT_FAILURE));
        }
    }
    let approver = Context::approver(args.approver);
    // `approve` verifies everything again: the files may have changed while
    // the person was reading the diff.
    let written = approval::approve(&mut run, &approver, args.reason, args.digest.as_deref())?;
    let mut done = format!(
        "\nrun {} approved by {}\n",
        inert(run.id()),
        inert(&approver)
    );
    for path in &written {
        done.push_str(&format!(
            "wrote {}\n",
            inert(&run.state().out_dir.join(path).display().to_string())
        ));
    }
    output::print(&done)?;
    Ok(ExitCode::SUCCESS)
}
