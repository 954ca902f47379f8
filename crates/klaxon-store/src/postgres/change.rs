//! The SQL of lifecycle changes ([`AlertChange`]), run inside the caller's write transaction:
//! a change that fails (an alert that does not exist, a state that is not the one the change
//! starts from) fails the whole call and the transaction takes all of it back. Must not begin,
//! commit or roll back anything.

use klaxon_engine::lifecycle::State;
use tokio_postgres::Transaction;

use super::row::{self, exec, get, one};
use crate::{AlertChange, Result, StoreError};

/// Applies every change in order; a run of consecutive inserts is written in a few statements.
pub(crate) async fn apply(tx: &Transaction<'_>, changes: &[AlertChange]) -> Result<()> {
    let mut rest = changes;
    while let Some(first) = rest.first() {
        let run = rest
            .iter()
            .take_while(|c| matches!(c, AlertChange::Insert { .. }))
            .count();
        if run > 1 {
            let rows: Vec<row::NewRow<'_>> = rest[..run]
                .iter()
                .filter_map(|c| match c {
                    AlertChange::Insert {
                        alert,
                        actor,
                        reason,
                        occurrence,
                    } => Some(row::NewRow {
                        alert,
                        actor,
                        reason,
                        occurrence,
                    }),
                    _ => None,
                })
                .collect();
            row::insert_alerts(tx, &rows).await?;
            rest = &rest[run..];
        } else {
            apply_one(tx, first).await?;
            rest = &rest[1..];
        }
    }
    Ok(())
}

async fn apply_one(tx: &Transaction<'_>, change: &AlertChange) -> Result<()> {
    match change {
        AlertChange::Insert {
            alert,
            actor,
            reason,
            occurrence,
        } => {
            let id = row::insert_alert(tx, alert, Some(alert.id)).await?;
            row::insert_event(tx, id, alert.created_at, actor, None, alert.state, reason).await?;
            row::insert_occurrence(tx, id, occurrence).await
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
            let annotations = row::encode_map(annotations)?;
            let changed = exec(
                tx,
                "UPDATE alerts SET occurrences = $2, last_seen = $3, message = $4, \
                 severity = $5, annotations = $6::text::jsonb, ends_at = $7, value = $8, \
                 updated_at = $3 WHERE id = $1",
                &[
                    id,
                    &row::count(*occurrences),
                    at,
                    summary,
                    severity,
                    &annotations,
                    ends_at,
                    &occurrence.value,
                ],
            )
            .await?;
            found(changed, *id)?;
            if *log {
                row::insert_occurrence(tx, *id, occurrence).await?;
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
            transition(tx, *id, *from, *to, *at, actor, (*until, by.as_deref())).await?;
            row::insert_event(tx, *id, *at, actor, Some(*from), *to, reason).await
        }
        AlertChange::Silence(s) => upsert_silence(tx, s).await,
        AlertChange::Note {
            id,
            at,
            author,
            text,
            state,
        } => {
            touch(tx, *id, *at).await?;
            exec(
                tx,
                "INSERT INTO alert_notes (alert_id, at, author, text) VALUES ($1, $2, $3, $4)",
                &[id, at, author, text],
            )
            .await?;
            row::insert_event(tx, *id, *at, author, Some(*state), *state, "note").await
        }
        AlertChange::Assign {
            id,
            at,
            actor,
            assignee,
            state,
        } => {
            let changed = exec(
                tx,
                "UPDATE alerts SET assignee = $2, updated_at = $3 WHERE id = $1",
                &[id, assignee, at],
            )
            .await?;
            found(changed, *id)?;
            let reason = match assignee {
                Some(who) => format!("assigned to {who}"),
                None => "unassigned".to_owned(),
            };
            row::insert_event(tx, *id, *at, actor, Some(*state), *state, &reason).await
        }
        AlertChange::Incident(c) => super::incident::apply(tx, c).await,
        AlertChange::Escalation(c) => super::escalation::apply(tx, c).await,
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
async fn transition(
    tx: &Transaction<'_>,
    id: i64,
    from: State,
    to: State,
    at: i64,
    actor: &str,
    (until, by): (Option<i64>, Option<&str>),
) -> Result<()> {
    let state = one(
        tx,
        "SELECT state FROM alerts WHERE id = $1 FOR UPDATE",
        &[&id],
        |r| row::decode_state(get(r, 0)?),
    )
    .await?
    .ok_or_else(|| not_found(id))?;
    if state != from {
        return Err(StoreError::Conflict(format!(
            "alert {id} is {state}, not {from}"
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
    exec(
        tx,
        "UPDATE alerts SET state = $2, updated_at = $3, \
         acknowledged_at = CASE $5::int8 WHEN 1 THEN $3 ELSE acknowledged_at END, \
         acknowledged_by = CASE $5::int8 WHEN 1 THEN $4 ELSE acknowledged_by END, \
         resolved_at = CASE $6::int8 WHEN 1 THEN $3 WHEN 2 THEN NULL ELSE resolved_at END, \
         resolved_by = CASE $6::int8 WHEN 1 THEN $4 WHEN 2 THEN NULL ELSE resolved_by END, \
         closed_at = CASE WHEN $7::bool THEN $3 ELSE closed_at END, \
         suppressed_until = CASE $8::int8 WHEN 1 THEN $9 WHEN 2 THEN NULL \
                                ELSE suppressed_until END, \
         suppressed_by = CASE $8::int8 WHEN 1 THEN $10 WHEN 2 THEN NULL ELSE suppressed_by END \
         WHERE id = $1",
        &[
            &id,
            &to.as_str(),
            &at,
            &actor,
            &(acknowledged as i64),
            &(resolved as i64),
            &closed,
            &(suppressed as i64),
            &until,
            &by,
        ],
    )
    .await
    .map(drop)
}

/// Stamps `updated_at`; NotFound if the alert does not exist.
async fn touch(tx: &Transaction<'_>, id: i64, at: i64) -> Result<()> {
    let changed = exec(
        tx,
        "UPDATE alerts SET updated_at = $2 WHERE id = $1",
        &[&id, &at],
    )
    .await?;
    found(changed, id)
}

fn found(changed: u64, id: i64) -> Result<()> {
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
async fn upsert_silence(tx: &Transaction<'_>, s: &klaxon_engine::noise::Silence) -> Result<()> {
    let matchers = serde_json::to_string(&s.matchers)
        .map_err(|e| StoreError::Invalid(format!("silence matchers: {e}")))?;
    exec(
        tx,
        "INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, \
         starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
         created_by = excluded.created_by, comment = excluded.comment, \
         updated_at = excluded.updated_at",
        &[
            &s.id,
            &matchers,
            &s.starts_at,
            &s.ends_at,
            &s.created_by,
            &s.comment,
            &s.updated_at,
        ],
    )
    .await
    .map(drop)
}
