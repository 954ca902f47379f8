//! The SQL of the writes of alerts, telemetry, rule sets and baselines, run inside the caller's
//! write transaction. Owns statements and their parameters; must not begin, commit or roll back
//! anything.

use klaxon_engine::lifecycle::State;
use klaxon_engine::{Alert, BaselineRecord};
use tokio_postgres::Transaction;

use super::error::map;
use super::row::{self, exec, get};
use crate::{
    NewAlert, NewRuleSet, Occurrence, Result, RuleKind, RuleSetRecord, StoreError, StoredAlert,
    TelemetryRow,
};

/// The state of a new alert and of its `created` event.
const NEW_STATE: State = State::Active;

/// Stores engine alerts as new `rule` alerts: the identity chooses the ids, and each alert gets
/// its `created` event and its first occurrence (at the signal time).
pub(crate) async fn insert_alerts(
    tx: &Transaction<'_>,
    alerts: Vec<NewAlert>,
) -> Result<Vec<StoredAlert>> {
    let mut out = Vec::with_capacity(alerts.len());
    for NewAlert {
        alert: a,
        created_at,
    } in alerts
    {
        let mut s = stored(a, created_at);
        s.id = row::insert_alert(tx, &s, None).await?;
        row::insert_event(tx, s.id, created_at, "engine", None, NEW_STATE, "created").await?;
        let first = Occurrence {
            at: s.signal_ts,
            value: s.value,
            message: s.message.clone(),
        };
        row::insert_occurrence(tx, s.id, &first).await?;
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

/// Column arrays of one telemetry table, appended with one `INSERT … SELECT FROM unnest(…)`.
#[derive(Default)]
struct Marks {
    process: Vec<String>,
    action: Vec<String>,
    context: Vec<Option<String>>,
    ts: Vec<i64>,
    used_ms: Vec<i64>,
    action_count: Vec<i64>,
    received_at: Vec<i64>,
}

#[derive(Default)]
struct Traces {
    process: Vec<String>,
    action: Vec<String>,
    context: Vec<Option<String>>,
    kind: Vec<&'static str>,
    ts: Vec<i64>,
    used_ms: Vec<Option<i64>>,
    action_count: Vec<i64>,
    received_at: Vec<i64>,
}

#[derive(Default)]
struct Logs {
    process: Vec<String>,
    level: Vec<String>,
    message: Vec<String>,
    ts: Vec<i64>,
    received_at: Vec<i64>,
}

/// Appends telemetry: marks, traces and logs one statement per table; a process row also
/// updates its run's current state in `processes`, in order.
pub(crate) async fn append_telemetry(tx: &Transaction<'_>, rows: Vec<TelemetryRow>) -> Result<()> {
    let (mut marks, mut traces, mut logs) = (Marks::default(), Traces::default(), Logs::default());
    let mut processes = Vec::new();
    for r in rows {
        match r {
            p @ TelemetryRow::Process { .. } => processes.push(p),
            TelemetryRow::Mark {
                process,
                action,
                context,
                ts,
                used_ms,
                action_count,
                received_at,
            } => {
                marks.process.push(process);
                marks.action.push(action);
                marks.context.push(context);
                marks.ts.push(ts);
                marks.used_ms.push(used_ms);
                marks.action_count.push(row::count(action_count));
                marks.received_at.push(received_at);
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
                traces.process.push(process);
                traces.action.push(action);
                traces.context.push(context);
                traces.kind.push(kind);
                traces.ts.push(ts);
                traces.used_ms.push(used_ms);
                traces.action_count.push(row::count(action_count));
                traces.received_at.push(received_at);
            }
            TelemetryRow::Log {
                process,
                level,
                message,
                ts,
                received_at,
            } => {
                logs.process.push(process);
                logs.level.push(level);
                logs.message.push(message);
                logs.ts.push(ts);
                logs.received_at.push(received_at);
            }
        }
    }
    if !marks.ts.is_empty() {
        exec(
            tx,
            "INSERT INTO marks (process, \"action\", context, ts, used_ms, action_count, \
             received_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], \
             $5::int8[], $6::int8[], $7::int8[])",
            &[
                &marks.process,
                &marks.action,
                &marks.context,
                &marks.ts,
                &marks.used_ms,
                &marks.action_count,
                &marks.received_at,
            ],
        )
        .await?;
    }
    if !traces.ts.is_empty() {
        exec(
            tx,
            "INSERT INTO traces (process, \"action\", context, kind, ts, used_ms, action_count, \
             received_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
             $5::int8[], $6::int8[], $7::int8[], $8::int8[])",
            &[
                &traces.process,
                &traces.action,
                &traces.context,
                &traces.kind,
                &traces.ts,
                &traces.used_ms,
                &traces.action_count,
                &traces.received_at,
            ],
        )
        .await?;
    }
    if !logs.ts.is_empty() {
        exec(
            tx,
            "INSERT INTO logs (process, level, message, ts, received_at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[])",
            &[
                &logs.process,
                &logs.level,
                &logs.message,
                &logs.ts,
                &logs.received_at,
            ],
        )
        .await?;
    }
    if processes.is_empty() {
        return Ok(());
    }
    let event = tx
        .prepare(
            "INSERT INTO process_events (kind, process, name, \"group\", status, info, \
             steps_todo, steps_done, ts, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await
        .map_err(map)?;
    let state = tx
        .prepare(
            "INSERT INTO processes AS p (process, name, \"group\", status, info, steps_todo, \
             steps_done, started_at, stopped_at, last_ts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, \
                     CASE $8::text WHEN 'start' THEN $9::int8 END, \
                     CASE $8::text WHEN 'stop' THEN $9::int8 END, $9::int8) \
             ON CONFLICT (process) DO UPDATE SET \
                 name = coalesce(excluded.name, p.name), \
                 \"group\" = coalesce(excluded.\"group\", p.\"group\"), \
                 status = coalesce(excluded.status, p.status), \
                 info = coalesce(excluded.info, p.info), \
                 steps_todo = coalesce(excluded.steps_todo, p.steps_todo), \
                 steps_done = coalesce(excluded.steps_done, p.steps_done), \
                 started_at = coalesce(excluded.started_at, p.started_at), \
                 stopped_at = CASE $8::text WHEN 'start' THEN NULL \
                                      WHEN 'stop' THEN excluded.stopped_at \
                                      ELSE p.stopped_at END, \
                 last_ts = greatest(p.last_ts, excluded.last_ts)",
        )
        .await
        .map_err(map)?;
    for p in processes {
        let TelemetryRow::Process {
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
        } = p
        else {
            continue;
        };
        tx.execute(
            &event,
            &[
                &kind,
                &process,
                &name,
                &group,
                &status,
                &info,
                &steps_todo,
                &steps_done,
                &ts,
                &received_at,
            ],
        )
        .await
        .map_err(map)?;
        tx.execute(
            &state,
            &[
                &process,
                &name,
                &group,
                &status,
                &info,
                &steps_todo,
                &steps_done,
                &kind,
                &ts,
            ],
        )
        .await
        .map_err(map)?;
    }
    Ok(())
}

/// The telemetry tables retention prunes (the `processes` state table is not telemetry).
pub(crate) const TELEMETRY_TABLES: [&str; 4] = ["process_events", "marks", "traces", "logs"];

/// Deletes telemetry received before `cutoff` from every telemetry table (each has an index on
/// `received_at`).
pub(crate) async fn delete_telemetry_before(tx: &Transaction<'_>, cutoff: i64) -> Result<u64> {
    let mut deleted = 0;
    for table in TELEMETRY_TABLES {
        let sql = format!("DELETE FROM {table} WHERE received_at < $1");
        deleted += exec(tx, &sql, &[&cutoff]).await?;
    }
    Ok(deleted)
}

pub(crate) async fn insert_rule_set(tx: &Transaction<'_>, rs: NewRuleSet) -> Result<RuleSetRecord> {
    let kind = rs.kind.as_str();
    let version: i64 = match rs.version {
        // The unique (kind, group, name, version) refuses a version already stored.
        Some(v) => v,
        None => {
            let r = tx
                .query_one(
                    "SELECT coalesce(max(version), 0) + 1 FROM rule_sets \
                     WHERE \"group\" = $1 AND name = $2 AND kind = $3",
                    &[&rs.group, &rs.name, &kind],
                )
                .await
                .map_err(map)?;
            get(&r, 0)?
        }
    };
    exec(
        tx,
        "INSERT INTO rule_sets (\"group\", name, version, body, author, created_at, active, kind) \
         VALUES ($1, $2, $3, $4, $5, $6, false, $7)",
        &[
            &rs.group,
            &rs.name,
            &version,
            &rs.json,
            &rs.author,
            &rs.created_at,
            &kind,
        ],
    )
    .await?;
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

/// Makes one version the active one of its group: both updates run in the caller's
/// transaction, so no reader ever sees two active versions of a group or none in between.
pub(crate) async fn activate_rule_set(
    tx: &Transaction<'_>,
    kind: RuleKind,
    group: &str,
    name: &str,
    version: i64,
) -> Result<RuleSetRecord> {
    let mut rs = row::get_rule_set(tx, kind, group, name, version).await?;
    let kind = kind.as_str();
    // Deactivate first: the partial unique index allows one active row per kind and group.
    exec(
        tx,
        "UPDATE rule_sets SET active = false \
         WHERE \"group\" = $1 AND kind = $4 AND active AND NOT (name = $2 AND version = $3)",
        &[&group, &name, &version, &kind],
    )
    .await?;
    exec(
        tx,
        "UPDATE rule_sets SET active = true \
         WHERE \"group\" = $1 AND name = $2 AND version = $3 AND kind = $4",
        &[&group, &name, &version, &kind],
    )
    .await?;
    rs.active = true;
    Ok(rs)
}

pub(crate) async fn save_baselines(
    tx: &Transaction<'_>,
    baselines: &[BaselineRecord],
) -> Result<()> {
    let upsert = tx
        .prepare(
            "INSERT INTO baselines (\"group\", rule_id, scope, \"action\", context, n, avg) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (\"group\", rule_id, scope, \"action\", context) \
             DO UPDATE SET n = excluded.n, avg = excluded.avg",
        )
        .await
        .map_err(map)?;
    for b in baselines {
        let n = i64::from(b.n);
        tx.execute(
            &upsert,
            &[
                &b.group,
                &b.rule_id,
                &b.scope,
                &b.action,
                &row::encode_context(b.context.as_deref()),
                &n,
                &b.avg,
            ],
        )
        .await
        .map_err(map)?;
    }
    Ok(())
}

/// A one-row durable write: proves the connection, the server and its commit work.
pub(crate) async fn ping(tx: &Transaction<'_>) -> Result<()> {
    let changed = exec(tx, "UPDATE meta SET pings = pings + 1 WHERE id = 1", &[]).await?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Unavailable(
            "the meta row is missing".to_owned(),
        ))
    }
}
