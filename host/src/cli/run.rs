//! `host run`: execute a workflow up to the approval gate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::{Context, output, present, progress};
use crate::folder;
use crate::render::inert;
use crate::run::executor;

/// Run the workflow's steps and its reviewer (if it has a `[review]`), then stop at the approval gate.
///
/// Prints the run id, the verdict and the proposed writes as a
/// diff against the current files. Nothing is written to the workspace or the
/// output directory by this command.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  host run --build --topic \"WebAssembly component sandboxing\"")]
pub struct Args {
    /// Folder of plugins: one subfolder per plugin with its plugin.toml, and the workflow file.
    #[arg(long, default_value = "plugins")]
    plugins: PathBuf,

    /// Workflow file [default: <plugins>/workflow.toml].
    #[arg(long)]
    workflow: Option<PathBuf>,

    /// Directory of documents the run works on; plugins see it only where
    /// their manifest mounts `${workspace}`.
    #[arg(long, default_value = "examples/workspace")]
    workspace: PathBuf,

    /// Directory approved writes go to [default: the workspace].
    #[arg(long)]
    out: Option<PathBuf>,

    /// The research topic, passed to every step as `topic`.
    #[arg(long, default_value = "WebAssembly component sandboxing")]
    topic: String,

    /// Build the workflow's plugins from source first (runs each manifest's
    /// [build] command, installing the wasm32-wasip2 target if needed).
    #[arg(long)]
    build: bool,

    /// Print the run's state as JSON on stdout instead of the summary and diff.
    #[arg(long)]
    json: bool,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let workspace = existing_dir(&args.workspace, "--workspace")?;
    let out_dir = match &args.out {
        Some(out) => existing_dir(out, "--out")?,
        None => workspace.clone(),
    };
    let loaded = folder::load(
        ctx,
        &args.plugins,
        args.workflow.as_deref(),
        &workspace,
        &out_dir,
        args.build,
        &progress::print,
    )?;
    let created = loaded.run_created(
        serde_json::json!({ "topic": args.topic }),
        &workspace,
        &out_dir,
    )?;
    let mut run = ctx.store().create(created)?;
    output::note(&format!("run {} started", inert(run.id())));
    executor::execute(&mut run, &loaded.workflow, &loaded.plugins).await?;
    present::outcome(&run, args.json)
}

pub(crate) fn existing_dir(path: &Path, flag: &str) -> anyhow::Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(_) => bail!(
            "{flag} `{}` is not a directory",
            inert(&path.display().to_string())
        ),
        Err(e) => Err(e).with_context(|| {
            format!(
                "{flag} `{}` does not exist\nhint: create it first, or point {flag} at an existing directory",
                inert(&path.display().to_string())
            )
        }),
    }
}
