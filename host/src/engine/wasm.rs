//! Rules modules as WebAssembly components: the process's one wasmtime engine, and
//! loading a module (check, compile or load from the cache, check against the world,
//! link into a pre-instantiated handle) so that each callback only instantiates it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, Lift};

use super::componentize::componentize;
use super::sandbox::{self, CallState};
use super::world::{self, Contract, Export, Exports, Format};
use super::{ArtifactCache, EngineSettings, LoadError, ModuleHash, SlotReset};
use crate::model::Cart;

/// Fuel and deadline-clock ticks the load-time instantiation may use: instantiating
/// runs no rules, so a component that needs more is broken.
const CHECK_FUEL: u64 = 10_000_000;
const CHECK_TICKS: u64 = 1_000;

/// The process's one wasmtime engine, its linker (the sandbox's only imports), the
/// artifact cache and the deadline clock. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    linker: wasmtime::component::Linker<CallState>,
    settings: EngineSettings,
    reset: SlotReset,
    cache: Option<ArtifactCache>,
    /// Dropping it stops the epoch ticker thread.
    _ticker: mpsc::Sender<()>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with `settings`, caching artifacts in `cache` when given.
    pub fn new(settings: EngineSettings, cache: Option<ArtifactCache>) -> anyhow::Result<Self> {
        let reset = SlotReset::for_this_host(&settings);
        if reset == SlotReset::Madvise && settings.pagemap_scan {
            tracing::warn!(
                "swap is active: pooled memory is reset without PAGEMAP_SCAN, which can miss \
                 a swapped-out page (wasmtime PR #14357); safe, at some CPU per callback"
            );
        }
        let wasmtime = wasmtime::Engine::new(&settings.wasmtime_config(reset))
            .map_err(|error| anyhow::anyhow!("configuring the wasmtime engine: {error:?}"))?;
        let linker = sandbox::linker(&wasmtime)?;
        let ticker = start_epoch_ticker(wasmtime.clone(), settings.epoch_tick());
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                linker,
                settings,
                reset,
                cache,
                _ticker: ticker,
            }),
        })
    }

    /// How this engine resets reused pool slots.
    pub fn slot_reset(&self) -> SlotReset {
        self.inner.reset
    }

    /// Loads a rules module: checks that it is a component (or a core module that can be
    /// made one) implementing the world with only permitted imports, compiles it (or
    /// loads its cached artifact) and prepares the pre-instantiated handle. The version
    /// is the hash of the bytes as given. A refused module never runs.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<WasmRules>, LoadError> {
        let hash = ModuleHash::of(bytes);
        world::format(bytes)?;
        let cached = self
            .inner
            .cache
            .as_ref()
            .and_then(|cache| cache.load(&self.inner.wasmtime, &hash));
        let from_cache = cached.is_some();
        let component = match cached {
            Some(component) => component,
            None => self.compile(bytes)?,
        };
        let prepared = self
            .prepare(&component)
            .map_err(|error| world::with_advice(bytes, error))?;
        if !from_cache && let Some(cache) = &self.inner.cache {
            cache.store(&self.inner.wasmtime, &hash, &component)?;
        }
        Ok(Arc::new(WasmRules {
            id: hash.to_string(),
            hash,
            prepared,
            engine: self.clone(),
            from_cache,
            outgrows_direct: AtomicBool::new(false),
        }))
    }

    /// Compiles a component, or a core module once made a component.
    pub(super) fn compile(&self, bytes: &[u8]) -> Result<Component, LoadError> {
        let componentized;
        let component = match world::format(bytes)? {
            Format::Component => bytes,
            Format::CoreModule => {
                componentized = componentize(bytes)?;
                &componentized
            }
        };
        Component::new(&self.inner.wasmtime, component)
            .map_err(|error| LoadError::Compile(format!("{error:?}")))
    }

    /// Checks imports and exports, links the component into a reusable handle, finds
    /// the contract's exports and checks their types.
    pub(super) fn prepare(&self, component: &Component) -> Result<Prepared, LoadError> {
        let imports = world::check_imports(&self.inner.wasmtime, component)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(component)
            .map_err(world::wrong_world)?;
        let exports = Exports::find(&self.inner.wasmtime, component)?;
        let prepared = Prepared {
            pre,
            exports,
            direct: world::callable_directly(&imports),
        };
        self.check_export_types(&prepared)?;
        Ok(prepared)
    }

    /// Type-checks each export against the contract once, on a throwaway instance made
    /// as calls will make theirs: every instance of a component has the same export
    /// types, so calls skip the check (see `wasm_session::call_export`).
    fn check_export_types(&self, prepared: &Prepared) -> Result<(), LoadError> {
        let mut store = Store::new(
            &self.inner.wasmtime,
            CallState::new(self.inner.settings.max_memory_bytes),
        );
        store.limiter(|state| &mut state.memory);
        store
            .set_fuel(CHECK_FUEL)
            .expect("fuel is enabled in the engine configuration");
        store.set_epoch_deadline(CHECK_TICKS);
        let instance = if prepared.direct {
            prepared.pre.instantiate(&mut store)
        } else {
            // A component that imports WASI links wasi:io's async host functions, so
            // instantiation is async; nothing here yields, and it completes here.
            super::block_on(prepared.pre.instantiate_async(&mut store))
        }
        .map_err(|error| LoadError::Instantiation(format!("{error:?}")))?;
        fn check<R>(
            store: &mut Store<CallState>,
            instance: &wasmtime::component::Instance,
            contract: Contract,
            export: Export<R>,
            name: &str,
        ) -> Result<(), LoadError>
        where
            R: Lift + Send + Sync + 'static,
        {
            instance
                .get_typed_func::<(&Cart,), (R,)>(&mut *store, export.index)
                .map(drop)
                .map_err(|error| world::mistyped(contract, name, error))
        }
        let exports = &prepared.exports;
        let contract = exports.contract;
        let store = &mut store;
        check(
            store,
            &instance,
            contract,
            exports.shipping_options,
            "shipping-options",
        )?;
        check(store, &instance, contract, exports.tax, "tax")?;
        check(store, &instance, contract, exports.validate, "validate")?;
        if let Some(quote) = exports.quote {
            check(store, &instance, contract, quote, "quote")?;
        }
        Ok(())
    }

    pub(super) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }
}

