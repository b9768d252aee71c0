//! The `[[grants.mounts]]` kind: host directories a plugin may see.
//!
//! Resolved once, at load: each mount's host directory is canonicalized and
//! refused when it is missing, not a directory, reached through a symlink, a
//! system or credential directory, or one of the host's own paths; then it
//! is **opened once**, and from then on the plugin's mount is that open
//! handle, not a path (renaming or swapping the directory after load changes
//! nothing the plugin can reach). Read-only mounts become the preopens every
//! call shares; a read-write mount must lie inside the output directory and
//! is copied privately per call (`runtime::private_copy`), its changes
//! becoming proposals.

use std::path::{Path, PathBuf};

use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use serde::Deserialize;

use super::capability::{Capability, JsonFields, KeyProblem};
use super::{GrantContext, GrantError, GrantProblem, ResolvedGrants, ResolvedMount, refused};
use crate::manifest::{self, Manifest, Mount, MountMode, MountSource, WORKSPACE_PLACEHOLDER};
use crate::protect::lexical_absolute;
use crate::render::{inert, inert_path};

/// A plugin's mounts, resolved and opened.
pub(super) struct Mounts {
    pub(super) resolved: Vec<ResolvedMount>,
    /// The directories opened at load, in manifest order.
    pub(super) pinned: Vec<cap_std::fs::Dir>,
    /// The read-only mounts as the preopens every call shares.
    pub(super) preopens: WasiFilesystemCtx,
}

/// Resolve and open `manifest`'s mounts; `out_dir` is the canonical output
/// directory, which read-write mounts must lie in.
pub(super) fn resolve(
    manifest: &Manifest,
    ctx: &GrantContext<'_>,
    out_dir: Option<&Path>,
) -> Result<Mounts, GrantError> {
    let mut resolved = Vec::with_capacity(manifest.grants.mounts.len());
    let mut pinned = Vec::with_capacity(manifest.grants.mounts.len());
    let mut preopens = WasiCtxBuilder::new();
    for (i, mount) in manifest.grants.mounts.iter().enumerate() {
        let key = format!("grants.mounts[{i}].host");
        let claimed = match &mount.host {
            MountSource::Workspace => lexical_absolute(ctx.workspace),
            MountSource::Path(p) => lexical_absolute(p),
        };
        let writable = mount.mode == MountMode::ReadWrite;
        if let Some(system) = crate::protect::system_dir(&claimed) {
            return Err(refused(
                manifest,
                key,
                GrantProblem::SystemDir {
                    path: claimed,
                    system,
                },
            ));
        }
        let host = canonical_dir(manifest, &key, &claimed)?;
        if let Some(system) = crate::protect::system_dir(&host) {
            return Err(refused(
                manifest,
                key,
                GrantProblem::SystemDir { path: host, system },
            ));
        }
        if let Err(hit) = ctx.protected.check_mount(&host, writable) {
            return Err(refused(
                manifest,
                key,
                GrantProblem::Protected {
                    path: host,
                    protected: Box::new(hit),
                },
            ));
        }
        let out_prefix = if writable {
            if manifest.kind == manifest::PluginKind::Reviewer {
                return Err(refused(manifest, key, GrantProblem::ReviewerReadWrite));
            }
            let prefix = out_dir
                .as_ref()
                .and_then(|out| host.strip_prefix(out).ok())
                .and_then(|rel| rel.to_str())
                .map(str::to_string);
            match prefix {
                Some(prefix) => Some(prefix),
                None => {
                    return Err(refused(
                        manifest,
                        key,
                        GrantProblem::ReadWriteOutsideOut {
                            path: host,
                            out: out_dir
                                .as_ref()
                                .map(|o| format!(" `{}`", inert_path(o)))
                                .unwrap_or_default(),
                        },
                    ));
                }
            }
        } else {
            None
        };
        let missing = |error: std::io::Error| {
            refused(
                manifest,
                key.clone(),
                GrantProblem::MountMissing {
                    path: host.clone(),
                    error,
                },
            )
        };
        // One handle on the checked directory, never the path again: opened
        // without following a final symlink, then checked to be the
        // directory at the checked path (its device and inode, and where
        // `/proc/self/fd` says it is), and handed to the sandbox through that
        // same handle. A directory swapped in for the path or one of its
        // parents after the checks above (the state directory, say) is
        // refused, and one swapped in and back again is never what is mounted.
        let handle = open_checked(&host).map_err(missing)?;
        handle_is_at(&handle, &host).map_err(|detail| {
            refused(
                manifest,
                key.clone(),
                GrantProblem::Changed {
                    path: host.clone(),
                    detail,
                },
            )
        })?;
        if !writable {
            preopens
                .preopened_dir(handle_path(&handle, &host), &mount.guest, FsPerms::ReadOnly)
                .map_err(|e| missing(std::io::Error::other(format!("{e:#}"))))?;
        }
        let dir = cap_std::fs::Dir::from_std_file(handle);
        pinned.push(dir);
        resolved.push(ResolvedMount {
            host,
            guest: mount.guest.clone(),
            mode: mount.mode,
            out_prefix,
        });
    }
    Ok(Mounts {
        resolved,
        pinned,
        preopens: preopens.build().filesystem().clone(),
    })
}

