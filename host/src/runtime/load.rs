//! Loading a plugin: from a manifest to a pre-linked, ready-to-instantiate
//! component.
//!
//! The steps, each with its own error naming the plugin and its manifest:
//! resolve grants; read the component (size-capped) and check a pinned
//! sha256; refuse anything that is not a component (a core module, a
//! precompiled artifact, text, garbage, an empty file) before the compiler
//! sees it; compile through the cache; check that the component exports the
//! world its manifest claims at this contract's version and imports nothing
//! the host does not provide; then pre-link it once. Loading compiles, which
//! can take seconds for large components: call it from a blocking context.
//! A warm load of a component whose fingerprint the cache remembers (see
//! `cache::fingerprints`) reads only its metadata: its sha256 is known and
//! its compiled entry is mapped; any other is read and hashed, and every
//! refusal comes from the bytes read.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use super::Runtime;
use super::bindings::{reviewer, tool};
use super::cache::CacheOutcome;
use super::invoke::StoreState;
use super::logs::LogCollector;
use super::network;
use super::plugin::{KindPre, Plugin, PluginParts};
use crate::contract::WIT_PACKAGE;
use crate::grants::{GrantContext, GrantError, ResolvedGrants};
use crate::manifest::{Manifest, PluginKind};
use crate::protect::ProtectedKind;

/// Components larger than this are refused (read at most this plus one byte).
pub const MAX_COMPONENT_BYTES: u64 = 256 * 1024 * 1024;

/// Components at least this large take seconds to compile (a Python or
/// JavaScript component carries its interpreter: 12-18 MB); callers announce
/// the compile of one before it starts.
pub const LARGE_COMPONENT_BYTES: u64 = 4 * 1024 * 1024;

/// The interfaces of the contract plugins may import, besides WASI (of
/// [`WIT_PACKAGE`], so the version is written once).
const HOST_INTERFACES: &[&str] = &["host", "types"];

/// `harness:plugin/<interface>@<version>` of this host's contract.
fn host_import(interface: &str) -> String {
    let (package, version) = split_version(WIT_PACKAGE);
    format!("{package}/{interface}@{version}")
}

/// WASI 0.2 interfaces linked by `wasmtime_wasi::p2::add_to_linker_async`
/// and `wasmtime_wasi_http::p2::add_only_http_to_linker_async`. What they can
/// reach is decided per plugin by its grants: a plugin without a network
/// grant loads, and each of its network attempts is denied at run time.
const WASI_IMPORTS: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stderr",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stderr",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:http/outgoing-handler",
    "wasi:http/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:random/random",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
];
const WASI_VERSION_PREFIX: &str = "0.2.";

/// Why a plugin could not be loaded. Boxed, so `Result<Plugin, LoadError>`
/// stays small; match on [`LoadError::kind`] or [`LoadError::problem`].
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct LoadError(Box<LoadErrorKind>);

impl LoadError {
    /// The reason, to match on.
    pub fn kind(&self) -> &LoadErrorKind {
        &self.0
    }

    /// What went wrong in a step of the load, if it is not the grants.
    pub fn problem(&self) -> Option<&LoadProblem> {
        match self.kind() {
            LoadErrorKind::Plugin { problem, .. } => Some(problem),
            LoadErrorKind::Grants(_) => None,
        }
    }
}

impl From<LoadErrorKind> for LoadError {
    fn from(kind: LoadErrorKind) -> Self {
        Self(Box::new(kind))
    }
}

impl From<GrantError> for LoadError {
    fn from(e: GrantError) -> Self {
        LoadErrorKind::Grants(e).into()
    }
}

/// `problem` in loading the plugin of `manifest`.
fn refused(manifest: &Manifest, problem: LoadProblem) -> LoadError {
    LoadErrorKind::Plugin {
        plugin: manifest.name.clone(),
        manifest: manifest.path.clone(),
        problem,
    }
    .into()
}

