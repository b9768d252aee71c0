//! The admin's grants (`<plugins-dir>/grants.toml`): what each plugin of a
//! folder may actually use, kept apart from what its manifest asks for.
//!
//! A plugin's `plugin.toml` is written by its author, so its `[grants]` and
//! `[limits]` are only a **request**. The admin's decision lives in one file
//! per plugins folder, one table per plugin, in the same shape:
//!
//! ```toml
//! [search]
//! writes = ["reports/"]
//! network = []
//! env = ["LANG"]
//! mounts = [{ host = "${workspace}", guest = "/workspace", mode = "read" }]
//! [search.limits]
//! memory-mib = 64
//! timeout-ms = 10000
//! ```
//!
//! [`effective`] intersects the two: a plugin runs with its request only if
//! every part of it lies within the grant (each mount granted with the same
//! host and guest path, read-write only if granted read-write; each `writes`
//! prefix inside a granted prefix; each `network` entry granted exactly; each
//! environment key granted; each limit at most the granted ceiling, or the
//! host's default where no ceiling is written). Anything beyond the grant is a
//! [`GrantRefused`] naming every missing part and the `host plugins grant`
//! command that would grant it. A plugin with no table is granted nothing.
//!
//! **Trust roots.** `tls-roots = ["ca/internal.pem"]` in a plugin's table
//! adds PEM files of an internal CA to what the plugin's `https://` requests
//! trust (besides the compiled-in Mozilla roots and its manifest's
//! `[grants] tls-roots`). Paths are absolute or relative to the folder
//! holding `grants.toml`; each file is read when the file is loaded and
//! again when the plugin is, and the effective list is journaled with the
//! other grants ([`GrantSet`]). Roots widen whom a plugin trusts, not where
//! it may connect: that is still only its `network` entries.
//!
//! Environment *values* stay in the manifest (`[grants.env] vars`, or
//! inherited from the host): the admin grants the key. Mount host paths in
//! `grants.toml` are `${workspace}`, absolute, or relative to the plugin's
//! own folder, exactly as in its manifest.
//!
//! **Legacy folders.** A plugins folder without `grants.toml` keeps working:
//! its manifests' requests are taken as granted ([`effective`] with `None`),
//! and [`legacy_warning`] is what the front end prints once per load.
//! `host plugins grant --all-requested` writes the file from the current
//! requests ([`requested`]).
//!
//! **What a run records.** [`GrantSet`] is a plugin's effective grants in the
//! form the journal keeps (environment keys, never values), with a digest
//! over it; `host resume` compares digests and [`describe_changes`] says
//! what changed.
//!
//! **Keeping the file out of the plugins' reach.** The design this module
//! follows assumed the plugins folder is protected like the host's state
//! directory. It is not (a plugin may be granted a read-write data folder
//! inside its own plugin folder, and the test fixtures rely on that), and
//! protecting the whole folder would refuse those mounts. What matters is that
//! no plugin can *rewrite the admin's decision*, so [`check_unwritable`]
//! refuses any read-write mount whose directory contains `grants.toml`: a
//! read-write mount inside a plugin's own folder can reach only that plugin's
//! request, which no longer grants anything.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::{
    self, EnvGrant, Limits, Manifest, MountMode, MountSource, WORKSPACE_PLACEHOLDER,
};

/// The admin's grants file inside a plugins folder.
pub const GRANTS_FILE: &str = "grants.toml";

/// Grants files larger than this are refused before parsing.
pub const MAX_GRANTS_BYTES: u64 = 256 * 1024;

/// The `[<plugin>.limits]` keys, as `--limit` names them.
pub const LIMIT_KEYS: &[&str] = &["memory-mib", "timeout-ms", "max-output-kib", "fuel"];

const MIB: u64 = 1024 * 1024;
const KIB: u64 = 1024;

/// The admin's grants of one plugins folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminGrants {
    /// The `grants.toml` this came from, or will be written to.
    pub path: PathBuf,
    /// One entry per plugin name.
    pub plugins: BTreeMap<String, PluginGrant>,
}

impl AdminGrants {
    /// Where a `tls-roots` entry of this file points: relative entries are
    /// relative to the folder holding the file.
    pub fn tls_root(&self, entry: &str) -> PathBuf {
        let base = self.path.parent().unwrap_or(Path::new(""));
        base.join(entry)
    }
}

/// What the admin grants one plugin: the same keys as a manifest's
/// `[grants]`, environment keys instead of values, and limit ceilings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginGrant {
    /// Relative prefixes under which the plugin may propose writes.
    #[serde(default)]
    pub writes: Vec<String>,
    /// `host:port` entries, spelled as in a manifest.
    #[serde(default)]
    pub network: Vec<String>,
    /// Environment variable names the plugin may receive.
    #[serde(default)]
    pub env: Vec<String>,
    /// Directories the plugin may see, with their modes.
    #[serde(default)]
    pub mounts: Vec<MountGrant>,
    /// Ceilings; a missing one is the host's default.
    #[serde(default, skip_serializing_if = "Ceilings::is_empty")]
    pub limits: Ceilings,
    /// PEM files of extra TLS trust roots (an internal CA) for the plugin's
    /// `https://` requests, added to the ones its manifest names: absolute,
    /// or relative to the folder holding `grants.toml`.
    #[serde(default, rename = "tls-roots", skip_serializing_if = "Vec::is_empty")]
    pub tls_roots: Vec<String>,
}

/// One granted mount: spelled as in a manifest.
pub use super::mounts::MountSpec as MountGrant;

