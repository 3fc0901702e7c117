//! KCO's HTTP routes: tenant lookup, secret check, then [`super::answer`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;

use super::{ANSWER_WITHIN, Callback, Request};
use crate::decide::Decider;
use crate::protocols::{ClientError, now_ms};
use crate::server::{AppState, body_bytes, content_type, query_pairs, respond};

/// `POST /{tenant}/kco/{callback}` and `POST /{tenant}/kco/{secret}/{callback}`.
pub fn routes() -> Router<AppState> {
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
    let prepared = (|| {
        let tenant = state.tenant(tenant_name)?;
        let endpoint = tenant.kco.clone().ok_or_else(|| {
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
        Ok::<_, ClientError>((tenant, endpoint, callback, query, body))
    })();
    let (tenant, endpoint, callback, query, body) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            tracing::info!(tenant = %tenant_name, platform = "kco", %callback, status = error.status, reason = %error.message, "callback refused");
            return respond(error.into());
        }
    };
    let request = Request {
        callback,
        order_id: endpoint.order_id(&query),
        content_type: content_type(headers),
        body: &body,
        received_at_ms: now_ms(),
    };
    let decider = Decider {
        rules: tenant.rules.clone(),
        limits: tenant.limits,
        policy: tenant.policy(callback.policy_key()),
        executor: state.executor.clone(),
        answer_within: ANSWER_WITHIN,
    };
    let answer = super::answer(&request, &endpoint, &decider).await;
    if let Some(event) = &answer.event {
        state.journal.record(event);
    }
    crate::server::log_answer(
        &tenant.name,
        "kco",
        callback.name(),
        answer.reply.status,
        answer.decisions.as_ref(),
    );
    respond(answer.reply)
}
