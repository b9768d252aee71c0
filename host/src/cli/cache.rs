//! `host cache`: show and clear the compile cache (precompiled components,
//! keyed by the component's sha256 and the engine's settings).

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::cli::{Context, EXIT_FAILURE, output};
use crate::manifest;
use crate::render::inert;
use crate::runtime::{self, CacheListing};

/// Show or clear the compile cache.
///
/// Every plugin is compiled to machine code once and cached, keyed by its
/// component's sha256 and this host's engine settings; later loads take
/// about a millisecond instead of a compile. `host cache` alone shows it.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host cache                        entries, sizes, ages, which plugin each belongs to\n  host cache --json                 the same as JSON (also: host cache show --json)\n  host cache clear --yes            the next run compiles its plugins again\n  host cache clear --yes --json     what was removed, as JSON"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Print JSON on stdout instead of text (`host cache` alone, as `show --json`).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Show(ShowArgs),
    Clear(ClearArgs),
}

/// List the cache's entries: component sha256, size, age, the installed
/// plugins built from that component, and whether this host would load it.
#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Folder of plugins whose components are matched against the entries
    /// [default: `plugins` in harness.toml, else plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,

    /// Print JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// Remove every entry (only files the cache wrote; symlinks and other files
/// are left alone). Safe at any time: the next load compiles again.
#[derive(Debug, clap::Args)]
struct ClearArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,

    /// Print what was removed as JSON: `{dir, removed_files, removed_bytes,
    /// ignored}`.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    match args.command {
        None => show(
            &ShowArgs {
                plugins: None,
                json: args.json,
            },
            ctx,
        ),
        Some(Command::Show(mut show_args)) => {
            show_args.json |= args.json;
            show(&show_args, ctx)
        }
        Some(Command::Clear(mut clear_args)) => {
            clear_args.json |= args.json;
            clear(&clear_args, ctx)
        }
    }
}

