//! One invocation of a plugin: a fresh store and instance, bounded in
//! memory, time and output, torn down afterwards.
//!
//! Why a fresh store per call: a store owns the instance's memories, globals,
//! tables and WASI resources. Reusing one would let a plugin carry state (or a
//! corrupted heap after a trap) from one step or run into the next. A new
//! store per call from the plugin's `InstancePre` costs tens of microseconds.
//!
//! Why two deadlines: the epoch deadline (set *before* instantiation, so a
//! start function is covered too) traps a guest that spins in wasm code, but
//! epochs are only checked while wasm runs; a guest blocked in a host call
//! (say, a WASI poll) is stopped by the wall-clock `tokio` timeout around the
//! whole instantiate-and-call, which drops the call and the store.
//!
//! Limits: memory is capped per store across all its memories (the manifest's
//! `memory-mib`), instance/table/memory counts are bounded, stdout and stderr
//! are in-memory pipes of `max-output-kib` each, and the returned output plus
//! proposed writes must fit `max-output-kib` as well.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::cancel::{Cancel, Cancelled};
use super::engine::deadline_ticks;
use super::guest_error;
use super::logs::LogCollector;
use super::network::{GrantedHttp, NetScope};
use super::private_copy::{CopyError, CopyLimits, MountChange, PrivateCopy, RwSource};
use crate::contract::{Descriptor, LogLevel, LogRecord, PluginError, Review, ToolOutput};
use crate::grants::ResolvedGrants;
use crate::manifest::Limits;
use crate::render::inert;

/// Core instances, tables and memories one store may create. A Rust
/// component needs a handful; generous enough for Python and JS components.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 8;
/// Most bytes of stderr quoted in a trap message (the rest is in the logs).
const TRAP_STDERR_EXCERPT: usize = 512;
/// Handles (open files, directories, streams, pollables) one store may hold
/// at once. An open file is a real host file descriptor, so without a cap a
/// guest could exhaust the host's descriptors (wasmtime's default is a
/// million entries) and break the host's own journal writes. A Rust tool
/// needs a dozen; Python and JS components a few dozen.
pub const MAX_RESOURCES: usize = 1024;

/// The result of a successful invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation<T> {
    /// What the plugin returned.
    pub value: T,
    /// Host `log` lines, then stdout (info) and stderr (warn) lines.
    pub logs: Vec<LogRecord>,
    /// Wall-clock time of instantiation plus the call.
    pub duration: Duration,
    /// What the plugin created, changed or deleted in the private copies of
    /// its read-write mounts, as proposed changes (empty for plugins without
    /// one). Nothing of it is on the host's disk.
    pub changes: Vec<MountChange>,
}

/// Why an invocation failed: the kinds of [`crate::error_kind::ErrorKind`]
/// the sandbox reports (`Trap`, `Timeout`, `OutputTooLarge`, `MemoryLimit`,
/// `FuelExhausted`, `ResourceLimit`, `CopyLimit`, `Internal`).
pub type FailureKind = crate::error_kind::ErrorKind;

/// A failed invocation: the plugin produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeFailure {
    /// The plugin that was called.
    pub plugin: String,
    /// Why it produced no result.
    pub kind: FailureKind,
    /// What went wrong, for humans (for traps, the trap's root cause and the
    /// end of stderr).
    pub message: String,
    /// Whatever the plugin logged before it failed.
    pub logs: Vec<LogRecord>,
}

impl std::fmt::Display for InvokeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plugin = &self.plugin;
        let message = &self.message;
        match self.kind {
            FailureKind::Trap => write!(f, "plugin `{plugin}` trapped: {message}"),
            FailureKind::Timeout => write!(
                f,
                "plugin `{plugin}` {message}\nhint: raise `[limits] timeout-ms` in its manifest if the work is legitimately slow"
            ),
            FailureKind::OutputTooLarge => write!(
                f,
                "plugin `{plugin}` produced too much output: {message}\nhint: raise `[limits] max-output-kib` in its manifest, or make the plugin produce less"
            ),
            FailureKind::MemoryLimit => write!(
                f,
                "plugin `{plugin}` ran out of memory: {message}\nhint: raise `[limits] memory-mib` in its manifest"
            ),
            FailureKind::FuelExhausted => write!(
                f,
                "plugin `{plugin}` ran out of fuel: {message}\nhint: raise `[limits] fuel` in its manifest, or remove it to rely on `[limits] timeout-ms` alone"
            ),
            FailureKind::ResourceLimit => write!(
                f,
                "plugin `{plugin}` hit the handle limit: {message}\nhint: no manifest key raises this limit; make the plugin close files and streams it no longer needs"
            ),
            FailureKind::CopyLimit => write!(f, "plugin `{plugin}` cannot run: {message}"),
            FailureKind::Cancelled => write!(f, "plugin `{plugin}` was stopped: {message}"),
            FailureKind::Internal => write!(f, "plugin `{plugin}` could not be invoked: {message}"),
            other => write!(f, "plugin `{plugin}` failed ({other}): {message}"),
        }
    }
}

