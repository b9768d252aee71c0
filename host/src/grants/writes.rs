//! The `[grants] writes` kind: the relative prefixes under the output
//! directory where a plugin may *propose* writes (nothing is written until a
//! person approves the change set). One place from the manifest key to the
//! check every proposal goes through ([`check`]) and its denial text
//! ([`WriteDenied`]): path rules (no absolute paths, `..`, backslashes,
//! control or bidi characters, names over 255 bytes), the granted prefixes,
//! and the host's protected paths; plus what `host plugins check` warns
//! about (prefixes covering `.git/`, CI files, shell start-up files).

use std::path::{Path, PathBuf};

use super::capability::{Capability, JsonFields, KeyProblem};
use super::{GrantContext, GrantError, GrantProblem, ResolvedGrants, refused};
use crate::manifest::Manifest;
use crate::render::inert;

/// The `writes` prefixes under `key` (a manifest's `grants.writes`, an
/// admin's `<plugin>.writes`), normalized; the first that is not a relative
/// prefix is refused.
pub(crate) fn parse_prefixes(key: &str, prefixes: &[String]) -> Result<Vec<String>, KeyProblem> {
    prefixes
        .iter()
        .map(|prefix| {
            normalize_prefix(prefix).ok_or_else(|| {
                KeyProblem::new(
                    format!(
                        "key `{key}`: `{}` is not a relative path prefix",
                        inert(prefix)
                    ),
                    "use relative, `/`-separated prefixes without `..`, such as \"reports/\"",
                )
            })
        })
        .collect()
}

/// Normalize a `writes` prefix: relative, `/`-separated, no `.`/`..`/empty
/// segments. A trailing `/` is kept because it means "inside this directory".
fn normalize_prefix(prefix: &str) -> Option<String> {
    if prefix.is_empty() || prefix.starts_with('/') || prefix.contains('\\') {
        return None;
    }
    let body = prefix.strip_suffix('/').unwrap_or(prefix);
    if body
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == ".." || s.chars().any(char::is_control))
    {
        return None;
    }
    Some(prefix.to_string())
}

/// Proposed write paths longer than this are refused outright.
pub const MAX_WRITE_PATH_BYTES: usize = 1024;

/// The longest file name (one path segment) a write may have: Linux's
/// `NAME_MAX`. The apply's temporary names are short and fixed, so they
/// never exceed it either.
pub const MAX_NAME_BYTES: usize = 255;

/// Refuse `writes` prefixes that reach a protected path under the output
/// directory `out_dir`, at load.
pub(super) fn check_prefixes(
    manifest: &Manifest,
    ctx: &GrantContext<'_>,
    out_dir: Option<&Path>,
) -> Result<(), GrantError> {
    if let Some(out) = out_dir {
        for prefix in &manifest.grants.writes {
            let region = out.join(prefix.trim_end_matches('/'));
            if let Err(reached) = ctx.protected.check_write(&region, true) {
                return Err(refused(
                    manifest,
                    "grants.writes",
                    GrantProblem::WritesProtected {
                        prefix: prefix.clone(),
                        out: out.display().to_string(),
                        reached: Box::new(reached),
                    },
                ));
            }
        }
    }
    Ok(())
}

/// Check a proposed write path against `grants`' `writes` grant and the
/// protected paths. Returns the normalized path.
pub(super) fn check(grants: &ResolvedGrants, path: &str) -> Result<String, WriteDenied> {
    let deny = |reason: WriteDenialReason| WriteDenied {
        plugin: grants.plugin.clone(),
        manifest: grants.manifest.clone(),
        path: path.to_string(),
        reason,
        allowed: grants.writes.clone(),
        reached: None,
    };
    validate_write_path(path).map_err(deny)?;
    if !grants
        .writes
        .iter()
        .any(|prefix| prefix_matches(prefix, path))
    {
        return Err(deny(WriteDenialReason::NotGranted));
    }
    if let Some(out) = &grants.out_dir
        && let Err(hit) = grants.protected.check_write(&out.join(path), false)
    {
        return Err(WriteDenied {
            reached: Some(Box::new(hit)),
            ..deny(WriteDenialReason::Protected)
        });
    }
    Ok(path.to_string())
}

/// Paths an approved write could use to change what runs next (version
/// control internals, CI configuration, shell start-up files), with what
/// each is. `host plugins check` warns about `writes` prefixes covering one.
const SENSITIVE: &[(&str, &str)] = &[
    (".git/", "the git repository's internals (hooks run code)"),
    (".github/", "GitHub Actions workflows"),
    (".gitlab-ci.yml", "GitLab CI configuration"),
    (".ci/", "CI scripts"),
    (".circleci/", "CircleCI configuration"),
    (".bashrc", "a shell start-up file"),
    (".bash_profile", "a shell start-up file"),
    (".profile", "a shell start-up file"),
    (".zshrc", "a shell start-up file"),
    (".envrc", "a direnv start-up file"),
];

