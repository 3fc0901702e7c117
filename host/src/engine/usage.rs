//! What a session used: the one report the CLI, logs and metrics read.

use std::time::Duration;

use serde::Serialize;

use crate::model::LogLevel;

/// Resources used by the decisions of one session, and what the module logged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// Fuel consumed, summed over decisions.
    pub fuel: u64,
    /// The largest linear memory any instance reached, in bytes.
    pub peak_memory_bytes: u64,
    /// Wall-clock time spent instantiating and calling, summed over decisions.
    #[serde(serialize_with = "serialize_micros", rename = "elapsed_us")]
    pub elapsed: Duration,
    /// Instances created (1 unless a decision failed and the next needed a fresh one,
    /// or a direct call was made again).
    pub instances: u32,
    /// Calls into the module: one per decision, and one for both halves of a `quote`.
    pub calls: u32,
    /// Direct calls still running after a whole tick of the deadline clock, made again
    /// on the async path on a fresh instance (counted in `instances` too). Rules are
    /// deterministic, so the second call gives the answer the first would have.
    pub reruns: u32,
    /// Messages the module logged through the host, in order, bounded.
    pub logs: Vec<LogEntry>,
    /// Log messages dropped because the bound was reached.
    pub logs_dropped: u32,
}

/// One message a module logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Its level.
    pub level: LogLevel,
    /// The text, truncated to the per-message bound.
    pub message: String,
}

fn serialize_micros<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_micros() as u64)
}
