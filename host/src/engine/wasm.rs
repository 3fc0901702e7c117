//! Rules modules as WebAssembly components: loading (check, compile or load from the
//! cache, type-check against the world) and running (a fresh store and instance per
//! callback from the pre-instantiated handle, under the tenant's limits).
//!
//! Calls are async: the server awaits them on its own threads, with no hand-off to a
//! blocking pool. A module yields back to the runtime on every tick of the deadline
//! clock, so one that runs long shares its thread, and is interrupted at its deadline.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{
    Component, ComponentExportIndex, HasData, HasSelf, Instance, InstancePre, Lift, Linker,
    ResourceTable,
};
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::cli::{WasiCli, WasiCliCtx, WasiCliCtxView};

use super::bindings::Rules;
use super::bindings::rulegate::checkout::host::{Host, LogLevel};
use super::contract;
use super::inspect::{self, Inspection};
use super::{
    ArtifactCache, AsyncSession, Deciding, EngineError, EngineSettings, Limits, LoadError,
    LogEntry, LongCalls, RuleSet, Usage,
};
use crate::model::{Cart, Decided, ShippingOption, TaxDecision, Verdict};

/// The world every rules module implements.
pub const WORLD: &str = "rulegate:checkout/rules@0.1.0";

/// The interface of the world's exports.
const DECISIONS: &str = "rulegate:checkout/decisions@0.1.0";

/// Ticks of the deadline clock a session may run before it needs its long-call lanes.
/// A tick can pass during any call, so a call that sees one is not yet long; a healthy
/// decision takes a few dozen microseconds, far below this.
const SHORT_CALL_TICKS: u32 = 4;

/// Messages a module may log per instance, and bytes per message.
const MAX_LOG_ENTRIES: usize = 64;
const MAX_LOG_MESSAGE_BYTES: usize = 1024;

/// The SHA-256 of a module's bytes: its identity and version.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleHash([u8; 32]);

impl ModuleHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        ModuleHash(Sha256::digest(bytes).into())
    }

    /// Lower-case hex, 64 characters.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 12 hex characters, for display.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl fmt::Display for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.short())
    }
}

/// The process's one wasmtime engine, its linker (the sandbox's only imports), the
/// artifact cache and the deadline clock. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    linker: Linker<CallState>,
    settings: EngineSettings,
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
        let wasmtime = wasmtime::Engine::new(&settings.wasmtime_config())
            .map_err(|error| anyhow::anyhow!("configuring the wasmtime engine: {error:?}"))?;
        let linker = sandbox_linker(&wasmtime)?;
        let ticker = start_epoch_ticker(wasmtime.clone(), settings.epoch_tick());
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                linker,
                settings,
                cache,
                _ticker: ticker,
            }),
        })
    }

    /// The settings the engine runs with.
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// Loads a rules module: checks that it is a component implementing the world with
    /// only permitted imports, compiles it (or loads its cached artifact) and prepares
    /// the pre-instantiated handle. A refused module never runs.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<WasmRules>, LoadError> {
        let hash = ModuleHash::of(bytes);
        inspect::check_header(bytes)?;
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
        let (pre, decisions) = self.prepare(&component)?;
        if !from_cache && let Some(cache) = &self.inner.cache {
            cache.store(&self.inner.wasmtime, &hash, &component)?;
        }
        Ok(Arc::new(WasmRules {
            id: hash.to_string(),
            hash,
            pre,
            decisions,
            engine: self.clone(),
            from_cache,
        }))
    }

    /// Everything `rulegate check` reports about a module, without failing early.
    pub fn inspect(&self, bytes: &[u8]) -> Inspection {
        inspect::inspect(self, bytes)
    }

    pub(super) fn compile(&self, bytes: &[u8]) -> Result<Component, LoadError> {
        Component::new(&self.inner.wasmtime, bytes)
            .map_err(|error| LoadError::Compile(format!("{error:?}")))
    }

    /// Checks imports and exports, links the component into a reusable handle, and finds
    /// the contract's exports.
    pub(super) fn prepare(
        &self,
        component: &Component,
    ) -> Result<(InstancePre<CallState>, Decisions), LoadError> {
        let forbidden: Vec<String> = inspect::imports(&self.inner.wasmtime, component)
            .into_iter()
            .filter(|import| !import.allowed)
            .map(|import| import.name)
            .collect();
        if !forbidden.is_empty() {
            return Err(LoadError::ForbiddenImports(forbidden));
        }
        let wrong_world = |reason: String| LoadError::WrongWorld {
            world: WORLD,
            reason,
        };
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(component)
            .map_err(|error| wrong_world(format!("{error}")))?;
        let decisions = Decisions::find(component).map_err(|missing| {
            let exports = inspect::exports(&self.inner.wasmtime, component);
            let exported = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            };
            wrong_world(format!("{missing} (the component exports {exported})"))
        })?;
        Ok((instance_pre, decisions))
    }

    pub(super) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }
}

