//! What a module's instance can reach and what stops it: the sandbox's only imports
//! (the contract's host interface and an empty WASI context), the per-instance host
//! state with its memory guard and log, and the classification of what went wrong.

use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Trap};
use wasmtime_wasi::cli::{WasiCli, WasiCliCtx, WasiCliCtxView};

use super::{EngineError, Limits, LogEntry};
use crate::model::bindings::Rules;
use crate::model::bindings::rulegate::checkout::host::{Host, LogLevel};

/// Messages a module may log per instance, and bytes per message.
const MAX_LOG_ENTRIES: usize = 64;
const MAX_LOG_MESSAGE_BYTES: usize = 1024;

/// The host interface of contract 0.1.0, whose modules the host keeps serving.
const OLDER_HOST: &str = "rulegate:checkout/host@0.1.0";

/// Table elements an instance may grow to.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The sandbox's imports: the contract's host interface and the WASI interfaces a std
/// Rust guest imports even when it does no I/O, backed by an empty context (no
/// environment, arguments, stdin, or stdout). Filesystem, sockets, clocks and random are
/// not linked at all, so a component that needs them cannot be instantiated.
pub(super) fn linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<CallState>> {
    use wasmtime_wasi::p2::bindings::cli;
    use wasmtime_wasi_io::bindings::wasi::io;

    let wrap = |error: wasmtime::Error| anyhow::anyhow!("linking the sandbox: {error:?}");
    let mut linker = Linker::<CallState>::new(engine);
    let l = &mut linker;
    Rules::add_to_linker::<CallState, HasSelf<CallState>>(l, |state| state).map_err(wrap)?;
    // Modules of contract 0.1.0 import its host interface, which has the same `log`.
    l.instance(OLDER_HOST)
        .and_then(|mut host| {
            host.func_wrap("log", |mut store, (level, message): (LogLevel, String)| {
                Host::log(store.data_mut(), level, message);
                Ok(())
            })
        })
        .map_err(wrap)?;
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

/// Per-instance host state: the empty WASI context, the memory guard and the log.
pub(crate) struct CallState {
    cli: WasiCliCtx,
    table: ResourceTable,
    pub(super) memory: MemoryGuard,
    pub(super) logs: Vec<LogEntry>,
    pub(super) logs_dropped: u32,
    /// Set when a direct call met a tick of the deadline clock and was interrupted to
    /// run again on the async path; not a failure of the module.
    pub(super) outgrown: bool,
}

impl CallState {
    /// The state of a fresh instance that may grow its memory to `memory_bytes`.
    pub(super) fn new(memory_bytes: u64) -> Self {
        CallState {
            outgrown: false,
            cli: WasiCliCtx::default(),
            table: ResourceTable::new(),
            memory: MemoryGuard {
                limit: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
                peak: 0,
                exceeded: false,
            },
            logs: Vec::new(),
            logs_dropped: 0,
        }
    }
}

/// The contract's type-only interface: nothing to provide.
impl crate::model::bindings::rulegate::checkout::types::Host for CallState {}

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
pub(super) struct MemoryGuard {
    limit: usize,
    pub(super) peak: usize,
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
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Turns a wasmtime failure into the engine's typed error.
pub(super) fn classify(error: wasmtime::Error, state: &CallState, limits: &Limits) -> EngineError {
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
