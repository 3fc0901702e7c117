//! The platform adapters: each speaks one checkout platform's callback protocol
//! (docs/PROTOCOLS.md). Request bytes and the tenant's settings come in; the adapter
//! authenticates them, maps them to the canonical cart, asks [`crate::decide`], and
//! renders the platform's reply. Adapters know no HTTP framework and never touch
//! wasmtime: the server and `rulegate run`, `test` and `replay` call the same entry
//! points.
//!
//! Vocabulary: a [`Reply`] is what goes back to the platform (status, headers, body);
//! an [`Answer`] is an adapter's whole result for one callback: the reply, the
//! decisions behind it and the events to record.

pub mod decimal;
pub mod kco;
pub mod klix;
pub mod messenger;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;

use serde_json::{Value, json};

use crate::decide::Decisions;
use crate::strict::Strict;

/// Every callback that runs rules, as `<platform>.<callback>`: the keys of per-callback
/// failure policies.
pub const CALLBACKS: &[&str] = &[
    "kco.address_update",
    "kco.country_change",
    "kco.shipping_option_update",
    "kco.validation",
    "klix.order_verification",
    "klix.shipping_cost",
    "messenger.checkout_update",
    "messenger.pre_checkout",
];

/// What answering a callback produced: which callback it was, the reply, the decisions
/// behind it, and the events to record (KCO push, Klix purchase notification, ...).
#[derive(Debug)]
pub struct Answer {
    /// The callback answered (`address_update`, ...); Messenger's comes from the
    /// delivery, `webhook` when no event ran rules.
    pub callback: &'static str,
    /// What the platform receives.
    pub reply: Reply,
    /// The decisions, when rules ran.
    pub decisions: Option<Decisions>,
    /// What to record (a KCO push, a Klix purchase notification, each Messenger
    /// event of a delivery, ...).
    pub events: Vec<Value>,
}

impl Answer {
    /// `reply` to `callback`, with no decisions and nothing to record.
    pub fn reply(callback: &'static str, reply: Reply) -> Answer {
        Answer {
            callback,
            reply,
            decisions: None,
            events: Vec::new(),
        }
    }

    /// The refusal of `callback` for a client's mistake: nothing ran.
    pub fn refused(callback: &'static str, error: ClientError) -> Answer {
        Answer::reply(callback, error.into())
    }
}

/// An HTTP answer, independent of the server framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Extra headers (`Location`, ...). `Content-Type` is implied by `body`.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

/// What a reply carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Nothing.
    Empty,
    /// A JSON document.
    Json(Value),
    /// A JSON document already serialised (exact decimals written by hand).
    RawJson(String),
    /// Plain text.
    Text(String),
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }

    /// `status` with no body.
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// A redirect to `location` (`303 See Other`).
    pub fn see_other(location: &str) -> Reply {
        Reply {
            status: 303,
            headers: vec![("location", location.to_string())],
            body: Body::Empty,
        }
    }
}

/// A request the host will not act on, with a message the caller can act on. Nothing
/// runs and nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ClientError {
    /// The HTTP status (4xx).
    pub status: u16,
    /// A short machine-readable name.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl ClientError {
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ClientError {
            status: 400,
            code: "bad_request",
            message: message.into(),
        }
    }

    /// 401: the callback's secret is missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ClientError {
            status: 401,
            code: "unauthorized",
            message: message.into(),
        }
    }

    /// 403: the request's signature or verify token is missing or wrong.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ClientError {
            status: 403,
            code: "forbidden",
            message: message.into(),
        }
    }

    /// 404: no such tenant or callback.
    pub fn not_found(message: impl Into<String>) -> Self {
        ClientError {
            status: 404,
            code: "not_found",
            message: message.into(),
        }
    }

    /// 413: the body is larger than the configured limit.
    pub fn too_large(limit: usize) -> Self {
        ClientError {
            status: 413,
            code: "payload_too_large",
            message: format!("the request body is larger than the limit of {limit} bytes"),
        }
    }

    /// 415: the body is not of the expected media type.
    pub fn unsupported_media_type(expected: &str, got: Option<&str>) -> Self {
        ClientError {
            status: 415,
            code: "unsupported_media_type",
            message: match got {
                Some(got) => format!("expected Content-Type {expected}, got {got}"),
                None => format!("expected Content-Type {expected}, got none"),
            },
        }
    }
}