/// The ways loading a plugin fails.
#[derive(Debug, thiserror::Error)]
pub enum LoadErrorKind {
    /// The plugin's grants could not be resolved against its manifest.
    #[error(transparent)]
    Grants(GrantError),
    /// One step of the load refused the plugin.
    #[error(
        "plugin `{plugin}` (`{}`): {problem}",
        crate::render::inert_path(manifest)
    )]
    Plugin {
        /// The plugin's name in the folder.
        plugin: String,
        /// Path of the plugin's manifest.
        manifest: PathBuf,
        /// What is wrong.
        problem: LoadProblem,
    },
}

/// What stops a plugin from loading (the message follows "plugin `p`
/// (`manifest`):" and ends with a hint). Paths of the component are as
/// `plugin.component` resolves.
#[derive(Debug, thiserror::Error)]
pub enum LoadProblem {
    /// The manifest asks for more memory than the host's per-plugin cap.
    #[error(
        "key `limits.memory-mib` asks for {asked_mib} MiB, but this host allows at most {cap_mib} MiB per plugin\nhint: lower `limits.memory-mib` to {cap_mib} or less (each instance slot of the host's pool reserves that much memory)"
    )]
    MemoryOverCap {
        /// The memory `limits.memory-mib` asks for, in MiB.
        asked_mib: u64,
        /// The host's per-plugin memory cap, in MiB.
        cap_mib: u64,
    },
    /// The component file could not be read.
    #[error(
        "cannot read component `{}`: {error}\nhint: build the plugin first (its manifest's [build] command), or fix `plugin.component`",
        crate::render::inert_path(component)
    )]
    Read {
        /// Path of the component file.
        component: PathBuf,
        /// The read's I/O error.
        error: std::io::Error,
    },
    /// The component file is larger than [`MAX_COMPONENT_BYTES`].
    #[error(
        "component `{}` is {size} bytes, over the {MAX_COMPONENT_BYTES}-byte limit\nhint: this is not a plugin component; check `plugin.component`",
        crate::render::inert_path(component)
    )]
    TooLarge {
        /// Path of the component file.
        component: PathBuf,
        /// The file's size, in bytes.
        size: u64,
    },
    /// The component path names something other than a regular file.
    #[error(
        "component `{}` is {kind}, not a regular file\nhint: `plugin.component` must name a built .wasm file (a device or a pipe could block the host or never end)",
        crate::render::inert_path(component)
    )]
    NotAFile {
        /// Path of the component file.
        component: PathBuf,
        /// The component's file type.
        kind: crate::bounded_read::FileKind,
    },
    /// The component's sha256 differs from the one `plugin.sha256` pins.
    #[error(
        "component `{}` has sha256 {actual}, but `plugin.sha256` pins {expected}\nhint: if you rebuilt the plugin on purpose, update `plugin.sha256`; otherwise the file was replaced and must not be run",
        crate::render::inert_path(component)
    )]
    HashMismatch {
        /// Path of the component file.
        component: PathBuf,
        /// The sha256 `plugin.sha256` pins.
        expected: String,
        /// sha256 of the file as read.
        actual: String,
    },
    /// The file is not a WebAssembly component (a core module, say, or not wasm at all).
    #[error(
        "`{}` is not a WebAssembly component: {what}\nhint: {hint}",
        crate::render::inert_path(component)
    )]
    NotAComponent {
        /// Path of the component file.
        component: PathBuf,
        /// What the file is instead.
        what: &'static str,
        /// What to change, for the message's `hint:` line.
        hint: &'static str,
    },
    /// The engine could not compile the component.
    #[error(
        "cannot compile component `{}`: {message}\nhint: the file is damaged or was built by an incompatible toolchain; rebuild it for wasm32-wasip2",
        crate::render::inert_path(component)
    )]
    Compile {
        /// Path of the component file.
        component: PathBuf,
        /// The engine's error text.
        message: String,
    },
    /// The component does not export the world its manifest's kind requires.
    #[error(
        "the component does not export `{expected}` (the `{kind}` world of {WIT_PACKAGE}); it exports {found}\nhint: {hint}"
    )]
    WrongExport {
        /// The kind the manifest declares.
        kind: PluginKind,
        /// The export the manifest's kind requires.
        expected: String,
        /// The exports the component has, as a list for the message.
        found: String,
        /// What to change, for the message's `hint:` line.
        hint: String,
    },
    /// The component imports an interface this host does not provide.
    #[error("the component imports `{import}`, which this host does not provide\nhint: {hint}")]
    UnknownImport {
        /// The import's name.
        import: String,
        /// What to change, for the message's `hint:` line.
        hint: String,
    },
    /// The component could not be linked against the host's imports.
    #[error(
        "cannot link the component: {message}\nhint: rebuild the plugin against wit/ of {WIT_PACKAGE} and WASI 0.2"
    )]
    Link {
        /// The engine's error text.
        message: String,
    },
    /// The fuel-metering engine its `[limits] fuel` needs could not be built.
    #[error(
        "cannot start the fuel-metering engine `limits.fuel` needs: {message}\nhint: this host could start its other engine, so this is unexpected; remove `limits.fuel` to run the plugin on it, and report the message"
    )]
    Engine {
        /// Why the engine could not be built.
        message: String,
    },
}

