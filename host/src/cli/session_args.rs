//! The arguments `host call` and `host mcp` share: which plugins serve the
//! session, where their mounts and approved writes go, and the policy that
//! decides each call.

use std::path::PathBuf;

use crate::cli::Context;

/// What a session serves and where its writes go.
#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    /// Folder of plugins (one subfolder per plugin, each with a plugin.toml)
    /// [default: `plugins` in harness.toml, else plugins].
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<PathBuf>,

    /// Directory the plugins' `${workspace}` mounts resolve to [default:
    /// `workspace` in harness.toml, else examples/workspace].
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,

    /// Directory approved writes go to [default: `out` in harness.toml, else the workspace].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Policy file [default: <plugins>/policy.toml when it exists, else allow all].
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

impl SessionArgs {
    /// The plugins folder, and the workspace and output directories
    /// (checked to exist), each from its flag, else the project file, else
    /// the default.
    pub fn dirs(&self, ctx: &Context) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
        let plugins = ctx.plugins_dir(self.plugins.as_deref())?;
        let (workspace, out_dir) =
            crate::cli::run::work_dirs(ctx, self.workspace.as_deref(), self.out.as_deref())?;
        Ok((plugins, workspace, out_dir))
    }
}