impl From<ClientError> for Reply {
    fn from(error: ClientError) -> Reply {
        Reply::json(
            error.status,
            json!({ "error": error.code, "message": error.message }),
        )
    }
}

/// Checks that `content_type` is JSON (`application/json`, any `+json`, any
/// parameters).
pub fn require_json(content_type: Option<&str>) -> Result<(), ClientError> {
    let essence = content_type.map(|value| {
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(essence) if essence.starts_with("application/") && essence.ends_with("+json") => {
            Ok(())
        }
        _ => Err(ClientError::unsupported_media_type(
            "application/json",
            content_type,
        )),
    }
}

/// Parses a JSON body into `T`, every struct as an object (an array in its place is
/// refused); the error names the path of the offending field
/// (`order_lines[2].quantity: invalid type ...`).
pub fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ClientError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ClientError::bad_request(format!(
            "the request body is empty; expected {what}"
        )));
    }
    // Tracking the path costs on every field, and nearly every body is well formed: parse
    // plainly first, and again with tracking only for the error message.
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    if let Ok(value) = T::deserialize(Strict(&mut deserializer))
        && deserializer.end().is_ok()
    {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T =
        serde_path_to_error::deserialize(Strict(&mut deserializer)).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let position = format!("line {} column {}", inner.line(), inner.column());
            let reason = strip_position(&inner.to_string());
            if inner.is_syntax() || inner.is_eof() {
                ClientError::bad_request(format!(
                    "{what} is not valid JSON: {reason} at {position}"
                ))
            } else if path == "." {
                ClientError::bad_request(format!("{what} must be a JSON object: {reason}"))
            } else {
                ClientError::bad_request(format!("{what}: `{path}`: {reason}"))
            }
        })?;
    deserializer
        .end()
        .map_err(|_| ClientError::bad_request(format!("{what}: trailing data after the JSON")))?;
    Ok(value)
}

/// serde_json appends " at line L column C" to messages; the caller formats position
/// itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// Milliseconds since the Unix epoch: the `received-at-ms` of a cart.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        items: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        quantity: i64,
    }

    #[test]
    fn json_errors_name_the_field() {
        let error = parse_json::<Doc>(
            br#"{"items":[{"quantity":1},{"quantity":"2"}]}"#,
            "the cart",
        )
        .unwrap_err();
        assert_eq!(error.status, 400);
        assert!(
            error.message.contains("`items[1].quantity`"),
            "{}",
            error.message
        );
        assert!(
            error.message.contains("invalid type: string"),
            "{}",
            error.message
        );

        let error = parse_json::<Doc>(br#"{"items":[{}]}"#, "the cart").unwrap_err();
        assert!(
            error.message.contains("missing field `quantity`"),
            "{}",
            error.message
        );

        let error = parse_json::<Doc>(br#"{"items": ["#, "the cart").unwrap_err();
        assert!(
            error.message.contains("not valid JSON"),
            "{}",
            error.message
        );

        let error = parse_json::<Doc>(b"  ", "the cart").unwrap_err();
        assert!(error.message.contains("empty"), "{}", error.message);
    }

    #[test]
    fn content_types() {
        assert!(require_json(Some("application/json")).is_ok());
        assert!(require_json(Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(require_json(Some("application/vnd.klarna+json")).is_ok());
        assert_eq!(require_json(Some("text/plain")).unwrap_err().status, 415);
        assert_eq!(require_json(None).unwrap_err().status, 415);
    }
}
