//! Tenants and their rules: which module version serves which merchant, with which
//! limits, and how a new version becomes active.
//!
//! Each tenant's active version sits behind an atomic pointer. A request loads it once
//! ([`Tenant::active`]) and finishes on it, so a swap never fails or mixes a request.
//! Every activation (configuration, admin API, watched directory, rollback, shadow and
//! canary candidates) passes the same gate ([`gate`]). A refused candidate never serves; the reason goes back to the
//! operator. Versions stay compiled in memory, so a rollback is a pointer swap.
//!
//! A change is written to the store first, then installed: the state the store returns
//! (or, on a fleet, a newer one another host wrote) becomes the tenant's state in
//! memory, in generation order ([`Registry::sync`]).
//!
//! Files: [`tenant`] (a tenant and its table), [`source`] (where a module comes from),
//! [`gate`] (the activation gate), [`canary`] (canaries: settings, figures, guardrails), [`load`] (configuration and persisted state to
//! tenants, at start), [`store`] (the store seam and the tenant state), [`files`] (the
//! store in the state directory).

pub mod canary;
pub mod files;
mod gate;
mod load;
pub mod source;
pub mod store;
pub mod tenant;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::Context;

pub use files::FileStore;
pub use gate::Candidate;
pub use source::{Module, ModuleSource};
pub use store::{Activation, Change, Store, StoreError, TenantState};
pub use tenant::{Active, Refusal, Tenant, TenantSettings, default_long_calls};

use crate::engine::Engine;
use crate::protocols::now_ms;
use crate::signature::{self, Signatures};
use canary::{Canary, CanaryOutcome, CanarySettings, Running};
use gate::Admitted;
use tenant::lock;

/// Why an activation did not happen. The old version keeps serving in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    /// No such tenant.
    #[error("there is no tenant named {0:?}")]
    UnknownTenant(String),
    /// The request cannot be carried out in the tenant's state (a canary already
    /// runs, none runs, the candidate is the active version).
    #[error("{0}")]
    Conflict(String),
    /// The request's settings are not ones it can run with.
    #[error("{0}")]
    Invalid(String),
    /// No such stored version.
    #[error("version {0} is not stored")]
    UnknownVersion(String),
    /// There is no shadow candidate to promote.
    #[error("tenant {0:?} has no shadow candidate")]
    NoShadow(String),
    /// There is nothing to roll back to.
    #[error("tenant {0:?} has no previous version")]
    NoPrevious(String),
    /// The candidate failed the gate.
    #[error("candidate refused: {0}")]
    Refused(String),
    /// The candidate is not signed as the tenant requires.
    #[error("candidate refused: {0}")]
    Unsigned(signature::Refusal),
    /// The store could not be read or written; nothing changed.
    #[error("the store is unavailable, nothing changed: {0}")]
    Storage(String),
}

impl From<StoreError> for ActivationError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotStored(version) => ActivationError::UnknownVersion(version),
            StoreError::Unavailable(message) => ActivationError::Storage(message),
        }
    }
}

/// What an activation promotes, which ends with it.
enum Promotes {
    Nothing,
    Shadow,
    Canary(CanaryOutcome),
}

/// All tenants, by name, and how their versions change.
pub struct Registry {
    tenants: BTreeMap<String, Arc<Tenant>>,
    engine: Engine,
    store: Arc<dyn Store>,
    /// This host, named in the activations it makes when the store is shared.
    host: Option<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("tenants", &self.tenants.keys())
            .finish()
    }
}

impl Registry {
    /// Loads every tenant of `settings`: the persisted active version when the
    /// configuration still names the module it named then, else the configuration's
    /// module (activated and persisted). Fails naming the tenant whose configured
    /// module is refused. `host` names this host in a shared store's history.
    pub fn load(
        settings: &BTreeMap<String, TenantSettings>,
        engine: &Engine,
        store: Arc<dyn Store>,
        host: &str,
    ) -> anyhow::Result<Registry> {
        let host = store.shared().then(|| host.to_string());
        let mut tenants = BTreeMap::new();
        for (name, tenant_settings) in settings {
            let tenant = load::tenant(name, tenant_settings, engine, &*store, host.as_deref())
                .with_context(|| format!("loading tenant {name}"))?;
            tracing::info!(tenant = %name, version = %tenant.active().version, "tenant loaded");
            tenants.insert(name.clone(), Arc::new(tenant));
        }
        Ok(Registry {
            tenants,
            engine: engine.clone(),
            store,
            host,
        })
    }

