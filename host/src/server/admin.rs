//! The admin API, on its own listener (loopback by default): upload a module version,
//! list versions, activate one, roll back, show tenant status, and `/metrics`. Every
//! route but `/healthz` and `/readyz` needs `Authorization: Bearer <token>`.
//!
//! Uploads and activations go through the tenants' gate, the same one the watched
//! directory and the configuration use; compiling runs off the async executor. A
//! module's signatures come with an upload, an activation or a shadow request in the
//! `Rulegate-Signatures` header: the `.sig` file `rulegate sign` wrote, base64.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::body_bytes;
use super::{healthz, ready};
use crate::delivery::Delivery;
use crate::fleet::Fleet;
use crate::metrics::Metrics;
use crate::protocols::{ClientError, Reply, parse_json};
use crate::records::DecisionLog;
use crate::secret::{Secret, SecretRef};
use crate::signature::Signatures;
use crate::tenants::canary::CanarySettings;
use crate::tenants::{ActivationError, Active, Candidate, Registry, Tenant};

/// The largest module upload.
pub const MAX_UPLOAD_BYTES: usize = 64 << 20;

/// The header carrying a candidate's signatures: its `.sig` file, base64.
pub const SIGNATURES_HEADER: &str = "rulegate-signatures";

/// The `[admin]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Where the admin API listens; loopback unless the operator says otherwise.
    #[serde(default = "loopback")]
    pub listen: SocketAddr,
    /// The bearer token.
    pub token: SecretRef,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The tenants.
    pub registry: Arc<Registry>,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// The decision log, whose dropped lines `/metrics` counts.
    pub decision_log: DecisionLog,
    /// The tenants' events and their delivery.
    pub delivery: Delivery,
    /// The bearer token.
    pub token: Arc<Secret>,
    /// The fleet's store, when this host shares one.
    pub fleet: Option<Fleet>,
}

