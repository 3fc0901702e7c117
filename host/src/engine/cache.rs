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
        // Read into memory rather than map the file: a file changed under a mapping
        // would crash the process (SIGBUS) instead of failing this load.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: deserializing runs native code produced by a compiler, so the bytes
        // must come from `Component::serialize` of this engine configuration. They do:
        // only `store` below writes this directory, under a name derived from the
        // module's content hash and the engine's compatibility hash, and wasmtime checks
        // the header (version, configuration) again before using it. A cache directory
        // must therefore be writable by the rulegate process only.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(engine, &bytes) };
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
