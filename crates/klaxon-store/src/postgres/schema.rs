//! The numbered migrations of the PostgreSQL schema and how they are applied: each in one
//! transaction holding an advisory lock, so nodes starting at once migrate once. Runs no queries
//! of the store.

use tokio_postgres::Client;

use super::error::map;
use crate::{Result, StoreError};

/// The migrations, in order; migration `i` (0-based) brings the schema to version `i + 1`,
/// recorded in `schema_version`. Append only: never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_escalation_policies.sql"),
    include_str!("migrations/0003_cluster.sql"),
];

/// The schema version after every migration ran.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub(crate) const NEWEST: i64 = MIGRATIONS.len() as i64;

/// The first key of the migration lock (`pg_advisory_xact_lock(key, hashtext(schema))`): one
/// lock per schema, like the write lock (`mod.rs`), whose first key differs.
const MIGRATION_LOCK: i32 = 0x6b6c_7800;

/// Brings the schema of the connection's search path to the newest version, one transaction per
/// migration. Several nodes may call it at once: the advisory lock makes the others wait, then
/// find the new version and do nothing.
pub(crate) async fn migrate(client: &mut Client) -> Result<()> {
    loop {
        let tx = client.transaction().await.map_err(map)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))",
            &[&MIGRATION_LOCK],
        )
        .await
        .map_err(map)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (\
                 id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
        )
        .await
        .map_err(map)?;
        let version: i64 = tx
            .query_opt("SELECT version FROM schema_version WHERE id = 1", &[])
            .await
            .map_err(map)?
            .map_or(Ok(0), |r| r.try_get(0))
            .map_err(map)?;
        if version > NEWEST {
            return Err(StoreError::Unavailable(format!(
                "database schema version {version} is newer than this build knows ({NEWEST})"
            )));
        }
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.batch_execute(sql).await.map_err(map)?;
        tx.execute(
            "INSERT INTO schema_version (id, version) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            &[&(version + 1)],
        )
        .await
        .map_err(map)?;
        tx.commit().await.map_err(map)?;
        tracing::info!(version = version + 1, "migrated postgresql schema");
    }
}
