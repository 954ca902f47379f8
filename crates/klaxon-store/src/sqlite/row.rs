//! Mapping between SQLite rows and the store's records, the single-row lookups both the writer
//! and the readers need, and the row inserts both write paths share. Owns column lists and value
//! encodings (a state or a source as its lowercase name, a version as JSON text, labels as a JSON
//! object, a missing baseline context as ''); opens no connections and starts no transactions.

use std::collections::BTreeMap;
use std::str::FromStr;

use klaxon_engine::lifecycle::State;
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::derived;
use super::error::map;
use crate::{
    AlertEvent, Note, Occurrence, Result, RuleKind, RuleSetRecord, Source, StoreError, StoredAlert,
};

/// Columns of `alerts` (as `a`) in the order [`alert`] reads them.
pub(crate) const ALERT_COLUMNS: &str = "a.id, a.fingerprint, a.state, a.\"group\", a.rule_set, \
     a.rule_set_version, a.rule_id, a.\"trigger\", a.operator, a.severity, a.handler, a.process, \
     a.process_name, a.scope, a.\"action\", a.context, a.action_count, a.value, a.\"limit\", \
     a.signal_ts, a.engine_ts, a.message, a.created_at, a.source, a.name, a.labels, \
     a.annotations, a.first_seen, a.last_seen, a.occurrences, a.acknowledged_at, \
     a.acknowledged_by, a.resolved_at, a.resolved_by, a.closed_at, a.suppressed_until, \
     a.assignee, a.ends_at, a.generator_url, a.updated_at, a.suppressed_by";

pub(crate) fn alert(row: &Row<'_>) -> rusqlite::Result<StoredAlert> {
    Ok(StoredAlert {
        id: row.get(0)?,
        fingerprint: row.get(1)?,
        state: state(row, 2)?,
        group: row.get(3)?,
        rule_set: row.get(4)?,
        rule_set_version: row
            .get::<_, Option<String>>(5)?
            .map(|s| decode_number(5, &s))
            .transpose()?,
        rule_id: row.get(6)?,
        trigger: row.get(7)?,
        operator: row.get(8)?,
        severity: row.get(9)?,
        handler: row.get(10)?,
        process: row.get(11)?,
        process_name: row.get(12)?,
        scope: row.get(13)?,
        action: row.get(14)?,
        context: row.get(15)?,
        action_count: row.get(16)?,
        value: row.get(17)?,
        limit: row.get(18)?,
        signal_ts: row.get(19)?,
        engine_ts: row.get(20)?,
        message: row.get(21)?,
        created_at: row.get(22)?,
        source: decode_source(23, &row.get::<_, String>(23)?)?,
        name: row.get(24)?,
        labels: decode_map(25, &row.get::<_, String>(25)?)?,
        annotations: decode_map(26, &row.get::<_, String>(26)?)?,
        first_seen: row.get(27)?,
        last_seen: row.get(28)?,
        occurrences: row.get(29)?,
        acknowledged_at: row.get(30)?,
        acknowledged_by: row.get(31)?,
        resolved_at: row.get(32)?,
        resolved_by: row.get(33)?,
        closed_at: row.get(34)?,
        suppressed_until: row.get(35)?,
        assignee: row.get(36)?,
        ends_at: row.get(37)?,
        generator_url: row.get(38)?,
        updated_at: row.get(39)?,
        suppressed_by: row.get(40)?,
    })
}

/// An alert state, stored as [`State::as_str`].
pub(crate) fn state(row: &Row<'_>, col: usize) -> rusqlite::Result<State> {
    let s: String = row.get(col)?;
    decode_state(col, &s)
}

pub(crate) fn decode_state(col: usize, s: &str) -> rusqlite::Result<State> {
    decode_name(col, s, "alert state", State::parse)
}

pub(crate) fn decode_source(col: usize, s: &str) -> rusqlite::Result<Source> {
    decode_name(col, s, "alert source", Source::parse)
}

/// A value stored as its name; a name `parse` does not know is an error naming `what`.
pub(crate) fn decode_name<T>(
    col: usize,
    s: &str,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    parse(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            Type::Text,
            format!("unknown {what} {s:?}").into(),
        )
    })
}

/// Labels and annotations are stored as JSON objects of strings.
pub(crate) fn encode_map(m: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(m).map_err(|e| StoreError::Invalid(format!("labels: {e}")))
}

pub(crate) fn decode_map(col: usize, s: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e)))
}

