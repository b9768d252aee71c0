//! Capability grants: the one place where a manifest's `[grants]` become a
//! sandbox.
//!
//! Everything a plugin can touch is decided here and nowhere else:
//!
//! * [`ResolvedGrants::resolve`] runs once per plugin, when it is loaded. It
//!   turns the manifest's mounts into canonical host directories and refuses
//!   the dangerous ones (missing, not a directory, reached through a symlink,
//!   or overlapping the host's own state, cache and journal directories),
//!   then **opens each mount once**: from then on the plugin's mount is that
//!   open directory handle, not a path, so renaming the directory, replacing
//!   it or swapping its path for a symlink after load changes nothing the
//!   plugin can reach. It fixes the guest's environment (inherited variables
//!   are read now, not per call), and it resolves the network grant to the
//!   socket addresses the plugin may reach ([`net`]).
//! * [`ResolvedGrants::wasi_ctx`] runs once per invocation and builds the WASI
//!   context from the resolved grants only: the granted preopens with their
//!   modes (shared handles to the directories opened at load: no system call
//!   per call), exactly the granted environment, no arguments, no stdin,
//!   sockets gated by the network grant's address check, and stdout/stderr
//!   into bounded in-memory pipes. It is on every call's hot path. Sharing a
//!   directory handle between calls shares no state a guest can see: every
//!   operation through it is an `*at` system call relative to the directory,
//!   listing a directory opens a new descriptor, and each call's store has
//!   its own resource table.
//! * [`ResolvedGrants::check_write`] decides whether a write a plugin
//!   *proposes* falls under its `writes` grant.
//!
//! Denials are typed errors that name the plugin, the manifest, the key and
//! the grant that would allow the action.

pub mod admin;
pub mod net;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use self::net::{DenialSink, NetPolicy};
use crate::manifest::{EnvGrant, Manifest, MountMode, MountSource};

/// Proposed write paths longer than this are refused outright.
pub const MAX_WRITE_PATH_BYTES: usize = 1024;

/// What grant resolution needs to know about the host.
#[derive(Debug, Clone, Copy)]
pub struct GrantContext<'a> {
    /// The run's workspace, substituted for `${workspace}`.
    pub workspace: &'a Path,
    /// The host's own state, cache and journal directories. No mount may be
    /// one of them, contain one, or lie inside one.
    pub protected: &'a [PathBuf],
}

/// A host directory a plugin may see, after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMount {
    /// Canonical host directory.
    pub host: PathBuf,
    /// Absolute guest path.
    pub guest: String,
    pub mode: MountMode,
}

/// A plugin's grants, resolved against the file system and the host's
/// environment. Built once per plugin by [`ResolvedGrants::resolve`].
#[derive(Clone)]
pub struct ResolvedGrants {
    plugin: String,
    manifest: PathBuf,
    mounts: Vec<ResolvedMount>,
    /// The mounts' directories, opened at load, as wasmtime-wasi preopens.
    /// Cloning it clones handles (`Arc`s), not descriptors.
    preopens: WasiFilesystemCtx,
    env: Vec<(String, String)>,
    writes: Vec<String>,
    network: Arc<NetPolicy>,
}

/// Which directory a path names: on Unix its device and inode, elsewhere its
/// canonical path. Taken before and after a mount is opened, so the handle
/// is known to be the directory that was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DirIdentity {
    #[cfg(unix)]
    Inode { dev: u64, ino: u64 },
    #[cfg(not(unix))]
    Canonical(PathBuf),
}

impl DirIdentity {
    /// The identity of the directory `path` names now (one `stat` on Unix).
    fn of(path: &Path) -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let meta = std::fs::metadata(path)?;
            Ok(Self::Inode {
                dev: meta.dev(),
                ino: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            std::fs::canonicalize(path).map(Self::Canonical)
        }
    }
}

/// Check that `host` still names the directory `identity` was taken of:
/// called right after the mount is opened by path, so the handle is known
/// to be the directory that was checked. Returns what changed.
fn still_the_same(host: &Path, identity: &DirIdentity) -> Result<(), String> {
    match DirIdentity::of(host) {
        Ok(now) if now == *identity => Ok(()),
        Ok(_) => Err(match std::fs::canonicalize(host) {
            Ok(now) if now != host => format!("it now resolves to `{}`", now.display()),
            _ => "it is no longer the directory that was checked".to_string(),
        }),
        Err(e) => Err(e.to_string()),
    }
}