/// The sandbox's imports: the contract's host interface and the WASI interfaces a std
/// Rust guest imports even when it does no I/O, backed by an empty context (no
/// environment, arguments, stdin, or stdout). Filesystem, sockets, clocks and random are
/// not linked at all, so a component that needs them cannot be instantiated.
fn sandbox_linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<CallState>> {
    use wasmtime_wasi::p2::bindings::cli;
    use wasmtime_wasi_io::bindings::wasi::io;

    let wrap = |error: wasmtime::Error| anyhow::anyhow!("linking the sandbox: {error:?}");
    let mut linker = Linker::<CallState>::new(engine);
    let l = &mut linker;
    Rules::add_to_linker::<CallState, HasSelf<CallState>>(l, |state| state).map_err(wrap)?;
    cli::exit::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::environment::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::stdin::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::stdout::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::stderr::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::terminal_input::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::terminal_output::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(l, cli_view).map_err(wrap)?;
    io::error::add_to_linker::<CallState, Table>(l, table).map_err(wrap)?;
    io::poll::add_to_linker::<CallState, Table>(l, table).map_err(wrap)?;
    io::streams::add_to_linker::<CallState, Table>(l, table).map_err(wrap)?;
    Ok(linker)
}

fn cli_view(state: &mut CallState) -> WasiCliCtxView<'_> {
    WasiCliCtxView {
        ctx: &mut state.cli,
        table: &mut state.table,
    }
}

fn table(state: &mut CallState) -> &mut ResourceTable {
    &mut state.table
}

/// Access to the resource table for the wasi:io host implementations.
struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
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

/// A loaded, checked and compiled rules module, ready to instantiate.
pub struct WasmRules {
    id: String,
    hash: ModuleHash,
    pre: InstancePre<CallState>,
    decisions: Decisions,
    engine: Engine,
    from_cache: bool,
}

/// Where the contract's three exports are in a module, found once at load (a component
/// that lacks one is of another world).
///
/// A call looks up only the export it needs, so only that export's signature is checked
/// against the contract on each instance (the check walks the whole cart type), rather
/// than all three on every instantiation.
pub(super) struct Decisions {
    shipping_options: ComponentExportIndex,
    tax: ComponentExportIndex,
    validate: ComponentExportIndex,
}

impl Decisions {
    /// Finds the contract's exports in `component`, or says which one is missing.
    fn find(component: &Component) -> Result<Self, String> {
        let interface = component
            .get_export_index(None, DECISIONS)
            .ok_or_else(|| format!("no exported instance `{DECISIONS}`"))?;
        let export = |name: &str| {
            component
                .get_export_index(Some(&interface), name)
                .ok_or_else(|| format!("`{DECISIONS}` has no export `{name}`"))
        };
        Ok(Decisions {
            shipping_options: export("shipping-options")?,
            tax: export("tax")?,
            validate: export("validate")?,
        })
    }
}

impl fmt::Debug for WasmRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmRules")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl WasmRules {
    /// The module's content hash.
    pub fn hash(&self) -> &ModuleHash {
        &self.hash
    }

    /// Whether the compiled artifact came from the cache rather than the compiler.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }
}

impl RuleSet for WasmRules {
    fn id(&self) -> &str {
        &self.id
    }

    fn session_async(&self, limits: &Limits, long_calls: &LongCalls) -> Box<dyn AsyncSession + '_> {
        Box::new(WasmSession {
            rules: self,
            limits: *limits,
            long_calls: long_calls.clone(),
            started: Instant::now(),
            live: None,
            usage: Usage::default(),
        })
    }
}