impl std::error::Error for InvokeFailure {}

/// Human form of a duration: `10s`, `250ms`, `1500ms`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The data of one invocation's store.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: GrantedHttp,
    table: ResourceTable,
    limiter: InvocationLimiter,
    pub(crate) logs: LogCollector,
    /// The plugin's network grant and TLS trust, for the name-lookup filter
    /// (the HTTP sender holds a clone).
    pub(crate) net: NetScope,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.http_hooks,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

/// `StoreLimits` plus a cap on the store's *total* linear memory (a component
/// may have several memories) and a record of whether growth was refused, so
/// a resulting trap can be reported as a memory limit.
struct InvocationLimiter {
    limits: StoreLimits,
    memory_cap: usize,
    memory_total: usize,
    memory_denied: bool,
}

impl ResourceLimiter for InvocationLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let delta = desired.saturating_sub(current);
        let allowed = self.limits.memory_growing(current, desired, maximum)?
            && self.memory_total.saturating_add(delta) <= self.memory_cap;
        if allowed {
            self.memory_total += delta;
        } else {
            self.memory_denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// Size of a result as counted against `max-output-kib`.
pub(crate) trait OutputSize {
    fn output_size(&self) -> u64;
}

fn len(s: &str) -> u64 {
    s.len() as u64
}

impl OutputSize for Descriptor {
    fn output_size(&self) -> u64 {
        len(&self.name) + len(&self.summary) + len(&self.input_schema)
    }
}

impl OutputSize for Result<ToolOutput, PluginError> {
    fn output_size(&self) -> u64 {
        match self {
            Ok(o) => {
                len(&o.output)
                    + o.writes
                        .iter()
                        .map(|w| len(&w.path) + w.contents.len() as u64)
                        .sum::<u64>()
            }
            Err(e) => len(&e.message),
        }
    }
}

impl OutputSize for Result<Review, PluginError> {
    fn output_size(&self) -> u64 {
        match self {
            Ok(r) => {
                len(&r.summary)
                    + r.findings
                        .iter()
                        .map(|f| len(&f.message) + f.path.as_deref().map_or(0, len))
                        .sum::<u64>()
            }
            Err(e) => len(&e.message),
        }
    }
}

/// What an invocation needs from its plugin.
pub(crate) struct InvokeEnv<'a> {
    pub(crate) plugin: &'a Arc<str>,
    pub(crate) engine: &'a Engine,
    pub(crate) grants: &'a ResolvedGrants,
    pub(crate) limits: &'a Limits,
    pub(crate) epoch_tick: Duration,
    pub(crate) timeout_grace: Duration,
    /// The guest's file operations run on the calling thread
    /// ([`super::CallThreads::Own`]).
    pub(crate) file_ops_here: bool,
    pub(crate) scratch: &'a std::path::Path,
    /// Stops the invocation when set ([`super::cancel`]).
    pub(crate) cancel: Option<&'a Cancel>,
}

impl InvokeEnv<'_> {
    pub(crate) fn failure(
        &self,
        kind: FailureKind,
        message: String,
        logs: Vec<LogRecord>,
    ) -> InvokeFailure {
        InvokeFailure {
            plugin: self.plugin.to_string(),
            kind,
            message,
            logs,
        }
    }
}

