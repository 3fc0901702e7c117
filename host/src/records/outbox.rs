//! The outbox of events a merchant must receive (a KCO push, a Klix purchase
//! notification or order verification, a Messenger payment): each is on disk, synced,
//! before the platform gets its 200, and stays there with its delivery state until
//! it is delivered, so a crash at any moment loses none.
//!
//! [`EventStore`] is the seam: [`FileOutbox`] keeps one file per event,
//! `state_dir/outbox/<tenant>/<id>.json`, written whole ([`crate::durable`]), for one
//! host; a fleet keeps them in its shared store. An event's id is derived from the tenant and the platform's
//! record without its arrival time, so a platform's retry of the same notification is
//! the same event, stored and delivered once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::durable::{remove_partial, write_atomic};
use crate::secret::{Secret, SecretRef};

/// The recorded events that mean money or an order, which a merchant must act on.
pub const DELIVERED_EVENTS: &[(&str, &str)] = &[
    ("kco", "push"),
    ("klix", "purchase_notification"),
    ("klix", "order_verification"),
    ("messenger", "payment"),
];

/// Delivered events kept per tenant, newest first, for the admin API.
const KEEP_DELIVERED: usize = 1_000;

/// A tenant's `[tenants.<name>.events]` table: where its events go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSettings {
    /// The merchant's endpoint; every event is POSTed to it as JSON.
    pub url: String,
    /// The key of the HMAC-SHA256 signature of every delivery.
    pub secret: SecretRef,
    /// The wait before the first retry, in milliseconds; each retry waits twice as
    /// long, with jitter, up to `max_retry_ms`.
    #[serde(default = "one_second")]
    pub first_retry_ms: u64,
    /// The longest wait between two attempts.
    #[serde(default = "one_hour")]
    pub max_retry_ms: u64,
    /// How long after it arrived an event is retried before it is given up (default
    /// 48 hours, as long as KCO retries a push).
    #[serde(default = "two_days")]
    pub retry_for_ms: u64,
    /// Time one attempt may take.
    #[serde(default = "five_seconds")]
    pub timeout_ms: u64,
}

fn one_second() -> u64 {
    1_000
}
fn one_hour() -> u64 {
    3_600_000
}
fn two_days() -> u64 {
    172_800_000
}
fn five_seconds() -> u64 {
    5_000
}

/// Where a tenant's events go, resolved.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The merchant's endpoint.
    pub url: String,
    /// The signing key.
    pub secret: Secret,
    /// The first wait between attempts.
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// How long an event is retried.
    pub retry_for: Duration,
    /// Time one attempt may take.
    pub timeout: Duration,
}

impl EventSettings {
    /// Reads the secret and checks the table; `key` names it in errors.
    pub fn resolve(&self, key: &str) -> anyhow::Result<Destination> {
        anyhow::ensure!(
            self.url.starts_with("https://") || self.url.starts_with("http://"),
            "`{key}.url`: {:?} is not an http(s) URL",
            self.url
        );
        anyhow::ensure!(
            self.first_retry_ms > 0 && self.first_retry_ms <= self.max_retry_ms,
            "`{key}.first_retry_ms` must be positive and at most `max_retry_ms`"
        );
        Ok(Destination {
            url: self.url.clone(),
            secret: self.secret.resolve(&format!("{key}.secret"))?,
            first_retry: Duration::from_millis(self.first_retry_ms),
            max_retry: Duration::from_millis(self.max_retry_ms),
            retry_for: Duration::from_millis(self.retry_for_ms),
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
        })
    }
}

/// Where an event is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not delivered yet; retried until `retry_for` has passed.
    Pending,
    /// The merchant answered 2xx.
    Delivered,
    /// Given up after `retry_for`; the admin API can send it again.
    Failed,
}

/// One event and its delivery state, as stored and as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The stable id, also the idempotency key the merchant receives.
    pub id: String,
    /// `<platform>.<event>`: `kco.push`, `klix.purchase_notification`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// When it arrived, in ms since the epoch.
    pub created_ms: u64,
    /// What the platform sent, as recorded: ids and amounts, never personal data.
    pub data: Value,
    /// Where it is in its delivery.
    pub state: State,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, while pending.
    #[serde(default)]
    pub next_attempt_ms: u64,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the merchant accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_ms: Option<u64>,
}

