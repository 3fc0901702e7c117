//! Tenants and their rules: which module version serves which merchant, with which
//! limits, and how a new version becomes active.
//!
//! Each tenant's active version sits behind an atomic pointer. A request loads it once
//! ([`Tenant::active`]) and finishes on it, so a swap never fails or mixes a request.
//! Every activation (configuration, admin API, watched directory, rollback) passes the
//! same gate: the module must be a component of the contract's world with permitted
//! imports that compiles, and must decide the tenant's smoke carts within its limits. A
//! refused candidate never serves; the reason goes back to the operator. Versions stay
//! compiled in memory, so a rollback is a pointer swap.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use arc_swap::{ArcSwap, ArcSwapOption};

use crate::config::{Config, TenantConfig};
use crate::decide::Policy;
use crate::engine::{Engine, EngineError, Limits, ModuleHash, SharedRuleSet};
use crate::examples::{self, Example};
use crate::model::Cart;
use crate::protocols::{self, kco, klix, messenger, now_ms};
use crate::store::{Activation, ModuleStore, TenantState};

/// Compiled versions kept per tenant for instant rollback and re-activation.
const KEEP_LOADED: usize = 8;

/// Where a tenant's rules come from.
#[derive(Debug, Clone)]
pub enum ModuleSource {
    /// An example component embedded in the binary: `example:<name>`.
    Example(&'static Example),
    /// An example linked natively, unsandboxed (benchmarks, tests): `native:<name>`.
    Native(&'static Example),
    /// A component file.
    File(PathBuf),
}

impl FromStr for ModuleSource {
    type Err = anyhow::Error;

    fn from_str(source: &str) -> anyhow::Result<Self> {
        let example = |name: &str| {
            examples::find(name).with_context(|| {
                let known: Vec<&str> = examples::EXAMPLES.iter().map(|e| e.name).collect();
                format!(
                    "there is no example named {name:?} (known: {})",
                    known.join(", ")
                )
            })
        };
        if let Some(name) = source.strip_prefix("example:") {
            Ok(ModuleSource::Example(example(name)?))
        } else if let Some(name) = source.strip_prefix("native:") {
            Ok(ModuleSource::Native(example(name)?))
        } else {
            Ok(ModuleSource::File(PathBuf::from(source)))
        }
    }
}

impl fmt::Display for ModuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleSource::Example(example) => write!(f, "example:{}", example.name),
            ModuleSource::Native(example) => write!(f, "native:{}", example.name),
            ModuleSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl ModuleSource {
    /// The module's bytes; `None` for natively linked rules.
    pub fn bytes(&self) -> anyhow::Result<Option<std::borrow::Cow<'static, [u8]>>> {
        Ok(match self {
            ModuleSource::Native(_) => None,
            ModuleSource::Example(example) => Some(std::borrow::Cow::Borrowed(example.wasm)),
            ModuleSource::File(path) => Some(std::borrow::Cow::Owned(
                std::fs::read(path)
                    .with_context(|| format!("reading module {}", path.display()))?,
            )),
        })
    }

    /// Loads the rules through the engine's gate (or links the native example).
    pub fn load(&self, engine: &Engine) -> anyhow::Result<SharedRuleSet> {
        match (self, self.bytes()?) {
            (ModuleSource::Native(example), _) | (ModuleSource::Example(example), None) => {
                Ok(example.native())
            }
            (_, bytes) => {
                let bytes = bytes.context("a module file has bytes")?;
                Ok(engine
                    .load(&bytes)
                    .with_context(|| format!("module {self} refused"))?)
            }
        }
    }
}

/// The version a tenant serves now.
#[derive(Clone)]
pub struct Active {
    /// `sha256:<hex>` or `native:<name>`.
    pub version: String,
    /// The rules.
    pub rules: SharedRuleSet,
    /// When it became active (ms since the epoch).
    pub since_ms: u64,
    /// How: `config`, `admin`, `watch`, `rollback`.
    pub via: String,
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
    pub policies: BTreeMap<&'static str, Arc<Policy>>,
    /// Its KCO endpoint, when it serves KCO.
    pub kco: Option<kco::Endpoint>,
    /// Its Klix endpoint, when it serves Klix.
    pub klix: Option<klix::Endpoint>,
    /// Its Messenger endpoint, when it serves Messenger.
    pub messenger: Option<messenger::Endpoint>,
    /// Carts every candidate version must decide within the limits.
    smoke: Vec<(String, Cart)>,
    /// The tenant's long-call lane: long rule calls it may run at once.
    pub slots: Arc<tokio::sync::Semaphore>,
    active: ArcSwap<Active>,
    /// The candidate evaluated in the shadow of live traffic.
    shadow: ArcSwapOption<Active>,
    /// Compiled versions, by version, for instant activation.
    loaded: Mutex<BTreeMap<String, SharedRuleSet>>,
    /// The persisted state; its lock also serialises activations.
    state: Mutex<TenantState>,
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