impl std::fmt::Debug for ResolvedGrants {
    // Environment values may be secrets (API keys); keep them out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ResolvedGrants")
            .field("plugin", &self.plugin)
            .field("manifest", &self.manifest)
            .field("mounts", &self.mounts)
            .field("env_keys", &env_keys)
            .field("writes", &self.writes)
            .field("network", &self.network.entries())
            .finish()
    }
}

/// Why a plugin's grants could not be resolved or applied.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error(
        "plugin `{plugin}`: key `{key}` in `{manifest}`: cannot open mount directory `{path}`: {error}\nhint: create the directory, or fix the path in the manifest"
    )]
    MountMissing {
        plugin: String,
        manifest: PathBuf,
        key: String,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "plugin `{plugin}`: key `{key}` in `{manifest}`: `{path}` is not a directory\nhint: mounts grant whole directories; mount the folder that holds the file"
    )]
    NotADirectory {
        plugin: String,
        manifest: PathBuf,
        key: String,
        path: PathBuf,
    },
    #[error(
        "plugin `{plugin}`: key `{key}` in `{manifest}`: `{claimed}` goes through a symlink to `{actual}`; mounts through symlinks are refused\nhint: name the real directory `{actual}` instead"
    )]
    Symlink {
        plugin: String,
        manifest: PathBuf,
        key: String,
        claimed: PathBuf,
        actual: PathBuf,
    },
    #[error(
        "plugin `{plugin}`: key `{key}` in `{manifest}`: mount `{path}` overlaps the host's own directory `{protected}`\nhint: the host's state, cache and journal can never be granted; mount a directory that neither contains nor lies inside `{protected}`"
    )]
    Protected {
        plugin: String,
        manifest: PathBuf,
        key: String,
        path: PathBuf,
        protected: PathBuf,
    },
    #[error(
        "plugin `{plugin}`: key `{key}` in `{manifest}`: cannot resolve `{entry}`: {error}\nhint: network grants are resolved when the plugin is loaded; check the name (and this machine's resolver), or grant the IP address instead"
    )]
    NetworkUnresolvable {
        plugin: String,
        manifest: PathBuf,
        key: String,
        entry: String,
        error: std::io::Error,
    },
    #[error(
        "plugin `{plugin}`: key `{key}` in `{manifest}`: mount directory `{path}` changed while the plugin was being loaded ({detail})\nhint: load the plugin again; if the directory was replaced by a symlink, find out who did it"
    )]
    Changed {
        plugin: String,
        manifest: PathBuf,
        key: String,
        path: PathBuf,
        detail: String,
    },
}

