//! What this host knows of its convergence with the store: whether the store answered
//! the last time it looked, when it last confirmed the store's state, and how many
//! hosts of the fleet are behind. Read by `/readyz`, `/metrics` and the fleet view.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::protocols::now_ms;

/// Shared between the fleet's sync and the servers.
#[derive(Debug)]
pub struct Convergence {
    reachable: AtomicBool,
    confirmed_ms: AtomicU64,
    hosts_behind: AtomicU64,
    sync_errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Past this age of the last confirmation, `/readyz` fails.
    pub max_staleness: Option<Duration>,
}

impl Convergence {
    /// A host that confirmed the store's state just now (at start).
    pub fn new(max_staleness: Option<Duration>) -> Convergence {
        Convergence {
            reachable: AtomicBool::new(true),
            confirmed_ms: AtomicU64::new(now_ms()),
            hosts_behind: AtomicU64::new(0),
            sync_errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
            max_staleness,
        }
    }

    /// The store answered and every pointer was read: this host knows the store's
    /// state (installing a newer one, which may compile for a while, comes after).
    pub fn confirmed(&self) {
        self.reachable.store(true, Ordering::Relaxed);
        self.confirmed_ms.store(now_ms(), Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The hosts of the fleet behind the store, as the last heartbeats show.
    pub fn set_hosts_behind(&self, hosts_behind: u64) {
        self.hosts_behind.store(hosts_behind, Ordering::Relaxed);
    }

    /// The store did not answer; returns whether it had answered before (the outage
    /// starts now).
    pub fn failed(&self, error: String) -> bool {
        self.sync_errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
        self.reachable.swap(false, Ordering::Relaxed)
    }

    /// Whether the store answered the last look.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Why the last look failed, while it does.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Time since this host last confirmed the store's state.
    pub fn staleness(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.confirmed_ms.load(Ordering::Relaxed)))
    }

    /// When this host last confirmed the store's state (ms since the epoch).
    pub fn confirmed_ms(&self) -> u64 {
        self.confirmed_ms.load(Ordering::Relaxed)
    }

    /// Hosts of the fleet behind the store, at the last look.
    pub fn hosts_behind(&self) -> u64 {
        self.hosts_behind.load(Ordering::Relaxed)
    }

    /// Looks at the store that failed.
    pub fn sync_errors(&self) -> u64 {
        self.sync_errors.load(Ordering::Relaxed)
    }

    /// Why this host must be drained, if it must: it has not confirmed the store's
    /// state for longer than `max_staleness`.
    pub fn too_stale(&self) -> Option<String> {
        let limit = self.max_staleness?;
        let staleness = self.staleness();
        (staleness > limit).then(|| {
            format!(
                "the store's state was last confirmed {} ms ago (max_staleness_ms = {})",
                staleness.as_millis(),
                limit.as_millis()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_drains_only_past_the_limit() {
        let unbounded = Convergence::new(None);
        assert!(unbounded.failed("down".into()));
        assert!(!unbounded.failed("still down".into()));
        assert_eq!(unbounded.too_stale(), None);
        assert_eq!(unbounded.last_error().as_deref(), Some("still down"));
        let bounded = Convergence::new(Some(Duration::ZERO));
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            bounded
                .too_stale()
                .unwrap()
                .contains("max_staleness_ms = 0")
        );
        bounded.confirmed();
        bounded.set_hosts_behind(2);
        assert!(bounded.reachable());
        assert_eq!(bounded.too_stale(), None);
        assert_eq!(bounded.hosts_behind(), 2);
        assert_eq!(unbounded.sync_errors(), 2);
    }
}
