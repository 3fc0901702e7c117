//! A fleet of hosts sharing one registry in PostgreSQL.
//!
//! Modules are immutable and content-addressed, stored once; each tenant has a small
//! pointer (active version, shadow candidate, generation) that a change moves in one
//! transaction ([`postgres`]). Hosts follow the pointers ([`sync`]): notifications are a
//! hint, polling the truth; a host that cannot reach the store or serve a version keeps
//! serving what it has. Each host gates and compiles locally, and reports what it serves
//! in a heartbeat, which the fleet view ([`view`]) and `/readyz` read
//! ([`convergence`]). The schema is embedded and migrated at start ([`schema`]).

pub mod convergence;
pub mod postgres;
mod schema;
pub mod settings;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

pub use convergence::Convergence;
pub use postgres::Postgres;
pub use settings::{StoreKind, StoreSettings};
pub use sync::Follower;

use crate::tenants::Registry;

/// What the admin API needs of the fleet. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The shared store.
    pub store: Postgres,
    /// This host's convergence.
    pub convergence: Arc<Convergence>,
    /// The poll interval (how old a live host's heartbeat may be depends on it).
    pub poll: Duration,
}

impl Fleet {
    /// The fleet as the store sees it: every host, what it serves, how far behind the
    /// store it is, and any version it refused; when the store cannot be read, this
    /// host's own view and why.
    pub async fn view(&self, registry: &Registry) -> Value {
        let convergence = &self.convergence;
        let mut store = json!({
            "kind": "postgres",
            "at": self.store.describe(),
            "reachable": convergence.reachable(),
            "confirmed_ms_ago": convergence.staleness().as_millis() as u64,
            "max_staleness_ms": convergence.max_staleness.map(|limit| limit.as_millis() as u64),
        });
        let read = async {
            let generations = self.store.generations().await?;
            let hosts = self.store.hosts().await?;
            Ok::<_, crate::tenants::StoreError>((generations, hosts))
        };
        let (generations, hosts) = match tokio::time::timeout(postgres::CALL_TIMEOUT, read).await {
            Ok(Ok(read)) => read,
            failed => {
                let error = match failed {
                    Ok(Err(error)) => error.to_string(),
                    _ => "no answer in time".to_string(),
                };
                store["reachable"] = json!(false);
                store["error"] = json!(error);
                return json!({
                    "host": self.store.host(),
                    "store": store,
                    "this_host": sync::serving(registry),
                });
            }
        };
        let live = sync::live_within(self.poll);
        let mut behind = 0;
        let hosts: Vec<Value> = hosts
            .into_iter()
            .map(|(host, started_ms, seen_ms_ago, tenants)| {
                let is_live = Duration::from_millis(seen_ms_ago) <= live;
                let lag = sync::lag(&tenants, &generations);
                if is_live && lag > 0 {
                    behind += 1;
                }
                let refused: Vec<Value> = tenants
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(tenant, serving)| {
                        let refused = serving.get("refused").filter(|r| !r.is_null())?;
                        Some(json!({ "tenant": tenant, "refused": refused }))
                    })
                    .collect();
                json!({
                    "host": host,
                    "started_ms": started_ms,
                    "seen_ms_ago": seen_ms_ago,
                    "live": is_live,
                    "behind": lag > 0,
                    "lag_generations": lag,
                    "refused": refused,
                    "tenants": tenants,
                })
            })
            .collect();
        json!({
            "host": self.store.host(),
            "store": store,
            "generations": generations,
            "hosts": hosts,
            "hosts_behind": behind,
        })
    }
}
