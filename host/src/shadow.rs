//! Shadow evaluation: a tenant's candidate version decides every live callback too,
//! after the real answer is on its way. It runs on its own single-slot executor (never
//! the live one), never changes an answer, and is skipped when it falls behind. Each
//! evaluation is compared with the live module's outcome, counted in the metrics, and
//! written to the decision log with `shadow_of` naming the live version.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::compare::{logged_outcome, outcome};
use crate::decide::Decisions;
use crate::decision_log::{self, DecisionLog, LoggedDecision, Record};
use crate::engine::{Executor, Limits, LongCalls};
use crate::metrics::Metrics;
use crate::protocols::now_ms;
use crate::registry::Active;

/// Evaluations queued or running before new ones are skipped.
const MAX_IN_FLIGHT: usize = 32;

/// Runs shadow evaluations. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShadowRunner {
    executor: Executor,
    in_flight: Arc<AtomicUsize>,
}

impl Default for ShadowRunner {
    fn default() -> Self {
        ShadowRunner {
            executor: Executor::new(1),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// What the live callback decided, as the shadow compares it.
pub struct Live {
    /// The tenant.
    pub tenant: String,
    /// The platform and callback.
    pub platform: &'static str,
    /// The callback.
    pub callback: String,
    /// The tenant's limits.
    pub limits: Limits,
}

impl ShadowRunner {
    /// Starts evaluating `candidate` on what `decisions` decided; returns at once.
    pub fn evaluate(
        &self,
        live: Live,
        decisions: &Decisions,
        candidate: Arc<Active>,
        metrics: Arc<Metrics>,
        log: DecisionLog,
    ) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            metrics.shadow(&live.tenant, "skipped");
            return;
        }
        let input = decisions.input.clone();
        let live_module = decisions.module.clone();
        let expected: Vec<(String, Value)> = decision_log::logged_decisions(decisions)
            .into_iter()
            .map(|(name, logged)| {
                let value = logged_outcome(&logged);
                (name, value)
            })
            .collect();
        let executor = self.executor.clone();
        let in_flight = self.in_flight.clone();
        tokio::spawn(async move {
            let names: Vec<String> = expected.iter().map(|(name, _)| name.clone()).collect();
            let rules = candidate.rules.clone();
            let limits = live.limits;
            let cart = input.clone();
            let ran = executor
                .run(async {
                    let long_calls = LongCalls(vec![executor.long_calls()]);
                    let mut session = rules.session_async(&limits, &long_calls);
                    let mut answers: Vec<(Value, bool)> = Vec::with_capacity(names.len());
                    for name in &names {
                        answers.push(match name.as_str() {
                            "tax" => outcome(session.tax(&cart).await),
                            "shipping-options" => outcome(session.shipping_options(&cart).await),
                            _ => outcome(session.validate(&cart).await),
                        });
                    }
                    (answers, session.usage().clone())
                })
                .await;
            in_flight.fetch_sub(1, Ordering::AcqRel);
            let Ok((answers, usage)) = ran else {
                metrics.shadow(&live.tenant, "failed");
                return;
            };
            let failed = answers.iter().any(|(_, failed)| *failed);
            let same = expected
                .iter()
                .zip(&answers)
                .all(|((_, expected), (answer, _))| expected == answer);
            let result = if failed {
                "failed"
            } else if same {
                "same"
            } else {
                "different"
            };
            metrics.shadow(&live.tenant, result);
            if log.enabled() {
                let decisions = expected
                    .iter()
                    .zip(answers)
                    .map(|((name, _), (answer, failed))| {
                        let logged = if failed {
                            LoggedDecision {
                                answer: Value::Null,
                                fallback: answer.get("failed").cloned(),
                            }
                        } else {
                            LoggedDecision {
                                answer,
                                fallback: None,
                            }
                        };
                        (name.clone(), logged)
                    })
                    .collect();
                log.write(&Record {
                    time_ms: now_ms(),
                    tenant: live.tenant,
                    platform: live.platform.to_string(),
                    callback: live.callback,
                    module: candidate.version.clone(),
                    input: decision_log::redact(&input, log.redactions()),
                    redacted: log.redactions().to_vec(),
                    decisions,
                    status: 0,
                    fuel: usage.fuel,
                    peak_memory_bytes: usage.peak_memory_bytes,
                    latency_us: usage.elapsed.as_micros() as u64,
                    outcome: result.to_string(),
                    shadow_of: Some(live_module),
                });
            }
        });
    }
}
