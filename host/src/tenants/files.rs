//! The store in the state directory, for one host: every module version a tenant ever
//! activated, by content hash, and each tenant's state.
//!
//! Crash safety: every file is written to a temporary name in the same directory,
//! synced, then renamed over the final name, and the directory synced. A module file is
//! durable before the tenant state that names it, so a `kill -9` at any moment leaves
//! either the old state or the new one, never a state naming a partial module.
//! Temporary files a crash left behind are removed when the store opens.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::store::{Change, Store, StoreError, TenantState};
use crate::durable::{remove_partial, write_atomic};
use crate::engine::ModuleHash;
use crate::signature::Signatures;

/// The store under `state_dir`: `modules/<sha256>.wasm` with the signatures of each in
/// `modules/<sha256>.sig` (the `.sig` file format), and `tenants/<tenant>.json`.
#[derive(Debug)]
pub struct FileStore {
    modules: PathBuf,
    tenants: PathBuf,
    /// Serialises changes (read, change, write) of tenant states.
    changing: Mutex<()>,
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("the state directory: {error}"))
}

impl FileStore {
    /// Opens (creating) the store under `state_dir` and removes temporary files a crash
    /// left behind.
    pub fn open(state_dir: &Path) -> std::io::Result<FileStore> {
        let store = FileStore {
            modules: state_dir.join("modules"),
            tenants: state_dir.join("tenants"),
            changing: Mutex::new(()),
        };
        for dir in [&store.modules, &store.tenants] {
            std::fs::create_dir_all(dir)?;
            remove_partial(dir)?;
        }
        Ok(store)
    }

    fn module_path(&self, version: &str) -> Option<PathBuf> {
        self.version_path(version, "wasm")
    }

    fn version_path(&self, version: &str, extension: &str) -> Option<PathBuf> {
        let hex = version.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.modules.join(format!("{hex}.{extension}")))
    }

    fn read_state(&self, tenant: &str) -> Result<Option<TenantState>, StoreError> {
        let path = self.tenants.join(format!("{tenant}.json"));
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| unavailable(format!("{}: {error}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(unavailable(format!("{}: {error}", path.display()))),
        }
    }
}

