//! One merchant served by this host: its configuration table, its resolved endpoints
//! and policies, the version it serves now, and the versions it keeps compiled.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::{ArcSwap, ArcSwapOption};
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::canary::{CanaryOutcome, Running};
use super::source::ModuleSource;
use super::store::{Activation, TenantState};
use crate::decide::{FailurePolicy, Policy};
use crate::engine::{Limits, SharedRuleSet};
use crate::model::Cart;
use crate::protocols::{kco, klix, messenger};
use crate::records::outbox::{Destination, EventSettings};
use crate::signature::{PublicKey, Signers};

/// Compiled versions kept per tenant for instant rollback and re-activation.
const KEEP_COMPILED: usize = 8;

/// A tenant's table in the configuration, `[tenants.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// The rules: `example:<name>` (embedded component), `native:<name>` (the example
    /// linked natively, for benchmarks) or a path to a `.wasm` component.
    pub module: String,
    /// Per-call limits.
    #[serde(default)]
    pub limits: Limits,
    /// What the host answers when the module fails.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Long calls (rule calls still running after a few deadline-clock ticks) this
    /// tenant may run at once (default: one less than the cores, at least one), so no
    /// tenant can take every core. `concurrency` is read as this key too.
    #[serde(default, alias = "concurrency")]
    pub long_calls: Option<usize>,
    /// A candidate evaluated in the shadow of live traffic (`example:<name>` or a
    /// `.wasm` path); the admin API can set, clear and promote one too.
    #[serde(default)]
    pub shadow: Option<String>,
    /// Public keys (`ed25519:<base64>`, what `rulegate keygen` prints) whose signatures
    /// a module needs before this tenant runs it; empty: modules need none.
    #[serde(default)]
    pub signers: Vec<String>,
    /// How many of `signers` must have signed a module (default 1).
    #[serde(default)]
    pub minimum_signatures: Option<usize>,
    /// A directory of canonical carts (`*.json`) every candidate version must decide
    /// (tax, shipping, validate) within the limits before it may become active.
    #[serde(default)]
    pub smoke: Option<PathBuf>,
    /// KCO callbacks; absent when the tenant does not use KCO.
    #[serde(default)]
    pub kco: Option<kco::Settings>,
    /// Klix callbacks; absent when the tenant does not use Klix.
    #[serde(default)]
    pub klix: Option<klix::Settings>,
    /// Messenger webhooks; absent when the tenant does not use Messenger.
    #[serde(default)]
    pub messenger: Option<messenger::Settings>,
    /// Where the tenant's events (KCO pushes, Klix purchase notifications and order
    /// verifications, Messenger payments) are delivered; absent = recorded only.
    #[serde(default)]
    pub events: Option<EventSettings>,
}

/// A tenant's default long-call lane: every core but one, so the other tenants always
/// have a core whatever one tenant's module does.
pub fn default_long_calls() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .saturating_sub(1)
        .max(1)
}

/// A version a tenant serves (active) or evaluates (shadow).
#[derive(Clone)]
pub struct Active {
    /// `sha256:<hex>` or `native:<name>`.
    pub version: String,
    /// The rules.
    pub rules: SharedRuleSet,
    /// When it became active (ms since the epoch).
    pub since_ms: u64,
    /// How: `config`, `admin`, `watch`, `rollback`, `promote`, `shadow`.
    pub via: String,
    /// The tenant's signers who signed it (empty when the tenant lists none).
    pub signed_by: Vec<String>,
}

/// A merchant served by this host.
pub struct Tenant {
    /// The name in its callback URLs.
    pub name: String,
    /// Where the configuration's rules come from.
    pub source: ModuleSource,
    /// Its per-call limits.
    pub limits: Limits,
    /// Its failure policy, resolved per callback (`kco.validation`, ...).
    pub(super) policies: BTreeMap<&'static str, Arc<Policy>>,
    /// Its KCO endpoint, when it serves KCO.
    pub kco: Option<kco::Endpoint>,
    /// Its Klix endpoint, when it serves Klix.
    pub klix: Option<klix::Endpoint>,
    /// Its Messenger endpoint, when it serves Messenger.
    pub messenger: Option<messenger::Endpoint>,
    /// Where its events are delivered, when anywhere.
    pub events: Option<Destination>,
    /// Who must have signed a version before it serves, when anyone must.
    pub(super) signers: Option<Signers>,
    /// Carts every candidate version must decide within the limits.
    pub(super) smoke: Vec<(String, Cart)>,
    /// The tenant's long-call lane: one permit per long call it may run at once.
    pub long_call_lane: Arc<Semaphore>,
    pub(super) active: ArcSwap<Active>,
    /// The candidate evaluated in the shadow of live traffic.
    pub(super) shadow: ArcSwapOption<Active>,
    /// The canary answering a share of checkouts.
    pub(super) canary: ArcSwapOption<Running>,
    /// Compiled versions, by version, for instant activation.
    pub(super) compiled: Mutex<BTreeMap<String, SharedRuleSet>>,
    /// The state installed on this host; its lock serialises changes, which may wait
    /// for the store and the compiler, so readers use `installed`.
    pub(super) state: Mutex<TenantState>,
    /// A copy of `state`, published after each change: readers never wait for one.
    pub(super) installed: ArcSwap<TenantState>,
    /// The last version of the store's state this host could not serve, and why.
    pub(super) refused: Mutex<Option<Refusal>>,
}

