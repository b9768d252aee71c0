//! Plugin manifests (`plugins/<name>/plugin.toml`): strict parsing and static
//! validation.
//!
//! A manifest names the plugin and its component, and lists the capabilities an
//! admin grants it. Anything not granted is denied. Parsing is strict: the file
//! is size-capped before it is read, unknown and duplicate keys are errors, and
//! every error names the file, the key and how to fix it. Checks that need the
//! file system (canonical paths, the host's own directories) happen when grants
//! are resolved, in [`crate::grants`].

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use strum::{Display, IntoStaticStr};

use crate::bounded_read::{ReadError, Symlinks, read_text};
use crate::names::{NAME_RULE, is_valid_name};

use crate::grants::{self, capability::KeyProblem};
pub use crate::network_grant::{NetHost, NetworkGrant};

/// The file name of a plugin manifest inside its folder.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// Manifests larger than this are refused before parsing.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// The placeholder a mount's `host` may use for the run's workspace directory.
pub const WORKSPACE_PLACEHOLDER: &str = "${workspace}";

/// A parsed and statically validated plugin manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest file this came from.
    pub path: PathBuf,
    /// The folder holding the manifest; relative paths are resolved against it.
    pub dir: PathBuf,
    /// The plugin's name (`plugin.name`), unique in its folder.
    pub name: String,
    /// Whether the plugin is a tool or a reviewer.
    pub kind: PluginKind,
    /// Absolute path of the component file.
    pub component: PathBuf,
    /// Lowercase hex sha256 the component must have, if pinned.
    pub sha256: Option<String>,
    /// How to build the component from source, if the plugin ships its source.
    pub build: Option<BuildCommand>,
    /// What the plugin asks for (`[grants]`).
    pub grants: Grants,
    /// The plugin's limits (`[limits]`), the host's defaults where unset.
    pub limits: Limits,
}

/// Which world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Display, IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum PluginKind {
    /// Runs a workflow step or an MCP tool call; may propose writes.
    Tool,
    /// Judges a run's proposed result; proposes no writes.
    Reviewer,
}

impl PluginKind {
    /// The WIT world a component of this kind must target.
    pub fn world(self) -> &'static str {
        self.into()
    }
}

/// A command (argv, no shell) that builds the component, run in the manifest's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCommand {
    /// The program and its arguments; never empty.
    pub argv: Vec<String>,
}

/// Capabilities granted to a plugin. The default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Directories made visible to the guest, in manifest order.
    pub mounts: Vec<Mount>,
    /// Environment variables set in the guest, in manifest order.
    pub env: Vec<EnvGrant>,
    /// Relative path prefixes under which the plugin may *propose* writes.
    pub writes: Vec<String>,
    /// `host:port` entries the plugin may connect to, in manifest order.
    pub network: Vec<NetworkGrant>,
    /// PEM files of extra certificate authorities the plugin's `https://`
    /// requests trust besides the compiled-in Mozilla roots (an internal CA),
    /// absolute (made so against the manifest folder). Read at load, in
    /// [`crate::grants::tls`].
    pub tls_roots: Vec<PathBuf>,
}

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where the host directory comes from.
    pub host: MountSource,
    /// Absolute guest path, e.g. `/workspace`.
    pub guest: String,
    /// Read-only, or read-write on a private copy.
    pub mode: MountMode,
}

/// Where a mount's host directory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// The run's `--workspace` directory.
    Workspace,
    /// A fixed directory (absolute, or made absolute against the manifest folder).
    Path(PathBuf),
}

/// Access mode of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum MountMode {
    /// The guest can read the directory, nothing more.
    Read,
    /// The guest works on a private copy; its changes become proposed writes.
    ReadWrite,
}

/// One environment variable granted to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvGrant {
    /// A value written in the manifest.
    Value {
        /// The variable's name.
        key: String,
        /// Its value, as written in the manifest.
        value: String,
    },
    /// Copied from the host's environment at load time, if set there.
    Inherit {
        /// The variable's name.
        key: String,
    },
}

