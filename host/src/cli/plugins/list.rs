//! `host plugins list`: one line per plugin with its kind, grants and limits,
//! read from the manifests and the folder's `grants.toml` (nothing is
//! compiled). Each line shows what the plugin asks for; a request beyond the
//! admin's grant is followed by a `not granted:` line per missing part.

use std::process::ExitCode;

use crate::cli::output;
use crate::cli::plugins::DirArgs;
use crate::grants::admin;
use crate::manifest::{self, EnvGrant, Manifest, MountSource};
use crate::render::inert;

/// List plugins with their kind, grants and limits.
///
/// Reads the manifests (what each plugin asks for) and grants.toml (what the
/// admin grants); a request beyond the grant is listed below the plugin's
/// line as `not granted: ...`, and such a plugin would not load. Use `host
/// plugins check` to also compile and verify every component.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    dir: DirArgs,
}

pub(crate) fn execute(args: &Args) -> anyhow::Result<ExitCode> {
    let manifests = manifest::load_dir(&args.dir.plugins)?;
    let admin_grants = admin::load(&args.dir.plugins)?;
    if admin_grants.is_none() {
        output::note(&admin::legacy_warning(&args.dir.plugins));
    }
    output::line(&format!(
        "{:<16} {:<9} GRANTS (as requested)",
        "PLUGIN", "KIND"
    ))?;
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
        if let Err(refused) = admin::effective(m, admin_grants.as_ref()) {
            for missing in &refused.missing {
                output::line(&format!(
                    "  not granted: {} ({})",
                    inert(&missing.what),
                    missing.key
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The network grant: `no network`, or `network host:port, ...`, and the
/// extra TLS roots its `https://` requests trust, if any.
pub(crate) fn network_summary(m: &Manifest) -> String {
    if m.grants.network.is_empty() {
        return "no network".to_string();
    }
    let entries: Vec<String> = m.grants.network.iter().map(ToString::to_string).collect();
    let mut summary = format!("network {}", inert(&entries.join(", ")));
    if !m.grants.tls_roots.is_empty() {
        let roots: Vec<String> = m
            .grants
            .tls_roots
            .iter()
            .map(|p| crate::render::inert_path(p))
            .collect();
        summary.push_str(&format!(" (extra TLS roots: {})", roots.join(", ")));
    }
    summary
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