/// Per-instance host state: the empty WASI context, the memory guard and the log.
pub(crate) struct CallState {
    cli: WasiCliCtx,
    table: ResourceTable,
    memory: MemoryGuard,
    logs: Vec<LogEntry>,
    logs_dropped: u32,
}

/// The contract's type-only interface: nothing to provide.
impl super::bindings::rulegate::checkout::types::Host for CallState {}

impl Host for CallState {
    fn log(&mut self, level: LogLevel, mut message: String) {
        if self.logs.len() >= MAX_LOG_ENTRIES {
            self.logs_dropped += 1;
            return;
        }
        if message.len() > MAX_LOG_MESSAGE_BYTES {
            let mut cut = MAX_LOG_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        self.logs.push(LogEntry { level, message });
    }
}

/// Enforces the tenant's memory limit and remembers the peak, so that hitting the
/// limit is reported as such rather than as whatever the guest does when allocation
/// fails.
struct MemoryGuard {
    limit: usize,
    peak: usize,
    exceeded: bool,
}

/// The error a memory growth past the limit traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded")]
struct MemoryLimitExceeded;

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Err(MemoryLimitExceeded.into());
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// One callback's decisions on a wasm module.
struct WasmSession<'a> {
    rules: &'a WasmRules,
    limits: Limits,
    /// The lanes a call needs to run past its first tick.
    long_calls: LongCalls,
    started: Instant,
    /// The current instance; dropped after a failure so the next decision gets a fresh one.
    live: Option<(Store<CallState>, Instance)>,
    usage: Usage,
}

impl WasmSession<'_> {
    fn budget(&self) -> u64 {
        self.limits.fuel.unwrap_or(u64::MAX)
    }

    /// When the callback's deadline passes.
    fn deadline(&self) -> Instant {
        self.started + self.limits.deadline()
    }

    fn new_store(&self) -> Store<CallState> {
        let state = CallState {
            cli: WasiCliCtx::default(),
            table: ResourceTable::new(),
            memory: MemoryGuard {
                limit: usize::try_from(self.limits.memory_bytes).unwrap_or(usize::MAX),
                peak: 0,
                exceeded: false,
            },
            logs: Vec::new(),
            logs_dropped: 0,
        };
        let mut store = Store::new(self.rules.engine.wasmtime(), state);
        store.limiter(|state| &mut state.memory);
        // On every tick: stop the module once its deadline has passed; else yield to
        // the runtime. A module still running after `SHORT_CALL_TICKS` ticks is a long
        // call: it waits there until it holds its long-call lanes (kept until the store
        // is dropped).
        let deadline = self.deadline();
        let lanes = self.long_calls.0.clone();
        let held = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut ticks = 0u32;
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            ticks = ticks.saturating_add(1);
            if ticks != SHORT_CALL_TICKS || lanes.is_empty() {
                // `yield_now` puts the call behind every task already waiting, where a
                // plain self-wake could resume it first.
                return Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ));
            }
            let (lanes, held) = (lanes.clone(), held.clone());
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(async move {
                    for lane in lanes {
                        if let Ok(permit) = lane.acquire_owned().await {
                            held.lock().unwrap_or_else(|e| e.into_inner()).push(permit);
                        }
                    }
                }),
            ))
        });
        store
    }

    /// Runs the export at `export` on the live instance (instantiating one first if
    /// needed) with `cart`, under a fresh fuel budget; records usage and classifies
    /// failures.
    async fn call<T>(
        &mut self,
        export: ComponentExportIndex,
        cart: &Cart,
    ) -> Result<Decided<T>, EngineError>
    where
        Decided<T>: Lift + Send + Sync + 'static,
    {
        let began = Instant::now();
        if began >= self.deadline() {
            return Err(EngineError::Deadline {
                deadline: self.limits.deadline(),
            });
        }
        let budget = self.budget();
        let (mut store, instance) = match self.live.take() {
            Some(live) => live,
            None => {
                let mut store = self.new_store();
                set_budget(&mut store, budget);
                let instantiated = self.rules.pre.instantiate_async(&mut store).await;
                self.usage.instances += 1;
                match instantiated {
                    Ok(instance) => (store, instance),
                    Err(error) => {
                        let failure = self.failed(&mut store, budget, began, error);
                        return Err(match failure {
                            EngineError::Trap { message } => EngineError::Instantiation(message),
                            other => other,
                        });
                    }
                }
            }
        };
        set_budget(&mut store, budget);
        match call_export::<T>(&mut store, instance, export, cart).await {
            Ok(value) => {
                self.account(&mut store, budget, began);
                self.live = Some((store, instance));
                Ok(value)
            }
            Err(error) => Err(self.failed(&mut store, budget, began, error)),
        }
    }

    /// Adds what the store used since `began` to the session's usage.
    fn account(&mut self, store: &mut Store<CallState>, budget: u64, began: Instant) {
        self.usage.fuel += budget - store.get_fuel().unwrap_or(0);
        let state = store.data_mut();
        self.usage.peak_memory_bytes = self.usage.peak_memory_bytes.max(state.memory.peak as u64);
        self.usage.logs.append(&mut state.logs);
        self.usage.logs_dropped += std::mem::take(&mut state.logs_dropped);
        self.usage.elapsed += began.elapsed();
    }

    /// Accounts for a failed instantiation or call and classifies its error; the caller
    /// drops the store, so the next decision gets a fresh instance.
    fn failed(
        &mut self,
        store: &mut Store<CallState>,
        budget: u64,
        began: Instant,
        error: wasmtime::Error,
    ) -> EngineError {
        self.account(store, budget, began);
        classify(error, store.data(), &self.limits)
    }
}

