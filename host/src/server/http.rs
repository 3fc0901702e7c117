//! The glue between axum and the adapters' framework-free [`Reply`]: sending a reply,
//! and reading bodies, content types and query strings with a client error for every
//! way they can be wrong.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::protocols::{Body, ClientError, Reply};

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = match self.body {
            Body::Empty => status.into_response(),
            Body::Json(value) => json_response(status, value.to_string()),
            Body::RawJson(text) => json_response(status, text),
            Body::Text(text) => (status, text).into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

impl IntoResponse for ClientError {
    fn into_response(self) -> Response {
        Reply::from(self).into_response()
    }
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