impl Store for FileStore {
    fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let version = ModuleHash::of(bytes).to_string();
        let path = self
            .module_path(&version)
            .expect("a module hash is a valid version");
        if !path.exists() {
            write_atomic(&self.modules, &path, bytes).map_err(unavailable)?;
        }
        Ok(version)
    }

    fn get(&self, version: &str) -> Result<Vec<u8>, StoreError> {
        let path = self
            .module_path(version)
            .ok_or_else(|| StoreError::NotStored(version.to_string()))?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotStored(version.to_string()));
            }
            Err(error) => return Err(unavailable(format!("{}: {error}", path.display()))),
        };
        if ModuleHash::of(&bytes).to_string() != version {
            return Err(unavailable(format!(
                "{} does not hash to {version}",
                path.display()
            )));
        }
        Ok(bytes)
    }

    fn signatures(&self, version: &str) -> Result<Option<Signatures>, StoreError> {
        let Some(path) = self.version_path(version, "sig") else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(bytes) => Signatures::parse(&bytes)
                .map(Some)
                .map_err(|error| unavailable(format!("{}: {error}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(unavailable(format!("{}: {error}", path.display()))),
        }
    }

    fn add_signatures(&self, signatures: &Signatures) -> Result<(), StoreError> {
        let version = &signatures.version;
        let stored = self.module_path(version).is_some_and(|path| path.exists());
        let path = self.version_path(version, "sig").filter(|_| stored);
        let Some(path) = path else {
            return Err(StoreError::NotStored(version.clone()));
        };
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut kept = self
            .signatures(version)?
            .unwrap_or_else(|| Signatures::of(version));
        for signature in signatures.clone().verified().signatures {
            kept.add(signature);
        }
        write_atomic(&self.modules, &path, &kept.to_bytes()).map_err(unavailable)
    }

    fn state(&self, tenant: &str) -> Result<Option<TenantState>, StoreError> {
        self.read_state(tenant)
    }

    fn change(&self, tenant: &str, change: &Change) -> Result<TenantState, StoreError> {
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let state = self.read_state(tenant)?.unwrap_or_default();
        if state.overtaken(change) {
            return Ok(state);
        }
        let next = state.changed(change);
        let bytes = serde_json::to_vec_pretty(&next).map_err(unavailable)?;
        write_atomic(
            &self.tenants,
            &self.tenants.join(format!("{tenant}.json")),
            &bytes,
        )
        .map_err(unavailable)?;
        Ok(next)
    }

    fn shared(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{Signature, SigningKey};
    use crate::tenants::store::Activation;

    #[test]
    fn modules_by_hash_and_state_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let version = store.put(b"\0asm module bytes").unwrap();
        assert!(version.starts_with("sha256:"));
        assert_eq!(store.get(&version).unwrap(), b"\0asm module bytes");
        assert!(matches!(
            store.get("sha256:../../etc/passwd"),
            Err(StoreError::NotStored(_))
        ));
        // A damaged file is refused, not served.
        let path = store.module_path(&version).unwrap();
        std::fs::write(&path, b"\0asm module bytez").unwrap();
        assert!(matches!(
            store.get(&version),
            Err(StoreError::Unavailable(message)) if message.contains("does not hash")
        ));

        assert_eq!(store.state("shop").unwrap(), None);
        let mut last = TenantState::default();
        for (version, via) in [("sha256:a", "config"), ("sha256:b", "admin")] {
            let change = Change::Activate {
                activation: Activation {
                    version: version.into(),
                    at_ms: 1,
                    via: via.into(),
                    host: None,
                    signed_by: Vec::new(),
                },
                configured: None,
                clear_shadow: false,
                canary_outcome: None,
            };
            last = store.change("shop", &change).unwrap();
        }
        assert_eq!(last.generation, 2);
        assert_eq!(last.previous().unwrap().version, "sha256:a");
        assert_eq!(store.state("shop").unwrap(), Some(last));
    }

    #[test]
    fn signatures_are_kept_with_their_version_verified_and_merged() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let version = store.put(b"\0asm signed module").unwrap();
        let (alice, bob) = (
            SigningKey::generate().unwrap().0,
            SigningKey::generate().unwrap().0,
        );
        assert_eq!(store.signatures(&version).unwrap(), None);
        let mut presented = Signatures::of(&version);
        presented.add(alice.sign(&version));
        // A signature that does not verify is not kept.
        presented.add(Signature {
            key: bob.public_key(),
            signature: alice.sign(&version).signature,
        });
        store.add_signatures(&presented).unwrap();
        let kept = store.signatures(&version).unwrap().unwrap();
        assert_eq!(kept.signatures, vec![alice.sign(&version)]);
        let mut more = Signatures::of(&version);
        more.add(bob.sign(&version));
        store.add_signatures(&more).unwrap();
        let keys: Vec<_> = store.signatures(&version).unwrap().unwrap().signatures;
        assert_eq!(keys.len(), 2);
        // Signatures of a version not stored are refused.
        let absent = ModuleHash::of(b"never stored").to_string();
        let mut stray = Signatures::of(&absent);
        stray.add(alice.sign(&absent));
        assert!(matches!(
            store.add_signatures(&stray),
            Err(StoreError::NotStored(_))
        ));
        // A reopened store reads them back.
        let reopened = FileStore::open(dir.path()).unwrap();
        assert_eq!(
            reopened
                .signatures(&version)
                .unwrap()
                .unwrap()
                .signatures
                .len(),
            2
        );
    }

    #[test]
    fn partial_files_of_a_crash_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("modules")).unwrap();
        let partial = dir.path().join("modules/.tmpAbC123");
        std::fs::write(&partial, b"\0asm half a mod").unwrap();
        FileStore::open(dir.path()).unwrap();
        assert!(!partial.exists());
    }
}
