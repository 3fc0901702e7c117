//! The sandbox that runs rules modules: one wasmtime engine, modules compiled once and
//! cached, a fresh isolated instance per callback with fuel, memory, deadline and stack
//! limits, and the same rules compiled natively for tests and benchmarks.
//!
//! The engine knows the contract, never a platform: it takes a canonical [`Cart`] and
//! returns decisions, checked against the contract, with a [`Usage`] report.
//!
//! Vocabulary: a *session* is the decisions of one callback, made on one instance (a
//! new one after any failure). A *direct* call runs on the calling thread without a
//! fiber (for a module that imports only the contract); one that outlives its first
//! ticks is made again on the async path. The [`Executor`] bounds sessions in flight. A
//! *long call* is one still running after a few ticks of the deadline clock; it
//! continues only while it holds a permit of every *lane* in its [`LongCalls`] (its
//! tenant's and the process's), so modules that run long share a bounded part of the
//! CPU.

mod blocking;
mod cache;
mod componentize;
mod config;
mod contract;
mod error;
mod executor;
mod hash;
mod inspect;
mod limits;
mod native;
mod outcome;
mod sandbox;
mod usage;
mod wasm;
mod wasm_session;
mod world;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use blocking::block_on;
pub use cache::ArtifactCache;
pub use config::{EngineSettings, SlotReset};
pub use error::{EngineError, LoadError};
pub use executor::{Executor, LongCalls};
pub use hash::ModuleHash;
pub use inspect::Inspection;
pub use limits::Limits;
pub use native::NativeRules;
pub use outcome::Outcome;
pub use usage::{LogEntry, Usage};
pub use wasm::{Engine, WasmRules};
pub use world::{Contract, ImportCheck, WORLD};

use crate::model::{Cart, Decided, DecisionKind, ShippingOption, TaxDecision, Verdict};

/// A rules implementation the host can ask for decisions: a WebAssembly component
/// ([`WasmRules`]) or the same rules linked natively ([`NativeRules`]).
pub trait RuleSet: Send + Sync + 'static {
    /// What is running: `sha256:<hex>` for a module, `native:<name>` for native rules.
    fn id(&self) -> &str;

    /// Starts the decisions of one callback: a fresh, isolated instance under `limits`.
    /// The server awaits these on its own threads: a module yields back to the runtime
    /// on every deadline-clock tick, so a slow one never holds a thread for long, and
    /// one still running after its first ticks continues only within `long_calls`.
    fn session_async(&self, limits: &Limits, long_calls: &LongCalls) -> Box<dyn AsyncSession + '_>;

    /// The same session, each decision run to completion on the calling thread (for
    /// the command line, the activation gate and tests).
    fn session(&self, limits: &Limits) -> Box<dyn Session + '_> {
        Box::new(blocking::Blocking(
            self.session_async(limits, &LongCalls::default()),
        ))
    }
}

/// The decisions of one callback, made on one isolated instance. A decision that fails
/// (trap, fuel, deadline, memory, contract) does not poison the next: it runs on a fresh
/// instance.
pub trait Session: Send {
    /// The `shipping-options` decision, checked against the contract.
    fn shipping_options(
        &mut self,
        cart: &Cart,
    ) -> Result<Decided<Vec<ShippingOption>>, EngineError>;

    /// The `tax` decision, checked against the contract.
    fn tax(&mut self, cart: &Cart) -> Result<Decided<TaxDecision>, EngineError>;

    /// The `validate` decision, checked against the contract.
    fn validate(&mut self, cart: &Cart) -> Result<Decided<Verdict>, EngineError>;

    /// The `shipping-options` and `tax` decisions on one cart, each checked against the
    /// contract: by default `tax`, then `shipping-options`.
    fn quote(&mut self, cart: &Cart) -> Quoted {
        let tax = self.tax(cart);
        let shipping = self.shipping_options(cart);
        Quoted { shipping, tax }
    }

    /// What the session has used so far.
    fn usage(&self) -> &Usage;

    /// The decision `kind`: the one place a kind is mapped to its export.
    fn decide(&mut self, kind: DecisionKind, cart: &Cart) -> Outcome {
        match kind {
            DecisionKind::Tax => Outcome::Tax(self.tax(cart)),
            DecisionKind::Shipping => Outcome::Shipping(self.shipping_options(cart)),
            DecisionKind::Validate => Outcome::Validate(self.validate(cart)),
        }
    }
}

/// One decision in progress.
pub type Deciding<'a, T> =
    Pin<Box<dyn Future<Output = Result<Decided<T>, EngineError>> + Send + 'a>>;

/// The shipping and tax decisions of one cart, each with its own outcome, as a callback
/// that changed the cart needs them (see [`AsyncSession::quote`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted {
    /// `shipping-options`.
    pub shipping: Result<Decided<Vec<ShippingOption>>, EngineError>,
    /// `tax`.
    pub tax: Result<Decided<TaxDecision>, EngineError>,
}

impl Quoted {
    /// Each half as the outcome of its decision: `tax`, then `shipping-options`.
    pub fn outcomes(self) -> [Outcome; 2] {
        [Outcome::Tax(self.tax), Outcome::Shipping(self.shipping)]
    }
}

/// A [`Quoted`] in progress.
pub type Quoting<'a> = Pin<Box<dyn Future<Output = Quoted> + Send + 'a>>;

/// [`Session`] for async callers: the same decisions, awaited.
pub trait AsyncSession: Send {
    /// The `shipping-options` decision, checked against the contract.
    fn shipping_options<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Vec<ShippingOption>>;

    /// The `tax` decision, checked against the contract.
    fn tax<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, TaxDecision>;

    /// The `validate` decision, checked against the contract.
    fn validate<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Verdict>;

    /// The `shipping-options` and `tax` decisions on one cart, each checked against the
    /// contract and failing on its own: one call of `quote` where the module exports it
    /// (contract 0.2.0), so the cart enters the module once; by default `tax`, then
    /// `shipping-options`.
    fn quote<'a>(&'a mut self, cart: &'a Cart) -> Quoting<'a> {
        Box::pin(in_two_calls(self, cart))
    }

    /// What the session has used so far.
    fn usage(&self) -> &Usage;

    /// The decision `kind`, awaited: the one place a kind is mapped to its export.
    fn decide<'a>(
        &'a mut self,
        kind: DecisionKind,
        cart: &'a Cart,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        match kind {
            DecisionKind::Tax => {
                let deciding = self.tax(cart);
                Box::pin(async move { Outcome::Tax(deciding.await) })
            }
            DecisionKind::Shipping => {
                let deciding = self.shipping_options(cart);
                Box::pin(async move { Outcome::Shipping(deciding.await) })
            }
            DecisionKind::Validate => {
                let deciding = self.validate(cart);
                Box::pin(async move { Outcome::Validate(deciding.await) })
            }
        }
    }
}

/// A quote as two decisions: `tax`, then `shipping-options`.
async fn in_two_calls<S: AsyncSession + ?Sized>(session: &mut S, cart: &Cart) -> Quoted {
    let tax = session.tax(cart).await;
    let shipping = session.shipping_options(cart).await;
    Quoted { shipping, tax }
}

/// A shared, type-erased rule set.
pub type SharedRuleSet = Arc<dyn RuleSet>;
