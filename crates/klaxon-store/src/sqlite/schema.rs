//! Opening SQLite connections (pragmas) and migrating the schema.
//! Owns the connection settings and the numbered migrations; runs no queries of the store.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::map;
use crate::{Result, StoreError};

/// The migrations, in order; migration `i` (0-based) brings the schema to version `i + 1`,
/// recorded in `PRAGMA user_version`. Append only: never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_lifecycle.sql"),
    include_str!("migrations/0003_rule_kinds.sql"),
    include_str!("migrations/0004_telemetry_apart.sql"),
    include_str!("migrations/0005_silences.sql"),
    include_str!("migrations/0006_notifications.sql"),
    include_str!("migrations/0007_tokens_and_sessions.sql"),
    include_str!("migrations/0008_rate_limit_holds.sql"),
    include_str!("migrations/0009_incidents.sql"),
    include_str!("migrations/0010_people.sql"),
    include_str!("migrations/0011_schedules.sql"),
    include_str!("migrations/0012_escalations.sql"),
    include_str!("migrations/0013_incident_priority.sql"),
    include_str!("migrations/0014_escalation_policies.sql"),
];

/// The migrations of the telemetry database (its own file, its own `user_version`).
const TELEMETRY_MIGRATIONS: &[&str] = &[include_str!("migrations/telemetry/0001_init.sql")];

/// Which of the store's two database files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Db {
    /// Alerts, their life, rule sets, baselines, tokens, dashboard sessions.
    Main,
    /// Process rows, marks, traces and logs: high volume, written in large batches, apart so
    /// that an alert commit never waits behind them.
    Telemetry,
}

impl Db {
    fn migrations(self) -> &'static [&'static str] {
        match self {
            Db::Main => MIGRATIONS,
            Db::Telemetry => TELEMETRY_MIGRATIONS,
        }
    }
}

/// The schema version after every migration ran.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub(crate) const NEWEST: i64 = MIGRATIONS.len() as i64;

/// How long a connection waits for a lock held by another connection before failing busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's page cache, in KiB (as a negative `cache_size`).
const WRITER_CACHE_KIB: i64 = -32 * 1024;

/// Statements each connection keeps prepared (the writer's per-row statements included).
const STATEMENT_CACHE: usize = 64;

/// Opens the write connection: creates the file, sets WAL and full durability, and migrates.
pub(crate) fn open_writer(path: &Path, db: Db) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| opening(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(map)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "{}: cannot use write-ahead logging (journal mode is {mode})",
            path.display()
        )));
    }
    // FULL in WAL mode: every commit fsyncs the WAL before it returns, so a committed write
    // survives a power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(map)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(map)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(map)?;
    // Checkpoints run on their own thread (`checkpoint.rs`), never inside a commit; the log is
    // cut back to this size when it restarts.
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(map)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(map)?;
    // A batch of 100,000 telemetry rows dirties ~10 MB of pages; a page cache that holds them
    // spares SQLite spilling pages to the WAL in the middle of the transaction.
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
        .map_err(map)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    migrate(&mut conn, db.migrations())?;
    Ok(conn)
}

/// Opens a read-only connection to a database `open_writer` has already created.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| opening(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map)?;
    conn.pragma_update(None, "query_only", "ON").map_err(map)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn opening(path: &Path, e: rusqlite::Error) -> StoreError {
    match map(e) {
        StoreError::Unavailable(m) => {
            StoreError::Unavailable(format!("cannot open {}: {m}", path.display()))
        }
        other => other,
    }
}

/// Brings the schema to the newest version, one transaction per migration. Reopening an
/// up-to-date database changes nothing.
fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<()> {
    #[allow(clippy::cast_possible_wrap)] // a handful of migrations
    let newest = migrations.len() as i64;
    loop {
        // IMMEDIATE takes the write lock first, so two processes opening the same new file
        // cannot both run a migration: the second waits, then sees the new version.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(map)?;
        if version > newest {
            return Err(StoreError::Unavailable(format!(
                "database schema version {version} is newer than this build knows ({newest})"
            )));
        }
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|v| migrations.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(sql).map_err(map)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(map)?;
        tx.commit().map_err(map)?;
        tracing::info!(version = version + 1, "migrated sqlite schema");
    }
}