impl EnvGrant {
    /// The variable's name.
    pub fn key(&self) -> &str {
        match self {
            Self::Value { key, .. } | Self::Inherit { key } => key,
        }
    }
}

/// Resource limits of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory of the instance, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock limit of one invocation, including time blocked in host calls.
    pub timeout: std::time::Duration,
    /// Maximum size of the returned output plus proposed writes, and separately
    /// of captured stdout/stderr, in bytes.
    pub max_output_bytes: u64,
    /// Fuel (roughly, wasm instructions) one invocation may burn, if limited.
    /// `None` means unlimited: the wall-clock timeout still applies.
    pub fuel: Option<u64>,
    /// Most bytes of regular files a read-write mount's private copy may hold.
    pub rw_copy_bytes: u64,
    /// Most files and directories a read-write mount's private copy may hold.
    pub rw_copy_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 * 1024 * 1024,
            timeout: std::time::Duration::from_secs(10),
            max_output_bytes: 4 * 1024 * 1024,
            fuel: None,
            rw_copy_bytes: 256 * 1024 * 1024,
            rw_copy_files: 10_000,
        }
    }
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Missing, unreadable, not a regular file (refused unread) or not UTF-8.
    #[error(transparent)]
    File(ReadError),
    /// The manifest is larger than the host reads.
    #[error(
        "plugin manifest `{shown_path}` is {size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit\nhint: a manifest only names a component and its grants; remove whatever else is in it",
        shown_path = crate::render::inert_path(path)
    )]
    TooLarge {
        /// Path of the manifest.
        path: PathBuf,
        /// The file's size, in bytes.
        size: u64,
    },
    /// The manifest does not parse, or breaks a rule (an unknown key, a bad path, say).
    #[error(
        "invalid plugin manifest `{shown_path}`: {message}\nhint: {hint}",
        shown_path = crate::render::inert_path(path)
    )]
    Invalid {
        /// Path of the manifest.
        path: PathBuf,
        /// What is wrong, as the parser or the rule says.
        message: String,
        /// What to change, for the message's `hint:` line.
        hint: String,
    },
    /// The plugins folder could not be listed.
    #[error("cannot list plugins in `{dir}`")]
    ListDir {
        /// The plugins folder.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The plugins folder holds no plugin.
    #[error(
        "no plugins found in `{dir}`\nhint: each plugin is a folder holding a `{MANIFEST_FILE}`; pass the folder that contains them with --plugins"
    )]
    NoPlugins {
        /// The plugins folder.
        dir: PathBuf,
    },
    /// Two manifests in the folder give the same plugin name.
    #[error(
        "two plugins are named `{name}`: `{shown_first}` and `{shown_second}`\nhint: plugin names must be unique; rename one in its [plugin] section",
        shown_first = crate::render::inert_path(first),
        shown_second = crate::render::inert_path(second)
    )]
    DuplicateName {
        /// The name both use.
        name: String,
        /// Path of the first manifest with that name.
        first: PathBuf,
        /// Path of the second.
        second: PathBuf,
    },
}

// ---- raw TOML shape -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    plugin: RawPlugin,
    build: Option<RawBuild>,
    #[serde(default)]
    grants: RawGrants,
    #[serde(default)]
    limits: grants::limits::RawLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    name: String,
    kind: PluginKind,
    component: String,
    sha256: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    mounts: Vec<grants::mounts::MountSpec>,
    #[serde(default)]
    network: Vec<String>,
    #[serde(default)]
    env: grants::env::RawEnv,
    #[serde(default)]
    writes: Vec<String>,
    #[serde(default, rename = "tls-roots")]
    tls_roots: Vec<String>,
}

// ---- loading ----------------------------------------------------------------