/// Limit ceilings, in the manifest's units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Ceilings {
    /// Most memory the plugin may ask for, in MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Longest the plugin's timeout may be, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Largest output the plugin may be allowed, in KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_kib: Option<u64>,
    /// No ceiling means no fuel limit is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
}

impl Ceilings {
    /// Whether no ceiling is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Set (`Some`) or remove (`None`) the ceiling named `key` (one of [`LIMIT_KEYS`]).
    pub fn set(&mut self, key: &str, value: Option<u64>) -> Result<(), String> {
        let slot = match key {
            "memory-mib" => &mut self.memory_mib,
            "timeout-ms" => &mut self.timeout_ms,
            "max-output-kib" => &mut self.max_output_kib,
            "fuel" => &mut self.fuel,
            other => {
                return Err(format!(
                    "`{}` is not a limit; the limits are {}",
                    crate::render::inert(other),
                    LIMIT_KEYS.join(", ")
                ));
            }
        };
        *slot = value;
        Ok(())
    }
}

/// Why a grants file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AdminGrantsError {
    /// The grants file could not be read.
    #[error("cannot read admin grants `{path}`")]
    Read {
        /// Path of the grants file.
        path: PathBuf,
        /// The read's I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The grants path names a symlink, a directory or another non-file.
    #[error(
        "admin grants `{path}` is not a regular file\nhint: `{GRANTS_FILE}` must be a plain file in the plugins folder (not a symlink or a directory)"
    )]
    NotAFile {
        /// Path of the grants file.
        path: PathBuf,
    },
    /// The grants file is larger than the host reads.
    #[error(
        "admin grants `{path}` is {size} bytes, over the {MAX_GRANTS_BYTES}-byte limit\nhint: the file holds one short table per plugin; remove whatever else is in it"
    )]
    TooLarge {
        /// Path of the grants file.
        path: PathBuf,
        /// The file's size, in bytes.
        size: u64,
    },
    /// The grants file does not parse, or breaks a rule of its format.
    #[error("invalid admin grants `{path}`: {message}\nhint: {hint}")]
    Invalid {
        /// Path of the grants file.
        path: PathBuf,
        /// What is wrong, as the parser or the rule says.
        message: String,
        /// What to change, for the message's `hint:` line.
        hint: String,
    },
    /// The grants file could not be written.
    #[error("cannot write admin grants `{path}`")]
    Write {
        /// Path of the grants file.
        path: PathBuf,
        /// The write's I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Read `<plugins_dir>/grants.toml`; `None` if there is none (a legacy folder).
pub fn load(plugins_dir: &Path) -> Result<Option<AdminGrants>, AdminGrantsError> {
    let path = plugins_dir.join(GRANTS_FILE);
    let read_err = |source| AdminGrantsError::Read {
        path: path.clone(),
        source,
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    if !meta.file_type().is_file() {
        return Err(AdminGrantsError::NotAFile { path });
    }
    if meta.len() > MAX_GRANTS_BYTES {
        return Err(AdminGrantsError::TooLarge {
            path,
            size: meta.len(),
        });
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_GRANTS_BYTES + 1).read_to_string(&mut text))
        .map_err(read_err)?;
    if text.len() as u64 > MAX_GRANTS_BYTES {
        return Err(AdminGrantsError::TooLarge {
            size: text.len() as u64,
            path,
        });
    }
    parse(&text, &path).map(Some)
}

/// Parse and validate grants text; `path` is used in messages and kept.
pub fn parse(text: &str, path: &Path) -> Result<AdminGrants, AdminGrantsError> {
    let plugins: BTreeMap<String, PluginGrant> = toml::from_str(text).map_err(|e| {
        AdminGrantsError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
            hint: "each table is a plugin name holding writes, network, env, mounts and [<name>.limits]; see \"Admin grants\" in README.md".into(),
        }
    })?;
    let admin = AdminGrants {
        path: path.to_path_buf(),
        plugins,
    };
    validate(&admin)?;
    Ok(admin)
}

/// Check every entry the way a manifest's would be checked.
fn validate(admin: &AdminGrants) -> Result<(), AdminGrantsError> {
    let invalid = |message: String, hint: &str| AdminGrantsError::Invalid {
        path: admin.path.clone(),
        message,
        hint: hint.to_string(),
    };
    for (name, grant) in &admin.plugins {
        if !crate::names::is_valid_name(name) {
            return Err(invalid(
                format!(
                    "table `{}` is not a valid plugin name",
                    crate::render::inert(name)
                ),
                &format!(
                    "name each table after a plugin's `[plugin] name` ({})",
                    crate::names::NAME_RULE
                ),
            ));
        }
        // The same rules as a manifest's keys, from each kind of grant.
        let key = |problem: super::capability::KeyProblem| invalid(problem.message, &problem.hint);
        super::writes::parse_prefixes(&format!("{name}.writes"), &grant.writes).map_err(key)?;
        super::net::parse_entries(&format!("{name}.network"), &grant.network).map_err(key)?;
        for var in &grant.env {
            super::env::check_key(&format!("{name}.env"), var).map_err(key)?;
        }
        for (i, mount) in grant.mounts.iter().enumerate() {
            let mount_key = format!("{name}.mounts[{i}]");
            super::mounts::check_spelling(&mount_key, mount).map_err(key)?;
            if grant.mounts[..i].iter().any(|o| o.guest == mount.guest) {
                return Err(invalid(
                    format!(
                        "key `{mount_key}.guest`: `{}` is granted twice",
                        crate::render::inert(&mount.guest)
                    ),
                    "grant each guest path once",
                ));
            }
        }
        const ROOTS_HINT: &str = "name a PEM file holding the CA certificate(s), absolute or relative to the folder holding grants.toml";
        for (i, root) in grant.tls_roots.iter().enumerate() {
            let roots_key = format!("{name}.tls-roots[{i}]");
            super::tls::check_root_spelling(&roots_key, root, ROOTS_HINT).map_err(key)?;
            let path = admin.tls_root(root);
            let problem = if grant.tls_roots[..i]
                .iter()
                .any(|o| admin.tls_root(o) == path)
            {
                Some("is listed twice".to_string())
            } else {
                crate::grants::tls::read_pem(&path).err()
            };
            if let Some(problem) = problem {
                return Err(invalid(
                    format!(
                        "key `{roots_key}`: trust roots `{}` {problem}",
                        crate::render::inert(root)
                    ),
                    ROOTS_HINT,
                ));
            }
        }
        let ceilings = [
            ("memory-mib", grant.limits.memory_mib),
            ("timeout-ms", grant.limits.timeout_ms),
            ("max-output-kib", grant.limits.max_output_kib),
            ("fuel", grant.limits.fuel),
        ];
        for (limit, value) in ceilings {
            super::limits::check_ceiling(name, limit, value).map_err(key)?;
        }
    }
    Ok(())
}

