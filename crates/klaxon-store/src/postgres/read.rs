//! The SQL of most reads: alerts, telemetry counts, rule sets, baselines, silences. Never
//! writes.

use klaxon_engine::BaselineRecord;
use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

use super::error::decoding;
use super::row::{self, collect, get, get_u64, one, ALERT_COLUMNS, RULE_SET_COLUMNS};
use super::write::TELEMETRY_TABLES;
use crate::{
    AlertDetail, AlertIndex, AlertQuery, Result, RuleSetRecord, StoreError, StoredAlert,
    TelemetryCounts,
};

/// The most alerts one `list_alerts` returns.
pub(crate) const MAX_LIST: usize = 10_000;

pub(crate) async fn get_alert<C: GenericClient + Sync>(c: &C, id: i64) -> Result<StoredAlert> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts AS a WHERE a.id = $1");
    one(c, &sql, &[&id], row::alert)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
}

pub(crate) async fn list_alerts<C: GenericClient + Sync>(
    c: &C,
    q: &AlertQuery,
) -> Result<Vec<StoredAlert>> {
    let limit = q.limit.min(MAX_LIST);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts AS a WHERE true");
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(5);
    let ascending = match (q.after_id, q.before_id) {
        (Some(after), _) => {
            args.push(Box::new(after));
            sql.push_str(&format!(" AND a.id > ${}", args.len()));
            true
        }
        (None, Some(before)) => {
            args.push(Box::new(before));
            sql.push_str(&format!(" AND a.id < ${}", args.len()));
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
            args.push(Box::new(v.clone()));
            sql.push_str(&format!(" AND a.{column} = ${}", args.len()));
        }
    }
    args.push(Box::new(row::limit(limit)));
    sql.push_str(&format!(
        " ORDER BY a.id {} LIMIT ${}",
        if ascending { "ASC" } else { "DESC" },
        args.len()
    ));
    let params: Vec<row::Param<'_>> = args.iter().map(|a| &**a as row::Param<'_>).collect();
    collect(c, &sql, &params, row::alert).await
}

pub(crate) async fn telemetry_counts<C: GenericClient + Sync>(c: &C) -> Result<TelemetryCounts> {
    let sql = TELEMETRY_TABLES
        .map(|t| format!("(SELECT count(*) FROM {t})"))
        .join(", ");
    let r = c
        .query_one(&format!("SELECT {sql}"), &[])
        .await
        .map_err(super::error::map)?;
    Ok(TelemetryCounts {
        process_events: get_u64(&r, 0)?,
        marks: get_u64(&r, 1)?,
        traces: get_u64(&r, 2)?,
        logs: get_u64(&r, 3)?,
    })
}

pub(crate) async fn list_rule_sets<C: GenericClient + Sync>(c: &C) -> Result<Vec<RuleSetRecord>> {
    let sql =
        format!("SELECT {RULE_SET_COLUMNS} FROM rule_sets ORDER BY kind, \"group\", name, version");
    collect(c, &sql, &[], row::rule_set).await
}

pub(crate) async fn active_rule_sets<C: GenericClient + Sync>(c: &C) -> Result<Vec<RuleSetRecord>> {
    let sql = format!(
        "SELECT {RULE_SET_COLUMNS} FROM rule_sets WHERE active ORDER BY kind, \"group\", name"
    );
    collect(c, &sql, &[], row::rule_set).await
}

pub(crate) async fn load_baselines<C: GenericClient + Sync>(c: &C) -> Result<Vec<BaselineRecord>> {
    collect(
        c,
        "SELECT \"group\", rule_id, scope, \"action\", context, n, avg FROM baselines \
         ORDER BY \"group\", rule_id, scope, \"action\", context",
        &[],
        |r| {
            let n: i64 = get(r, 5)?;
            Ok(BaselineRecord {
                group: get(r, 0)?,
                rule_id: get(r, 1)?,
                scope: get(r, 2)?,
                action: get(r, 3)?,
                context: row::decode_context(get(r, 4)?),
                n: u32::try_from(n).map_err(|e| decoding("a baseline count", e))?,
                avg: get(r, 6)?,
            })
        },
    )
    .await
}

/// The highest alert id ever used (see `row::insert_alert`).
pub(crate) async fn max_alert_id<C: GenericClient + Sync>(c: &C) -> Result<i64> {
    let r = c
        .query_one("SELECT last_alert_id FROM meta WHERE id = 1", &[])
        .await
        .map_err(super::error::map)?;
    get(&r, 0)
}

/// Every alert that is not closed, by id.
pub(crate) async fn load_open_alerts<C: GenericClient + Sync>(c: &C) -> Result<Vec<AlertIndex>> {
    collect(
        c,
        "SELECT id, fingerprint, state, source, severity, occurrences, first_seen, \
         last_seen, resolved_at, suppressed_until, ends_at, labels::text, suppressed_by, \
         annotations::text, message \
         FROM alerts WHERE state <> 'closed' ORDER BY id",
        &[],
        |r| {
            Ok(AlertIndex {
                id: get(r, 0)?,
                fingerprint: get(r, 1)?,
                state: row::decode_state(get(r, 2)?)?,
                source: row::decode_source(get(r, 3)?)?,
                severity: get(r, 4)?,
                occurrences: get_u64(r, 5)?,
                first_seen: get(r, 6)?,
                last_seen: get(r, 7)?,
                resolved_at: get(r, 8)?,
                suppressed_until: get(r, 9)?,
                ends_at: get(r, 10)?,
                labels: row::decode_map(get(r, 11)?)?,
                suppressed_by: get(r, 12)?,
                annotations: row::decode_map(get(r, 13)?)?,
                message: get(r, 14)?,
            })
        },
    )
    .await
}

/// One alert with its events, latest occurrences and notes; the caller runs it in one
/// snapshot (a repeatable-read transaction).
pub(crate) async fn alert_detail<C: GenericClient + Sync>(
    c: &C,
    id: i64,
    occurrences: usize,
) -> Result<AlertDetail> {
    let alert = get_alert(c, id).await?;
    let events = collect(
        c,
        "SELECT id, alert_id, ts, actor, from_state, to_state, reason FROM alert_events \
         WHERE alert_id = $1 ORDER BY id",
        &[&id],
        row::event,
    )
    .await?;
    let newest = row::limit(occurrences);
    let occurrences = collect(
        c,
        "SELECT at, value, message FROM alert_occurrences WHERE alert_id = $1 \
         ORDER BY id DESC LIMIT $2",
        &[&id, &newest],
        row::occurrence,
    )
    .await?;
    let notes = collect(
        c,
        "SELECT id, alert_id, at, author, text FROM alert_notes WHERE alert_id = $1 ORDER BY id",
        &[&id],
        row::note,
    )
    .await?;
    Ok(AlertDetail {
        alert,
        events,
        occurrences,
        notes,
    })
}

/// Every stored silence, by id.
pub(crate) async fn silences<C: GenericClient + Sync>(
    c: &C,
) -> Result<Vec<klaxon_engine::noise::Silence>> {
    collect(
        c,
        "SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at \
         FROM silences ORDER BY id",
        &[],
        |r| {
            let matchers: &str = get(r, 1)?;
            Ok(klaxon_engine::noise::Silence {
                id: get(r, 0)?,
                matchers: serde_json::from_str(matchers)
                    .map_err(|e| decoding("silence matchers", e))?,
                starts_at: get(r, 2)?,
                ends_at: get(r, 3)?,
                created_by: get(r, 4)?,
                comment: get(r, 5)?,
                updated_at: get(r, 6)?,
            })
        },
    )
    .await
}
