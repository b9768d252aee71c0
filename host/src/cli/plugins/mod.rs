//! `host plugins`: look at, check, build and create the plugins of a folder. One file
//! per subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::Context;
use crate::manifest;

mod check;
mod grant;
mod inspect;
mod list;
mod new;
mod new_workflow;
mod revoke;

/// List, check, inspect, build or create the plugins of a folder.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "List, check, inspect, build or create the plugins of a folder.\n\n\
A plugins folder holds one subfolder per plugin, each with a plugin.toml (its component and the \
capabilities it asks for), the workflow.toml that runs them, and grants.toml: what the admin grants each \
plugin. A plugin runs with its request only if grants.toml allows all of it. Nothing is granted by default.",
    after_help = "Examples:\n  host plugins list                      who may touch what\n  host plugins check                     validate everything and compile every component\n  host plugins inspect search --json     one plugin's imports, exports, grants and limits\n  host plugins new my-tool --kind tool --lang python   scaffold a plugin that builds as generated\n  host plugins grant search --write reports/   grant more in grants.toml (revoke takes it away)"
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    List(list::Args),
    Check(check::Args),
    Inspect(inspect::Args),
    /// Build plugin components from source with each manifest's [build]
    /// command: the named plugins, or every plugin of the folder. Rust
    /// plugins whose component lies in <plugins>/.target (as `plugins new`
    /// generates them) share that one Cargo target dir.
    Build(BuildArgs),
    New(new::Args),
    Grant(grant::Args),
    Revoke(revoke::Args),
}

/// Where the plugins are.
#[derive(Debug, clap::Args)]
pub(crate) struct DirArgs {
    /// Folder of plugins (one subfolder per plugin, each with a plugin.toml)
    /// [default: `plugins` in harness.toml, else plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
}

impl DirArgs {
    /// The plugins folder: the flag, else the project's, else the default.
    pub(crate) fn resolve(&self, ctx: &Context) -> anyhow::Result<PathBuf> {
        Ok(ctx.plugins_dir(self.plugins.as_deref())?)
    }
}

/// Which plugins to build.
#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// The plugins to build (their `[plugin] name`) [default: every plugin].
    names: Vec<String>,

    #[command(flatten)]
    dir: DirArgs,
}

/// Where the plugins are, and the workspace their `${workspace}` mounts
/// resolve to, for subcommands that load components.
#[derive(Debug, clap::Args)]
pub(crate) struct LoadArgs {
    #[command(flatten)]
    pub(crate) dir: DirArgs,

    /// The workspace `${workspace}` mounts resolve to, as `host run` would
    /// use it [default: `workspace` in harness.toml, else examples/workspace].
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

impl LoadArgs {
    /// The workspace, absolute; it need not exist (only mounts resolve
    /// against it), so a missing default is the default path.
    pub(crate) fn workspace(&self, ctx: &Context) -> PathBuf {
        ctx.workspace_path(self.workspace.as_deref())
    }
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::List(args) => list::execute(&args, ctx),
        Command::Check(args) => check::execute(&args, ctx),
        Command::Inspect(args) => inspect::execute(&args, ctx).await,
        Command::New(args) => new::execute(&args, ctx),
        Command::Grant(args) => grant::execute(&args, ctx),
        Command::Revoke(args) => revoke::execute(&args, ctx),
        Command::Build(args) => {
            let plugins = args.dir.resolve(ctx)?;
            let manifests = manifest::load_dir(&plugins)?;
            for name in &args.names {
                if !manifests.iter().any(|m| &m.name == name) {
                    let names: Vec<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
                    anyhow::bail!(
                        "no plugin `{}` in `{}`\nhint: the plugins there are: {}",
                        crate::render::inert(name),
                        crate::render::inert_path(&plugins),
                        names.join(", ")
                    );
                }
            }
            let chosen: Vec<&manifest::Manifest> = manifests
                .iter()
                .filter(|m| args.names.is_empty() || args.names.contains(&m.name))
                .collect();
            crate::plugin_build::build_all(&chosen, &|line| {
                crate::cli::output::note(&crate::render::inert_lines(line));
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
