//! Precompiled artifacts on disk, keyed by module content hash and engine compatibility,
//! so a restart loads modules in well under a millisecond instead of recompiling.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;

use wasmtime::component::Component;

use super::ModuleHash;

/// A directory of precompiled components that only this process writes.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// A cache in `dir`, created if missing.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(ArtifactCache { dir })
    }

    /// The artifact path for a module under this engine's compilation settings: a
    /// different wasmtime version or configuration gets a different name.
    fn path(&self, engine: &wasmtime::Engine, hash: &ModuleHash) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{}-{:016x}.cwasm", hash.hex(), hasher.finish()))
    }

    /// The cached component for `hash`, if present and loadable by this engine.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, hash: &ModuleHash) -> Option<Component> {
        let path = self.path(engine, hash);
        if !path.exists() {
            return None;
        }
        // Map the file rather than read it: the kernel then shares its pages and keeps
        // resident only the code and data an instance touches, where a read copy of a
        // JavaScript module's artifact (40+ MB, the engine included) would stay resident
        // per tenant. The cost: a file truncated or rewritten in place under the mapping
        // crashes the process (SIGBUS). rulegate never does that (`store` writes a new
        // file and renames it over the old name; a removed file stays mapped intact).
        // SAFETY: deserializing runs native code produced by a compiler, so the file
        // must come from `Component::serialize` of this engine configuration and must
        // not change while mapped. It does and does not: only `store` below writes this
        // directory, under a name derived from the module's content hash and the
        // engine's compatibility hash, always by rename; wasmtime checks the header
        // (version, configuration) again before using it. A cache directory must
        // therefore be writable by the rulegate process only.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "discarding unusable cached artifact");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves a compiled component atomically: a reader sees the whole artifact or none.
    pub(crate) fn store(
        &self,
        engine: &wasmtime::Engine,
        hash: &ModuleHash,
        component: &Component,
    ) -> std::io::Result<()> {
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        let path = self.path(engine, hash);
        let mut temporary = tempfile::NamedTempFile::new_in(&self.dir)?;
        temporary.write_all(&bytes)?;
        temporary.as_file().sync_all()?;
        temporary.persist(&path).map_err(|error| error.error)?;
        Ok(())
    }
}