/// The `writes` prefixes that cover a sensitive path, with what it is.
pub fn sensitive_writes(prefixes: &[String]) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for prefix in prefixes {
        for (path, what) in SENSITIVE {
            let target = path.trim_end_matches('/');
            let covers = prefix_matches(prefix, target)
                || (prefix.ends_with('/') && path.starts_with(prefix.as_str()))
                || (path.ends_with('/') && prefix.starts_with(path));
            if covers {
                out.push((prefix.clone(), *what));
            }
        }
    }
    out
}

/// Why a proposed write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteDenialReason {
    /// The path is empty.
    Empty,
    /// The path is longer than [`MAX_WRITE_PATH_BYTES`].
    TooLong,
    /// The path starts with `/`.
    Absolute,
    /// The path holds a backslash.
    Backslash,
    /// The path holds a control, bidi or invisible character.
    ControlChar,
    /// A segment is `..`.
    ParentSegment,
    /// A segment is `.`.
    CurrentSegment,
    /// A segment is empty (`//`).
    EmptySegment,
    /// The path ends in `/`.
    TrailingSlash,
    /// A segment longer than a file name may be (255 bytes).
    NameTooLong,
    /// The path is outside every granted `writes` prefix.
    NotGranted,
    /// The path reaches one of the host's own files (see [`crate::protect`]).
    Protected,
    /// A segment is a name the host gives its own files wherever they are:
    /// a state folder (`.harness`), an apply's temporary file
    /// (`.harness-tmp-...`, which a later apply sweeps away) or a project
    /// file (`harness.toml`, which the host finds by itself in any folder
    /// and which names the plugins, state and output a command uses).
    HostName,
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
            Self::NameTooLong => "a segment is longer than 255 bytes, the longest file name",
            Self::NotGranted => "the path is outside the plugin's `writes` grant",
            Self::Protected => "the path reaches one of the host's own files",
            Self::HostName => {
                "the path names a file or folder of the host's own kind (`.harness`, `.harness-tmp-*`, `harness.toml`), which a later host command would take for its own; name it otherwise"
            }
        })
    }
}

/// A proposed write outside a plugin's grant, or a malformed write path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteDenied {
    /// The plugin that proposed the write.
    pub plugin: String,
    /// Path of its manifest.
    pub manifest: PathBuf,
    /// The path exactly as the plugin proposed it (untrusted; render with
    /// [`crate::render::inert`]).
    pub path: String,
    /// Why it was refused.
    pub reason: WriteDenialReason,
    /// The plugin's granted prefixes.
    pub allowed: Vec<String>,
    /// For [`WriteDenialReason::Protected`]: what the path reached.
    pub reached: Option<Box<crate::protect::ProtectedHit>>,
}

impl std::fmt::Display for WriteDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plugin `{}` may not propose a write to `{}`: {}\nhint: writes are granted in `{}` under `[grants] writes = [...]`; ",
            self.plugin,
            inert(&self.path),
            self.reason,
            self.manifest.display(),
        )?;
        if let Some(hit) = &self.reached {
            return write!(
                f,
                "no grant can allow a write to {hit}; narrow the `writes` prefix or choose another --out"
            );
        }
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
            s if s.len() > MAX_NAME_BYTES => return Err(R::NameTooLong),
            s if is_host_name(s) => return Err(R::HostName),
            _ => {}
        }
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    if last.eq_ignore_ascii_case(crate::project::PROJECT_FILE) {
        return Err(R::HostName);
    }
    Ok(())
}

/// Whether `segment` is a name the host gives its own folders and files
/// ([`WriteDenialReason::HostName`]), in any letter case (a case-insensitive
/// file system would take one for the other).
fn is_host_name(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower == crate::host_dirs::DEFAULT_STATE || lower.starts_with(crate::run::apply::TEMP_PREFIX)
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

/// The writes kind, for `host plugins list|check|inspect`.
pub(crate) struct WritesKind;

impl Capability for WritesKind {
    fn key(&self) -> &'static str {
        "grants.writes"
    }

    fn summary(&self, m: &Manifest, _resolved: Option<&ResolvedGrants>) -> Vec<String> {
        if m.grants.writes.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "propose writes under {}",
            inert(&m.grants.writes.join(", "))
        )]
    }

    fn json(&self, _m: &Manifest, resolved: &ResolvedGrants) -> JsonFields {
        vec![("writes", serde_json::json!(resolved.writes()))]
    }

    fn warnings(&self, m: &Manifest, _imports: &[String]) -> Vec<String> {
        sensitive_writes(&m.grants.writes)
            .into_iter()
            .map(|(prefix, what)| {
                format!(
                    "`[grants] writes` entry `{}` covers {what}: an approved change there can change what runs next on this machine\nhint: grant the narrowest prefix the plugin needs (e.g. \"reports/\"), and read such diffs with care",
                    inert(&prefix)
                )
            })
            .collect()
    }
}
