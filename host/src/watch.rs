//! File-based deploys: `<dir>/<tenant>.wasm` becomes the tenant's version through the
//! same gate as the admin API, with the signatures in `<dir>/<tenant>.wasm.sig` when
//! that file is there.
//!
//! The directory is polled. A module is taken once its and its signature file's sizes
//! and modification times held still for one interval (so a copy in progress is not
//! read half written), and each content is tried once: a refused candidate is logged
//! and counted, and tried again only when the module or its signatures change (a
//! signature file copied after its module is picked up then).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::engine::ModuleHash;
use crate::metrics::Metrics;
use crate::signature::{self, Signatures};
use crate::tenants::{ActivationError, Registry};

/// The `[watch]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSettings {
    /// The directory holding `<tenant>.wasm` files.
    pub dir: PathBuf,
    /// How often to look, in milliseconds.
    #[serde(default = "one_second")]
    pub interval_ms: u64,
}

fn one_second() -> u64 {
    1_000
}

/// A file's size and modification time.
type Stamp = Option<(u64, SystemTime)>;

#[derive(Debug, Default)]
struct Seen {
    /// The module's and its signature file's stamps at the last look.
    stamps: Option<(Stamp, Stamp)>,
    /// The module and signature file contents last tried.
    tried: Option<(ModuleHash, Option<Vec<u8>>)>,
}

fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    Some((
        metadata.len(),
        metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    ))
}

/// The signature file's bytes, `None` when there is none.
fn read_optional(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Polls until the process ends.
pub async fn watch(settings: WatchSettings, registry: Arc<Registry>, metrics: Arc<Metrics>) {
    tracing::info!(dir = %settings.dir.display(), "watching for module files");
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(settings.interval_ms.max(10)));
    loop {
        ticker.tick().await;
        for tenant in registry.tenants() {
            let path = settings.dir.join(format!("{}.wasm", tenant.name));
            let sig_path = signature::beside(&path);
            let module_stamp = stamp(&path);
            if module_stamp.is_none() {
                continue;
            }
            let stamps = (module_stamp, stamp(&sig_path));
            let entry = seen.entry(tenant.name.clone()).or_default();
            if entry.stamps != Some(stamps) {
                // Changed since the last look: wait until it holds still.
                entry.stamps = Some(stamps);
                continue;
            }
            let (Ok(bytes), Ok(sig_bytes)) = (std::fs::read(&path), read_optional(&sig_path))
            else {
                continue;
            };
            let hash = ModuleHash::of(&bytes);
            let tried = Some((hash.clone(), sig_bytes.clone()));
            if entry.tried == tried {
                continue;
            }
            entry.tried = tried;
            if tenant.active().version == hash.to_string() {
                continue;
            }
            let signatures = match sig_bytes.as_deref().map(Signatures::parse).transpose() {
                Ok(signatures) => signatures,
                Err(error) => {
                    tracing::warn!(
                        tenant = %tenant.name, file = %sig_path.display(), %error,
                        "module file not activated; the active version keeps serving"
                    );
                    continue;
                }
            };
            let name = tenant.name.clone();
            let worker = registry.clone();
            let result = tokio::task::spawn_blocking(move || {
                worker.deploy(&name, &bytes, signatures.as_ref(), "watch")
            })
            .await
            .unwrap_or_else(|error| {
                Err(ActivationError::Refused(format!(
                    "the activation stopped: {error}"
                )))
            });
            metrics.activation(&tenant.name, "watch", &result);
            match result {
                Ok(active) => tracing::info!(
                    tenant = %tenant.name, file = %path.display(), version = %active.version,
                    "module file activated"
                ),
                Err(error) => tracing::warn!(
                    tenant = %tenant.name, file = %path.display(), %error,
                    "module file not activated; the active version keeps serving"
                ),
            }
        }
    }
}
