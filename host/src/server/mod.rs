//! The HTTP server: shared state, the routes of every concern merged once, and the
//! layers applied to all of them; plus the glue every adapter's handlers share
//! (reading bodies and queries, sending a [`Reply`], logging an answer).

mod listener;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;

pub use listener::HttpSettings;

use crate::decide::{Decider, Decisions};
use crate::decision_log::{self, DecisionLog, Record};
use crate::engine::Executor;
use crate::journal::Journal;
use crate::metrics::{self, Metrics};
use crate::protocols::{self, Answer, ClientError, Reply};
use crate::registry::{Registry, Tenant};
use crate::shadow::{Live, ShadowRunner};

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
    /// Where rule calls run, off the async executor.
    pub executor: Executor,
    /// Where events (KCO pushes, ...) are recorded.
    pub journal: Journal,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// One line per callback that ran rules.
    pub decision_log: DecisionLog,
    /// Evaluates tenants' shadow candidates off the response path.
    pub shadow: ShadowRunner,
}

/// Which tenant and platform a response answered for, and its decision record, left
/// on the response for the middleware that knows the latency.
#[derive(Debug, Clone)]
struct Answered {
    tenant: String,
    platform: &'static str,
    record: Option<Arc<Record>>,
}

impl AppState {
    /// The tenant named in the URL, or 404.
    pub fn tenant(&self, name: &str) -> Result<Arc<Tenant>, ClientError> {
        self.registry
            .tenant(name)
            .ok_or_else(|| ClientError::not_found(format!("there is no tenant named {name:?}")))
    }

    /// How one callback of `tenant` decides: the rules version resolved now, for the
    /// whole request, with the tenant's limits and the callback's failure policy.
    pub fn decider(&self, tenant: &Tenant, policy_key: &str, answer_within: Duration) -> Decider {
        Decider {
            rules: tenant.active().rules.clone(),
            limits: tenant.limits,
            policy: tenant.policy(policy_key),
            executor: self.executor.clone(),
            answer_within,
            tenant_slots: Some(tenant.slots.clone()),
        }
    }

    /// The end of every adapter's handler: record the answer's event, log it, send it.
    pub fn finish(
        &self,
        tenant: &str,
        platform: &'static str,
        callback: &str,
        answer: Answer,
    ) -> Response {
        for event in &answer.events {
            self.journal.record(event);
        }
        let status = answer.reply.status;
        let decisions = answer.decisions.as_ref();
        log_answer(tenant, platform, callback, status, decisions);
        self.metrics
            .callback(tenant, platform, callback, status, decisions);
        let record = decisions
            .filter(|_| self.decision_log.enabled())
            .map(|decisions| {
                let redactions = self.decision_log.redactions();
                Arc::new(Record {
                    time_ms: protocols::now_ms(),
                    tenant: tenant.to_string(),
                    platform: platform.to_string(),
                    callback: callback.to_string(),
                    module: decisions.module.clone(),
                    input: decision_log::redact(&decisions.input, redactions),
                    redacted: redactions.to_vec(),
                    decisions: decision_log::logged_decisions(decisions),
                    status,
                    fuel: decisions.usage.fuel,
                    peak_memory_bytes: decisions.usage.peak_memory_bytes,
                    latency_us: 0,
                    outcome: metrics::outcome(status, Some(decisions)).to_string(),
                    shadow_of: None,
                })
            });
        if let Some(decisions) = decisions
            && let Some(tenant) = self.registry.tenant(tenant)
            && let Some(candidate) = tenant.shadow()
        {
            self.shadow.evaluate(
                Live {
                    tenant: tenant.name.clone(),
                    platform,
                    callback: callback.to_string(),
                    limits: tenant.limits,
                },
                decisions,
                candidate,
                self.metrics.clone(),
                self.decision_log.clone(),
            );
        }
        let mut response = respond(answer.reply);
        response.extensions_mut().insert(Answered {
            tenant: tenant.to_string(),
            platform,
            record,
        });
        response
    }
}

/// The router with every route.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(protocols::kco::routes())
        .merge(protocols::klix::routes())
        .merge(protocols::messenger::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            time_callbacks,
        ))
        .with_state(state)
}

/// Observes every answered callback's time in the server.
async fn time_callbacks(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let began = Instant::now();
    let response = next.run(request).await;
    if let Some(answered) = response.extensions().get::<Answered>() {
        let elapsed = began.elapsed();
        state
            .metrics
            .latency(&answered.tenant, answered.platform, elapsed);
        if let Some(record) = &answered.record {
            let mut record = Record::clone(record);
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
pub async fn readyz(State(state): State<AppState>) -> Response {
    ready(&state.registry)
}

/// 200 when every tenant has an active version, else 503 naming the ones without.
pub fn ready(registry: &Registry) -> Response {
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

async fn not_found() -> Response {
    respond(ClientError::not_found("no such route").into())
}

/// Sends a [`Reply`].
pub fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = match reply.body {
        protocols::Body::Empty => status.into_response(),
        protocols::Body::Json(value) => json_response(status, value.to_string()),
        protocols::Body::RawJson(text) => json_response(status, text),
        protocols::Body::Text(text) => (status, text).into_response(),
    };
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn json_response(status: StatusCode, text: String) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The body, or 413 past the limit, or 400 when it could not be read.
pub fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ClientError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ClientError::too_large(limit)
        } else {
            ClientError::bad_request(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            ))
        }
    })
}

/// The `Content-Type` header, when present and readable.
pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}

/// The query string as name-value pairs, or 400 when it is malformed.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ClientError> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|error| ClientError::bad_request(format!("malformed query string: {error}")))
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
    listener::serve(listener, with_timeout(router(state), &http), http, shutdown).await;
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

/// `router` answering 408 to a request that takes longer than the configured limit
/// (a body that trickles in, ...).
pub fn with_timeout(router: Router, http: &HttpSettings) -> Router {
    router.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        Duration::from_millis(http.request_timeout_ms),
    ))
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
