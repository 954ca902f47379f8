//! Reads: a small pool of read-only WAL connections used on blocking threads, and the SQL of
//! every read. Never writes, never touches the writer's connection, and never holds a lock
//! across an `.await` (the pool's mutex only guards taking and returning a connection).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use klaxon_engine::BaselineRecord;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use tokio::sync::Semaphore;

use super::error::map;
use super::row::{self, ALERT_COLUMNS, RULE_SET_COLUMNS};
use super::schema;
use super::write::TELEMETRY_TABLES;
use crate::{
    AlertDetail, AlertIndex, AlertQuery, Result, RuleSetRecord, StoreError, StoredAlert,
    TelemetryCounts,
};

/// The most alerts one `list_alerts` returns.
pub(crate) const MAX_LIST: usize = 10_000;

/// Read-only connections, at most `size` in use at once.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    /// Opens `size` readers up front, so a broken file fails `open`, not the first read.
    pub(crate) fn open(path: PathBuf, size: usize) -> Result<ReadPool> {
        let idle = (0..size)
            .map(|_| schema::open_reader(&path))
            .collect::<Result<Vec<_>>>()?;
        Ok(ReadPool {
            path,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closed".to_owned()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let out = f(&conn);
            pool.put(conn);
            drop(permit);
            out
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("a read task failed: {e}")))?
    }

    fn take(&self) -> Result<Connection> {
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        // A permit guarantees an idle connection unless a read panicked and lost its one.
        match conn {
            Some(c) => Ok(c),
            None => schema::open_reader(&self.path),
        }
    }

    fn put(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// Refuses new reads (those running finish).
    pub(crate) fn close(&self) {
        self.permits.close();
    }
}

pub(crate) fn get_alert(conn: &Connection, id: i64) -> Result<StoredAlert> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts AS a WHERE a.id = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row([id], row::alert).optional())
        .map_err(map)?
        .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
}

pub(crate) fn list_alerts(conn: &Connection, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
    let limit = q.limit.min(MAX_LIST);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts AS a WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::with_capacity(5);
    let ascending = match (q.after_id, q.before_id) {
        (Some(after), _) => {
            sql.push_str(" AND a.id > ?");
            args.push(Value::Integer(after));
            true
        }
        (None, Some(before)) => {
            sql.push_str(" AND a.id < ?");
            args.push(Value::Integer(before));
            false
        }
        (None, None) => false,
    };
    for (column, value) in [
        ("rule_id", &q.rule_id),
        ("process", &q.process),
        ("severity", &q.severity),
    ] {
        if let Some(v) = value {
            sql.push_str(" AND a.");
            sql.push_str(column);
            sql.push_str(" = ?");
            args.push(Value::Text(v.clone()));
        }
    }
    sql.push_str(if ascending {
        " ORDER BY a.id ASC LIMIT ?"
    } else {
        " ORDER BY a.id DESC LIMIT ?"
    });
    args.push(Value::Integer(
        i64::try_from(limit).expect("the limit is capped at 10,000"),
    ));
    // At most 2 orders x 3 id bounds x 8 filter sets: the statement cache holds them all.
    let mut st = conn.prepare_cached(&sql).map_err(map)?;
    let rows = st
        .query_map(params_from_iter(args), row::alert)
        .map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}

pub(crate) fn telemetry_counts(conn: &Connection) -> Result<TelemetryCounts> {
    let mut n = [0u64; 4];
    for (slot, table) in n.iter_mut().zip(TELEMETRY_TABLES) {
        let sql = format!("SELECT count(*) FROM {table}");
        *slot = conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(map)?;
    }
    let [process_events, marks, traces, logs] = n;
    Ok(TelemetryCounts {
        process_events,
        marks,
        traces,
        logs,
    })
}

pub(crate) fn list_rule_sets(conn: &Connection) -> Result<Vec<RuleSetRecord>> {
    let sql =
        format!("SELECT {RULE_SET_COLUMNS} FROM rule_sets ORDER BY kind, \"group\", name, version");
    collect(conn, &sql, row::rule_set)
}

pub(crate) fn active_rule_sets(conn: &Connection) -> Result<Vec<RuleSetRecord>> {
    let sql = format!(
        "SELECT {RULE_SET_COLUMNS} FROM rule_sets WHERE active = 1 ORDER BY kind, \"group\", name"
    );
    collect(conn, &sql, row::rule_set)
}

