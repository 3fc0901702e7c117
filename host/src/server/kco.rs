//! KCO's routes: resolve the tenant, check the callback's secret, read the body, then
//! the adapter ([`crate::protocols::kco::answer`]) answers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tracing::Instrument;

use super::http::{body_bytes, content_type, query_pairs};
use super::{AppState, callback_span};
use crate::protocols::kco::{self, ANSWER_WITHIN, Callback, Request};
use crate::protocols::{ClientError, now_ms};

/// `POST /{tenant}/kco/{callback}` and `POST /{tenant}/kco/{secret}/{callback}`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/kco/{callback}", post(without_path_secret))
        .route("/{tenant}/kco/{secret}/{callback}", post(with_path_secret))
}

async fn without_path_secret(
    State(state): State<AppState>,
    Path((tenant, callback)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(&state, &tenant, None, &callback, query, &headers, body).await
}

async fn with_path_secret(
    State(state): State<AppState>,
    Path((tenant, secret, callback)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(
        &state,
        &tenant,
        Some(secret),
        &callback,
        query,
        &headers,
        body,
    )
    .await
}

async fn handle(
    state: &AppState,
    tenant_name: &str,
    path_secret: Option<String>,
    callback: &str,
    query: Option<String>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let tenant = match state.tenant(tenant_name) {
        Ok(tenant) => tenant,
        Err(error) => return refused(tenant_name, callback, error),
    };
    let prepared = (|| {
        let endpoint = tenant.kco.as_ref().ok_or_else(|| {
            ClientError::not_found(format!("tenant {tenant_name:?} does not serve KCO"))
        })?;
        let callback: Callback = callback.parse()?;
        let query = query_pairs(query.as_deref())?;
        let token = query
            .iter()
            .find(|(key, _)| key == "token")
            .map(|(_, value)| value.as_str());
        endpoint.authenticate(path_secret.as_deref().or(token))?;
        let body = body_bytes(body, state.max_body_bytes)?;
        Ok::<_, ClientError>((endpoint, callback, query, body))
    })();
    let (endpoint, callback, query, body) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return refused(tenant_name, callback, error),
    };
    let request = Request {
        callback,
        order_id: endpoint.order_id(&query),
        content_type: content_type(headers),
        body: &body,
        received_at_ms: now_ms(),
    };
    let active = tenant.active();
    let span = callback_span(&tenant.name, "kco", callback.name(), &active.version);
    let decider = state.decider(&tenant, &active, callback.policy_key(), ANSWER_WITHIN);
    let answer = kco::answer(&request, endpoint, &decider)
        .instrument(span.clone())
        .await;
    state.finish(&tenant, "kco", answer).instrument(span).await
}

fn refused(tenant: &str, callback: &str, error: ClientError) -> Response {
    tracing::info!(
        tenant,
        platform = "kco",
        callback,
        status = error.status,
        reason = %error.message,
        "callback refused"
    );
    error.into_response()
}
