//! How a host follows the store: `LISTEN` for changes as a hint, and re-read every
//! tenant's generation every poll interval as the truth, so a lost notification or a
//! dropped connection delays a change by one interval at most. A newer state is
//! installed through the gate, off the async executor; a version this host cannot
//! serve keeps the last good one serving, and is tried again with backoff. Every round
//! shares this host's counts of running canaries and ends with its heartbeat.
//! Callbacks never wait for any of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

use super::convergence::Convergence;
use super::postgres::{CHANNEL, Postgres};
use crate::protocols::now_ms;
use crate::tenants::{Registry, StoreError};

/// The longest wait between two tries of a version this host refused.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// A host is live while its heartbeat is younger than this many poll intervals (and at
/// least [`MIN_LIVE`]).
const LIVE_INTERVALS: u32 = 5;
const MIN_LIVE: Duration = Duration::from_secs(15);

/// Follows the store until the process ends.
#[derive(Debug, Clone)]
pub struct Follower {
    /// The store.
    pub store: Postgres,
    /// The tenants.
    pub registry: Arc<Registry>,
    /// What the servers read of this host's convergence.
    pub convergence: Arc<Convergence>,
    /// How often to re-read the store.
    pub poll: Duration,
    /// Whether to `LISTEN` for changes.
    pub notifications: bool,
}

/// A version refused on this host, and when to try it again.
struct Retry {
    generation: u64,
    at: Instant,
    wait: Duration,
}

impl Follower {
    /// Starts following on the current runtime.
    pub fn start(self) {
        let wake = Arc::new(Notify::new());
        if self.notifications {
            tokio::spawn(listen(self.store.clone(), wake.clone(), self.poll));
        }
        tokio::spawn(self.follow(wake));
    }

    async fn follow(self, wake: Arc<Notify>) {
        let started_ms = now_ms();
        let mut retries: HashMap<String, Retry> = HashMap::new();
        let mut failures: u32 = 0;
        loop {
            // Back off while the store is down: one interval, doubling up to five.
            let wait = self.poll * 2u32.saturating_pow(failures.min(3)).min(LIVE_INTERVALS);
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
            match self.round(started_ms, &mut retries).await {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(store = %self.store.describe(), "the store answers again; this host is in sync");
                    }
                    failures = 0;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    if self.convergence.failed(error.to_string()) {
                        tracing::warn!(%error, "the store is unreachable: this host keeps serving what it has and retries");
                    }
                }
            }
        }
    }

    /// One look at the store: install every newer tenant state, record the heartbeat,
    /// count the hosts behind.
    async fn round(
        &self,
        started_ms: u64,
        retries: &mut HashMap<String, Retry>,
    ) -> Result<(), StoreError> {
        let generations = self.store.generations().await?;
        self.convergence.confirmed();
        for tenant in self.registry.tenants() {
            let Some(&stored) = generations.get(&tenant.name) else {
                continue;
            };
            if stored <= tenant.generation() {
                retries.remove(&tenant.name);
                continue;
            }
            if let Some(retry) = retries.get(&tenant.name)
                && retry.generation == stored
                && Instant::now() < retry.at
            {
                continue;
            }
            let Some(state) = self.store.tenant_state(&tenant.name).await? else {
                continue;
            };
            let generation = state.generation;
            let (registry, name) = (self.registry.clone(), tenant.name.clone());
            let installed = tokio::task::spawn_blocking(move || registry.sync(&name, state)).await;
            match installed {
                Ok(Ok(_)) => {
                    retries.remove(&tenant.name);
                }
                Ok(Err(error)) => {
                    let wait = match retries.get(&tenant.name) {
                        Some(retry) if retry.generation == generation => {
                            (retry.wait * 2).min(MAX_RETRY)
                        }
                        _ => self.poll,
                    };
                    tracing::warn!(
                        tenant = %tenant.name, generation, %error, retry_in_ms = wait.as_millis() as u64,
                        "the store's state cannot be served here; the last good version keeps serving"
                    );
                    retries.insert(
                        tenant.name.clone(),
                        Retry {
                            generation,
                            at: Instant::now() + wait,
                            wait,
                        },
                    );
                }
                Err(error) => tracing::error!(tenant = %tenant.name, %error, "installing stopped"),
            }
        }
        // Canaries are judged on the whole fleet's callbacks.
        for tenant in self.registry.tenants() {
            if let Some(running) = tenant.canary() {
                let elsewhere = self
                    .store
                    .share_canary_figures(
                        &tenant.name,
                        running.canary.started_ms,
                        &running.figures.here(),
                    )
                    .await?;
                running.figures.set_elsewhere(elsewhere);
            }
        }
        self.store
            .heartbeat(started_ms, &serving(&self.registry))
            .await?;
        let hosts = self.store.hosts().await?;
        let live = live_within(self.poll);
        let behind = hosts
            .iter()
            .filter(|(_, _, seen_ms_ago, tenants)| {
                Duration::from_millis(*seen_ms_ago) <= live && lag(tenants, &generations) > 0
            })
            .count();
        self.convergence.set_hosts_behind(behind as u64);
        Ok(())
    }
}