/// A version of the store's state that this host refused: it keeps serving what it has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The version refused.
    pub version: String,
    /// Why.
    pub reason: String,
    /// When, in ms since the epoch.
    pub at_ms: u64,
}

impl Tenant {
    /// The active version: load once per request and finish on it.
    pub fn active(&self) -> Arc<Active> {
        self.active.load_full()
    }

    /// The shadow candidate, if any.
    pub fn shadow(&self) -> Option<Arc<Active>> {
        self.shadow.load_full()
    }

    /// Who must have signed a version before it serves, when anyone must.
    pub fn signers(&self) -> Option<&Signers> {
        self.signers.as_ref()
    }

    /// The running canary, if any.
    pub fn canary(&self) -> Option<Arc<Running>> {
        self.canary.load_full()
    }

    /// Stops routing checkouts to the canary on this host at once (the store's change
    /// that ends it follows).
    pub fn stop_canary(&self) {
        self.canary.store(None);
    }

    /// The ended canaries, oldest first.
    pub fn ended_canaries(&self) -> Vec<CanaryOutcome> {
        self.installed.load().canaries.clone()
    }

    /// The failure policy of `callback` (`kco.validation`, ...); the default policy
    /// for a callback without rules.
    pub fn policy(&self, callback: &str) -> Arc<Policy> {
        self.policies.get(callback).cloned().unwrap_or_default()
    }

    /// The persisted activation history.
    pub fn history(&self) -> Vec<Activation> {
        self.installed.load().history.clone()
    }

    /// The generation of the store's state this host serves.
    pub fn generation(&self) -> u64 {
        self.installed.load().generation
    }

    /// The store's version this host last refused to serve, if it still does.
    pub fn refused(&self) -> Option<Refusal> {
        lock(&self.refused).clone()
    }

    /// The compiled rules of `version`, when still kept.
    pub(super) fn compiled(&self, version: &str) -> Option<SharedRuleSet> {
        lock(&self.compiled).get(version).cloned()
    }

    /// Keeps `rules` compiled, evicting the versions activated longest ago.
    pub(super) fn keep_compiled(&self, version: &str, rules: SharedRuleSet, state: &TenantState) {
        let mut compiled = lock(&self.compiled);
        compiled.insert(version.to_string(), rules);
        if compiled.len() > KEEP_COMPILED {
            let recent: Vec<&str> = state
                .history
                .iter()
                .rev()
                .map(|activation| activation.version.as_str())
                .collect();
            let mut versions: Vec<String> = compiled.keys().cloned().collect();
            versions.sort_by_key(|v| recent.iter().position(|r| r == v).unwrap_or(usize::MAX));
            for stale in versions.into_iter().skip(KEEP_COMPILED) {
                compiled.remove(&stale);
            }
        }
    }
}

impl TenantSettings {
    /// The tenant's signers rule, or `None` when it lists no signer; an error names
    /// the key that is not a public key or a minimum that cannot be met.
    pub fn signers(&self, key: &str) -> anyhow::Result<Option<Signers>> {
        if self.signers.is_empty() {
            anyhow::ensure!(
                self.minimum_signatures.is_none(),
                "`{key}.minimum_signatures` needs `{key}.signers`, the keys that may sign"
            );
            return Ok(None);
        }
        let keys = self
            .signers
            .iter()
            .enumerate()
            .map(|(i, text)| {
                text.trim()
                    .parse::<PublicKey>()
                    .map_err(|error| anyhow::anyhow!("`{key}.signers[{i}]`: {error}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Signers::new(keys, self.minimum_signatures.unwrap_or(1))
            .map(Some)
            .map_err(|error| anyhow::anyhow!("`{key}`: {error}"))
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("name", &self.name)
            .field("active", &self.active().version)
            .field("limits", &self.limits)
            .finish()
    }
}

/// A lock that a panicked holder does not poison: the tenant's state stays usable.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