/// The directory at `host`, opened for reading, not through a symlink at its
/// last component (a symlink earlier on the way is caught by [`handle_is_at`]).
pub(super) fn open_checked(host: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW);
    }
    options.open(host)
}

/// Check that `handle` is the directory at `host`: the same device and
/// inode as `host` names now, and, where `/proc` tells, at that very path.
/// Returns what changed.
pub(super) fn handle_is_at(handle: &std::fs::File, host: &Path) -> Result<(), String> {
    let identity = DirIdentity::of_handle(handle).map_err(|e| e.to_string())?;
    still_the_same(host, &identity)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        if let Ok(at) = std::fs::read_link(format!("/proc/self/fd/{}", handle.as_raw_fd()))
            && at != host
        {
            return Err(format!(
                "the directory opened is at `{}`, not at the path that was checked",
                inert_path(&at)
            ));
        }
    }
    Ok(())
}

/// A path that names `handle` itself (`/proc/self/fd/N`), for an API that
/// opens by path; `host` where `/proc` is not there.
fn handle_path(handle: &std::fs::File, host: &Path) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        let through = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
        if through.is_dir() {
            return through;
        }
    }
    let _ = handle;
    host.to_path_buf()
}

/// Which directory a path names: on Unix its device and inode, elsewhere its
/// canonical path. Taken before and after a mount is opened, so the handle
/// is known to be the directory that was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DirIdentity {
    #[cfg(unix)]
    Inode { dev: u64, ino: u64 },
    #[cfg(not(unix))]
    Canonical(PathBuf),
}

impl DirIdentity {
    /// The identity of the directory `handle` is (one `fstat` on Unix).
    pub(super) fn of_handle(handle: &std::fs::File) -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let meta = handle.metadata()?;
            Ok(Self::Inode {
                dev: meta.dev(),
                ino: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = handle;
            Err(std::io::Error::other("no handle identity on this platform"))
        }
    }

