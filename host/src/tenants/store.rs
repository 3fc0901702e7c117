//! The module store in the state directory: every module version a tenant ever
//! activated, by content hash, and each tenant's active version with its activation
//! history.
//!
//! Crash safety: every file is written to a temporary name in the same directory,
//! synced, then renamed over the final name, and the directory synced. A module file is
//! durable before the tenant state that names it, so a `kill -9` at any moment leaves
//! either the old state or the new one, never a state naming a partial module.
//! Temporary files a crash left behind are removed when the store opens.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::{remove_partial, write_atomic};
use crate::engine::ModuleHash;

/// Activations kept per tenant.
const HISTORY: usize = 50;

/// The store under `state_dir`: `modules/<sha256>.wasm` and `tenants/<tenant>.json`.
#[derive(Debug, Clone)]
pub struct ModuleStore {
    modules: PathBuf,
    tenants: PathBuf,
}

/// One activation of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// `sha256:<hex>`, or `native:<name>` for natively linked rules.
    pub version: String,
    /// When, in milliseconds since the epoch.
    pub at_ms: u64,
    /// How: `config`, `admin`, `watch`, `rollback`.
    pub via: String,
}

/// A tenant's persisted state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantState {
    /// The version of the configuration's `module` when it was last applied: when the
    /// configuration names another module, that one is activated at start.
    pub configured: Option<String>,
    /// Activations, oldest first; the last is the active version.
    pub history: Vec<Activation>,
    /// The candidate evaluated in the shadow of live traffic, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<String>,
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
}

impl ModuleStore {
    /// Opens (creating) the store under `state_dir` and removes temporary files a crash
    /// left behind.
    pub fn open(state_dir: &Path) -> std::io::Result<ModuleStore> {
        let store = ModuleStore {
            modules: state_dir.join("modules"),
            tenants: state_dir.join("tenants"),
        };
        for dir in [&store.modules, &store.tenants] {
            std::fs::create_dir_all(dir)?;
            remove_partial(dir)?;
        }
        Ok(store)
    }

    fn module_path(&self, version: &str) -> Option<PathBuf> {
        let hex = version.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.modules.join(format!("{hex}.wasm")))
    }

    /// Stores a module under its content hash (once); returns its version.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let version = ModuleHash::of(bytes).to_string();
        let path = self
            .module_path(&version)
            .expect("a module hash is a valid version");
        if !path.exists() {
            write_atomic(&self.modules, &path, bytes)?;
        }
        Ok(version)
    }

    /// The bytes of a stored version, checked against its hash (a damaged file is an
    /// error, never a different module).
    pub fn get(&self, version: &str) -> std::io::Result<Vec<u8>> {
        let path = self.module_path(version).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{version:?} is not a module version (sha256:<64 hex digits>)"),
            )
        })?;
        let bytes = std::fs::read(&path)?;
        if ModuleHash::of(&bytes).to_string() != version {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} does not hash to {version}", path.display()),
            ));
        }
        Ok(bytes)
    }

    /// Whether a version is stored.
    pub fn contains(&self, version: &str) -> bool {
        self.module_path(version).is_some_and(|path| path.exists())
    }

    /// A tenant's persisted state, if any.
    pub fn tenant_state(&self, tenant: &str) -> std::io::Result<Option<TenantState>> {
        let path = self.tenants.join(format!("{tenant}.json"));
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {error}", path.display()),
                )
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Persists a tenant's state atomically.
    pub fn save_tenant_state(&self, tenant: &str, state: &TenantState) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        write_atomic(
            &self.tenants,
            &self.tenants.join(format!("{tenant}.json")),
            &bytes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_by_hash_and_state_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModuleStore::open(dir.path()).unwrap();
        let version = store.put(b"\0asm module bytes").unwrap();
        assert!(version.starts_with("sha256:"));
        assert_eq!(store.get(&version).unwrap(), b"\0asm module bytes");
        assert!(store.contains(&version));
        assert!(store.get("sha256:../../etc/passwd").is_err());
        // A damaged file is refused, not served.
        let path = store.module_path(&version).unwrap();
        std::fs::write(&path, b"\0asm module bytez").unwrap();
        assert_eq!(
            store.get(&version).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );

        assert_eq!(store.tenant_state("shop").unwrap(), None);
        let mut state = TenantState::default();
        for (version, via) in [("sha256:a", "config"), ("sha256:b", "admin")] {
            state.push(Activation {
                version: version.into(),
                at_ms: 1,
                via: via.into(),
            });
        }
        assert_eq!(state.previous().unwrap().version, "sha256:a");
        store.save_tenant_state("shop", &state).unwrap();
        assert_eq!(store.tenant_state("shop").unwrap(), Some(state));
    }

    #[test]
    fn partial_files_of_a_crash_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("modules")).unwrap();
        let partial = dir.path().join("modules/.tmpAbC123");
        std::fs::write(&partial, b"\0asm half a mod").unwrap();
        ModuleStore::open(dir.path()).unwrap();
        assert!(!partial.exists());
    }
}
