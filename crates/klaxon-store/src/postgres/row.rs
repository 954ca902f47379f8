//! Mapping between PostgreSQL rows and the store's records, and the row inserts several writes
//! share. Owns column lists and value encodings (a state or a source as its lowercase name, a
//! version as JSON text, labels as a JSONB object, a missing baseline context as ''); opens no
//! connections and starts no transactions.

use std::collections::BTreeMap;
use std::str::FromStr;

use klaxon_engine::lifecycle::State;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{GenericClient, Row};

use super::error::{decoding, map};
use super::pool::prepared;
use crate::{
    AlertEvent, Note, Occurrence, Result, RuleKind, RuleSetRecord, Source, StoreError, StoredAlert,
};

/// A query parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// Column `i` of a row as `T`; a value that does not read back is `Unavailable`.
pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(|e| decoding("a column", e))
}

/// A count stored as BIGINT (never negative).
pub(crate) fn get_u64(r: &Row, i: usize) -> Result<u64> {
    let n: i64 = get(r, i)?;
    u64::try_from(n).map_err(|e| decoding("a count", e))
}

/// A count to store as BIGINT.
pub(crate) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A length or limit as a BIGINT parameter.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs a query and maps every row.
pub(crate) async fn collect<C: GenericClient + Sync, T>(
    c: &C,
    sql: &str,
    args: &[Param<'_>],
    f: impl Fn(&Row) -> Result<T>,
) -> Result<Vec<T>> {
    let stmt = prepared(c, sql).await?;
    let rows = c.query(&stmt, args).await.map_err(map)?;
    rows.iter().map(f).collect()
}

/// Runs a query expected to return at most one row, and maps it.
pub(crate) async fn one<C: GenericClient + Sync, T>(
    c: &C,
    sql: &str,
    args: &[Param<'_>],
    f: impl Fn(&Row) -> Result<T>,
) -> Result<Option<T>> {
    let stmt = prepared(c, sql).await?;
    let row = c.query_opt(&stmt, args).await.map_err(map)?;
    row.as_ref().map(f).transpose()
}

/// Runs a statement; returns the rows it changed.
pub(crate) async fn exec<C: GenericClient + Sync>(
    c: &C,
    sql: &str,
    args: &[Param<'_>],
) -> Result<u64> {
    let stmt = prepared(c, sql).await?;
    c.execute(&stmt, args).await.map_err(map)
}

/// Columns of `alerts` (as `a`) in the order [`alert`] reads them.
pub(crate) const ALERT_COLUMNS: &str = "a.id, a.fingerprint, a.state, a.\"group\", a.rule_set, \
     a.rule_set_version, a.rule_id, a.\"trigger\", a.operator, a.severity, a.handler, a.process, \
     a.process_name, a.scope, a.\"action\", a.context, a.action_count, a.value, a.\"limit\", \
     a.signal_ts, a.engine_ts, a.message, a.created_at, a.source, a.name, a.labels::text, \
     a.annotations::text, a.first_seen, a.last_seen, a.occurrences, a.acknowledged_at, \
     a.acknowledged_by, a.resolved_at, a.resolved_by, a.closed_at, a.suppressed_until, \
     a.assignee, a.ends_at, a.generator_url, a.updated_at, a.suppressed_by";

pub(crate) fn alert(r: &Row) -> Result<StoredAlert> {
    Ok(StoredAlert {
        id: get(r, 0)?,
        fingerprint: get(r, 1)?,
        state: decode_state(get(r, 2)?)?,
        group: get(r, 3)?,
        rule_set: get(r, 4)?,
        rule_set_version: get::<Option<&str>>(r, 5)?.map(decode_number).transpose()?,
        rule_id: get(r, 6)?,
        trigger: get(r, 7)?,
        operator: get(r, 8)?,
        severity: get(r, 9)?,
        handler: get(r, 10)?,
        process: get(r, 11)?,
        process_name: get(r, 12)?,
        scope: get(r, 13)?,
        action: get(r, 14)?,
        context: get(r, 15)?,
        action_count: get_u64(r, 16)?,
        value: get(r, 17)?,
        limit: get(r, 18)?,
        signal_ts: get(r, 19)?,
        engine_ts: get(r, 20)?,
        message: get(r, 21)?,
        created_at: get(r, 22)?,
        source: decode_source(get(r, 23)?)?,
        name: get(r, 24)?,
        labels: decode_map(get(r, 25)?)?,
        annotations: decode_map(get(r, 26)?)?,
        first_seen: get(r, 27)?,
        last_seen: get(r, 28)?,
        occurrences: get_u64(r, 29)?,
        acknowledged_at: get(r, 30)?,
        acknowledged_by: get(r, 31)?,
        resolved_at: get(r, 32)?,
        resolved_by: get(r, 33)?,
        closed_at: get(r, 34)?,
        suppressed_until: get(r, 35)?,
        assignee: get(r, 36)?,
        ends_at: get(r, 37)?,
        generator_url: get(r, 38)?,
        updated_at: get(r, 39)?,
        suppressed_by: get(r, 40)?,
    })
}

pub(crate) fn decode_state(s: &str) -> Result<State> {
    State::parse(s).ok_or_else(|| decoding("an alert state", format!("{s:?}")))
}

pub(crate) fn decode_source(s: &str) -> Result<Source> {
    Source::parse(s).ok_or_else(|| decoding("an alert source", format!("{s:?}")))
}

/// Labels and annotations are stored as JSON objects of strings.
pub(crate) fn encode_map(m: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(m).map_err(|e| StoreError::Invalid(format!("labels: {e}")))
}

pub(crate) fn decode_map(s: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(s).map_err(|e| decoding("labels", e))
}

/// A rule-set version is stored as the text serde_json prints for the number, so an integer
/// stays an integer and a float keeps its value exactly.
pub(crate) fn encode_number(n: &serde_json::Number) -> String {
    n.to_string()
}

fn decode_number(s: &str) -> Result<serde_json::Number> {
    serde_json::Number::from_str(s).map_err(|e| decoding("a rule-set version", e))
}

/// Writes one alert row with every column; `id` none takes the next one after the highest ever
/// used (`meta.last_alert_id`), a given id raises that highest, so later ids never reuse it.
/// Returns the id stored.
pub(crate) async fn insert_alert<C: GenericClient + Sync>(
    c: &C,
    a: &StoredAlert,
    id: Option<i64>,
) -> Result<i64> {
    let version = a.rule_set_version.as_ref().map(encode_number);
    let (labels, annotations) = (encode_map(&a.labels)?, encode_map(&a.annotations)?);
    let (action_count, occurrences) = (count(a.action_count), count(a.occurrences));
    let state = a.state.as_str();
    let source = a.source.as_str();
    let counter = prepared(
        c,
        "UPDATE meta \
         SET last_alert_id = greatest(last_alert_id, coalesce($1, last_alert_id + 1)) \
         WHERE id = 1 RETURNING coalesce($1, last_alert_id)",
    )
    .await?;
    let counter = c.query_one(&counter, &[&id]).await.map_err(map)?;
    let id: i64 = get(&counter, 0)?;
    let insert = prepared(
        c,
        "INSERT INTO alerts (id, fingerprint, state, \"group\", rule_set, rule_set_version, \
             rule_id, \"trigger\", operator, severity, handler, process, process_name, scope, \
             \"action\", context, action_count, value, \"limit\", signal_ts, engine_ts, message, \
             created_at, source, name, labels, annotations, first_seen, last_seen, occurrences, \
             acknowledged_at, acknowledged_by, resolved_at, resolved_by, closed_at, \
             suppressed_until, assignee, ends_at, generator_url, updated_at, suppressed_by) \
             VALUES ($1, $2, $3, $4, \
             $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
             $22, $23, $24, $25, $26::text::jsonb, $27::text::jsonb, $28, $29, $30, $31, $32, \
             $33, $34, $35, $36, $37, $38, $39, $40, $41) RETURNING id",
    )
    .await?;
    let row = c
        .query_one(
            &insert,
            &[
                &id,
                &a.fingerprint,
                &state,
                &a.group,
                &a.rule_set,
                &version,
                &a.rule_id,
                &a.trigger,
                &a.operator,
                &a.severity,
                &a.handler,
                &a.process,
                &a.process_name,
                &a.scope,
                &a.action,
                &a.context,
                &action_count,
                &a.value,
                &a.limit,
                &a.signal_ts,
                &a.engine_ts,
                &a.message,
                &a.created_at,
                &source,
                &a.name,
                &labels,
                &annotations,
                &a.first_seen,
                &a.last_seen,
                &occurrences,
                &a.acknowledged_at,
                &a.acknowledged_by,
                &a.resolved_at,
                &a.resolved_by,
                &a.closed_at,
                &a.suppressed_until,
                &a.assignee,
                &a.ends_at,
                &a.generator_url,
                &a.updated_at,
                &a.suppressed_by,
            ],
        )
        .await
        .map_err(|e| match map(e) {
            StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("alert {}", a.id)),
            other => other,
        })?;
    let stored: i64 = get(&row, 0)?;
    Ok(stored)
}

/// One new alert of [`insert_alerts`]: the row, its first event's actor and reason, and its
/// first occurrence.
pub(crate) struct NewRow<'a> {
    pub alert: &'a StoredAlert,
    pub actor: &'a str,
    pub reason: &'a str,
    pub occurrence: &'a Occurrence,
}

