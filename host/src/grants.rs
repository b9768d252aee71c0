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
//! Each kind of grant lives in its own module, from manifest key to sandbox
//! wiring to denial text: `mounts`, `writes`, `env`, [`net`] (with [`tls`]),
//! `limits`; [`capability`] registers them for `host plugins`, and
//! [`admin`] is the admin's decision on each. Denials are typed errors that
//! name the plugin, the manifest, the key and the grant that would allow the
//! action.

pub mod admin;
pub mod capability;
pub(crate) mod env;
pub(crate) mod limits;
pub(crate) mod mounts;
pub mod net;
pub mod tls;
pub(crate) mod writes;

pub use self::writes::{
    MAX_NAME_BYTES, MAX_WRITE_PATH_BYTES, WriteDenialReason, WriteDenied, sensitive_writes,
};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use self::net::{DenialSink, NetPolicy};
use crate::manifest::{Manifest, MountMode};
use crate::protect::{Protected, ProtectedKind};

/// What grant resolution needs to know about the host.
#[derive(Debug, Clone)]
pub struct GrantContext<'a> {
    /// The run's workspace, substituted for `${workspace}`.
    pub workspace: &'a Path,
    /// Where the run's approved changes go. Read-write mounts must lie
    /// inside it (their changes are proposed writes there), and no `writes`
    /// prefix under it may reach a protected path. `None` when no run is in
    /// sight; then read-write mounts are refused.
    pub out_dir: Option<&'a Path>,
    /// The host's own paths (see [`crate::protect`]). The runtime adds its
    /// compile cache and scratch space itself.
    pub protected: Protected,
}

impl<'a> GrantContext<'a> {
    /// A context for `workspace`, with the output directory the workspace
    /// itself and nothing protected yet.
    pub fn new(workspace: &'a Path) -> Self {
        Self {
            workspace,
            out_dir: Some(workspace),
            protected: Protected::new(),
        }
    }

    /// Approved changes go to `out_dir` instead of the workspace.
    pub fn with_out_dir(mut self, out_dir: &'a Path) -> Self {
        self.out_dir = Some(out_dir);
        self
    }

    /// Protect `paths` as `kind`.
    pub fn protecting(mut self, kind: ProtectedKind, paths: &[PathBuf]) -> Self {
        for p in paths {
            self.protected.add(kind, p);
        }
        self
    }
}

/// A host directory a plugin may see, after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMount {
    /// Canonical host directory.
    pub host: PathBuf,
    /// Absolute guest path.
    pub guest: String,
    /// Read-only, or read-write on a private copy.
    pub mode: MountMode,
    /// For a read-write mount: its path relative to the output directory
    /// ("" when it is the output directory), where its changes are proposed.
    pub out_prefix: Option<String>,
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
    /// Only used when the plugin has no read-write mount.
    preopens: WasiFilesystemCtx,
    /// The same with file operations on the calling thread, made on the
    /// first call that asks (see [`ResolvedGrants::wasi_ctx`]).
    preopens_here: std::sync::OnceLock<WasiFilesystemCtx>,
    /// Every mount's directory, opened at load (cap-std handles), in
    /// manifest order: the source of read-write copies, and what a call's
    /// read-only preopens are reopened from when it also has copies.
    pinned: Arc<Vec<cap_std::fs::Dir>>,
    env: Vec<(String, String)>,
    writes: Vec<String>,
    network: Arc<NetPolicy>,
    /// The TLS client configuration of its `https://` requests (the
    /// compiled-in roots plus its `tls-roots`, read at load).
    tls: Arc<rustls::ClientConfig>,
    /// The output directory (canonical) and the paths no write may reach.
    out_dir: Option<PathBuf>,
    protected: Arc<Protected>,
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
    /// One key of one manifest cannot be granted.
    #[error(
        "plugin `{plugin}`: key `{key}` in `{}`: {problem}",
        crate::render::inert_path(manifest)
    )]
    Key {
        /// The plugin's name in the folder.
        plugin: String,
        /// Path of the manifest that holds the key.
        manifest: PathBuf,
        /// The key, as a dotted path (`grants.network[0]`, say).
        key: String,
        /// What is wrong with it.
        problem: Box<GrantProblem>,
    },
    /// The plugin's extra TLS trust roots could not be loaded.
    #[error(transparent)]
    TlsRoots(Box<tls::TlsRootsError>),
}

impl GrantError {
    /// What is wrong with the key, if it is one key's problem.
    pub fn problem(&self) -> Option<&GrantProblem> {
        match self {
            Self::Key { problem, .. } => Some(problem),
            Self::TlsRoots(_) => None,
        }
    }
}

/// `problem` with key `key` of `manifest`.
fn refused(manifest: &Manifest, key: impl Into<String>, problem: GrantProblem) -> GrantError {
    GrantError::Key {
        plugin: manifest.name.clone(),
        manifest: manifest.path.clone(),
        key: key.into(),
        problem: Box::new(problem),
    }
}

