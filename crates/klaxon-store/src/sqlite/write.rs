//! The SQL of every write, run by the writer thread inside the batch transaction (each call
//! inside its own savepoint). Owns statements and their parameters; must not begin, commit or
//! roll back anything, and never runs on a reader connection.

use klaxon_engine::lifecycle::State;
use klaxon_engine::{Alert, BaselineRecord};
use rusqlite::{params, Connection};

use super::error::map;
use super::row;
use crate::{
    NewAlert, NewRuleSet, Occurrence, Result, RuleKind, RuleSetRecord, StoreError, StoredAlert,
    TelemetryRow,
};

/// The state of a new alert and of its `created` event.
const NEW_STATE: State = State::Active;

/// Stores engine alerts as new `rule` alerts: SQLite chooses the ids, and each alert gets its
/// `created` event and its first occurrence (at the signal time).
pub(crate) fn insert_alerts(conn: &Connection, alerts: Vec<NewAlert>) -> Result<Vec<StoredAlert>> {
    let mut out = Vec::with_capacity(alerts.len());
    for NewAlert {
        alert: a,
        created_at,
    } in alerts
    {
        let mut s = stored(a, created_at);
        s.id = row::insert_alert(conn, &s, None)?;
        row::insert_event(conn, s.id, created_at, "engine", None, NEW_STATE, "created")?;
        let first = Occurrence {
            at: s.signal_ts,
            value: s.value,
            message: s.message.clone(),
        };
        row::insert_occurrence(conn, s.id, &first)?;
        out.push(s);
    }
    Ok(out)
}

/// The stored form of a new engine alert (id 0 until it is inserted).
fn stored(a: Alert, created_at: i64) -> StoredAlert {
    StoredAlert {
        state: NEW_STATE,
        ..klaxon_engine::lifecycle::from_engine(0, &a, created_at)
    }
}

