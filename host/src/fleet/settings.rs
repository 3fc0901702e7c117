//! The `[store]` table: where the registry lives. The state directory (the default)
//! serves one host; PostgreSQL is shared by a fleet.

use std::time::Duration;

use serde::Deserialize;

use crate::secret::SecretRef;

/// Which store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// The state directory of this host.
    #[default]
    Files,
    /// A PostgreSQL database shared by every host of the fleet.
    Postgres,
}

/// The `[store]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `files` (default) or `postgres`.
    #[serde(default)]
    pub kind: StoreKind,
    /// The PostgreSQL URL (`postgres://user:password@host:port/database`), by
    /// reference: `{ env = "RULEGATE_DATABASE_URL" }` or `{ file = "..." }`.
    #[serde(default)]
    pub url: Option<SecretRef>,
    /// How often a host re-reads the tenants' pointers, whatever notifications say.
    #[serde(default = "two_seconds")]
    pub poll_interval_ms: u64,
    /// Whether hosts `LISTEN` for changes (a hint; polling is the truth).
    #[serde(default = "yes")]
    pub notifications: bool,
    /// This host's name in the fleet view, the history and the decision log (default:
    /// the hostname).
    #[serde(default)]
    pub host_id: Option<String>,
    /// A host that could not confirm the store's state for this long fails `/readyz`.
    #[serde(default)]
    pub max_staleness_ms: Option<u64>,
    /// Connections each host keeps to the database.
    #[serde(default = "four")]
    pub pool_size: usize,
}

fn two_seconds() -> u64 {
    2_000
}
fn yes() -> bool {
    true
}
fn four() -> usize {
    4
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            kind: StoreKind::Files,
            url: None,
            poll_interval_ms: two_seconds(),
            notifications: true,
            host_id: None,
            max_staleness_ms: None,
            pool_size: four(),
        }
    }
}

impl StoreSettings {
    /// Checks what spans the table's keys.
    pub fn validate(&self) -> anyhow::Result<()> {
        match self.kind {
            StoreKind::Files => anyhow::ensure!(
                self.url.is_none(),
                "`store.url` is for `kind = \"postgres\"`"
            ),
            StoreKind::Postgres => anyhow::ensure!(
                self.url.is_some(),
                "`store.url` is needed with `kind = \"postgres\"`, e.g. url = {{ env = \"RULEGATE_DATABASE_URL\" }}"
            ),
        }
        anyhow::ensure!(
            self.poll_interval_ms >= 10,
            "`store.poll_interval_ms` must be at least 10"
        );
        anyhow::ensure!(
            (1..=64).contains(&self.pool_size),
            "`store.pool_size` must be between 1 and 64"
        );
        if let Some(host) = &self.host_id {
            anyhow::ensure!(
                !host.is_empty() && host.len() <= 128 && !host.chars().any(char::is_control),
                "`store.host_id` must be 1 to 128 printable characters"
            );
        }
        Ok(())
    }

    /// This host's id: `host_id`, else the hostname.
    pub fn host_id(&self) -> String {
        self.host_id.clone().unwrap_or_else(|| {
            let name = gethostname::gethostname().to_string_lossy().into_owned();
            if name.is_empty() {
                "rulegate".into()
            } else {
                name
            }
        })
    }

    /// The poll interval.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}
