//! The arguments `host call` and `host mcp` share: which plugins serve the
//! session, where their mounts and approved writes go, and the policy that
//! decides each call.

use std::path::PathBuf;

/// What a session serves and where its writes go.
#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    /// Folder of plugins (one subfolder per plugin, each with a plugin.toml).
    #[arg(long, default_value = "plugins")]
    pub plugins: PathBuf,

    /// Directory the plugins' `${workspace}` mounts resolve to.
    #[arg(long, default_value = "examples/workspace")]
    pub workspace: PathBuf,

    /// Directory approved writes go to [default: the workspace].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Policy file [default: <plugins>/policy.toml when it exists, else allow all].
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

impl SessionArgs {
    /// The workspace and output directories, checked to exist.
    pub fn dirs(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        let workspace = crate::cli::run::existing_dir(&self.workspace, "--workspace")?;
        let out_dir = match &self.out {
            Some(out) => crate::cli::run::existing_dir(out, "--out")?,
            None => workspace.clone(),
        };
        Ok((workspace, out_dir))
    }
}