impl ResolvedGrants {
    /// Resolve a manifest's grants against the file system and environment.
    pub fn resolve(manifest: &Manifest, ctx: &GrantContext<'_>) -> Result<Self, GrantError> {
        let protected: Vec<(PathBuf, Option<PathBuf>)> = ctx
            .protected
            .iter()
            .map(|p| {
                let lexical = lexical_absolute(p);
                let canonical = std::fs::canonicalize(p).ok();
                (lexical, canonical)
            })
            .collect();

        let mut mounts = Vec::with_capacity(manifest.grants.mounts.len());
        let mut preopens = WasiCtxBuilder::new();
        for (i, mount) in manifest.grants.mounts.iter().enumerate() {
            let key = format!("grants.mounts[{i}].host");
            let claimed = match &mount.host {
                MountSource::Workspace => lexical_absolute(ctx.workspace),
                MountSource::Path(p) => lexical_absolute(p),
            };
            let host = canonical_dir(manifest, &key, &claimed)?;
            for (lexical, canonical) in &protected {
                for p in std::iter::once(lexical).chain(canonical.iter()) {
                    if host.starts_with(p) || p.starts_with(&host) {
                        return Err(GrantError::Protected {
                            plugin: manifest.name.clone(),
                            manifest: manifest.path.clone(),
                            key,
                            path: host,
                            protected: p.clone(),
                        });
                    }
                }
            }
            let identity = DirIdentity::of(&host).map_err(|error| GrantError::MountMissing {
                plugin: manifest.name.clone(),
                manifest: manifest.path.clone(),
                key: key.clone(),
                path: host.clone(),
                error,
            })?;
            let perms = match mount.mode {
                MountMode::Read => FsPerms::ReadOnly,
                MountMode::ReadWrite => FsPerms::ReadWrite,
            };
            preopens
                .preopened_dir(&host, &mount.guest, perms)
                .map_err(|e| GrantError::MountMissing {
                    plugin: manifest.name.clone(),
                    manifest: manifest.path.clone(),
                    key: key.clone(),
                    path: host.clone(),
                    error: std::io::Error::other(format!("{e:#}")),
                })?;
            still_the_same(&host, &identity).map_err(|detail| GrantError::Changed {
                plugin: manifest.name.clone(),
                manifest: manifest.path.clone(),
                key: key.clone(),
                path: host.clone(),
                detail,
            })?;
            mounts.push(ResolvedMount {
                host,
                guest: mount.guest.clone(),
                mode: mount.mode,
            });
        }

        let mut env = Vec::with_capacity(manifest.grants.env.len());
        for grant in &manifest.grants.env {
            match grant {
                EnvGrant::Value { key, value } => env.push((key.clone(), value.clone())),
                EnvGrant::Inherit { key } => match std::env::var(key) {
                    Ok(value) => env.push((key.clone(), value)),
                    Err(std::env::VarError::NotPresent) => {
                        tracing::debug!(plugin = %manifest.name, key, "inherited variable is not set; not passed");
                    }
                    Err(std::env::VarError::NotUnicode(_)) => {
                        tracing::warn!(plugin = %manifest.name, key, "inherited variable is not valid UTF-8; not passed");
                    }
                },
            }
        }

        let network = NetPolicy::resolve(
            &manifest.name,
            manifest.path.clone(),
            &manifest.grants.network,
            &net::system_resolver,
        )
        .map_err(|e| GrantError::NetworkUnresolvable {
            plugin: manifest.name.clone(),
            manifest: manifest.path.clone(),
            key: format!("grants.network[{}]", e.index),
            entry: e.entry,
            error: e.error,
        })?;

        Ok(Self {
            plugin: manifest.name.clone(),
            manifest: manifest.path.clone(),
            mounts,
            preopens: preopens.build().filesystem().clone(),
            env,
            writes: manifest.grants.writes.clone(),
            network: Arc::new(network),
        })
    }

    /// The plugin these grants belong to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The resolved mounts, in manifest order.
    pub fn mounts(&self) -> &[ResolvedMount] {
        &self.mounts
    }

    /// Names of the environment variables the guest will see (values are not
    /// exposed: they may be secrets).
    pub fn env_keys(&self) -> impl Iterator<Item = &str> {
        self.env.iter().map(|(k, _)| k.as_str())
    }

    /// The granted `writes` prefixes.
    pub fn writes(&self) -> &[String] {
        &self.writes
    }

    /// The resolved network grant.
    pub fn network(&self) -> &Arc<NetPolicy> {
        &self.network
    }

    /// Build the WASI context of one invocation.
    ///
    /// Exactly the granted preopens and environment; no arguments, no stdin;
    /// sockets only where the network grant allows, each denial reported to
    /// `denials`. The preopens are the directories opened at load.
    pub fn wasi_ctx(
        &self,
        stdout: MemoryOutputPipe,
        stderr: MemoryOutputPipe,
        denials: DenialSink,
    ) -> WasiCtx {
        let mut builder = WasiCtxBuilder::new();
        builder.envs(&self.env);
        builder.stdout(stdout);
        builder.stderr(stderr);
        // TCP and UDP sockets can be created by every plugin, granted or
        // not: the address check below is the gate, and it is what sees the
        // address a plugin tried, so a denial can name it and the grant that
        // would allow it. Without a grant it allows nothing but the implicit
        // ephemeral bind that precedes every connect. Name lookups are
        // filtered by name before they reach wasmtime-wasi (see
        // `runtime::network`); the switch here is the second wall.
        let policy = Arc::clone(&self.network);
        builder
            .allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(policy.has_names())
            .socket_addr_check(move |addr, usage| {
                let verdict = policy.check_socket(addr, usage);
                if let Err(denial) = &verdict
                    && !matches!(usage, wasmtime_wasi::sockets::SocketAddrUse::UdpReceive)
                {
                    // Datagrams from other senders are dropped silently: a
                    // stranger could otherwise flood the plugin's log.
                    denials(policy.render(denial));
                }
                let allowed = verdict.is_ok();
                Box::pin(async move { allowed })
            });
        let mut ctx = builder.build();
        *ctx.filesystem() = self.preopens.clone();
        ctx
    }

