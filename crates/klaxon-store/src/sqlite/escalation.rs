//! The SQL of escalations, pages and SLA breaches: writes run by the writer inside the
//! caller's savepoint (as part of an alert commit), reads on reader connections. A page or a
//! breach recorded before writes nothing again, nor do its notifications.

use rusqlite::{params, Connection, OptionalExtension};

use super::error::map;
use super::read::collect_for;
use crate::escalation::{BreachRecord, EscalationChange, EscalationRecord, PageRecord, SlaAlert};
use crate::outbox::NewNotification;
use crate::Result;

pub(crate) fn apply(conn: &Connection, c: &EscalationChange) -> Result<()> {
    match c {
        EscalationChange::Put(r) => conn
            .prepare_cached(
                "INSERT INTO escalations (subject, policy, state, next_due, started_at, ended, \
                 acknowledged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (subject) DO UPDATE SET policy = ?2, state = ?3, next_due = ?4, \
                 ended = ?6, acknowledged_at = coalesce(acknowledged_at, ?7)",
            )
            .and_then(|mut q| {
                q.execute(params![
                    r.subject,
                    r.policy,
                    r.state,
                    r.next_due,
                    r.started_at,
                    r.ended,
                    r.acknowledged_at
                ])
            })
            .map(drop)
            .map_err(map),
        EscalationChange::Page {
            page,
            notifications,
        } => {
            let targets = serde_json::to_string(&page.targets).unwrap_or_default();
            let n = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO escalation_pages (subject, page_key, policy, level, \
                     round, cycle, targets, reason, actor, at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .and_then(|mut q| {
                    q.execute(params![
                        page.subject,
                        page.key,
                        page.policy,
                        page.level,
                        page.round,
                        page.cycle,
                        targets,
                        page.reason,
                        page.actor,
                        page.at
                    ])
                })
                .map_err(map)?;
            if n == 1 {
                enqueue_once(conn, notifications)?;
            }
            Ok(())
        }
        EscalationChange::Breach {
            breach,
            notifications,
        } => {
            let n = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO sla_breaches (subject, what, severity, team, \
                     target_ms, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut q| {
                    q.execute(params![
                        breach.subject,
                        breach.what,
                        breach.severity,
                        breach.team,
                        breach.target_ms,
                        breach.at
                    ])
                })
                .map_err(map)?;
            if n == 1 {
                enqueue_once(conn, notifications)?;
            }
            Ok(())
        }
    }
}

/// Enqueues each notification whose idempotency key is not in the outbox yet.
fn enqueue_once(conn: &Connection, rows: &[NewNotification]) -> Result<()> {
    let mut fresh = Vec::with_capacity(rows.len());
    for n in rows {
        let known = conn
            .prepare_cached(
                "SELECT 1 FROM notifications INDEXED BY notifications_once \
                 WHERE idempotency_key = ?1 \
                 AND (group_key GLOB 'escalation:*' OR group_key GLOB 'sla:*')",
            )
            .and_then(|mut q| q.query_row([&n.idempotency_key], |_| Ok(())).optional())
            .map_err(map)?;
        if known.is_none() {
            fresh.push(n.clone());
        }
    }
    super::outbox::enqueue(conn, &fresh, None).map(drop)
}

fn escalation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EscalationRecord> {
    Ok(EscalationRecord {
        subject: r.get(0)?,
        policy: r.get(1)?,
        state: r.get(2)?,
        next_due: r.get(3)?,
        started_at: r.get(4)?,
        ended: r.get(5)?,
        acknowledged_at: r.get(6)?,
    })
}

/// Escalations that have not ended.
pub(crate) fn open(conn: &Connection) -> Result<Vec<EscalationRecord>> {
    collect_for(
        conn,
        "SELECT subject, policy, state, next_due, started_at, ended, acknowledged_at \
         FROM escalations WHERE ended = 0 ORDER BY subject",
        [],
        escalation_row,
    )
}

/// Escalations that started in [from, to), at most `limit`.
pub(crate) fn started(
    conn: &Connection,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<EscalationRecord>> {
    collect_for(
        conn,
        "SELECT subject, policy, state, next_due, started_at, ended, acknowledged_at \
         FROM escalations WHERE started_at >= ?1 AND started_at < ?2 \
         ORDER BY started_at LIMIT ?3",
        params![from, to, i64::try_from(limit).unwrap_or(i64::MAX)],
        escalation_row,
    )
}

/// Pages in [from, to), at most `limit`, oldest first.
pub(crate) fn pages(
    conn: &Connection,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<PageRecord>> {
    collect_for(
        conn,
        "SELECT subject, page_key, policy, level, round, cycle, targets, reason, actor, at \
         FROM escalation_pages WHERE at >= ?1 AND at < ?2 ORDER BY at LIMIT ?3",
        params![from, to, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            let targets: String = r.get(6)?;
            Ok(PageRecord {
                subject: r.get(0)?,
                key: r.get(1)?,
                policy: r.get(2)?,
                level: r.get(3)?,
                round: r.get(4)?,
                cycle: r.get(5)?,
                targets: serde_json::from_str(&targets).unwrap_or_default(),
                reason: r.get(7)?,
                actor: r.get(8)?,
                at: r.get(9)?,
            })
        },
    )
}

/// Breaches in [from, to), or of the given subjects when `subjects` is not empty.
pub(crate) fn breaches(
    conn: &Connection,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<BreachRecord>> {
    collect_for(
        conn,
        "SELECT subject, what, severity, team, target_ms, at FROM sla_breaches \
         WHERE at >= ?1 AND at < ?2 ORDER BY at LIMIT ?3",
        params![from, to, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            Ok(BreachRecord {
                subject: r.get(0)?,
                what: r.get(1)?,
                severity: r.get(2)?,
                team: r.get(3)?,
                target_ms: r.get(4)?,
                at: r.get(5)?,
            })
        },
    )
}

/// Breaches recorded for alerts that are not closed: what must not be told again at start.
pub(crate) fn open_breaches(conn: &Connection) -> Result<Vec<(String, String)>> {
    collect_for(
        conn,
        "SELECT b.subject, b.what FROM sla_breaches b JOIN alerts a \
         ON b.subject = 'alert:' || a.id WHERE a.state != 'closed'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Alerts first seen in [from, to), at most `limit`: what SLA compliance is computed over.
pub(crate) fn sla_alerts(
    conn: &Connection,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<SlaAlert>> {
    collect_for(
        conn,
        "SELECT id, severity, json_extract(labels, '$.team'), first_seen, acknowledged_at, \
         resolved_at FROM alerts WHERE first_seen >= ?1 AND first_seen < ?2 \
         ORDER BY first_seen LIMIT ?3",
        params![from, to, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            Ok(SlaAlert {
                id: r.get(0)?,
                severity: r.get(1)?,
                team: r.get(2)?,
                first_seen: r.get(3)?,
                acknowledged_at: r.get(4)?,
                resolved_at: r.get(5)?,
            })
        },
    )
}
