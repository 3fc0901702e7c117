//! The fleet's store in PostgreSQL, through a small connection pool: modules, tenant
//! pointers and their history ([`Store`]), the merchants' events ([`EventStore`]),
//! recorded platform events ([`Recorder`]), and the hosts' heartbeats.
//!
//! The registry calls the store from blocking threads; each call runs on the server's
//! runtime and gives up after [`CALL_TIMEOUT`], so an outage fails an admin write fast
//! and never holds a callback (callbacks do not call the store).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::{Value, json};
use tokio_postgres::config::Host;
use tokio_postgres::{NoTls, Row};

use super::schema;
use crate::engine::ModuleHash;
use crate::records::outbox::{Due, Event, EventStore, State};
use crate::records::{Journal, Recorder};
use crate::signature::{Signature, Signatures};
use crate::tenants::canary::Side;
use crate::tenants::{Activation, Change, Store, StoreError, TenantState, store::HISTORY};

/// The longest one call of the store may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Delivered events kept per tenant.
const KEEP_DELIVERED: i64 = 1_000;

/// Events one delivery worker takes at once.
const TAKE: i64 = 10;

/// The channel of change notifications; the payload is the tenant.
pub const CHANNEL: &str = "rulegate_tenants";

/// The shared store. Cheap to clone.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    config: tokio_postgres::Config,
    runtime: tokio::runtime::Handle,
    host: String,
    recheck: Duration,
    /// Where recorded events go when the store cannot take them.
    spill: Option<Journal>,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("at", &describe(&self.config))
            .field("host", &self.host)
            .finish()
    }
}

/// Where `config` points, for messages: hosts, ports, database and user, never the
/// password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    format!(
        "PostgreSQL at {} (database {:?}, user {:?})",
        if hosts.is_empty() {
            "localhost:5432".into()
        } else {
            hosts.join(",")
        },
        config.get_dbname().unwrap_or("(the user's)"),
        config.get_user().unwrap_or("(the OS user's)"),
    )
}

fn unavailable(what: &str, error: impl fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what}: {error}"))
}