/// Calls the export at `export` on `instance` with `cart`. Only this export's
/// signature is checked against the contract (see [`Decisions`]).
async fn call_export<T>(
    store: &mut Store<CallState>,
    instance: Instance,
    export: ComponentExportIndex,
    cart: &Cart,
) -> wasmtime::Result<Decided<T>>
where
    Decided<T>: Lift + Send + Sync + 'static,
{
    let func = instance.get_typed_func::<(&Cart,), (Decided<T>,)>(&mut *store, export)?;
    let (decided,) = func.call_async(&mut *store, (cart,)).await?;
    Ok(decided)
}

/// A fresh fuel budget, and the deadline clock checked from the next tick on.
fn set_budget(store: &mut Store<CallState>, fuel: u64) {
    store
        .set_fuel(fuel)
        .expect("fuel is enabled in the engine configuration");
    store.set_epoch_deadline(1);
}

/// Turns a wasmtime failure into the engine's typed error.
fn classify(error: wasmtime::Error, state: &CallState, limits: &Limits) -> EngineError {
    if state.memory.exceeded || error.is::<MemoryLimitExceeded>() {
        return EngineError::MemoryLimit {
            limit: limits.memory_bytes,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => EngineError::FuelExhausted {
            budget: limits.fuel.unwrap_or(u64::MAX),
        },
        Some(Trap::Interrupt) => EngineError::Deadline {
            deadline: limits.deadline(),
        },
        Some(Trap::UnreachableCodeReached) => EngineError::Trap {
            message: format!(
                "unreachable code reached (a Rust guest panicked or aborted)\n{error:?}"
            ),
        },
        Some(Trap::StackOverflow) => EngineError::Trap {
            message: format!("stack overflow (unbounded recursion?)\n{error:?}"),
        },
        Some(trap) => EngineError::Trap {
            message: format!("{trap}\n{error:?}"),
        },
        None => EngineError::Trap {
            message: format!("{error:?}"),
        },
    }
}

impl AsyncSession for WasmSession<'_> {
    fn shipping_options<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Vec<ShippingOption>> {
        Box::pin(async move {
            let decided = self
                .call(self.rules.decisions.shipping_options, cart)
                .await?;
            contract::check_shipping(cart, &decided)?;
            Ok(decided)
        })
    }

    fn tax<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, TaxDecision> {
        Box::pin(async move {
            let decided = self.call(self.rules.decisions.tax, cart).await?;
            contract::check_tax(cart, &decided)?;
            Ok(decided)
        })
    }

    fn validate<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Verdict> {
        Box::pin(async move {
            let decided = self.call(self.rules.decisions.validate, cart).await?;
            contract::check_verdict(&decided)?;
            Ok(decided)
        })
    }

    fn usage(&self) -> &Usage {
        &self.usage
    }
}
