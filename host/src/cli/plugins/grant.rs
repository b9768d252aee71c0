//! `host plugins grant`: add to what the admin grants a plugin, in the
//! folder's `grants.toml` (see [`crate::grants::admin`]); `--all-requested`
//! creates the file from the manifests' current requests.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::plugins::DirArgs;
use crate::cli::{Context, output};
use crate::grants::admin::{self, AdminGrants, GRANTS_FILE, MountGrant, PluginGrant};
use crate::manifest::{self, Manifest, MountMode};
use crate::network_grant::NetworkGrant;
use crate::render::inert;

/// Grant a plugin more, in the plugins folder's grants.toml.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Grant a plugin more, in the plugins folder's grants.toml.\n\n\
A plugin's plugin.toml only asks for capabilities; the admin's grants.toml (one per plugins folder) says what \
it gets. A plugin runs with its request only if the request lies within its grant, and fails to load otherwise, \
naming what is missing. This command adds the given grants to the plugin's table (creating it) and rewrites the \
file atomically; comments in the file are not kept. With --all-requested it creates grants.toml granting \
exactly what every manifest in the folder asks for today: the migration of a folder that has none. Review it.",
    after_help = "Examples:\n  host plugins grant --all-requested                          create grants.toml from the current requests\n  host plugins grant search --write reports/                  let search propose files under reports/\n  host plugins grant search --mount '${workspace}:/workspace'  read-only mount of the run's workspace\n  host plugins grant tool --mount data:/data:rw               read-write mount (relative to the plugin's folder)\n  host plugins grant model-reviewer --network 127.0.0.1:11434 --env MODEL_URL --limit timeout-ms=60000\n  host plugins grant search --write reports/ --plugins examples/hostile-demo"
)]
pub(crate) struct Args {
    /// The plugin, as in its manifest's `[plugin] name`.
    #[arg(
        required_unless_present = "all_requested",
        conflicts_with = "all_requested"
    )]
    name: Option<String>,

    #[command(flatten)]
    items: GrantItems,

    /// Create grants.toml granting exactly what each manifest in the folder
    /// requests (refused if the file exists).
    #[arg(long)]
    all_requested: bool,

    #[command(flatten)]
    dir: DirArgs,
}

/// What to grant.
#[derive(Debug, clap::Args)]
pub(crate) struct GrantItems {
    /// A relative prefix under which the plugin may propose writes (repeatable).
    #[arg(long = "write", value_name = "PREFIX")]
    writes: Vec<String>,

    /// A `host:port` the plugin may connect to (repeatable).
    #[arg(long = "network", value_name = "HOST:PORT")]
    network: Vec<String>,

    /// An environment variable the plugin may receive; its value comes from
    /// its manifest or is inherited as the manifest says (repeatable).
    #[arg(long = "env", value_name = "KEY")]
    env: Vec<String>,

    /// A mount: host directory (`${workspace}`, absolute, or relative to the
    /// plugin's folder), guest path, and `:rw` for read-write (repeatable).
    #[arg(long = "mount", value_name = "HOST:GUEST[:rw]")]
    mounts: Vec<String>,

    /// A limit ceiling: memory-mib, timeout-ms, max-output-kib or fuel
    /// (repeatable).
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    limits: Vec<String>,
}

impl GrantItems {
    fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.network.is_empty()
            && self.env.is_empty()
            && self.mounts.is_empty()
            && self.limits.is_empty()
    }
}

pub(crate) fn execute(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let dir = &args.dir.resolve(ctx)?;
    let manifests = manifest::load_dir(dir)?;
    if args.all_requested {
        return all_requested(dir, &manifests);
    }
    let Some(name) = args.name.as_deref() else {
        bail!("name the plugin to grant to, or pass --all-requested");
    };
    require_plugin(dir, &manifests, name)?;
    if args.items.is_empty() {
        bail!(
            "nothing to grant to `{name}`\nhint: give --write, --network, --env, --mount or --limit; `host plugins check --plugins {}` says what each plugin asks for beyond its grant",
            inert(&dir.display().to_string())
        );
    }
    let mut admin = existing(dir)?;
    let grant = admin.plugins.entry(name.to_string()).or_default();
    add(grant, &args.items)?;
    admin::save(&admin)?;
    print_entry(&admin, name)?;
    Ok(ExitCode::SUCCESS)
}

