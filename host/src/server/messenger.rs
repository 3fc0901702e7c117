//! Messenger's HTTP routes: the handshake and the webhook, one URL per tenant.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use super::signature::{SHA1_HEADER, SHA256_HEADER};
use super::{ANSWER_WITHIN, Endpoint, Request, Signatures};
use crate::protocols::{ClientError, now_ms};
use crate::registry::Tenant;
use crate::server::{AppState, body_bytes, content_type, query_pairs, respond};

/// `GET` (handshake) and `POST` (events) on `/{tenant}/messenger`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/{tenant}/messenger", get(handshake).post(webhook))
}

fn endpoint(tenant: &Tenant) -> Result<&Endpoint, ClientError> {
    tenant.messenger.as_ref().ok_or_else(|| {
        ClientError::not_found(format!("tenant {:?} does not serve Messenger", tenant.name))
    })
}

async fn handshake(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let tenant = match state.tenant(&tenant_name) {
        Ok(tenant) => tenant,
        Err(error) => return respond(error.into()),
    };
    let reply = match (endpoint(&tenant), query_pairs(query.as_deref())) {
        (Ok(endpoint), Ok(query)) => super::handshake(endpoint, &query),
        (Err(error), _) | (_, Err(error)) => error.into(),
    };
    tracing::info!(
        tenant = %tenant.name,
        platform = "messenger",
        callback = "subscribe",
        status = reply.status,
        "handshake answered"
    );
    respond(reply)
}

async fn webhook(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let tenant = match state.tenant(&tenant_name) {
        Ok(tenant) => tenant,
        Err(error) => return respond(error.into()),
    };
    let prepared = endpoint(&tenant)
        .and_then(|endpoint| Ok((endpoint, body_bytes(body, state.max_body_bytes)?)));
    let (endpoint, body) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return state.finish(&tenant.name, "messenger", "webhook", error.into()),
    };
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let request = Request {
        signatures: Signatures {
            sha256: header(SHA256_HEADER),
            sha1: header(SHA1_HEADER),
        },
        content_type: content_type(&headers),
        body: &body,
        received_at_ms: now_ms(),
    };
    let handled = super::answer(&request, endpoint, |callback| {
        state.decider(&tenant, callback.policy_key(), ANSWER_WITHIN)
    })
    .await;
    state.finish(&tenant.name, "messenger", handled.callback, handled.answer)
}
