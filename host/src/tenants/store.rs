//! Where versions and tenant state live: the seam between the registry and its store.
//! The state directory ([`super::files::FileStore`]) is the default; a fleet of hosts
//! shares one PostgreSQL store ([`crate::fleet`]).
//!
//! A store holds immutable modules by content hash and, per tenant, a small state (the
//! active version with its history, the shadow candidate) whose `generation` grows by
//! one with every change. A change is one atomic step of the store; a host installs the
//! state it returns, and a host that sees a higher generation than its own installs
//! that one, so every host converges on the change the store ordered last.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::canary::{Canary, CanaryOutcome, KEEP_ENDED};
use crate::signature::Signatures;

/// Activations kept per tenant.
pub const HISTORY: usize = 50;

/// One activation of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// `sha256:<hex>`, or `native:<name>` for natively linked rules.
    pub version: String,
    /// When, in milliseconds since the epoch.
    pub at_ms: u64,
    /// How: `config`, `admin`, `watch`, `rollback`, `promote`.
    pub via: String,
    /// The host that made it, when the store is shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The tenant's signers whose valid signatures admitted it (`ed25519:...`), when
    /// the tenant requires signatures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_by: Vec<String>,
}

/// A tenant's persisted state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantState {
    /// The version of the configuration's `module` when it was last applied: when the
    /// configuration names another module, that one is activated at start.
    pub configured: Option<String>,
    /// Activations, oldest first; the last is the active version.
    pub history: Vec<Activation>,
    /// The candidate evaluated in the shadow of live traffic, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<String>,
    /// The canary answering a share of checkouts, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// Ended canaries, oldest first, the newest [`KEEP_ENDED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canaries: Vec<CanaryOutcome>,
    /// Grows by one with every change; 0 before the first.
    #[serde(default)]
    pub generation: u64,
}

/// One change of a tenant's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A version becomes active. A running canary ends with it: as `canary_outcome`
    /// says (a promotion), or as ended by this activation.
    Activate {
        /// The activation, appended to the history.
        activation: Activation,
        /// The configuration's module version, when the configuration activated it.
        configured: Option<String>,
        /// Whether the shadow candidate ends with it (a promotion).
        clear_shadow: bool,
        /// How the running canary ended, when this activation promotes it.
        canary_outcome: Option<CanaryOutcome>,
    },
    /// The shadow candidate is set (`Some`) or cleared.
    Shadow(Option<String>),
    /// A canary starts.
    StartCanary(Canary),
    /// The running canary ends, as the outcome says.
    EndCanary(CanaryOutcome),
}

impl TenantState {
    /// The active version.
    pub fn active(&self) -> Option<&Activation> {
        self.history.last()
    }

    /// The version active before the current one (what a rollback activates).
    pub fn previous(&self) -> Option<&Activation> {
        let active = self.active()?;
        self.history
            .iter()
            .rev()
            .find(|activation| activation.version != active.version)
    }

    /// Records an activation, keeping the newest [`HISTORY`].
    pub fn push(&mut self, activation: Activation) {
        self.history.push(activation);
        if self.history.len() > HISTORY {
            let excess = self.history.len() - HISTORY;
            self.history.drain(..excess);
        }
    }

    /// Whether `change` no longer applies to this state, because another change (on
    /// another host, say) overtook it: a canary starting while one runs, or ending or
    /// promoted after it ended. A store leaves the state as it is for such a change.
    pub fn overtaken(&self, change: &Change) -> bool {
        let running = self.canary.as_ref().map(|canary| canary.started_ms);
        match change {
            Change::StartCanary(_) => running.is_some(),
            Change::EndCanary(outcome)
            | Change::Activate {
                canary_outcome: Some(outcome),
                ..
            } => running != Some(outcome.started_ms),
            Change::Activate { .. } | Change::Shadow(_) => false,
        }
    }

    fn end_canary(&mut self, outcome: CanaryOutcome) {
        self.canaries.push(outcome);
        if self.canaries.len() > KEEP_ENDED {
            let excess = self.canaries.len() - KEEP_ENDED;
            self.canaries.drain(..excess);
        }
    }

