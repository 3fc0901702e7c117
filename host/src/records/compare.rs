//! Comparing decisions (replay, shadow evaluation, fixture tests): one comparable JSON
//! form for a module's outcome (an answer, a rejection, or a failure), and a
//! field-by-field difference for reports.

use serde::Serialize;
use serde_json::{Value, json};

use super::decision_log::LoggedDecision;
use crate::engine::{EngineError, Outcome};
use crate::model::{Decided, RejectionCode, RuleError};

/// A decision's outcome in comparable form: the answer, a rejection, or a failure; and
/// whether it failed.
pub fn comparable(outcome: Outcome) -> (Value, bool) {
    match outcome {
        Outcome::Tax(result) => comparable_result(result),
        Outcome::Shipping(result) => comparable_result(result),
        Outcome::Validate(result) => comparable_result(result),
    }
}

fn comparable_result<T: Serialize>(result: Result<Decided<T>, EngineError>) -> (Value, bool) {
    match result {
        Ok(Ok(value)) => (serde_json::to_value(value).unwrap_or(Value::Null), false),
        Ok(Err(RuleError::AddressUnsupported(message))) => (
            json!({ "rejected": { "code": RejectionCode::AddressUnsupported, "message": message } }),
            false,
        ),
        Ok(Err(RuleError::AddressInvalid(message))) => (
            json!({ "rejected": { "code": RejectionCode::AddressInvalid, "message": message } }),
            false,
        ),
        Ok(Err(RuleError::CannotDecide(reason))) => (
            json!({ "failed": { "kind": "cannot-decide", "reason": reason } }),
            true,
        ),
        Err(error) => (
            json!({ "failed": { "kind": error.kind(), "reason": error.to_string().lines().next().unwrap_or("") } }),
            true,
        ),
    }
}

/// `path: a → b` for every leaf where `a` and `b` differ.
pub fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let null = Value::Null;
                diff(
                    &format!("{path}.{key}"),
                    x.get(key).unwrap_or(&null),
                    y.get(key).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            let null = Value::Null;
            for index in 0..x.len().max(y.len()) {
                diff(
                    &format!("{path}[{index}]"),
                    x.get(index).unwrap_or(&null),
                    y.get(index).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a != b => {
            let path = path.trim_start_matches('.');
            let path = if path.is_empty() {
                "(whole answer)"
            } else {
                path
            };
            out.push(format!("{path}: {a} → {b}"));
        }
        _ => {}
    }
}

/// A logged decision in the same form: the module's answer, or the failure the policy
/// answered for.
pub fn logged_outcome(logged: &LoggedDecision) -> Value {
    match &logged.fallback {
        Some(failure) => json!({ "failed": failure }),
        None => logged.answer.clone(),
    }
}
