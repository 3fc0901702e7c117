//! The per-call budget of a rules module.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one callback's decisions may use. Per-tenant configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per decision; `None` disables the budget and
    /// leaves only the deadline. The CPU budget that does not depend on machine load.
    pub fuel: Option<u64>,
    /// The most linear memory an instance may grow to, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock backstop for all decisions of one callback, in milliseconds. Keep it
    /// generous: it also counts time the thread waits for a core.
    pub deadline_ms: u64,
}

impl Limits {
    /// The deadline as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

impl Default for Limits {
    /// 50 M fuel per decision (a few milliseconds of CPU; the example rules use under
    /// 100 k on a 200-line cart), 32 MiB of memory, a 1 s deadline.
    fn default() -> Self {
        Limits {
            fuel: Some(50_000_000),
            memory_bytes: 32 << 20,
            deadline_ms: 1_000,
        }
    }
}