    /// The failure policy of `callback` (`kco.validation`, ...); the default policy
    /// for a callback without rules.
    pub fn policy(&self, callback: &str) -> Arc<Policy> {
        self.policies.get(callback).cloned().unwrap_or_default()
    }

    /// The persisted activation history.
    pub fn history(&self) -> Vec<Activation> {
        lock(&self.state).history.clone()
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
    /// Loads every tenant: the persisted active version when the configuration still
    /// names the module it named then, else the configuration's module (activated and
    /// persisted). Fails naming the tenant whose configured module is refused.
    pub fn load(config: &Config, engine: &Engine, store: ModuleStore) -> anyhow::Result<Registry> {
        let mut tenants = BTreeMap::new();
        for (name, tenant_config) in &config.tenants {
            let tenant = load_tenant(name, tenant_config, engine, &store)
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
        let tenant = self.find(tenant)?;
        let version = ModuleHash::of(bytes).to_string();
        let mut state = lock(&tenant.state);
        let rules = match cached(tenant, &version) {
            Some(rules) => rules,
            None => gate(&self.engine, tenant, bytes)?,
        };
        self.store
            .put(bytes)
            .map_err(|error| ActivationError::Storage(error.to_string()))?;
        commit(&self.store, tenant, &mut state, version, rules, via)
    }

    /// Makes a stored version active again (through the gate, which is instant for a
    /// version still compiled).
    pub fn activate(
        &self,
        tenant: &str,
        version: &str,
        via: &str,
    ) -> Result<Arc<Active>, ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let rules = match cached(tenant, version) {
            Some(rules) => rules,
            None => {
                let bytes = self
                    .store
                    .get(version)
                    .map_err(|_| ActivationError::UnknownVersion(version.to_string()))?;
                gate(&self.engine, tenant, &bytes)?
            }
        };
        commit(
            &self.store,
            tenant,
            &mut state,
            version.to_string(),
            rules,
            via,
        )
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
}

/// A candidate by its bytes or by a stored version.
#[derive(Debug, Clone, Copy)]
pub enum Candidate<'a> {
    /// A module's bytes (stored once it passes the gate).
    Bytes(&'a [u8]),
    /// A stored version (`sha256:...`).
    Version(&'a str),
}

impl Registry {
    /// Gates `candidate` and makes it the tenant's shadow: every live request is also
    /// evaluated on it, off the response path. Blocking (it may compile).
    pub fn set_shadow(
        &self,
        tenant: &str,
        candidate: Candidate<'_>,
    ) -> Result<Arc<Active>, ActivationError> {
        let tenant = self.find(tenant)?;
        let mut state = lock(&tenant.state);
        let (version, rules) = match candidate {
            Candidate::Bytes(bytes) => {
                let version = ModuleHash::of(bytes).to_string();
                let rules = match cached(tenant, &version) {
                    Some(rules) => rules,
                    None => gate(&self.engine, tenant, bytes)?,
                };
                self.store
                    .put(bytes)
                    .map_err(|error| ActivationError::Storage(error.to_string()))?;
                (version, rules)
            }
            Candidate::Version(version) => {
                let rules = match cached(tenant, version) {
                    Some(rules) => rules,
                    None => {
                        let bytes = self
                            .store
                            .get(version)
                            .map_err(|_| ActivationError::UnknownVersion(version.to_string()))?;
                        gate(&self.engine, tenant, &bytes)?
                    }
                };
                (version.to_string(), rules)
            }
        };
        let mut next = state.clone();
        next.shadow = Some(version.clone());
        self.store
            .save_tenant_state(&tenant.name, &next)
            .map_err(|error| ActivationError::Storage(error.to_string()))?;
        *state = next;
        remember(tenant, &version, rules.clone(), &state);
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
        self.store
            .save_tenant_state(&tenant.name, &next)
            .map_err(|error| ActivationError::Storage(error.to_string()))?;
        *state = next;
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
            commit(
                &self.store,
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
}

fn cached(tenant: &Tenant, version: &str) -> Option<SharedRuleSet> {
    lock(&tenant.loaded).get(version).cloned()
}

/// The activation gate: a component of the world with permitted imports that compiles,
/// and decides every smoke cart of the tenant without failing under its limits.
fn gate(engine: &Engine, tenant: &Tenant, bytes: &[u8]) -> Result<SharedRuleSet, ActivationError> {
    gate_with(engine, &tenant.smoke, &tenant.limits, bytes)
}

fn gate_with(
    engine: &Engine,
    smoke_carts: &[(String, Cart)],
    limits: &Limits,
    bytes: &[u8],
) -> Result<SharedRuleSet, ActivationError> {
    let rules: SharedRuleSet = engine
        .load(bytes)
        .map_err(|error| ActivationError::Refused(error.to_string()))?;
    smoke(smoke_carts, limits, &rules)?;
    Ok(rules)
}

fn smoke(
    smoke_carts: &[(String, Cart)],
    limits: &Limits,
    rules: &SharedRuleSet,
) -> Result<(), ActivationError> {
    for (name, cart) in smoke_carts {
        let mut session = rules.session(limits);
        let results: [(&str, Result<(), EngineError>); 3] = [
            ("tax", session.tax(cart).map(drop)),
            ("shipping-options", session.shipping_options(cart).map(drop)),
            ("validate", session.validate(cart).map(drop)),
        ];
        for (decision, result) in results {
            if let Err(error) = result {
                return Err(ActivationError::Refused(format!(
                    "smoke cart {name}: {decision} failed: {}",
                    error.to_string().lines().next().unwrap_or("")
                )));
            }
        }
    }
    Ok(())
}

/// Persists the activation, then swaps the pointer. A failed write changes nothing.
fn commit(
    store: &ModuleStore,
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
    store
        .save_tenant_state(&tenant.name, &next)
        .map_err(|error| ActivationError::Storage(error.to_string()))?;
    *state = next;
    remember(tenant, &version, rules.clone(), state);
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

/// Keeps `rules` compiled, evicting the versions activated longest ago.
fn remember(tenant: &Tenant, version: &str, rules: SharedRuleSet, state: &TenantState) {
    let mut loaded = lock(&tenant.loaded);
    loaded.insert(version.to_string(), rules);
    if loaded.len() > KEEP_LOADED {
        let recent: Vec<&str> = state
            .history
            .iter()
            .rev()
            .map(|activation| activation.version.as_str())
            .collect();
        let mut versions: Vec<String> = loaded.keys().cloned().collect();
        versions.sort_by_key(|v| recent.iter().position(|r| r == v).unwrap_or(usize::MAX));
        for stale in versions.into_iter().skip(KEEP_LOADED) {
            loaded.remove(&stale);
        }
    }
}

/// A tenant's default long-call lanes: every core but one, so the other tenants
/// always have a core whatever one tenant's module does.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .saturating_sub(1)
        .max(1)
}

/// Reads the smoke carts: every `*.json` canonical cart in `dir`, by file name.
fn smoke_carts(dir: &Path, key: &str) -> anyhow::Result<Vec<(String, Cart)>> {
    let mut carts = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("`{key}`: reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let bytes = std::fs::read(&path)?;
            let cart: Cart = serde_json::from_slice(&bytes)
                .with_context(|| format!("`{key}`: {} is not a canonical cart", path.display()))?;
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            carts.push((name, cart));
        }
    }
    carts.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(carts)
}

fn load_tenant(
    name: &str,
    config: &TenantConfig,
    engine: &Engine,
    store: &ModuleStore,
) -> anyhow::Result<Tenant> {
    let key = format!("tenants.{name}");
    let mut policies = BTreeMap::new();
    for &callback in protocols::CALLBACKS {
        let policy = config
            .on_failure
            .resolve(callback, &format!("{key}.on_failure"))?;
        policies.insert(callback, Arc::new(policy));
    }
    let kco = config
        .kco
        .as_ref()
        .map(|settings| settings.resolve(&format!("{key}.kco")))
        .transpose()?;
    let klix = config
        .klix
        .as_ref()
        .map(|settings| settings.resolve(&format!("{key}.klix")))
        .transpose()?;
    let messenger = config
        .messenger
        .as_ref()
        .map(|settings| settings.resolve(&format!("{key}.messenger")))
        .transpose()?;
    if kco
        .as_ref()
        .is_some_and(|endpoint| endpoint.secret.is_none())
    {
        tracing::warn!(
            tenant = %name,
            "KCO callbacks of this tenant need no secret: anyone who can reach the server can call them"
        );
    }
    if messenger
        .as_ref()
        .is_some_and(|endpoint| endpoint.app_secret.is_none())
    {
        tracing::warn!(
            tenant = %name,
            "Messenger deliveries of this tenant are not signature-checked: anyone who can reach the server can send them"
        );
    }
    let smoke = match &config.smoke {
        Some(dir) => smoke_carts(dir, &format!("{key}.smoke"))?,
        None => Vec::new(),
    };
    let source: ModuleSource = config
        .module
        .parse()
        .with_context(|| format!("`{key}.module`"))?;
    let configured_bytes = source.bytes()?;
    let configured = match (&source, &configured_bytes) {
        (ModuleSource::Native(example), _) => format!("native:{}", example.name),
        (_, Some(bytes)) => ModuleHash::of(bytes).to_string(),
        (_, None) => anyhow::bail!("`{key}.module`: no bytes"),
    };
    let mut state = store
        .tenant_state(name)
        .with_context(|| format!("reading the state of tenant {name}"))?
        .unwrap_or_default();

    // The persisted version, when the configuration has not changed since; else the
    // configuration's module, through the same gate.
    let restored = if state.configured.as_deref() == Some(configured.as_str())
        && let Some(active) = state.active().cloned()
    {
        let restored = store
            .get(&active.version)
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                gate_with(engine, &smoke, &config.limits, &bytes).map_err(|e| e.to_string())
            });
        match restored {
            Ok(rules) => Some(Active {
                version: active.version.clone(),
                rules,
                since_ms: active.at_ms,
                via: active.via.clone(),
            }),
            Err(error) => {
                tracing::warn!(
                    tenant = %name, version = %active.version, %error,
                    "the persisted version cannot be served; serving the configured module"
                );
                None
            }
        }
    } else {
        None
    };
    let active = match restored {
        Some(active) => active,
        None => {
            let rules = match (&source, configured_bytes) {
                (ModuleSource::Native(example), _) => example.native(),
                (_, bytes) => {
                    let bytes = bytes.context("a module file has bytes")?;
                    let rules = gate_with(engine, &smoke, &config.limits, &bytes)
                        .map_err(|error| anyhow::anyhow!("module {source} refused: {error}"))?;
                    store.put(&bytes).context("storing the configured module")?;
                    rules
                }
            };
            let since_ms = now_ms();
            state.configured = Some(configured.clone());
            state.push(Activation {
                version: configured.clone(),
                at_ms: since_ms,
                via: "config".into(),
            });
            store
                .save_tenant_state(name, &state)
                .with_context(|| format!("saving the state of tenant {name}"))?;
            Active {
                version: configured,
                rules,
                since_ms,
                via: "config".into(),
            }
        }
    };
    let loaded = BTreeMap::from([(active.version.clone(), active.rules.clone())]);
    // The configuration's shadow candidate, else the persisted one.
    if let Some(candidate) = &config.shadow {
        let source: ModuleSource = candidate
            .parse()
            .with_context(|| format!("`{key}.shadow`"))?;
        let bytes = source
            .bytes()?
            .with_context(|| format!("`{key}.shadow`: natively linked rules cannot be a shadow"))?;
        gate_with(engine, &smoke, &config.limits, &bytes)
            .map_err(|error| anyhow::anyhow!("`{key}.shadow`: {source} refused: {error}"))?;
        state.shadow = Some(store.put(&bytes).context("storing the shadow module")?);
        store
            .save_tenant_state(name, &state)
            .with_context(|| format!("saving the state of tenant {name}"))?;
    }
    let shadow = state.shadow.clone().and_then(|version| {
        let restored = store
            .get(&version)
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                gate_with(engine, &smoke, &config.limits, &bytes).map_err(|e| e.to_string())
            });
        match restored {
            Ok(rules) => Some(Arc::new(Active {
                version,
                rules,
                since_ms: now_ms(),
                via: "shadow".into(),
            })),
            Err(error) => {
                tracing::warn!(tenant = %name, %version, %error, "the shadow candidate cannot be restored");
                None
            }
        }
    });
    Ok(Tenant {
        name: name.to_string(),
        source,
        limits: config.limits,
        policies,
        kco,
        klix,
        messenger,
        smoke,
        slots: Arc::new(tokio::sync::Semaphore::new(
            config
                .concurrency
                .unwrap_or_else(default_concurrency)
                .max(1),
        )),
        active: ArcSwap::from_pointee(active),
        shadow: ArcSwapOption::new(shadow),
        loaded: Mutex::new(loaded),
        state: Mutex::new(state),
    })
}