/// Load every plugin in `dir`: each subfolder holding a `plugin.toml`, sorted by
/// folder name. Names must be unique.
pub fn load_dir(dir: &Path) -> Result<Vec<Manifest>, ManifestError> {
    let folders = manifest_paths(dir)?;
    let mut manifests: Vec<Manifest> = Vec::with_capacity(folders.len());
    for path in folders {
        let manifest = load(&path)?;
        if let Some(first) = manifests.iter().find(|m| m.name == manifest.name) {
            return Err(ManifestError::DuplicateName {
                name: manifest.name,
                first: first.path.clone(),
                second: manifest.path,
            });
        }
        manifests.push(manifest);
    }
    Ok(manifests)
}

/// The `plugin.toml` of every subfolder of `dir` that has one, sorted; an
/// error if there is none. Lets a caller load each one on its own and report
/// every broken manifest, not just the first.
pub fn manifest_paths(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let list_err = |source| ManifestError::ListDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_err)? {
        let entry = entry.map_err(list_err)?;
        let manifest = entry.path().join(MANIFEST_FILE);
        // Anything named plugin.toml counts (a FIFO too): `load` says what is wrong with it.
        if entry.file_type().map_err(list_err)?.is_dir()
            && std::fs::symlink_metadata(&manifest).is_ok()
        {
            folders.push(manifest);
        }
    }
    folders.sort();
    if folders.is_empty() {
        return Err(ManifestError::NoPlugins {
            dir: dir.to_path_buf(),
        });
    }
    Ok(folders)
}

/// Load and validate one manifest file.
pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
    let text = read_text(
        path,
        MAX_MANIFEST_BYTES,
        "plugin manifest",
        Symlinks::Follow,
    )
    .map_err(|e| match e {
        ReadError::TooLarge { size, .. } => ManifestError::TooLarge {
            path: path.to_path_buf(),
            size,
        },
        other => ManifestError::File(other),
    })?;
    let dir = absolute(path.parent().unwrap_or(Path::new(".")));
    parse(&text, path, &dir)
}

/// Parse manifest text. `path` is only used in messages; `dir` anchors relative paths.
pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<Manifest, ManifestError> {
    let invalid = |message: String, hint: &str| ManifestError::Invalid {
        path: path.to_path_buf(),
        message,
        hint: hint.to_string(),
    };
    let raw: RawManifest = toml::from_str(text).map_err(|e| {
        invalid(
            e.to_string().trim_end().to_string(),
            "see the manifest reference in README.md; allowed sections are [plugin], [build], [grants], [[grants.mounts]], [grants.env] and [limits]",
        )
    })?;

    let name = raw.plugin.name;
    if !is_valid_name(&name) {
        return Err(invalid(
            format!("key `plugin.name`: `{name}` is not a valid plugin name"),
            &format!("use {NAME_RULE}"),
        ));
    }

    if raw.plugin.component.trim().is_empty() {
        return Err(invalid(
            "key `plugin.component` is empty".into(),
            "give the path of the plugin's .wasm component, relative to this manifest",
        ));
    }
    let component = dir.join(&raw.plugin.component);
    if component.extension().is_some_and(|e| e == "cwasm") {
        return Err(invalid(
            format!(
                "key `plugin.component`: `{}` is a precompiled artifact",
                raw.plugin.component
            ),
            "point at the .wasm component; the host compiles and caches it itself and never loads machine code a plugin ships",
        ));
    }

    let sha256 = match raw.plugin.sha256 {
        Some(pin) => {
            let pin = pin.to_ascii_lowercase();
            if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(
                    format!("key `plugin.sha256`: `{pin}` is not a sha256 digest"),
                    "give 64 hex digits, as printed by `sha256sum component.wasm`, or remove the key",
                ));
            }
            Some(pin)
        }
        None => None,
    };

    let build = match raw.build {
        Some(b) if b.command.is_empty() || b.command[0].trim().is_empty() => {
            return Err(invalid(
                "key `build.command` is empty".into(),
                "give the build command as a list of arguments, e.g. [\"cargo\", \"build\", \"--target\", \"wasm32-wasip2\"]",
            ));
        }
        Some(b) => Some(BuildCommand { argv: b.command }),
        None => None,
    };

    // Each kind of grant parses its own keys (see `grants::capability`).
    let key = |problem: KeyProblem| invalid(problem.message, &problem.hint);
    let network = grants::net::parse_entries("grants.network", &raw.grants.network).map_err(key)?;
    let mounts = grants::mounts::parse(raw.grants.mounts, dir).map_err(key)?;
    let tls_roots = grants::tls::parse_roots(&raw.grants.tls_roots, dir).map_err(key)?;
    let env = grants::env::parse(raw.grants.env).map_err(key)?;
    let writes =
        grants::writes::parse_prefixes("grants.writes", &raw.grants.writes).map_err(key)?;
    let limits = grants::limits::parse(&raw.limits).map_err(key)?;

    Ok(Manifest {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        name,
        kind: raw.plugin.kind,
        component,
        sha256,
        build,
        grants: Grants {
            mounts,
            env,
            writes,
            network,
            tls_roots,
        },
        limits,
    })
}

