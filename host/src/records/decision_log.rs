//! The decision log: one JSON line per callback that ran rules: when, which tenant,
//! platform, callback and module version, the canonical input, the decisions after
//! the failure policy, the response status, fuel, peak memory, latency and the outcome
//! (with why the policy answered). `rulegate replay` re-runs it on a candidate.
//!
//! Personal data the cart can carry (street lines, organisation names) is redacted by
//! default; secrets and payment credentials never reach a cart, so never the log.
//! Lines go to a writer thread through a bounded queue, so a slow disk never delays an
//! answer (a full queue drops the line and counts it). The file rotates by size.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::decide::{Decisions, Failure, Resolved};
use crate::model::{Cart, DecisionKind};

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Lines waiting for the writer before new ones are dropped.
const QUEUE: usize = 8_192;

/// The cart fields the log can redact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Redact {
    /// Street lines of every address.
    StreetLines,
    /// Organisation names of addresses.
    Organization,
    /// Postal codes.
    PostalCode,
    /// City names.
    City,
    /// The buyer's VAT id and organisation number.
    CustomerIds,
    /// The merchant data (KCO `merchant_data`, the Messenger payload).
    MerchantData,
}

/// The `[decision_log]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionLogSettings {
    /// Whether to write the log.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The file; relative paths are under the state directory.
    #[serde(default = "default_path")]
    pub path: PathBuf,
    /// Rotate when the file would grow past this many bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`decisions.jsonl.1` is the newest).
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// What to redact.
    #[serde(default = "default_redact")]
    pub redact: Vec<Redact>,
}

fn yes() -> bool {
    true
}
fn default_path() -> PathBuf {
    PathBuf::from("decisions.jsonl")
}
fn default_max_bytes() -> u64 {
    64 << 20
}
fn default_keep() -> usize {
    4
}
fn default_redact() -> Vec<Redact> {
    vec![Redact::StreetLines, Redact::Organization]
}

impl Default for DecisionLogSettings {
    fn default() -> Self {
        DecisionLogSettings {
            enabled: true,
            path: default_path(),
            max_bytes: default_max_bytes(),
            keep: default_keep(),
            redact: default_redact(),
        }
    }
}

/// One decision of a record: the answer after the policy, and why the policy answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedDecision {
    /// The decided value, or `{"rejected": rejection}`.
    pub answer: Value,
    /// Set when the module did not answer: `{"kind", "reason"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Value>,
}

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// When the callback was answered (ms since the epoch).
    pub time_ms: u64,
    /// The tenant.
    pub tenant: String,
    /// `kco`, `klix`, `messenger`.
    pub platform: String,
    /// The callback (`address_update`, `checkout_update`, ...).
    pub callback: String,
    /// The module version that decided.
    pub module: String,
    /// The canonical cart, redacted as configured.
    pub input: Cart,
    /// Which fields were redacted.
    #[serde(default)]
    pub redacted: Vec<Redact>,
    /// The decisions, by export name (`tax`, `shipping-options`, `validate`), in the
    /// order they ran.
    pub decisions: Vec<(String, LoggedDecision)>,
    /// The HTTP status the platform got.
    pub status: u16,
    /// Fuel used by all decisions.
    pub fuel: u64,
    /// The largest linear memory the module reached.
    pub peak_memory_bytes: u64,
    /// Time in the server, microseconds.
    pub latency_us: u64,
    /// `ok`, `rejected`, `fallback`, ...; for a shadow evaluation `same`,
    /// `different` or `failed`.
    pub outcome: String,
    /// Set on a shadow evaluation: the live version it was compared with. Its
    /// decisions are the candidate's and were never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_of: Option<String>,
    /// The host that answered (every line carries it; [`DecisionLog`] writes it).
    #[serde(default, skip_serializing)]
    pub host: Option<String>,
}

fn logged<T: Serialize>(resolved: &Resolved<T>) -> LoggedDecision {
    let answer = match &resolved.answer {
        Ok(value) => serde_json::to_value(value).unwrap_or(Value::Null),
        Err(rejection) => json!({ "rejected": rejection }),
    };
    LoggedDecision {
        answer,
        fallback: resolved.fallback.as_ref().map(failure_json),
    }
}