/// The file's text: a header, then one table per plugin.
pub fn to_toml(admin: &AdminGrants) -> Result<String, AdminGrantsError> {
    let body = toml::to_string(&admin.plugins).map_err(|e| AdminGrantsError::Invalid {
        path: admin.path.clone(),
        message: e.to_string(),
        hint: "this is a bug in the host; please report it".into(),
    })?;
    Ok(format!(
        "# Admin grants for this plugins folder: what each plugin may actually use.\n\
         # A plugin's own plugin.toml only asks; it runs with what both allow, and a\n\
         # request beyond this file fails at load. Edit by hand, or with\n\
         # `host plugins grant` / `host plugins revoke` (which rewrite this file).\n\n{body}"
    ))
}

/// Write `admin` to its path atomically, after checking it parses back.
pub fn save(admin: &AdminGrants) -> Result<(), AdminGrantsError> {
    let text = to_toml(admin)?;
    parse(&text, &admin.path)?;
    crate::atomic_file::write(&admin.path, text.as_bytes()).map_err(|source| {
        AdminGrantsError::Write {
            path: admin.path.clone(),
            source,
        }
    })
}

/// What `plugins_dir`'s front end prints when the folder has no grants file.
pub fn legacy_warning(plugins_dir: &Path) -> String {
    let dir = crate::render::inert(&plugins_dir.display().to_string());
    format!(
        "warning: plugins folder `{dir}` has no admin grants file ({GRANTS_FILE}): each plugin gets what its own manifest asks for\n\
         hint: create it from the current requests with `host plugins grant --all-requested --plugins {dir}`, review it, and from then on a manifest only asks"
    )
}

// ---- the intersection -------------------------------------------------------

/// One part of a request the admin did not grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The manifest key that asks for it, e.g. `grants.writes`.
    pub key: String,
    /// What is not granted, in words.
    pub what: String,
    /// The `host plugins grant` flag that grants it, if one does.
    pub flag: Option<String>,
}

/// A plugin asked for more than the admin granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRefused {
    /// The plugin's name in the folder.
    pub plugin: String,
    /// Path of the plugin's manifest, whose `[grants]` asks for more.
    pub manifest: PathBuf,
    /// Path of the admin's grants file.
    pub grants_file: PathBuf,
    /// Each thing asked for but not granted.
    pub missing: Vec<Missing>,
}

impl GrantRefused {
    /// The command that grants everything missing, if flags can express it.
    pub fn grant_command(&self) -> Option<String> {
        let flags: Vec<&str> = self
            .missing
            .iter()
            .filter_map(|m| m.flag.as_deref())
            .collect();
        if flags.is_empty() {
            return None;
        }
        let dir = self.grants_file.parent().unwrap_or(Path::new("."));
        Some(format!(
            "host plugins grant {} {} --plugins {}",
            self.plugin,
            flags.join(" "),
            shell_word(&dir.display().to_string())
        ))
    }
}

impl std::fmt::Display for GrantRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inert = crate::render::inert;
        write!(
            f,
            "plugin `{}` asks for more than `{}` grants it:",
            self.plugin,
            inert(&self.grants_file.display().to_string())
        )?;
        for m in &self.missing {
            write!(
                f,
                "\n  key `{}` in `{}`: {}",
                m.key,
                inert(&self.manifest.display().to_string()),
                m.what
            )?;
        }
        write!(
            f,
            "\nhint: a manifest only asks; the admin's grants file decides. If the admin agrees"
        )?;
        match self.grant_command() {
            Some(cmd) => write!(f, ", grant it with: {}", inert(&cmd)),
            None => write!(f, ", change the file as said above"),
        }?;
        write!(f, "; otherwise lower the request in the manifest")
    }
}

impl std::error::Error for GrantRefused {}

