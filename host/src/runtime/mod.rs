//! The WebAssembly runtime: two engines, a compile cache, one pre-linked
//! instance per plugin, and a fresh store per invocation.
//!
//! # Isolation model
//!
//! * **Two [`Engine`](wasmtime::Engine)s** per host ([`engine`]), both with
//!   the pooling allocator and epoch interruption driven by one ticker
//!   thread; one meters fuel, for the plugins whose manifest sets a fuel
//!   limit (built when the first of them loads), the other does not
//!   (metering slows every call).
//! * **Compile once, verify before trusting** ([`cache`]): compiled machine
//!   code is cached in the host's own cache directory, keyed by the
//!   component's sha256 and the engine's compatibility hash. Loading a
//!   `.cwasm` means running its machine code without validation, so an entry
//!   is used only after its checksum matches; a plugin can never supply one
//!   (the cache dir is protected from mounts and manifests may not name a
//!   `.cwasm`).
//! * **Checked before linked** ([`load`]): a component must export the world
//!   its manifest claims, at this contract's version, and may import only WASI
//!   0.2 (wasi:http included) and `harness:plugin/host`. Unknown imports are
//!   refused with their name, never linked as traps.
//! * **Network by grant only** ([`network`]): wasi:sockets and wasi:http are
//!   linked for every plugin, and every connect, send, lookup and request is
//!   checked against the plugin's resolved network grant; without a grant
//!   each one is denied and logged. `https://` requests are verified against
//!   the host named in the URL with the plugin's trust roots, with no way to
//!   skip verification.
//! * **A fresh store and instance per invocation** ([`invoke`]): nothing a
//!   plugin leaves in its memory, globals or WASI state survives into the next
//!   step or run, and a trap kills only that invocation. Instantiating from
//!   the plugin's `InstancePre` costs tens of microseconds, so isolation is
//!   cheap.
//! * **Two clocks**: an epoch deadline traps a guest spinning in wasm; a
//!   wall-clock timeout around the whole instantiate-and-call also stops a
//!   guest blocked in a host call, which epochs cannot interrupt.
//! * **Bounded everything**: memory (per store, across all memories), fuel
//!   (if the manifest sets `[limits] fuel`), handles (open files, streams), instance
//!   and table counts, stdout/stderr, log lines, and the size of the returned
//!   output plus proposed writes.

mod bindings;
mod cache;
mod cancel;
mod engine;
mod guest_error;
mod invoke;
mod load;
mod logs;
mod network;
mod plugin;
mod private_copy;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use wasmtime::component::Linker;

use crate::grants::GrantContext;
use crate::manifest::Manifest;
use crate::protect::{Protected, ProtectedKind};

pub use self::cache::{
    CacheEntry, CacheListing, CacheOutcome, Cleared, EntryStatus, FoundFile, clear as clear_cache,
};
pub use self::cancel::Cancel;
pub use self::invoke::{FailureKind, Invocation, InvokeFailure, MAX_RESOURCES};
pub use self::load::{
    LARGE_COMPONENT_BYTES, LoadError, LoadErrorKind, LoadProblem, MAX_COMPONENT_BYTES,
};
pub use self::logs::{MAX_LOG_LINE_BYTES, MAX_LOG_LINES};
pub use self::plugin::Plugin;
pub use self::private_copy::MountChange;

use self::cache::CompileCache;
use self::cache::descriptors::Descriptors;
use self::cache::fingerprints::Fingerprints;
use self::engine::EpochTicker;
use self::invoke::StoreState;

/// Settings of the runtime. [`RuntimeConfig::new`] gives sane defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Where compiled components are cached. Must be one of the host's own
    /// directories, never granted to a plugin.
    pub cache_dir: PathBuf,
    /// How many plugin instances may exist at once (concurrent invocations),
    /// per engine: plugins with and without a fuel limit each have a pool of
    /// this size. Each slot reserves address space in the pooling allocator
    /// (about 4 GiB of *virtual* memory per linear memory slot, two slots per
    /// instance), so keep this near the real concurrency.
    pub max_instances: u32,
    /// The most linear memory any one plugin may be granted, in bytes. A
    /// manifest asking for more is refused at load.
    pub max_memory_bytes: u64,
    /// How often the epoch advances; the granularity of CPU timeouts.
    pub epoch_tick: Duration,
    /// Bytes of each used linear memory slot restored in place for the next
    /// instance instead of being returned to the kernel (see
    /// `engine::pooling`). Faster calls; each slot that has been used keeps
    /// up to this much resident. 0 turns it off.
    pub keep_resident_bytes: usize,
    /// Extra wall-clock time beyond a plugin's timeout before the invocation
    /// is abandoned; gives the epoch deadline the first chance to stop it
    /// with a precise trap.
    pub timeout_grace: Duration,
    /// Where read-write mounts are copied for each call (see
    /// `private_copy`). One of the host's own directories: protected like
    /// the cache, which it lies in by default.
    pub scratch_dir: PathBuf,
    /// Where plugin calls run, and so where a guest's file operations run.
    pub call_threads: CallThreads,
}

