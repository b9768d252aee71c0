//! `host completions SHELL` and `host man`: a shell completion script and a
//! man page, generated from the same clap definitions as `--help`, so they
//! cannot drift from the commands.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::cli::{Cli, output};

/// Print a shell completion script for `host`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host completions bash > ~/.local/share/bash-completion/completions/host\n  host completions zsh > ~/.zfunc/_host        (with `fpath+=~/.zfunc` in ~/.zshrc)\n  host completions fish > ~/.config/fish/completions/host.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Print the man page of `host` (roff, for `man -l -`).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host man | man -l -\n  host man > ~/.local/share/man/man1/host.1"
)]
pub struct ManArgs {}

/// Print the completion script for `args.shell`.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = whole_command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "host", &mut script);
    output::print(&String::from_utf8(script).context("the completion script is not UTF-8")?)?;
    Ok(ExitCode::SUCCESS)
}

/// Print the man page.
pub fn man(_args: ManArgs) -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(whole_command())
        .render(&mut page)
        .context("cannot render the man page")?;
    output::print(&String::from_utf8(page).context("the man page is not UTF-8")?)?;
    Ok(ExitCode::SUCCESS)
}

/// `host`'s whole command tree, every subcommand's arguments and nested
/// subcommands built. Parsing builds only the subcommand that runs (see
/// `cli::Command`), and a build of the whole tree copies the subcommands into
/// clap's `help` subcommand before their own subcommands exist; so the tree
/// is built twice: the second build's `help` copies the first's subcommands.
fn whole_command() -> clap::Command {
    let mut first = Cli::command();
    first.build();
    let mut whole = Cli::command().mut_subcommands(|sub| {
        first
            .find_subcommand(sub.get_name())
            .cloned()
            .unwrap_or(sub)
    });
    whole.build();
    whole
}
