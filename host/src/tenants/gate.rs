//! The activation gate, the one way a version becomes active or a shadow: a component
//! of the contract's world with permitted imports that compiles, and that decides every
//! smoke cart of the tenant (tax, shipping, validate) within its limits. A version
//! still compiled has passed it and passes again at once.

use std::path::Path;

use anyhow::Context;

use super::ActivationError;
use super::store::Store;
use super::tenant::Tenant;
use crate::engine::{Engine, Limits, ModuleHash, SharedRuleSet};
use crate::model::{Cart, DecisionKind};
use crate::strict;

/// A candidate by its bytes or by a stored version.
#[derive(Debug, Clone, Copy)]
pub enum Candidate<'a> {
    /// A module's bytes (stored once it passes the gate).
    Bytes(&'a [u8]),
    /// A stored version (`sha256:...`).
    Version(&'a str),
}

/// A tenant's gate: its smoke carts and its limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gate<'a> {
    pub(super) smoke: &'a [(String, Cart)],
    pub(super) limits: &'a Limits,
}

impl Gate<'_> {
    /// Loads `bytes` and decides every smoke cart on them, or says why not.
    pub(super) fn pass(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> Result<SharedRuleSet, ActivationError> {
        let rules: SharedRuleSet = engine
            .load(bytes)
            .map_err(|error| ActivationError::Refused(error.to_string()))?;
        for (name, cart) in self.smoke {
            let mut session = rules.session(self.limits);
            for kind in DecisionKind::ALL {
                if let Some(error) = session.decide(kind, cart).error() {
                    return Err(ActivationError::Refused(format!(
                        "smoke cart {name}: {kind} failed: {}",
                        error.to_string().lines().next().unwrap_or("")
                    )));
                }
            }
        }
        Ok(rules)
    }
}

impl Tenant {
    pub(super) fn gate(&self) -> Gate<'_> {
        Gate {
            smoke: &self.smoke,
            limits: &self.limits,
        }
    }

    /// Passes `candidate` through the tenant's gate: a version still compiled at once;
    /// otherwise its bytes (given, or read from `store`) through the checks, and new
    /// bytes are stored. Returns the version and its rules.
    pub(super) fn admit(
        &self,
        engine: &Engine,
        store: &dyn Store,
        candidate: Candidate<'_>,
    ) -> Result<(String, SharedRuleSet), ActivationError> {
        match candidate {
            Candidate::Bytes(bytes) => {
                let version = ModuleHash::of(bytes).to_string();
                let rules = match self.compiled(&version) {
                    Some(rules) => rules,
                    None => self.gate().pass(engine, bytes)?,
                };
                store.put(bytes)?;
                Ok((version, rules))
            }
            Candidate::Version(version) => {
                let rules = match self.compiled(version) {
                    Some(rules) => rules,
                    None => {
                        let bytes = store.get(version)?;
                        self.gate().pass(engine, &bytes)?
                    }
                };
                Ok((version.to_string(), rules))
            }
        }
    }
}

/// Reads the smoke carts: every `*.json` canonical cart in `dir`, by file name.
pub(super) fn smoke_carts(dir: &Path, key: &str) -> anyhow::Result<Vec<(String, Cart)>> {
    let mut carts = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("`{key}`: reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let bytes = std::fs::read(&path)?;
            let cart: Cart = strict::from_slice(&bytes)
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
