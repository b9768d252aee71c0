//! The host's two wasmtime [`Engine`]s and the thread that drives their
//! epochs.
//!
//! Two engines serve every plugin, one with fuel metering for plugins whose
//! manifest sets `[limits] fuel` and one without for all others: metering
//! instruments every basic block of the compiled code, which made every call
//! of every plugin about 5-10% slower to buy a limit most plugins do not set.
//! Each has its own instance pool; one ticker drives both epochs. The pooling allocator pre-reserves slots for
//! instances, memories, tables and fiber stacks, which makes a fresh instance
//! per invocation cheap (tens of microseconds). Epoch interruption turns CPU
//! timeouts into traps: a ticker thread bumps the epoch every `epoch_tick`,
//! and each store gets a deadline measured in ticks.

use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
};

use super::{RuntimeConfig, RuntimeError};

/// Core instances one component may create (a Rust component has a handful;
/// a Python one a few dozen).
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
/// Linear memories and tables per component instance, on average, that the
/// pool reserves room for.
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 4;

/// Table bytes per slot restored in place rather than madvise()d away (a
/// Rust component's tables fit in a page or two).
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// The largest memory a 32-bit linear memory can have.
const MAX_MEMORY_LIMIT: u64 = 4 << 30;

/// Build the engine described by `config`, with fuel metering if `metered`.
pub(crate) fn build(config: &RuntimeConfig, metered: bool) -> Result<Engine, RuntimeError> {
    let invalid = |message: String, hint: &str| RuntimeError::Config {
        message,
        hint: hint.to_string(),
    };
    if config.max_instances == 0 {
        return Err(invalid(
            "`max_instances` is 0".into(),
            "allow at least one concurrent plugin instance",
        ));
    }
    if config.max_memory_bytes == 0 || config.max_memory_bytes > MAX_MEMORY_LIMIT {
        return Err(invalid(
            format!("`max_memory_bytes` is {}", config.max_memory_bytes),
            "give a value between 1 byte and 4 GiB",
        ));
    }
    if config.epoch_tick.is_zero() {
        return Err(invalid(
            "`epoch_tick` is zero".into(),
            "10 ms is a good tick",
        ));
    }

    let mut wasm = Config::new();
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(config)))
        .epoch_interruption(true)
        // Fuel makes `[limits] fuel` possible: a deterministic CPU budget,
        // independent of machine load.
        .consume_fuel(metered)
        .cranelift_opt_level(OptLevel::Speed)
        .parallel_compilation(true);

    Engine::new(&wasm).map_err(|e| RuntimeError::Engine {
        message: format!("{e:#}"),
    })
}

/// The pooling allocator's configuration for `config`.
pub(crate) fn pooling(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let instances = config.max_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_tables(instances.saturating_mul(TABLES_PER_COMPONENT))
        // One fiber stack per concurrent async call.
        .total_stacks(instances)
        .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
        // Resetting a slot for its next instance: by default wasmtime
        // madvise()s a used memory away, which on a multi-core machine costs
        // a TLB shootdown on every core and a page fault per page on next
        // use; with many short calls that was a third of all CPU time. With
        // PAGEMAP_SCAN (Linux 6.7+) wasmtime finds the pages a call dirtied
        // and restores up to `keep_resident_bytes` of them in place (memcpy
        // from the initial image, or zeroes), so a slot is clean without a
        // syscall storm. Same isolation either way: every byte is back to the
        // module's initial state before the slot is reused.
        .linear_memory_keep_resident(config.keep_resident_bytes)
        .table_keep_resident(config.keep_resident_bytes.min(TABLE_KEEP_RESIDENT))
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Advances the engines' epochs on a fixed tick until dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    tick: Duration,
    /// The engines it advances.
    engines: Arc<Mutex<Vec<Engine>>>,
    // Dropping the sender wakes the thread and ends it.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engines: Vec<Engine>, tick: Duration) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let engines = Arc::new(Mutex::new(engines));
        let ticked = Arc::clone(&engines);
        let thread = std::thread::Builder::new()
            .name("wasm-epoch-ticker".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    let engines = ticked.lock().unwrap_or_else(PoisonError::into_inner);
                    for engine in engines.iter() {
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(Self {
            tick,
            engines,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Advance `engine`'s epoch too, from the next tick on (an engine built
    /// after the ticker started).
    pub(crate) fn add(&self, engine: Engine) {
        self.engines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(engine);
    }

    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only sleeps and increments a counter; a panic there
            // would already have been reported, nothing is left to clean up.
            let _ = thread.join();
        }
    }
}

/// Epoch ticks that cover `timeout`, rounded up, plus one because the first
/// tick may land right after the deadline is set.
pub(crate) fn deadline_ticks(timeout: Duration, tick: Duration) -> u64 {
    let tick_ns = tick.as_nanos().max(1);
    let ticks = timeout.as_nanos().div_ceil(tick_ns);
    u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up() {
        let tick = Duration::from_millis(10);
        assert_eq!(deadline_ticks(Duration::from_secs(10), tick), 1001);
        assert_eq!(deadline_ticks(Duration::from_millis(15), tick), 3);
        assert_eq!(deadline_ticks(Duration::from_millis(1), tick), 2);
    }

    #[test]
    fn invalid_config_is_refused() {
        let mut c = RuntimeConfig::new("/nonexistent");
        c.max_instances = 0;
        assert!(matches!(build(&c, false), Err(RuntimeError::Config { .. })));
        let mut c = RuntimeConfig::new("/nonexistent");
        c.max_memory_bytes = 5 << 30;
        assert!(matches!(build(&c, true), Err(RuntimeError::Config { .. })));
    }

    #[test]
    fn ticker_advances_and_stops() {
        let mut c = RuntimeConfig::new("/nonexistent");
        c.max_instances = 2;
        let engine = build(&c, false).expect("engine");
        let ticker = EpochTicker::start(vec![engine], Duration::from_millis(1)).expect("ticker");
        std::thread::sleep(Duration::from_millis(5));
        drop(ticker); // joins; hangs here if the thread did not stop
    }
}