fn i64_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn u64_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Postgres {
    /// Connects to `url`, checks the server and brings the schema up to date. Errors
    /// name where the URL points and what to check; nothing is written on error.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        host: String,
        recheck: Duration,
    ) -> anyhow::Result<Postgres> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|error| {
            anyhow::anyhow!(
                "`store.url` is not a PostgreSQL URL ({error}); the form is \
                 postgres://user:password@host:port/database"
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CALL_TIMEOUT);
        }
        config.application_name("rulegate");
        let at = describe(&config);
        let (mut client, connection) = config.connect(NoTls).await.map_err(|error| {
            anyhow::anyhow!(
                "cannot connect to {at}: {}; check that the server runs and accepts TCP \
                 connections there, and the URL's user, password and database",
                error_chain(&error)
            )
        })?;
        let driver = tokio::spawn(connection);
        let migrated = schema::migrate(&mut client)
            .await
            .map_err(|error| anyhow::anyhow!("{at}: {error:#}"));
        drop(client);
        let _ = driver.await;
        let applied = migrated?;
        if !applied.is_empty() {
            tracing::info!(store = %at, ?applied, "the store's schema is up to date");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CALL_TIMEOUT))
            .create_timeout(Some(CALL_TIMEOUT))
            .recycle_timeout(Some(CALL_TIMEOUT))
            .build()?;
        Ok(Postgres {
            pool,
            config,
            runtime: tokio::runtime::Handle::current(),
            host,
            recheck,
            spill: None,
        })
    }

    /// Records events the store cannot take in `journal` (this host's file) instead.
    pub fn spill_to(mut self, journal: Journal) -> Postgres {
        self.spill = Some(journal);
        self
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        describe(&self.config)
    }

    /// This host's id.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The connection settings (for the notification listener's own connection).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|error| unavailable(&self.describe(), pool_error(&error)))
    }

    /// Runs `call` on the runtime from a blocking thread, within [`CALL_TIMEOUT`].
    fn block<T>(&self, call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        // The timer is made inside `block_on`, where the runtime is current.
        self.runtime
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, call).await })
            .unwrap_or_else(|_| {
                Err(unavailable(
                    &self.describe(),
                    format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
                ))
            })
    }

    /// Every tenant's generation.
    pub async fn generations(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT tenant, generation FROM rulegate_tenants", &[])
            .await
            .map_err(|error| unavailable("reading the tenants", error_chain(&error)))?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<_, String>(0), u64_of(row.get(1))))
            .collect())
    }

    /// A tenant's state, if it has one.
    pub async fn tenant_state(&self, tenant: &str) -> Result<Option<TenantState>, StoreError> {
        let client = self.client().await?;
        read_state(&**client, tenant, false).await
    }

    /// Stores this host's counts of the tenant's canary that started at `started_ms`
    /// and returns the other hosts' counts of it, summed.
    pub async fn share_canary_figures(
        &self,
        tenant: &str,
        started_ms: u64,
        here: &(Side, Side),
    ) -> Result<(Side, Side), StoreError> {
        let failed = |error: tokio_postgres::Error| {
            unavailable("sharing a canary's figures", error_chain(&error))
        };
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO rulegate_canary_figures (tenant, started_ms, host, active, canary)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, started_ms, host)
                 DO UPDATE SET active = excluded.active, canary = excluded.canary,
                               updated_at = now()",
                &[
                    &tenant,
                    &i64_of(started_ms),
                    &self.host,
                    &json!(here.0),
                    &json!(here.1),
                ],
            )
            .await
            .map_err(failed)?;
        let rows = client
            .query(
                "SELECT active, canary FROM rulegate_canary_figures
                 WHERE tenant = $1 AND started_ms = $2 AND host <> $3",
                &[&tenant, &i64_of(started_ms), &self.host],
            )
            .await
            .map_err(failed)?;
        let mut elsewhere = (Side::default(), Side::default());
        for row in rows {
            let decode = |value: Value| {
                serde_json::from_value::<Side>(value)
                    .map_err(|error| unavailable("reading a canary's figures", error))
            };
            elsewhere.0.add(&decode(row.get(0))?);
            elsewhere.1.add(&decode(row.get(1))?);
        }
        Ok(elsewhere)
    }

    /// Records this host's heartbeat: what it serves, per tenant.
    pub async fn heartbeat(&self, started_ms: u64, tenants: &Value) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO rulegate_hosts (host, started_ms, seen_at, tenants)
                 VALUES ($1, $2, now(), $3)
                 ON CONFLICT (host) DO UPDATE
                 SET started_ms = $2, seen_at = now(), tenants = $3",
                &[&self.host, &i64_of(started_ms), tenants],
            )
            .await
            .map_err(|error| unavailable("recording the heartbeat", error_chain(&error)))?;
        Ok(())
    }

    /// Every host's heartbeat: id, start, ms since it was seen (by the database's
    /// clock), and what it serves.
    pub async fn hosts(&self) -> Result<Vec<(String, u64, u64, Value)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT host, started_ms,
                        (extract(epoch FROM now() - seen_at) * 1000)::bigint, tenants
                 FROM rulegate_hosts ORDER BY host",
                &[],
            )
            .await
            .map_err(|error| unavailable("reading the hosts", error_chain(&error)))?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    u64_of(row.get(1)),
                    u64_of(row.get(2)),
                    row.get(3),
                )
            })
            .collect())
    }
}

/// The pool's error, with its cause.
fn pool_error(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(error) => error_chain(error),
        other => other.to_string(),
    }
}

