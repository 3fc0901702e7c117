//! Shadow evaluation: a tenant's candidate version decides every live callback too,
//! after the real answer is on its way. It runs on its own single-slot executor (never
//! the live one), never changes an answer, and is skipped when it falls behind. Each
//! evaluation is compared with the live module's outcome, counted in the metrics, and
//! written to the decision log with `shadow_of` naming the live version.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::engine::{Executor, Limits, LongCalls};
use crate::metrics::Metrics;
use crate::model::{Cart, DecisionKind};
use crate::protocols::now_ms;
use crate::records::compare::{comparable, logged_outcome};
use crate::records::decision_log::{self, DecisionLog, LoggedDecision, Record};
use crate::tenants::Active;

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

/// What the live callback decided, which the candidate is compared with.
pub struct Live<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The platform.
    pub platform: &'static str,
    /// The callback.
    pub callback: &'static str,
    /// The tenant's limits.
    pub limits: Limits,
    /// The cart the live module decided on.
    pub input: Arc<Cart>,
    /// The live module's version.
    pub module: &'a str,
    /// The live decisions, as the decision log writes them, in the order they ran.
    pub decisions: &'a [(DecisionKind, LoggedDecision)],
}

impl ShadowRunner {
    /// Starts evaluating `candidate` on what `live` decided; returns at once.
    pub fn evaluate(
        &self,
        live: Live<'_>,
        candidate: Arc<Active>,
        metrics: Arc<Metrics>,
        log: DecisionLog,
    ) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            metrics.shadow(live.tenant, "skipped");
            return;
        }
        let expected: Vec<(DecisionKind, Value)> = live
            .decisions
            .iter()
            .map(|(kind, logged)| (*kind, logged_outcome(logged)))
            .collect();
        let (tenant, platform, callback, limits) = (
            live.tenant.to_string(),
            live.platform,
            live.callback,
            live.limits,
        );
        let (input, live_module) = (live.input, live.module.to_string());
        let executor = self.executor.clone();
        let in_flight = self.in_flight.clone();
        tokio::spawn(async move {
            let ran = executor
                .run(async {
                    let long_calls = LongCalls(vec![executor.long_call_lane()]);
                    let mut session = candidate.rules.session_async(&limits, &long_calls);
                    let mut answers: Vec<(Value, bool)> = Vec::with_capacity(expected.len());
                    for (kind, _) in &expected {
                        answers.push(comparable(session.decide(*kind, &input).await));
                    }
                    (answers, session.usage().clone())
                })
                .await;
            in_flight.fetch_sub(1, Ordering::AcqRel);
            let Ok((answers, usage)) = ran else {
                metrics.shadow(&tenant, "failed");
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
            metrics.shadow(&tenant, result);
            if log.enabled() {
                let decisions = expected
                    .iter()
                    .zip(answers)
                    .map(|((kind, _), (answer, failed))| {
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
                        (kind.export_name().to_string(), logged)
                    })
                    .collect();
                log.write(&Record {
                    time_ms: now_ms(),
                    tenant,
                    platform: platform.to_string(),
                    callback: callback.to_string(),
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
                    host: None,
                });
            }
        });
    }
}
