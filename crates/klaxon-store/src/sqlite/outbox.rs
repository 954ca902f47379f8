//! The SQL of the notification outbox. Writes run on the writer thread inside the caller's
//! savepoint; reads on the reader pool. Must not begin, commit or roll back anything.

use rusqlite::{params, Connection, OptionalExtension};

use super::error::map;
use super::read::collect_for;
use super::row::{self, ALERT_COLUMNS};
use crate::outbox::status;
use crate::{
    Claim, Delivery, DeliveryCount, NewNotification, NotificationRecord, Notified, OutboxRow,
    Result, StoredAlert,
};

/// The columns of [`OutboxRow`] but the payload, which [`with_payloads`] adds.
const ROW_COLUMNS: &str =
    "id, idempotency_key, receiver, channel, channel_index, group_key, kind, \
     status, attempts, created_at";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        idempotency_key: r.get(1)?,
        receiver: r.get(2)?,
        channel: r.get(3)?,
        channel_index: r.get(4)?,
        group_key: r.get(5)?,
        kind: r.get(6)?,
        payload: String::new(),
        status: r.get(7)?,
        attempts: r.get(8)?,
        created_at: r.get(9)?,
    })
}

/// Fills in the payloads of rows read without them.
fn with_payloads(conn: &Connection, mut rows: Vec<OutboxRow>) -> Result<Vec<OutboxRow>> {
    let mut st = conn
        .prepare_cached("SELECT payload FROM notification_payloads WHERE id = ?1")
        .map_err(map)?;
    for r in &mut rows {
        r.payload = st
            .query_row([r.id], |x| x.get(0))
            .optional()
            .map_err(map)?
            .unwrap_or_default();
    }
    Ok(rows)
}

/// Whether the stream has an unfinished row older than `id`.
fn blocked(conn: &Connection, stream: i64, id: i64) -> Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM notifications INDEXED BY notifications_stream \
         WHERE stream = ?1 AND id < ?2 AND status IN ('pending', 'sending', 'retrying') LIMIT 1",
    )
    .and_then(|mut st| st.query_row(params![stream, id], |_| Ok(())).optional())
    .map(|r| r.is_some())
    .map_err(map)
}

/// Inserts the rows; with a claim, each row whose stream has nothing unfinished before it is
/// claimed at once (and returned), the others wait as `pending`.
pub(crate) fn enqueue(
    conn: &Connection,
    rows: &[NewNotification],
    claim: Option<&Claim>,
) -> Result<Vec<OutboxRow>> {
    let mut claimed = Vec::new();
    for n in rows {
        let stream = n.stream();
        // Claimed at insert when nothing of its stream is unfinished (all of those are older).
        let take = match claim {
            Some(c) if !blocked(conn, stream, i64::MAX)? => Some(c),
            _ => None,
        };
        // Folded first: the summary is the newest row of its receiver and kind.
        if n.summary {
            conn.prepare_cached(
                "UPDATE notifications INDEXED BY notifications_limited \
                 SET status = 'folded', finished_at = ?3 \
                 WHERE status = 'limited' AND receiver = ?1 AND kind = ?2",
            )
            .and_then(|mut q| q.execute(params![n.receiver, n.kind, n.created_at]))
            .map_err(map)?;
        }
        let take = take.filter(|_| !n.limited);
        let (st, attempts, next, owner) = match take {
            Some(c) => (status::SENDING, 1, c.until, Some(c.owner.as_str())),
            None if n.limited => (status::LIMITED, 0, n.created_at, None),
            None => (status::PENDING, 0, n.created_at, None),
        };
        conn.prepare_cached(
            "INSERT INTO notifications (idempotency_key, receiver, channel, channel_index, stream, \
             group_key, kind, status, attempts, created_at, next_attempt_at, claimed_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .and_then(|mut q| {
            q.execute(params![
                n.idempotency_key,
                n.receiver,
                n.channel,
                n.channel_index,
                stream,
                n.group_key,
                n.kind,
                st,
                attempts,
                n.created_at,
                next,
                owner
            ])
        })
        .map_err(map)?;
        let id = conn.last_insert_rowid();
        conn.prepare_cached("INSERT INTO notification_payloads (id, payload) VALUES (?1, ?2)")
            .and_then(|mut q| q.execute(params![id, n.payload]))
            .map_err(map)?;
        for a in &n.alert_ids {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO notification_alerts (alert_id, notification_id) VALUES (?1, ?2)",
            )
            .and_then(|mut q| q.execute(params![a, id]))
            .map_err(map)?;
        }
        if take.is_some() {
            claimed.push(OutboxRow {
                id,
                idempotency_key: n.idempotency_key.clone(),
                receiver: n.receiver.clone(),
                channel: n.channel.clone(),
                channel_index: n.channel_index,
                group_key: n.group_key.clone(),
                kind: n.kind.clone(),
                payload: n.payload.clone(),
                status: status::SENDING.to_owned(),
                attempts: 1,
                created_at: n.created_at,
            });
        }
    }
    Ok(claimed)
}

