//! File-based deploys: `<dir>/<tenant>.wasm` becomes the tenant's version through the
//! same gate as the admin API.
//!
//! The directory is polled. A file is taken once its size and modification time held
//! still for one interval (so a copy in progress is not read half written), and each
//! content is tried once: a refused candidate is logged and counted, and the file is
//! tried again only when it changes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::engine::ModuleHash;
use crate::metrics::Metrics;
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

#[derive(Debug, Default)]
struct Seen {
    signature: Option<(u64, SystemTime)>,
    tried: Option<ModuleHash>,
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
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            let signature = (
                metadata.len(),
                metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            );
            let entry = seen.entry(tenant.name.clone()).or_default();
            if entry.signature != Some(signature) {
                // Changed since the last look: wait until it holds still.
                entry.signature = Some(signature);
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let hash = ModuleHash::of(&bytes);
            if entry.tried.as_ref() == Some(&hash) {
                continue;
            }
            entry.tried = Some(hash.clone());
            if tenant.active().version == hash.to_string() {
                continue;
            }
            let name = tenant.name.clone();
            let worker = registry.clone();
            let result = tokio::task::spawn_blocking(move || worker.deploy(&name, &bytes, "watch"))
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