/// The manifest as it runs: its request, if the admin's grants allow all of
/// it. `None` (no grants file) takes the request as granted.
pub fn effective(m: &Manifest, admin: Option<&AdminGrants>) -> Result<Manifest, GrantRefused> {
    let Some(admin) = admin else {
        return Ok(m.clone());
    };
    let none = PluginGrant::default();
    let grant = admin.plugins.get(&m.name).unwrap_or(&none);
    let mut missing = Vec::new();

    for (i, mount) in m.grants.mounts.iter().enumerate() {
        let host = spell_host(m, &mount.host);
        let spec = format!("{host}:{}", mount.guest);
        let granted = grant
            .mounts
            .iter()
            .find(|g| g.guest == mount.guest && resolve_host(m, &g.host) == mount.host);
        match granted {
            None => missing.push(Missing {
                key: format!("grants.mounts[{i}]"),
                what: format!(
                    "mount `{}` at `{}` ({}) is not granted",
                    crate::render::inert(&host),
                    crate::render::inert(&mount.guest),
                    mount.mode
                ),
                flag: Some(format!(
                    "--mount {}",
                    shell_word(&match mount.mode {
                        MountMode::Read => spec,
                        MountMode::ReadWrite => format!("{spec}:rw"),
                    })
                )),
            }),
            Some(g) if mount.mode == MountMode::ReadWrite && g.mode == MountMode::Read => {
                missing.push(Missing {
                    key: format!("grants.mounts[{i}].mode"),
                    what: format!(
                        "mount `{}` at `{}` is granted read only, not read-write",
                        crate::render::inert(&host),
                        crate::render::inert(&mount.guest)
                    ),
                    flag: Some(format!("--mount {}", shell_word(&format!("{spec}:rw")))),
                });
            }
            Some(_) => {}
        }
    }
    for prefix in &m.grants.writes {
        if !grant.writes.iter().any(|g| prefix_within(prefix, g)) {
            missing.push(Missing {
                key: "grants.writes".into(),
                what: format!(
                    "writes under `{}` are not granted",
                    crate::render::inert(prefix)
                ),
                flag: Some(format!("--write {}", shell_word(prefix))),
            });
        }
    }
    for entry in &m.grants.network {
        let granted = grant
            .network
            .iter()
            .filter_map(|g| crate::network_grant::parse_network_entry(g).ok())
            .any(|g| g == *entry);
        if !granted {
            missing.push(Missing {
                key: "grants.network".into(),
                what: format!("network access to `{entry}` is not granted"),
                flag: Some(format!("--network {}", shell_word(&entry.to_string()))),
            });
        }
    }
    for env in &m.grants.env {
        let key = env.key();
        if !grant.env.iter().any(|g| g == key) {
            let manifest_key = match env {
                EnvGrant::Value { .. } => "grants.env.vars",
                EnvGrant::Inherit { .. } => "grants.env.inherit",
            };
            missing.push(Missing {
                key: manifest_key.into(),
                what: format!("environment variable `{key}` is not granted"),
                flag: Some(format!("--env {key}")),
            });
        }
    }
    missing.extend(limits_beyond(&m.name, &m.limits, &grant.limits));

    if missing.is_empty() {
        // The admin's trust roots are added to the plugin's own (trusting
        // more issuers reaches no host the network grant does not name).
        let mut m = m.clone();
        for root in &grant.tls_roots {
            let path = admin.tls_root(root);
            if !m.grants.tls_roots.contains(&path) {
                m.grants.tls_roots.push(path);
            }
        }
        Ok(m)
    } else {
        Err(GrantRefused {
            plugin: m.name.clone(),
            manifest: m.path.clone(),
            grants_file: admin.path.clone(),
            missing,
        })
    }
}

fn limits_beyond(plugin: &str, limits: &Limits, ceilings: &Ceilings) -> Vec<Missing> {
    let defaults = Limits::default();
    let mut missing = Vec::new();
    let mut check = |key: &str, unit: &str, asked: u64, ceiling: Option<u64>, default: u64| {
        let (limit, whose) = match ceiling {
            Some(c) => (c, "the granted ceiling"),
            None => (default, "the host default (no ceiling granted)"),
        };
        if asked > limit {
            missing.push(Missing {
                key: format!("limits.{key}"),
                what: format!("{asked} {unit} is over {whose} of {limit} {unit}"),
                flag: Some(format!("--limit {key}={asked}")),
            });
        }
    };
    check(
        "memory-mib",
        "MiB",
        limits.memory_bytes.div_ceil(MIB),
        ceilings.memory_mib,
        defaults.memory_bytes / MIB,
    );
    check(
        "timeout-ms",
        "ms",
        u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
        ceilings.timeout_ms,
        u64::try_from(defaults.timeout.as_millis()).unwrap_or(u64::MAX),
    );
    check(
        "max-output-kib",
        "KiB",
        limits.max_output_bytes.div_ceil(KIB),
        ceilings.max_output_kib,
        defaults.max_output_bytes / KIB,
    );
    if let Some(ceiling) = ceilings.fuel {
        match limits.fuel {
            Some(asked) if asked <= ceiling => {}
            Some(asked) => missing.push(Missing {
                key: "limits.fuel".into(),
                what: format!("fuel {asked} is over the granted ceiling of {ceiling}"),
                flag: Some(format!("--limit fuel={asked}")),
            }),
            None => missing.push(Missing {
                key: "limits.fuel".into(),
                what: format!(
                    "no fuel limit is asked for, but the admin caps fuel at {ceiling}; set `[limits] fuel` in the manifest to at most {ceiling}, or remove the ceiling with `host plugins revoke {plugin} --limit fuel`"
                ),
                flag: None,
            }),
        }
    }
    missing
}