impl Event {
    /// `record` of `kind` for `tenant`, as it is first stored: pending, due at
    /// `now_ms`, created when the platform's record says it arrived.
    pub fn pending(tenant: &str, kind: String, record: &Value, now_ms: u64) -> Event {
        Event {
            id: event_id(tenant, record),
            kind,
            created_ms: record
                .get("received_at_ms")
                .and_then(Value::as_u64)
                .unwrap_or(now_ms),
            data: record.clone(),
            state: State::Pending,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
            delivered_ms: None,
        }
    }

    /// The body POSTed to the merchant.
    pub fn payload(&self, tenant: &str) -> Value {
        serde_json::json!({
            "id": self.id,
            "type": self.kind,
            "tenant": tenant,
            "created_ms": self.created_ms,
            "data": self.data,
        })
    }
}

/// The due events of a tenant, taken for delivery.
#[derive(Debug, Default)]
pub struct Due {
    /// Events due now, taken by this host until it saves them.
    pub events: Vec<Event>,
    /// When the earliest event not due yet is due.
    pub next_ms: Option<u64>,
    /// Pending events in all, due or not.
    pub pending: usize,
}

/// Where events and their delivery state are stored. Blocking: call it off the async
/// executor.
pub trait EventStore: Send + Sync + std::fmt::Debug {
    /// Stores `record` of `kind` for `tenant`, durably, unless the same event is stored
    /// already; returns its id.
    fn enqueue(
        &self,
        tenant: &str,
        kind: String,
        record: &Value,
        now_ms: u64,
    ) -> std::io::Result<String>;
    /// Every stored event of `tenant`, oldest first.
    fn events(&self, tenant: &str) -> std::io::Result<Vec<Event>>;
    /// Takes the due pending events of `tenant` for delivery: no other worker gets
    /// them until they are saved or `hold` has passed.
    fn take_due(&self, tenant: &str, now_ms: u64, hold: Duration) -> std::io::Result<Due>;
    /// Saves `event`'s new delivery state and ends its take.
    fn save(&self, tenant: &str, event: &Event) -> std::io::Result<()>;
    /// Makes the event `id` of `tenant` pending again, due now; `None` when there is
    /// no such event.
    fn resend(&self, tenant: &str, id: &str, now_ms: u64) -> std::io::Result<Option<Event>>;
    /// How often a worker looks for events without being woken: other hosts store
    /// events too when the store is shared (`None`: only this host does).
    fn recheck(&self) -> Option<Duration>;
}

/// The outbox under `state_dir/outbox`, for one host. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
    /// Serialises writes of one tenant's events (enqueue, delivery updates, resend).
    lock: Arc<Mutex<()>>,
}

/// The type of a recorded event that is delivered (`kco.push`, ...), if it is one.
pub fn delivered_kind(record: &Value) -> Option<String> {
    let platform = record.get("platform")?.as_str()?;
    let event = record.get("event")?.as_str()?;
    DELIVERED_EVENTS
        .contains(&(platform, event))
        .then(|| format!("{platform}.{event}"))
}

/// The id of `record` for `tenant`: the same for a platform's retry of it.
pub fn event_id(tenant: &str, record: &Value) -> String {
    let mut stable = record.clone();
    if let Some(object) = stable.as_object_mut() {
        object.remove("received_at_ms");
    }
    let digest = Sha256::new()
        .chain_update(tenant.as_bytes())
        .chain_update([0])
        .chain_update(stable.to_string().as_bytes())
        .finalize();
    format!("evt_{}", &hex::encode(digest)[..32])
}

impl FileOutbox {
    /// Opens (creating) the outbox under `state_dir`, and removes the partial files
    /// a crash left behind.
    pub fn open(state_dir: &Path) -> std::io::Result<FileOutbox> {
        let dir = state_dir.join("outbox");
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                remove_partial(&path)?;
            }
        }
        Ok(FileOutbox {
            dir,
            lock: Arc::new(Mutex::new(())),
        })
    }

    fn tenant_dir(&self, tenant: &str) -> std::io::Result<PathBuf> {
        let dir = self.dir.join(tenant);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn prune(&self, tenant: &str) -> std::io::Result<()> {
        let mut delivered: BTreeMap<(u64, String), PathBuf> = BTreeMap::new();
        let events = self.events(tenant)?;
        let dir = self.tenant_dir(tenant)?;
        for event in events
            .into_iter()
            .filter(|event| event.state == State::Delivered)
        {
            let path = dir.join(format!("{}.json", event.id));
            delivered.insert((event.delivered_ms.unwrap_or(0), event.id), path);
        }
        let excess = delivered.len().saturating_sub(KEEP_DELIVERED);
        for path in delivered.into_values().take(excess) {
            std::fs::remove_file(path)?;
        }
        Ok(())
    }
}

