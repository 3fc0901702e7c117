//! What every handler shares, and the two steps every callback handler takes through
//! it: the decider of a callback, and `finish`, which records, logs, counts, hands the
//! decisions to shadow evaluation and sends the reply.

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};

use crate::canary;
use crate::decide::{Decider, Decisions};
use crate::delivery::Delivery;
use crate::engine::Executor;
use crate::fleet::Convergence;
use crate::metrics::{self, Metrics};
use crate::protocols::{self, Answer, ClientError};
use crate::records::Recorder;
use crate::records::decision_log::{self, DecisionLog, Record};
use crate::shadow::{Live, ShadowRunner};
use crate::tenants::{Active, Registry, Tenant};

/// What every handler shares: one reference count to clone per request, where cloning
/// each service would touch a dozen counters that every server thread shares.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state for `services`.
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
#[derive(Debug)]
pub struct Services {
    /// The tenants and their rules.
    pub registry: Arc<Registry>,
    /// Bounds the rule calls in flight.
    pub executor: Executor,
    /// Where events (KCO pushes, ...) are recorded.
    pub journal: Arc<dyn Recorder>,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// One line per callback that ran rules.
    pub decision_log: DecisionLog,
    /// Evaluates tenants' shadow candidates off the response path.
    pub shadow: ShadowRunner,
    /// Takes the events merchants receive, and delivers them.
    pub delivery: Delivery,
    /// This host's convergence with the fleet's store, when it shares one.
    pub convergence: Option<Arc<Convergence>>,
}

/// What `finish` leaves on a callback's response for the timing layer, which alone
/// knows the latency: the labels of the latency metric and the decision record still
/// missing its latency.
#[derive(Debug, Clone)]
pub(super) struct PendingRecord {
    pub(super) tenant: String,
    pub(super) platform: &'static str,
    pub(super) record: Option<Record>,
}

impl Services {
    /// The tenant named in the URL, or 404.
    pub fn tenant(&self, name: &str) -> Result<Arc<Tenant>, ClientError> {
        self.registry
            .tenant(name)
            .ok_or_else(|| ClientError::not_found(format!("there is no tenant named {name:?}")))
    }

    /// How one callback of `tenant` decides: on `active`, the version the request
    /// resolved (or the tenant's canary, for a checkout in its share), with the
    /// tenant's limits and the callback's failure policy.
    pub fn decider(
        &self,
        tenant: &Tenant,
        active: &Active,
        policy_key: &str,
        answer_within: Duration,
    ) -> Decider {
        Decider {
            rules: active.rules.clone(),
            limits: tenant.limits,
            policy: tenant.policy(policy_key),
            executor: self.executor.clone(),
            answer_within,
            tenant_lane: Some(tenant.long_call_lane.clone()),
            split: tenant.canary().map(|running| running.split(&tenant.name)),
        }
    }

    /// The end of every callback handler: record the answer's events, log and count
    /// it, hand its decisions to the tenant's shadow candidate, and send the reply.
    pub async fn finish(
        &self,
        tenant: &Tenant,
        platform: &'static str,
        mut answer: Answer,
    ) -> Response {
        for event in &answer.events {
            self.journal.record(&tenant.name, event);
            // The platform gets its 200 only once the event is stored: without one, it
            // sends the event again.
            if let Err(error) = self.delivery.take(tenant, event).await {
                tracing::error!(tenant = %tenant.name, platform, %error, "an event for the merchant could not be stored");
                answer.reply = ClientError {
                    status: 503,
                    code: "storage_failed",
                    message: "the event could not be stored; send it again".into(),
                }
                .into();
                break;
            }
        }
        let status = answer.reply.status;
        let callback = answer.callback;
        let decisions = answer.decisions.as_ref();
        log_answer(&tenant.name, platform, callback, status, decisions);
        if let Some(decisions) = decisions {
            canary::observe(&self.registry, &self.metrics, tenant, decisions);
        }
        self.metrics
            .callback(&tenant.name, platform, callback, status, decisions);
        let record = decisions.and_then(|decisions| {
            let shadow = tenant.shadow();
            if shadow.is_none() && !self.decision_log.enabled() {
                return None;
            }
            let logged = decision_log::logged_decisions(decisions);
            if let Some(candidate) = shadow {
                let live = Live {
                    tenant: &tenant.name,
                    platform,
                    callback,
                    limits: tenant.limits,
                    input: decisions.input.clone(),
                    module: &decisions.module,
                    decisions: &logged,
                };
                self.shadow.evaluate(
                    live,
                    candidate,
                    self.metrics.clone(),
                    self.decision_log.clone(),
                );
            }
            self.decision_log.enabled().then(|| {
                let redactions = self.decision_log.redactions();
                Record {
                    time_ms: protocols::now_ms(),
                    tenant: tenant.name.clone(),
                    platform: platform.to_string(),
                    callback: callback.to_string(),
                    module: decisions.module.clone(),
                    input: decision_log::redact(&decisions.input, redactions),
                    redacted: redactions.to_vec(),
                    decisions: logged
                        .into_iter()
                        .map(|(kind, logged)| (kind.export_name().to_string(), logged))
                        .collect(),
                    status,
                    fuel: decisions.usage.fuel,
                    peak_memory_bytes: decisions.usage.peak_memory_bytes,
                    latency_us: 0,
                    outcome: metrics::outcome(status, Some(decisions)).to_string(),
                    shadow_of: None,
                    host: None,
                }
            })
        });
        let mut response = answer.reply.into_response();
        response.extensions_mut().insert(PendingRecord {
            tenant: tenant.name.clone(),
            platform,
            record,
        });
        response
    }
}

/// One structured log line per answered callback: who, what, how it ended, what the
/// rules cost, and every failure the policy answered for. No payload, no personal data.
fn log_answer(
    tenant: &str,
    platform: &str,
    callback: &str,
    status: u16,
    decisions: Option<&Decisions>,
) {
    let Some(decisions) = decisions else {
        tracing::info!(tenant, platform, callback, status, "callback answered");
        return;
    };
    let usage = &decisions.usage;
    for (decision, failure) in decisions.fallbacks() {
        tracing::warn!(
            tenant, platform, callback, module = %decisions.module, %decision,
            failure = failure.kind(), reason = %first_line(&failure.to_string()),
            "failure policy answered"
        );
    }
    tracing::info!(
        tenant,
        platform,
        callback,
        status,
        module = %decisions.module,
        fuel = usage.fuel,
        elapsed_us = usage.elapsed.as_micros() as u64,
        "callback answered"
    );
}

/// The first line of a message: engine errors may carry a wasm backtrace, which
/// belongs in `rulegate run`, not in every log line.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}
