//! One callback's decisions on a wasm module: a fresh store and instance from the
//! pre-instantiated handle, a fresh fuel budget per decision, one deadline for all of
//! them, and a new instance after any failure.
//!
//! Two paths. A module that imports only the contract is called *directly*: its
//! instance is made and called on the calling thread, with no fiber and no yield, which
//! is what nearly every decision (tens of microseconds) needs. A direct call still
//! running at the second tick of the deadline clock (so after at least one whole tick:
//! a short call that merely straddles a tick goes on) is interrupted and made again on
//! the async path, on a fresh instance: rules are deterministic, so the answer is the
//! one the direct call would have given, and a thread is never held longer than two
//! ticks. A module that outgrew a direct call once starts every later session on the
//! async path. On the async path (also every call of a module that imports WASI, whose
//! `wasi:io` host functions are async) a module yields back to the runtime on every
//! tick, so one that runs long shares its thread, and is interrupted at its deadline.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{Instance, Lift, TypedFunc};
use wasmtime::{Store, UpdateDeadline};

use super::sandbox::{self, CallState};
use super::wasm::WasmRules;
use super::world::Export;
use super::{
    AsyncSession, Deciding, EngineError, Limits, LongCalls, Quoted, Quoting, RuleSet, Usage,
    contract,
};
use crate::model::{Cart, ShippingOption, TaxDecision, Verdict};

/// Ticks of the deadline clock a session may run before it needs its long-call lanes.
/// A tick can pass during any call, so a call that sees one is not yet long; a healthy
/// decision takes a few dozen microseconds, far below this.
const SHORT_CALL_TICKS: u32 = 4;

impl RuleSet for WasmRules {
    fn id(&self) -> &str {
        &self.id
    }

    fn session_async(&self, limits: &Limits, long_calls: &LongCalls) -> Box<dyn AsyncSession + '_> {
        Box::new(WasmSession::new(self, *limits, long_calls.clone()))
    }
}

/// One callback's decisions on a wasm module.
struct WasmSession<'a> {
    rules: &'a WasmRules,
    limits: Limits,
    /// The lanes a call needs to run past its first ticks.
    long_calls: LongCalls,
    started: Instant,
    /// Whether the next instance is made for direct calls: until a call outgrows them.
    direct: bool,
    /// The current instance; dropped after a failure so the next decision gets a fresh one.
    live: Option<(Store<CallState>, Instance)>,
    usage: Usage,
}

/// How an attempt at a decision ended without an answer.
enum Failed {
    /// The module failed.
    Module(EngineError),
    /// A direct call met a tick of the deadline clock: run it again on the async path.
    Outgrown,
}

impl<'a> WasmSession<'a> {
    fn new(rules: &'a WasmRules, limits: Limits, long_calls: LongCalls) -> Self {
        WasmSession {
            rules,
            limits,
            long_calls,
            started: Instant::now(),
            direct: rules.prepared.direct && !rules.outgrows_direct.load(Ordering::Relaxed),
            live: None,
            usage: Usage::default(),
        }
    }

    fn budget(&self) -> u64 {
        self.limits.fuel.unwrap_or(u64::MAX)
    }

    /// When the callback's deadline passes.
    fn deadline(&self) -> Instant {
        self.started + self.limits.deadline()
    }

