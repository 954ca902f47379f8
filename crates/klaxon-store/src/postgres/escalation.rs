//! The SQL of escalations, pages and SLA breaches: writes inside the caller's write transaction
//! (as part of an alert commit), and reads. A page or a breach recorded before writes nothing
//! again, nor do its notifications.

use tokio_postgres::{GenericClient, Row, Transaction};

use super::row::{self, collect, exec, get};
use crate::escalation::{BreachRecord, EscalationChange, EscalationRecord, PageRecord, SlaAlert};
use crate::outbox::NewNotification;
use crate::Result;

pub(crate) async fn apply(tx: &Transaction<'_>, c: &EscalationChange) -> Result<()> {
    match c {
        EscalationChange::Put(r) => exec(
            tx,
            "INSERT INTO escalations AS e (subject, policy, state, next_due, started_at, ended, \
             acknowledged_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (subject) DO UPDATE SET policy = $2, state = $3, next_due = $4, \
             ended = $6, acknowledged_at = coalesce(e.acknowledged_at, $7)",
            &[
                &r.subject,
                &r.policy,
                &r.state,
                &r.next_due,
                &r.started_at,
                &r.ended,
                &r.acknowledged_at,
            ],
        )
        .await
        .map(drop),
        EscalationChange::Page {
            page,
            notifications,
        } => {
            let targets = serde_json::to_string(&page.targets).unwrap_or_default();
            let n = exec(
                tx,
                "INSERT INTO escalation_pages (subject, page_key, policy, level, \
                 round, cycle, targets, reason, actor, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                &[
                    &page.subject,
                    &page.key,
                    &page.policy,
                    &page.level,
                    &page.round,
                    &page.cycle,
                    &targets,
                    &page.reason,
                    &page.actor,
                    &page.at,
                ],
            )
            .await?;
            if n == 1 {
                enqueue_once(tx, notifications).await?;
            }
            Ok(())
        }
        EscalationChange::Breach {
            breach,
            notifications,
        } => {
            let n = exec(
                tx,
                "INSERT INTO sla_breaches (subject, what, severity, team, target_ms, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &breach.subject,
                    &breach.what,
                    &breach.severity,
                    &breach.team,
                    &breach.target_ms,
                    &breach.at,
                ],
            )
            .await?;
            if n == 1 {
                enqueue_once(tx, notifications).await?;
            }
            Ok(())
        }
    }
}

/// Enqueues each notification whose idempotency key is not in the outbox yet.
async fn enqueue_once(tx: &Transaction<'_>, rows: &[NewNotification]) -> Result<()> {
    let mut fresh = Vec::with_capacity(rows.len());
    for n in rows {
        let known = tx
            .query_opt(
                "SELECT 1 FROM notifications WHERE idempotency_key = $1 \
                 AND (group_key LIKE 'escalation:%' OR group_key LIKE 'sla:%')",
                &[&n.idempotency_key],
            )
            .await
            .map_err(super::error::map)?;
        if known.is_none() {
            fresh.push(n.clone());
        }
    }
    super::outbox::enqueue(tx, &fresh, None).await.map(drop)
}

fn escalation_row(r: &Row) -> Result<EscalationRecord> {
    Ok(EscalationRecord {
        subject: get(r, 0)?,
        policy: get(r, 1)?,
        state: get(r, 2)?,
        next_due: get(r, 3)?,
        started_at: get(r, 4)?,
        ended: get(r, 5)?,
        acknowledged_at: get(r, 6)?,
    })
}

/// Escalations that have not ended.
pub(crate) async fn open<C: GenericClient + Sync>(c: &C) -> Result<Vec<EscalationRecord>> {
    collect(
        c,
        "SELECT subject, policy, state, next_due, started_at, ended, acknowledged_at \
         FROM escalations WHERE NOT ended ORDER BY subject",
        &[],
        escalation_row,
    )
    .await
}

/// Escalations that started in [from, to), at most `limit`.
pub(crate) async fn started<C: GenericClient + Sync>(
    c: &C,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<EscalationRecord>> {
    collect(
        c,
        "SELECT subject, policy, state, next_due, started_at, ended, acknowledged_at \
         FROM escalations WHERE started_at >= $1 AND started_at < $2 \
         ORDER BY started_at LIMIT $3",
        &[&from, &to, &row::limit(limit)],
        escalation_row,
    )
    .await
}

/// Pages in [from, to), at most `limit`, oldest first.
pub(crate) async fn pages<C: GenericClient + Sync>(
    c: &C,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<PageRecord>> {
    collect(
        c,
        "SELECT subject, page_key, policy, level, round, cycle, targets, reason, actor, at \
         FROM escalation_pages WHERE at >= $1 AND at < $2 ORDER BY at LIMIT $3",
        &[&from, &to, &row::limit(limit)],
        |r| {
            let targets: &str = get(r, 6)?;
            Ok(PageRecord {
                subject: get(r, 0)?,
                key: get(r, 1)?,
                policy: get(r, 2)?,
                level: get(r, 3)?,
                round: get(r, 4)?,
                cycle: get(r, 5)?,
                targets: serde_json::from_str(targets).unwrap_or_default(),
                reason: get(r, 7)?,
                actor: get(r, 8)?,
                at: get(r, 9)?,
            })
        },
    )
    .await
}

/// Breaches in [from, to), at most `limit`, oldest first.
pub(crate) async fn breaches<C: GenericClient + Sync>(
    c: &C,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<BreachRecord>> {
    collect(
        c,
        "SELECT subject, what, severity, team, target_ms, at FROM sla_breaches \
         WHERE at >= $1 AND at < $2 ORDER BY at LIMIT $3",
        &[&from, &to, &row::limit(limit)],
        |r| {
            Ok(BreachRecord {
                subject: get(r, 0)?,
                what: get(r, 1)?,
                severity: get(r, 2)?,
                team: get(r, 3)?,
                target_ms: get(r, 4)?,
                at: get(r, 5)?,
            })
        },
    )
    .await
}

/// Breaches recorded for alerts that are not closed: what must not be told again at start.
pub(crate) async fn open_breaches<C: GenericClient + Sync>(c: &C) -> Result<Vec<(String, String)>> {
    collect(
        c,
        "SELECT b.subject, b.what FROM sla_breaches b JOIN alerts a \
         ON b.subject = 'alert:' || a.id WHERE a.state <> 'closed'",
        &[],
        |r| Ok((get(r, 0)?, get(r, 1)?)),
    )
    .await
}

/// Alerts first seen in [from, to), at most `limit`: what SLA compliance is computed over.
pub(crate) async fn sla_alerts<C: GenericClient + Sync>(
    c: &C,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<SlaAlert>> {
    collect(
        c,
        "SELECT id, severity, labels ->> 'team', first_seen, acknowledged_at, resolved_at \
         FROM alerts WHERE first_seen >= $1 AND first_seen < $2 \
         ORDER BY first_seen LIMIT $3",
        &[&from, &to, &row::limit(limit)],
        |r| {
            Ok(SlaAlert {
                id: get(r, 0)?,
                severity: get(r, 1)?,
                team: get(r, 2)?,
                first_seen: get(r, 3)?,
                acknowledged_at: get(r, 4)?,
                resolved_at: get(r, 5)?,
            })
        },
    )
    .await
}