    /// Check a proposed write path against the plugin's `writes` grant.
    /// Returns the normalized path.
    pub fn check_write(&self, path: &str) -> Result<String, WriteDenied> {
        let deny = |reason: WriteDenialReason| WriteDenied {
            plugin: self.plugin.clone(),
            manifest: self.manifest.clone(),
            path: path.to_string(),
            reason,
            allowed: self.writes.clone(),
        };
        validate_write_path(path).map_err(deny)?;
        if self
            .writes
            .iter()
            .any(|prefix| prefix_matches(prefix, path))
        {
            Ok(path.to_string())
        } else {
            Err(deny(WriteDenialReason::NotGranted))
        }
    }
}

/// Why a proposed write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteDenialReason {
    Empty,
    TooLong,
    Absolute,
    Backslash,
    ControlChar,
    ParentSegment,
    CurrentSegment,
    EmptySegment,
    TrailingSlash,
    NotGranted,
}

impl std::fmt::Display for WriteDenialReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "the path is empty",
            Self::TooLong => "the path is too long",
            Self::Absolute => "absolute paths are not allowed",
            Self::Backslash => "backslashes are not allowed; separate segments with `/`",
            Self::ControlChar => {
                "control, bidi and invisible characters are not allowed; name the file with visible characters"
            }
            Self::ParentSegment => "`..` segments are not allowed",
            Self::CurrentSegment => "`.` segments are not allowed",
            Self::EmptySegment => "empty segments (`//`) are not allowed",
            Self::TrailingSlash => "the path ends in `/`; a write names a file",
            Self::NotGranted => "the path is outside the plugin's `writes` grant",
        })
    }
}

/// A proposed write outside a plugin's grant, or a malformed write path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteDenied {
    pub plugin: String,
    pub manifest: PathBuf,
    /// The path exactly as the plugin proposed it (untrusted; render with
    /// [`crate::render::inert`]).
    pub path: String,
    pub reason: WriteDenialReason,
    /// The plugin's granted prefixes.
    pub allowed: Vec<String>,
}

impl std::fmt::Display for WriteDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plugin `{}` may not propose a write to `{}`: {}\nhint: writes are granted in `{}` under `[grants] writes = [...]`; ",
            self.plugin,
            crate::render::inert(&self.path),
            self.reason,
            self.manifest.display(),
        )?;
        if self.allowed.is_empty() {
            f.write_str("the plugin is allowed no writes")
        } else {
            write!(f, "the plugin is allowed: {}", self.allowed.join(", "))
        }
    }
}

impl std::error::Error for WriteDenied {}

fn validate_write_path(path: &str) -> Result<(), WriteDenialReason> {
    use WriteDenialReason as R;
    if path.is_empty() {
        return Err(R::Empty);
    }
    if path.len() > MAX_WRITE_PATH_BYTES {
        return Err(R::TooLong);
    }
    if path.chars().any(crate::render::is_dangerous) {
        return Err(R::ControlChar);
    }
    if path.contains('\\') {
        return Err(R::Backslash);
    }
    if path.starts_with('/') {
        return Err(R::Absolute);
    }
    if path.ends_with('/') {
        return Err(R::TrailingSlash);
    }
    for segment in path.split('/') {
        match segment {
            "" => return Err(R::EmptySegment),
            "." => return Err(R::CurrentSegment),
            ".." => return Err(R::ParentSegment),
            _ => {}
        }
    }
    Ok(())
}