/// What is wrong with a granted key (the message follows "plugin `p`: key
/// `k` in `manifest`:" and ends with a hint).
#[derive(Debug, thiserror::Error)]
pub enum GrantProblem {
    /// A mount's host directory cannot be opened.
    #[error(
        "cannot open mount directory `{}`: {error}\nhint: create the directory, or fix the path in the manifest",
        crate::render::inert_path(path)
    )]
    MountMissing {
        /// The mount's host directory, as the manifest resolves.
        path: PathBuf,
        /// The open's I/O error.
        error: std::io::Error,
    },
    /// A mount names a file, not a directory.
    #[error(
        "`{}` is not a directory\nhint: mounts grant whole directories; mount the folder that holds the file",
        crate::render::inert_path(path)
    )]
    NotADirectory {
        /// The mount's host path.
        path: PathBuf,
    },
    /// A mount's path goes through a symlink.
    #[error(
        "`{}` goes through a symlink to `{shown_actual}`; mounts through symlinks are refused\nhint: name the real directory `{shown_actual}` instead",
        crate::render::inert_path(claimed),
        shown_actual = crate::render::inert_path(actual)
    )]
    Symlink {
        /// The path as the manifest names it.
        claimed: PathBuf,
        /// Where it leads once symlinks are followed.
        actual: PathBuf,
    },
    /// A mount overlaps one of the host's protected paths.
    #[error(
        "mount `{}` overlaps {protected}\nhint: the host's state and cache can never be mounted, and its plugins folder, workflow, manifests and components never read-write; mount a directory that neither contains nor lies inside it",
        crate::render::inert_path(path)
    )]
    Protected {
        /// The mount's host directory.
        path: PathBuf,
        /// The protected path it overlaps.
        protected: Box<crate::protect::ProtectedHit>,
    },
    /// A mount is, or lies inside, a system or credential directory.
    #[error(
        "`{}` is or lies inside the system or credential directory `{}`\nhint: mount only the data directory the plugin needs; system directories (/proc, /sys, /dev, /run, /etc, /usr, /var/lib, ...), the home directory itself and credential folders (~/.ssh, ~/.aws, ...) are never mounted",
        crate::render::inert_path(path),
        system.display()
    )]
    SystemDir {
        /// The mount's host directory.
        path: PathBuf,
        /// The system or credential directory it reaches.
        system: PathBuf,
    },
    /// A read-write mount lies outside the output directory.
    #[error(
        "read-write mount `{}` is not inside the output directory{out}\nhint: a read-write mount is a private copy whose changes become proposed writes under the output directory; mount `${{workspace}}` (with the output directory the workspace) or a folder inside --out, or make the mount read-only",
        crate::render::inert_path(path)
    )]
    ReadWriteOutsideOut {
        /// The mount's host directory.
        path: PathBuf,
        /// The output directory, quoted and led by a space for the message; empty when there is none.
        out: String,
    },
    /// A reviewer's manifest asks for a read-write mount.
    #[error(
        "a reviewer cannot have a read-write mount\nhint: reviewers judge proposed changes and propose none; make the mount `mode = \"read\"`"
    )]
    ReviewerReadWrite,
    /// A `writes` prefix reaches one of the host's protected paths.
    #[error(
        "`{}` under the output directory `{}` reaches {reached}\nhint: the host's state, cache, plugins folder, workflow, manifests and components can never be written by a plugin; narrow the prefix (e.g. \"reports/\") or choose another --out",
        crate::render::inert(prefix),
        crate::render::inert(out)
    )]
    WritesProtected {
        /// The `writes` prefix.
        prefix: String,
        /// The output directory it is under.
        out: String,
        /// The protected path it reaches.
        reached: Box<crate::protect::ProtectedHit>,
    },
    /// A network grant's host name does not resolve.
    #[error(
        "cannot resolve `{}`: {error}\nhint: network grants are resolved when the plugin is loaded; check the name (and this machine's resolver), or grant the IP address instead",
        crate::render::inert(entry)
    )]
    NetworkUnresolvable {
        /// The `grants.network` entry, as written.
        entry: String,
        /// The resolver's error.
        error: std::io::Error,
    },
    /// A mount directory changed between its checks during the load.
    #[error(
        "mount directory `{}` changed while the plugin was being loaded ({detail})\nhint: load the plugin again; if the directory was replaced by a symlink, find out who did it",
        crate::render::inert_path(path)
    )]
    Changed {
        /// The mount's host directory.
        path: PathBuf,
        /// What differed between the two looks at it.
        detail: String,
    },
}

