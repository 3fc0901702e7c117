//! The HTTP layer: one thin handler file per platform ([`kco`], [`klix`],
//! [`messenger`]) that reads the request, asks the platform's adapter and finishes
//! through the shared [`state`]; the admin API on its own listener ([`admin`]); the
//! router with the layers every route shares; and the connection loop under every
//! listener ([`listener`]).
//!
//! The adapters know nothing of HTTP frameworks; this is the only module that does.

pub mod admin;
mod http;
mod kco;
mod klix;
pub mod listener;
mod messenger;
mod refusals;
mod state;
mod unparsed;

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use listener::HttpSettings;
pub use state::{AppState, Services};

use crate::fleet::Convergence;
use crate::tenants::Registry;
use state::PendingRecord;

/// The router with every callback route.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(kco::routes())
        .merge(klix::routes())
        .merge(messenger::routes())
        .fallback(refusals::not_found)
        .method_not_allowed_fallback(refusals::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            time_callbacks,
        ))
        .with_state(state)
}

/// Observes every answered callback's time in the server, and writes its decision
/// record with that latency.
async fn time_callbacks(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let began = Instant::now();
    let mut response = next.run(request).await;
    if let Some(pending) = response.extensions_mut().remove::<PendingRecord>() {
        let elapsed = began.elapsed();
        state
            .metrics
            .latency(&pending.tenant, pending.platform, elapsed);
        if let Some(mut record) = pending.record {
            record.latency_us = elapsed.as_micros() as u64;
            state.decision_log.write(&record);
        }
    }
    response
}

/// Liveness: the process answers HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: every tenant has an active version (always true once serving: a tenant
/// without one stops the start).
async fn readyz(State(state): State<AppState>) -> Response {
    ready(&state.registry, state.convergence.as_deref())
}

/// 200 when every tenant has an active version and, on a fleet with
/// `max_staleness_ms`, this host confirmed the store's state recently enough; else 503
/// saying why, so a load balancer drains the host.
pub fn ready(registry: &Registry, fleet: Option<&Convergence>) -> Response {
    if let Some(stale) = fleet.and_then(Convergence::too_stale) {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("{stale}\n")).into_response();
    }
    let missing: Vec<String> = registry
        .tenants()
        .filter(|tenant| tenant.active().version.is_empty())
        .map(|tenant| tenant.name.clone())
        .collect();
    if missing.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no active module: {}\n", missing.join(", ")),
        )
            .into_response()
    }
}

/// Serves `state` on `listener` until `shutdown` turns true, then finishes in-flight
/// requests within the grace period.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    http: HttpSettings,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let address: SocketAddr = listener.local_addr()?;
    tracing::info!(%address, "listening");
    listener::serve(listener, with_limits(router(state), &http), http, shutdown).await;
    Ok(())
}

/// Serves any router (the admin API) with the same connection limits and shutdown.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    http: HttpSettings,
    shutdown: watch::Receiver<bool>,
) {
    listener::serve(listener, router, http, shutdown).await;
}

/// `router` under the limits of every listener: 431 for too many or too large
/// headers, 408 for a request that takes longer than the configured limit (a body that
/// trickles in, ...), each with the JSON body of every refusal.
pub fn with_limits(router: Router, http: &HttpSettings) -> Router {
    router.layer(middleware::from_fn_with_state(*http, refusals::limits))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

/// The span of one callback, so every log line of a request can be followed: the
/// tenant, platform, callback and the module version that decides it.
fn callback_span(
    tenant: &str,
    platform: &'static str,
    callback: &str,
    module: &str,
) -> tracing::Span {
    tracing::info_span!("callback", tenant, platform, callback, module)
}