/// A failure as the log writes it.
pub fn failure_json(failure: &Failure) -> Value {
    json!({
        "kind": failure.kind(),
        "reason": failure.to_string().lines().next().unwrap_or(""),
    })
}

/// The decisions of a callback, in the order the host asks them.
pub fn logged_decisions(decisions: &Decisions) -> Vec<(DecisionKind, LoggedDecision)> {
    let mut out = Vec::with_capacity(3);
    if let Some(tax) = &decisions.tax {
        out.push((DecisionKind::Tax, logged(tax)));
    }
    if let Some(shipping) = &decisions.shipping {
        out.push((DecisionKind::Shipping, logged(shipping)));
    }
    if let Some(verdict) = &decisions.verdict {
        out.push((DecisionKind::Validate, logged(verdict)));
    }
    out
}

/// `cart` with the configured fields replaced by [`REDACTED`].
pub fn redact(cart: &Cart, fields: &[Redact]) -> Cart {
    let mut cart = cart.clone();
    let hide = |value: &mut Option<String>| {
        if value.is_some() {
            *value = Some(REDACTED.to_string());
        }
    };
    let addresses = [
        cart.billing_address.as_mut(),
        cart.shipping_address.as_mut(),
        cart.pickup_point
            .as_mut()
            .and_then(|point| point.address.as_mut()),
    ];
    for address in addresses.into_iter().flatten() {
        for field in fields {
            match field {
                Redact::StreetLines => {
                    for line in &mut address.street_lines {
                        *line = REDACTED.to_string();
                    }
                }
                Redact::Organization => hide(&mut address.organization),
                Redact::PostalCode => hide(&mut address.postal_code),
                Redact::City => hide(&mut address.city),
                _ => {}
            }
        }
    }
    if fields.contains(&Redact::CustomerIds) {
        hide(&mut cart.customer.vat_id);
        hide(&mut cart.customer.organization_id);
    }
    if fields.contains(&Redact::MerchantData) {
        hide(&mut cart.merchant_data);
    }
    cart
}

/// Where records go. Cheap to clone; a disabled log drops everything.
#[derive(Debug, Clone)]
pub struct DecisionLog {
    sender: Option<SyncSender<Message>>,
    redact: Arc<Vec<Redact>>,
    dropped: Arc<AtomicU64>,
    host: Arc<str>,
}

/// A line of the log: the host, then the record.
#[derive(Serialize)]
struct Line<'a> {
    host: &'a str,
    #[serde(flatten)]
    record: &'a Record,
}

enum Message {
    Line(String),
    Flush(SyncSender<()>),
}

impl DecisionLog {
    /// A log that writes nothing.
    pub fn disabled() -> DecisionLog {
        DecisionLog {
            sender: None,
            redact: Arc::new(Vec::new()),
            dropped: Arc::new(AtomicU64::new(0)),
            host: Arc::from(""),
        }
    }

    /// Starts the writer for `settings`, the path resolved against `state_dir`; every
    /// line names `host`.
    pub fn open(
        settings: &DecisionLogSettings,
        state_dir: &Path,
        host: &str,
    ) -> std::io::Result<DecisionLog> {
        if !settings.enabled {
            return Ok(DecisionLog::disabled());
        }
        let path = state_dir.join(&settings.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut writer = Writer {
            file: OpenOptions::new().create(true).append(true).open(&path)?,
            size: std::fs::metadata(&path)?.len(),
            path,
            max_bytes: settings.max_bytes.max(1),
            keep: settings.keep,
        };
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || writer.run(receiver))?;
        Ok(DecisionLog {
            sender: Some(sender),
            redact: Arc::new(settings.redact.clone()),
            dropped: Arc::new(AtomicU64::new(0)),
            host: Arc::from(host),
        })
    }

