//! The refusals the HTTP layer makes itself, before any handler: no such route, a
//! method the route does not accept, headers past the limits, a request past its
//! deadline. Each is a [`ClientError`], so it carries the same `{"error", "message"}`
//! body as every other client mistake.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::HttpSettings;
use crate::protocols::ClientError;

/// 404 for a path no route serves.
pub(super) async fn not_found() -> Response {
    ClientError::not_found("no such route").into_response()
}

/// 405 for a method the route does not accept; the router adds `Allow`.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ClientError {
        status: 405,
        code: "method_not_allowed",
        message: format!("{method} is not accepted on {}", uri.path()),
    }
    .into_response()
}

/// 431 past the header limits, and 408 past the request deadline.
pub(super) async fn limits(
    State(http): State<HttpSettings>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if headers.len() > http.max_headers {
        return too_large_headers(format!(
            "the request has {} headers (at most {})",
            headers.len(),
            http.max_headers
        ));
    }
    // The request line and each header as they are written: `name: value\r\n`.
    let line = request.method().as_str().len() + request.uri().to_string().len() + 12;
    let bytes = line
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if bytes > http.max_header_bytes {
        return too_large_headers(format!(
            "the request line and headers are {bytes} bytes (at most {})",
            http.max_header_bytes
        ));
    }
    let deadline = Duration::from_millis(http.request_timeout_ms);
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ClientError {
            status: 408,
            code: "request_timeout",
            message: format!(
                "the request took longer than {} ms",
                http.request_timeout_ms
            ),
        }
        .into_response(),
    }
}

fn too_large_headers(message: String) -> Response {
    ClientError {
        status: 431,
        code: "request_header_fields_too_large",
        message,
    }
    .into_response()
}
