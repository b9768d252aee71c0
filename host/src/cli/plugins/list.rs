//! `host plugins list`: one line per plugin with its kind, grants and limits,
//! read from the manifests alone (nothing is compiled).

use std::process::ExitCode;

use crate::cli::output;
use crate::cli::plugins::DirArgs;
use crate::manifest::{self, EnvGrant, Manifest, MountSource};
use crate::render::inert;

/// List plugins with their kind, grants and limits.
///
/// Reads the manifests only; use `host plugins check` to also compile and
/// verify every component.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    dir: DirArgs,
}

pub(crate) fn execute(args: &Args) -> anyhow::Result<ExitCode> {
    let manifests = manifest::load_dir(&args.dir.plugins)?;
    output::line(&format!("{:<16} {:<9} GRANTS", "PLUGIN", "KIND"))?;
    for m in &manifests {
        let mut grants = grant_summary(m);
        if grants.is_empty() {
            grants.push("nothing".to_string());
        }
        output::line(&format!(
            "{:<16} {:<9} {}; {}; {}",
            inert(&m.name),
            m.kind.to_string(),
            grants.join("; "),
            network_summary(m),
            limit_summary(m)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The network grant: `no network`, or `network host:port, ...`.
pub(crate) fn network_summary(m: &Manifest) -> String {
    if m.grants.network.is_empty() {
        return "no network".to_string();
    }
    let entries: Vec<String> = m.grants.network.iter().map(ToString::to_string).collect();
    format!("network {}", inert(&entries.join(", ")))
}

/// The grants of a manifest, one phrase each, rendered inert.
pub(crate) fn grant_summary(m: &Manifest) -> Vec<String> {
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
    grants
}

/// The limits of a manifest in one phrase.
pub(crate) fn limit_summary(m: &Manifest) -> String {
    let fuel = match m.limits.fuel {
        Some(f) => format!("fuel {f}"),
        None => "no fuel limit".to_string(),
    };
    format!(
        "memory {} MiB, timeout {} ms, output {} KiB, {fuel}",
        m.limits.memory_bytes / (1024 * 1024),
        m.limits.timeout.as_millis(),
        m.limits.max_output_bytes / 1024,
    )
}
