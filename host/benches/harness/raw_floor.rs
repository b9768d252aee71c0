//! The raw wasmtime floor: the least work that runs a tool component once in
//! a fresh instance. An engine with the pooling allocator (sized like the
//! host's), the component compiled once, a linker with WASI 0.2 and the
//! `harness:plugin/host` log import, one `InstancePre`; then per call a fresh
//! `Store` with an empty WASI context, instantiate, call `invoke`. No grants,
//! no limits, no deadline, no output checks: what the host adds on top of
//! this is the cost of isolation it measures against.

use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "harness:plugin/tool",
        exports: { default: async },
    });
}

use bindings::harness::plugin::host;
use bindings::harness::plugin::types::StepInput;

/// The store data of one raw call.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    logs: Vec<String>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::harness::plugin::types::Host for State {}

impl host::Host for State {
    fn log(&mut self, _level: host::Level, message: String) {
        self.logs.push(message);
    }
}

/// Which engine settings the floor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// wasmtime's defaults plus the pooling allocator: the floor.
    Plain,
    /// Plus the settings of the host engine that runs plugins without a fuel
    /// limit (epoch interruption), to tell the cost of that instrumentation
    /// from the host's own work.
    HostSettings,
}

/// A tool component ready to be instantiated afresh for every call.
pub struct RawFloor {
    engine: Engine,
    flavor: Flavor,
    pre: bindings::ToolPre<State>,
    input: StepInput,
}

impl std::fmt::Debug for RawFloor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawFloor")
            .field("flavor", &self.flavor)
            .finish_non_exhaustive()
    }
}

impl RawFloor {
    pub fn new(component: &str, input_json: &str, flavor: Flavor) -> wasmtime::Result<Self> {
        // The very pool the host's default `RuntimeConfig` gives.
        let pool = harness_host::runtime::pooling_config(
            &harness_host::runtime::RuntimeConfig::new("/nonexistent"),
        );
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if flavor == Flavor::HostSettings {
            config.epoch_interruption(true);
        }
        let engine = Engine::new(&config)?;
        let component = Component::from_file(&engine, component)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Tool::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        let pre = bindings::ToolPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine,
            flavor,
            pre,
            input: StepInput {
                input: input_json.to_string(),
                needs: Vec::new(),
            },
        })
    }

    /// One call in a fresh store and instance; how long it took, store
    /// teardown included (as it is in the host's figure).
    pub async fn call(&self) -> wasmtime::Result<Duration> {
        let start = Instant::now();
        let mut store = Store::new(
            &self.engine,
            State {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                logs: Vec::new(),
            },
        );
        if self.flavor == Flavor::HostSettings {
            store.set_epoch_deadline(u64::MAX);
        }
        let instance = self.pre.instantiate_async(&mut store).await?;
        let result = instance
            .harness_plugin_tool_plugin()
            .call_invoke(&mut store, &self.input)
            .await?;
        drop(store);
        let elapsed = start.elapsed();
        if let Err(e) = result {
            wasmtime::bail!("the tool refused the input: {e:?}");
        }
        Ok(elapsed)
    }
}
