//! Delivering the outbox's events to merchants: off the request path, one worker per
//! tenant with an events endpoint, at least once, retried with exponential backoff and
//! jitter until the tenant's `retry_for` has passed. A slow or dead endpoint delays only
//! its own tenant's deliveries, never a callback.
//!
//! Each delivery is a `POST` of the event as JSON with
//! - `Rulegate-Event-Id`: the event's stable id, the merchant's idempotency key;
//! - `Rulegate-Signature: t=<ms since the epoch>,v1=<hex HMAC-SHA256>`, keyed with the
//!   tenant's secret, over `<t>.<body>` (the raw body bytes).
//!
//! Any 2xx answer delivers it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::protocols::now_ms;
use crate::records::outbox::{self, Destination, Due, Event, EventStore, State};
use crate::tenants::{Registry, Tenant};

/// The events of every tenant, and the workers that deliver them. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Delivery {
    outbox: Arc<dyn EventStore>,
    /// Wakes a tenant's worker when an event arrives or is sent again.
    wakers: Arc<BTreeMap<String, Arc<Notify>>>,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
}

/// Why an event could not be taken: the platform must not get its 200.
#[derive(Debug, thiserror::Error)]
#[error("the event could not be stored: {0}")]
pub struct NotStored(#[from] std::io::Error);

impl Delivery {
    /// Deliveries from `outbox` to the tenants of `registry` that have an endpoint.
    pub fn new(
        outbox: Arc<dyn EventStore>,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
    ) -> Delivery {
        let wakers = registry
            .tenants()
            .filter(|tenant| tenant.events.is_some())
            .map(|tenant| (tenant.name.clone(), Arc::new(Notify::new())))
            .collect();
        Delivery {
            outbox,
            wakers: Arc::new(wakers),
            registry,
            metrics,
        }
    }

    /// Starts one worker per tenant with an endpoint, on the current runtime.
    pub fn start(&self) {
        for (name, waker) in self.wakers.iter() {
            if let Some(tenant) = self.registry.tenant(name) {
                tokio::spawn(worker(
                    self.outbox.clone(),
                    tenant,
                    waker.clone(),
                    self.metrics.clone(),
                ));
            }
        }
    }

    /// Takes a recorded event of `tenant`: when it is one a merchant receives and the
    /// tenant has an endpoint, it is stored durably before this returns.
    pub async fn take(&self, tenant: &Tenant, record: &serde_json::Value) -> Result<(), NotStored> {
        let (Some(kind), Some(waker)) = (
            outbox::delivered_kind(record),
            self.wakers.get(&tenant.name),
        ) else {
            return Ok(());
        };
        let (outbox, name, record) = (self.outbox.clone(), tenant.name.clone(), record.clone());
        tokio::task::spawn_blocking(move || outbox.enqueue(&name, kind, &record, now_ms()))
            .await
            .map_err(std::io::Error::other)??;
        waker.notify_one();
        Ok(())
    }

    /// The stored events of `tenant`, oldest first.
    pub fn events(&self, tenant: &str) -> std::io::Result<Vec<Event>> {
        self.outbox.events(tenant)
    }

    /// Sends the event `id` of `tenant` again, now; `None` when there is no such event.
    pub fn resend(&self, tenant: &str, id: &str) -> std::io::Result<Option<Event>> {
        let event = self.outbox.resend(tenant, id, now_ms())?;
        if event.is_some()
            && let Some(waker) = self.wakers.get(tenant)
        {
            waker.notify_one();
        }
        Ok(event)
    }

    /// Whether `tenant` has an events endpoint.
    pub fn serves(&self, tenant: &str) -> bool {
        self.wakers.contains_key(tenant)
    }
}

/// Delivers one tenant's events until the process ends: every due one, then sleeps
/// until the next is due or a new one arrives.
async fn worker(
    outbox: Arc<dyn EventStore>,
    tenant: Arc<Tenant>,
    waker: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    let Some(destination) = tenant.events.clone() else {
        return;
    };
    let client = match reqwest::Client::builder()
        .timeout(destination.timeout)
        .connect_timeout(destination.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(tenant = %tenant.name, %error, "no HTTP client for event delivery");
            return;
        }
    };
    loop {
        let read = {
            let (outbox, name) = (outbox.clone(), tenant.name.clone());
            // Long enough for every event taken to be attempted once.
            let hold = destination.timeout * 12 + Duration::from_secs(30);
            tokio::task::spawn_blocking(move || outbox.take_due(&name, now_ms(), hold)).await
        };
        let due = match read {
            Ok(Ok(due)) => due,
            Ok(Err(error)) => {
                tracing::error!(tenant = %tenant.name, %error, "the outbox could not be read");
                Due::default()
            }
            Err(_) => Due::default(),
        };
        // The earliest attempt still due, and how many events wait for one.
        let mut next_due = due.next_ms;
        let mut still_pending = due.pending - due.events.len();
        for mut event in due.events {
            let result = attempt(&client, &destination, &tenant.name, &event).await;
            let outcome = settle(&mut event, &destination, result, now_ms());
            metrics.event_delivery(&tenant.name, outcome);
            let saved = {
                let (outbox, name, event) = (outbox.clone(), tenant.name.clone(), event.clone());
                tokio::task::spawn_blocking(move || outbox.save(&name, &event)).await
            };
            if !matches!(saved, Ok(Ok(()))) {
                tracing::error!(tenant = %tenant.name, event = %event.id, "the delivery state could not be saved");
            }
            if event.state == State::Pending {
                next_due = Some(
                    next_due.map_or(event.next_attempt_ms, |due| due.min(event.next_attempt_ms)),
                );
                still_pending += 1;
            }
        }
        metrics.events_pending(&tenant.name, still_pending);
        let mut wait = next_due.map(|due| Duration::from_millis(due.saturating_sub(now_ms())));
        if let Some(recheck) = outbox.recheck() {
            wait = Some(wait.map_or(recheck, |wait| wait.min(recheck)));
        }
        match wait {
            Some(wait) => {
                tokio::select! {
                    () = waker.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
            None => waker.notified().await,
        }
    }
}

/// One attempt: `Ok` when the merchant answered 2xx, else why not.
async fn attempt(
    client: &reqwest::Client,
    destination: &Destination,
    tenant: &str,
    event: &Event,
) -> Result<(), String> {
    let body = event.payload(tenant).to_string();
    let timestamp = now_ms();
    let signature = sign(
        destination.secret.expose().as_bytes(),
        timestamp,
        body.as_bytes(),
    );
    let response = client
        .post(&destination.url)
        .header("content-type", "application/json")
        .header("rulegate-event-id", &event.id)
        .header(
            "rulegate-signature",
            format!("t={timestamp},v1={signature}"),
        )
        .body(body)
        .send()
        .await
        .map_err(|error| {
            if error.is_timeout() {
                format!("no answer within {} ms", destination.timeout.as_millis())
            } else if error.is_connect() {
                "the endpoint could not be reached".to_string()
            } else {
                "the request failed".to_string()
            }
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the endpoint answered {status}"))
    }
}

/// The delivery state after an attempt, and what it was for the metrics: `delivered`,
/// `retried` or `failed` (given up).
fn settle(
    event: &mut Event,
    destination: &Destination,
    result: Result<(), String>,
    now: u64,
) -> &'static str {
    event.attempts += 1;
    match result {
        Ok(()) => {
            event.state = State::Delivered;
            event.delivered_ms = Some(now);
            event.last_error = None;
            tracing::info!(event = %event.id, kind = %event.kind, attempts = event.attempts, "event delivered");
            "delivered"
        }
        Err(error) => {
            let age = Duration::from_millis(now.saturating_sub(event.created_ms));
            event.last_error = Some(error.clone());
            if age >= destination.retry_for {
                event.state = State::Failed;
                tracing::warn!(event = %event.id, kind = %event.kind, attempts = event.attempts, %error, "event delivery given up");
                "failed"
            } else {
                let wait = backoff(destination, &event.id, event.attempts);
                event.next_attempt_ms = now + wait.as_millis() as u64;
                tracing::info!(event = %event.id, kind = %event.kind, attempts = event.attempts, %error, retry_in_ms = wait.as_millis() as u64, "event delivery failed; retrying");
                "retried"
            }
        }
    }
}

/// The wait after `attempts` failed attempts: the first retry wait, doubled each time
/// up to the longest, then between half and all of it (jitter derived from the event
/// and the attempt, so retries of many events spread out).
fn backoff(destination: &Destination, id: &str, attempts: u32) -> Duration {
    let doubled = destination
        .first_retry
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(30)));
    let wait = doubled.min(destination.max_retry);
    let digest = Sha256::new()
        .chain_update(id.as_bytes())
        .chain_update(attempts.to_le_bytes())
        .finalize();
    let fraction = f64::from(u16::from_le_bytes([digest[0], digest[1]])) / f64::from(u16::MAX);
    wait.mul_f64(0.5 + 0.5 * fraction)
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn destination() -> Destination {
        Destination {
            url: "http://127.0.0.1:9".into(),
            secret: Secret::new("s"),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            retry_for: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_longest_wait() {
        let destination = destination();
        for attempts in 1..12 {
            let full = Duration::from_secs(1 << (attempts - 1)).min(Duration::from_secs(60));
            let wait = backoff(&destination, "evt_a", attempts);
            assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait:?}");
        }
        assert_ne!(
            backoff(&destination, "evt_a", 5),
            backoff(&destination, "evt_b", 5)
        );
    }

    #[test]
    fn an_event_is_retried_until_it_is_too_old() {
        let destination = destination();
        let mut event = Event {
            id: "evt_a".into(),
            kind: "kco.push".into(),
            created_ms: 0,
            data: serde_json::json!({}),
            state: State::Pending,
            attempts: 0,
            next_attempt_ms: 0,
            last_error: None,
            delivered_ms: None,
        };
        assert_eq!(
            settle(&mut event, &destination, Err("503".into()), 1_000),
            "retried"
        );
        assert_eq!(event.state, State::Pending);
        assert!(event.next_attempt_ms >= 1_500);
        assert_eq!(
            settle(&mut event, &destination, Err("503".into()), 3_600_000),
            "failed"
        );
        assert_eq!((event.state, event.attempts), (State::Failed, 2));
        event.state = State::Pending;
        assert_eq!(
            settle(&mut event, &destination, Ok(()), 3_600_001),
            "delivered"
        );
        assert_eq!(event.delivered_ms, Some(3_600_001));
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        // Python: hmac.new(b"secret", b"1700000000000.{}", hashlib.sha256).hexdigest()
        let expected = "8399216d111287e3bb28e25c0f4f31dffdf831c68c9ee2b96c2f67c9b81d341b";
        assert_eq!(sign(b"secret", 1_700_000_000_000, b"{}"), expected);
        assert_ne!(sign(b"secret", 1_700_000_000_001, b"{}"), expected);
    }
}
