//! `host run`: execute a workflow up to the approval gate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::{Context, output, present, progress};
use crate::folder;
use crate::render::inert;
use crate::run::executor;
use crate::run::params::Params;
use crate::timing;

/// Run the workflow's steps and its reviewer (if it has a `[review]`), then stop at the approval gate.
///
/// Prints the run id, the verdict and the proposed writes as a
/// diff against the current files. Nothing is written to the workspace or the
/// output directory by this command.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host run --build --topic \"WebAssembly component sandboxing\"\n  host run --param 'topic=wasi preview 2'\n  host run --input params.json --param topic=wasi   --param overrides keys of the file\n\n\
Every run parameter must be a key some step's input schema takes (its plugin's describe(), shown by `host plugins inspect`) and that step's `input` in the workflow does not set (the workflow's value wins); an unknown key, or a value a schema refuses, is an error before the run starts."
)]
pub struct Args {
    /// Folder of plugins: one subfolder per plugin with its plugin.toml, and
    /// the workflow file [default: `plugins` in harness.toml, else plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,

    /// Workflow file [default: <plugins>/workflow.toml].
    #[arg(long)]
    workflow: Option<PathBuf>,

    /// Directory of documents the run works on; plugins see it only where
    /// their manifest mounts `${workspace}` [default: `workspace` in
    /// harness.toml, else examples/workspace].
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,

    /// Directory approved writes go to [default: `out` in harness.toml, else the workspace].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Shorthand for `--param topic=TEXT` (always a string), for workflows
    /// whose steps take a `topic`. Such a workflow gets "WebAssembly
    /// component sandboxing" when no topic is given.
    #[arg(long, value_name = "TEXT")]
    topic: Option<String>,

    /// A run parameter, given to every step whose input schema takes KEY
    /// (and whose `input` in the workflow does not set it). Repeatable.
    /// VALUE is JSON if it parses as JSON (3, true, [1,2], "quoted"), else
    /// the text itself. Overrides --topic and keys of --input.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// A JSON object of run parameters (each key as with --param).
    #[arg(long, value_name = "FILE.json")]
    input: Option<PathBuf>,

    /// Build the workflow's plugins from source first (runs each manifest's
    /// [build] command, installing the wasm32-wasip2 target if needed).
    #[arg(long)]
    build: bool,

    /// Print the run's state as JSON on stdout instead of the summary and diff.
    #[arg(long)]
    json: bool,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    // Parsed before anything loads or builds: a typo fails at once.
    let mut params = Params::new();
    if let Some(file) = &args.input {
        params.read_input_file(file)?;
    }
    if let Some(topic) = &args.topic {
        params.topic(topic)?;
    }
    for assignment in &args.params {
        params.assign(assignment)?;
    }
    timing::mark("command line parsed, project read");
    let plugins = ctx.plugins_dir(args.plugins.as_deref())?;
    let (workspace, out_dir) = work_dirs(ctx, args.workspace.as_deref(), args.out.as_deref())?;
    let loaded = folder::load(
        ctx,
        &plugins,
        args.workflow.as_deref(),
        &workspace,
        &out_dir,
        folder::LoadOptions {
            build: args.build,
            concurrent_runs: 1,
        },
        &progress::print,
    )?;
    let params = params
        .check(&loaded.workflow, &loaded.folder.plugins)
        .await?;
    timing::mark("parameters checked against the input schemas");
    let created = loaded.run_created(params, &workspace, &out_dir)?;
    timing::mark("  run: its first event made");
    let mut run = ctx.store().create(created)?;
    timing::mark("run created");
    output::note(&format!("run {} started", inert(run.id())));
    executor::execute(&mut run, &loaded.workflow, &loaded.folder.plugins).await?;
    timing::mark("steps, review and approval request done");
    let shown = present::outcome(&run, args.json);
    timing::mark("outcome printed");
    drop(run);
    timing::mark("run let go (journal head written)");
    // The process ends next, and the kernel takes its memory back at once:
    // dropping the engines, their instance pools and every loaded plugin
    // one by one would add about a millisecond to every `host run`.
    std::mem::forget(loaded);
    shown
}

/// The workspace and output directories (`--workspace`, `--out`, else the
/// project's, else the defaults), checked to exist.
pub(crate) fn work_dirs(
    ctx: &Context,
    workspace: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let ws = existing_dir(
        &ctx.workspace_dir(workspace)?,
        &origin(ctx, "--workspace", "workspace", workspace.is_some()),
    )?;
    let out_dir = match ctx.out_dir(out) {
        Some(dir) => existing_dir(&dir, &origin(ctx, "--out", "out", out.is_some()))?,
        None => ws.clone(),
    };
    Ok((ws, out_dir))
}

/// What named a folder, for messages: its flag, or its key in the project file.
fn origin(ctx: &Context, flag: &str, key: &str, flag_given: bool) -> String {
    match ctx.project() {
        Some(p) if !flag_given => format!("`{key}` of {}", inert(&p.file.display().to_string())),
        _ => flag.to_string(),
    }
}

pub(crate) fn existing_dir(path: &Path, flag: &str) -> anyhow::Result<PathBuf> {
    match crate::canonical::canonicalize(path) {
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