/// The linker shared by every plugin: WASI 0.2 plus `harness:plugin/host`.
/// Both worlds import the same interfaces, so one linker serves both kinds.
pub(crate) fn host_linker(engine: &Engine) -> wasmtime::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    network::add_lookup_filter(&mut linker, |s: &mut StoreState| &s.net)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    tool::Tool::add_to_linker::<StoreState, HasSelf<LogCollector>>(&mut linker, |s| &mut s.logs)?;
    Ok(linker)
}

pub(crate) fn load(
    rt: &Runtime,
    manifest: &Manifest,
    ctx: &GrantContext<'_>,
    on_compile: &(dyn Fn(u64) + Sync),
) -> Result<Plugin, LoadError> {
    let component_path = || manifest.component.clone();

    if manifest.limits.memory_bytes > rt.config.max_memory_bytes {
        return Err(refused(
            manifest,
            LoadProblem::MemoryOverCap {
                asked_mib: manifest.limits.memory_bytes >> 20,
                cap_mib: rt.config.max_memory_bytes >> 20,
            },
        ));
    }

    // The runtime protects its own directories and the plugin's own files,
    // whatever the caller listed.
    let mut ctx = ctx.clone();
    ctx.protected.extend(&rt.own_dirs);
    ctx.protected
        .add(ProtectedKind::Input, &manifest.path)
        .add(ProtectedKind::Input, &manifest.component);
    let grants = ResolvedGrants::resolve(manifest, &ctx)?;

    let read_err = |error| LoadProblem::Read {
        component: component_path(),
        error,
    };
    let refuse_read = |e| match e {
        crate::bounded_read::ReadError::Io { source, .. } => read_err(source),
        // Only text reads decode.
        e @ crate::bounded_read::ReadError::NotUtf8 { .. } => {
            read_err(std::io::Error::other(e.to_string()))
        }
        crate::bounded_read::ReadError::TooLarge { size, .. } => LoadProblem::TooLarge {
            component: component_path(),
            size,
        },
        crate::bounded_read::ReadError::NotRegular { kind, .. } => LoadProblem::NotAFile {
            component: component_path(),
            kind,
        },
    };
    let opened = crate::bounded_read::open_regular(
        &manifest.component,
        MAX_COMPONENT_BYTES,
        "component",
        crate::bounded_read::Symlinks::Follow,
    )
    .map_err(|e| refused(manifest, refuse_read(e)))?;

    let parts = rt.engine_for(manifest.limits.fuel.is_some()).map_err(|e| {
        refused(
            manifest,
            LoadProblem::Engine {
                message: e.to_string(),
            },
        )
    })?;
    let engine = &parts.engine;

    // A component hashed before and unchanged since (by its fingerprint)
    // with a cache entry is not read at all. Any other is read and hashed,
    // and its errors come from those bytes.
    let remembered = parts.cache.known_sha256(&opened).filter(|digest| {
        manifest
            .sha256
            .as_deref()
            .is_none_or(|pin| *pin == hex::encode(digest))
    });
    let known = remembered.and_then(|digest| Some((digest, parts.cache.load(engine, &digest)?)));
    let (digest, component, cache) = match known {
        Some((digest, component)) => (digest, component, CacheOutcome::Hit),
        None => {
            let meta = opened.metadata().clone();
            let read_started = std::time::SystemTime::now();
            let bytes = opened
                .read()
                .map_err(|e| refused(manifest, refuse_read(e)))?;
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            check_bytes(manifest, &bytes, &digest)?;
            parts.cache.learn_sha256(&meta, digest, read_started);
            // The remembered digest's entry was just tried (and is gone).
            let cached = if remembered == Some(digest) {
                None
            } else {
                parts.cache.load(engine, &digest)
            };
            let (component, cache) = match cached {
                Some(component) => (component, CacheOutcome::Hit),
                None => {
                    on_compile(bytes.len() as u64);
                    let component = parts.cache.compile(engine, &bytes, &digest).map_err(|e| {
                        let problem = LoadProblem::Compile {
                            component: component_path(),
                            message: format!("{e:#}"),
                        };
                        refused(manifest, problem)
                    })?;
                    (component, CacheOutcome::Miss)
                }
            };
            (digest, component, cache)
        }
    };
    let sha256 = hex::encode(digest);

    // Imports first: an import this host does not provide is the harder
    // failure, whatever the component exports.
    check_imports(manifest, &component, engine)?;
    check_exports(manifest, &component, engine)?;

    let link_err = |e: wasmtime::Error| {
        refused(
            manifest,
            LoadProblem::Link {
                message: format!("{e:#}"),
            },
        )
    };
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let pre = parts.linker.instantiate_pre(&component).map_err(link_err)?;
    let pre = match manifest.kind {
        PluginKind::Tool => KindPre::Tool(tool::ToolPre::new(pre).map_err(link_err)?),
        PluginKind::Reviewer => {
            KindPre::Reviewer(reviewer::ReviewerPre::new(pre).map_err(link_err)?)
        }
    };

    tracing::info!(plugin = %manifest.name, kind = %manifest.kind, sha256 = %sha256, cache = ?cache, "plugin loaded");
    Ok(Plugin::new(PluginParts {
        manifest: manifest.clone(),
        name: Arc::from(manifest.name.as_str()),
        sha256,
        grants,
        engine: engine.clone(),
        pre,
        ticker: rt.ticker.clone(),
        timeout_grace: rt.config.timeout_grace,
        threads: rt.config.call_threads,
        scratch: rt.config.scratch_dir.clone(),
        cache,
        descriptors: Arc::clone(&rt.descriptors),
        imports,
        exports,
    }))
}

