//! The SQL of lifecycle changes ([`AlertChange`]), run by the writer thread inside the caller's
//! savepoint: a change that fails (an alert that does not exist, a state that is not the one
//! the change starts from) fails the whole request and the savepoint takes all of it back.
//! Must not begin, commit or roll back anything, and never runs on a reader connection.

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use rusqlite::{params, Connection, OptionalExtension};

use super::derived::{self, CountKey};
use super::error::map;
use super::row;
use crate::{AlertChange, Result, StoreError};

/// Applies every change in order.
pub(crate) fn apply(conn: &Connection, changes: &[AlertChange]) -> Result<()> {
    changes.iter().try_for_each(|c| apply_one(conn, c))
}

fn apply_one(conn: &Connection, change: &AlertChange) -> Result<()> {
    match change {
        AlertChange::Insert {
            alert,
            actor,
            reason,
            occurrence,
        } => {
            let id = row::insert_alert(conn, alert, Some(alert.id))?;
            row::insert_event(conn, id, alert.created_at, actor, None, alert.state, reason)?;
            row::insert_occurrence(conn, id, occurrence)
        }
        AlertChange::Occur {
            id,
            at,
            occurrences,
            summary,
            severity,
            annotations,
            ends_at,
            occurrence,
            log,
        } => {
            let old = current(conn, *id)?;
            let annotations = row::encode_map(annotations)?;
            conn.prepare_cached(
                "UPDATE alerts SET occurrences = ?2, last_seen = ?3, message = ?4, severity = ?5, \
                 annotations = ?6, ends_at = ?7, value = ?8, updated_at = ?3 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    occurrences,
                    at,
                    summary,
                    severity,
                    annotations,
                    ends_at,
                    occurrence.value
                ])
            })
            .map_err(map)?;
            derived::moved(
                conn,
                old.key(),
                CountKey {
                    severity,
                    ..old.key()
                },
            )?;
            if old.message != *summary {
                derived::reindexed(conn, *id, &old.name, summary, &old.labels()?)?;
            }
            if *log {
                row::insert_occurrence(conn, *id, occurrence)?;
            }
            Ok(())
        }
        AlertChange::Transition {
            id,
            from,
            to,
            at,
            actor,
            reason,
            until,
            by,
        } => {
            transition(conn, *id, *from, *to, *at, actor, (*until, by.as_deref()))?;
            row::insert_event(conn, *id, *at, actor, Some(*from), *to, reason)
        }
        AlertChange::Silence(s) => upsert_silence(conn, s),
        AlertChange::Note {
            id,
            at,
            author,
            text,
            state,
        } => {
            touch(conn, *id, *at)?;
            conn.prepare_cached(
                "INSERT INTO alert_notes (alert_id, at, author, text) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![id, at, author, text]))
            .map_err(map)?;
            row::insert_event(conn, *id, *at, author, Some(*state), *state, "note")
        }
        AlertChange::Assign {
            id,
            at,
            actor,
            assignee,
            state,
        } => {
            let changed = conn
                .prepare_cached("UPDATE alerts SET assignee = ?2, updated_at = ?3 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, assignee, at]))
                .map_err(map)?;
            found(changed, *id)?;
            let reason = match assignee {
                Some(who) => format!("assigned to {who}"),
                None => "unassigned".to_owned(),
            };
            row::insert_event(conn, *id, *at, actor, Some(*state), *state, &reason)
        }
        AlertChange::Incident(c) => super::incident::apply(conn, c),
        AlertChange::Escalation(c) => super::escalation::apply(conn, c),
    }
}

/// How a transition treats a pair of columns: keep them, set them, or clear them.
#[derive(Clone, Copy)]
enum Column {
    Keep = 0,
    Set = 1,
    Clear = 2,
}

