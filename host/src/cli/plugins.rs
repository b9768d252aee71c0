//! `host plugins`: look at and build the plugins of a folder.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::Context;
use crate::manifest::{self, EnvGrant, MountSource};
use crate::render::inert;

/// Inspect or build the plugins of a folder.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List plugins with their kind and grants.
    List(DirArgs),
    /// Build plugin components from source with each manifest's [build] command.
    Build(DirArgs),
}

#[derive(Debug, clap::Args)]
struct DirArgs {
    /// Folder of plugins (one subfolder per plugin, each with a plugin.toml).
    #[arg(long, default_value = "plugins")]
    plugins: PathBuf,
}

pub fn execute(args: Args, _ctx: &Context) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::List(dir) => list(&dir),
        Command::Build(dir) => {
            let manifests = manifest::load_dir(&dir.plugins)?;
            let all: Vec<&manifest::Manifest> = manifests.iter().collect();
            crate::plugin_build::build_all(&all, &|line| eprintln!("{line}"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(dir: &DirArgs) -> anyhow::Result<ExitCode> {
    let manifests = manifest::load_dir(&dir.plugins)?;
    println!("{:<16} {:<9} GRANTS", "PLUGIN", "KIND");
    for m in &manifests {
        let mut grants = Vec::new();
        for mount in &m.grants.mounts {
            let host = match &mount.host {
                MountSource::Workspace => manifest::WORKSPACE_PLACEHOLDER.to_string(),
                MountSource::Path(p) => p.display().to_string(),
            };
            grants.push(format!(
                "mount {} -> {} ({})",
                inert(&host),
                inert(&mount.guest),
                mount.mode
            ));
        }
        if !m.grants.writes.is_empty() {
            grants.push(format!(
                "propose writes under {}",
                inert(&m.grants.writes.join(", "))
            ));
        }
        for env in &m.grants.env {
            let how = match env {
                EnvGrant::Value { .. } => "set",
                EnvGrant::Inherit { .. } => "inherited",
            };
            grants.push(format!("env {} ({how})", env.key()));
        }
        if grants.is_empty() {
            grants.push("nothing".to_string());
        }
        let network = if m.grants.network.is_empty() {
            "no network".to_string()
        } else {
            let entries: Vec<String> = m.grants.network.iter().map(ToString::to_string).collect();
            format!("network {}", entries.join(", "))
        };
        println!(
            "{:<16} {:<9} {}; {network}; memory {} MiB, timeout {} ms",
            m.name,
            m.kind.to_string(),
            grants.join("; "),
            m.limits.memory_bytes / (1024 * 1024),
            m.limits.timeout.as_millis()
        );
    }
    Ok(ExitCode::SUCCESS)
}