/// `reports/` matches paths inside `reports`; `reports` matches the file
/// `reports` and paths inside a directory `reports`, never `reportsx`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Canonicalize a mount's host directory and refuse it if it is missing, not
/// a directory, or reached through a symlink.
fn canonical_dir(manifest: &Manifest, key: &str, claimed: &Path) -> Result<PathBuf, GrantError> {
    let canonical = std::fs::canonicalize(claimed).map_err(|error| GrantError::MountMissing {
        plugin: manifest.name.clone(),
        manifest: manifest.path.clone(),
        key: key.to_string(),
        path: claimed.to_path_buf(),
        error,
    })?;
    if canonical != claimed {
        return Err(GrantError::Symlink {
            plugin: manifest.name.clone(),
            manifest: manifest.path.clone(),
            key: key.to_string(),
            claimed: claimed.to_path_buf(),
            actual: canonical,
        });
    }
    if !canonical.is_dir() {
        return Err(GrantError::NotADirectory {
            plugin: manifest.name.clone(),
            manifest: manifest.path.clone(),
            key: key.to_string(),
            path: canonical,
        });
    }
    Ok(canonical)
}

/// Absolute form of `p` with `.` removed and `..` applied lexically. Compared
/// with the canonical path, any symlink on the way shows up as a difference.
fn lexical_absolute(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Grants, Limits, Mount, PluginKind};

    fn manifest(mounts: Vec<Mount>, env: Vec<EnvGrant>, writes: &[&str]) -> Manifest {
        Manifest {
            path: PathBuf::from("/plugins/draft-report/plugin.toml"),
            dir: PathBuf::from("/plugins/draft-report"),
            name: "draft-report".into(),
            kind: PluginKind::Tool,
            component: PathBuf::from("/plugins/draft-report/p.wasm"),
            sha256: None,
            build: None,
            grants: Grants {
                mounts,
                env,
                writes: writes.iter().map(|s| s.to_string()).collect(),
                network: Vec::new(),
            },
            limits: Limits::default(),
        }
    }

    fn mount(host: MountSource, guest: &str, mode: MountMode) -> Mount {
        Mount {
            host,
            guest: guest.into(),
            mode,
        }
    }

    /// A temp dir under its canonical path, so tests are not confused by a
    /// symlinked temp root (macOS).
    fn tempdir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonicalize");
        (dir, root)
    }

    fn resolve(
        m: &Manifest,
        workspace: &Path,
        protected: &[PathBuf],
    ) -> Result<ResolvedGrants, GrantError> {
        ResolvedGrants::resolve(
            m,
            &GrantContext {
                workspace,
                protected,
            },
        )
    }

    fn resolve_ok(m: &Manifest, workspace: &Path, protected: &[PathBuf]) -> ResolvedGrants {
        match resolve(m, workspace, protected) {
            Ok(g) => g,
            Err(e) => panic!("expected grants to resolve: {e}"),
        }
    }

    fn resolve_err(m: &Manifest, workspace: &Path, protected: &[PathBuf]) -> GrantError {
        match resolve(m, workspace, protected) {
            Ok(g) => panic!("expected an error, got {g:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn workspace_and_paths_resolve_to_canonical_dirs() {
        let (_t, root) = tempdir();
        let ws = root.join("ws");
        let data = root.join("data");
        std::fs::create_dir_all(&ws).expect("mkdir");
        std::fs::create_dir_all(&data).expect("mkdir");
        let m = manifest(
            vec![
                mount(MountSource::Workspace, "/workspace", MountMode::Read),
                mount(
                    MountSource::Path(data.clone()),
                    "/data",
                    MountMode::ReadWrite,
                ),
            ],
            vec![],
            &[],
        );
        // `.` and `..` in the workspace argument are resolved lexically.
        let g = resolve_ok(&m, &ws.join(".").join("..").join("ws"), &[]);
        assert_eq!(
            g.mounts(),
            &[
                ResolvedMount {
                    host: ws,
                    guest: "/workspace".into(),
                    mode: MountMode::Read
                },
                ResolvedMount {
                    host: data,
                    guest: "/data".into(),
                    mode: MountMode::ReadWrite
                },
            ]
        );
    }

    #[test]
    fn missing_mount_is_refused_with_key_and_hint() {
        let (_t, root) = tempdir();
        let m = manifest(
            vec![mount(
                MountSource::Path(root.join("nope")),
                "/d",
                MountMode::Read,
            )],
            vec![],
            &[],
        );
        let e = resolve_err(&m, &root, &[]);
        assert!(matches!(e, GrantError::MountMissing { .. }), "{e:?}");
        let s = e.to_string();
        for needle in [
            "draft-report",
            "grants.mounts[0].host",
            "/plugins/draft-report/plugin.toml",
            "\nhint:",
        ] {
            assert!(s.contains(needle), "expected `{needle}` in: {s}");
        }
    }

    #[test]
    fn file_mount_is_refused() {
        let (_t, root) = tempdir();
        let file = root.join("f.txt");
        std::fs::write(&file, "x").expect("write");
        let m = manifest(
            vec![mount(MountSource::Path(file), "/d", MountMode::Read)],
            vec![],
            &[],
        );
        assert!(matches!(
            resolve_err(&m, &root, &[]),
            GrantError::NotADirectory { .. }
        ));
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_mount_is_refused() {
        let (_t, root) = tempdir();
        let real = root.join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let link = root.join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let m = manifest(
            vec![mount(
                MountSource::Path(link.clone()),
                "/d",
                MountMode::Read,
            )],
            vec![],
            &[],
        );
        let e = resolve_err(&m, &root, &[]);
        match &e {
            GrantError::Symlink {
                claimed, actual, ..
            } => {
                assert_eq!(claimed, &link);
                assert_eq!(actual, &real);
            }
            other => panic!("expected a symlink error, got {other:?}"),
        }

        // A symlink in the middle of the path is refused too.
        std::fs::create_dir(real.join("sub")).expect("mkdir");
        let m = manifest(
            vec![mount(
                MountSource::Path(link.join("sub")),
                "/d",
                MountMode::Read,
            )],
            vec![],
            &[],
        );
        assert!(matches!(
            resolve_err(&m, &root, &[]),
            GrantError::Symlink { .. }
        ));

        // And through `${workspace}`.
        let m = manifest(
            vec![mount(MountSource::Workspace, "/w", MountMode::Read)],
            vec![],
            &[],
        );
        assert!(matches!(
            resolve_err(&m, &link, &[]),
            GrantError::Symlink { .. }
        ));
    }

    #[test]
    fn protected_dirs_cannot_be_mounted_nor_their_ancestors_or_descendants() {
        let (_t, root) = tempdir();
        let state = root.join("ws").join(".harness");
        let cache = root.join("cache");
        std::fs::create_dir_all(state.join("runs")).expect("mkdir");
        std::fs::create_dir_all(&cache).expect("mkdir");
        // A protected dir that does not exist yet still counts.
        let journal = root.join("journal-to-be");
        let protected = vec![state.clone(), cache.clone(), journal.clone()];
        std::fs::create_dir_all(root.join("other")).expect("mkdir");

        for (host, why) in [
            (state.clone(), "equal"),
            (state.join("runs"), "inside"),
            (root.join("ws"), "contains"),
            (cache.clone(), "equal"),
            (root.clone(), "contains not-yet-created"),
        ] {
            let m = manifest(
                vec![mount(
                    MountSource::Path(host.clone()),
                    "/d",
                    MountMode::Read,
                )],
                vec![],
                &[],
            );
            let e = resolve_err(&m, &root, &protected);
            assert!(matches!(e, GrantError::Protected { .. }), "{why}: {e:?}");
            assert!(e.to_string().contains("grants.mounts[0].host"), "{e}");
        }
        let m = manifest(
            vec![mount(
                MountSource::Path(root.join("other")),
                "/d",
                MountMode::Read,
            )],
            vec![],
            &[],
        );
        resolve_ok(&m, &root, &protected);
    }

    #[test]
    fn env_values_and_inherited_vars() {
        // PATH is inherited from the test's own environment, so no test has to
        // mutate the process environment.
        let path = std::env::var("PATH").ok();
        let m = manifest(
            vec![],
            vec![
                EnvGrant::Value {
                    key: "MODE".into(),
                    value: "fast".into(),
                },
                EnvGrant::Inherit { key: "PATH".into() },
                EnvGrant::Inherit {
                    key: "HARNESS_GRANTS_TEST_SURELY_UNSET".into(),
                },
            ],
            &[],
        );
        let (_t, root) = tempdir();
        let g = resolve_ok(&m, &root, &[]);
        let mut expected = vec![("MODE".to_string(), "fast".to_string())];
        if let Some(path) = &path {
            expected.push(("PATH".to_string(), path.clone()));
        }
        assert_eq!(g.env, expected);
        assert!(
            !format!("{g:?}").contains("fast"),
            "values stay out of Debug"
        );
    }

    #[test]
    fn a_mount_changed_between_check_and_open_is_named() {
        let (_t, root) = tempdir();
        let ws = root.join("ws");
        let other = root.join("other");
        std::fs::create_dir(&ws).expect("mkdir");
        std::fs::create_dir(&other).expect("mkdir");
        let ws_id = DirIdentity::of(&ws).expect("stat");
        still_the_same(&ws, &ws_id).expect("same directory");
        // The path was re-pointed between the checks and the open.
        let detail = still_the_same(&other, &ws_id).expect_err("another directory");
        assert!(detail.contains("no longer the directory"), "{detail}");
        #[cfg(unix)]
        {
            let link = root.join("link");
            std::os::unix::fs::symlink(&other, &link).expect("symlink");
            let detail = still_the_same(&link, &ws_id).expect_err("a symlink elsewhere");
            assert!(detail.contains("now resolves to"), "{detail}");
        }
        let missing = still_the_same(&root.join("gone"), &ws_id).expect_err("missing");
        assert!(!missing.is_empty());
    }

    fn grants_with_writes(writes: &[&str]) -> ResolvedGrants {
        let (_t, root) = tempdir();
        resolve_ok(&manifest(vec![], vec![], writes), &root, &[])
    }

    #[test]
    fn writes_inside_granted_prefixes_pass() {
        let g = grants_with_writes(&["reports/", "notes", "a/b/"]);
        for ok in [
            "reports/x.md",
            "reports/2024/x.md",
            "notes",
            "notes/n.txt",
            "a/b/c",
        ] {
            assert_eq!(g.check_write(ok).as_deref(), Ok(ok), "{ok}");
        }
    }

    #[test]
    fn writes_outside_or_malformed_are_denied_with_reason() {
        use WriteDenialReason as R;
        let g = grants_with_writes(&["reports/", "notes"]);
        for (path, reason) in [
            ("", R::Empty),
            ("/etc/passwd", R::Absolute),
            ("../etc/passwd", R::ParentSegment),
            ("reports/../../x", R::ParentSegment),
            ("reports/./x", R::CurrentSegment),
            ("./reports/x", R::CurrentSegment),
            ("reports//x", R::EmptySegment),
            ("reports\\x", R::Backslash),
            ("reports/x\0", R::ControlChar),
            ("reports/\x1b[31mred", R::ControlChar),
            ("reports/dir/", R::TrailingSlash),
            ("reports", R::NotGranted),
            ("reportsx/y", R::NotGranted),
            ("notesx", R::NotGranted),
            ("other/x", R::NotGranted),
        ] {
            match g.check_write(path) {
                Ok(p) => panic!("expected `{path:?}` to be denied, got {p}"),
                Err(e) => assert_eq!(e.reason, reason, "{path:?}"),
            }
        }
        let long = format!("reports/{}", "a".repeat(MAX_WRITE_PATH_BYTES));
        assert_eq!(g.check_write(&long).map_err(|e| e.reason), Err(R::TooLong));
    }

    #[test]
    fn nothing_granted_denies_everything() {
        let g = grants_with_writes(&[]);
        let e = g.check_write("x").expect_err("denied");
        assert!(
            e.to_string().ends_with("the plugin is allowed no writes"),
            "{e}"
        );
    }

    #[test]
    fn write_denial_message_names_plugin_path_and_grant() {
        let g = grants_with_writes(&["reports/"]);
        let e = g.check_write("../etc/passwd").expect_err("denied");
        assert_eq!(
            e.to_string(),
            "plugin `draft-report` may not propose a write to `../etc/passwd`: `..` segments are not allowed\n\
             hint: writes are granted in `/plugins/draft-report/plugin.toml` under `[grants] writes = [...]`; \
             the plugin is allowed: reports/"
        );
    }

    #[test]
    fn denied_paths_are_rendered_inert() {
        let g = grants_with_writes(&["reports/"]);
        let e = g
            .check_write("x/\x1b[2J\u{202E}txt.exe\nhint: fake")
            .expect_err("denied");
        let s = e.to_string();
        assert!(!s.contains('\x1b') && !s.contains('\u{202E}'), "{s:?}");
        assert_eq!(
            s.matches('\n').count(),
            1,
            "only the hint line breaks: {s:?}"
        );
        assert!(
            s.contains("\\u{001b}[2J\\u{202e}txt.exe\\nhint: fake"),
            "{s}"
        );
    }
}