/// Advances the engine's epoch every `tick` until the returned sender is dropped.
fn start_epoch_ticker(engine: wasmtime::Engine, tick: Duration) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("rulegate-epoch".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch ticker thread");
    stop
}

/// A component linked and checked, ready to instantiate.
pub(super) struct Prepared {
    pub(super) pre: InstancePre<CallState>,
    pub(super) exports: Exports,
    /// Whether its instances can be made and called directly on the calling thread,
    /// without a fiber (a module that imports only the contract; see `wasm_session`).
    pub(super) direct: bool,
}

/// A loaded, checked and compiled rules module, ready to instantiate.
pub struct WasmRules {
    /// `sha256:<hex>`, the module's version.
    pub(super) id: String,
    hash: ModuleHash,
    pub(super) prepared: Prepared,
    pub(super) engine: Engine,
    from_cache: bool,
    /// Set once a direct call of this module ran past a whole tick of the deadline
    /// clock: its calls take milliseconds (a JavaScript engine, say), so later sessions
    /// start on the async path instead of throwing a direct attempt away each time.
    pub(super) outgrows_direct: AtomicBool,
}

impl fmt::Debug for WasmRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmRules")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl WasmRules {
    /// The version of the contract the module implements.
    pub fn contract(&self) -> Contract {
        self.prepared.exports.contract
    }

    /// The module's content hash.
    pub fn hash(&self) -> &ModuleHash {
        &self.hash
    }

    /// Whether the compiled artifact came from the cache rather than the compiler.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }
}