/// Run `call` (instantiate + one export call) in a fresh, bounded store.
pub(crate) async fn run<T: OutputSize>(
    env: InvokeEnv<'_>,
    call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<T>,
) -> Result<Invocation<T>, InvokeFailure> {
    let start = Instant::now();
    let max_output = usize::try_from(env.limits.max_output_bytes).unwrap_or(usize::MAX);
    let stdout = MemoryOutputPipe::new(max_output);
    let stderr = MemoryOutputPipe::new(max_output);
    let logs = LogCollector::new(env.plugin.clone());
    let denials = logs.clone();
    let copies = private_copies(&env)?;
    let copy_dirs: Vec<(String, std::path::PathBuf)> = copies
        .iter()
        .map(|c| (c.guest.clone(), c.path.clone()))
        .collect();
    let wasi = env
        .grants
        .wasi_ctx(
            stdout.clone(),
            stderr.clone(),
            Arc::new(move |line: String| denials.push(LogLevel::Warn, &line)),
            &copy_dirs,
            env.file_ops_here,
        )
        .map_err(|m| env.failure(FailureKind::Internal, m, Vec::new()))?;
    let net = NetScope {
        policy: Arc::clone(env.grants.network()),
        tls: Arc::clone(env.grants.tls()),
        logs: logs.clone(),
        // The wall-clock stop of the call (below) reports a blocked guest as
        // timed out; the network bounds end at the same moment, so no
        // connect, handshake or wait outlives the invocation.
        deadline: tokio::time::Instant::now() + env.limits.timeout + env.timeout_grace,
    };
    let memory_cap = usize::try_from(env.limits.memory_bytes).unwrap_or(usize::MAX);
    let limiter = InvocationLimiter {
        limits: StoreLimitsBuilder::new()
            .memory_size(memory_cap)
            .instances(MAX_INSTANCES)
            .tables(MAX_TABLES)
            .memories(MAX_MEMORIES)
            .build(),
        memory_cap,
        memory_total: 0,
        memory_denied: false,
    };
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    let mut store = Store::new(
        env.engine,
        StoreState {
            wasi,
            http: WasiHttpCtx::new(),
            http_hooks: GrantedHttp::new(net.clone()),
            table,
            limiter,
            logs,
            net,
        },
    );
    store.limiter(|s| &mut s.limiter);
    // Before instantiation, so start functions run under the deadline too.
    let deadline = deadline_ticks(env.limits.timeout, env.epoch_tick);
    match env.cancel {
        None => {
            store.set_epoch_deadline(deadline);
            store.epoch_deadline_trap();
        }
        Some(cancel) => {
            // One tick at a time, so a cancelled guest stops within a tick
            // even while it spins in wasm code.
            let cancel = cancel.clone();
            let mut remaining = deadline;
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                if cancel.is_cancelled() {
                    return Err(wasmtime::Error::new(Cancelled));
                }
                remaining = remaining.saturating_sub(1);
                if remaining == 0 {
                    return Err(wasmtime::Error::new(Trap::Interrupt));
                }
                Ok(wasmtime::UpdateDeadline::Continue(1))
            });
        }
    }
    // Only plugins with a fuel limit run on the metered engine.
    if let Some(fuel) = env.limits.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| env.failure(FailureKind::Internal, format!("{e:#}"), Vec::new()))?;
    }

    let bounded = tokio::time::timeout(env.limits.timeout + env.timeout_grace, call(&mut store));
    // A guest blocked in a host call never reaches the epoch callback:
    // dropping the call stops it (`None` = cancelled).
    let outcome = match env.cancel {
        None => Some(bounded.await),
        Some(cancel) => tokio::select! {
            outcome = bounded => Some(outcome),
            () = cancel.cancelled() => None,
        },
    };
    let duration = start.elapsed();

    let state = store.into_data();
    let memory_denied = state.limiter.memory_denied;
    let mut logs = state.logs.finish();
    let stdout = stdout.contents();
    let stderr = stderr.contents();
    let stdio = LogCollector::new(env.plugin.clone());
    stdio.push_output(LogLevel::Info, &stdout);
    stdio.push_output(LogLevel::Warn, &stderr);
    logs.extend(stdio.finish());

    let timed_out = || format!("timed out after {}", human(env.limits.timeout));
    let cancelled = || "the caller cancelled the call".to_string();
    let Some(outcome) = outcome else {
        return Err(env.failure(FailureKind::Cancelled, cancelled(), logs));
    };
    match outcome {
        Err(_elapsed) => Err(env.failure(FailureKind::Timeout, timed_out(), logs)),
        Ok(Err(error)) => {
            tracing::debug!(plugin = %env.plugin, error = ?error, "invocation failed");
            let trap = error.downcast_ref::<Trap>().copied();
            let (kind, message) = if error.is::<Cancelled>() {
                (FailureKind::Cancelled, cancelled())
            } else if trap == Some(Trap::Interrupt) {
                (FailureKind::Timeout, timed_out())
            } else if trap == Some(Trap::OutOfFuel) {
                (
                    FailureKind::FuelExhausted,
                    format!(
                        "it burned all {} units of its fuel",
                        env.limits.fuel.unwrap_or(u64::MAX)
                    ),
                )
            } else if is_table_full(&error) {
                (
                    FailureKind::ResourceLimit,
                    format!(
                        "it held more than {MAX_RESOURCES} handles (open files, directories, streams) at once"
                    ),
                )
            } else if error.is::<wasmtime::PoolConcurrencyLimitError>() {
                (
                    FailureKind::Internal,
                    format!(
                        "{}; too many plugin instances are running at once",
                        inert(&error.root_cause().to_string())
                    ),
                )
            } else if memory_denied {
                (
                    FailureKind::MemoryLimit,
                    format!(
                        "the {}-byte limit was reached ({})",
                        env.limits.memory_bytes,
                        inert(&error.root_cause().to_string())
                    ),
                )
            } else if stdout.len() >= max_output || stderr.len() >= max_output {
                let stream = if stdout.len() >= max_output {
                    "stdout"
                } else {
                    "stderr"
                };
                (
                    FailureKind::OutputTooLarge,
                    format!(
                        "{stream} reached its {max_output}-byte limit and the plugin trapped ({})",
                        inert(&error.root_cause().to_string())
                    ),
                )
            } else {
                (FailureKind::Trap, trap_message(&error, &stderr))
            };
            Err(env.failure(kind, message, logs))
        }
        Ok(Ok(value)) => {
            // A full pipe refuses further writes; a guest that ignores the
            // error would otherwise succeed with its output silently cut.
            for (stream, bytes) in [("stdout", &stdout), ("stderr", &stderr)] {
                if bytes.len() >= max_output {
                    return Err(env.failure(
                        FailureKind::OutputTooLarge,
                        format!("{stream} reached its {max_output}-byte limit"),
                        logs,
                    ));
                }
            }
            let mut changes = Vec::new();
            for copy in &copies {
                match copy.changes() {
                    Ok((found, notes)) => {
                        changes.extend(found);
                        let collector = LogCollector::new(env.plugin.clone());
                        for note in &notes {
                            collector.push(LogLevel::Warn, note);
                        }
                        logs.extend(collector.finish());
                    }
                    Err(e) => return Err(env.failure(copy_failure_kind(&e), e.to_string(), logs)),
                }
            }
            let size = value.output_size()
                + changes
                    .iter()
                    .map(|c| len(&c.path) + c.contents.as_ref().map_or(0, |b| b.len() as u64))
                    .sum::<u64>();
            if size > env.limits.max_output_bytes {
                return Err(env.failure(
                    FailureKind::OutputTooLarge,
                    format!(
                        "its result and proposed writes total {size} bytes, over the {}-byte limit",
                        env.limits.max_output_bytes
                    ),
                    logs,
                ));
            }
            Ok(Invocation {
                value,
                logs,
                duration,
                changes,
            })
        }
    }
}