/// The checks on a component's bytes before they reach the compiler: the
/// sha256 `plugin.sha256` pins, and that they are a component at all.
fn check_bytes(manifest: &Manifest, bytes: &[u8], digest: &[u8; 32]) -> Result<(), LoadError> {
    let component = || manifest.component.clone();
    if let Some(expected) = &manifest.sha256 {
        let actual = hex::encode(digest);
        if *expected != actual {
            return Err(refused(
                manifest,
                LoadProblem::HashMismatch {
                    component: component(),
                    expected: expected.clone(),
                    actual,
                },
            ));
        }
    }
    if let Some((what, hint)) = not_a_component(bytes) {
        return Err(refused(
            manifest,
            LoadProblem::NotAComponent {
                component: component(),
                what,
                hint,
            },
        ));
    }
    Ok(())
}

/// The export a plugin of `kind` must have.
pub(crate) fn expected_export(kind: PluginKind) -> String {
    let (package, version) = split_version(WIT_PACKAGE);
    format!("{package}/{}-plugin@{version}", kind.world())
}

fn split_version(name: &str) -> (&str, &str) {
    name.split_once('@').unwrap_or((name, ""))
}

fn check_exports(
    manifest: &Manifest,
    component: &Component,
    engine: &Engine,
) -> Result<(), LoadError> {
    let expected = expected_export(manifest.kind);
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    if exports.contains(&expected) {
        return Ok(());
    }
    let (expected_unversioned, _) = split_version(&expected);
    let other_kind = match manifest.kind {
        PluginKind::Tool => PluginKind::Reviewer,
        PluginKind::Reviewer => PluginKind::Tool,
    };
    let hint = if exports.contains(&expected_export(other_kind)) {
        format!(
            "the component is a {other_kind}, but its manifest says kind = \"{}\"; fix `plugin.kind`, or rebuild the plugin as a {}",
            manifest.kind, manifest.kind
        )
    } else if let Some(other) = exports
        .iter()
        .find(|e| split_version(e).0 == expected_unversioned)
    {
        format!(
            "the component was built against version {} of the contract; this host serves {WIT_PACKAGE}: rebuild it against wit/ of this version",
            split_version(other).1
        )
    } else {
        format!(
            "build the plugin for the `{}` world of {WIT_PACKAGE} (the SDK does this for you)",
            manifest.kind.world()
        )
    };
    let found = if exports.is_empty() {
        "nothing".to_string()
    } else {
        exports
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(refused(
        manifest,
        LoadProblem::WrongExport {
            kind: manifest.kind,
            expected,
            found,
            hint,
        },
    ))
}

fn check_imports(
    manifest: &Manifest,
    component: &Component,
    engine: &Engine,
) -> Result<(), LoadError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if is_provided_import(name) {
            continue;
        }
        let (unversioned, _) = split_version(name);
        let hint = if unversioned.starts_with("harness:plugin/") {
            let (_, found) = split_version(name);
            format!(
                "the component was built against harness:plugin@{found}, but this host serves {WIT_PACKAGE} (world `{}`, exporting `{}`); rebuild it against wit/ of this version",
                manifest.kind.world(),
                expected_export(manifest.kind)
            )
        } else if unversioned.starts_with("wasi:http/") {
            "this host provides wasi:http/types and wasi:http/outgoing-handler (outgoing requests) only; a plugin cannot serve HTTP".to_string()
        } else if WASI_IMPORTS.contains(&unversioned) {
            "this host provides WASI 0.2.x; rebuild the plugin with a toolchain that targets WASI 0.2 (wasm32-wasip2)".to_string()
        } else {
            format!(
                "plugins may import only WASI 0.2 (cli, clocks, filesystem, http, io, random, sockets) and {}; remove the dependency that pulls this import in",
                host_import(HOST_INTERFACES[0])
            )
        };
        return Err(refused(
            manifest,
            LoadProblem::UnknownImport {
                import: name.to_string(),
                hint,
            },
        ));
    }
    Ok(())
}

