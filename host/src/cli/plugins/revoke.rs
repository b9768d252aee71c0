//! `host plugins revoke`: take grants away from a plugin in the folder's
//! `grants.toml` (see [`crate::grants::admin`]).

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::Context;
use crate::cli::plugins::DirArgs;
use crate::cli::plugins::grant::{
    existing, parse_mount, parse_network, print_entry, require_plugin,
};
use crate::grants::admin;
use crate::manifest::{self, MountMode};
use crate::render::inert;

/// Take grants away from a plugin, in the plugins folder's grants.toml.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Take grants away from a plugin, in the plugins folder's grants.toml.\n\n\
Each flag removes one grant (naming one that is not granted is an error, so a typo is noticed); --all removes \
the plugin's whole table, so it is granted nothing. A plugin whose manifest still asks for what was revoked \
fails to load from then on, naming what is missing. The file is rewritten atomically; comments are not kept. \
A run started before the change is not resumed under the new grants unless `host resume --accept-grant-changes` \
is given.",
    after_help = "Examples:\n  host plugins revoke search --write reports/\n  host plugins revoke tool --mount data:/data:rw      keep the mount, read-only\n  host plugins revoke tool --mount /data              remove the mount at /data\n  host plugins revoke model-reviewer --limit timeout-ms   back to the host default ceiling\n  host plugins revoke hostile-tool --all"
)]
pub(crate) struct Args {
    /// The plugin, as in its manifest's `[plugin] name`.
    name: String,

    /// Remove the plugin's whole table: it is granted nothing.
    #[arg(long, conflicts_with_all = ["writes", "network", "env", "mounts", "limits"])]
    all: bool,

    /// A writes prefix to revoke, exactly as granted (repeatable).
    #[arg(long = "write", value_name = "PREFIX")]
    writes: Vec<String>,

    /// A `host:port` to revoke (repeatable).
    #[arg(long = "network", value_name = "HOST:PORT")]
    network: Vec<String>,

    /// An environment variable to revoke (repeatable).
    #[arg(long = "env", value_name = "KEY")]
    env: Vec<String>,

    /// A mount to revoke, by guest path (`[HOST:]GUEST`); with `:rw`, only
    /// its write access: the mount stays, read-only (repeatable).
    #[arg(long = "mount", value_name = "[HOST:]GUEST[:rw]")]
    mounts: Vec<String>,

    /// A limit ceiling to remove, back to the host's default; for fuel that
    /// means no fuel ceiling (repeatable).
    #[arg(long = "limit", value_name = "KEY")]
    limits: Vec<String>,

    #[command(flatten)]
    dir: DirArgs,
}

pub(crate) fn execute(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let dir = &args.dir.resolve(ctx)?;
    let manifests = manifest::load_dir(dir)?;
    require_plugin(dir, &manifests, &args.name)?;
    let mut admin = existing(dir)?;
    let name = args.name.as_str();
    if args.all {
        admin.plugins.remove(name);
        admin::save(&admin)?;
        print_entry(&admin, name)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.writes.is_empty()
        && args.network.is_empty()
        && args.env.is_empty()
        && args.mounts.is_empty()
        && args.limits.is_empty()
    {
        bail!(
            "nothing to revoke from `{name}`\nhint: give --write, --network, --env, --mount or --limit, or --all"
        );
    }
    let Some(grant) = admin.plugins.get_mut(name) else {
        bail!(
            "`{}` grants `{name}` nothing to revoke",
            inert(&admin.path.display().to_string())
        );
    };
    let not_granted = |what: &str, value: &str, granted: &[String]| {
        anyhow::anyhow!(
            "{what} `{}` is not granted to `{name}`, so it cannot be revoked\nhint: granted now: {}",
            inert(value),
            if granted.is_empty() {
                "nothing".to_string()
            } else {
                inert(&granted.join(", "))
            }
        )
    };
    for prefix in &args.writes {
        let before = grant.writes.len();
        grant.writes.retain(|g| g != prefix);
        if grant.writes.len() == before {
            return Err(not_granted("writes prefix", prefix, &grant.writes));
        }
    }
    for entry in &args.network {
        let parsed = parse_network(entry)?;
        let before = grant.network.len();
        grant
            .network
            .retain(|g| crate::network_grant::parse_network_entry(g).map_or(true, |g| g != parsed));
        if grant.network.len() == before {
            return Err(not_granted("network entry", entry, &grant.network));
        }
    }
    for key in &args.env {
        let before = grant.env.len();
        grant.env.retain(|g| g != key);
        if grant.env.len() == before {
            return Err(not_granted("environment variable", key, &grant.env));
        }
    }
    for spec in &args.mounts {
        let (host, guest, mode) = parse_mount(spec)?;
        let guests: Vec<String> = grant.mounts.iter().map(|m| m.guest.clone()).collect();
        let Some(i) = grant
            .mounts
            .iter()
            .position(|m| m.guest == guest && host.as_ref().is_none_or(|h| *h == m.host))
        else {
            return Err(not_granted("mount", spec, &guests));
        };
        if mode == MountMode::ReadWrite {
            grant.mounts[i].mode = MountMode::Read;
        } else {
            grant.mounts.remove(i);
        }
    }
    for key in &args.limits {
        grant
            .limits
            .set(key, None)
            .map_err(|e| anyhow::anyhow!("--limit: {e}"))?;
    }
    admin::save(&admin)?;
    print_entry(&admin, name)?;
    Ok(ExitCode::SUCCESS)
}