/// Moves an alert from `from` to `to` and stamps the columns of the states it enters and
/// leaves. `resolved_at/by` are kept when a resolved alert closes (the resolution still
/// happened) and cleared when it reopens. Conflict if the alert is not in `from`.
fn transition(
    conn: &Connection,
    id: i64,
    from: State,
    to: State,
    at: i64,
    actor: &str,
    (until, by): (Option<i64>, Option<&str>),
) -> Result<()> {
    let old = current(conn, id)?;
    if old.state != from {
        return Err(StoreError::Conflict(format!(
            "alert {id} is {}, not {from}",
            old.state
        )));
    }
    let acknowledged = if to == State::Acknowledged {
        Column::Set
    } else {
        Column::Keep
    };
    let resolved = match (from, to) {
        (_, State::Resolved) => Column::Set,
        (State::Resolved, State::Closed) => Column::Keep,
        (State::Resolved, _) => Column::Clear,
        _ => Column::Keep,
    };
    let suppressed = match (from, to) {
        (_, State::Suppressed) => Column::Set,
        (State::Suppressed, _) => Column::Clear,
        _ => Column::Keep,
    };
    let closed = to == State::Closed;
    conn.prepare_cached(
        "UPDATE alerts SET state = ?2, updated_at = ?3, \
         acknowledged_at = CASE ?5 WHEN 1 THEN ?3 ELSE acknowledged_at END, \
         acknowledged_by = CASE ?5 WHEN 1 THEN ?4 ELSE acknowledged_by END, \
         resolved_at = CASE ?6 WHEN 1 THEN ?3 WHEN 2 THEN NULL ELSE resolved_at END, \
         resolved_by = CASE ?6 WHEN 1 THEN ?4 WHEN 2 THEN NULL ELSE resolved_by END, \
         closed_at = CASE ?7 WHEN 1 THEN ?3 ELSE closed_at END, \
         suppressed_until = CASE ?8 WHEN 1 THEN ?9 WHEN 2 THEN NULL ELSE suppressed_until END, \
         suppressed_by = CASE ?8 WHEN 1 THEN ?10 WHEN 2 THEN NULL ELSE suppressed_by END \
         WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.execute(params![
            id,
            to.as_str(),
            at,
            actor,
            acknowledged as i64,
            resolved as i64,
            closed,
            suppressed as i64,
            until,
            by
        ])
    })
    .map_err(map)?;
    derived::moved(
        conn,
        old.key(),
        CountKey {
            state: to,
            ..old.key()
        },
    )
}

/// What a change needs to know of an alert before changing it.
struct Current {
    state: State,
    severity: String,
    source: String,
    name: String,
    message: String,
    labels: String,
}

impl Current {
    fn key(&self) -> CountKey<'_> {
        CountKey {
            state: self.state,
            severity: &self.severity,
            source: &self.source,
        }
    }

    fn labels(&self) -> Result<BTreeMap<String, String>> {
        serde_json::from_str(&self.labels)
            .map_err(|e| StoreError::Unavailable(format!("stored labels are not a JSON map: {e}")))
    }
}

/// The alert's current state and derived-table inputs; NotFound if it does not exist.
fn current(conn: &Connection, id: i64) -> Result<Current> {
    conn.prepare_cached(
        "SELECT state, severity, source, name, message, labels FROM alerts WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.query_row([id], |r| {
            Ok(Current {
                state: row::state(r, 0)?,
                severity: r.get(1)?,
                source: r.get(2)?,
                name: r.get(3)?,
                message: r.get(4)?,
                labels: r.get(5)?,
            })
        })
        .optional()
    })
    .map_err(map)?
    .ok_or_else(|| not_found(id))
}

/// Stamps `updated_at`; NotFound if the alert does not exist.
fn touch(conn: &Connection, id: i64, at: i64) -> Result<()> {
    let changed = conn
        .prepare_cached("UPDATE alerts SET updated_at = ?2 WHERE id = ?1")
        .and_then(|mut st| st.execute(params![id, at]))
        .map_err(map)?;
    found(changed, id)
}

fn found(changed: usize, id: i64) -> Result<()> {
    if changed == 0 {
        Err(not_found(id))
    } else {
        Ok(())
    }
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("alert {id}"))
}

/// Inserts or replaces a silence row.
fn upsert_silence(conn: &Connection, s: &klaxon_engine::noise::Silence) -> Result<()> {
    let matchers = serde_json::to_string(&s.matchers)
        .map_err(|e| StoreError::Invalid(format!("silence matchers: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, \
         starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
         created_by = excluded.created_by, comment = excluded.comment, \
         updated_at = excluded.updated_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.id,
            matchers,
            s.starts_at,
            s.ends_at,
            s.created_by,
            s.comment,
            s.updated_at
        ])
    })
    .map(drop)
    .map_err(map)
}
