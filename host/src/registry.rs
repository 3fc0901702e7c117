//! Tenants and their rules: which module serves which merchant, with which limits.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{Config, TenantConfig};
use crate::decide::Policy;
use crate::engine::{Engine, Limits, SharedRuleSet};
use crate::examples::{self, Example};
use crate::protocols::{self, kco, klix, messenger};

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
    /// Loads the rules through the engine's gate (or links the native example).
    pub fn load(&self, engine: &Engine) -> anyhow::Result<SharedRuleSet> {
        let bytes = match self {
            ModuleSource::Native(example) => return Ok(example.native()),
            ModuleSource::Example(example) => std::borrow::Cow::Borrowed(example.wasm),
            ModuleSource::File(path) => std::borrow::Cow::Owned(
                std::fs::read(path)
                    .with_context(|| format!("reading module {}", path.display()))?,
            ),
        };
        let rules = engine
            .load(&bytes)
            .with_context(|| format!("module {self} refused"))?;
        Ok(rules)
    }
}

/// A merchant served by this host.
pub struct Tenant {
    /// The name in its callback URLs.
    pub name: String,
    /// Where its rules came from.
    pub source: ModuleSource,
    /// Its rules.
    pub rules: SharedRuleSet,
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
}

impl Tenant {
    /// Builds a tenant from its configuration and its loaded rules.
    pub fn new(
        name: &str,
        config: &TenantConfig,
        source: ModuleSource,
        rules: SharedRuleSet,
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
        Ok(Tenant {
            name: name.to_string(),
            source,
            rules,
            limits: config.limits,
            policies,
            kco,
            klix,
            messenger,
        })
    }

    /// The failure policy of `callback` (`kco.validation`, ...); the default policy
    /// for a callback without rules.
    pub fn policy(&self, callback: &str) -> Arc<Policy> {
        self.policies.get(callback).cloned().unwrap_or_default()
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("name", &self.name)
            .field("module", &self.rules.id())
            .field("limits", &self.limits)
            .finish()
    }
}

/// All tenants, by name.
#[derive(Debug, Default)]
pub struct Registry {
    tenants: BTreeMap<String, Arc<Tenant>>,
}

impl Registry {
    /// Loads every tenant's module; fails naming the tenant whose module is refused.
    pub fn load(config: &Config, engine: &Engine) -> anyhow::Result<Registry> {
        let mut tenants = BTreeMap::new();
        for (name, tenant) in &config.tenants {
            let source: ModuleSource = tenant
                .module
                .parse()
                .with_context(|| format!("`tenants.{name}.module`"))?;
            let rules = source
                .load(engine)
                .with_context(|| format!("loading tenant {name}"))?;
            tracing::info!(tenant = %name, module = %source, id = rules.id(), "tenant loaded");
            let tenant = Tenant::new(name, tenant, source, rules)?;
            tenants.insert(name.clone(), Arc::new(tenant));
        }
        Ok(Registry { tenants })
    }

    /// The tenant named `name`.
    pub fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        self.tenants.get(name).cloned()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }
}