/// How recent a heartbeat must be for its host to count as live.
pub fn live_within(poll: Duration) -> Duration {
    (poll * LIVE_INTERVALS).max(MIN_LIVE)
}

/// What this host serves, per tenant: version, since when, the store generation, and a
/// refused version if any.
pub fn serving(registry: &Registry) -> Value {
    let tenants: serde_json::Map<String, Value> = registry
        .tenants()
        .map(|tenant| {
            let active = tenant.active();
            (
                tenant.name.clone(),
                json!({
                    "version": active.version,
                    "since_ms": active.since_ms,
                    "generation": tenant.generation(),
                    "shadow": tenant.shadow().map(|shadow| shadow.version.clone()),
                    "refused": tenant.refused(),
                }),
            )
        })
        .collect();
    Value::Object(tenants)
}

/// Generations a host's heartbeat is behind the store, summed over tenants.
pub fn lag(tenants: &Value, generations: &std::collections::BTreeMap<String, u64>) -> u64 {
    generations
        .iter()
        .filter_map(|(name, stored)| {
            let served = tenants.get(name)?.get("generation")?.as_u64()?;
            Some(stored.saturating_sub(served))
        })
        .sum()
}

/// Listens for change notifications on a connection of its own, reconnecting after
/// `poll` when it drops; each notification (and each reconnection) wakes the follower.
async fn listen(store: Postgres, wake: Arc<Notify>, poll: Duration) {
    loop {
        match store.config().connect(NoTls).await {
            Ok((client, mut connection)) => {
                let woken = wake.clone();
                let driver = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(_))) => woken.notify_one(),
                            Some(Ok(_)) => {}
                            Some(Err(error)) => break error.to_string(),
                            None => break "the connection closed".to_string(),
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        tracing::debug!("listening for store changes");
                        // Changes made while no connection listened are read now.
                        wake.notify_one();
                        let reason = driver.await.unwrap_or_else(|error| error.to_string());
                        tracing::debug!(%reason, "the notification connection ended");
                    }
                    Err(error) => {
                        driver.abort();
                        tracing::debug!(%error, "LISTEN failed");
                    }
                }
                drop(client);
            }
            Err(error) => tracing::debug!(%error, "no notification connection"),
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_sums_generations_behind_over_the_tenants_a_host_serves() {
        let stored = std::collections::BTreeMap::from([
            ("a".to_string(), 7),
            ("b".to_string(), 3),
            ("new".to_string(), 1),
        ]);
        let host = json!({ "a": { "generation": 5 }, "b": { "generation": 3 } });
        assert_eq!(lag(&host, &stored), 2);
        assert_eq!(lag(&json!({ "a": { "generation": 9 } }), &stored), 0);
        assert_eq!(live_within(Duration::from_millis(200)), MIN_LIVE);
        assert_eq!(
            live_within(Duration::from_secs(10)),
            Duration::from_secs(50)
        );
    }
}