impl ResolvedGrants {
    /// Resolve a manifest's grants against the file system and environment.
    pub fn resolve(manifest: &Manifest, ctx: &GrantContext<'_>) -> Result<Self, GrantError> {
        let out_dir = ctx
            .out_dir
            .and_then(|o| crate::canonical::canonicalize(o).ok());
        let mounts = mounts::resolve(manifest, ctx, out_dir.as_deref())?;

        writes::check_prefixes(manifest, ctx, out_dir.as_deref())?;

        let env = env::resolve(manifest);

        let network = NetPolicy::resolve(
            &manifest.name,
            manifest.path.clone(),
            &manifest.grants.network,
            &net::system_resolver,
        )
        .map_err(|e| {
            refused(
                manifest,
                format!("grants.network[{}]", e.index),
                GrantProblem::NetworkUnresolvable {
                    entry: e.entry,
                    error: e.error,
                },
            )
        })?;
        let tls = tls::resolve(manifest).map_err(|e| GrantError::TlsRoots(Box::new(e)))?;

        Ok(Self {
            plugin: manifest.name.clone(),
            manifest: manifest.path.clone(),
            mounts: mounts.resolved,
            preopens: mounts.preopens,
            preopens_here: std::sync::OnceLock::new(),
            pinned: Arc::new(mounts.pinned),
            env,
            writes: manifest.grants.writes.clone(),
            network: Arc::new(network),
            tls,
            out_dir,
            protected: Arc::new(ctx.protected.clone()),
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

    /// The TLS client configuration of the plugin's `https://` requests.
    pub fn tls(&self) -> &Arc<rustls::ClientConfig> {
        &self.tls
    }

    /// Build the WASI context of one invocation.
    ///
    /// Exactly the granted preopens and environment; no arguments, no stdin;
    /// sockets only where the network grant allows, each denial reported to
    /// `denials`. The preopens are the directories opened at load.
    ///
    /// `copies` are the call's private copies of its read-write mounts, by
    /// guest path (see `runtime::private_copy`); a plugin with a read-write
    /// mount gets its read-only mounts reopened from the handles pinned at
    /// load (through `/proc/self/fd`, so still the checked directories).
    /// With `file_ops_here` the guest's file operations run on the thread
    /// that runs the call (`runtime::CallThreads::Own`); those preopens are
    /// reopened the same way, once, on the first such call.
    pub fn wasi_ctx(
        &self,
        stdout: MemoryOutputPipe,
        stderr: MemoryOutputPipe,
        denials: DenialSink,
        copies: &[(String, PathBuf)],
        file_ops_here: bool,
    ) -> Result<WasiCtx, String> {
        let filesystem = if self.has_read_write() {
            self.reopened(copies, file_ops_here)?
        } else if !file_ops_here {
            self.preopens.clone()
        } else if let Some(here) = self.preopens_here.get() {
            here.clone()
        } else {
            let here = self.reopened(&[], true)?;
            // Another call may have won the race: either is the same.
            let _ = self.preopens_here.set(here.clone());
            here
        };
        let mut ctx = self.base_ctx(stdout, stderr, denials);
        *ctx.filesystem() = filesystem;
        Ok(ctx)
    }

    /// Every mount as a preopen made now: read-write ones from `copies`,
    /// read-only ones reopened from the handles pinned at load.
    fn reopened(
        &self,
        copies: &[(String, PathBuf)],
        file_ops_here: bool,
    ) -> Result<WasiFilesystemCtx, String> {
        let mut builder = WasiCtxBuilder::new();
        builder.allow_blocking_current_thread(file_ops_here);
        for (mount, pinned) in self.mounts.iter().zip(self.pinned.iter()) {
            let opened = if mount.mode == MountMode::ReadWrite {
                let Some((_, copy)) = copies.iter().find(|(g, _)| *g == mount.guest) else {
                    return Err(format!(
                        "no private copy of the read-write mount `{}`",
                        mount.guest
                    ));
                };
                builder.preopened_dir(copy, &mount.guest, FsPerms::ReadWrite)
            } else {
                use std::os::fd::AsRawFd as _;
                let fd = format!("/proc/self/fd/{}", pinned.as_raw_fd());
                builder.preopened_dir(fd, &mount.guest, FsPerms::ReadOnly)
            };
            opened.map_err(|e| format!("cannot open the mount `{}`: {e:#}", mount.guest))?;
        }
        Ok(builder.build().filesystem().clone())
    }

    /// Whether any mount is read-write (and so needs a private copy per call).
    pub fn has_read_write(&self) -> bool {
        self.mounts.iter().any(|m| m.mode == MountMode::ReadWrite)
    }

    /// The read-write mounts with the directory handles opened at load.
    pub(crate) fn read_write_mounts(
        &self,
    ) -> impl Iterator<Item = (&ResolvedMount, &cap_std::fs::Dir)> {
        self.mounts
            .iter()
            .zip(self.pinned.iter())
            .filter(|(m, _)| m.mode == MountMode::ReadWrite)
    }

    /// The context without preopens: environment, stdio, sockets.
    fn base_ctx(
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
        builder.build()
    }

    /// Check a proposed write path against the plugin's `writes` grant.
    /// Returns the normalized path.
    pub fn check_write(&self, path: &str) -> Result<String, WriteDenied> {
        writes::check(self, path)
    }

    /// The host paths no write of this plugin may reach.
    pub fn protected(&self) -> &Protected {
        &self.protected
    }
}

#[cfg(test)]
mod tests {
    use super::mounts::{DirIdentity, handle_is_at, open_checked, still_the_same};
    use super::*;
    use crate::manifest::{EnvGrant, Grants, Limits, Mount, MountSource, PluginKind};

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
                tls_roots: Vec::new(),
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
            &GrantContext::new(workspace).protecting(ProtectedKind::State, protected),
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
        // A read-write mount lies inside the output directory (here the
        // workspace): its changes are proposed writes there.
        let data = ws.join("data");
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
                    host: ws.clone(),
                    guest: "/workspace".into(),
                    mode: MountMode::Read,
                    out_prefix: None,
                },
                ResolvedMount {
                    host: data,
                    guest: "/data".into(),
                    mode: MountMode::ReadWrite,
                    out_prefix: Some("data".into()),
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
        assert!(
            matches!(e.problem(), Some(GrantProblem::MountMissing { .. })),
            "{e:?}"
        );
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
            resolve_err(&m, &root, &[]).problem(),
            Some(GrantProblem::NotADirectory { .. })
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
        match e.problem() {
            Some(GrantProblem::Symlink { claimed, actual }) => {
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
            resolve_err(&m, &root, &[]).problem(),
            Some(GrantProblem::Symlink { .. })
        ));

        // And through `${workspace}`.
        let m = manifest(
            vec![mount(MountSource::Workspace, "/w", MountMode::Read)],
            vec![],
            &[],
        );
        assert!(matches!(
            resolve_err(&m, &link, &[]).problem(),
            Some(GrantProblem::Symlink { .. })
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
            assert!(
                matches!(e.problem(), Some(GrantProblem::Protected { .. })),
                "{why}: {e:?}"
            );
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

    /// The handle a mount is given through is the directory at the checked
    /// path: one swapped in for it (renamed over it, or reached through a
    /// parent swapped for a symlink) after the checks is refused.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_mount_handle_must_be_the_directory_at_the_checked_path() {
        let (_t, root) = tempdir();
        let root = std::fs::canonicalize(root).expect("canonical");
        let ws = root.join("ws");
        std::fs::create_dir(&ws).expect("mkdir");
        let handle = open_checked(&ws).expect("open");
        handle_is_at(&handle, &ws).expect("the checked directory");
        // The checked directory moved away and another took its path.
        std::fs::rename(&ws, root.join("moved")).expect("rename");
        std::fs::create_dir(&ws).expect("mkdir");
        let detail = handle_is_at(&handle, &ws).expect_err("moved");
        assert!(!detail.is_empty());
        // A parent swapped for a symlink: the path opened is elsewhere.
        std::fs::create_dir_all(root.join("real/ws")).expect("mkdir");
        std::os::unix::fs::symlink(root.join("real"), root.join("parent")).expect("symlink");
        let through = root.join("parent/ws");
        let handle = open_checked(&through).expect("open");
        let detail = handle_is_at(&handle, &through).expect_err("through a link");
        assert!(detail.contains("not at the path"), "{detail}");
        // A symlink as the last component is not opened at all.
        std::os::unix::fs::symlink(&ws, root.join("last")).expect("symlink");
        assert!(open_checked(&root.join("last")).is_err());
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
            "a/b/harness.toml.bak",
            "a/b/.harnessy/x",
            "a/b/harness.toml/x",
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
            ("reports/\u{180e}x", R::ControlChar),
            ("reports/x\u{fe0f}", R::ControlChar),
            ("reports/.harness/runs/r1/journal", R::HostName),
            ("reports/.HARNESS/x", R::HostName),
            ("reports/.harness-tmp-1-2", R::HostName),
            ("reports/harness.toml", R::HostName),
            ("reports/sub/Harness.TOML", R::HostName),
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
    fn writes_covering_git_ci_or_shell_files_are_flagged() {
        let flagged = |p: &str| !sensitive_writes(&[p.to_string()]).is_empty();
        for p in [
            ".git/",
            ".git",
            ".git/hooks/",
            ".github/",
            ".bashrc",
            ".ci/run",
        ] {
            assert!(flagged(p), "{p}");
        }
        for p in ["reports/", "docs/ci/", "git/", ".gitignore", ".gi"] {
            assert!(!flagged(p), "{p}");
        }
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
