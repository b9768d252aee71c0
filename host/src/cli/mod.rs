//! The `host` command line: one file per subcommand, each an `Args` struct
//! with an `execute` function. Data goes to stdout, logs and progress to
//! stderr, both through [`output`] (which never panics and makes JSON
//! inert); errors are printed once, by `main`, with their cause chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod approve;
mod cache;
mod call;
mod completions;
mod console;
mod doctor;
mod init;
mod mcp;
pub mod output;
mod pager;
mod plugins;
mod present;
mod progress;
mod reject;
mod resume;
mod revert;
mod run;
mod runs;
mod runs_prune;
mod session_args;
mod show;
mod status;
mod trace;
mod verify;
mod workflow;

/// The host's directories, as every subcommand gets them.
pub use crate::host_dirs::HostDirs as Context;

/// Exit code of a command that worked.
pub const EXIT_OK: u8 = 0;
/// Exit code of an error, or of a run that ended failed or rejected.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error (printed by clap).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when stdout was closed by its reader (see [`output`]).
pub use output::EXIT_BROKEN_PIPE;

/// The `host` command line: the global flags and one subcommand (its help
/// text is the `about`/`long_about` below).
#[derive(Debug, Parser)]
#[command(
    name = "host",
    version,
    about = "Run agent tools and reviewers as sandboxed WebAssembly components, behind a human approval gate.",
    long_about = "Run agent tools and reviewers as sandboxed WebAssembly components, behind a human approval gate.\n\n\
Each plugin is a component that can reach only what it asks for in its manifest (plugin.toml) and the \
admin grants it in the plugins folder's grants.toml. A run executes the \
workflow's tool steps, asks the reviewer, and stops waiting for approval. Plugins never write files: they \
propose writes, and `host approve` applies exactly the approved bytes.",
    after_help = "Typical session:\n  host run --topic \"wasm sandboxing\"     run the workflow, stop at the approval gate\n  host show <run>                         read the proposed diff and the review\n  host approve <run>                      apply exactly those bytes (or: host reject <run> --reason ...)\n  host resume <run>                       continue a run after a crash or kill; nothing runs or is written twice\n\n\
Exit codes: 0 success (including a run waiting for approval), 1 error or failed/rejected run, 2 usage error, 141 stdout closed by its reader (`| head`) before everything was printed.\n\
Project: the first harness.toml in the current directory or above names the plugins folder, workspace, out and state dirs (flags override it; `host init` writes one).\n\
Logs: set HARNESS_LOG (e.g. HARNESS_LOG=debug) or pass -v. HARNESS_TIMINGS=1 prints where `host run`'s time goes, phase by phase."
)]
pub struct Cli {
    /// Folder holding the host's own state (runs, journals, staged writes)
    /// [default: `state` in harness.toml, else .harness in the project's
    /// folder or the current directory]. Never reachable from a plugin.
    #[arg(long, global = true, env = "HARNESS_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Folder of the compile cache, shared by every project of the user
    /// [default: $XDG_CACHE_HOME/harness, else ~/.cache/harness]. Never reachable from a plugin.
    #[arg(long, global = true, env = "HARNESS_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Show more logs on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    // The command; without one, `host` prints this help (stdout, exit 0).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

// Crate-private, and undocumented on purpose: clap would take a doc comment
// on a variant as that subcommand's help, over the one on its `Args`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Run(run::Args),
    Show(show::Args),
    Approve(approve::Args),
    Reject(reject::Args),
    Resume(resume::Args),
    Revert(revert::Args),
    Status(status::Args),
    Runs(runs::Args),
    Verify(verify::Args),
    Plugins(plugins::Args),
    Workflow(workflow::Args),
    Trace(trace::Args),
    Cache(cache::Args),
    Console(console::Args),
    Doctor(doctor::Args),
    Call(call::Args),
    Mcp(mcp::Args),
    Init(init::Args),
    Completions(completions::CompletionsArgs),
    Man(completions::ManArgs),
}

impl Cli {
    /// Whether the command serves many callers at once (`host mcp`, `host
    /// console`) and so wants tokio's worker threads. The others drive one
    /// thing at a time and run on the main thread alone: no hand-off between
    /// threads per step (a workflow's plugin calls get threads of their own
    /// anyway, see `runtime::CallThreads`).
    pub fn serves(&self) -> bool {
        matches!(self.command, Some(Command::Mcp(_) | Command::Console(_)))
    }

    /// Run the chosen subcommand.
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        let Some(command) = self.command else {
            let help = <Self as clap::CommandFactory>::command().render_long_help();
            output::print(&crate::render::inert_lines(&help.to_string()))?;
            return Ok(ExitCode::SUCCESS);
        };
        // Commands that read no project: a broken harness.toml must not stop them.
        let command = match command {
            Command::Completions(args) => return completions::completions(args),
            Command::Man(args) => return completions::man(args),
            Command::Init(args) => return init::execute(&args),
            other => other,
        };
        let ctx = Context::discover(self.state_dir, self.cache_dir)?;
        match command {
            Command::Run(args) => run::execute(args, &ctx).await,
            Command::Show(args) => show::execute(args, &ctx),
            Command::Approve(args) => approve::execute(args, &ctx),
            Command::Reject(args) => reject::execute(args, &ctx),
            Command::Resume(args) => resume::execute(args, &ctx).await,
            Command::Revert(args) => revert::execute(args, &ctx),
            Command::Status(args) => status::execute(args, &ctx),
            Command::Runs(args) => runs::execute(args, &ctx),
            Command::Verify(args) => verify::execute(args, &ctx),
            Command::Plugins(args) => plugins::execute(args, &ctx).await,
            Command::Workflow(args) => workflow::execute(args, &ctx),
            Command::Trace(args) => trace::execute(args, &ctx),
            Command::Cache(args) => cache::execute(args, &ctx),
            Command::Console(args) => console::execute(args, &ctx).await,
            Command::Doctor(args) => doctor::execute(args, &ctx).await,
            Command::Call(args) => call::execute(args, &ctx).await,
            Command::Mcp(args) => mcp::execute(args, &ctx).await,
            // Returned above; spelled out so the match stays complete.
            Command::Completions(args) => completions::completions(args),
            Command::Man(args) => completions::man(args),
            Command::Init(args) => init::execute(&args),
        }
    }
}
