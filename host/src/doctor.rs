//! `host doctor`'s checks: what a newcomer's machine and plugins folder need
//! before `host run` can work, each gap found with how to fix it.
//!
//! The checks are grouped by [`Area`], each in its own module:
//!
//! * [`toolchain`]: the `wasm32-wasip2` Rust target, python3 with venv, node
//!   and npm (a gap is `missing` when a plugin of the folder needs the tool,
//!   a `warning` otherwise), and the Python/JavaScript toolchain caches the
//!   plugins' `build.sh` install into.
//! * [`dirs`]: the project file in effect (if any), and the host's state
//!   and cache directories can be written (and where the cache comes from).
//! * [`plugins`]: every manifest parses and lies within the folder's
//!   `grants.toml`, every component exists and is not older than its
//!   sources, and every environment setting that names a URL (such as
//!   `MODEL_URL`) points at a `host:port` of the plugin's network grant.
//! * [`reach`]: each network grant's host resolves and accepts a TCP
//!   connection, and, where the plugin speaks `https://` to it, completes a
//!   TLS handshake with the plugin's trust roots.
//!
//! Nothing here prints: [`run`] returns a [`Report`], and the CLI
//! (`cli/doctor.rs`) renders it. Nothing is changed either, except a probe
//! file created and removed to prove a directory is writable.

pub mod dirs;
pub mod plugins;
pub mod reach;
pub mod toolchain;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::host_dirs::HostDirs;

/// How long a network probe waits for a connection or a handshake.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Toolchain,
    Dirs,
    Plugin,
    Network,
    Env,
}

impl Area {
    pub fn name(self) -> &'static str {
        match self {
            Self::Toolchain => "toolchain",
            Self::Dirs => "dirs",
            Self::Plugin => "plugin",
            Self::Network => "network",
            Self::Env => "env",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    /// Works, but likely not as intended (or needed only by other plugins).
    Warning,
    /// Something `host run` or a build needs is not there: exit non-zero.
    Missing,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Missing => "missing",
        }
    }
}

/// One check's finding. `subject` and `detail` may hold untrusted text
/// (paths, manifest values): render them inert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub area: Area,
    /// What was checked: `wasm32-wasip2 target`, `model-reviewer: 127.0.0.1:11434`.
    pub subject: String,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to close the gap; `None` when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(area: Area, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            area,
            subject: subject.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn gap(
        area: Area,
        status: Status,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            area,
            subject: subject.into(),
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Everything `host doctor` found, in check order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether nothing is missing (warnings allowed).
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.status != Status::Missing)
    }

    /// How many findings have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }
}

/// Run every check for the host directories `dirs` and the plugins folder
/// `--plugins` (`plugins_flag`, else the project's, else the default).
pub async fn run(dirs: &HostDirs, plugins_flag: Option<&Path>) -> Report {
    let folder = plugins::Folder::read(&dirs.plugins_path(plugins_flag));
    let mut findings = toolchain::check(&folder);
    findings.extend(dirs::check(dirs));
    findings.extend(plugins::check(&folder));
    findings.extend(reach::check(&folder, PROBE_TIMEOUT).await);
    Report { findings }
}