/// Claims up to `limit` due rows whose streams have nothing unfinished before them: pending
/// and retrying rows due by `now`, and sending rows whose lease ended.
pub(crate) fn claim(conn: &Connection, c: &Claim, limit: usize) -> Result<Vec<OutboxRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "UPDATE notifications SET status = 'sending', attempts = attempts + 1, claimed_by = ?1, \
         next_attempt_at = ?3 WHERE id IN (\
           SELECT n.id FROM notifications n INDEXED BY notifications_due \
           WHERE n.status IN ('pending', 'sending', 'retrying') AND n.next_attempt_at <= ?2 \
             AND NOT EXISTS (SELECT 1 FROM notifications p INDEXED BY notifications_stream \
                 WHERE p.stream = n.stream AND p.id < n.id \
                   AND p.status IN ('pending', 'sending', 'retrying')) \
           ORDER BY n.next_attempt_at, n.id LIMIT ?4) \
         RETURNING {ROW_COLUMNS}"
    );
    let mut rows = collect_for(
        conn,
        &sql,
        params![c.owner, c.now, c.until, limit],
        outbox_row,
    )?;
    rows.sort_by_key(|r| r.id);
    with_payloads(conn, rows)
}

/// Records outcomes of claimed rows; a row no longer claimed by the outcome's owner is left
/// alone (its lease ended and someone else has it).
pub(crate) fn record(conn: &Connection, outcomes: &[Delivery]) -> Result<()> {
    for d in outcomes {
        let finished = (d.status != status::RETRYING).then_some(d.at);
        let next = d.next_attempt_at.unwrap_or(d.at);
        conn.prepare_cached(
            "UPDATE notifications SET status = ?3, next_attempt_at = ?4, last_error = ?5, \
             last_code = ?6, finished_at = ?7, held = ?8, claimed_by = NULL \
             WHERE id = ?1 AND claimed_by = ?2 AND status = 'sending'",
        )
        .and_then(|mut st| {
            st.execute(params![
                d.id, d.owner, d.status, next, d.error, d.code, finished, d.held
            ])
        })
        .map_err(map)?;
    }
    Ok(())
}

/// Gives the owner's claims back (after a restart of that node): due now.
pub(crate) fn release(conn: &Connection, owner: &str, now: i64) -> Result<u64> {
    let n = conn
        .prepare_cached(
            "UPDATE notifications SET status = 'retrying', claimed_by = NULL, next_attempt_at = ?2 \
             WHERE status = 'sending' AND claimed_by = ?1",
        )
        .and_then(|mut st| st.execute(params![owner, now]))
        .map_err(map)?;
    Ok(n as u64)
}

/// Makes the retrying rows of one receiver's channel due now.
pub(crate) fn retry_now(conn: &Connection, receiver: &str, index: i64, now: i64) -> Result<u64> {
    let n = conn
        .prepare_cached(
            "UPDATE notifications INDEXED BY notifications_due SET next_attempt_at = ?3 \
             WHERE status IN ('pending', 'sending', 'retrying') AND status = 'retrying' \
               AND next_attempt_at > ?3 AND held = 0 AND receiver = ?1 AND channel_index = ?2",
        )
        .and_then(|mut st| st.execute(params![receiver, index, now]))
        .map_err(map)?;
    Ok(n as u64)
}

/// Deletes finished rows older than `before` that tell of no open alert.
pub(crate) fn delete_before(conn: &Connection, before: i64) -> Result<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM notifications WHERE finished_at IS NOT NULL AND finished_at < ?1 \
             AND NOT EXISTS (SELECT 1 FROM notification_alerts na JOIN alerts a ON a.id = na.alert_id \
                 WHERE na.notification_id = notifications.id AND a.state != 'closed')",
        )
        .and_then(|mut st| st.execute(params![before]))
        .map_err(map)?;
    Ok(n as u64)
}

