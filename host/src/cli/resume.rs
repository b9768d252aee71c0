//! `host resume`: continue a run from its journal after the host stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{Context, output, present, progress};
use crate::folder;
use crate::render::inert;
use crate::run::resume::{self, Plan};
use crate::run::{approval, executor};

/// Continue a run that was interrupted (or, with --failed, one that failed).
///
/// Steps with a recorded output are not re-run; a step that started but did
/// not finish runs again. A run cut short while applying approved writes
/// finishes them: writes already journaled are skipped and a file that
/// already holds exactly the approved bytes is not written again. The
/// workflow and plugins must be the ones the run started with (checked by
/// digest). So must the authority it runs under: if a plugin's effective
/// grants (its manifest's request within the folder's grants.toml) changed
/// since the run started, resume refuses and says what changed, unless
/// --accept-grant-changes is given; then each change is journaled
/// (`grants_changed`) before the run continues. (Finishing an approved apply
/// runs no plugin: it writes the bytes a person approved, and checks no
/// grants.) Only one process can resume a run at a time.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host resume r20261123-104501-1a2b3c\n  host resume r20261123-104501-1a2b3c --failed   re-run a failed step after fixing its cause\n  host resume latest --failed --accept-rebuilt   ... when the fix was rebuilding the plugin\n  host resume r20261123-104501-1a2b3c --accept-grant-changes   continue under grants edited since the run started"
)]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,

    /// Also resume a run that failed: re-run the failed step (or retry the
    /// failed apply) and what follows. Without it, a failed run is left alone
    /// and the command says what it would re-run.
    #[arg(long)]
    failed: bool,

    /// Plugins folder to reload from [default: the one the run started with].
    #[arg(long)]
    plugins: Option<PathBuf>,

    /// With --failed: re-run the failed steps with plugins rebuilt since the
    /// run started (the usual fix); the old and new digests are journaled.
    /// A waiting or completed run never changes plugins.
    #[arg(long, requires = "failed")]
    accept_rebuilt: bool,

    /// Continue even if a plugin's effective grants changed since the run
    /// started; each change is journaled as `grants_changed`, with who
    /// accepted it.
    #[arg(long)]
    accept_grant_changes: bool,

    /// Print the run's state as JSON on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut run = ctx.store().open_patiently(&args.run)?;
    let by = Context::approver(None);
    // Finishing an apply needs no plugins; everything else reloads them (and
    // checks they are unchanged) before the plan is final.
    if let Plan::FinishApply { remaining } = resume::plan(run.state(), None, true)? {
        let plan = resume::plan(run.state(), None, args.failed)?;
        output::note(&format!(
            "run {}: finishing the approved apply ({} write(s) not yet recorded)",
            inert(run.id()),
            remaining.len()
        ));
        resume::begin(&mut run, &by, &plan, Vec::new())?;
        let written = approval::apply_approved(&mut run)?;
        for path in &written {
            output::note(&format!(
                "applied {}",
                inert(&run.state().out_dir.join(path).display().to_string())
            ));
        }
        return present::outcome(&run, args.json);
    }

    // A session run has no steps to resume: one left running (its server
    // was stopped before it could record its end) is closed.
    if run.state().workflow == folder::SESSION_WORKFLOW {
        if crate::mcp::session::close_idle(&mut run)? {
            output::note(&format!(
                "session run {}: nothing pending; recorded completed (a server still serving it goes on recording its calls)",
                inert(run.id())
            ));
        }
        return present::outcome(&run, args.json);
    }
    // A revert cut short before it was proposed (a kill while its restore
    // bytes were stored) runs no step and has nothing to apply: it is
    // recorded failed, so it can be pruned, and the revert proposed again.
    if run.state().status == crate::run::state::RunStatus::Running
        && run.state().change_set.is_none()
        && let Some(of) = run.state().params["revert_of"].as_str().map(str::to_string)
    {
        run.record(crate::run::event::Event::RunFailed {
            step: None,
            reason: format!(
                "the revert of run `{}` was cut short before it was proposed; nothing was written",
                inert(&of)
            ),
        })?;
        output::note(&format!(
            "run {}: a revert cut short before it was proposed; recorded failed (nothing was written)\nhint: `host revert {}` proposes the revert again",
            inert(run.id()),
            inert(&of)
        ));
        return present::outcome(&run, args.json);
    }
    let state = run.state();
    let Some(plugins_dir) = args.plugins.clone().or_else(|| state.plugins_dir.clone()) else {
        bail!(
            "run `{}` does not record its plugins folder\nhint: pass --plugins <dir> (the folder it was started with)",
            inert(run.id())
        );
    };
    let workflow_path = match &args.plugins {
        Some(_) => None,
        None => state.workflow_path.clone(),
    };
    let workspace = state.workspace.clone();
    let out_dir = state.out_dir.clone();
    let loaded = folder::load(
        ctx,
        &plugins_dir,
        workflow_path.as_deref(),
        &workspace,
        &out_dir,
        folder::LoadOptions {
            build: false,
            concurrent_runs: 1,
        },
        &progress::print,
    )?;
    let rebuilt = resume::check_unchanged(
        run.state(),
        &loaded.workflow,
        &loaded.folder.digests(),
        args.accept_rebuilt,
    )?;
    for r in &rebuilt {
        output::note(&format!(
            "run {}: plugin `{}` was rebuilt ({} -> {}); its failed steps re-run with the new component",
            inert(run.id()),
            inert(&r.name),
            r.from_sha256.chars().take(12).collect::<String>(),
            r.to_sha256.chars().take(12).collect::<String>()
        ));
    }
    let plan = resume::plan(run.state(), Some(&loaded.workflow), args.failed)?;
    let changes = resume::grant_changes(run.state(), &loaded.folder.effective_grants());
    if !changes.is_empty() {
        if !args.accept_grant_changes {
            return Err(resume::refuse_grant_changes(run.state(), &changes).into());
        }
        for c in &changes {
            output::note(&format!(
                "run {}: plugin `{}` continues under changed grants: {}",
                inert(run.id()),
                inert(&c.plugin),
                inert(&c.changes.join("; "))
            ));
        }
        resume::record_grant_changes(&mut run, &by, &changes)?;
    }
    output::note(&format!(
        "run {}: resuming; will run {}",
        inert(run.id()),
        inert(&plan.items().join(", "))
    ));
    resume::begin(&mut run, &by, &plan, rebuilt)?;
    executor::execute(&mut run, &loaded.workflow, &loaded.folder.plugins).await?;
    present::outcome(&run, args.json)
}
