//! Tenants and their rules: which module version serves which merchant, with which
//! limits, and how a new version becomes active.
//!
//! Each tenant's active version sits behind an atomic pointer. A request loads it once
//! ([`Tenant::active`]) and finishes on it, so a swap never fails or mixes a request.
//! Every activation (configuration, admin API, watched directory, rollback) passes the
//! same gate ([`gate`]). A refused candidate never serves; the reason goes back to the
//! operator. Versions stay compiled in memory, so a rollback is a pointer swap.
//!
//! Files: [`tenant`] (a tenant and its table), [`source`] (where a module comes from),
//! [`gate`] (the activation gate), [`load`] (configuration and persisted state to
//! tenants, at start), [`store`] (versions and tenant state on disk).

mod gate;
mod load;
pub mod source;
pub mod store;
pub mod tenant;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::Context;

pub use gate::Candidate;
pub use source::{Module, ModuleSource};
pub use store::{Activation, ModuleStore, TenantState};
pub use tenant::{Active, Tenant, TenantSettings, default_long_calls};

use crate::engine::{Engine, SharedRuleSet};
use crate::protocols::now_ms;
use tenant::lock;

/// Why an activation did not happen. The old version keeps serving in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    /// No such tenant.
    #[error("there is no tenant named {0:?}")]
    UnknownTenant(String),
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
    /// The state directory could not be written.
    #[error("the state directory could not be written: {0}")]
    Storage(String),
}

/// All tenants, by name, and how their versions change.
pub struct Registry {
    tenants: BTreeMap<String, Arc<Tenant>>,
    engine: Engine,
    store: ModuleStore,
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
    /// module is refused.
    pub fn load(
        settings: &BTreeMap<String, TenantSettings>,
        engine: &Engine,
        store: ModuleStore,
    ) -> anyhow::Result<Registry> {
        let mut tenants = BTreeMap::new();
        for (name, tenant_settings) in settings {
            let tenant = load::tenant(name, tenant_settings, engine, &store)
                .with_context(|| format!("loading tenant {name}"))?;
            tracing::info!(tenant = %name, version = %tenant.active().version, "tenant loaded");
            tenants.insert(name.clone(), Arc::new(tenant));
        }
        Ok(Registry {
            tenants,
            engine: engine.clone(),
            store,
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

    /// Gates `bytes` for `tenant`, stores them and makes them active. Blocking (it may
    /// compile): call it off the async executor.
    pub fn deploy(
        &self,
        tenant: &str,
        bytes: &[u8],
        via: &str,
    ) -> Result<Arc<Active>, ActivationError> {
        self.make_active(tenant, Candidate::Bytes(bytes), via)
    }

    /// Makes a stored version active again (through the gate, which is instant for a
    /// version still compiled).
    pub fn activate(
        &self,
        tenant: &str,
        version: &str,
        via: &str,
    ) -> Result<Arc<Active>, ActivationError> {
        self.make_active(tenant, Candidate::Version(version), via)
    }

    /// Activates the version that was active before the current one.
    pub fn rollback(&self, tenant: &str) -> Result<Arc<Active>, ActivationError> {
        let found = self.find(tenant)?;
        let previous = lock(&found.state)
            .previous()
            .map(|activation| activation.version.clone())
            .ok_or_else(|| ActivationError::NoPrevious(tenant.to_string()))?;
        self.activate(tenant, &previous, "rollback")
    }

    fn make_active(
        &self,
        tenant: &str,
        candidate: Candidate<'_>,
        via: &str,
    ) -> Result<Arc<Active>, ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let (version, rules) = tenant.admit(&self.engine, &self.store, candidate)?;
        self.commit(tenant, &mut state, version, rules, via)
    }

    /// Gates `candidate` and makes it the tenant's shadow: every live request is also
    /// evaluated on it, off the response path. Blocking (it may compile).
    pub fn set_shadow(
        &self,
        tenant: &str,
        candidate: Candidate<'_>,
    ) -> Result<Arc<Active>, ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let (version, rules) = tenant.admit(&self.engine, &self.store, candidate)?;
        let mut next = state.clone();
        next.shadow = Some(version.clone());
        self.save(tenant, &mut state, next)?;
        tenant.keep_compiled(&version, rules.clone(), &state);
        let shadow = Arc::new(Active {
            version,
            rules,
            since_ms: now_ms(),
            via: "shadow".into(),
        });
        tenant.shadow.store(Some(shadow.clone()));
        tracing::info!(tenant = %tenant.name, version = %shadow.version, "shadow candidate set");
        Ok(shadow)
    }

    /// Stops shadow evaluation.
    pub fn clear_shadow(&self, tenant: &str) -> Result<(), ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let mut next = state.clone();
        next.shadow = None;
        self.save(tenant, &mut state, next)?;
        tenant.shadow.store(None);
        Ok(())
    }

    /// Activates the shadow candidate and stops shadowing.
    pub fn promote_shadow(&self, tenant: &str) -> Result<Arc<Active>, ActivationError> {
        let found = self.find(tenant)?;
        let shadow = found
            .shadow()
            .ok_or_else(|| ActivationError::NoShadow(tenant.to_string()))?;
        let active = {
            let mut state = lock(&found.state);
            let shadowed = state.shadow.take();
            self.commit(
                found,
                &mut state,
                shadow.version.clone(),
                shadow.rules.clone(),
                "promote",
            )
            .inspect_err(|_| state.shadow = shadowed)?
        };
        found.shadow.store(None);
        Ok(active)
    }

    /// Persists `next` as the tenant's state, then makes it the state in memory. A
    /// failed write changes nothing.
    fn save(
        &self,
        tenant: &Tenant,
        state: &mut TenantState,
        next: TenantState,
    ) -> Result<(), ActivationError> {
        self.store
            .save_tenant_state(&tenant.name, &next)
            .map_err(|error| ActivationError::Storage(error.to_string()))?;
        *state = next;
        Ok(())
    }

    /// Persists the activation, then swaps the pointer. A failed write changes nothing.
    fn commit(
        &self,
        tenant: &Tenant,
        state: &mut TenantState,
        version: String,
        rules: SharedRuleSet,
        via: &str,
    ) -> Result<Arc<Active>, ActivationError> {
        let at_ms = now_ms();
        let mut next = state.clone();
        next.push(Activation {
            version: version.clone(),
            at_ms,
            via: via.to_string(),
        });
        self.save(tenant, state, next)?;
        tenant.keep_compiled(&version, rules.clone(), state);
        let active = Arc::new(Active {
            version,
            rules,
            since_ms: at_ms,
            via: via.to_string(),
        });
        tenant.active.store(active.clone());
        tracing::info!(tenant = %tenant.name, version = %active.version, via, "version activated");
        Ok(active)
    }
}
