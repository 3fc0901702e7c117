//! Counters and histograms in the Prometheus text format (version 0.0.4): callbacks by
//! tenant, platform, callback and outcome; latency; fuel per callback; module failures
//! and fallbacks; activations and refused candidates. Label values are escaped; no
//! payload or personal data is ever a label.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::decide::Decisions;
use crate::registry::Registry;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const FUEL_BUCKETS: &[f64] = &[1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 1e7, 1e8, 1e9];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, buckets: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; buckets.len()];
        }
        for (count, bound) in self.counts.iter_mut().zip(buckets) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }
}

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<Labels, u64>,
    latency: BTreeMap<Labels, Histogram>,
    fuel: BTreeMap<Labels, Histogram>,
    failures: BTreeMap<Labels, u64>,
    fallbacks: BTreeMap<Labels, u64>,
    activations: BTreeMap<Labels, u64>,
    refused: BTreeMap<Labels, u64>,
    shadow: BTreeMap<Labels, u64>,
}

/// The process's metrics. Shared by the servers and the watcher.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
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
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }

    /// One answered callback.
    pub fn callback(
        &self,
        tenant: &str,
        platform: &str,
        callback: &str,
        status: u16,
        decisions: Option<&Decisions>,
    ) {
        let outcome = outcome(status, decisions);
        self.with(|inner| {
            *inner
                .requests
                .entry(vec![
                    ("tenant", tenant.to_string()),
                    ("platform", platform.to_string()),
                    ("callback", callback.to_string()),
                    ("outcome", outcome.to_string()),
                ])
                .or_default() += 1;
            let Some(decisions) = decisions else { return };
            let tenant_label = vec![("tenant", tenant.to_string())];
            inner
                .fuel
                .entry(tenant_label)
                .or_default()
                .observe(FUEL_BUCKETS, decisions.usage.fuel as f64);
            for (decision, failure) in decisions.fallbacks() {
                *inner
                    .failures
                    .entry(vec![
                        ("tenant", tenant.to_string()),
                        ("kind", failure.kind().to_string()),
                    ])
                    .or_default() += 1;
                *inner
                    .fallbacks
                    .entry(vec![
                        ("tenant", tenant.to_string()),
                        ("callback", format!("{platform}.{callback}")),
                        ("decision", decision.export_name().to_string()),
                    ])
                    .or_default() += 1;
            }
        });
    }

    /// A request's time in the server.
    pub fn latency(&self, tenant: &str, platform: &str, elapsed: Duration) {
        self.with(|inner| {
            inner
                .latency
                .entry(vec![
                    ("tenant", tenant.to_string()),
                    ("platform", platform.to_string()),
                ])
                .or_default()
                .observe(LATENCY_BUCKETS, elapsed.as_secs_f64());
        });
    }

    /// A version became active (`via`: admin, watch, rollback).
    pub fn activated(&self, tenant: &str, via: &str) {
        self.with(|inner| {
            *inner
                .activations
                .entry(vec![
                    ("tenant", tenant.to_string()),
                    ("via", via.to_string()),
                ])
                .or_default() += 1;
        });
    }

    /// A candidate was refused by the gate.
    pub fn refused(&self, tenant: &str, via: &str) {
        self.with(|inner| {
            *inner
                .refused
                .entry(vec![
                    ("tenant", tenant.to_string()),
                    ("via", via.to_string()),
                ])
                .or_default() += 1;
        });
    }

    /// A shadow evaluation ended: `same`, `different`, `failed` or `skipped`.
    pub fn shadow(&self, tenant: &str, result: &str) {
        self.with(|inner| {
            *inner
                .shadow
                .entry(vec![
                    ("tenant", tenant.to_string()),
                    ("result", result.to_string()),
                ])
                .or_default() += 1;
        });
    }

    /// Everything, with the active version of every tenant of `registry`.
    pub fn render(&self, registry: &Registry) -> String {
        let mut out = String::new();
        self.with(|inner| {
            counter(
                &mut out,
                "rulegate_callbacks_total",
                "Callbacks answered, by tenant, platform, callback and outcome (ok, rejected, fallback, refused, upstream_error).",
                &inner.requests,
            );
            histogram(
                &mut out,
                "rulegate_callback_duration_seconds",
                "Time from request to response.",
                LATENCY_BUCKETS,
                &inner.latency,
            );
            histogram(
                &mut out,
                "rulegate_callback_fuel",
                "Fuel the rules used per callback.",
                FUEL_BUCKETS,
                &inner.fuel,
            );
            counter(
                &mut out,
                "rulegate_module_failures_total",
                "Rule calls the sandbox stopped or the module declined (trap, fuel, deadline, memory, contract, cannot-decide, timeout).",
                &inner.failures,
            );
            counter(
                &mut out,
                "rulegate_fallbacks_total",
                "Decisions the failure policy answered, by callback and decision.",
                &inner.fallbacks,
            );
            counter(
                &mut out,
                "rulegate_activations_total",
                "Versions activated, by how (admin, watch, rollback).",
                &inner.activations,
            );
            counter(
                &mut out,
                "rulegate_refused_candidates_total",
                "Candidate versions the activation gate refused, by how they came.",
                &inner.refused,
            );
            counter(
                &mut out,
                "rulegate_shadow_evaluations_total",
                "Shadow evaluations of candidates, by result (same, different, failed, skipped).",
                &inner.shadow,
            );
        });
        let _ = writeln!(
            out,
            "# HELP rulegate_active_module The version each tenant serves (value 1).\n# TYPE rulegate_active_module gauge"
        );
        for tenant in registry.tenants() {
            let active = tenant.active();
            let _ = writeln!(
                out,
                "rulegate_active_module{} 1",
                labels(&[
                    ("tenant", tenant.name.clone()),
                    ("version", active.version.clone())
                ])
            );
        }
        out
    }
}

