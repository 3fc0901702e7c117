//! Klix's routes: the connectivity check, the method each callback accepts, then the
//! adapter ([`crate::protocols::klix::answer`]) verifies and answers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tracing::Instrument;

use super::http::body_bytes;
use super::{AppState, callback_span};
use crate::protocols::klix::{self, ALLOWED_METHODS, ANSWER_WITHIN, Callback, Request};
use crate::protocols::{ClientError, Reply, now_ms};

/// `OPTIONS`, `POST` and `PUT` on `/{tenant}/klix/{callback}`.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/{tenant}/klix/{callback}", any(handle))
}

async fn handle(
    State(state): State<AppState>,
    Path((tenant_name, callback)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let tenant = match state.tenant(&tenant_name) {
        Ok(tenant) => tenant,
        Err(error) => return error.into_response(),
    };
    let prepared = (|| {
        let endpoint = tenant.klix.as_ref().ok_or_else(|| {
            ClientError::not_found(format!("tenant {tenant_name:?} does not serve Klix"))
        })?;
        let callback: Callback = callback.parse()?;
        Ok::<_, ClientError>((endpoint, callback))
    })();
    let (endpoint, callback) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return error.into_response(),
    };
    if method == Method::OPTIONS {
        // The connectivity check Klix runs on every callback URL.
        let mut reply = Reply::empty(200);
        reply.headers = vec![
            ("access-control-allow-methods", ALLOWED_METHODS.to_string()),
            ("allow", ALLOWED_METHODS.to_string()),
        ];
        return reply.into_response();
    }
    let allowed = match callback {
        Callback::PurchaseNotification => method == Method::POST || method == Method::PUT,
        _ => method == Method::POST,
    };
    if !allowed {
        let mut reply: Reply = ClientError {
            status: 405,
            code: "method_not_allowed",
            message: format!("{method} is not accepted on {}", callback.name()),
        }
        .into();
        reply.headers = vec![("allow", ALLOWED_METHODS.to_string())];
        return reply.into_response();
    }
    let body = match body_bytes(body, state.max_body_bytes) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let request = Request {
        callback,
        method: method.as_str(),
        signature: headers
            .get("x-klix-signature")
            .and_then(|value| value.to_str().ok()),
        body: &body,
        received_at_ms: now_ms(),
    };
    let active = tenant.active();
    let span = callback_span(&tenant.name, "klix", callback.name(), &active.version);
    let decider = state.decider(&tenant, &active, callback.policy_key(), ANSWER_WITHIN);
    let answer = klix::answer(&request, endpoint, &decider)
        .instrument(span.clone())
        .await;
    state.finish(&tenant, "klix", answer).instrument(span).await
}
