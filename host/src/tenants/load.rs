//! Start-up: a tenant's configuration table and its persisted state become a tenant
//! that serves. The persisted active version is restored while the configuration still
//! names the module it named when that version was activated; otherwise the
//! configuration's module is activated. Both pass the same gate.
//!
//! A shared store is the fleet's truth: there the configuration's module is activated
//! only when the store has never held it for the tenant (so a host still on an older
//! configuration does not undo a newer one), and a stored version this host cannot
//! serve is not overridden: the host serves the configuration's module meanwhile,
//! reports the refusal, and the fleet's sync tries the stored one again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::tenant::Refusal;

use anyhow::Context;
use arc_swap::{ArcSwap, ArcSwapOption};

use super::canary::Running;
use super::gate::{Admitted, Candidate, Gate, smoke_carts};
use super::source::{Module, ModuleSource};
use super::store::{Activation, Change, Store, TenantState};
use super::tenant::{Active, Tenant, TenantSettings, default_long_calls};
use crate::decide::Policy;
use crate::engine::Engine;
use crate::examples::Example;
use crate::protocols::{self, now_ms};

/// Builds the tenant `name` from its table and its persisted state.
pub(super) fn tenant(
    name: &str,
    settings: &TenantSettings,
    engine: &Engine,
    store: &dyn Store,
    host: Option<&str>,
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
    let signers = settings.signers(&key)?;
    if signers.is_some() && matches!(module, Module::Native(_)) {
        anyhow::bail!(
            "`{key}.module`: natively linked rules carry no signature; a tenant with \
             `signers` runs only signed components"
        );
    }
    let configured = module.version();
    let loading = Loading {
        tenant: name,
        engine,
        store,
        host,
        gate: Gate {
            signers: signers.as_ref(),
            smoke: &smoke,
            limits: &settings.limits,
        },
        native: match module {
            Module::Native(example) => Some(example),
            Module::Component(_) => None,
        },
    };
    let mut state = store
        .state(name)
        .with_context(|| format!("reading the state of tenant {name}"))?
        .unwrap_or_default();

    let configured_applies = if store.shared() {
        state.active().is_none()
            || (state.configured.as_deref() != Some(configured.as_str())
                && !state.history.iter().any(|a| a.version == configured))
    } else {
        state.configured.as_deref() != Some(configured.as_str())
    };
    let persisted = state.active().filter(|_| !configured_applies).cloned();
    let mut refused = None;
    let restored = match persisted {
        Some(activation) => match loading.restore(&activation.version) {
            Ok(admitted) => Some(Active {
                version: activation.version,
                rules: admitted.rules,
                since_ms: activation.at_ms,
                via: activation.via,
                signed_by: admitted.signed_by,
            }),
            Err(reason) => {
                refused = Some(Refusal {
                    version: activation.version,
                    reason,
                    at_ms: now_ms(),
                });
                None
            }
        },
        None => None,
    };
    let active = match restored {
        Some(active) => active,
        None if store.shared() && refused.is_some() => {
            // Serve the configuration's module without overriding the fleet's version;
            // generation 0 makes the sync try the stored version again.
            state.generation = 0;
            loading.configured(&source, module, &configured)?
        }
        None => {
            let active = loading.configured(&source, module, &configured)?;
            state = loading.activate_configured(&active)?;
            active
        }
    };

    // The configuration's shadow candidate replaces the persisted one.
    let mut configured_shadow = None;
    if let Some(candidate) = &settings.shadow {
        let source: ModuleSource = candidate
            .parse()
            .with_context(|| format!("`{key}.shadow`"))?;
        let Module::Component(bytes) = source.read()? else {
            anyhow::bail!("`{key}.shadow`: natively linked rules cannot be a shadow");
        };
        let presented = source.signatures()?;
        let admitted = loading
            .gate
            .admit(
                engine,
                store,
                Candidate::Bytes(&bytes),
                presented.as_ref(),
                |_| None,
            )
            .map_err(|error| anyhow::anyhow!("`{key}.shadow`: {source} refused: {error}"))?;
        if state.shadow.as_deref() != Some(admitted.version.as_str()) {
            let generation = state.generation;
            state = store
                .change(name, &Change::Shadow(Some(admitted.version.clone())))
                .with_context(|| format!("saving the state of tenant {name}"))?;
            if generation == 0 {
                state.generation = 0;
            }
        }
        configured_shadow = Some(admitted);
    }
    let shadow = state.shadow.clone().and_then(|version| {
        let admitted = match configured_shadow {
            Some(admitted) if admitted.version == version => admitted,
            _ => loading.restore(&version).ok()?,
        };
        Some(Arc::new(Active {
            version,
            rules: admitted.rules,
            since_ms: now_ms(),
            via: "shadow".into(),
            signed_by: admitted.signed_by,
        }))
    });

    // A canary the store holds runs on; one that cannot be served here does not.
    let canary = state.canary.clone().and_then(|canary| {
        let admitted = loading.restore(&canary.version).ok()?;
        Some(Arc::new(Running::new(canary, admitted.rules)))
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
        signers,
        smoke,
        active: ArcSwap::from_pointee(active),
        shadow: ArcSwapOption::new(shadow),
        canary: ArcSwapOption::new(canary),
        compiled: Mutex::new(compiled),
        installed: ArcSwap::from_pointee(state.clone()),
        state: Mutex::new(state),
        refused: Mutex::new(refused),
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
    store: &'a dyn Store,
    /// This host, when the store is shared.
    host: Option<&'a str>,
    gate: Gate<'a>,
    /// The configuration's rules, when they are linked natively.
    native: Option<&'static Example>,
}

impl Loading<'_> {
    /// A persisted `version`, through the gate, or why it cannot be served (logged).
    /// Native rules are their own version.
    fn restore(&self, version: &str) -> Result<Admitted, String> {
        if let Some(example) = self.native
            && Module::Native(example).version() == version
        {
            return Ok(Admitted {
                version: version.to_string(),
                rules: example.native(),
                signed_by: Vec::new(),
            });
        }
        let restored = self
            .gate
            .admit(
                self.engine,
                self.store,
                Candidate::Version(version),
                None,
                |_| None,
            )
            .map_err(|error| error.to_string());
        if let Err(error) = &restored {
            tracing::warn!(
                tenant = self.tenant, version, %error,
                "a persisted version cannot be served; it is not restored"
            );
        }
        restored
    }

    /// The configuration's module, with the signatures beside its file, through the
    /// gate, stored.
    fn configured(
        &self,
        source: &ModuleSource,
        module: Module,
        version: &str,
    ) -> anyhow::Result<Active> {
        let (rules, signed_by) = match module {
            Module::Native(example) => (example.native(), Vec::new()),
            Module::Component(bytes) => {
                let presented = source.signatures()?;
                let admitted = self
                    .gate
                    .admit(
                        self.engine,
                        self.store,
                        Candidate::Bytes(&bytes),
                        presented.as_ref(),
                        |_| None,
                    )
                    .map_err(|error| anyhow::anyhow!("module {source} refused: {error}"))?;
                (admitted.rules, admitted.signed_by)
            }
        };
        Ok(Active {
            version: version.to_string(),
            rules,
            since_ms: now_ms(),
            via: "config".into(),
            signed_by,
        })
    }

    /// Records the activation of the configuration's module `active`; returns the
    /// tenant's new state.
    fn activate_configured(&self, active: &Active) -> anyhow::Result<TenantState> {
        let change = Change::Activate {
            activation: Activation {
                version: active.version.clone(),
                at_ms: active.since_ms,
                via: active.via.clone(),
                host: self.host.map(str::to_string),
                signed_by: active.signed_by.clone(),
            },
            configured: Some(active.version.clone()),
            clear_shadow: false,
            canary_outcome: None,
        };
        self.store
            .change(self.tenant, &change)
            .with_context(|| format!("saving the state of tenant {}", self.tenant))
    }
}