/// Copy every read-write mount of the plugin for this call.
fn private_copies(env: &InvokeEnv<'_>) -> Result<Vec<PrivateCopy>, InvokeFailure> {
    let limits = CopyLimits {
        max_bytes: env.limits.rw_copy_bytes,
        max_files: env.limits.rw_copy_files,
    };
    let mut copies = Vec::new();
    for (mount, dir) in env.grants.read_write_mounts() {
        let source = RwSource {
            guest: &mount.guest,
            original: dir,
            out_prefix: mount.out_prefix.as_deref().unwrap_or(""),
        };
        let copy = source
            .copy(env.scratch, env.plugin, limits)
            .map_err(|e| env.failure(copy_failure_kind(&e), e.to_string(), Vec::new()))?;
        copies.push(copy);
    }
    Ok(copies)
}

fn copy_failure_kind(e: &CopyError) -> FailureKind {
    match e {
        CopyError::TooLarge { .. } => FailureKind::CopyLimit,
        CopyError::Io { .. } => FailureKind::Internal,
    }
}

/// Whether the invocation failed because its resource table was full.
fn is_table_full(error: &wasmtime::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<wasmtime::component::ResourceTableError>()
            .is_some_and(|e| matches!(e, wasmtime::component::ResourceTableError::Full))
    })
}

/// The trap's root cause, and the end of stderr (where a guest's panic
/// message lands), rendered inert.
///
/// A Python or JavaScript guest that died of an uncaught exception is
/// summarized by the exception's own message instead (see
/// [`super::guest_error`]).
fn trap_message(error: &wasmtime::Error, stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    if let Some(uncaught) = guest_error::uncaught(&stderr) {
        return uncaught.summary(|text| inert(&excerpt(text)));
    }
    let mut message = match error.downcast_ref::<I32Exit>() {
        Some(exit) => format!("it exited with status {}", exit.0),
        None => inert(&error.root_cause().to_string()),
    };
    // Rust guests end a panic with a note about RUST_BACKTRACE, which says
    // nothing about the cause; the two lines before it do.
    let tail: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .rev()
        .take(2)
        .collect();
    if !tail.is_empty() {
        let joined: Vec<&str> = tail.into_iter().rev().collect();
        message.push_str(&format!(
            " (stderr: {})",
            inert(&excerpt(&joined.join(" / ")))
        ));
    }
    message
}