/// A database error with its cause ("connection refused", the server's message).
fn error_chain(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

async fn read_state(
    client: &impl tokio_postgres::GenericClient,
    tenant: &str,
    for_update: bool,
) -> Result<Option<TenantState>, StoreError> {
    let read = |error: tokio_postgres::Error| unavailable("reading a tenant", error_chain(&error));
    let pointer = client
        .query_opt(
            if for_update {
                "SELECT generation, shadow, configured, canary, canaries FROM rulegate_tenants
                 WHERE tenant = $1 FOR UPDATE"
            } else {
                "SELECT generation, shadow, configured, canary, canaries FROM rulegate_tenants
                 WHERE tenant = $1"
            },
            &[&tenant],
        )
        .await
        .map_err(read)?;
    let Some(pointer) = pointer else {
        return Ok(None);
    };
    let rows = client
        .query(
            "SELECT version, via, host, at_ms, signed_by FROM rulegate_activations
             WHERE tenant = $1 ORDER BY generation DESC LIMIT $2",
            &[&tenant, &(HISTORY as i64)],
        )
        .await
        .map_err(read)?;
    let mut history: Vec<Activation> = rows
        .iter()
        .map(|row| Activation {
            version: row.get(0),
            via: row.get(1),
            host: row.get(2),
            at_ms: u64_of(row.get(3)),
            signed_by: row.get(4),
        })
        .collect();
    history.reverse();
    let canary: Option<Value> = pointer.get(3);
    let canaries: Value = pointer.get(4);
    let decode = |error: serde_json::Error| unavailable("reading a tenant's canary", error);
    Ok(Some(TenantState {
        configured: pointer.get(2),
        history,
        shadow: pointer.get(1),
        canary: canary
            .map(serde_json::from_value)
            .transpose()
            .map_err(decode)?,
        canaries: serde_json::from_value(canaries).map_err(decode)?,
        generation: u64_of(pointer.get(0)),
    }))
}

impl Store for Postgres {
    fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let version = ModuleHash::of(bytes).to_string();
        self.block(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO rulegate_modules (version, bytes, size) VALUES ($1, $2, $3)
                     ON CONFLICT (version) DO NOTHING",
                    &[&version, &bytes, &(bytes.len() as i32)],
                )
                .await
                .map_err(|error| unavailable("storing a module", error_chain(&error)))?;
            Ok(())
        })?;
        Ok(version)
    }

    fn get(&self, version: &str) -> Result<Vec<u8>, StoreError> {
        let bytes: Vec<u8> = self.block(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT bytes FROM rulegate_modules WHERE version = $1",
                    &[&version],
                )
                .await
                .map_err(|error| unavailable("reading a module", error_chain(&error)))?;
            row.map(|row| row.get(0))
                .ok_or_else(|| StoreError::NotStored(version.to_string()))
        })?;
        if ModuleHash::of(&bytes).to_string() != version {
            return Err(unavailable(
                "reading a module",
                format!("the stored bytes do not hash to {version}"),
            ));
        }
        Ok(bytes)
    }

    fn signatures(&self, version: &str) -> Result<Option<Signatures>, StoreError> {
        let rows = self.block(async {
            let client = self.client().await?;
            client
                .query(
                    "SELECT key, signature FROM rulegate_signatures
                     WHERE version = $1 ORDER BY stored_at, key",
                    &[&version],
                )
                .await
                .map_err(|error| unavailable("reading signatures", error_chain(&error)))
        })?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut signatures = Signatures::of(version);
        for row in rows {
            let key: String = row.get(0);
            let key = key
                .parse()
                .map_err(|error| unavailable("reading signatures", error))?;
            signatures.add(Signature {
                key,
                signature: row.get(1),
            });
        }
        Ok(Some(signatures))
    }

    fn add_signatures(&self, signatures: &Signatures) -> Result<(), StoreError> {
        let verified = signatures.clone().verified();
        let version = verified.version.as_str();
        self.block(async {
            let write = |error: tokio_postgres::Error| {
                unavailable("storing signatures", error_chain(&error))
            };
            let mut client = self.client().await?;
            let transaction = client.transaction().await.map_err(write)?;
            let stored = transaction
                .query_opt(
                    "SELECT 1 FROM rulegate_modules WHERE version = $1",
                    &[&version],
                )
                .await
                .map_err(write)?;
            if stored.is_none() {
                return Err(StoreError::NotStored(version.to_string()));
            }
            for signature in &verified.signatures {
                transaction
                    .execute(
                        "INSERT INTO rulegate_signatures (version, key, signature)
                         VALUES ($1, $2, $3)
                         ON CONFLICT (version, key)
                         DO UPDATE SET signature = excluded.signature",
                        &[&version, &signature.key.to_string(), &signature.signature],
                    )
                    .await
                    .map_err(write)?;
            }
            transaction.commit().await.map_err(write)
        })
    }

    fn state(&self, tenant: &str) -> Result<Option<TenantState>, StoreError> {
        self.block(self.tenant_state(tenant))
    }

    fn change(&self, tenant: &str, change: &Change) -> Result<TenantState, StoreError> {
        self.block(async {
            let write = |error: tokio_postgres::Error| {
                unavailable("changing a tenant", error_chain(&error))
            };
            let mut client = self.client().await?;
            let transaction = client.transaction().await.map_err(write)?;
            transaction
                .execute(
                    "INSERT INTO rulegate_tenants (tenant) VALUES ($1)
                     ON CONFLICT (tenant) DO NOTHING",
                    &[&tenant],
                )
                .await
                .map_err(write)?;
            let state = read_state(&*transaction, tenant, true)
                .await?
                .unwrap_or_default();
            if let Change::Activate {
                configured: Some(configured),
                ..
            } = change
                && state.configured.as_ref() == Some(configured)
                && state.active().is_some()
            {
                // Hosts starting together on one configuration activate it once.
                transaction.commit().await.map_err(write)?;
                return Ok(state);
            }
            if state.overtaken(change) {
                transaction.commit().await.map_err(write)?;
                return Ok(state);
            }
            let next = state.changed(change);
            transaction
                .execute(
                    "UPDATE rulegate_tenants
                     SET active = $2, shadow = $3, configured = $4, generation = $5,
                         canary = $6, canaries = $7, updated_at = now()
                     WHERE tenant = $1",
                    &[
                        &tenant,
                        &next.active().map(|a| a.version.as_str()),
                        &next.shadow,
                        &next.configured,
                        &i64_of(next.generation),
                        &next.canary.as_ref().map(|canary| json!(canary)),
                        &json!(next.canaries),
                    ],
                )
                .await
                .map_err(write)?;
            if let Change::Activate { activation, .. } = change {
                transaction
                    .execute(
                        "INSERT INTO rulegate_activations
                         (tenant, generation, version, via, host, at_ms, signed_by)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        &[
                            &tenant,
                            &i64_of(next.generation),
                            &activation.version,
                            &activation.via,
                            &activation.host,
                            &i64_of(activation.at_ms),
                            &activation.signed_by,
                        ],
                    )
                    .await
                    .map_err(write)?;
            }
            transaction
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &tenant])
                .await
                .map_err(write)?;
            transaction.commit().await.map_err(write)?;
            Ok(next)
        })
    }

    fn shared(&self) -> bool {
        true
    }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Pending => "pending",
        State::Delivered => "delivered",
        State::Failed => "failed",
    }
}