    /// The tenant named `name`.
    pub fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        self.tenants.get(name).cloned()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }

    fn find(&self, name: &str) -> Result<&Arc<Tenant>, ActivationError> {
        self.tenants
            .get(name)
            .ok_or_else(|| ActivationError::UnknownTenant(name.to_string()))
    }

    /// Gates `bytes` for `tenant` with the signatures presented with them, stores
    /// them and makes them active. Blocking (it may compile): call it off the async
    /// executor.
    pub fn deploy(
        &self,
        tenant: &str,
        bytes: &[u8],
        signatures: Option<&Signatures>,
        via: &str,
    ) -> Result<Arc<Active>, ActivationError> {
        self.make_active(
            tenant,
            Candidate::Bytes(bytes),
            signatures,
            via,
            Promotes::Nothing,
        )
    }

    /// Makes a stored version active again (through the gate, which is instant for a
    /// version still compiled, signatures aside), with any signatures presented now.
    pub fn activate(
        &self,
        tenant: &str,
        version: &str,
        signatures: Option<&Signatures>,
        via: &str,
    ) -> Result<Arc<Active>, ActivationError> {
        self.make_active(
            tenant,
            Candidate::Version(version),
            signatures,
            via,
            Promotes::Nothing,
        )
    }

    /// Activates the version that was active before the current one, by the store's
    /// history.
    pub fn rollback(&self, tenant: &str) -> Result<Arc<Active>, ActivationError> {
        self.find(tenant)?;
        let previous = self
            .store
            .state(tenant)?
            .and_then(|state| {
                state
                    .previous()
                    .map(|activation| activation.version.clone())
            })
            .ok_or_else(|| ActivationError::NoPrevious(tenant.to_string()))?;
        self.activate(tenant, &previous, None, "rollback")
    }

    fn make_active(
        &self,
        tenant: &str,
        candidate: Candidate<'_>,
        signatures: Option<&Signatures>,
        via: &str,
        promotes: Promotes,
    ) -> Result<Arc<Active>, ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let admitted = tenant.admit(&self.engine, &*self.store, candidate, signatures)?;
        let activation = Activation {
            version: admitted.version.clone(),
            at_ms: now_ms(),
            via: via.to_string(),
            host: self.host.clone(),
            signed_by: admitted.signed_by.clone(),
        };
        let promotes_canary = matches!(promotes, Promotes::Canary(_));
        let next = self.store.change(
            &tenant.name,
            &Change::Activate {
                activation: activation.clone(),
                configured: None,
                clear_shadow: matches!(promotes, Promotes::Shadow),
                canary_outcome: match promotes {
                    Promotes::Canary(outcome) => Some(outcome),
                    Promotes::Nothing | Promotes::Shadow => None,
                },
            },
        )?;
        if promotes_canary && next.active() != Some(&activation) {
            self.install_changed(tenant, &mut state, next, None);
            return Err(ActivationError::Conflict(format!(
                "the canary of {} ended before it could be promoted",
                admitted.version
            )));
        }
        self.install_changed(tenant, &mut state, next, Some(&admitted));
        tracing::info!(tenant = %tenant.name, version = %admitted.version, via, "version activated");
        Ok(Arc::new(Active {
            version: admitted.version,
            rules: admitted.rules,
            since_ms: activation.at_ms,
            via: activation.via,
            signed_by: admitted.signed_by,
        }))
    }

    /// Gates `candidate` (with the signatures presented with it) and makes it the
    /// tenant's shadow: every live request is also evaluated on it, off the response
    /// path. Blocking (it may compile).
    pub fn set_shadow(
        &self,
        tenant: &str,
        candidate: Candidate<'_>,
        signatures: Option<&Signatures>,
    ) -> Result<Arc<Active>, ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let admitted = tenant.admit(&self.engine, &*self.store, candidate, signatures)?;
        let next = self.store.change(
            &tenant.name,
            &Change::Shadow(Some(admitted.version.clone())),
        )?;
        self.install_changed(tenant, &mut state, next, Some(&admitted));
        tracing::info!(tenant = %tenant.name, version = %admitted.version, "shadow candidate set");
        Ok(Arc::new(Active {
            version: admitted.version,
            rules: admitted.rules,
            since_ms: now_ms(),
            via: "shadow".into(),
            signed_by: admitted.signed_by,
        }))
    }

    /// Stops shadow evaluation.
    pub fn clear_shadow(&self, tenant: &str) -> Result<(), ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let next = self.store.change(&tenant.name, &Change::Shadow(None))?;
        self.install_changed(tenant, &mut state, next, None);
        Ok(())
    }

    /// Activates the shadow candidate and stops shadowing, in one change.
    pub fn promote_shadow(&self, tenant: &str) -> Result<Arc<Active>, ActivationError> {
        let shadow = self
            .find(tenant)?
            .shadow()
            .ok_or_else(|| ActivationError::NoShadow(tenant.to_string()))?;
        self.make_active(
            tenant,
            Candidate::Version(&shadow.version),
            None,
            "promote",
            Promotes::Shadow,
        )
    }

    /// Gates `candidate` (with the signatures presented with it) and starts a canary
    /// of it with `settings`: it answers their share of the tenant's checkouts until a
    /// guardrail ends it or it is promoted. Blocking (it may compile).
    pub fn start_canary(
        &self,
        tenant: &str,
        candidate: Candidate<'_>,
        signatures: Option<&Signatures>,
        settings: CanarySettings,
    ) -> Result<Arc<Running>, ActivationError> {
        settings.check().map_err(ActivationError::Invalid)?;
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        if let Some(running) = &state.canary {
            return Err(ActivationError::Conflict(format!(
                "tenant {:?} already runs a canary of {}; end it first",
                tenant.name, running.version
            )));
        }
        let admitted = tenant.admit(&self.engine, &*self.store, candidate, signatures)?;
        if tenant.active().version == admitted.version {
            return Err(ActivationError::Conflict(format!(
                "{} is the active version of tenant {:?}; a canary needs another",
                admitted.version, tenant.name
            )));
        }
        let canary = Canary {
            version: admitted.version.clone(),
            settings,
            started_ms: now_ms(),
            signed_by: admitted.signed_by.clone(),
        };
        let started_ms = canary.started_ms;
        let next = self
            .store
            .change(&tenant.name, &Change::StartCanary(canary))?;
        let overtaken = next.canary.as_ref().map(|c| c.started_ms) != Some(started_ms);
        self.install_changed(tenant, &mut state, next, Some(&admitted));
        if overtaken {
            return Err(ActivationError::Conflict(format!(
                "another canary of tenant {:?} started meanwhile",
                tenant.name
            )));
        }
        tracing::info!(tenant = %tenant.name, version = %admitted.version, "canary started");
        tenant.canary().ok_or_else(|| {
            ActivationError::Storage("the canary is stored but this host cannot run it".into())
        })
    }

    /// Ends the tenant's canary `running`: `outcome` is `rolled_back` or `ended`, with
    /// why. The active version answers every checkout again.
    pub fn end_canary(
        &self,
        tenant: &str,
        running: &Running,
        outcome: &str,
        reason: &str,
    ) -> Result<(), ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        if state.canary.as_ref() != Some(&running.canary) {
            return Err(ActivationError::Conflict(format!(
                "tenant {:?} runs no canary of {} any more",
                tenant.name, running.canary.version
            )));
        }
        tenant.stop_canary();
        let ended = self.outcome(running, outcome, reason);
        let next = self.store.change(&tenant.name, &Change::EndCanary(ended))?;
        self.install_changed(tenant, &mut state, next, None);
        tracing::warn!(tenant = %tenant.name, version = %running.canary.version, outcome, reason, "canary ended");
        Ok(())
    }

    /// Makes the canary `running` the active version (`via: canary`).
    pub fn promote_canary(
        &self,
        tenant: &str,
        running: &Running,
    ) -> Result<Arc<Active>, ActivationError> {
        let reason = format!(
            "{} canary callbacks over {} s without a breach",
            running.figures.canary_callbacks(),
            now_ms().saturating_sub(running.canary.started_ms) / 1000
        );
        let outcome = self.outcome(running, "promoted", &reason);
        self.make_active(
            tenant,
            Candidate::Version(&running.canary.version),
            None,
            "canary",
            Promotes::Canary(outcome),
        )
    }

    fn outcome(&self, running: &Running, outcome: &str, reason: &str) -> CanaryOutcome {
        CanaryOutcome {
            version: running.canary.version.clone(),
            started_ms: running.canary.started_ms,
            ended_ms: now_ms(),
            outcome: outcome.to_string(),
            reason: reason.to_string(),
            figures: running.figures.json(),
            host: self.host.clone(),
        }
    }

    /// Installs the store's state `next` of `tenant` when it is newer than the one this
    /// host serves (a change another host made). A version this host cannot serve
    /// changes nothing here and is remembered as refused; returns whether it installed.
    /// Blocking (it may compile).
    pub fn sync(&self, tenant: &str, next: TenantState) -> Result<bool, ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let installed = self.install(tenant, &mut state, next, None);
        if installed.as_ref().is_ok_and(|installed| *installed) {
            let active = tenant.active();
            tracing::info!(tenant = %tenant.name, version = %active.version, generation = state.generation, "the store's state installed");
        }
        installed
    }

    /// Installs the state a change of this host's returned. The change has landed
    /// whatever happens here: a part this host cannot serve (a shadow another host set)
    /// is logged, remembered as refused, and tried again by the fleet's sync.
    fn install_changed(
        &self,
        tenant: &Tenant,
        state: &mut TenantState,
        next: TenantState,
        known: Option<&Admitted>,
    ) {
        if let Err(error) = self.install(tenant, state, next, known) {
            tracing::warn!(tenant = %tenant.name, %error, "the change is stored but this host cannot serve all of it; it keeps serving what it has");
        }
    }

    /// Makes `next` the tenant's state in memory when its generation is newer than the
    /// installed one: its active version and shadow candidate, compiled (`known`, a
    /// version still compiled, or the store's bytes through the gate), then swapped. A
    /// version that cannot be served swaps nothing and is remembered as refused.
    fn install(
        &self,
        tenant: &Tenant,
        state: &mut TenantState,
        next: TenantState,
        known: Option<&Admitted>,
    ) -> Result<bool, ActivationError> {
        if next.generation <= state.generation {
            return Ok(false);
        }
        let admit = |version: &str| -> Result<Admitted, ActivationError> {
            if let Some(known) = known
                && known.version == version
            {
                return Ok(known.clone());
            }
            tenant
                .admit(
                    &self.engine,
                    &*self.store,
                    Candidate::Version(version),
                    None,
                )
                .inspect_err(|error| {
                    *lock(&tenant.refused) = Some(Refusal {
                        version: version.to_string(),
                        reason: error.to_string(),
                        at_ms: now_ms(),
                    });
                })
        };
        let active = match next.active() {
            Some(activation) => Some((activation.clone(), admit(&activation.version)?)),
            None => None,
        };
        let shadow = match &next.shadow {
            Some(version) => Some(admit(version)?),
            None => None,
        };
        let canary = match &next.canary {
            Some(canary) => Some((canary.clone(), admit(&canary.version)?)),
            None => None,
        };
        if let Some((activation, admitted)) = active {
            tenant.keep_compiled(&activation.version, admitted.rules.clone(), &next);
            let current = tenant.active();
            if current.version != activation.version || current.since_ms != activation.at_ms {
                tenant.active.store(Arc::new(Active {
                    version: activation.version,
                    rules: admitted.rules,
                    since_ms: activation.at_ms,
                    via: activation.via,
                    signed_by: activation.signed_by,
                }));
            }
        }
        match shadow {
            Some(admitted) => {
                tenant.keep_compiled(&admitted.version, admitted.rules.clone(), &next);
                if tenant
                    .shadow()
                    .is_none_or(|shadow| shadow.version != admitted.version)
                {
                    tenant.shadow.store(Some(Arc::new(Active {
                        version: admitted.version,
                        rules: admitted.rules,
                        since_ms: now_ms(),
                        via: "shadow".into(),
                        signed_by: admitted.signed_by,
                    })));
                }
            }
            None => tenant.shadow.store(None),
        }
        match canary {
            Some((canary, admitted)) => {
                // The same canary keeps the figures counted so far.
                if tenant
                    .canary()
                    .is_none_or(|running| running.canary != canary)
                {
                    tenant.keep_compiled(&admitted.version, admitted.rules.clone(), &next);
                    tenant
                        .canary
                        .store(Some(Arc::new(Running::new(canary, admitted.rules))));
                }
            }
            None => tenant.stop_canary(),
        }
        tenant.installed.store(Arc::new(next.clone()));
        *state = next;
        *lock(&tenant.refused) = None;
        Ok(true)
    }
}