/// Whether a requested `writes` prefix lies within a granted one (the same
/// prefix rule the write check applies to paths).
fn prefix_within(requested: &str, granted: &str) -> bool {
    if granted.ends_with('/') {
        requested.starts_with(granted)
    } else {
        requested == granted
            || requested
                .strip_prefix(granted)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// A grants-file mount host, resolved as the manifest's would be.
fn resolve_host(m: &Manifest, host: &str) -> MountSource {
    if host == WORKSPACE_PLACEHOLDER {
        MountSource::Workspace
    } else {
        MountSource::Path(manifest::lexically_normal(&m.dir.join(host)))
    }
}

/// How a grants file spells a manifest's mount host: `${workspace}`, a path
/// relative to the plugin's folder if it lies inside it, else absolute.
pub fn spell_host(m: &Manifest, source: &MountSource) -> String {
    match source {
        MountSource::Workspace => WORKSPACE_PLACEHOLDER.to_string(),
        MountSource::Path(p) => match p.strip_prefix(&m.dir) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => p.display().to_string(),
        },
    }
}

/// `word` as one shell word (single-quoted when it holds anything special).
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,[]".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Exactly what `m` asks for, as a grant (for `--all-requested`).
pub fn requested(m: &Manifest) -> PluginGrant {
    let defaults = Limits::default();
    let differs = |asked: u64, default: u64| (asked != default).then_some(asked);
    PluginGrant {
        writes: m.grants.writes.clone(),
        network: m.grants.network.iter().map(ToString::to_string).collect(),
        env: m.grants.env.iter().map(|e| e.key().to_string()).collect(),
        mounts: m
            .grants
            .mounts
            .iter()
            .map(|mount| MountGrant {
                host: spell_host(m, &mount.host),
                guest: mount.guest.clone(),
                mode: mount.mode,
            })
            .collect(),
        limits: Ceilings {
            memory_mib: differs(
                m.limits.memory_bytes.div_ceil(MIB),
                defaults.memory_bytes / MIB,
            ),
            timeout_ms: differs(
                u64::try_from(m.limits.timeout.as_millis()).unwrap_or(u64::MAX),
                u64::try_from(defaults.timeout.as_millis()).unwrap_or(u64::MAX),
            ),
            max_output_kib: differs(
                m.limits.max_output_bytes.div_ceil(KIB),
                defaults.max_output_bytes / KIB,
            ),
            fuel: m.limits.fuel,
        },
        // The manifest's own roots need no grant; the admin adds others.
        tls_roots: Vec::new(),
    }
}

/// Refuse a read-write mount whose directory contains the folder's grants
/// file: a plugin must never be able to rewrite the admin's decision.
/// `workspace` is what `${workspace}` stands for.
pub fn check_unwritable(m: &Manifest, workspace: &Path, plugins_dir: &Path) -> Result<(), String> {
    let Ok(grants_dir) = crate::canonical::canonicalize(plugins_dir) else {
        return Ok(());
    };
    for (i, mount) in m.grants.mounts.iter().enumerate() {
        if mount.mode != MountMode::ReadWrite {
            continue;
        }
        let host = match &mount.host {
            MountSource::Workspace => workspace.to_path_buf(),
            MountSource::Path(p) => p.clone(),
        };
        // A mount that does not resolve is refused later, when grants are resolved.
        let Ok(host) = crate::canonical::canonicalize(&host) else {
            continue;
        };
        if grants_dir.starts_with(&host) {
            return Err(format!(
                "plugin `{}`: key `grants.mounts[{i}]` in `{}`: the read-write mount `{}` contains the plugins folder and its `{GRANTS_FILE}`\nhint: a plugin must not be able to rewrite its own grants; mount a directory outside `{}`, or read-only",
                m.name,
                crate::render::inert(&m.path.display().to_string()),
                crate::render::inert(&host.display().to_string()),
                crate::render::inert(&grants_dir.display().to_string()),
            ));
        }
    }
    Ok(())
}

// ---- what a run records -------------------------------------------------------

/// A plugin's effective grants as the journal records them: environment keys
/// and where their values come from, never the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantSet {
    /// The directories mounted into the sandbox.
    pub mounts: Vec<MountRecord>,
    /// Relative prefixes under which the plugin may propose writes.
    pub writes: Vec<String>,
    /// `host:port` entries the plugin may connect to.
    pub network: Vec<String>,
    /// The environment variables the plugin receives, by name.
    pub env: Vec<EnvRecord>,
    /// The limits the plugin runs under.
    pub limits: LimitRecord,
    /// The PEM files of extra TLS trust roots (manifest's and admin's),
    /// absolute. Left out when there are none, so grant sets recorded
    /// before the key existed keep their digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_roots: Vec<String>,
}

/// One mount as recorded in a [`GrantSet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountRecord {
    /// `${workspace}` or the absolute host directory.
    pub host: String,
    /// Where the directory appears inside the sandbox.
    pub guest: String,
    /// Read-only, or read-write on a private copy.
    pub mode: MountMode,
}

/// One environment variable as recorded in a [`GrantSet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvRecord {
    /// The variable's name.
    pub key: String,
    /// `manifest` (a value written there) or `host` (inherited).
    pub from: &'static str,
}

/// The limits one call runs under, as recorded in a [`GrantSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LimitRecord {
    /// Memory the instance may grow to, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock limit of one call, in milliseconds.
    pub timeout_ms: u64,
    /// Largest output the host accepts from one call, in bytes.
    pub max_output_bytes: u64,
    /// Fuel budget of one call; `None` when no fuel limit applies.
    pub fuel: Option<u64>,
}