fn state_of(name: &str) -> State {
    match name {
        "delivered" => State::Delivered,
        "failed" => State::Failed,
        _ => State::Pending,
    }
}

const EVENT_COLUMNS: &str =
    "id, kind, created_ms, data, state, attempts, next_attempt_ms, last_error, delivered_ms";

fn event_of(row: &Row) -> Event {
    Event {
        id: row.get(0),
        kind: row.get(1),
        created_ms: u64_of(row.get(2)),
        data: row.get(3),
        state: state_of(row.get(4)),
        attempts: u32::try_from(row.get::<_, i32>(5)).unwrap_or(0),
        next_attempt_ms: u64_of(row.get(6)),
        last_error: row.get(7),
        delivered_ms: row.get::<_, Option<i64>>(8).map(u64_of),
    }
}

fn io_error(error: StoreError) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

impl EventStore for Postgres {
    fn enqueue(
        &self,
        tenant: &str,
        kind: String,
        record: &Value,
        now_ms: u64,
    ) -> std::io::Result<String> {
        let event = Event::pending(tenant, kind, record, now_ms);
        self.block(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO rulegate_events
                     (tenant, id, kind, created_ms, data, received_by, state, next_attempt_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)
                     ON CONFLICT (tenant, id) DO NOTHING",
                    &[
                        &tenant,
                        &event.id,
                        &event.kind,
                        &i64_of(event.created_ms),
                        &event.data,
                        &self.host,
                        &i64_of(event.next_attempt_ms),
                    ],
                )
                .await
                .map_err(|error| unavailable("storing an event", error_chain(&error)))?;
            Ok(())
        })
        .map_err(io_error)?;
        Ok(event.id)
    }

    fn events(&self, tenant: &str) -> std::io::Result<Vec<Event>> {
        self.block(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {EVENT_COLUMNS} FROM rulegate_events WHERE tenant = $1
                         ORDER BY created_ms, id"
                    ),
                    &[&tenant],
                )
                .await
                .map_err(|error| unavailable("reading events", error_chain(&error)))?;
            Ok(rows.iter().map(event_of).collect())
        })
        .map_err(io_error)
    }

    fn take_due(&self, tenant: &str, now_ms: u64, hold: Duration) -> std::io::Result<Due> {
        let until = now_ms.saturating_add(u64::try_from(hold.as_millis()).unwrap_or(u64::MAX));
        self.block(async {
            let read = |error: tokio_postgres::Error| {
                unavailable("taking due events", error_chain(&error))
            };
            let client = self.client().await?;
            let rows = client
                .query(
                    &format!(
                        "UPDATE rulegate_events SET lease_until_ms = $3
                         WHERE (tenant, id) IN (
                             SELECT tenant, id FROM rulegate_events
                             WHERE tenant = $1 AND state = 'pending'
                               AND next_attempt_ms <= $2 AND lease_until_ms <= $2
                             ORDER BY created_ms, id LIMIT $4
                             FOR UPDATE SKIP LOCKED)
                         RETURNING {EVENT_COLUMNS}"
                    ),
                    &[&tenant, &i64_of(now_ms), &i64_of(until), &TAKE],
                )
                .await
                .map_err(read)?;
            let mut events: Vec<Event> = rows.iter().map(event_of).collect();
            events.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
            let summary = client
                .query_one(
                    "SELECT count(*),
                            min(greatest(next_attempt_ms, lease_until_ms))
                              FILTER (WHERE greatest(next_attempt_ms, lease_until_ms) > $2)
                     FROM rulegate_events WHERE tenant = $1 AND state = 'pending'",
                    &[&tenant, &i64_of(now_ms)],
                )
                .await
                .map_err(read)?;
            Ok(Due {
                events,
                next_ms: summary.get::<_, Option<i64>>(1).map(u64_of),
                pending: usize::try_from(summary.get::<_, i64>(0)).unwrap_or(0),
            })
        })
        .map_err(io_error)
    }

    fn save(&self, tenant: &str, event: &Event) -> std::io::Result<()> {
        self.block(async {
            let write =
                |error: tokio_postgres::Error| unavailable("saving an event", error_chain(&error));
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE rulegate_events
                     SET state = $3, attempts = $4, next_attempt_ms = $5, last_error = $6,
                         delivered_ms = $7, lease_until_ms = 0
                     WHERE tenant = $1 AND id = $2",
                    &[
                        &tenant,
                        &event.id,
                        &state_name(event.state),
                        &i32::try_from(event.attempts).unwrap_or(i32::MAX),
                        &i64_of(event.next_attempt_ms),
                        &event.last_error,
                        &event.delivered_ms.map(i64_of),
                    ],
                )
                .await
                .map_err(write)?;
            if event.state == State::Delivered {
                client
                    .execute(
                        "DELETE FROM rulegate_events WHERE tenant = $1 AND state = 'delivered'
                         AND id NOT IN (SELECT id FROM rulegate_events
                                        WHERE tenant = $1 AND state = 'delivered'
                                        ORDER BY delivered_ms DESC LIMIT $2)",
                        &[&tenant, &KEEP_DELIVERED],
                    )
                    .await
                    .map_err(write)?;
            }
            Ok(())
        })
        .map_err(io_error)
    }

    fn resend(&self, tenant: &str, id: &str, now_ms: u64) -> std::io::Result<Option<Event>> {
        self.block(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &format!(
                        "UPDATE rulegate_events
                         SET state = 'pending', attempts = 0, next_attempt_ms = $3,
                             last_error = NULL, delivered_ms = NULL, lease_until_ms = 0
                         WHERE tenant = $1 AND id = $2
                         RETURNING {EVENT_COLUMNS}"
                    ),
                    &[&tenant, &id, &i64_of(now_ms)],
                )
                .await
                .map_err(|error| unavailable("resending an event", error_chain(&error)))?;
            Ok(row.as_ref().map(event_of))
        })
        .map_err(io_error)
    }

    fn recheck(&self) -> Option<Duration> {
        Some(self.recheck)
    }
}