fn show(args: &ShowArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let listing = runtime::inspect_cache(&ctx.runtime_config())?;
    // Without a plugins folder the entries are listed unattributed.
    let owners = ctx
        .plugins_dir(args.plugins.as_deref())
        .map(|dir| plugins_by_component(&dir))
        .unwrap_or_default();
    let now = SystemTime::now();
    let age = |modified: Option<SystemTime>| {
        modified
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default()
    };
    let owners_of = |sha: Option<&String>| -> Vec<String> {
        sha.and_then(|s| owners.get(s)).cloned().unwrap_or_default()
    };

    if args.json {
        let value = json!({
            "dir": listing.dir,
            "source": match ctx.cache_source() {
                crate::host_dirs::CacheSource::Explicit => "explicit",
                crate::host_dirs::CacheSource::User => "user",
                crate::host_dirs::CacheSource::State => "state",
            },
            "exists": listing.exists,
            "total_bytes": listing.total_bytes(),
            "entries": listing.entries.iter().map(|e| json!({
                "file": e.file.path,
                "component_sha256": e.component_sha256,
                "bytes": e.file.size,
                "age_secs": age(e.file.modified).as_secs(),
                "status": e.status.as_str(),
                "detail": e.status.to_string(),
                "plugins": owners_of(e.component_sha256.as_ref()),
            })).collect::<Vec<_>>(),
            "partial_writes": listing.partial_writes.iter().map(|f| json!({
                "file": f.path,
                "bytes": f.size,
                "age_secs": age(f.modified).as_secs(),
            })).collect::<Vec<_>>(),
            "ignored": listing.ignored,
        });
        output::json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }

    print_header(&listing)?;
    output::line(&format!("  {}", ctx.cache_source().describe()))?;
    if !listing.entries.is_empty() {
        output::line(&format!(
            "{:<14} {:>10} {:>6}  {:<8} PLUGINS",
            "COMPONENT", "SIZE", "AGE", "STATUS"
        ))?;
    }
    for e in &listing.entries {
        let component = e
            .component_sha256
            .as_deref()
            .map_or("?".to_string(), |s| inert(s.get(..12).unwrap_or(s)));
        let plugins = owners_of(e.component_sha256.as_ref());
        let plugins = if plugins.is_empty() {
            "-".to_string()
        } else {
            plugins.join(", ")
        };
        output::line(&format!(
            "{component:<14} {:>10} {:>6}  {:<8} {}",
            human_bytes(e.file.size),
            human_age(age(e.file.modified)),
            e.status.as_str(),
            inert(&plugins)
        ))?;
        if e.status != runtime::EntryStatus::Valid {
            output::line(&format!(
                "  {}: replaced on next use, never loaded",
                e.status
            ))?;
        }
    }
    for f in &listing.partial_writes {
        output::line(&format!(
            "partial write {} ({}): an interrupted write; `host cache clear` removes it",
            inert(&f.path.display().to_string()),
            human_bytes(f.size)
        ))?;
    }
    for path in &listing.ignored {
        output::line(&format!(
            "not the cache's, left alone: {}",
            inert(&path.display().to_string())
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_header(listing: &CacheListing) -> Result<(), output::OutputError> {
    let dir = inert(&listing.dir.display().to_string());
    if !listing.exists {
        return output::line(&format!("compile cache: {dir} (does not exist yet: empty)"));
    }
    output::line(&format!(
        "compile cache: {dir} ({} entr{}, {})",
        listing.entries.len(),
        if listing.entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        human_bytes(listing.total_bytes())
    ))
}

fn clear(args: &ClearArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let dir = ctx.cache_dir();
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to clear the compile cache `{}` without confirmation\nhint: pass --yes",
                inert(&dir.display().to_string())
            );
        }
        output::print(&format!(
            "remove every compiled component in {} ({})? [y/N] ",
            inert(&dir.display().to_string()),
            ctx.cache_source().describe()
        ))?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            output::line("nothing removed")?;
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    }
    let cleared = runtime::clear_cache(dir).with_context(|| {
        format!(
            "cannot clear the compile cache `{}`",
            inert(&dir.display().to_string())
        )
    })?;
    if args.json {
        output::json(&json!({
            "dir": dir,
            "removed_files": cleared.files,
            "removed_bytes": cleared.bytes,
            "ignored": cleared.ignored,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    output::line(&format!(
        "removed {} file(s), {} from {}",
        cleared.files,
        human_bytes(cleared.bytes),
        inert(&dir.display().to_string())
    ))?;
    for path in &cleared.ignored {
        output::line(&format!(
            "not the cache's, left alone: {}",
            inert(&path.display().to_string())
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The names of the plugins in `dir`, by the sha256 of their component
/// file. Best effort: a folder that does not exist or a manifest that does
/// not parse only means fewer entries are attributed.
fn plugins_by_component(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(paths) = manifest::manifest_paths(dir) else {
        return owners;
    };
    for path in paths {
        let Ok(m) = manifest::load(&path) else {
            continue;
        };
        // Read as loading reads it: a regular file, capped at 256 MiB.
        if let Ok(bytes) = crate::bounded_read::read_regular(
            &m.component,
            runtime::MAX_COMPONENT_BYTES,
            "component",
            crate::bounded_read::Symlinks::Follow,
        ) {
            owners
                .entry(hex::encode(Sha256::digest(&bytes)))
                .or_default()
                .push(m.name);
        }
    }
    owners
}

/// `512 B`, `1.5 KiB`, `3.0 MiB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b >= KIB * KIB => format!("{:.1} MiB", b as f64 / (KIB * KIB) as f64),
        b if b >= KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{b} B"),
    }
}

fn human_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(human_age(Duration::from_secs(59)), "59s");
        assert_eq!(human_age(Duration::from_secs(7200)), "2h");
        assert_eq!(human_age(Duration::from_secs(200_000)), "2d");
    }
}