/// Columns of `alerts` with their array types, in the order [`insert_alerts`] binds them.
const ALERT_ARRAYS: [(&str, &str); 41] = [
    ("id", "bigint"),
    ("fingerprint", "text"),
    ("state", "text"),
    ("\"group\"", "text"),
    ("rule_set", "text"),
    ("rule_set_version", "text"),
    ("rule_id", "text"),
    ("\"trigger\"", "text"),
    ("operator", "text"),
    ("severity", "text"),
    ("handler", "text"),
    ("process", "text"),
    ("process_name", "text"),
    ("scope", "text"),
    ("\"action\"", "text"),
    ("context", "text"),
    ("action_count", "bigint"),
    ("value", "float8"),
    ("\"limit\"", "float8"),
    ("signal_ts", "bigint"),
    ("engine_ts", "bigint"),
    ("message", "text"),
    ("created_at", "bigint"),
    ("source", "text"),
    ("name", "text"),
    ("labels", "jsonb"),
    ("annotations", "jsonb"),
    ("first_seen", "bigint"),
    ("last_seen", "bigint"),
    ("occurrences", "bigint"),
    ("acknowledged_at", "bigint"),
    ("acknowledged_by", "text"),
    ("resolved_at", "bigint"),
    ("resolved_by", "text"),
    ("closed_at", "bigint"),
    ("suppressed_until", "bigint"),
    ("assignee", "text"),
    ("ends_at", "bigint"),
    ("generator_url", "text"),
    ("updated_at", "bigint"),
    ("suppressed_by", "text"),
];