impl Recorder for Postgres {
    fn record(&self, tenant: &str, event: &Value) {
        let store = self.clone();
        let (tenant, event) = (tenant.to_string(), event.clone());
        self.runtime.spawn(async move {
            let inserted = async {
                let client = store.client().await?;
                client
                    .execute(
                        "INSERT INTO rulegate_journal (tenant, host, received_at_ms, record)
                         VALUES ($1, $2, $3, $4)",
                        &[
                            &tenant,
                            &store.host,
                            &event.get("received_at_ms").and_then(Value::as_i64),
                            &event,
                        ],
                    )
                    .await
                    .map_err(|error| unavailable("recording an event", error_chain(&error)))?;
                Ok::<(), StoreError>(())
            };
            if let Err(error) = tokio::time::timeout(CALL_TIMEOUT, inserted)
                .await
                .unwrap_or_else(|_| Err(unavailable("recording an event", "timed out")))
            {
                match &store.spill {
                    Some(journal) => {
                        tracing::warn!(%error, "the store could not record an event; this host's journal did");
                        journal.record(&tenant, &event);
                    }
                    None => tracing::error!(%error, "could not record an event in the store"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_carry_the_password() {
        let config: tokio_postgres::Config = "postgres://fleet:s3cret@db.internal:6543/rules"
            .parse()
            .unwrap();
        let described = describe(&config);
        assert_eq!(
            described,
            "PostgreSQL at db.internal:6543 (database \"rules\", user \"fleet\")"
        );
        assert!(!described.contains("s3cret"));
        let config: tokio_postgres::Config = "host=/run/postgresql user=u".parse().unwrap();
        assert_eq!(
            describe(&config),
            "PostgreSQL at /run/postgresql:5432 (database \"(the user's)\", user \"u\")"
        );
    }
}
