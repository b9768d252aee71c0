//! `host reject`: end a waiting run without writing anything.

use std::process::ExitCode;

use crate::cli::{Context, output};
use crate::render::inert;
use crate::run::approval;

/// Reject a waiting run; nothing is written.
///
/// Nothing is written; the run ends rejected,
/// with who rejected it and why in its journal.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,

    /// Why the change is rejected (recorded in the journal).
    #[arg(long)]
    reason: String,

    /// Who is rejecting [default: $USER].
    #[arg(long = "as", value_name = "NAME")]
    approver: Option<String>,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut run = ctx.store().open_patiently(&args.run)?;
    let approver = Context::approver(args.approver);
    approval::reject(&mut run, &approver, &args.reason)?;
    output::line(&format!(
        "run {} rejected by {}; nothing was written",
        inert(run.id()),
        inert(&approver)
    ))?;
    Ok(ExitCode::SUCCESS)
}