fn add(grant: &mut PluginGrant, items: &GrantItems) -> anyhow::Result<()> {
    for prefix in &items.writes {
        if !grant.writes.contains(prefix) {
            grant.writes.push(prefix.clone());
        }
    }
    for entry in &items.network {
        let parsed = parse_network(entry)?;
        let already = grant
            .network
            .iter()
            .any(|g| crate::network_grant::parse_network_entry(g).is_ok_and(|g| g == parsed));
        if !already {
            grant.network.push(parsed.to_string());
        }
    }
    for key in &items.env {
        if !grant.env.contains(key) {
            grant.env.push(key.clone());
        }
    }
    for spec in &items.mounts {
        let (host, guest, mode) = parse_mount(spec)?;
        let host = host.ok_or_else(|| {
            anyhow::anyhow!(
                "--mount `{}` names no host directory\nhint: write HOST:GUEST, e.g. '${{workspace}}:/workspace' or data:/data:rw",
                inert(spec)
            )
        })?;
        match grant.mounts.iter_mut().find(|m| m.guest == guest) {
            Some(existing) => {
                existing.host = host;
                existing.mode = mode;
            }
            None => grant.mounts.push(MountGrant { host, guest, mode }),
        }
    }
    for spec in &items.limits {
        let Some((key, value)) = spec.split_once('=') else {
            bail!(
                "--limit `{}` is not KEY=VALUE\nhint: e.g. --limit timeout-ms=60000; the limits are {}",
                inert(spec),
                admin::LIMIT_KEYS.join(", ")
            );
        };
        let value: u64 = value.parse().map_err(|_| {
            anyhow::anyhow!(
                "--limit `{}`: `{}` is not a whole number\nhint: limits use the manifest's units (MiB, ms, KiB, fuel units)",
                inert(spec),
                inert(value)
            )
        })?;
        grant
            .limits
            .set(key, Some(value))
            .map_err(|e| anyhow::anyhow!("--limit: {e}"))?;
    }
    Ok(())
}

/// A `--network` value, `host:port`; the error quotes it.
pub(crate) fn parse_network(entry: &str) -> anyhow::Result<NetworkGrant> {
    crate::network_grant::parse_network_entry(entry).map_err(|(message, hint)| {
        anyhow::anyhow!("--network `{}` {message}\nhint: {hint}", inert(entry))
    })
}

/// `HOST:GUEST[:rw|:ro]` (or, for revoke, `GUEST[:rw]`): the host (if
/// given), the guest path and the mode.
pub(crate) fn parse_mount(spec: &str) -> anyhow::Result<(Option<String>, String, MountMode)> {
    let (rest, mode) = if let Some(rest) = spec.strip_suffix(":rw") {
        (rest, MountMode::ReadWrite)
    } else if let Some(rest) = spec.strip_suffix(":ro") {
        (rest, MountMode::Read)
    } else {
        (spec, MountMode::Read)
    };
    let (host, guest) = match rest.rsplit_once(':') {
        Some((host, guest)) => (Some(host.to_string()), guest.to_string()),
        None => (None, rest.to_string()),
    };
    if !guest.starts_with('/') || host.as_deref() == Some("") {
        bail!(
            "--mount `{}` is not HOST:GUEST[:rw]\nhint: the guest path is absolute, e.g. '${{workspace}}:/workspace' or data:/data:rw",
            inert(spec)
        );
    }
    Ok((host, guest, mode))
}

/// `--all-requested`: the migration of a folder without grants.toml.
fn all_requested(dir: &Path, manifests: &[Manifest]) -> anyhow::Result<ExitCode> {
    let path = dir.join(GRANTS_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        bail!(
            "`{}` already exists\nhint: --all-requested only creates the file; change it with `host plugins grant NAME ...` / `host plugins revoke NAME ...`, or by hand",
            inert(&path.display().to_string())
        );
    }
    let plugins: BTreeMap<String, PluginGrant> = manifests
        .iter()
        .map(|m| (m.name.clone(), admin::requested(m)))
        .collect();
    let admin = AdminGrants { path, plugins };
    admin::save(&admin)?;
    output::line(&format!(
        "wrote `{}`, granting exactly what {} manifest(s) request; review it: from now on a manifest only asks",
        inert(&admin.path.display().to_string()),
        manifests.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The folder's grants file, which must exist for grant and revoke.
pub(crate) fn existing(dir: &Path) -> anyhow::Result<AdminGrants> {
    admin::load(dir)?.with_context(|| {
        let dir = inert(&dir.display().to_string());
        format!(
            "plugins folder `{dir}` has no {GRANTS_FILE} yet\nhint: create it from the current requests with `host plugins grant --all-requested --plugins {dir}`, review it, then grant or revoke"
        )
    })
}

/// Refuse a name no plugin in the folder has (a typo would grant nothing).
pub(crate) fn require_plugin(dir: &Path, manifests: &[Manifest], name: &str) -> anyhow::Result<()> {
    if manifests.iter().any(|m| m.name == name) {
        return Ok(());
    }
    let names: Vec<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
    bail!(
        "no plugin named `{}` in `{}`\nhint: the plugins there are: {}",
        inert(name),
        inert(&dir.display().to_string()),
        names.join(", ")
    )
}

/// Print the plugin's table as it now stands in the file.
pub(crate) fn print_entry(admin: &AdminGrants, name: &str) -> anyhow::Result<()> {
    let mut one = AdminGrants {
        path: admin.path.clone(),
        plugins: BTreeMap::new(),
    };
    if let Some(grant) = admin.plugins.get(name) {
        one.plugins.insert(name.to_string(), grant.clone());
    }
    let mut shown = format!(
        "`{}` now grants `{}`:\n",
        inert(&admin.path.display().to_string()),
        inert(name)
    );
    let text = toml::to_string(&one.plugins).context("cannot show the grant")?;
    if text.trim().is_empty() {
        shown.push_str("  nothing\n");
    }
    for line in text.lines() {
        shown.push_str(&format!("  {}\n", inert(line)));
    }
    output::print(&shown)?;
    Ok(())
}
