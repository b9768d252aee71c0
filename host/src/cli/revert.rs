//! `host revert`: propose a run that undoes an applied run's writes.

use std::process::ExitCode;

use crate::cli::{Context, output, present};
use crate::render::inert;
use crate::run::revert;

/// Propose a new run that undoes an applied run's writes.
///
/// Its change set restores every file the run replaced or deleted to its
/// base bytes and deletes every file it created; a file that changed since
/// the apply is left alone (and listed). Nothing is written until a person
/// approves the new run (`host approve NEW-RUN`); both journals name each
/// other.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The applied run to revert (see `host runs`).
    run: String,

    /// Who asks for the revert [default: the OS account].
    #[arg(long = "as", value_name = "NAME")]
    by: Option<String>,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let by = Context::approver(args.by);
    let proposed = revert::propose(&ctx.store(), &args.run, &by)?;
    let run = &proposed.run;
    let mut out = format!(
        "run {} proposes to revert run {}\n",
        inert(run.id()),
        inert(&args.run)
    );
    out.push_str(&present::summary(run.state()));
    let diffs = present::diffs(run.state(), run.blobs());
    if !diffs.is_empty() {
        out.push('\n');
        out.push_str(&diffs);
    }
    out.push_str(&present::next_steps(run.state()));
    output::print(&out)?;
    Ok(ExitCode::SUCCESS)
}