/// The earliest `next_attempt_at` of an unfinished row.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT min(next_attempt_at) FROM notifications INDEXED BY notifications_due \
         WHERE status IN ('pending', 'sending', 'retrying')",
    )
    .and_then(|mut st| st.query_row([], |r| r.get(0)))
    .map_err(map)
}

/// The latest notification of each (group, alert) for alerts that are not closed.
pub(crate) fn log(conn: &Connection) -> Result<Vec<Notified>> {
    collect_for(
        conn,
        "SELECT n.group_key, na.alert_id, n.kind, n.created_at, max(n.id) \
         FROM notification_alerts na JOIN notifications n ON n.id = na.notification_id \
         WHERE na.alert_id IN (SELECT id FROM alerts WHERE state != 'closed') \
         GROUP BY n.group_key, na.alert_id",
        // SQLite takes the bare columns from the row of the one max(): the latest notification.
        [],
        |r| {
            Ok(Notified {
                group_key: r.get(0)?,
                alert_id: r.get(1)?,
                kind: r.get(2)?,
                at: r.get(3)?,
            })
        },
    )
}

/// Every alert that is not closed, in full, by id.
pub(crate) fn open_alerts(conn: &Connection) -> Result<Vec<StoredAlert>> {
    collect_for(
        conn,
        &format!("SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.state != 'closed' ORDER BY a.id"),
        [],
        row::alert,
    )
}

/// The newest `limit` notifications of an alert, newest first.
pub(crate) fn of_alert(
    conn: &Connection,
    alert_id: i64,
    limit: usize,
) -> Result<Vec<NotificationRecord>> {
    collect_for(
        conn,
        "SELECT n.id, n.receiver, n.channel, n.kind, n.status, n.attempts, n.created_at, \
         n.finished_at, n.last_error, n.last_code, n.idempotency_key \
         FROM notification_alerts na JOIN notifications n ON n.id = na.notification_id \
         WHERE na.alert_id = ?1 ORDER BY n.id DESC LIMIT ?2",
        params![alert_id, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            Ok(NotificationRecord {
                id: r.get(0)?,
                receiver: r.get(1)?,
                channel: r.get(2)?,
                kind: r.get(3)?,
                status: r.get(4)?,
                attempts: r.get(5)?,
                created_at: r.get(6)?,
                finished_at: r.get(7)?,
                last_error: r.get(8)?,
                last_code: r.get(9)?,
                idempotency_key: r.get(10)?,
            })
        },
    )
}

/// The rows a rate limit holds and no summary has told yet, oldest first, with payloads.
pub(crate) fn limited(conn: &Connection) -> Result<Vec<OutboxRow>> {
    let rows = collect_for(
        conn,
        &format!(
            "SELECT {ROW_COLUMNS} FROM notifications INDEXED BY notifications_limited \
             WHERE status = 'limited' ORDER BY id"
        ),
        [],
        outbox_row,
    )?;
    with_payloads(conn, rows)
}

/// Rows per channel and status (deliveries only: not what a rate limit holds or folded).
pub(crate) fn counts(conn: &Connection) -> Result<Vec<DeliveryCount>> {
    collect_for(
        conn,
        "SELECT channel, status, count(*) FROM notifications \
         WHERE status NOT IN ('limited', 'folded') GROUP BY channel, status ORDER BY channel, status",
        [],
        |r| {
            Ok(DeliveryCount {
                channel: r.get(0)?,
                status: r.get(1)?,
                count: r.get::<_, i64>(2)?.unsigned_abs(),
            })
        },
    )
}

/// Rows of a channel after an id, oldest first.
pub(crate) fn after(
    conn: &Connection,
    channel: &str,
    after_id: i64,
    limit: usize,
) -> Result<Vec<OutboxRow>> {
    let rows = collect_for(
        conn,
        &format!("SELECT {ROW_COLUMNS} FROM notifications WHERE id > ?1 AND channel = ?2 ORDER BY id LIMIT ?3"),
        params![after_id, channel, i64::try_from(limit).unwrap_or(i64::MAX)],
        outbox_row,
    )?;
    with_payloads(conn, rows)
}