fn labels(labels: &[(&'static str, String)]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(name, value)| {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{name}=\"{escaped}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn counter(out: &mut String, name: &str, help: &str, values: &BTreeMap<Labels, u64>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (label_set, value) in values {
        let _ = writeln!(out, "{name}{} {value}", labels(label_set));
    }
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    buckets: &[f64],
    values: &BTreeMap<Labels, Histogram>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (label_set, histogram) in values {
        for (bound, count) in buckets.iter().zip(&histogram.counts) {
            let mut with_le = label_set.clone();
            with_le.push(("le", bound.to_string()));
            let _ = writeln!(out, "{name}_bucket{} {count}", labels(&with_le));
        }
        let mut infinite = label_set.clone();
        infinite.push(("le", "+Inf".to_string()));
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            labels(&infinite),
            histogram.count
        );
        let _ = writeln!(out, "{name}_sum{} {}", labels(label_set), histogram.sum);
        let _ = writeln!(out, "{name}_count{} {}", labels(label_set), histogram.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let mut values = BTreeMap::new();
        let mut h = Histogram::default();
        for v in [0.0004, 0.003, 7.0] {
            h.observe(LATENCY_BUCKETS, v);
        }
        values.insert(vec![("tenant", "a\"b".to_string())], h);
        let mut out = String::new();
        histogram(&mut out, "x", "help", LATENCY_BUCKETS, &values);
        assert!(
            out.contains(r#"x_bucket{tenant="a\"b",le="0.0005"} 1"#),
            "{out}"
        );
        assert!(
            out.contains(r#"x_bucket{tenant="a\"b",le="0.005"} 2"#),
            "{out}"
        );
        assert!(
            out.contains(r#"x_bucket{tenant="a\"b",le="+Inf"} 3"#),
            "{out}"
        );
        assert!(out.contains(r#"x_count{tenant="a\"b"} 3"#), "{out}");
    }
}