/// Where a plugin call runs (see `runtime::plugin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallThreads {
    /// On the caller's task; each file operation of the guest is handed to
    /// tokio's blocking pool and back. The cheapest for calls that do few
    /// (an MCP call), and it keeps a guest blocked in a host call from
    /// holding anything but a pool thread.
    #[default]
    Shared,
    /// Each call on a thread of its own (from tokio's blocking pool), its
    /// file operations right there: one hand-off per call instead of two per
    /// file operation. For workflow runs, whose tools read their mounts.
    Own,
}

impl RuntimeConfig {
    /// Defaults: 128 concurrent instances, 1 GiB memory cap, 1 MiB kept
    /// resident per used memory slot, 10 ms epoch tick, 250 ms grace, calls
    /// on the caller's task ([`CallThreads::Shared`]).
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        let cache_dir = cache_dir.into();
        Self {
            scratch_dir: cache_dir.join("private-copies"),
            cache_dir,
            max_instances: 128,
            max_memory_bytes: 1 << 30,
            keep_resident_bytes: 1 << 20,
            epoch_tick: Duration::from_millis(10),
            timeout_grace: Duration::from_millis(250),
            call_threads: CallThreads::Shared,
        }
    }
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A runtime setting is out of range or inconsistent with another.
    #[error("invalid runtime configuration: {message}\nhint: {hint}")]
    Config {
        /// What is wrong with the configuration.
        message: String,
        /// What to change, for the message's `hint:` line.
        hint: String,
    },
    /// wasmtime could not create the engine.
    #[error(
        "cannot create the WebAssembly engine: {message}\nhint: the pooling allocator reserves virtual memory per instance; lower `max_instances` or raise `ulimit -v`"
    )]
    Engine {
        /// wasmtime's error text.
        message: String,
    },
    /// The compile cache directory could not be created.
    #[error(
        "cannot create the compile cache directory `{path}`: {error}\nhint: the host needs a writable cache directory of its own"
    )]
    CacheDir {
        /// The cache directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The compile cache directory could not be read.
    #[error("cannot read the compile cache directory `{path}`: {error}")]
    CacheRead {
        /// The cache directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The host interfaces could not be added to the linker.
    #[error("cannot link the host interfaces: {message}")]
    Link {
        /// wasmtime's error text.
        message: String,
    },
    /// The thread that advances the engines' epochs could not be started.
    #[error("cannot start the epoch ticker thread: {error}")]
    Ticker {
        /// The I/O error from spawning the thread.
        error: std::io::Error,
    },
}

/// One engine with what is tied to it: its compile cache keys and linker.
pub(crate) struct EngineParts {
    pub(crate) engine: wasmtime::Engine,
    pub(crate) cache: CompileCache,
    pub(crate) linker: Linker<StoreState>,
}

impl EngineParts {
    fn new(
        config: &RuntimeConfig,
        metered: bool,
        fingerprints: &Arc<Fingerprints>,
    ) -> Result<Self, RuntimeError> {
        let engine = engine::build(config, metered)?;
        let cache = CompileCache::open(&config.cache_dir, &engine)
            .map(|cache| cache.sharing(Arc::clone(fingerprints)))
            .map_err(|error| RuntimeError::CacheDir {
                path: config.cache_dir.clone(),
                error,
            })?;
        let linker = load::host_linker(&engine).map_err(|e| RuntimeError::Link {
            message: format!("{e:#}"),
        })?;
        Ok(Self {
            engine,
            cache,
            linker,
        })
    }
}

/// The plugin runtime: loads plugins and hands out [`Plugin`]s to invoke.
pub struct Runtime {
    /// For plugins without `[limits] fuel`.
    plain: EngineParts,
    /// For plugins with `[limits] fuel`: fuel metering on. Built when the
    /// first such plugin loads (most folders have none; each engine reserves
    /// its own pool).
    metered: OnceLock<EngineParts>,
    /// Held while the metered engine is built, so it is built once.
    building_metered: Mutex<()>,
    /// The cache directory's table of hashed files, shared by both engines.
    fingerprints: Arc<Fingerprints>,
    /// What each component's `describe()` answered, shared by its plugins.
    pub(crate) descriptors: Arc<Descriptors>,
    config: RuntimeConfig,
    /// The cache and scratch directories, as protected paths (each
    /// spelling), resolved once: every plugin loaded protects them.
    pub(crate) own_dirs: Protected,
    ticker: Arc<EpochTicker>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Build the engines, open the cache directory, link the host interfaces
    /// and start the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        // Copies left by a host that was killed mid-call.
        private_copy::sweep(&config.scratch_dir);
        let fingerprints = Arc::new(Fingerprints::in_dir(&config.cache_dir));
        let plain = EngineParts::new(&config, false, &fingerprints)?;
        let ticker = EpochTicker::start(vec![plain.engine.clone()], config.epoch_tick)
            .map_err(|error| RuntimeError::Ticker { error })?;
        let mut own_dirs = Protected::new();
        own_dirs
            .add(ProtectedKind::Cache, &config.cache_dir)
            .add(ProtectedKind::Cache, &config.scratch_dir);
        Ok(Self {
            own_dirs,
            plain,
            metered: OnceLock::new(),
            building_metered: Mutex::new(()),
            fingerprints,
            descriptors: Arc::new(Descriptors::in_dir(&config.cache_dir)),
            config,
            ticker: Arc::new(ticker),
        })
    }

    /// The engine a plugin with (or without) a fuel limit runs on; the
    /// metered one is built on first use and ticked from then on.
    pub(crate) fn engine_for(&self, fuel: bool) -> Result<&EngineParts, RuntimeError> {
        if !fuel {
            return Ok(&self.plain);
        }
        if let Some(parts) = self.metered.get() {
            return Ok(parts);
        }
        let _building = self
            .building_metered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(parts) = self.metered.get() {
            return Ok(parts);
        }
        let parts = EngineParts::new(&self.config, true, &self.fingerprints)?;
        self.ticker.add(parts.engine.clone());
        Ok(self.metered.get_or_init(|| parts))
    }

    /// The runtime's settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Load a plugin: resolve its grants, read and verify its component,
    /// compile it (through the cache), check its imports and exports, and
    /// pre-link it. Done once per plugin; invocations reuse the result.
    pub fn load(&self, manifest: &Manifest, ctx: &GrantContext<'_>) -> Result<Plugin, LoadError> {
        load::load(self, manifest, ctx, &|_| {})
    }

    /// [`Runtime::load`], calling `on_compile` with the component's size in
    /// bytes just before it is compiled (when the cache has no entry for it),
    /// so a caller can say why the next seconds are slow.
    pub fn load_with_progress(
        &self,
        manifest: &Manifest,
        ctx: &GrantContext<'_>,
        on_compile: &(dyn Fn(u64) + Sync),
    ) -> Result<Plugin, LoadError> {
        load::load(self, manifest, ctx, on_compile)
    }
}

/// The pooling allocator configuration the engine of `config` uses, so a
/// benchmark can build a raw wasmtime engine with the very same pool.
pub fn pooling_config(config: &RuntimeConfig) -> wasmtime::PoolingAllocationConfig {
    engine::pooling(config)
}

/// What the compile cache of the engines `config` describes holds, each
/// entry checked against them. Builds the engines (to know their settings)
/// but starts nothing and creates no directory.
pub fn inspect_cache(config: &RuntimeConfig) -> Result<CacheListing, RuntimeError> {
    let plain = CompileCache::at(&config.cache_dir, &engine::build(config, false)?);
    let metered = CompileCache::at(&config.cache_dir, &engine::build(config, true)?);
    plain
        .inspect(&[&metered])
        .map_err(|error| RuntimeError::CacheRead {
            path: config.cache_dir.clone(),
            error,
        })
}