fn is_provided_import(name: &str) -> bool {
    if HOST_INTERFACES.iter().any(|i| host_import(i) == name) {
        return true;
    }
    match name.split_once('@') {
        Some((interface, version)) => {
            WASI_IMPORTS.contains(&interface) && version.starts_with(WASI_VERSION_PREFIX)
        }
        None => false,
    }
}

/// Why `bytes` cannot be a component, with a hint, or `None` if they look
/// like one (binary component preamble).
fn not_a_component(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    const REBUILD: &str = "build the plugin for wasm32-wasip2 (e.g. `cargo build --target wasm32-wasip2`) and point `plugin.component` at the .wasm it produces";
    if bytes.is_empty() {
        return Some(("the file is empty", REBUILD));
    }
    if Engine::detect_precompiled(bytes).is_some() {
        return Some((
            "it is a precompiled artifact",
            "point `plugin.component` at the .wasm component; the host compiles it itself and never runs machine code a plugin ships",
        ));
    }
    if let Some(rest) = bytes.strip_prefix(b"\0asm") {
        return match rest.get(..4) {
            Some([0x0d, 0x00, 0x01, 0x00]) => None,
            Some([0x01, 0x00, 0x00, 0x00]) => Some((
                "it is a core WebAssembly module",
                "build for wasm32-wasip2 (not wasm32-wasip1 or wasm32-unknown-unknown), or wrap the module with `wasm-tools component new`",
            )),
            Some(_) => Some((
                "it has an unsupported WebAssembly version or layer",
                "rebuild it with a toolchain that emits WASI 0.2 components",
            )),
            None => Some(("it is truncated", REBUILD)),
        };
    }
    if bytes.trim_ascii_start().starts_with(b"(") {
        return Some((
            "it looks like WebAssembly text",
            "the host loads binary components only; convert it with `wasm-tools parse`",
        ));
    }
    Some(("it is not a WebAssembly binary", REBUILD))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Grants, Limits};
    use crate::runtime::RuntimeConfig;

    #[test]
    fn byte_classification() {
        assert!(not_a_component(b"\0asm\x0d\0\x01\0rest").is_none());
        for (bytes, what) in [
            (&b""[..], "empty"),
            (b"\0asm\x01\0\0\0", "core WebAssembly module"),
            (b"\0asm\x0e\0\x01\0", "unsupported"),
            (b"\0asm\x01", "truncated"),
            (b"  (component)", "text"),
            (b"#!/bin/sh\necho hi", "not a WebAssembly binary"),
        ] {
            let (got, _) = not_a_component(bytes).expect("refused");
            assert!(got.contains(what), "{bytes:?}: {got}");
        }
    }

    #[test]
    fn provided_imports() {
        for ok in [
            "wasi:cli/environment@0.2.0",
            "wasi:io/streams@0.2.6",
            "wasi:filesystem/types@0.2.3",
            "harness:plugin/host@0.1.0",
            "harness:plugin/types@0.1.0",
        ] {
            assert!(is_provided_import(ok), "{ok}");
        }
        for ok in [
            "wasi:http/outgoing-handler@0.2.0",
            "wasi:http/types@0.2.4",
            "wasi:sockets/tcp@0.2.0",
        ] {
            assert!(is_provided_import(ok), "{ok}");
        }
        for bad in [
            "wasi:http/incoming-handler@0.2.0",
            "wasi:cli/environment@0.3.0",
            "wasi:cli/environment",
            "wasi:clocks/timezone@0.2.0",
            "harness:plugin/host@0.2.0",
            "evil:backdoor/shell@1.0.0",
        ] {
            assert!(!is_provided_import(bad), "{bad}");
        }
    }

    #[test]
    fn expected_exports_follow_the_contract_version() {
        assert_eq!(
            expected_export(PluginKind::Tool),
            "harness:plugin/tool-plugin@0.1.0"
        );
        assert_eq!(
            expected_export(PluginKind::Reviewer),
            "harness:plugin/reviewer-plugin@0.1.0"
        );
    }

    fn runtime(dir: &std::path::Path) -> Runtime {
        let mut config = RuntimeConfig::new(dir.join("cache"));
        config.max_instances = 2;
        Runtime::new(config).expect("runtime")
    }

    fn manifest_for(component: PathBuf, sha256: Option<String>) -> Manifest {
        Manifest {
            path: component.with_file_name("plugin.toml"),
            dir: component.parent().map(PathBuf::from).unwrap_or_default(),
            name: "broken".into(),
            kind: PluginKind::Tool,
            component,
            sha256,
            build: None,
            grants: Grants::default(),
            limits: Limits::default(),
        }
    }

    fn load_err(
        rt: &Runtime,
        dir: &std::path::Path,
        bytes: &[u8],
        sha256: Option<String>,
    ) -> LoadError {
        let component = dir.join("p.wasm");
        std::fs::write(&component, bytes).expect("write");
        let m = manifest_for(component, sha256);
        match rt.load(&m, &GrantContext::new(dir)) {
            Ok(p) => panic!("expected a load error, got {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn load_refuses_non_components_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        // A minimal valid core module: magic, version 1, no sections.
        for (bytes, what) in [
            (&b"\0asm\x01\0\0\0"[..], "core WebAssembly module"),
            (b"", "empty"),
            (b"\x7fELF garbage", "not a WebAssembly binary"),
        ] {
            let e = load_err(&rt, dir.path(), bytes, None);
            assert!(
                matches!(e.problem(), Some(LoadProblem::NotAComponent { .. })),
                "{e:?}"
            );
            let s = e.to_string();
            assert!(
                s.contains(what)
                    && s.contains("`broken`")
                    && s.contains("plugin.toml")
                    && s.contains("\nhint:"),
                "{s}"
            );
        }
    }

    #[test]
    fn load_refuses_a_component_that_does_not_compile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let e = load_err(&rt, dir.path(), b"\0asm\x0d\0\x01\0\xff\xff", None);
        assert!(
            matches!(e.problem(), Some(LoadProblem::Compile { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn load_refuses_a_hash_mismatch_naming_both_digests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let pinned = "0".repeat(64);
        let e = load_err(&rt, dir.path(), b"\0asm\x0d\0\x01\0", Some(pinned.clone()));
        let actual = hex::encode(Sha256::digest(b"\0asm\x0d\0\x01\0"));
        let s = e.to_string();
        assert!(s.contains(&pinned) && s.contains(&actual), "{s}");
    }

    /// The smallest component: the preamble alone. It exports nothing.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    /// A hand-encoded component importing an (empty) instance named `name`.
    fn component_importing(name: &str) -> Vec<u8> {
        let mut bytes = EMPTY_COMPONENT.to_vec();
        // Type section: one empty instance type.
        bytes.extend([0x07, 0x03, 0x01, 0x42, 0x00]);
        // Import section: one import, plain name, of instance type 0.
        let len = u8::try_from(name.len()).expect("short name");
        bytes.extend([0x0a, 5 + len, 0x01, 0x00, len]);
        bytes.extend(name.as_bytes());
        bytes.extend([0x05, 0x00]);
        bytes
    }

    #[test]
    fn load_refuses_a_component_without_the_world_export() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let e = load_err(&rt, dir.path(), EMPTY_COMPONENT, None);
        assert!(
            matches!(e.problem(), Some(LoadProblem::WrongExport { .. })),
            "{e:?}"
        );
        let s = e.to_string();
        assert!(
            s.contains("`harness:plugin/tool-plugin@0.1.0`")
                && s.contains("exports nothing")
                && s.contains("\nhint:"),
            "{s}"
        );
    }

    #[test]
    fn load_refuses_unknown_imports_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        for (import, hint) in [
            ("evil:backdoor/shell@1.0.0", "may import only"),
            ("wasi:http/incoming-handler@0.2.0", "cannot serve HTTP"),
            (
                "harness:plugin/host@0.2.0",
                "built against harness:plugin@0.2.0",
            ),
        ] {
            let e = load_err(&rt, dir.path(), &component_importing(import), None);
            assert!(
                matches!(e.problem(), Some(LoadProblem::UnknownImport { .. })),
                "{e:?}"
            );
            let s = e.to_string();
            assert!(
                s.contains(&format!("`{import}`")) && s.contains(hint),
                "{s}"
            );
        }
    }

    #[test]
    fn load_refuses_a_missing_component() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let m = manifest_for(dir.path().join("missing.wasm"), None);
        let e = rt
            .load(&m, &GrantContext::new(dir.path()))
            .expect_err("missing");
        assert!(
            matches!(e.problem(), Some(LoadProblem::Read { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn load_refuses_memory_over_the_host_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let mut m = manifest_for(dir.path().join("p.wasm"), None);
        m.limits.memory_bytes = 2 << 30;
        let e = rt
            .load(&m, &GrantContext::new(dir.path()))
            .expect_err("over cap");
        assert!(e.to_string().contains("limits.memory-mib"), "{e}");
    }
}