/// Appends telemetry with the batch's cached statements; a process row also updates its run's
/// current state in `processes`.
pub(crate) fn append_telemetry(conn: &Connection, rows: &[TelemetryRow]) -> Result<()> {
    let mut process_event = conn
        .prepare_cached(
            "INSERT INTO process_events (kind, process, name, \"group\", status, info, \
             steps_todo, steps_done, ts, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(map)?;
    let mut process_state = conn
        .prepare_cached(
            "INSERT INTO processes (process, name, \"group\", status, info, steps_todo, \
             steps_done, started_at, stopped_at, last_ts) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
                     CASE ?8 WHEN 'start' THEN ?9 END, CASE ?8 WHEN 'stop' THEN ?9 END, ?9) \
             ON CONFLICT (process) DO UPDATE SET \
                 name = coalesce(excluded.name, processes.name), \
                 \"group\" = coalesce(excluded.\"group\", processes.\"group\"), \
                 status = coalesce(excluded.status, processes.status), \
                 info = coalesce(excluded.info, processes.info), \
                 steps_todo = coalesce(excluded.steps_todo, processes.steps_todo), \
                 steps_done = coalesce(excluded.steps_done, processes.steps_done), \
                 started_at = coalesce(excluded.started_at, processes.started_at), \
                 stopped_at = CASE ?8 WHEN 'start' THEN NULL \
                                      WHEN 'stop' THEN excluded.stopped_at \
                                      ELSE processes.stopped_at END, \
                 last_ts = max(processes.last_ts, excluded.last_ts)",
        )
        .map_err(map)?;
    let mut mark = conn
        .prepare_cached(
            "INSERT INTO marks (process, \"action\", context, ts, used_ms, action_count, \
             received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(map)?;
    let mut trace = conn
        .prepare_cached(
            "INSERT INTO traces (process, \"action\", context, kind, ts, used_ms, action_count, \
             received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(map)?;
    let mut log = conn
        .prepare_cached(
            "INSERT INTO logs (process, level, message, ts, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(map)?;
    for r in rows {
        match r {
            TelemetryRow::Process {
                kind,
                process,
                name,
                group,
                status,
                info,
                steps_todo,
                steps_done,
                ts,
                received_at,
            } => {
                process_event
                    .execute(params![
                        kind,
                        process,
                        name,
                        group,
                        status,
                        info,
                        steps_todo,
                        steps_done,
                        ts,
                        received_at
                    ])
                    .map_err(map)?;
                process_state
                    .execute(params![
                        process, name, group, status, info, steps_todo, steps_done, kind, ts
                    ])
                    .map_err(map)?;
            }
            TelemetryRow::Mark {
                process,
                action,
                context,
                ts,
                used_ms,
                action_count,
                received_at,
            } => {
                mark.execute(params![
                    process,
                    action,
                    context,
                    ts,
                    used_ms,
                    action_count,
                    received_at
                ])
                .map_err(map)?;
            }
            TelemetryRow::Trace {
                process,
                action,
                context,
                kind,
                ts,
                used_ms,
                action_count,
                received_at,
            } => {
                trace
                    .execute(params![
                        process,
                        action,
                        context,
                        kind,
                        ts,
                        used_ms,
                        action_count,
                        received_at
                    ])
                    .map_err(map)?;
            }
            TelemetryRow::Log {
                process,
                level,
                message,
                ts,
                received_at,
            } => {
                log.execute(params![process, level, message, ts, received_at])
                    .map_err(map)?;
            }
        }
    }
    Ok(())
}

/// The telemetry tables retention prunes (the `processes` state table is not telemetry).
pub(crate) const TELEMETRY_TABLES: [&str; 4] = ["process_events", "marks", "traces", "logs"];

/// Deletes telemetry received before `cutoff` from every telemetry table.
///
/// ASSUMPTION: in each telemetry table `received_at` is non-decreasing in rowid order. The
/// server stamps rows with its clock as it appends them, and rows are only ever appended (new
/// rowids are larger than every existing one) or deleted from the low end here. So the rows to
/// delete are exactly a prefix in rowid order, and its end is found by binary search with point
/// lookups by rowid (O(log n) seeks) instead of scanning `received_at`, which has no index on
/// purpose. If the clock stepped backwards, rows near the boundary may go one retention run
/// early or late; no row is ever skipped for good.
pub(crate) fn delete_telemetry_before(conn: &Connection, cutoff: i64) -> Result<u64> {
    let mut deleted = 0;
    for table in TELEMETRY_TABLES {
        let boundary = first_rowid_at_or_after(conn, table, cutoff)?;
        if let Some(boundary) = boundary {
            let sql = format!("DELETE FROM {table} WHERE rowid < ?1");
            deleted += conn
                .prepare_cached(&sql)
                .and_then(|mut st| st.execute([boundary]))
                .map_err(map)? as u64;
        }
    }
    Ok(deleted)
}

/// The smallest rowid whose row (and every later row) has `received_at >= cutoff`, or one past
/// the last row if every row is older; none for an empty table.
fn first_rowid_at_or_after(conn: &Connection, table: &str, cutoff: i64) -> Result<Option<i64>> {
    let bounds = format!("SELECT min(rowid), max(rowid) FROM {table}");
    let (min, max): (Option<i64>, Option<i64>) = conn
        .prepare_cached(&bounds)
        .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(map)?;
    let (Some(mut lo), Some(max)) = (min, max) else {
        return Ok(None);
    };
    // Rowids may have gaps, so probe "the first row at or after `mid`" (one index seek).
    let probe =
        format!("SELECT rowid, received_at FROM {table} WHERE rowid >= ?1 ORDER BY rowid LIMIT 1");
    let mut probe = conn.prepare_cached(&probe).map_err(map)?;
    // Invariant: every row before `lo` is older than the cutoff; every row from `hi` is not.
    let mut hi = max.saturating_add(1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (rowid, received_at): (i64, i64) = probe
            .query_row([mid], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(map)?;
        if received_at < cutoff {
            lo = rowid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}

pub(crate) fn insert_rule_set(conn: &Connection, rs: NewRuleSet) -> Result<RuleSetRecord> {
    let version: i64 = match rs.version {
        // The unique (kind, group, name, version) refuses a version already stored.
        Some(v) => v,
        None => conn
            .prepare_cached(
                "SELECT coalesce(max(version), 0) + 1 FROM rule_sets \
                 WHERE \"group\" = ?1 AND name = ?2 AND kind = ?3",
            )
            .and_then(|mut st| st.query_row((&rs.group, &rs.name, rs.kind.as_str()), |r| r.get(0)))
            .map_err(map)?,
    };
    conn.prepare_cached(
        "INSERT INTO rule_sets (\"group\", name, version, json, author, created_at, active, kind) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            rs.group,
            rs.name,
            version,
            rs.json,
            rs.author,
            rs.created_at,
            rs.kind.as_str()
        ])
    })
    .map_err(map)?;
    Ok(RuleSetRecord {
        kind: rs.kind,
        group: rs.group,
        name: rs.name,
        version,
        json: rs.json,
        author: rs.author,
        created_at: rs.created_at,
        active: false,
    })
}

/// Makes one version the active one of its group: both updates run in the caller's savepoint,
/// so no reader ever sees two active versions of a group or none in between.
pub(crate) fn activate_rule_set(
    conn: &Connection,
    kind: RuleKind,
    group: &str,
    name: &str,
    version: i64,
) -> Result<RuleSetRecord> {
    let mut rs = row::get_rule_set(conn, kind, group, name, version)?;
    let kind = kind.as_str();
    // Deactivate first: the partial unique index allows one active row per kind and group.
    conn.prepare_cached(
        "UPDATE rule_sets SET active = 0 \
         WHERE \"group\" = ?1 AND kind = ?4 AND active = 1 AND NOT (name = ?2 AND version = ?3)",
    )
    .and_then(|mut st| st.execute((group, name, version, kind)))
    .map_err(map)?;
    conn.prepare_cached(
        "UPDATE rule_sets SET active = 1 \
         WHERE \"group\" = ?1 AND name = ?2 AND version = ?3 AND kind = ?4",
    )
    .and_then(|mut st| st.execute((group, name, version, kind)))
    .map_err(map)?;
    rs.active = true;
    Ok(rs)
}

pub(crate) fn save_baselines(conn: &Connection, baselines: &[BaselineRecord]) -> Result<()> {
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO baselines (\"group\", rule_id, scope, \"action\", context, n, avg) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (\"group\", rule_id, scope, \"action\", context) \
             DO UPDATE SET n = excluded.n, avg = excluded.avg",
        )
        .map_err(map)?;
    for b in baselines {
        upsert
            .execute(params![
                b.group,
                b.rule_id,
                b.scope,
                b.action,
                row::encode_context(b.context.as_deref()),
                b.n,
                b.avg
            ])
            .map_err(map)?;
    }
    Ok(())
}

/// A one-row durable write: proves the writer, the file and fsync work.
pub(crate) fn ping(conn: &Connection) -> Result<()> {
    let changed = conn
        .prepare_cached("UPDATE meta SET pings = pings + 1 WHERE id = 1")
        .and_then(|mut st| st.execute([]))
        .map_err(map)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Unavailable(
            "the meta row is missing".to_owned(),
        ))
    }
}
