//! Runs canaries on the request path: each callback a canary could have answered is
//! counted on its side, then the guardrails judge. A breach stops routing to the
//! canary on this host at once and ends it in the store (so every host of a fleet
//! stops); a canary that reached its sample and age is promoted. Both changes run off
//! the async executor and never delay the callback that triggered them.

use std::sync::Arc;

use crate::decide::{Decisions, split};
use crate::metrics::Metrics;
use crate::protocols::now_ms;
use crate::tenants::canary::Judgement;
use crate::tenants::{Registry, Tenant};

/// Counts `decisions` of `tenant` for its canary, if one runs, and acts on the
/// guardrails' judgement.
pub fn observe(
    registry: &Arc<Registry>,
    metrics: &Arc<Metrics>,
    tenant: &Tenant,
    decisions: &Decisions,
) {
    let Some(running) = tenant.canary() else {
        return;
    };
    // Only checkouts the split could route compare like with like.
    if split::checkout(&decisions.input).is_none() {
        return;
    }
    let on_canary = decisions.module == running.canary.version;
    running.figures.count(on_canary, decisions);
    metrics.canary_callback(&tenant.name, on_canary);
    let judgement = running.figures.judge(&running.canary, now_ms());
    if judgement == Judgement::Continue || !running.begin_ending() {
        return;
    }
    let (registry, metrics, name) = (registry.clone(), metrics.clone(), tenant.name.clone());
    match judgement {
        Judgement::Breach(reason) => {
            // No further checkout meets the canary here, even before the store knows.
            tenant.stop_canary();
            tracing::warn!(tenant = %name, version = %running.canary.version, %reason, "canary guardrail breached; rolling back");
            tokio::task::spawn_blocking(move || {
                metrics.canary_ended(&name, "rolled_back");
                if let Err(error) = registry.end_canary(&name, &running, "rolled_back", &reason) {
                    tracing::error!(tenant = %name, %error, "the canary's rollback could not be stored; this host no longer routes to it");
                }
            });
        }
        Judgement::Promote => {
            tokio::task::spawn_blocking(move || match registry.promote_canary(&name, &running) {
                Ok(active) => {
                    metrics.canary_ended(&name, "promoted");
                    tracing::info!(tenant = %name, version = %active.version, "canary promoted");
                }
                Err(error) => {
                    tracing::error!(tenant = %name, %error, "the canary could not be promoted; it keeps running");
                    running.abandon_ending();
                }
            });
        }
        Judgement::Continue => {}
    }
}
