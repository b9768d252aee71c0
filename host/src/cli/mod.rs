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

// Crate-private. Each subcommand's arguments are built only when it is the
// one that runs (`defer`): building all twenty took half a millisecond of
// every start. The one-line `about` of each variant is what `host --help`
// lists; it repeats the first line of its `Args` doc comment, which gives
// the subcommand's own help (a test checks they agree). No doc comment on a
// variant: clap would take it as the subcommand's help, over its `Args`'.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum Command {
    #[command(
        about = "Run the workflow's steps and its reviewer (if it has a `[review]`), then stop at the approval gate"
    )]
    Run(run::Args),
    #[command(about = "Show a run's review and its proposed writes as a diff")]
    Show(show::Args),
    #[command(about = "Approve a waiting run and write exactly its staged bytes")]
    Approve(approve::Args),
    #[command(about = "Reject a waiting run; nothing is written")]
    Reject(reject::Args),
    #[command(about = "Continue a run that was interrupted (or, with --failed, one that failed)")]
    Resume(resume::Args),
    #[command(about = "Propose a new run that undoes an applied run's writes")]
    Revert(revert::Args),
    #[command(about = "Show a run's status, steps, review and decision")]
    Status(status::Args),
    #[command(
        about = "List runs, oldest first (by creation time), with their status, age and what each waits for"
    )]
    Runs(runs::Args),
    #[command(
        about = "Check a run's journal for tampering: edits, removals, reordering, a cut-off tail"
    )]
    Verify(verify::Args),
    #[command(about = "List, check, inspect, build or create the plugins of a folder")]
    Plugins(plugins::Args),
    #[command(about = "Show the workflow a run executes, as text, JSON or a Mermaid diagram")]
    Workflow(workflow::Args),
    #[command(about = "Show when each event of a run happened and how long each part took")]
    Trace(trace::Args),
    #[command(about = "Show or clear the compile cache")]
    Cache(cache::Args),
    #[command(about = "Serve a web console: runs, diffs, decisions")]
    Console(console::Args),
    #[command(about = "Check the setup: toolchains, host directories, plugins, network grants")]
    Doctor(doctor::Args),
    #[command(about = "Call one tool plugin once, as an agent would through `host mcp`")]
    Call(call::Args),
    #[command(
        about = "Serve the folder's tool plugins to an agent over MCP (stdio, or Streamable HTTP with --http)"
    )]
    Mcp(mcp::Args),
    #[command(about = "Write a harness.toml in the current directory")]
    Init(init::Args),
    #[command(about = "Print a shell completion script for `host`")]
    Completions(completions::CompletionsArgs),
    #[command(about = "Print the man page of `host` (roff, for `man -l -`)")]
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

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::Cli;

    #[test]
    fn each_subcommand_is_built_only_when_it_runs() {
        let cli = Cli::command();
        let run = cli.find_subcommand("run").expect("a `run` subcommand");
        assert_eq!(
            run.get_arguments().count(),
            0,
            "`run`'s arguments are built before it is chosen"
        );
        let parsed =
            Cli::try_parse_from(["host", "run", "--topic", "t", "--build"]).expect("parses");
        assert!(matches!(parsed.command, Some(super::Command::Run(_))));
    }

    #[test]
    fn host_help_lists_each_subcommand_with_the_summary_of_its_own_help() {
        let listed = Cli::command();
        let mut built = Cli::command();
        built.build();
        // clap's own `help` subcommand is added by the build; every other
        // subcommand is listed before it is built.
        let own: Vec<_> = built
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        assert_eq!(listed.get_subcommands().count(), own.len());
        for sub in own {
            let name = sub.get_name();
            let own = sub.get_about().map(ToString::to_string);
            let listing = listed
                .find_subcommand(name)
                .and_then(|c| c.get_about())
                .map(ToString::to_string);
            assert!(own.is_some(), "`host {name} --help` has no summary");
            assert_eq!(
                listing, own,
                "`host --help` lists `{name}` with another summary than `host {name} --help` gives (the variant's `about` in cli/mod.rs and the first line of its `Args` doc comment)"
            );
            assert!(
                sub.get_arguments().count() > 0 || name == "man" || name == "init",
                "`{name}` built no arguments"
            );
        }
        let help = listed.clone().render_long_help().to_string();
        assert!(
            help.contains("Approve a waiting run and write exactly its staged bytes"),
            "{help}"
        );
    }
}