impl GrantSet {
    /// The grants `m` runs with (pass the effective manifest).
    pub fn of(m: &Manifest) -> GrantSet {
        GrantSet {
            mounts: m
                .grants
                .mounts
                .iter()
                .map(|mount| MountRecord {
                    host: match &mount.host {
                        MountSource::Workspace => WORKSPACE_PLACEHOLDER.to_string(),
                        MountSource::Path(p) => p.display().to_string(),
                    },
                    guest: mount.guest.clone(),
                    mode: mount.mode,
                })
                .collect(),
            writes: m.grants.writes.clone(),
            network: m.grants.network.iter().map(ToString::to_string).collect(),
            env: m
                .grants
                .env
                .iter()
                .map(|e| EnvRecord {
                    key: e.key().to_string(),
                    from: match e {
                        EnvGrant::Value { .. } => "manifest",
                        EnvGrant::Inherit { .. } => "host",
                    },
                })
                .collect(),
            limits: LimitRecord {
                memory_bytes: m.limits.memory_bytes,
                timeout_ms: u64::try_from(m.limits.timeout.as_millis()).unwrap_or(u64::MAX),
                max_output_bytes: m.limits.max_output_bytes,
                fuel: m.limits.fuel,
            },
            tls_roots: m
                .grants
                .tls_roots
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        }
    }

    /// As JSON, for the journal and `inspect --json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// sha256 of the compact JSON form with sorted keys: exactly what the
    /// journal records as `grants`, so anyone can recompute it from there.
    pub fn digest(&self) -> String {
        digest_of(&self.to_json())
    }
}

/// The digest of recorded grants (see [`GrantSet::digest`]).
pub fn digest_of(grants: &serde_json::Value) -> String {
    // serde_json's maps are sorted (no `preserve_order`), so this is canonical.
    crate::digest::sha256_hex(&serde_json::to_vec(grants).unwrap_or_default())
}