/// Whether `p` climbs with a `..` segment.
pub(crate) fn has_parent_segment(p: &Path) -> bool {
    p.components().any(|c| c == Component::ParentDir)
}

/// Remove `.` segments and duplicate separators without touching the file system.
pub(crate) fn lexically_normal(p: &Path) -> PathBuf {
    p.components().filter(|c| *c != Component::CurDir).collect()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A manifest for plugin `name` with no grants and default limits, for
/// tests of code that only needs names and kinds.
#[cfg(test)]
pub(crate) fn stub(name: &str, kind: PluginKind) -> Manifest {
    Manifest {
        path: PathBuf::from(format!("/p/{name}/plugin.toml")),
        dir: PathBuf::from(format!("/p/{name}")),
        name: name.into(),
        kind,
        component: PathBuf::from("/p/x.wasm"),
        sha256: None,
        build: None,
        grants: Grants::default(),
        limits: Limits::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    fn parse_ok(text: &str) -> Manifest {
        match parse(text, Path::new("p/plugin.toml"), Path::new("/plugins/p")) {
            Ok(m) => m,
            Err(e) => panic!("expected manifest to parse: {e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match parse(text, Path::new("p/plugin.toml"), Path::new("/plugins/p")) {
            Ok(m) => panic!("expected an error, got {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    const MINIMAL: &str = "[plugin]\nname = \"p\"\nkind = \"tool\"\ncomponent = \"p.wasm\"\n";

    #[test]
    fn minimal_manifest_grants_nothing() {
        let m = parse_ok(MINIMAL);
        assert_eq!(m.name, "p");
        assert_eq!(m.kind, PluginKind::Tool);
        assert_eq!(m.component, Path::new("/plugins/p/p.wasm"));
        assert_eq!(m.grants, Grants::default());
        assert_eq!(m.limits, Limits::default());
    }

    #[test]
    fn full_manifest_parses() {
        let m = parse_ok(&format!(
            "{MINIMAL}sha256 = \"{}\"\n[build]\ncommand = [\"cargo\", \"build\"]\n\
             [grants]\nwrites = [\"reports/\"]\n[grants.env]\nvars = {{ MODE = \"x\" }}\ninherit = [\"LANG\"]\n\
             [[grants.mounts]]\nhost = \"${{workspace}}\"\nguest = \"/workspace\"\nmode = \"read\"\n\
             [[grants.mounts]]\nhost = \"data\"\nguest = \"/data\"\nmode = \"read-write\"\n\
             [limits]\nmemory-mib = 32\ntimeout-ms = 500\nmax-output-kib = 8\nfuel = 5000\n",
            "A".repeat(64)
        ));
        assert_eq!(m.sha256.as_deref(), Some("a".repeat(64).as_str()));
        assert_eq!(m.grants.writes, vec!["reports/".to_string()]);
        assert_eq!(m.grants.mounts[0].host, MountSource::Workspace);
        assert_eq!(
            m.grants.mounts[1].host,
            MountSource::Path(PathBuf::from("/plugins/p/data"))
        );
        assert_eq!(m.grants.mounts[1].mode, MountMode::ReadWrite);
        assert_eq!(m.grants.env.len(), 2);
        assert_eq!(m.limits.memory_bytes, 32 * 1024 * 1024);
        assert_eq!(m.limits.timeout, std::time::Duration::from_millis(500));
        assert_eq!(m.limits.max_output_bytes, 8 * 1024);
        assert_eq!(m.limits.fuel, Some(5000));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse_err(&format!("{MINIMAL}[grants]\nnetwrok = []\n"));
        assert!(e.contains("p/plugin.toml") && e.contains("netwrok"), "{e}");
    }

    #[test]
    fn duplicate_key_is_refused() {
        let e = parse_err(&format!("{MINIMAL}name = \"q\"\n"));
        assert!(e.contains("name"), "{e}");
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        for (extra, key) in [
            ("[grants]\nwrites = [\"../x\"]\n", "grants.writes"),
            ("[grants]\nwrites = [\"/abs\"]\n", "grants.writes"),
            (
                "[grants]\nnetwork = [\"example.com\"]\n",
                "grants.network[0]",
            ),
            (
                "[[grants.mounts]]\nhost = \"../up\"\nguest = \"/x\"\nmode = \"read\"\n",
                "grants.mounts[0].host",
            ),
            (
                "[[grants.mounts]]\nhost = \"/etc\"\nguest = \"/x\"\nmode = \"read\"\n",
                "grants.mounts[0].host",
            ),
            (
                "[[grants.mounts]]\nhost = \"d\"\nguest = \"rel\"\nmode = \"read\"\n",
                "grants.mounts[0].guest",
            ),
            (
                "[[grants.mounts]]\nhost = \"d\"\nguest = \"/a\"\nmode = \"read\"\n\
                 [[grants.mounts]]\nhost = \"e\"\nguest = \"/a/b\"\nmode = \"read\"\n",
                "grants.mounts[1].guest",
            ),
            ("[grants.env]\ninherit = [\"1BAD\"]\n", "grants.env.inherit"),
            ("[limits]\nmemory-mib = 0\n", "limits.memory-mib"),
            ("[limits]\nfuel = 0\n", "limits.fuel"),
            ("[limits]\nfuel = -1\n", "fuel"),
            ("[limits]\nfule = 10\n", "fule"),
        ] {
            let e = parse_err(&format!("{MINIMAL}{extra}"));
            assert!(e.contains(key), "expected `{key}` in: {e}");
            assert!(e.contains("hint:"), "expected a hint in: {e}");
        }
    }

    fn network(entries: &[&str]) -> Result<Vec<NetworkGrant>, String> {
        let list: Vec<String> = entries
            .iter()
            .map(|e| toml::Value::String(e.to_string()).to_string())
            .collect();
        let text = format!("{MINIMAL}[grants]\nnetwork = [{}]\n", list.join(", "));
        parse(&text, Path::new("p/plugin.toml"), Path::new("/plugins/p"))
            .map(|m| m.grants.network)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn network_entries_parse_to_hosts_and_ports() {
        let grants = network(&[
            "127.0.0.1:8080",
            "localhost:11434",
            "[::1]:9000",
            "Api.Example.COM:443",
            "10.0.0.1:65535",
        ])
        .expect("valid entries");
        let shown: Vec<String> = grants.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "127.0.0.1:8080",
                "localhost:11434",
                "[::1]:9000",
                "api.example.com:443",
                "10.0.0.1:65535"
            ]
        );
        assert_eq!(
            grants[0].host,
            NetHost::Ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)))
        );
        assert_eq!(grants[1].host, NetHost::Name("localhost".into()));
        assert_eq!(grants[2].host, NetHost::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(grants[2].port, 9000);
    }

    #[test]
    fn odd_ipv4_spellings_are_refused_with_the_canonical_form() {
        for (entry, canonical) in [
            ("127.1:8080", "\"127.0.0.1:8080\""),
            ("2130706433:8080", "\"127.0.0.1:8080\""),
            ("0x7f000001:8080", "\"127.0.0.1:8080\""),
            ("0177.0.0.1:8080", "\"127.0.0.1:8080\""),
            ("127.0.1:8080", "\"127.0.0.1:8080\""),
            ("[::ffff:127.0.0.1]:8080", "\"127.0.0.1:8080\""),
            ("[0:0:0:0:0:0:0:1]:8080", "\"[::1]:8080\""),
        ] {
            let e = network(&[entry]).expect_err(entry);
            assert!(
                e.contains("grants.network[0]") && e.contains("p/plugin.toml"),
                "{e}"
            );
            assert!(e.contains("hint: write"), "{e}");
            assert!(e.contains(canonical), "expected {canonical} in: {e}");
        }
    }

    #[test]
    fn malformed_network_entries_are_refused_with_a_hint() {
        for (entry, needle) in [
            ("", "is empty"),
            ("example.com", "has no port"),
            ("example.com:", "not a port number"),
            ("example.com:0", "not a port number"),
            ("example.com:65536", "not a port number"),
            ("example.com:080", "not a port number"),
            ("example.com:+80", "not a port number"),
            ("http://example.com:80", "is a URL"),
            ("example.com:80/path", "not a plain host:port"),
            ("user@example.com:80", "not a plain host:port"),
            ("*.example.com:80", "wildcard"),
            ("example .com:80", "not a plain host:port"),
            ("::1:80", "without brackets"),
            ("::1", "without brackets"),
            ("[::1]", "has no port"),
            ("[::1:80", "unclosed"),
            ("[nope]:80", "not a valid IPv6"),
            ("0.0.0.0:80", "unspecified"),
            ("[::]:80", "unspecified"),
            ("999.1.1.1:80", "invalid host"),
            ("-bad.example:80", "invalid host"),
            ("example.com.:80", "invalid host"),
            ("ex_ample.com:80", "invalid host"),
            ("bücher.example:80", "invalid host"),
            ("\u{1b}[2J:80", "not a plain host:port"),
        ] {
            let e = network(&[entry]).expect_err(entry);
            assert!(e.contains(needle), "{entry:?}: expected `{needle}` in: {e}");
            assert!(
                e.contains("grants.network[0]") && e.contains("\nhint: "),
                "{e}"
            );
            assert!(!e.contains('\u{1b}'), "entries are quoted inertly: {e:?}");
        }
        let e = network(&["a.example:1", "A.example:1"]).expect_err("duplicate");
        assert!(
            e.contains("grants.network[1]") && e.contains("twice"),
            "{e}"
        );
    }

    #[test]
    fn precompiled_component_is_refused() {
        let e = parse_err("[plugin]\nname = \"p\"\nkind = \"tool\"\ncomponent = \"p.cwasm\"\n");
        assert!(e.contains("precompiled"), "{e}");
    }

    #[test]
    fn invalid_names_are_refused() {
        for name in ["", "Upper", "1abc", "a_b", "a/b"] {
            let e = parse_err(&format!(
                "[plugin]\nname = \"{name}\"\nkind = \"tool\"\ncomponent = \"p.wasm\"\n"
            ));
            assert!(e.contains("plugin.name"), "{e}");
        }
    }

    #[test]
    fn oversized_manifest_is_refused_before_parsing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(MANIFEST_FILE);
        std::fs::write(&path, "#".repeat(MAX_MANIFEST_BYTES as usize + 1)).expect("write");
        assert!(matches!(load(&path), Err(ManifestError::TooLarge { .. })));
    }
}
