//! `host init`: write a project file (`harness.toml`) in the current
//! directory, so `host` finds the project's folders from anywhere below it.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::output;
use crate::project::{self, PROJECT_FILE};
use crate::render::inert_path;

/// Write a harness.toml in the current directory.
///
/// It names the plugins folder, the workspace and the state directory,
/// relative to the file's folder; every `host` command started in this
/// folder or below it uses them (flags still override). Refuses to replace
/// an existing harness.toml.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host init                                   plugins/ and workspace/ next to harness.toml\n  host init --plugins tools --workspace docs"
)]
pub struct Args {
    /// The plugins folder to write, relative to the current directory.
    #[arg(long, default_value = "plugins")]
    plugins: String,

    /// The workspace to write, relative to the current directory.
    #[arg(long, default_value = "workspace")]
    workspace: String,
}

pub fn execute(args: &Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let file = cwd.join(PROJECT_FILE);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .with_context(|| {
            format!(
                "cannot create `{}`\nhint: it may exist already; edit it, or remove it first (`host init` never overwrites)",
                inert_path(&file)
            )
        })?;
    out.write_all(project::template(&args.plugins, &args.workspace).as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write `{}`", inert_path(&file)))?;
    // Read back as every command will: a value that does not parse is
    // caught here, not by the next command.
    project::load(&file)?;
    output::line(&format!("wrote {}", inert_path(&file)))?;
    Ok(ExitCode::SUCCESS)
}
