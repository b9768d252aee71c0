//! `host approve`: apply exactly the approved bytes of a waiting run.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::{Context, output, pager, present};
use crate::render::inert;
use crate::run::amend::Amendment;
use crate::run::apply::ApplyError;
use crate::run::approval::{self, ApprovalError};

/// Approve a waiting run and write exactly its staged bytes.
///
/// The diff is shown first (through `$PAGER` on a terminal, see `host
/// show`) and a confirmation asked unless --yes. Every staged byte and every target's
/// current content are re-verified against the change-set digest the run
/// requested approval for; on any mismatch nothing is written.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,

    /// Approve only if the change set has this digest (or a prefix of at
    /// least 16 hex digits), as shown by `host show`.
    #[arg(long)]
    digest: Option<String>,

    /// Who is approving [default: $USER].
    #[arg(long = "as", value_name = "NAME")]
    approver: Option<String>,

    /// Why (recorded in the journal).
    #[arg(long)]
    reason: Option<String>,

    /// Approve only these files of the change set (paths as `host show`
    /// prints them); the others are not written. The subset is a new change
    /// set with its own digest, journaled before it is approved.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    only: Vec<String>,

    /// Write the bytes of FILE (a file of yours) at PATH instead of the
    /// proposed ones; PATH must be in the change set. Repeatable. Like
    /// --only, an edit is a new change set journaled before it is approved.
    #[arg(long, value_name = "PATH=FILE", value_parser = parse_edit)]
    edit: Vec<(String, std::path::PathBuf)>,

    /// Print the diff directly, never through `$PAGER`.
    #[arg(long)]
    no_pager: bool,
}

fn parse_edit(arg: &str) -> Result<(String, std::path::PathBuf), String> {
    match arg.split_once('=') {
        Some((path, file)) if !path.is_empty() && !file.is_empty() => {
            Ok((path.to_string(), std::path::PathBuf::from(file)))
        }
        _ => Err(format!(
            "`{}` is not PATH=FILE (the change set's path, then the file holding the bytes to write)",
            inert(arg)
        )),
    }
}

/// The person's amendment from `--only` and `--edit`.
fn amendment(args: &Args) -> anyhow::Result<Amendment> {
    let mut edits = Vec::with_capacity(args.edit.len());
    for (path, file) in &args.edit {
        let bytes = std::fs::read(file).with_context(|| {
            format!(
                "cannot read `{}`, the edited bytes for `{}`",
                inert(&file.display().to_string()),
                inert(path)
            )
        })?;
        edits.push((path.clone(), bytes));
    }
    Ok(Amendment {
        only: (!args.only.is_empty()).then(|| args.only.clone()),
        edits,
    })
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut run = ctx.store().open_patiently(&args.run)?;
    // A wrong `--digest` is refused before any diff is printed.
    if let Some(digest) = args.digest.as_deref() {
        approval::check_digest(&run, digest)?;
    }
    let amendment = amendment(&args)?;
    let (amended, pending) = if amendment.is_empty() {
        (
            None,
            approval::pending(&run).map_err(|e| explained(ctx, &run, e))?,
        )
    } else {
        let (amended, pending) =
            approval::amendment(&run, &amendment).map_err(|e| explained(ctx, &run, e))?;
        (Some(amended), pending)
    };
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
            .and_then(|sha| run.blobs().location(sha));
        shown.push_str(&present::change_diff(
            state,
            &w.entry.path,
            w.base.bytes(),
            w.bytes.as_deref(),
            staged.as_deref(),
        ));
    }
    if let Some(amended) = &amended {
        shown.push_str(&present::amendment(amended));
    }
    pager::show(&shown, !args.no_pager)?;
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
    let decided = match amended {
        Some(amended) => approval::approve_amended(
            &mut run,
            &approver,
            args.reason,
            args.digest.as_deref(),
            amended,
        ),
        None => approval::approve(&mut run, &approver, args.reason, args.digest.as_deref()),
    };
    let written = decided.map_err(|e| explained(ctx, &run, e))?;
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

/// A refusal because a file changed under the run also says which run's
/// approval changed it, when one did, and offers the way on.
fn explained(ctx: &Context, run: &crate::run::store::Run, e: ApprovalError) -> anyhow::Error {
    let ApprovalError::Refused(ApplyError::BaseChanged { path, found, .. }) = &e else {
        return e.into();
    };
    let Some((other, approver)) = approval::last_writer(&ctx.store(), run.state(), path, found)
    else {
        return e.into();
    };
    let context = format!(
        "run {} (approved by {}) wrote `{}` after run {} staged its change\nhint: start a new run so the change is proposed against the current file (`host run` with the same --topic or parameters), then `host reject {} --reason superseded`",
        inert(&other),
        inert(&approver),
        inert(path),
        inert(run.id()),
        inert(run.id())
    );
    anyhow::Error::new(e).context(context)
}
