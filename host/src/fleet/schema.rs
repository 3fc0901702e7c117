//! The store's schema, embedded and versioned: each migration runs once, in order, in
//! its own transaction, under an advisory lock, so hosts starting together apply it
//! once. A database whose schema is newer than this binary knows is refused untouched.

use anyhow::Context;
use tokio_postgres::Client;

/// The migrations, by version.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_registry.sql")),
    (2, include_str!("migrations/0002_signatures.sql")),
    (3, include_str!("migrations/0003_canaries.sql")),
];

/// The schema version this binary writes and reads.
pub const LATEST: i32 = 3;

/// The advisory lock key of migrations (any constant shared by every host).
const LOCK: i64 = 0x7275_6c65_6761_7465; // "rulegate"

/// Brings the schema to [`LATEST`]; returns the versions this host applied.
pub async fn migrate(client: &mut Client) -> anyhow::Result<Vec<i32>> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .await
        .context("taking the migration lock")?;
    let applied = apply(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .await;
    let applied = applied?;
    unlocked.context("releasing the migration lock")?;
    Ok(applied)
}

async fn apply(client: &mut Client) -> anyhow::Result<Vec<i32>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('rulegate_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    let current: i32 = if exists {
        client
            .query_one("SELECT coalesce(max(version), 0) FROM rulegate_schema", &[])
            .await
            .context("reading rulegate_schema")?
            .get(0)
    } else {
        0
    };
    anyhow::ensure!(
        current <= LATEST,
        "the database's rulegate schema is version {current}, newer than this binary's \
         {LATEST}: run a rulegate release that knows it, or point `store.url` at another \
         database (nothing was written)"
    );
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let transaction = client.transaction().await?;
        if version == 1 {
            transaction
                .batch_execute(
                    "CREATE TABLE rulegate_schema (
                        version integer PRIMARY KEY,
                        applied_at timestamptz NOT NULL DEFAULT now())",
                )
                .await
                .context("creating rulegate_schema")?;
        }
        transaction
            .batch_execute(sql)
            .await
            .with_context(|| format!("applying schema migration {version}"))?;
        transaction
            .execute(
                "INSERT INTO rulegate_schema (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        transaction.commit().await?;
        tracing::info!(version, "schema migration applied");
        applied.push(version);
    }
    Ok(applied)
}
