//! Typed failures of loading and running rules modules. Callers branch on the variant.

use std::time::Duration;

/// Why a module was refused at load time. It never serves a request.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error(
        "not a WebAssembly file (no \\0asm header); expected a rules module built with `cargo build --release --target wasm32-unknown-unknown`"
    )]
    NotWasm,
    /// A core module without the contract's embedded types: not a rules module.
    #[error(
        "this is a core WebAssembly module without the contract's types, so not a rules module; build it against the rulegate SDK with `cargo build --release --target wasm32-unknown-unknown`"
    )]
    CoreModule,
    /// A core module with the contract's types that cannot be made a component (it
    /// imports something outside the contract, such as WASI preview 1).
    #[error(
        "this core module cannot be made a rules component: {0}; a rules core module is built with `--target wasm32-unknown-unknown` and imports only the contract"
    )]
    Componentize(String),
    /// The component does not compile (malformed, or uses features the engine does not enable).
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The component imports capabilities the sandbox does not grant.
    #[error(
        "the component imports what rules may not use: {}; a rules module may import only wasi:cli and wasi:io (satisfied by an empty sandbox) and rulegate:checkout/host{}",
        .imports.join(", "),
        .advice.map(|advice| format!("; {advice}")).unwrap_or_default()
    )]
    ForbiddenImports {
        /// The imports refused.
        imports: Vec<String>,
        /// How to rebuild it without them, when the toolchain that built it is known.
        advice: Option<&'static str>,
    },
    /// The component does not implement the `rulegate:checkout/rules` world.
    #[error("the component does not implement {world}: {reason}")]
    WrongWorld {
        /// The world it should implement.
        world: &'static str,
        /// What is missing or mistyped.
        reason: String,
    },
    /// The component could not be instantiated once to check its exports (it traps or
    /// runs out of fuel while instantiating, or needs more memory than the engine
    /// allows).
    #[error("the component cannot be instantiated: {0}")]
    Instantiation(String),
    /// Reading or writing the artifact cache failed.
    #[error("artifact cache: {0}")]
    Cache(#[from] std::io::Error),
}

/// Why a decision did not produce a (contract-valid) answer. The host applies the
/// tenant's failure policy; none of these is the shopper's or the platform's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The decision used its whole fuel budget.
    #[error("ran out of fuel (budget {budget})")]
    FuelExhausted {
        /// The budget it had.
        budget: u64,
    },
    /// The callback's wall-clock deadline passed.
    #[error("exceeded its deadline of {} ms", .deadline.as_millis())]
    Deadline {
        /// The deadline it had.
        deadline: Duration,
    },
    /// The instance tried to grow its memory past the limit.
    #[error("exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// The limit it had.
        limit: u64,
    },
    /// The module trapped: a panic, an `unreachable`, a stack overflow, an invalid
    /// memory access ...
    #[error("trapped: {message}")]
    Trap {
        /// What the engine reported, including the wasm backtrace when available.
        message: String,
    },
    /// The module answered, but the answer breaks the contract.
    #[error("broke the contract: {0}")]
    ContractViolation(String),
    /// No instance could be created (e.g. every pool slot is busy).
    #[error("could not be instantiated: {0}")]
    Instantiation(String),
}

impl EngineError {
    /// A short stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::FuelExhausted { .. } => "fuel",
            EngineError::Deadline { .. } => "deadline",
            EngineError::MemoryLimit { .. } => "memory",
            EngineError::Trap { .. } => "trap",
            EngineError::ContractViolation(_) => "contract",
            EngineError::Instantiation(_) => "instantiation",
        }
    }
}