/// Writes one alert row with every column, and its rows of the derived tables; `id` none lets
/// SQLite choose the next one. Returns the id stored.
pub(crate) fn insert_alert(conn: &Connection, a: &StoredAlert, id: Option<i64>) -> Result<i64> {
    let version = a.rule_set_version.as_ref().map(encode_number);
    let (labels, annotations) = (encode_map(&a.labels)?, encode_map(&a.annotations)?);
    conn.prepare_cached(
        "INSERT INTO alerts (id, fingerprint, state, \"group\", rule_set, rule_set_version, \
         rule_id, \"trigger\", operator, severity, handler, process, process_name, scope, \
         \"action\", context, action_count, value, \"limit\", signal_ts, engine_ts, message, \
         created_at, source, name, labels, annotations, first_seen, last_seen, occurrences, \
         acknowledged_at, acknowledged_by, resolved_at, resolved_by, closed_at, \
         suppressed_until, assignee, ends_at, generator_url, updated_at, suppressed_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, \
         ?35, ?36, ?37, ?38, ?39, ?40, ?41)",
    )
    .and_then(|mut st| {
        st.execute(params![
            id,
            a.fingerprint,
            a.state.as_str(),
            a.group,
            a.rule_set,
            version,
            a.rule_id,
            a.trigger,
            a.operator,
            a.severity,
            a.handler,
            a.process,
            a.process_name,
            a.scope,
            a.action,
            a.context,
            a.action_count,
            a.value,
            a.limit,
            a.signal_ts,
            a.engine_ts,
            a.message,
            a.created_at,
            a.source.as_str(),
            a.name,
            labels,
            annotations,
            a.first_seen,
            a.last_seen,
            a.occurrences,
            a.acknowledged_at,
            a.acknowledged_by,
            a.resolved_at,
            a.resolved_by,
            a.closed_at,
            a.suppressed_until,
            a.assignee,
            a.ends_at,
            a.generator_url,
            a.updated_at,
            a.suppressed_by,
        ])
    })
    .map_err(|e| match map(e) {
        StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("alert {}", a.id)),
        other => other,
    })?;
    let id = conn.last_insert_rowid();
    derived::added(conn, id, a)?;
    Ok(id)
}

/// Appends one entry to an alert's audit trail.
pub(crate) fn insert_event(
    conn: &Connection,
    alert_id: i64,
    at: i64,
    actor: &str,
    from: Option<State>,
    to: State,
    reason: &str,
) -> Result<()> {
    let (from, to) = (from.map(State::as_str), to.as_str());
    conn.prepare_cached(
        "INSERT INTO alert_events (alert_id, ts, actor, from_state, to_state, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| st.execute(params![alert_id, at, actor, from, to, reason]))
    .map(drop)
    .map_err(map)
}

pub(crate) fn insert_occurrence(conn: &Connection, alert_id: i64, o: &Occurrence) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO alert_occurrences (alert_id, at, value, message) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut st| st.execute(params![alert_id, o.at, o.value, o.message]))
    .map(drop)
    .map_err(map)
}

pub(crate) fn event(row: &Row<'_>) -> rusqlite::Result<AlertEvent> {
    Ok(AlertEvent {
        id: row.get(0)?,
        alert_id: row.get(1)?,
        at: row.get(2)?,
        actor: row.get(3)?,
        from: row
            .get::<_, Option<String>>(4)?
            .map(|s| decode_state(4, &s))
            .transpose()?,
        to: state(row, 5)?,
        reason: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
    })
}

pub(crate) fn occurrence(row: &Row<'_>) -> rusqlite::Result<Occurrence> {
    Ok(Occurrence {
        at: row.get(0)?,
        value: row.get(1)?,
        message: row.get(2)?,
    })
}

pub(crate) fn note(row: &Row<'_>) -> rusqlite::Result<Note> {
    Ok(Note {
        id: row.get(0)?,
        alert_id: row.get(1)?,
        at: row.get(2)?,
        author: row.get(3)?,
        text: row.get(4)?,
    })
}

/// A rule-set version is stored as the text serde_json prints for the number, so an integer
/// stays an integer and a float keeps its value exactly.
pub(crate) fn encode_number(n: &serde_json::Number) -> String {
    n.to_string()
}

fn decode_number(col: usize, s: &str) -> rusqlite::Result<serde_json::Number> {
    serde_json::Number::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e)))
}

pub(crate) const RULE_SET_COLUMNS: &str =
    "\"group\", name, version, json, author, created_at, active, kind";

pub(crate) fn rule_set(row: &Row<'_>) -> rusqlite::Result<RuleSetRecord> {
    let kind: String = row.get(7)?;
    Ok(RuleSetRecord {
        kind: RuleKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                7,
                Type::Text,
                format!("unknown rule-set kind {kind:?}").into(),
            )
        })?,
        group: row.get(0)?,
        name: row.get(1)?,
        version: row.get(2)?,
        json: row.get(3)?,
        author: row.get(4)?,
        created_at: row.get(5)?,
        active: row.get(6)?,
    })
}

/// One rule-set version; NotFound names group, name and version.
pub(crate) fn get_rule_set(
    conn: &Connection,
    kind: RuleKind,
    group: &str,
    name: &str,
    version: i64,
) -> Result<RuleSetRecord> {
    let sql = format!(
        "SELECT {RULE_SET_COLUMNS} FROM rule_sets \
         WHERE \"group\" = ?1 AND name = ?2 AND version = ?3 AND kind = ?4"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_row((group, name, version, kind.as_str()), rule_set)
                .optional()
        })
        .map_err(map)?
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
