//! Messenger's routes, one URL per tenant: the subscription handshake (`GET`) and the
//! webhook (`POST`), which the adapter ([`crate::protocols::messenger::answer`])
//! verifies and answers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::Instrument;

use super::http::{body_bytes, content_type, query_pairs};
use super::{AppState, callback_span};
use crate::protocols::messenger::signature::{SHA1_HEADER, SHA256_HEADER};
use crate::protocols::messenger::{self, ANSWER_WITHIN, Endpoint, Request, Signatures};
use crate::protocols::{Answer, ClientError, now_ms};
use crate::tenants::Tenant;

/// `GET` (handshake) and `POST` (events) on `/{tenant}/messenger`.
pub(super) fn routes() -> Router<AppState> {
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
        Err(error) => return error.into_response(),
    };
    let reply = match (endpoint(&tenant), query_pairs(query.as_deref())) {
        (Ok(endpoint), Ok(query)) => messenger::handshake(endpoint, &query),
        (Err(error), _) | (_, Err(error)) => error.into(),
    };
    tracing::info!(
        tenant = %tenant.name,
        platform = "messenger",
        callback = "subscribe",
        status = reply.status,
        "handshake answered"
    );
    reply.into_response()
}

async fn webhook(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let tenant = match state.tenant(&tenant_name) {
        Ok(tenant) => tenant,
        Err(error) => return error.into_response(),
    };
    let prepared = endpoint(&tenant)
        .and_then(|endpoint| Ok((endpoint, body_bytes(body, state.max_body_bytes)?)));
    let (endpoint, body) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            let answer = Answer::refused(messenger::WEBHOOK, error);
            return state.finish(&tenant, "messenger", answer).await;
        }
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
    let active = tenant.active();
    // The delivery says which event it is: the span names the webhook until the
    // adapter has read it.
    let span = callback_span(
        &tenant.name,
        "messenger",
        messenger::WEBHOOK,
        &active.version,
    );
    let answer = messenger::answer(&request, endpoint, |callback| {
        state.decider(&tenant, &active, callback.policy_key(), ANSWER_WITHIN)
    })
    .instrument(span.clone())
    .await;
    span.record("callback", answer.callback);
    state
        .finish(&tenant, "messenger", answer)
        .instrument(span)
        .await
}