pub(crate) fn load_baselines(conn: &Connection) -> Result<Vec<BaselineRecord>> {
    collect(
        conn,
        "SELECT \"group\", rule_id, scope, \"action\", context, n, avg FROM baselines \
         ORDER BY \"group\", rule_id, scope, \"action\", context",
        |r| {
            Ok(BaselineRecord {
                group: r.get(0)?,
                rule_id: r.get(1)?,
                scope: r.get(2)?,
                action: r.get(3)?,
                context: row::decode_context(r.get(4)?),
                n: r.get(5)?,
                avg: r.get(6)?,
            })
        },
    )
}

/// The highest alert id ever used: AUTOINCREMENT remembers ids of deleted rows in
/// `sqlite_sequence` (explicit ids raise it too); `max(id)` covers a table that never had one.
pub(crate) fn max_alert_id(conn: &Connection) -> Result<i64> {
    conn.prepare_cached(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'alerts'), 0), \
                    coalesce((SELECT max(id) FROM alerts), 0))",
    )
    .and_then(|mut st| st.query_row([], |r| r.get(0)))
    .map_err(map)
}

/// Every alert that is not closed, by id: the states other than `closed` that some alert is
/// in (from `alert_counts`) drive the state index, so closed alerts are never read.
pub(crate) fn load_open_alerts(conn: &Connection) -> Result<Vec<AlertIndex>> {
    let mut st = conn
        .prepare_cached(
            "SELECT id, fingerprint, state, source, severity, occurrences, first_seen, \
             last_seen, resolved_at, suppressed_until, ends_at, labels, suppressed_by, annotations, \
             message \
             FROM alerts INDEXED BY alerts_state_severity \
             WHERE state IN (SELECT state FROM alert_counts WHERE state != 'closed' AND n > 0) \
             ORDER BY id",
        )
        .map_err(map)?;
    let rows = st
        .query_map([], |r| {
            Ok(AlertIndex {
                id: r.get(0)?,
                fingerprint: r.get(1)?,
                state: row::state(r, 2)?,
                source: row::decode_source(3, &r.get::<_, String>(3)?)?,
                severity: r.get(4)?,
                occurrences: r.get(5)?,
                first_seen: r.get(6)?,
                last_seen: r.get(7)?,
                resolved_at: r.get(8)?,
                suppressed_until: r.get(9)?,
                ends_at: r.get(10)?,
                labels: row::decode_map(11, &r.get::<_, String>(11)?)?,
                suppressed_by: r.get(12)?,
                annotations: row::decode_map(13, &r.get::<_, String>(13)?)?,
                message: r.get(14)?,
            })
        })
        .map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}

/// One alert with its events, latest occurrences and notes, read in one snapshot.
pub(crate) fn alert_detail(conn: &Connection, id: i64, occurrences: usize) -> Result<AlertDetail> {
    // A read transaction: the four reads see the same commit.
    let tx = conn.unchecked_transaction().map_err(map)?;
    let alert = get_alert(&tx, id)?;
    let events = collect_for(
        &tx,
        "SELECT id, alert_id, ts, actor, from_state, to_state, reason FROM alert_events \
         WHERE alert_id = ?1 ORDER BY id",
        params![id],
        row::event,
    )?;
    let newest = i64::try_from(occurrences).unwrap_or(i64::MAX);
    let occurrences = collect_for(
        &tx,
        "SELECT at, value, message FROM alert_occurrences WHERE alert_id = ?1 \
         ORDER BY id DESC LIMIT ?2",
        params![id, newest],
        row::occurrence,
    )?;
    let notes = collect_for(
        &tx,
        "SELECT id, alert_id, at, author, text FROM alert_notes WHERE alert_id = ?1 ORDER BY id",
        params![id],
        row::note,
    )?;
    tx.finish().map_err(map)?;
    Ok(AlertDetail {
        alert,
        events,
        occurrences,
        notes,
    })
}

pub(crate) fn collect_for<T>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql).map_err(map)?;
    let rows = st.query_map(args, f).map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    collect_for(conn, sql, [], f)
}

/// Every stored silence, by id.
pub(crate) fn silences(conn: &Connection) -> Result<Vec<klaxon_engine::noise::Silence>> {
    let mut st = conn
        .prepare_cached(
            "SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at \
             FROM silences ORDER BY id",
        )
        .map_err(map)?;
    let rows = st
        .query_map([], |r| {
            let matchers: String = r.get(1)?;
            Ok(klaxon_engine::noise::Silence {
                id: r.get(0)?,
                matchers: serde_json::from_str(&matchers).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                starts_at: r.get(2)?,
                ends_at: r.get(3)?,
                created_by: r.get(4)?,
                comment: r.get(5)?,
                updated_at: r.get(6)?,
            })
        })
        .map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}