/// The admin router.
pub fn router(state: AdminState) -> Router {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/fleet", get(fleet))
        .route("/v1/tenants", get(list_tenants))
        .route("/v1/tenants/{tenant}", get(show_tenant))
        .route(
            "/v1/tenants/{tenant}/versions",
            get(show_tenant).post(upload),
        )
        .route("/v1/tenants/{tenant}/activate", post(activate))
        .route("/v1/tenants/{tenant}/rollback", post(rollback))
        .route(
            "/v1/tenants/{tenant}/shadow",
            post(set_shadow).delete(clear_shadow),
        )
        .route("/v1/tenants/{tenant}/shadow/promote", post(promote_shadow))
        .route(
            "/v1/tenants/{tenant}/canary",
            get(show_canary).post(start_canary).delete(end_canary),
        )
        .route("/v1/tenants/{tenant}/events", get(list_events))
        .route(
            "/v1/tenants/{tenant}/events/{event}/resend",
            post(resend_event),
        )
        .layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(protected)
        .fallback(|| async { ClientError::not_found("no such admin route").into_response() })
        .method_not_allowed_fallback(super::refusals::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(state)
}

async fn authorize(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let presented = bearer(request.headers());
    if presented.is_some_and(|token| state.token.matches(token)) {
        return next.run(request).await;
    }
    let mut reply: Reply = ClientError::unauthorized(match presented {
        Some(_) => "the bearer token does not match",
        None => "the admin API needs `Authorization: Bearer <token>`",
    })
    .into();
    reply
        .headers
        .push(("www-authenticate", "Bearer realm=\"rulegate-admin\"".into()));
    reply.into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let convergence = state.fleet.as_ref().map(|fleet| &*fleet.convergence);
    ready(&state.registry, convergence)
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let convergence = state.fleet.as_ref().map(|fleet| &*fleet.convergence);
    let body = state
        .metrics
        .render(&state.registry, &state.decision_log, convergence);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

fn active_json(active: &Active) -> Value {
    let mut json =
        json!({ "version": active.version, "since_ms": active.since_ms, "via": active.via });
    if !active.signed_by.is_empty() {
        json["signed_by"] = json!(active.signed_by);
    }
    json
}

fn status(tenant: &Tenant) -> Value {
    let active = tenant.active();
    json!({
        "tenant": tenant.name,
        "configured_module": tenant.source.to_string(),
        "active": active_json(&active),
        "shadow": tenant.shadow().map(|shadow| active_json(&shadow)),
        "history": tenant.history(),
        "canary": tenant.canary().map(|running| running.json()),
        "canaries": tenant.ended_canaries(),
        "signers": tenant.signers().map(|signers| json!({
            "keys": signers.keys(),
            "minimum_signatures": signers.minimum(),
        })),
    })
}

/// Every host of the fleet, what it serves and how far behind the store it is.
async fn fleet(State(state): State<AdminState>) -> Response {
    match &state.fleet {
        Some(fleet) => Reply::json(200, fleet.view(&state.registry).await).into_response(),
        None => Reply::json(
            409,
            json!({
                "error": "no_fleet",
                "message": "this host keeps its own state directory; a fleet shares `[store] kind = \"postgres\"`",
            }),
        )
        .into_response(),
    }
}

async fn list_tenants(State(state): State<AdminState>) -> Response {
    let tenants: Vec<Value> = state
        .registry
        .tenants()
        .map(|tenant| {
            let active = tenant.active();
            json!({ "tenant": tenant.name, "active": active_json(&active) })
        })
        .collect();
    Reply::json(200, json!({ "tenants": tenants })).into_response()
}

async fn show_tenant(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    match state.registry.tenant(&name) {
        Some(tenant) => Reply::json(200, status(&tenant)).into_response(),
        None => {
            ClientError::not_found(format!("there is no tenant named {name:?}")).into_response()
        }
    }
}

/// The answer to an activation attempt, counted in the metrics.
fn activation_reply(
    metrics: &Metrics,
    tenant: &str,
    via: &str,
    result: Result<Arc<Active>, ActivationError>,
) -> Reply {
    metrics.activation(tenant, via, &result);
    match result {
        Ok(active) => Reply::json(
            200,
            json!({ "tenant": tenant, "active": active_json(&active) }),
        ),
        Err(error) => {
            let (status, code) = match &error {
                ActivationError::UnknownTenant(_) | ActivationError::UnknownVersion(_) => {
                    (404, "not_found")
                }
                ActivationError::NoPrevious(_) => (409, "no_previous_version"),
                ActivationError::Conflict(_) => (409, "conflict"),
                ActivationError::Invalid(_) => (400, "bad_request"),
                ActivationError::NoShadow(_) => (409, "no_shadow_candidate"),
                ActivationError::Refused(_) => (422, "candidate_refused"),
                ActivationError::Unsigned(_) => (422, "signature_refused"),
                ActivationError::Storage(_) => (503, "storage_failed"),
            };
            tracing::warn!(tenant, via, %error, "activation did not happen; the active version keeps serving");
            let mut body = json!({ "error": code, "message": error.to_string() });
            if let ActivationError::Unsigned(refusal) = &error {
                body["reason"] = refusal.code().into();
            }
            Reply::json(status, body)
        }
    }
}

/// Runs a blocking registry operation off the async executor.
async fn blocking(
    state: &AdminState,
    tenant: &str,
    via: &'static str,
    operation: impl FnOnce(&Registry) -> Result<Arc<Active>, ActivationError> + Send + 'static,
) -> Response {
    let registry = state.registry.clone();
    let result = tokio::task::spawn_blocking(move || operation(&registry))
        .await
        .unwrap_or_else(|error| {
            Err(ActivationError::Refused(format!(
                "the activation stopped: {error}"
            )))
        });
    activation_reply(&state.metrics, tenant, via, result).into_response()
}

/// 404 unless there is a tenant named `name`.
fn known_tenant(state: &AdminState, name: &str) -> Result<(), ClientError> {
    match state.registry.tenant(name) {
        Some(_) => Ok(()),
        None => Err(ClientError::not_found(format!(
            "there is no tenant named {name:?}"
        ))),
    }
}

/// 503 when the outbox could not be `done` (read, written): the events are as they were.
fn outbox_failed(done: &str) -> Response {
    Reply::json(
        503,
        json!({ "error": "storage_failed", "message": format!("the outbox could not be {done}") }),
    )
    .into_response()
}

/// The non-empty body of an upload to an existing tenant, or the client error: 404 for
/// an unknown tenant, 400 (saying `when_empty`) for an empty body, 413 past the cap.
fn tenant_upload(
    state: &AdminState,
    name: &str,
    body: Result<Bytes, BytesRejection>,
    when_empty: &str,
) -> Result<Bytes, ClientError> {
    known_tenant(state, name)?;
    match body_bytes(body, MAX_UPLOAD_BYTES)? {
        bytes if !bytes.is_empty() => Ok(bytes),
        _ => Err(ClientError::bad_request(when_empty)),
    }
}

/// The signatures of the `Rulegate-Signatures` header, if it is there.
fn presented(headers: &HeaderMap) -> Result<Option<Signatures>, ClientError> {
    let Some(value) = headers.get(SIGNATURES_HEADER) else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        ClientError::bad_request(format!(
            "the {SIGNATURES_HEADER} header {why}; send the module's .sig file, base64 \
             (`base64 -w0 module.wasm.sig`)"
        ))
    };
    let bytes = STANDARD
        .decode(value.as_bytes().trim_ascii())
        .map_err(|_| refuse("is not base64"))?;
    Signatures::parse(&bytes)
        .map(Some)
        .map_err(|error| refuse(&format!("holds {error}")))
}

async fn upload(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let bytes = match tenant_upload(
        &state,
        &name,
        body,
        "the body is empty; send the component's bytes",
    ) {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let signatures = match presented(&headers) {
        Ok(signatures) => signatures,
        Err(error) => return error.into_response(),
    };
    let tenant = name.clone();
    blocking(&state, &name, "admin", move |registry| {
        registry.deploy(&tenant, &bytes, signatures.as_ref(), "admin")
    })
    .await
}

#[derive(Deserialize)]
struct ActivateRequest {
    version: String,
}

async fn activate(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = body_bytes(body, MAX_UPLOAD_BYTES)
        .and_then(|body| parse_json::<ActivateRequest>(&body, "the activation request"))
        .and_then(|request| Ok((request, presented(&headers)?)));
    let (request, signatures) = match request {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let tenant = name.clone();
    blocking(&state, &name, "admin", move |registry| {
        registry.activate(&tenant, &request.version, signatures.as_ref(), "admin")
    })
    .await
}

async fn rollback(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    let tenant = name.clone();
    blocking(&state, &name, "rollback", move |registry| {
        registry.rollback(&tenant)
    })
    .await
}

/// Sets the shadow candidate: the module's bytes, or `{"version": "sha256:..."}`.
async fn set_shadow(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match tenant_upload(
        &state,
        &name,
        body,
        "send the candidate's bytes, or {\"version\": \"sha256:...\"}",
    ) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let signatures = match presented(&headers) {
        Ok(signatures) => signatures,
        Err(error) => return error.into_response(),
    };
    let version = if body.first() == Some(&b'{') {
        match parse_json::<ActivateRequest>(&body, "the shadow request") {
            Ok(request) => Some(request.version),
            Err(error) => return error.into_response(),
        }
    } else {
        None
    };
    let tenant = name.clone();
    let registry = state.registry.clone();
    let result = tokio::task::spawn_blocking(move || {
        let candidate = match &version {
            Some(version) => Candidate::Version(version),
            None => Candidate::Bytes(&body),
        };
        registry.set_shadow(&tenant, candidate, signatures.as_ref())
    })
    .await
    .unwrap_or_else(|error| {
        Err(ActivationError::Refused(format!(
            "the activation stopped: {error}"
        )))
    });
    let reply = match result {
        Ok(shadow) => Reply::json(
            200,
            json!({ "tenant": name, "shadow": active_json(&shadow) }),
        ),
        Err(error) => {
            let mut reply = activation_reply(&state.metrics, &name, "shadow", Err(error));
            reply.status = reply.status.max(400);
            reply
        }
    };
    reply.into_response()
}

async fn clear_shadow(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    // The store may be written: off the async executor, like every registry change.
    let (registry, tenant) = (state.registry.clone(), name.clone());
    let cleared = tokio::task::spawn_blocking(move || registry.clear_shadow(&tenant))
        .await
        .unwrap_or_else(|error| {
            Err(ActivationError::Storage(format!(
                "the change stopped: {error}"
            )))
        });
    match cleared {
        Ok(()) => Reply::json(200, json!({ "tenant": name, "shadow": null })).into_response(),
        Err(error) => activation_reply(&state.metrics, &name, "shadow", Err(error)).into_response(),
    }
}

async fn promote_shadow(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    let tenant = name.clone();
    blocking(&state, &name, "promote", move |registry| {
        registry.promote_shadow(&tenant)
    })
    .await
}

/// The canary's request: `{"version": "sha256:...", "percent": 20, ...}`, or the
/// candidate's bytes with the settings in the query string (`?percent=20&...`).
fn canary_request(
    query: Option<&str>,
    body: &[u8],
) -> Result<(Option<String>, CanarySettings), ClientError> {
    let invalid = |error: &dyn std::fmt::Display| {
        ClientError::bad_request(format!("the canary's settings: {error}"))
    };
    let json = matches!(body.trim_ascii_start().first(), Some(b'{' | b'['));
    if !json {
        let settings = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|error| invalid(&format!("{error} (in the query string)")))?;
        return Ok((None, settings));
    }
    let mut request: serde_json::Map<String, Value> = parse_json(body, "the canary request")?;
    let version = match request.remove("version") {
        Some(Value::String(version)) => version,
        Some(_) => return Err(ClientError::bad_request("`version` must be a string")),
        None => {
            return Err(ClientError::bad_request(
                "`version` is missing: send {\"version\": \"sha256:...\", \"percent\": ...}, or the candidate's bytes",
            ));
        }
    };
    let settings =
        serde_json::from_value(Value::Object(request)).map_err(|error| invalid(&error))?;
    Ok((Some(version), settings))
}

/// Starts a canary of a stored version or of the uploaded candidate.
async fn start_canary(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = tenant_upload(
        &state,
        &name,
        body,
        "send {\"version\": \"sha256:...\", \"percent\": ...}, or the candidate's bytes with ?percent=...",
    )
    .and_then(|body| {
        let (version, settings) = canary_request(query.as_deref(), &body)?;
        Ok((body, version, settings, presented(&headers)?))
    });
    let (body, version, settings, signatures) = match request {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let (registry, tenant) = (state.registry.clone(), name.clone());
    let result = tokio::task::spawn_blocking(move || {
        let candidate = match &version {
            Some(version) => Candidate::Version(version),
            None => Candidate::Bytes(&body),
        };
        registry.start_canary(&tenant, candidate, signatures.as_ref(), settings)
    })
    .await
    .unwrap_or_else(|error| {
        Err(ActivationError::Refused(format!(
            "the canary stopped: {error}"
        )))
    });
    match result {
        Ok(running) => {
            Reply::json(200, json!({ "tenant": name, "canary": running.json() })).into_response()
        }
        Err(error) => {
            let mut reply = activation_reply(&state.metrics, &name, "canary", Err(error));
            reply.status = reply.status.max(400);
            reply.into_response()
        }
    }
}

/// The canary with both sides' live figures, and the ended ones.
async fn show_canary(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    match state.registry.tenant(&name) {
        Some(tenant) => Reply::json(
            200,
            json!({
                "tenant": name,
                "canary": tenant.canary().map(|running| running.json()),
                "ended": tenant.ended_canaries(),
            }),
        )
        .into_response(),
        None => {
            ClientError::not_found(format!("there is no tenant named {name:?}")).into_response()
        }
    }
}

/// Ends the canary: the active version answers every checkout again.
async fn end_canary(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    let Some(tenant) = state.registry.tenant(&name) else {
        return ClientError::not_found(format!("there is no tenant named {name:?}"))
            .into_response();
    };
    let Some(running) = tenant.canary() else {
        return Reply::json(
            409,
            json!({ "error": "no_canary", "message": format!("tenant {name:?} runs no canary") }),
        )
        .into_response();
    };
    let (registry, tenant) = (state.registry.clone(), name.clone());
    let ended = tokio::task::spawn_blocking(move || {
        registry.end_canary(&tenant, &running, "ended", "ended by the operator")
    })
    .await
    .unwrap_or_else(|error| {
        Err(ActivationError::Storage(format!(
            "the change stopped: {error}"
        )))
    });
    match ended {
        Ok(()) => Reply::json(200, json!({ "tenant": name, "canary": null })).into_response(),
        Err(error) => activation_reply(&state.metrics, &name, "canary", Err(error)).into_response(),
    }
}

/// A tenant's events, newest first, with their delivery state.
async fn list_events(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    if let Err(error) = known_tenant(&state, &name) {
        return error.into_response();
    }
    let delivery = state.delivery.clone();
    let tenant = name.clone();
    match tokio::task::spawn_blocking(move || delivery.events(&tenant)).await {
        Ok(Ok(mut events)) => {
            events.reverse();
            Reply::json(200, json!({ "tenant": name, "events": events })).into_response()
        }
        _ => outbox_failed("read"),
    }
}

/// Sends an event again, now, whatever its state.
async fn resend_event(
    State(state): State<AdminState>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    if let Err(error) = known_tenant(&state, &name) {
        return error.into_response();
    }
    if !state.delivery.serves(&name) {
        return Reply::json(
            409,
            json!({
                "error": "no_events_endpoint",
                "message": format!("tenant {name:?} has no `[tenants.{name}.events]` table"),
            }),
        )
        .into_response();
    }
    let delivery = state.delivery.clone();
    let (tenant, event) = (name.clone(), id.clone());
    match tokio::task::spawn_blocking(move || delivery.resend(&tenant, &event)).await {
        Ok(Ok(Some(event))) => {
            Reply::json(200, json!({ "tenant": name, "event": event })).into_response()
        }
        Ok(Ok(None)) => {
            ClientError::not_found(format!("tenant {name:?} has no event {id:?}")).into_response()
        }
        _ => outbox_failed("written"),
    }
}
