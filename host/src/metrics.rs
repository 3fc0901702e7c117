//! The process's metrics, kept with `prometheus-client` and served in the Prometheus
//! text format (version 0.0.4): callbacks by tenant, platform, callback and outcome;
//! latency; fuel per callback; module failures and fallbacks; activations and refused
//! candidates; shadow evaluations; the version each tenant serves. No payload or
//! personal data is ever a label.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry as MetricRegistry;

use crate::decide::Decisions;
use crate::engine::SlotReset;
use crate::fleet::Convergence;
use crate::records::DecisionLog;
use crate::tenants::{ActivationError, Registry};

const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const FUEL_BUCKETS: [f64; 10] = [1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 1e7, 1e8, 1e9];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallbackLabels {
    tenant: String,
    platform: &'static str,
    callback: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PlatformLabels {
    tenant: String,
    platform: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailureLabels {
    tenant: String,
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FallbackLabels {
    tenant: String,
    callback: String,
    decision: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ViaLabels {
    tenant: String,
    via: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct UnsignedLabels {
    tenant: String,
    via: String,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SideLabels {
    tenant: String,
    side: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    tenant: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ShadowLabels {
    tenant: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeliveryLabels {
    tenant: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabels {
    tenant: String,
    version: String,
}

type Histograms<S> = Family<S, Histogram, fn() -> Histogram>;

/// The process's metrics. Shared by the servers and the watcher.
#[derive(Debug)]
pub struct Metrics {
    registry: MetricRegistry,
    callbacks: Family<CallbackLabels, Counter>,
    latency: Histograms<PlatformLabels>,
    fuel: Histograms<TenantLabels>,
    failures: Family<FailureLabels, Counter>,
    fallbacks: Family<FallbackLabels, Counter>,
    activations: Family<ViaLabels, Counter>,
    refused: Family<ViaLabels, Counter>,
    unsigned: Family<UnsignedLabels, Counter>,
    canary_callbacks: Family<SideLabels, Counter>,
    canaries_ended: Family<OutcomeLabels, Counter>,
    shadow: Family<ShadowLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    pending: Family<TenantLabels, Gauge>,
    pagemap_scan: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = MetricRegistry::default();
        let callbacks = Family::default();
        registry.register(
            "rulegate_callbacks",
            "Callbacks answered, by tenant, platform, callback and outcome (ok, rejected, fallback, refused, upstream_error)",
            callbacks.clone(),
        );
        let latency: Histograms<PlatformLabels> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "rulegate_callback_duration_seconds",
            "Time from request to response",
            latency.clone(),
        );
        let fuel: Histograms<TenantLabels> =
            Family::new_with_constructor(|| Histogram::new(FUEL_BUCKETS));
        registry.register(
            "rulegate_callback_fuel",
            "Fuel the rules used per callback",
            fuel.clone(),
        );
        let failures = Family::default();
        registry.register(
            "rulegate_module_failures",
            "Rule calls the sandbox stopped or the module declined (trap, fuel, deadline, memory, contract, cannot-decide, timeout)",
            failures.clone(),
        );
        let fallbacks = Family::default();
        registry.register(
            "rulegate_fallbacks",
            "Decisions the failure policy answered, by callback and decision",
            fallbacks.clone(),
        );
        let activations = Family::default();
        registry.register(
            "rulegate_activations",
            "Versions activated, by how (admin, watch, rollback, promote)",
            activations.clone(),
        );
        let refused = Family::default();
        registry.register(
            "rulegate_refused_candidates",
            "Candidate versions the activation gate refused, by how they came",
            refused.clone(),
        );
        let unsigned = Family::default();
        registry.register(
            "rulegate_unsigned_candidates",
            "Candidate versions refused for their signatures, by how they came and why (no_signature, bad_signature, unknown_key, too_few_signatures)",
            unsigned.clone(),
        );
        let canary_callbacks = Family::default();
        registry.register(
            "rulegate_canary_callbacks",
            "Checkouts' callbacks during a canary, by the side that answered (canary, active)",
            canary_callbacks.clone(),
        );
        let canaries_ended = Family::default();
        registry.register(
            "rulegate_canaries_ended",
            "Canaries this host ended, by outcome (rolled_back: a guardrail; promoted)",
            canaries_ended.clone(),
        );
        let shadow = Family::default();
        registry.register(
            "rulegate_shadow_evaluations",
            "Shadow evaluations of candidates, by result (same, different, failed, skipped)",
            shadow.clone(),
        );
        let deliveries = Family::default();
        registry.register(
            "rulegate_event_deliveries",
            "Attempts to deliver events to merchants, by result (delivered, retried, failed: given up)",
            deliveries.clone(),
        );
        let pending = Family::default();
        registry.register(
            "rulegate_events_pending",
            "Events not yet delivered to the merchant",
            pending.clone(),
        );
        let pagemap_scan = Gauge::default();
        registry.register(
            "rulegate_engine_pagemap_scan",
            "Whether reused pool slots are reset with PAGEMAP_SCAN (1), or without it because swap is active (0)",
            pagemap_scan.clone(),
        );
        Metrics {
            deliveries,
            pending,
            pagemap_scan,
            registry,
            callbacks,
            latency,
            fuel,
            failures,
            fallbacks,
            activations,
            refused,
            unsigned,
            canary_callbacks,
            canaries_ended,
            shadow,
        }
    }
}

/// How a callback ended, for the `outcome` label.
pub fn outcome(status: u16, decisions: Option<&Decisions>) -> &'static str {
    match (status, decisions) {
        (_, Some(decisions)) if decisions.fallbacks().next().is_some() => "fallback",
        (500.., _) => "upstream_error",
        (400..=499, Some(_)) => "rejected",
        (400..=499, None) => "refused",
        _ => "ok",
    }
}

impl Metrics {
    /// One answered callback.
    pub fn callback(
        &self,
        tenant: &str,
        platform: &'static str,
        callback: &'static str,
        status: u16,
        decisions: Option<&Decisions>,
    ) {
        let outcome = outcome(status, decisions);
        self.callbacks
            .get_or_create(&CallbackLabels {
                tenant: tenant.to_string(),
                platform,
                callback,
                outcome,
            })
            .inc();
        let Some(decisions) = decisions else { return };
        self.fuel
            .get_or_create(&TenantLabels {
                tenant: tenant.to_string(),
            })
            .observe(decisions.usage.fuel as f64);
        for (decision, failure) in decisions.fallbacks() {
            self.failures
                .get_or_create(&FailureLabels {
                    tenant: tenant.to_string(),
                    kind: failure.kind(),
                })
                .inc();
            self.fallbacks
                .get_or_create(&FallbackLabels {
                    tenant: tenant.to_string(),
                    callback: format!("{platform}.{callback}"),
                    decision: decision.export_name(),
                })
                .inc();
        }
    }

    /// A request's time in the server.
    pub fn latency(&self, tenant: &str, platform: &'static str, elapsed: Duration) {
        self.latency
            .get_or_create(&PlatformLabels {
                tenant: tenant.to_string(),
                platform,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The end of an activation attempt (`via`: admin, watch, rollback, promote,
    /// shadow): counted as an activation, or as a refused candidate when the gate
    /// refused it.
    pub fn activation<T>(&self, tenant: &str, via: &str, result: &Result<T, ActivationError>) {
        let labels = ViaLabels {
            tenant: tenant.to_string(),
            via: via.to_string(),
        };
        match result {
            Ok(_) => {
                self.activations.get_or_create(&labels).inc();
            }
            Err(ActivationError::Refused(_)) => {
                self.refused.get_or_create(&labels).inc();
            }
            Err(ActivationError::Unsigned(refusal)) => {
                self.unsigned
                    .get_or_create(&UnsignedLabels {
                        tenant: labels.tenant.clone(),
                        via: labels.via.clone(),
                        reason: refusal.code(),
                    })
                    .inc();
                self.refused.get_or_create(&labels).inc();
            }
            Err(_) => {}
        }
    }

    /// A callback a canary could have answered, on the side that did.
    pub fn canary_callback(&self, tenant: &str, on_canary: bool) {
        self.canary_callbacks
            .get_or_create(&SideLabels {
                tenant: tenant.to_string(),
                side: if on_canary { "canary" } else { "active" },
            })
            .inc();
    }

    /// This host ended a canary: `rolled_back` or `promoted`.
    pub fn canary_ended(&self, tenant: &str, outcome: &'static str) {
        self.canaries_ended
            .get_or_create(&OutcomeLabels {
                tenant: tenant.to_string(),
                outcome,
            })
            .inc();
    }

    /// A shadow evaluation ended: `same`, `different`, `failed` or `skipped`.
    pub fn shadow(&self, tenant: &str, result: &'static str) {
        self.shadow
            .get_or_create(&ShadowLabels {
                tenant: tenant.to_string(),
                result,
            })
            .inc();
    }

    /// An attempt to deliver an event ended: `delivered`, `retried` or `failed`.
    pub fn event_delivery(&self, tenant: &str, result: &'static str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                tenant: tenant.to_string(),
                result,
            })
            .inc();
    }

    /// How the engine resets reused pool slots.
    pub fn slot_reset(&self, reset: SlotReset) {
        self.pagemap_scan
            .set(i64::from(reset == SlotReset::PagemapScan));
    }

    /// The events of `tenant` not delivered yet.
    pub fn events_pending(&self, tenant: &str, pending: usize) {
        self.pending
            .get_or_create(&TenantLabels {
                tenant: tenant.to_string(),
            })
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Everything, with the active version of every tenant of `tenants`, the lines
    /// `decision_log` dropped because its writer fell behind, and, on a fleet, this
    /// host's view of its convergence.
    pub fn render(
        &self,
        tenants: &Registry,
        decision_log: &DecisionLog,
        fleet: Option<&Convergence>,
    ) -> String {
        let mut out = String::new();
        let mut active = MetricRegistry::default();
        let versions = Family::<VersionLabels, Gauge>::default();
        for tenant in tenants.tenants() {
            versions
                .get_or_create(&VersionLabels {
                    tenant: tenant.name.clone(),
                    version: tenant.active().version.clone(),
                })
                .set(1);
        }
        active.register(
            "rulegate_active_module",
            "The version each tenant serves (value 1)",
            versions,
        );
        active.register(
            "rulegate_decision_log_dropped",
            "Decision log lines dropped because the writer fell behind",
            ConstCounter::new(decision_log.dropped()),
        );
        if let Some(fleet) = fleet {
            let refused = Family::<TenantLabels, Gauge>::default();
            for tenant in tenants.tenants() {
                refused
                    .get_or_create(&TenantLabels {
                        tenant: tenant.name.clone(),
                    })
                    .set(i64::from(tenant.refused().is_some()));
            }
            active.register(
                "rulegate_store_refused_version",
                "Whether this host refuses the store's version of a tenant and serves its last good one (1)",
                refused,
            );
            let reachable = Gauge::<i64>::default();
            reachable.set(i64::from(fleet.reachable()));
            active.register(
                "rulegate_store_reachable",
                "Whether the shared store answered this host's last look (1) or not (0)",
                reachable,
            );
            let staleness = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
            staleness.set(fleet.staleness().as_secs_f64());
            active.register(
                "rulegate_store_confirmed_age_seconds",
                "Time since this host last confirmed the shared store's state",
                staleness,
            );
            let behind = Gauge::<i64>::default();
            behind.set(i64::try_from(fleet.hosts_behind()).unwrap_or(i64::MAX));
            active.register(
                "rulegate_fleet_hosts_behind",
                "Live hosts of the fleet serving an older generation than the store's, at this host's last look",
                behind,
            );
            active.register(
                "rulegate_store_sync_errors",
                "Looks at the shared store that failed",
                ConstCounter::new(fleet.sync_errors()),
            );
        }
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_text::encode(&mut out, &active);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Refusal;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let metrics = Metrics::default();
        for v in [0.0004, 0.003, 7.0] {
            metrics.latency("a\"b", "kco", Duration::from_secs_f64(v));
        }
        let mut out = String::new();
        prometheus_text::encode(&mut out, &metrics.registry).unwrap();
        let series = "rulegate_callback_duration_seconds";
        assert!(
            out.contains(&format!(
                r#"{series}_bucket{{tenant="a\"b",platform="kco",le="0.0005"}} 1"#
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                r#"{series}_bucket{{tenant="a\"b",platform="kco",le="0.005"}} 2"#
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                r#"{series}_bucket{{tenant="a\"b",platform="kco",le="+Inf"}} 3"#
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                r#"{series}_count{{tenant="a\"b",platform="kco"}} 3"#
            )),
            "{out}"
        );
    }

    #[test]
    fn counters_keep_their_names() {
        let metrics = Metrics::default();
        metrics.shadow("shop", "same");
        metrics.activation::<()>("shop", "admin", &Ok(()));
        metrics.activation::<()>("shop", "watch", &Err(ActivationError::Refused("x".into())));
        metrics.activation::<()>(
            "shop",
            "admin",
            &Err(ActivationError::Unsigned(Refusal::NoSignature)),
        );
        let mut out = String::new();
        prometheus_text::encode(&mut out, &metrics.registry).unwrap();
        for line in [
            "# TYPE rulegate_shadow_evaluations_total counter",
            r#"rulegate_shadow_evaluations_total{tenant="shop",result="same"} 1"#,
            r#"rulegate_activations_total{tenant="shop",via="admin"} 1"#,
            r#"rulegate_refused_candidates_total{tenant="shop",via="watch"} 1"#,
            r#"rulegate_refused_candidates_total{tenant="shop",via="admin"} 1"#,
            r#"rulegate_unsigned_candidates_total{tenant="shop",via="admin",reason="no_signature"} 1"#,
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
    }
}