    /// The state after `change`, one generation on.
    pub fn changed(&self, change: &Change) -> TenantState {
        let mut next = self.clone();
        match change {
            Change::Activate {
                activation,
                configured,
                clear_shadow,
                canary_outcome,
            } => {
                next.push(activation.clone());
                if let Some(configured) = configured {
                    next.configured = Some(configured.clone());
                }
                if *clear_shadow {
                    next.shadow = None;
                }
                if let Some(canary) = next.canary.take() {
                    let outcome = canary_outcome.clone().unwrap_or_else(|| CanaryOutcome {
                        version: canary.version.clone(),
                        started_ms: canary.started_ms,
                        ended_ms: activation.at_ms,
                        outcome: "ended".into(),
                        reason: format!(
                            "{} became active (via {})",
                            activation.version, activation.via
                        ),
                        figures: serde_json::Value::Null,
                        host: activation.host.clone(),
                    });
                    next.end_canary(outcome);
                }
            }
            Change::Shadow(shadow) => next.shadow = shadow.clone(),
            Change::StartCanary(canary) => next.canary = Some(canary.clone()),
            Change::EndCanary(outcome) => {
                if next.canary.take().is_some() {
                    next.end_canary(outcome.clone());
                }
            }
        }
        next.generation += 1;
        next
    }
}

/// Why the store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No module of that version is stored.
    #[error("version {0} is not stored")]
    NotStored(String),
    /// The store could not be read or written; nothing changed.
    #[error("{0}")]
    Unavailable(String),
}

/// Versions and tenant state. Blocking: call it off the async executor.
pub trait Store: Send + Sync + fmt::Debug {
    /// Stores a module under its content hash (once); returns its version.
    fn put(&self, bytes: &[u8]) -> Result<String, StoreError>;
    /// The bytes of a stored version, checked against its hash (a damaged module is an
    /// error, never a different module).
    fn get(&self, version: &str) -> Result<Vec<u8>, StoreError>;
    /// The signatures stored with `version` (each verified when it was added), if any.
    fn signatures(&self, version: &str) -> Result<Option<Signatures>, StoreError>;
    /// Adds the signatures of `signatures` that verify to those stored with their
    /// version, one per key (a key's newer signature replaces its older one). The
    /// version must be stored.
    fn add_signatures(&self, signatures: &Signatures) -> Result<(), StoreError>;
    /// A tenant's state, if it has one.
    fn state(&self, tenant: &str) -> Result<Option<TenantState>, StoreError>;
    /// Applies `change` to a tenant's state in one atomic step; returns the new state.
    fn change(&self, tenant: &str, change: &Change) -> Result<TenantState, StoreError>;
    /// Whether other hosts share this store: then its state is the fleet's truth, and a
    /// host never overrides it because of its own failure to serve a version.
    fn shared(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activation(version: &str, via: &str) -> Activation {
        Activation {
            version: version.into(),
            at_ms: 1,
            via: via.into(),
            host: None,
            signed_by: Vec::new(),
        }
    }

    #[test]
    fn changes_grow_the_generation() {
        let state = TenantState::default();
        let next = state.changed(&Change::Activate {
            activation: activation("sha256:a", "config"),
            configured: Some("sha256:a".into()),
            clear_shadow: false,
            canary_outcome: None,
        });
        assert_eq!(
            (next.generation, next.configured.as_deref()),
            (1, Some("sha256:a"))
        );
        let next = next.changed(&Change::Shadow(Some("sha256:s".into())));
        assert_eq!(
            (next.generation, next.shadow.as_deref()),
            (2, Some("sha256:s"))
        );
        let next = next.changed(&Change::Activate {
            activation: activation("sha256:s", "promote"),
            configured: None,
            clear_shadow: true,
            canary_outcome: None,
        });
        assert_eq!(next.generation, 3);
        assert_eq!(next.shadow, None);
        assert_eq!(next.configured.as_deref(), Some("sha256:a"));
        assert_eq!(next.previous().unwrap().version, "sha256:a");
        let mut long = next;
        for i in 0..(HISTORY + 5) {
            long.push(activation(&format!("sha256:{i}"), "admin"));
        }
        assert_eq!(long.history.len(), HISTORY);
        assert_eq!(long.history[0].version, "sha256:5");
    }
}