/// `text`, cut to [`TRAP_STDERR_EXCERPT`] bytes with an ellipsis.
fn excerpt(text: &str) -> String {
    let mut excerpt = text.to_string();
    if excerpt.len() > TRAP_STDERR_EXCERPT {
        let mut cut = TRAP_STDERR_EXCERPT;
        while !excerpt.is_char_boundary(cut) {
            cut -= 1;
        }
        excerpt.truncate(cut);
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: FailureKind, message: &str) -> String {
        InvokeFailure {
            plugin: "search".into(),
            kind,
            message: message.into(),
            logs: Vec::new(),
        }
        .to_string()
    }

    #[test]
    fn failures_display_plugin_and_cause() {
        assert_eq!(
            failure(
                FailureKind::Timeout,
                &format!("timed out after {}", human(Duration::from_secs(10)))
            )
            .lines()
            .next(),
            Some("plugin `search` timed out after 10s")
        );
        assert_eq!(
            failure(
                FailureKind::Trap,
                "wasm trap: wasm `unreachable` instruction executed"
            ),
            "plugin `search` trapped: wasm trap: wasm `unreachable` instruction executed"
        );
        assert!(failure(FailureKind::MemoryLimit, "x").contains("memory-mib"));
        assert!(failure(FailureKind::OutputTooLarge, "x").contains("max-output-kib"));
        assert!(failure(FailureKind::FuelExhausted, "x").contains("[limits] fuel"));
        assert!(failure(FailureKind::Timeout, "x").contains("[limits] timeout-ms"));
    }

    #[test]
    fn durations_are_human() {
        assert_eq!(human(Duration::from_secs(10)), "10s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn trap_message_quotes_the_end_of_stderr_inertly() {
        let error = wasmtime::Error::new(Trap::UnreachableCodeReached);
        let m = trap_message(
            &error,
            b"noise\nthread 'main' panicked at src/lib.rs:3:5:\n\x1b[31mboom\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        );
        assert!(
            m.starts_with("wasm trap: wasm `unreachable` instruction executed"),
            "{m}"
        );
        assert!(
            m.ends_with("(stderr: thread 'main' panicked at src/lib.rs:3:5: / \\u{001b}[31mboom)"),
            "{m}"
        );
    }

    #[test]
    fn an_uncaught_python_exception_is_the_trap_message_inertly() {
        let error = wasmtime::Error::new(Trap::UnreachableCodeReached);
        let m = trap_message(
            &error,
            b"Traceback (most recent call last):\n  File \"/0/app.py\", line 28, in invoke\nKeyError: '\x1b[31mnope'\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\nPython function threw an unexpected exception\n",
        );
        let first = m.lines().next().expect("a line");
        assert_eq!(
            first,
            "uncaught Python exception KeyError: '\\u{001b}[31mnope' (File \"/0/app.py\", line 28, in invoke)"
        );
        assert!(!m.contains("unreachable") && !m.contains("panicked"), "{m}");
        assert!(
            m.lines().nth(1).is_some_and(|l| l.starts_with("hint: ")),
            "{m}"
        );
    }

    #[test]
    fn limiter_caps_total_memory_across_memories() {
        let mut l = InvocationLimiter {
            limits: StoreLimitsBuilder::new().memory_size(100).build(),
            memory_cap: 100,
            memory_total: 0,
            memory_denied: false,
        };
        assert!(l.memory_growing(0, 60, None).expect("ok"));
        assert!(!l.memory_denied);
        // A second memory of 60 would exceed the store-wide 100.
        assert!(!l.memory_growing(0, 60, None).expect("ok"));
        assert!(l.memory_denied);
        assert!(l.memory_growing(60, 100, None).expect("ok"));
    }

    #[test]
    fn output_size_counts_output_and_writes() {
        let r: Result<ToolOutput, PluginError> = Ok(ToolOutput {
            output: "12345".into(),
            writes: vec![crate::contract::ProposedWrite {
                path: "ab".into(),
                contents: vec![0; 10],
            }],
        });
        assert_eq!(r.output_size(), 17);
    }
}