/// `INSERT INTO alerts (…) SELECT … FROM unnest($1::bigint[], …)`, one array per column (JSON
/// columns travel as text and are cast per row).
fn insert_alerts_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let names: Vec<&str> = ALERT_ARRAYS.iter().map(|(n, _)| *n).collect();
        let select: Vec<String> = ALERT_ARRAYS
            .iter()
            .enumerate()
            .map(|(i, (_, t))| match *t {
                "jsonb" => format!("c{i}::jsonb"),
                _ => format!("c{i}"),
            })
            .collect();
        let arrays: Vec<String> = ALERT_ARRAYS
            .iter()
            .enumerate()
            .map(|(i, (_, t))| match *t {
                "jsonb" => format!("${}::text[]", i + 1),
                t => format!("${}::{t}[]", i + 1),
            })
            .collect();
        let aliases: Vec<String> = (0..ALERT_ARRAYS.len()).map(|i| format!("c{i}")).collect();
        format!(
            "INSERT INTO alerts ({}) SELECT {} FROM unnest({}) AS t({})",
            names.join(", "),
            select.join(", "),
            arrays.join(", "),
            aliases.join(", ")
        )
    })
}

/// Writes new alerts with their given ids, each with its first event and occurrence, in four
/// statements whatever their number (rows travel as arrays), and raises the highest id ever
/// used (`meta.last_alert_id`) to theirs. The many-row form of [`insert_alert`] with an id.
pub(crate) async fn insert_alerts<C: GenericClient + Sync>(
    c: &C,
    rows: &[NewRow<'_>],
) -> Result<()> {
    let Some(max_id) = rows.iter().map(|r| r.alert.id).max() else {
        return Ok(());
    };
    macro_rules! col {
        ($f:expr) => {
            rows.iter().map($f).collect::<Vec<_>>()
        };
    }
    let mut labels = Vec::with_capacity(rows.len());
    let mut annotations = Vec::with_capacity(rows.len());
    for r in rows {
        labels.push(encode_map(&r.alert.labels)?);
        annotations.push(encode_map(&r.alert.annotations)?);
    }
    let id = col!(|r| r.alert.id);
    let fingerprint = col!(|r| r.alert.fingerprint.as_str());
    let state = col!(|r| r.alert.state.as_str());
    let group = col!(|r| r.alert.group.as_str());
    let rule_set = col!(|r| r.alert.rule_set.as_str());
    let version = col!(|r| r.alert.rule_set_version.as_ref().map(encode_number));
    let rule_id = col!(|r| r.alert.rule_id.as_str());
    let trigger = col!(|r| r.alert.trigger.as_str());
    let operator = col!(|r| r.alert.operator.as_str());
    let severity = col!(|r| r.alert.severity.as_str());
    let handler = col!(|r| r.alert.handler.as_str());
    let process = col!(|r| r.alert.process.as_str());
    let process_name = col!(|r| r.alert.process_name.as_str());
    let scope = col!(|r| r.alert.scope.as_str());
    let action = col!(|r| r.alert.action.as_str());
    let context = col!(|r| r.alert.context.as_deref());
    let action_count = col!(|r| count(r.alert.action_count));
    let value = col!(|r| r.alert.value);
    let limit = col!(|r| r.alert.limit);
    let signal_ts = col!(|r| r.alert.signal_ts);
    let engine_ts = col!(|r| r.alert.engine_ts);
    let message = col!(|r| r.alert.message.as_str());
    let created_at = col!(|r| r.alert.created_at);
    let source = col!(|r| r.alert.source.as_str());
    let name = col!(|r| r.alert.name.as_str());
    let first_seen = col!(|r| r.alert.first_seen);
    let last_seen = col!(|r| r.alert.last_seen);
    let occurrences = col!(|r| count(r.alert.occurrences));
    let acknowledged_at = col!(|r| r.alert.acknowledged_at);
    let acknowledged_by = col!(|r| r.alert.acknowledged_by.as_deref());
    let resolved_at = col!(|r| r.alert.resolved_at);
    let resolved_by = col!(|r| r.alert.resolved_by.as_deref());
    let closed_at = col!(|r| r.alert.closed_at);
    let suppressed_until = col!(|r| r.alert.suppressed_until);
    let assignee = col!(|r| r.alert.assignee.as_deref());
    let ends_at = col!(|r| r.alert.ends_at);
    let generator_url = col!(|r| r.alert.generator_url.as_deref());
    let updated_at = col!(|r| r.alert.updated_at);
    let suppressed_by = col!(|r| r.alert.suppressed_by.as_deref());
    exec(
        c,
        "UPDATE meta SET last_alert_id = greatest(last_alert_id, $1) WHERE id = 1",
        &[&max_id],
    )
    .await?;
    exec(
        c,
        insert_alerts_sql(),
        &[
            &id,
            &fingerprint,
            &state,
            &group,
            &rule_set,
            &version,
            &rule_id,
            &trigger,
            &operator,
            &severity,
            &handler,
            &process,
            &process_name,
            &scope,
            &action,
            &context,
            &action_count,
            &value,
            &limit,
            &signal_ts,
            &engine_ts,
            &message,
            &created_at,
            &source,
            &name,
            &labels,
            &annotations,
            &first_seen,
            &last_seen,
            &occurrences,
            &acknowledged_at,
            &acknowledged_by,
            &resolved_at,
            &resolved_by,
            &closed_at,
            &suppressed_until,
            &assignee,
            &ends_at,
            &generator_url,
            &updated_at,
            &suppressed_by,
        ],
    )
    .await
    .map_err(|e| match e {
        StoreError::AlreadyExists(why) => StoreError::AlreadyExists(format!("alert: {why}")),
        other => other,
    })?;
    let actor = col!(|r| r.actor);
    let reason = col!(|r| r.reason);
    exec(
        c,
        "INSERT INTO alert_events (alert_id, ts, actor, from_state, to_state, reason) \
         SELECT a, t, ac, NULL, s, re FROM unnest($1::bigint[], $2::bigint[], $3::text[], \
         $4::text[], $5::text[]) AS u(a, t, ac, s, re)",
        &[&id, &created_at, &actor, &state, &reason],
    )
    .await?;
    let at = col!(|r| r.occurrence.at);
    let value = col!(|r| r.occurrence.value);
    let message = col!(|r| r.occurrence.message.as_str());
    exec(
        c,
        "INSERT INTO alert_occurrences (alert_id, at, value, message) \
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::text[])",
        &[&id, &at, &value, &message],
    )
    .await
    .map(drop)
}

/// Appends one entry to an alert's audit trail.
pub(crate) async fn insert_event<C: GenericClient + Sync>(
    c: &C,
    alert_id: i64,
    at: i64,
    actor: &str,
    from: Option<State>,
    to: State,
    reason: &str,
) -> Result<()> {
    let (from, to) = (from.map(State::as_str), to.as_str());
    exec(
        c,
        "INSERT INTO alert_events (alert_id, ts, actor, from_state, to_state, reason) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&alert_id, &at, &actor, &from, &to, &reason],
    )
    .await
    .map(drop)
}

pub(crate) async fn insert_occurrence<C: GenericClient + Sync>(
    c: &C,
    alert_id: i64,
    o: &Occurrence,
) -> Result<()> {
    exec(
        c,
        "INSERT INTO alert_occurrences (alert_id, at, value, message) VALUES ($1, $2, $3, $4)",
        &[&alert_id, &o.at, &o.value, &o.message],
    )
    .await
    .map(drop)
}

pub(crate) fn event(r: &Row) -> Result<AlertEvent> {
    Ok(AlertEvent {
        id: get(r, 0)?,
        alert_id: get(r, 1)?,
        at: get(r, 2)?,
        actor: get(r, 3)?,
        from: get::<Option<&str>>(r, 4)?.map(decode_state).transpose()?,
        to: decode_state(get(r, 5)?)?,
        reason: get::<Option<String>>(r, 6)?.unwrap_or_default(),
    })
}

pub(crate) fn occurrence(r: &Row) -> Result<Occurrence> {
    Ok(Occurrence {
        at: get(r, 0)?,
        value: get(r, 1)?,
        message: get(r, 2)?,
    })
}

pub(crate) fn note(r: &Row) -> Result<Note> {
    Ok(Note {
        id: get(r, 0)?,
        alert_id: get(r, 1)?,
        at: get(r, 2)?,
        author: get(r, 3)?,
        text: get(r, 4)?,
    })
}

pub(crate) const RULE_SET_COLUMNS: &str =
    "\"group\", name, version, body, author, created_at, active, kind";

pub(crate) fn rule_set(r: &Row) -> Result<RuleSetRecord> {
    let kind: &str = get(r, 7)?;
    Ok(RuleSetRecord {
        kind: RuleKind::parse(kind)
            .ok_or_else(|| decoding("a rule-set kind", format!("{kind:?}")))?,
        group: get(r, 0)?,
        name: get(r, 1)?,
        version: get(r, 2)?,
        json: get(r, 3)?,
        author: get(r, 4)?,
        created_at: get(r, 5)?,
        active: get(r, 6)?,
    })
}

/// One rule-set version; NotFound names group, name and version.
pub(crate) async fn get_rule_set<C: GenericClient + Sync>(
    c: &C,
    kind: RuleKind,
    group: &str,
    name: &str,
    version: i64,
) -> Result<RuleSetRecord> {
    let sql = format!(
        "SELECT {RULE_SET_COLUMNS} FROM rule_sets \
         WHERE \"group\" = $1 AND name = $2 AND version = $3 AND kind = $4"
    );
    one(
        c,
        &sql,
        &[&group, &name, &version, &kind.as_str()],
        rule_set,
    )
    .await?
    .ok_or_else(|| {
        let what = match kind {
            RuleKind::Event => "rule set",
            RuleKind::Threshold => "threshold rule set",
        };
        StoreError::NotFound(format!(
            "{what} {name:?} of group {group:?} has no version {version}"
        ))
    })
}

/// A baseline without a context is stored with context '' (part of the primary key, so it
/// cannot be NULL); reading maps '' back to none.
pub(crate) fn encode_context(c: Option<&str>) -> &str {
    c.unwrap_or("")
}

pub(crate) fn decode_context(c: String) -> Option<String> {
    Some(c).filter(|c| !c.is_empty())
}
