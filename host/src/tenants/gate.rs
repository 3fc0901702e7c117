//! The activation gate, the one way a version becomes active or a shadow: signed by
//! enough of the tenant's signers when it lists any, then a component of the contract's
//! world with permitted imports that compiles, and that decides every smoke cart of the
//! tenant (tax, shipping, validate) within its limits. Signatures are checked every
//! time, first (unsigned code is never compiled); a version still compiled skips only
//! the compile and the smoke carts.

use std::path::Path;

use anyhow::Context;

use super::ActivationError;
use super::store::Store;
use super::tenant::Tenant;
use crate::engine::{Engine, EngineError, Limits, ModuleHash, SharedRuleSet};
use crate::model::{Cart, DecisionKind};
use crate::signature::{Refusal, Signatures, Signers};
use crate::strict;

/// A candidate by its bytes or by a stored version.
#[derive(Debug, Clone, Copy)]
pub enum Candidate<'a> {
    /// A module's bytes (stored once it passes the gate).
    Bytes(&'a [u8]),
    /// A stored version (`sha256:...`).
    Version(&'a str),
}

/// A candidate that passed the gate.
#[derive(Clone)]
pub(super) struct Admitted {
    /// Its version.
    pub(super) version: String,
    /// Its rules, compiled.
    pub(super) rules: SharedRuleSet,
    /// The tenant's signers who signed it (empty when the tenant lists none).
    pub(super) signed_by: Vec<String>,
}

/// A tenant's gate: its signers, its smoke carts and its limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gate<'a> {
    pub(super) signers: Option<&'a Signers>,
    pub(super) smoke: &'a [(String, Cart)],
    pub(super) limits: &'a Limits,
}

impl Gate<'_> {
    /// The tenant's signers who signed `version`, by the signatures stored with it and
    /// those `presented` with the candidate (a presented key's signature replaces its
    /// stored one), or why they are not enough. Presented signatures of another module
    /// are refused even when the tenant requires none: they name the wrong module.
    pub(super) fn signed(
        &self,
        store: &dyn Store,
        version: &str,
        presented: Option<&Signatures>,
    ) -> Result<Vec<String>, ActivationError> {
        if let Some(presented) = presented
            && presented.version != version
        {
            return Err(ActivationError::Unsigned(Refusal::OtherModule {
                signed: presented.version.chars().take(80).collect(),
                module: version.to_string(),
            }));
        }
        let Some(signers) = self.signers else {
            return Ok(Vec::new());
        };
        let mut signatures = store
            .signatures(version)?
            .unwrap_or_else(|| Signatures::of(version));
        for signature in presented.into_iter().flat_map(|p| &p.signatures) {
            signatures.add(signature.clone());
        }
        let signed_by = signers
            .check(version, Some(&signatures))
            .map_err(ActivationError::Unsigned)?;
        Ok(signed_by.iter().map(ToString::to_string).collect())
    }

    /// Passes `candidate`, with the signatures `presented` with it, through the gate:
    /// its signatures first; then a version `compiled` still holds at once, or its
    /// bytes (given, or read from `store`) through the checks. New bytes and the
    /// presented signatures that verify are stored.
    pub(super) fn admit(
        &self,
        engine: &Engine,
        store: &dyn Store,
        candidate: Candidate<'_>,
        presented: Option<&Signatures>,
        compiled: impl FnOnce(&str) -> Option<SharedRuleSet>,
    ) -> Result<Admitted, ActivationError> {
        let version = match candidate {
            Candidate::Bytes(bytes) => ModuleHash::of(bytes).to_string(),
            Candidate::Version(version) => version.to_string(),
        };
        let signed = || self.signed(store, &version, presented);
        // Each arm checks the signatures before it compiles (tuples evaluate in order).
        let (signed_by, rules) = match (compiled(&version), candidate) {
            (Some(rules), _) => (signed()?, rules),
            (None, Candidate::Bytes(bytes)) => (signed()?, self.pass(engine, bytes)?),
            (None, Candidate::Version(_)) => {
                let bytes = store.get(&version)?;
                (signed()?, self.pass(engine, &bytes)?)
            }
        };
        if let Candidate::Bytes(bytes) = candidate {
            store.put(bytes)?;
        }
        if let Some(presented) = presented {
            store.add_signatures(presented)?;
        }
        Ok(Admitted {
            version,
            rules,
            signed_by,
        })
    }

    /// Loads `bytes` and decides every smoke cart on them, or says why not.
    fn pass(&self, engine: &Engine, bytes: &[u8]) -> Result<SharedRuleSet, ActivationError> {
        let rules: SharedRuleSet = engine
            .load(bytes)
            .map_err(|error| ActivationError::Refused(error.to_string()))?;
        let failed = |name: &str, what: &str, error: &EngineError| {
            ActivationError::Refused(format!(
                "smoke cart {name}: {what} failed: {}",
                error.to_string().lines().next().unwrap_or("")
            ))
        };
        for (name, cart) in self.smoke {
            let mut session = rules.session(self.limits);
            let mut answers = Vec::with_capacity(DecisionKind::ALL.len());
            for kind in DecisionKind::ALL {
                let outcome = session.decide(kind, cart);
                if let Some(error) = outcome.error() {
                    return Err(failed(name, kind.export_name(), error));
                }
                answers.push(outcome);
            }
            // A quote must answer as the two decisions do on their own.
            for outcome in session.quote(cart).outcomes() {
                if let Some(error) = outcome.error() {
                    return Err(failed(name, "quote", error));
                }
                if !answers.contains(&outcome) {
                    return Err(ActivationError::Refused(format!(
                        "smoke cart {name}: the {kind} half of `quote` differs from what `{kind}` \
                         answers",
                        kind = outcome.kind()
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
            signers: self.signers.as_ref(),
            smoke: &self.smoke,
            limits: &self.limits,
        }
    }

    /// Passes `candidate` through the tenant's gate: see [`Gate::admit`].
    pub(super) fn admit(
        &self,
        engine: &Engine,
        store: &dyn Store,
        candidate: Candidate<'_>,
        presented: Option<&Signatures>,
    ) -> Result<Admitted, ActivationError> {
        self.gate()
            .admit(engine, store, candidate, presented, |version| {
                self.compiled(version)
            })
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
