//! Start-up: a tenant's configuration table and its persisted state become a tenant
//! that serves. The persisted active version is restored while the configuration still
//! names the module it named when that version was activated; otherwise the
//! configuration's module is activated. Both pass the same gate.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use arc_swap::{ArcSwap, ArcSwapOption};

use super::gate::{Gate, smoke_carts};
use super::source::{Module, ModuleSource};
use super::store::{Activation, ModuleStore, TenantState};
use super::tenant::{Active, Tenant, TenantSettings, default_long_calls};
use crate::decide::Policy;
use crate::engine::{Engine, SharedRuleSet};
use crate::examples::Example;
use crate::protocols::{self, now_ms};

/// Builds the tenant `name` from its table and its persisted state.
pub(super) fn tenant(
    name: &str,
    settings: &TenantSettings,
    engine: &Engine,
    store: &ModuleStore,
) -> anyhow::Result<Tenant> {
    let key = format!("tenants.{name}");
    let policies = policies(settings, &key)?;
    let kco = settings
        .kco
        .as_ref()
        .map(|kco| kco.resolve(&format!("{key}.kco")))
        .transpose()?;
    let klix = settings
        .klix
        .as_ref()
        .map(|klix| klix.resolve(&format!("{key}.klix")))
        .transpose()?;
    let messenger = settings
        .messenger
        .as_ref()
        .map(|messenger| messenger.resolve(&format!("{key}.messenger")))
        .transpose()?;
    let events = settings
        .events
        .as_ref()
        .map(|events| events.resolve(&format!("{key}.events")))
        .transpose()?;
    if kco.as_ref().is_some_and(|kco| kco.secret.is_none()) {
        tracing::warn!(
            tenant = %name,
            "KCO callbacks of this tenant need no secret: anyone who can reach the server can call them"
        );
    }
    if klix.as_ref().is_some_and(|klix| klix.unauthenticated) {
        tracing::warn!(
            tenant = %name,
            "Klix JSON bodies of this tenant may come unsigned: anyone who can reach the server can send them"
        );
    }
    if messenger
        .as_ref()
        .is_some_and(|messenger| messenger.app_secret.is_none())
    {
        tracing::warn!(
            tenant = %name,
            "Messenger deliveries of this tenant are not signature-checked: anyone who can reach the server can send them"
        );
    }
    let smoke = match &settings.smoke {
        Some(dir) => smoke_carts(dir, &format!("{key}.smoke"))?,
        None => Vec::new(),
    };
    let source: ModuleSource = settings
        .module
        .parse()
        .with_context(|| format!("`{key}.module`"))?;
    let module = source.read()?;
    let configured = module.version();
    let loading = Loading {
        tenant: name,
        engine,
        store,
        gate: Gate {
            smoke: &smoke,
            limits: &settings.limits,
        },
        native: match module {
            Module::Native(example) => Some(example),
            Module::Component(_) => None,
        },
    };
    let mut state = store
        .tenant_state(name)
        .with_context(|| format!("reading the state of tenant {name}"))?
        .unwrap_or_default();

    let persisted = state
        .active()
        .filter(|_| state.configured.as_deref() == Some(configured.as_str()))
        .cloned();
    let restored = persisted.and_then(|active| {
        let rules = loading.restore(&active.version)?;
        Some(Active {
            version: active.version,
            rules,
            since_ms: active.at_ms,
            via: active.via,
        })
    });
    let active = match restored {
        Some(active) => active,
        None => loading.activate_configured(&source, module, configured, &mut state)?,
    };

    // The configuration's shadow candidate replaces the persisted one.
    if let Some(candidate) = &settings.shadow {
        let source: ModuleSource = candidate
            .parse()
            .with_context(|| format!("`{key}.shadow`"))?;
        let Module::Component(bytes) = source.read()? else {
            anyhow::bail!("`{key}.shadow`: natively linked rules cannot be a shadow");
        };
        loading
            .gate
            .pass(engine, &bytes)
            .map_err(|error| anyhow::anyhow!("`{key}.shadow`: {source} refused: {error}"))?;
        state.shadow = Some(store.put(&bytes).context("storing the shadow module")?);
        store
            .save_tenant_state(name, &state)
            .with_context(|| format!("saving the state of tenant {name}"))?;
    }
    let shadow = state.shadow.clone().and_then(|version| {
        let rules = loading.restore(&version)?;
        Some(Arc::new(Active {
            version,
            rules,
            since_ms: now_ms(),
            via: "shadow".into(),
        }))
    });

    let compiled = BTreeMap::from([(active.version.clone(), active.rules.clone())]);
    Ok(Tenant {
        name: name.to_string(),
        source,
        limits: settings.limits,
        policies,
        kco,
        klix,
        messenger,
        events,
        long_call_lane: Arc::new(tokio::sync::Semaphore::new(
            settings
                .long_calls
                .unwrap_or_else(default_long_calls)
                .max(1),
        )),
        smoke,
        active: ArcSwap::from_pointee(active),
        shadow: ArcSwapOption::new(shadow),
        compiled: Mutex::new(compiled),
        state: Mutex::new(state),
    })
}

/// The tenant's failure policy of every callback that runs rules.
fn policies(
    settings: &TenantSettings,
    key: &str,
) -> anyhow::Result<BTreeMap<&'static str, Arc<Policy>>> {
    protocols::CALLBACKS
        .iter()
        .map(|&callback| {
            let policy = settings
                .on_failure
                .resolve(callback, &format!("{key}.on_failure"))?;
            Ok((callback, Arc::new(policy)))
        })
        .collect()
}

/// What loading one tenant needs: where versions come from and the gate they pass.
struct Loading<'a> {
    tenant: &'a str,
    engine: &'a Engine,
    store: &'a ModuleStore,
    gate: Gate<'a>,
    /// The configuration's rules, when they are linked natively.
    native: Option<&'static Example>,
}

impl Loading<'_> {
    /// The rules of a persisted `version`, through the gate; `None`, with a warning,
    /// when it cannot be served. Native rules are their own version.
    fn restore(&self, version: &str) -> Option<SharedRuleSet> {
        if let Some(example) = self.native
            && Module::Native(example).version() == version
        {
            return Some(example.native());
        }
        let restored = self
            .store
            .get(version)
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                self.gate
                    .pass(self.engine, &bytes)
                    .map_err(|error| error.to_string())
            });
        match restored {
            Ok(rules) => Some(rules),
            Err(error) => {
                tracing::warn!(
                    tenant = self.tenant, version, %error,
                    "a persisted version cannot be served; it is not restored"
                );
                None
            }
        }
    }

    /// Activates the configuration's module (through the gate) and persists it.
    fn activate_configured(
        &self,
        source: &ModuleSource,
        module: Module,
        version: String,
        state: &mut TenantState,
    ) -> anyhow::Result<Active> {
        let rules = match module {
            Module::Native(example) => example.native(),
            Module::Component(bytes) => {
                let rules = self
                    .gate
                    .pass(self.engine, &bytes)
                    .map_err(|error| anyhow::anyhow!("module {source} refused: {error}"))?;
                self.store
                    .put(&bytes)
                    .context("storing the configured module")?;
                rules
            }
        };
        let since_ms = now_ms();
        state.configured = Some(version.clone());
        state.push(Activation {
            version: version.clone(),
            at_ms: since_ms,
            via: "config".into(),
        });
        self.store
            .save_tenant_state(self.tenant, state)
            .with_context(|| format!("saving the state of tenant {}", self.tenant))?;
        Ok(Active {
            version,
            rules,
            since_ms,
            via: "config".into(),
        })
    }
}