impl EventStore for FileOutbox {
    fn enqueue(
        &self,
        tenant: &str,
        kind: String,
        record: &Value,
        now_ms: u64,
    ) -> std::io::Result<String> {
        let event = Event::pending(tenant, kind, record, now_ms);
        let _guard = self.guard();
        let dir = self.tenant_dir(tenant)?;
        let path = dir.join(format!("{}.json", event.id));
        if !path.exists() {
            write_atomic(&dir, &path, &serde_json::to_vec_pretty(&event)?)?;
        }
        Ok(event.id)
    }

    fn events(&self, tenant: &str) -> std::io::Result<Vec<Event>> {
        let dir = self.tenant_dir(tenant)?;
        let mut events = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let bytes = std::fs::read(&path)?;
            match serde_json::from_slice::<Event>(&bytes) {
                Ok(event) => events.push(event),
                Err(error) => {
                    tracing::error!(file = %path.display(), %error, "an outbox file is unreadable; it is left alone");
                }
            }
        }
        events.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(events)
    }

    /// After a delivery, prunes the oldest delivered events past the number kept.
    fn save(&self, tenant: &str, event: &Event) -> std::io::Result<()> {
        let guard = self.guard();
        let dir = self.tenant_dir(tenant)?;
        let path = dir.join(format!("{}.json", event.id));
        write_atomic(&dir, &path, &serde_json::to_vec_pretty(event)?)?;
        if event.state == State::Delivered {
            drop(guard);
            self.prune(tenant)?;
        }
        Ok(())
    }

    fn resend(&self, tenant: &str, id: &str, now_ms: u64) -> std::io::Result<Option<Event>> {
        let Some(mut event) = self
            .events(tenant)?
            .into_iter()
            .find(|event| event.id == id)
        else {
            return Ok(None);
        };
        event.state = State::Pending;
        event.attempts = 0;
        event.next_attempt_ms = now_ms;
        event.last_error = None;
        event.delivered_ms = None;
        self.save(tenant, &event)?;
        Ok(Some(event))
    }

    fn take_due(&self, tenant: &str, now_ms: u64, _hold: Duration) -> std::io::Result<Due> {
        let mut due = Due::default();
        for event in self.events(tenant)? {
            if event.state != State::Pending {
                continue;
            }
            due.pending += 1;
            if event.next_attempt_ms <= now_ms {
                due.events.push(event);
            } else {
                due.next_ms = Some(due.next_ms.map_or(event.next_attempt_ms, |at: u64| {
                    at.min(event.next_attempt_ms)
                }));
            }
        }
        Ok(due)
    }

    fn recheck(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_retried_notification_is_one_event() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = FileOutbox::open(dir.path()).unwrap();
        let push = |at: u64| json!({"platform": "kco", "event": "push", "order_id": "o-1", "received_at_ms": at});
        assert_eq!(delivered_kind(&push(1)).as_deref(), Some("kco.push"));
        assert_eq!(
            delivered_kind(&json!({"platform": "messenger", "event": "checkout_update"})),
            None
        );
        let first = outbox
            .enqueue("shop", "kco.push".into(), &push(1), 1)
            .unwrap();
        let again = outbox
            .enqueue("shop", "kco.push".into(), &push(2), 2)
            .unwrap();
        assert_eq!(first, again);
        assert_ne!(first, event_id("other", &push(1)));
        let other =
            json!({"platform": "kco", "event": "push", "order_id": "o-2", "received_at_ms": 3});
        outbox
            .enqueue("shop", "kco.push".into(), &other, 3)
            .unwrap();
        let events = outbox.events("shop").unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].id, first);
        assert_eq!(events[0].state, State::Pending);
        assert_eq!(events[0].created_ms, 1);

        let mut delivered = events[0].clone();
        delivered.state = State::Delivered;
        delivered.delivered_ms = Some(9);
        outbox.save("shop", &delivered).unwrap();
        assert_eq!(outbox.events("shop").unwrap()[0].state, State::Delivered);
        let resent = outbox.resend("shop", &first, 10).unwrap().unwrap();
        assert_eq!((resent.state, resent.attempts), (State::Pending, 0));
        assert!(outbox.resend("shop", "evt_nope", 10).unwrap().is_none());
    }
}