    /// Whether records are written (so callers can skip building them).
    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// The configured redactions.
    pub fn redactions(&self) -> &[Redact] {
        &self.redact
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues a record; never blocks.
    pub fn write(&self, record: &Record) {
        let Some(sender) = &self.sender else { return };
        let line = Line {
            host: &self.host,
            record,
        };
        let Ok(line) = serde_json::to_string(&line) else {
            return;
        };
        if let Err(TrySendError::Full(_)) = sender.try_send(Message::Line(line)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits (at most `within`) until every queued line is on disk.
    pub fn flush(&self, within: Duration) {
        let Some(sender) = &self.sender else { return };
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        if sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(within);
        }
    }
}

/// The writer thread's file, rotated by size.
struct Writer {
    file: File,
    path: PathBuf,
    size: u64,
    max_bytes: u64,
    keep: usize,
}

impl Writer {
    fn run(&mut self, receiver: Receiver<Message>) {
        while let Ok(message) = receiver.recv() {
            match message {
                Message::Line(mut line) => {
                    line.push('\n');
                    if let Err(error) = self.append(line.as_bytes()) {
                        tracing::error!(path = %self.path.display(), %error, "decision log write failed");
                    }
                }
                Message::Flush(done) => {
                    let _ = self.file.sync_data();
                    let _ = done.send(());
                }
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.size > 0 && self.size + bytes.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// `path` → `path.1` → ... → `path.<keep>` (the oldest is removed).
    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Platform, empty_cart};

    fn address() -> Address {
        Address {
            country: "US".into(),
            region: Some("CA".into()),
            postal_code: Some("94025".into()),
            city: Some("Menlo Park".into()),
            street_lines: vec!["1 Hacker Way".into(), "Apt 2".into()],
            organization: Some("Acme".into()),
        }
    }

    #[test]
    fn redaction_hides_what_is_configured() {
        let mut cart = empty_cart(Platform::Kco, "USD", 0);
        cart.shipping_address = Some(address());
        cart.billing_address = Some(address());
        cart.customer.vat_id = Some("SE556737043101".into());
        let redacted = redact(&cart, &default_redact());
        let text = serde_json::to_string(&redacted).unwrap();
        assert!(!text.contains("Hacker") && !text.contains("Acme"), "{text}");
        assert!(text.contains("94025") && text.contains("SE556737043101"));
        let shipping = redacted.shipping_address.unwrap();
        assert_eq!(shipping.street_lines, vec![REDACTED, REDACTED]);
        let all = redact(
            &cart,
            &[Redact::PostalCode, Redact::City, Redact::CustomerIds],
        );
        let text = serde_json::to_string(&all).unwrap();
        assert!(!text.contains("94025") && !text.contains("SE556737043101"));
        assert!(!text.contains("Menlo"));
    }

    #[test]
    fn rotation_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DecisionLogSettings {
            max_bytes: 100,
            keep: 2,
            ..DecisionLogSettings::default()
        };
        let log = DecisionLog::open(&settings, dir.path(), "host-a").unwrap();
        let cart = empty_cart(Platform::Kco, "EUR", 0);
        for n in 0..7 {
            log.write(&Record {
                time_ms: n,
                tenant: "t".into(),
                platform: "kco".into(),
                callback: "validation".into(),
                module: "sha256:x".into(),
                input: cart.clone(),
                redacted: vec![],
                decisions: vec![],
                status: 200,
                fuel: 0,
                peak_memory_bytes: 0,
                latency_us: 0,
                outcome: "ok".into(),
                shadow_of: None,
                host: None,
            });
        }
        log.flush(Duration::from_secs(5));
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        // Each record is longer than 100 bytes: one per file.
        assert!(read("decisions.jsonl").contains("\"time_ms\":6"));
        let line: Record = serde_json::from_str(read("decisions.jsonl").trim()).unwrap();
        assert_eq!(line.host.as_deref(), Some("host-a"));
        assert!(read("decisions.jsonl.1").contains("\"time_ms\":5"));
        assert!(read("decisions.jsonl.2").contains("\"time_ms\":4"));
        assert!(!dir.path().join("decisions.jsonl.3").exists());
    }
}