    /// The identity of the directory `path` names now (one `stat` on Unix).
    pub(super) fn of(path: &Path) -> std::io::Result<Self> {
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
pub(super) fn still_the_same(host: &Path, identity: &DirIdentity) -> Result<(), String> {
    match DirIdentity::of(host) {
        Ok(now) if now == *identity => Ok(()),
        Ok(_) => Err(match crate::canonical::canonicalize(host) {
            Ok(now) if now != host => format!("it now resolves to `{}`", now.display()),
            _ => "it is no longer the directory that was checked".to_string(),
        }),
        Err(e) => Err(e.to_string()),
    }
}

/// Canonicalize a mount's host directory and refuse it if it is missing, not
/// a directory, or reached through a symlink.
fn canonical_dir(manifest: &Manifest, key: &str, claimed: &Path) -> Result<PathBuf, GrantError> {
    let canonical = crate::canonical::canonicalize(claimed).map_err(|error| {
        refused(
            manifest,
            key.to_string(),
            GrantProblem::MountMissing {
                path: claimed.to_path_buf(),
                error,
            },
        )
    })?;
    if canonical != claimed {
        return Err(refused(
            manifest,
            key.to_string(),
            GrantProblem::Symlink {
                claimed: claimed.to_path_buf(),
                actual: canonical,
            },
        ));
    }
    if !canonical.is_dir() {
        return Err(refused(
            manifest,
            key.to_string(),
            GrantProblem::NotADirectory { path: canonical },
        ));
    }
    Ok(canonical)
}

/// One `[[grants.mounts]]` entry as written (a manifest's, or an admin's
/// `[[<plugin>.mounts]]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// `${workspace}`, an absolute path, or a path relative to the plugin's folder.
    pub host: String,
    /// Where the directory appears inside the sandbox.
    pub guest: String,
    /// Read-only, or read-write on a private copy.
    pub mode: MountMode,
}

/// Refuse a mount spelled badly under `key` (`grants.mounts[0]`): a host
/// directory that is empty or climbs with `..`, a guest path that is not a
/// plain absolute path.
pub(crate) fn check_spelling(key: &str, spec: &MountSpec) -> Result<(), KeyProblem> {
    if spec.host.is_empty() || manifest::has_parent_segment(Path::new(&spec.host)) {
        return Err(KeyProblem::new(
            format!(
                "key `{key}.host`: `{}` is empty or contains `..`",
                inert(&spec.host)
            ),
            "name the directory directly: \"${workspace}\", absolute, or relative to the plugin's folder",
        ));
    }
    let guest = Path::new(&spec.guest);
    if !guest.is_absolute()
        || manifest::has_parent_segment(guest)
        || spec.guest == "/"
        || manifest::lexically_normal(guest) != guest
    {
        return Err(KeyProblem::new(
            format!(
                "key `{key}.guest`: `{}` is not a plain absolute path",
                inert(&spec.guest)
            ),
            "use an absolute guest path such as \"/workspace\", without `..`, `.` or a trailing `/`",
        ));
    }
    Ok(())
}

/// A manifest's mounts (paths made absolute against its folder `dir`):
/// spelled well, never a system directory, each guest path apart from the
/// others.
pub(crate) fn parse(specs: Vec<MountSpec>, dir: &Path) -> Result<Vec<Mount>, KeyProblem> {
    let mut mounts: Vec<Mount> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let key = format!("grants.mounts[{i}]");
        check_spelling(&key, &spec)?;
        let host = if spec.host == WORKSPACE_PLACEHOLDER {
            MountSource::Workspace
        } else {
            let joined = manifest::lexically_normal(&dir.join(&spec.host));
            if let Some(system) = crate::protect::system_dir(&joined) {
                return Err(KeyProblem::new(
                    format!(
                        "key `{key}.host`: mounting `{}` would expose the host system (it is or lies inside `{}`)",
                        inert_path(&joined),
                        inert_path(&system)
                    ),
                    "mount only the data directory the plugin needs; system and credential directories and their subfolders are never mounted",
                ));
            }
            MountSource::Path(joined)
        };
        let guest = Path::new(&spec.guest);
        if let Some(other) = mounts
            .iter()
            .find(|o| Path::new(&o.guest).starts_with(guest) || guest.starts_with(&o.guest))
        {
            return Err(KeyProblem::new(
                format!(
                    "key `{key}.guest`: `{}` overlaps the mount at `{}`",
                    inert(&spec.guest),
                    inert(&other.guest)
                ),
                "give each mount its own guest directory, not nested in another",
            ));
        }
        mounts.push(Mount {
            host,
            guest: spec.guest,
            mode: spec.mode,
        });
    }
    Ok(mounts)
}

/// The mounts kind, for `host plugins list|check|inspect`.
pub(crate) struct MountsKind;

impl Capability for MountsKind {
    fn key(&self) -> &'static str {
        "grants.mounts"
    }

    fn summary(&self, m: &Manifest, resolved: Option<&ResolvedGrants>) -> Vec<String> {
        if let Some(grants) = resolved {
            return grants
                .mounts()
                .iter()
                .map(|mount| {
                    format!(
                        "mount {} -> {} ({})",
                        inert(&mount.host.display().to_string()),
                        inert(&mount.guest),
                        mount.mode
                    )
                })
                .collect();
        }
        m.grants
            .mounts
            .iter()
            .map(|mount| {
                let host = match &mount.host {
                    MountSource::Workspace => WORKSPACE_PLACEHOLDER.to_string(),
                    MountSource::Path(p) => p.display().to_string(),
                };
                format!(
                    "mount {} -> {} ({})",
                    inert(&host),
                    inert(&mount.guest),
                    mount.mode
                )
            })
            .collect()
    }

    fn json(&self, _m: &Manifest, resolved: &ResolvedGrants) -> JsonFields {
        let mounts = resolved
            .mounts()
            .iter()
            .map(|mount| {
                serde_json::json!({
                    "host": mount.host,
                    "guest": mount.guest,
                    "mode": mount.mode,
                })
            })
            .collect();
        vec![("mounts", serde_json::Value::Array(mounts))]
    }
}