    fn new_store(&self) -> Store<CallState> {
        let mut store = Store::new(
            self.rules.engine.wasmtime(),
            CallState::new(self.limits.memory_bytes),
        );
        store.limiter(|state| &mut state.memory);
        let deadline = self.deadline();
        if self.direct {
            // At the first tick the call may have begun just before it: let it go on
            // to the next. At the second, stop the module if its deadline has passed,
            // else interrupt it to run again on the async path.
            let mut ticks = 0u32;
            store.epoch_deadline_callback(move |mut store| {
                ticks += 1;
                let now = Instant::now();
                if ticks == 1 && now < deadline {
                    return Ok(UpdateDeadline::Continue(1));
                }
                if now < deadline {
                    store.data_mut().outgrown = true;
                }
                Ok(UpdateDeadline::Interrupt)
            });
            return store;
        }
        let mut ticks = 0u32;
        // On every tick: stop the module once its deadline has passed; else yield to
        // the runtime. A module still running after `SHORT_CALL_TICKS` ticks is a long
        // call: it waits there until it holds its long-call lanes (kept until the store
        // is dropped).
        let lanes = self.long_calls.0.clone();
        let held = Arc::new(Mutex::new(Vec::new()));
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

    /// Runs `export` with `cart` on the live instance (or a fresh one): directly while
    /// the session may, else (or once a direct call met a tick) on the async path.
    async fn call<R>(&mut self, export: Export<R>, cart: &Cart) -> Result<R, EngineError>
    where
        R: Lift + Send + Sync + 'static,
    {
        let began = Instant::now();
        if began >= self.deadline() {
            return Err(EngineError::Deadline {
                deadline: self.limits.deadline(),
            });
        }
        // At most two rounds: only a direct call outgrows, and the second is async.
        loop {
            match self.attempt(export, cart, began).await {
                Ok(decided) => return Ok(decided),
                Err(Failed::Module(error)) => return Err(error),
                Err(Failed::Outgrown) => {
                    self.direct = false;
                    self.usage.reruns += 1;
                    self.rules.outgrows_direct.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// One attempt at `export`: on the live instance (instantiating one first if
    /// needed), under a fresh fuel budget; records usage and classifies failures. Time
    /// is counted from `began`, so a decision moved to the async path counts both.
    async fn attempt<R>(
        &mut self,
        export: Export<R>,
        cart: &Cart,
        began: Instant,
    ) -> Result<R, Failed>
    where
        R: Lift + Send + Sync + 'static,
    {
        let budget = self.budget();
        let (mut store, instance) = match self.live.take() {
            Some(live) => live,
            None => {
                let mut store = self.new_store();
                set_budget(&mut store, budget);
                let instantiated = if self.direct {
                    self.rules.prepared.pre.instantiate(&mut store)
                } else {
                    self.rules.prepared.pre.instantiate_async(&mut store).await
                };
                self.usage.instances += 1;
                match instantiated {
                    Ok(instance) => (store, instance),
                    Err(error) => {
                        return Err(match self.failed(&mut store, budget, began, error) {
                            Failed::Module(EngineError::Trap { message }) => {
                                Failed::Module(EngineError::Instantiation(message))
                            }
                            other => other,
                        });
                    }
                }
            }
        };
        set_budget(&mut store, budget);
        self.usage.calls += 1;
        match call_export(&mut store, instance, export, cart, self.direct).await {
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
    /// drops the store, so the next decision gets a fresh instance. An outgrown direct
    /// call is not accounted: its decision is made again, and that attempt counts.
    fn failed(
        &mut self,
        store: &mut Store<CallState>,
        budget: u64,
        began: Instant,
        error: wasmtime::Error,
    ) -> Failed {
        if store.data().outgrown {
            return Failed::Outgrown;
        }
        self.account(store, budget, began);
        Failed::Module(sandbox::classify(error, store.data(), &self.limits))
    }
}

/// Calls `export` on `instance` with `cart`, without checking its type again: directly
/// or on a fiber, as the session made the store for (`direct`).
async fn call_export<R>(
    store: &mut Store<CallState>,
    instance: Instance,
    export: Export<R>,
    cart: &Cart,
    direct: bool,
) -> wasmtime::Result<R>
where
    R: Lift + Send + Sync + 'static,
{
    let func = instance
        .get_func(&mut *store, export.index)
        .ok_or_else(|| {
            wasmtime::Error::msg("the instance has no export at the contract's index")
        })?;
    // SAFETY: `Engine::prepare` type-checked this export against `(&Cart,) -> (R,)` on
    // an instance of the same component before the module could be used (`Export<R>`
    // ties the index to that `R`), and every instance of a component has the same
    // export types. The test `a_mistyped_export_is_refused_at_load` breaks
    // if the load-time check stops refusing a component whose export has another type.
    #[allow(unsafe_code)]
    let func = unsafe { TypedFunc::<(&Cart,), (R,)>::new_unchecked(func) };
    let (decided,) = if direct {
        func.call(&mut *store, (cart,))?
    } else {
        func.call_async(&mut *store, (cart,)).await?
    };
    Ok(decided)
}

/// A fresh fuel budget, and the deadline clock checked from the next tick on.
fn set_budget(store: &mut Store<CallState>, fuel: u64) {
    store
        .set_fuel(fuel)
        .expect("fuel is enabled in the engine configuration");
    store.set_epoch_deadline(1);
}

impl AsyncSession for WasmSession<'_> {
    fn shipping_options<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Vec<ShippingOption>> {
        Box::pin(async move {
            let decided = self
                .call(self.rules.prepared.exports.shipping_options, cart)
                .await?;
            contract::check_shipping(cart, &decided)?;
            Ok(decided)
        })
    }

    fn tax<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, TaxDecision> {
        Box::pin(async move {
            let decided = self.call(self.rules.prepared.exports.tax, cart).await?;
            contract::check_tax(cart, &decided)?;
            Ok(decided)
        })
    }

    fn validate<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Verdict> {
        Box::pin(async move {
            let decided = self
                .call(self.rules.prepared.exports.validate, cart)
                .await?;
            contract::check_verdict(&decided)?;
            Ok(decided)
        })
    }

    fn quote<'a>(&'a mut self, cart: &'a Cart) -> Quoting<'a> {
        Box::pin(async move {
            let Some(export) = self.rules.prepared.exports.quote else {
                return super::in_two_calls(self, cart).await;
            };
            match self.call(export, cart).await {
                Ok(quote) => Quoted {
                    shipping: contract::check_shipping(cart, &quote.shipping)
                        .map(|()| quote.shipping),
                    tax: contract::check_tax(cart, &quote.tax).map(|()| quote.tax),
                },
                // Past the deadline, the decisions on their own could not run either.
                Err(error @ EngineError::Deadline { .. }) => Quoted {
                    shipping: Err(error.clone()),
                    tax: Err(error),
                },
                // The call failed as a whole (trap, fuel, memory): each decision again
                // on its own, on a fresh instance and budget, so one's failure does not
                // cost the other its answer.
                Err(_) => super::in_two_calls(self, cart).await,
            }
        })
    }

    fn usage(&self) -> &Usage {
        &self.usage
    }
}