/// What differs between two recorded grant sets (JSON as [`GrantSet`]
/// writes it), one phrase per difference, inert.
pub fn describe_changes(from: &serde_json::Value, to: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let empty = serde_json::Map::new();
    let from_map = from.as_object().unwrap_or(&empty);
    let to_map = to.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = from_map.keys().chain(to_map.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_string(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    for key in keys {
        let a = from_map.get(key).unwrap_or(&Value::Null);
        let b = to_map.get(key).unwrap_or(&Value::Null);
        if a == b {
            continue;
        }
        match (a, b) {
            (Value::Array(_) | Value::Null, Value::Array(_) | Value::Null) => {
                let none = Vec::new();
                let xs = a.as_array().unwrap_or(&none);
                let ys = b.as_array().unwrap_or(&none);
                for y in ys.iter().filter(|y| !xs.contains(y)) {
                    out.push(format!("{key}: added {}", show(y)));
                }
                for x in xs.iter().filter(|x| !ys.contains(x)) {
                    out.push(format!("{key}: removed {}", show(x)));
                }
            }
            (Value::Object(xa), Value::Object(xb)) => {
                let mut sub: Vec<&String> = xa.keys().chain(xb.keys()).collect();
                sub.sort();
                sub.dedup();
                for k in sub {
                    let va = xa.get(k).unwrap_or(&Value::Null);
                    let vb = xb.get(k).unwrap_or(&Value::Null);
                    if va != vb {
                        out.push(format!("{key}.{k}: {} -> {}", show(va), show(vb)));
                    }
                }
            }
            _ => out.push(format!("{key}: {} -> {}", show(a), show(b))),
        }
    }
    if out.is_empty() && from != to {
        out.push("the recorded grants differ".to_string());
    }
    out.into_iter().map(|s| crate::render::inert(&s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[plugin]\nname = \"search\"\nkind = \"tool\"\ncomponent = \"s.wasm\"\n\
        [grants]\nwrites = [\"reports/daily/\"]\nnetwork = [\"127.0.0.1:8080\"]\n\
        [grants.env]\nvars = { MODE = \"x\" }\ninherit = [\"LANG\"]\n\
        [[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/workspace\"\nmode = \"read\"\n\
        [[grants.mounts]]\nhost = \"data\"\nguest = \"/data\"\nmode = \"read-write\"\n\
        [limits]\ntimeout-ms = 20000\n";

    const GRANT: &str = "[search]\nwrites = [\"reports/\"]\nnetwork = [\"127.0.0.1:8080\"]\n\
        env = [\"MODE\", \"LANG\"]\n\
        mounts = [{ host = \"${workspace}\", guest = \"/workspace\", mode = \"read\" },\n\
                  { host = \"./data\", guest = \"/data\", mode = \"read-write\" }]\n\
        [search.limits]\ntimeout-ms = 30000\n";

    fn manifest() -> Manifest {
        manifest::parse(
            MANIFEST,
            Path::new("/plugins/search/plugin.toml"),
            Path::new("/plugins/search"),
        )
        .expect("manifest")
    }

    fn admin(text: &str) -> AdminGrants {
        parse(text, Path::new("/plugins/grants.toml")).expect("grants")
    }

    fn refused(text: &str) -> GrantRefused {
        effective(&manifest(), Some(&admin(text))).expect_err("refused")
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("/plugins/grants.toml"))
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn admin_trust_roots_are_added_resolved_against_the_grants_folder_and_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("ca")).expect("mkdir");
        // Any well-formed certificate will do for reading; rustls checks it
        // as a root when the plugin is loaded.
        let pem = rcgen::generate_simple_self_signed(vec!["ca.internal".to_string()])
            .expect("cert")
            .cert
            .pem();
        std::fs::write(dir.path().join("ca").join("internal.pem"), pem).expect("write");
        let path = dir.path().join(GRANTS_FILE);
        // The key belongs to the `[search]` table, before its limits table.
        let text = GRANT.replacen(
            "[search.limits]",
            "tls-roots = [\"ca/internal.pem\"]\n[search.limits]",
            1,
        );
        let admin = parse(&text, &path).expect("parses");
        let m = effective(&manifest(), Some(&admin)).expect("granted");
        let root = dir.path().join("ca").join("internal.pem");
        assert_eq!(m.grants.tls_roots, std::slice::from_ref(&root));
        let recorded = GrantSet::of(&m).to_json();
        assert_eq!(
            recorded["tls_roots"],
            serde_json::json!([root.display().to_string()])
        );
        // Without roots the record (and its digest) has no such key.
        let plain = GrantSet::of(&manifest()).to_json();
        assert!(plain.get("tls_roots").is_none(), "{plain}");

        for (entry, problem) in [
            ("ca/missing.pem", "cannot be read"),
            ("../ca.pem", "contains `..`"),
        ] {
            let text = GRANT.replacen(
                "[search.limits]",
                &format!("tls-roots = [{entry:?}]\n[search.limits]"),
                1,
            );
            let e = parse(&text, &path).expect_err(entry).to_string();
            assert!(
                e.contains("key `search.tls-roots[0]`") && e.contains(problem),
                "{entry}: {e}"
            );
        }
    }

    #[test]
    fn a_request_within_the_grant_runs_as_requested() {
        let m = manifest();
        let e = effective(&m, Some(&admin(GRANT))).expect("within the grant");
        assert_eq!(e, m);
    }

    #[test]
    fn without_a_grants_file_the_request_is_taken_as_granted() {
        let m = manifest();
        assert_eq!(effective(&m, None).expect("legacy"), m);
        assert!(
            legacy_warning(Path::new("plugins"))
                .contains("host plugins grant --all-requested --plugins plugins")
        );
    }

    #[test]
    fn a_plugin_without_a_table_is_granted_nothing_and_every_part_is_named() {
        let e = refused("[other]\n");
        let keys: Vec<&str> = e.missing.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "grants.mounts[0]",
                "grants.mounts[1]",
                "grants.writes",
                "grants.network",
                "grants.env.vars",
                "grants.env.inherit",
                "limits.timeout-ms"
            ]
        );
        let cmd = e.grant_command().expect("command");
        assert_eq!(
            cmd,
            "host plugins grant search --mount '${workspace}:/workspace' --mount data:/data:rw \
             --write reports/daily/ --network 127.0.0.1:8080 --env MODE --env LANG \
             --limit timeout-ms=20000 --plugins /plugins"
        );
        let text = e.to_string();
        assert!(text.contains("plugin `search`"), "{text}");
        assert!(text.contains("/plugins/search/plugin.toml"), "{text}");
        assert!(text.contains("\nhint: "), "{text}");
    }

    #[test]
    fn each_kind_of_excess_is_refused_with_its_key_and_flag() {
        for (from, to, key, flag) in [
            (
                "\"reports/\"",
                "\"reports/weekly/\"",
                "grants.writes",
                "--write reports/daily/",
            ),
            (
                "127.0.0.1:8080",
                "127.0.0.1:8081",
                "grants.network",
                "--network 127.0.0.1:8080",
            ),
            ("\"MODE\", ", "", "grants.env.vars", "--env MODE"),
            (
                "mode = \"read-write\"",
                "mode = \"read\"",
                "grants.mounts[1].mode",
                "--mount data:/data:rw",
            ),
            (
                "\"./data\"",
                "\"other\"",
                "grants.mounts[1]",
                "--mount data:/data:rw",
            ),
            (
                "guest = \"/workspace\"",
                "guest = \"/ws\"",
                "grants.mounts[0]",
                "--mount '${workspace}:/workspace'",
            ),
            (
                "timeout-ms = 30000",
                "timeout-ms = 19999",
                "limits.timeout-ms",
                "--limit timeout-ms=20000",
            ),
            (
                "[search.limits]\ntimeout-ms = 30000\n",
                "",
                "limits.timeout-ms",
                "--limit timeout-ms=20000",
            ),
        ] {
            let text = GRANT.replace(from, to);
            assert_ne!(text, GRANT, "{from}");
            let e = refused(&text);
            assert_eq!(e.missing.len(), 1, "{from}: {e}");
            assert_eq!(e.missing[0].key, key, "{from}");
            assert_eq!(e.missing[0].flag.as_deref(), Some(flag), "{from}");
        }
    }

    #[test]
    fn a_write_prefix_must_lie_within_a_granted_one() {
        assert!(prefix_within("reports/", "reports/"));
        assert!(prefix_within("reports/daily/", "reports/"));
        assert!(prefix_within("reports/x.md", "reports"));
        assert!(prefix_within("reports", "reports"));
        assert!(!prefix_within("reports", "reports/"));
        assert!(!prefix_within("reportsx/", "reports"));
        assert!(!prefix_within("reports/", "reports/daily/"));
    }

    #[test]
    fn fuel_ceilings_require_a_fuel_limit() {
        let mut m = manifest();
        let grant = format!("{GRANT}fuel = 1000\n");
        let e = effective(&m, Some(&admin(&grant))).expect_err("unlimited fuel asked");
        assert_eq!(e.missing[0].key, "limits.fuel");
        assert_eq!(e.missing[0].flag, None);
        m.limits.fuel = Some(1000);
        effective(&m, Some(&admin(&grant))).expect("within the ceiling");
        m.limits.fuel = Some(1001);
        let e = effective(&m, Some(&admin(&grant))).expect_err("over");
        assert_eq!(e.missing[0].flag.as_deref(), Some("--limit fuel=1001"));
    }

    #[test]
    fn the_file_is_strict() {
        for (text, needle) in [
            ("[search]\nwrtes = []\n", "wrtes"),
            ("[search]\nwrites = []\nwrites = []\n", "writes"),
            ("[Search]\n", "not a valid plugin name"),
            ("[search]\nwrites = [\"../x\"]\n", "search.writes"),
            ("[search]\nnetwork = [\"127.1:80\"]\n", "search.network[0]"),
            (
                "[search]\nnetwork = [\"a.example:1\", \"A.example:1\"]\n",
                "twice",
            ),
            ("[search]\nenv = [\"1X\"]\n", "search.env"),
            (
                "[search]\nmounts = [{ host = \"../up\", guest = \"/x\", mode = \"read\" }]\n",
                "search.mounts[0].host",
            ),
            (
                "[search]\nmounts = [{ host = \"d\", guest = \"x\", mode = \"read\" }]\n",
                "search.mounts[0].guest",
            ),
            (
                "[search]\nmounts = [{ host = \"d\", guest = \"/x\", mode = \"all\" }]\n",
                "mode",
            ),
            (
                "[search.limits]\nmemory-mib = 0\n",
                "search.limits.memory-mib",
            ),
            ("[search.limits]\nmemory = 1\n", "memory"),
            ("search = 1\n", "search"),
        ] {
            let e = parse_err(text);
            assert!(e.contains(needle), "{text:?}: expected `{needle}` in: {e}");
            assert!(
                e.contains("/plugins/grants.toml") && e.contains("\nhint: "),
                "{e}"
            );
        }
    }

    #[test]
    fn the_file_on_disk_is_size_capped_and_regular() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("none"), None);
        let path = dir.path().join(GRANTS_FILE);
        std::fs::write(&path, "#".repeat(MAX_GRANTS_BYTES as usize + 1)).expect("write");
        assert!(matches!(
            load(dir.path()),
            Err(AdminGrantsError::TooLarge { .. })
        ));
        std::fs::remove_file(&path).expect("rm");
        std::fs::write(dir.path().join("real.toml"), GRANT).expect("write");
        std::os::unix::fs::symlink(dir.path().join("real.toml"), &path).expect("symlink");
        assert!(matches!(
            load(dir.path()),
            Err(AdminGrantsError::NotAFile { .. })
        ));
    }

    #[test]
    fn the_request_written_as_a_grant_is_granted_and_round_trips() {
        let m = manifest();
        let mut admin = AdminGrants {
            path: PathBuf::from("/plugins/grants.toml"),
            plugins: BTreeMap::new(),
        };
        admin.plugins.insert(m.name.clone(), requested(&m));
        let text = to_toml(&admin).expect("toml");
        let back = parse(&text, &admin.path).expect("parses back");
        assert_eq!(back, admin);
        assert_eq!(back.plugins["search"].mounts[1].host, "data");
        assert_eq!(back.plugins["search"].limits.timeout_ms, Some(20000));
        assert_eq!(back.plugins["search"].limits.memory_mib, None);
        effective(&m, Some(&back)).expect("granted");
    }

    #[test]
    fn the_digest_covers_what_runs_and_the_changes_are_named() {
        let m = manifest();
        let before = GrantSet::of(&m);
        assert_eq!(before.digest(), GrantSet::of(&m).digest());
        let json = before.to_json();
        let recorded: serde_json::Value =
            serde_json::from_str(&serde_json::to_string_pretty(&json).expect("json"))
                .expect("parse");
        assert_eq!(
            digest_of(&recorded),
            before.digest(),
            "recomputable from the journal"
        );
        assert_eq!(
            json["env"][0],
            serde_json::json!({"key": "MODE", "from": "manifest"})
        );
        assert!(
            !json.to_string().contains("\"x\""),
            "values are not recorded: {json}"
        );
        let mut changed = m.clone();
        changed.grants.writes.push("notes/".into());
        changed.limits.timeout = std::time::Duration::from_millis(5000);
        let after = GrantSet::of(&changed);
        assert_ne!(before.digest(), after.digest());
        assert_eq!(
            describe_changes(&json, &after.to_json()),
            ["limits.timeout_ms: 20000 -> 5000", "writes: added notes/"]
        );
    }

    #[test]
    fn a_read_write_mount_holding_the_grants_file_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let plugins = root.path().join("plugins");
        std::fs::create_dir_all(plugins.join("search").join("data")).expect("mkdir");
        let mut m = manifest();
        m.dir = plugins.join("search");
        m.grants.mounts[1].host = MountSource::Path(plugins.join("search").join("data"));
        check_unwritable(&m, root.path(), &plugins).expect("inside the plugin's own folder");
        m.grants.mounts[0].mode = MountMode::ReadWrite;
        let e = check_unwritable(&m, root.path(), &plugins).expect_err("workspace holds plugins/");
        assert!(e.contains("grants.mounts[0]") && e.contains("hint:"), "{e}");
        check_unwritable(&m, &plugins.join("search"), &plugins).expect("workspace inside");
    }
}
