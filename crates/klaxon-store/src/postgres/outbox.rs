//! The SQL of the notification outbox. Writes run inside the caller's write transaction;
//! claims take rows `FOR UPDATE SKIP LOCKED`, so nodes sharing the database never claim one row
//! twice. Must not begin, commit or roll back anything.

use tokio_postgres::{GenericClient, Row, Transaction};

use super::error::decoding;
use super::row::{self, collect, exec, get, get_u64, Param, ALERT_COLUMNS};
use crate::outbox::status;
use crate::{
    Claim, Delivery, DeliveryCount, NewNotification, NotificationRecord, Notified, OutboxRow,
    Result, StoredAlert,
};

/// The columns of [`OutboxRow`], the payload last.
const ROW_COLUMNS: &str = "n.id, n.idempotency_key, n.receiver, n.channel, n.channel_index, \
     n.group_key, n.kind, n.status, n.attempts, n.created_at, \
     coalesce((SELECT payload FROM notification_payloads p WHERE p.id = n.id), '')";

fn attempts(r: &Row, i: usize) -> Result<u32> {
    let n: i64 = get(r, i)?;
    u32::try_from(n).map_err(|e| decoding("attempts", e))
}

fn outbox_row(r: &Row) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: get(r, 0)?,
        idempotency_key: get(r, 1)?,
        receiver: get(r, 2)?,
        channel: get(r, 3)?,
        channel_index: get(r, 4)?,
        group_key: get(r, 5)?,
        kind: get(r, 6)?,
        status: get(r, 7)?,
        attempts: attempts(r, 8)?,
        created_at: get(r, 9)?,
        payload: get(r, 10)?,
    })
}

/// Whether the stream has an unfinished row.
async fn blocked(tx: &Transaction<'_>, stream: i64) -> Result<bool> {
    let r = tx
        .query_opt(
            "SELECT 1 FROM notifications \
             WHERE stream = $1 AND status IN ('pending', 'sending', 'retrying') LIMIT 1",
            &[&stream],
        )
        .await
        .map_err(super::error::map)?;
    Ok(r.is_some())
}

/// Inserts the rows; with a claim, each row whose stream has nothing unfinished before it is
/// claimed at once (and returned), the others wait as `pending`.
pub(crate) async fn enqueue(
    tx: &Transaction<'_>,
    rows: &[NewNotification],
    claim: Option<&Claim>,
) -> Result<Vec<OutboxRow>> {
    let mut claimed = Vec::new();
    for n in rows {
        let stream = n.stream();
        // Claimed at insert when nothing of its stream is unfinished (all of those are older).
        let take = match claim {
            Some(c) if !blocked(tx, stream).await? => Some(c),
            _ => None,
        };
        // Folded first: the summary is the newest row of its receiver and kind.
        if n.summary {
            exec(
                tx,
                "UPDATE notifications SET status = 'folded', finished_at = $3 \
                 WHERE status = 'limited' AND receiver = $1 AND kind = $2",
                &[&n.receiver, &n.kind, &n.created_at],
            )
            .await?;
        }
        let take = take.filter(|_| !n.limited);
        let (st, tries, next, owner) = match take {
            Some(c) => (status::SENDING, 1_i64, c.until, Some(c.owner.as_str())),
            None if n.limited => (status::LIMITED, 0, n.created_at, None),
            None => (status::PENDING, 0, n.created_at, None),
        };
        let r = tx
            .query_one(
                "INSERT INTO notifications (idempotency_key, receiver, channel, channel_index, \
                 stream, group_key, kind, status, attempts, created_at, next_attempt_at, \
                 claimed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 RETURNING id",
                &[
                    &n.idempotency_key,
                    &n.receiver,
                    &n.channel,
                    &n.channel_index,
                    &stream,
                    &n.group_key,
                    &n.kind,
                    &st,
                    &tries,
                    &n.created_at,
                    &next,
                    &owner,
                ],
            )
            .await
            .map_err(super::error::map)?;
        let id: i64 = get(&r, 0)?;
        exec(
            tx,
            "INSERT INTO notification_payloads (id, payload) VALUES ($1, $2)",
            &[&id, &n.payload],
        )
        .await?;
        if !n.alert_ids.is_empty() {
            exec(
                tx,
                "INSERT INTO notification_alerts (alert_id, notification_id) \
                 SELECT a, $2 FROM unnest($1::int8[]) AS a ON CONFLICT DO NOTHING",
                &[&n.alert_ids, &id],
            )
            .await?;
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
/// and retrying rows due by `now`, and sending rows whose lease ended. Rows another node has
/// locked are skipped, not waited for.
pub(crate) async fn claim(tx: &Transaction<'_>, c: &Claim, limit: usize) -> Result<Vec<OutboxRow>> {
    let limit = row::limit(limit);
    let sql = format!(
        "WITH due AS (\
           SELECT d.id FROM notifications d \
           WHERE d.status IN ('pending', 'sending', 'retrying') AND d.next_attempt_at <= $2 \
             AND NOT EXISTS (SELECT 1 FROM notifications p \
                 WHERE p.stream = d.stream AND p.id < d.id \
                   AND p.status IN ('pending', 'sending', 'retrying')) \
           ORDER BY d.next_attempt_at, d.id LIMIT $4 FOR UPDATE SKIP LOCKED) \
         UPDATE notifications n SET status = 'sending', attempts = n.attempts + 1, \
           claimed_by = $1, next_attempt_at = $3 \
         FROM due WHERE n.id = due.id RETURNING {ROW_COLUMNS}"
    );
    let mut rows = collect(tx, &sql, &[&c.owner, &c.now, &c.until, &limit], outbox_row).await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Records outcomes of claimed rows; a row no longer claimed by the outcome's owner is left
/// alone (its lease ended and someone else has it).
pub(crate) async fn record(tx: &Transaction<'_>, outcomes: &[Delivery]) -> Result<()> {
    let st = tx
        .prepare(
            "UPDATE notifications SET status = $3, next_attempt_at = $4, last_error = $5, \
             last_code = $6, finished_at = $7, held = $8, claimed_by = NULL \
             WHERE id = $1 AND claimed_by = $2 AND status = 'sending'",
        )
        .await
        .map_err(super::error::map)?;
    for d in outcomes {
        let finished = (d.status != status::RETRYING).then_some(d.at);
        let next = d.next_attempt_at.unwrap_or(d.at);
        let code = d.code.map(i64::from);
        let args: [Param<'_>; 8] = [
            &d.id, &d.owner, &d.status, &next, &d.error, &code, &finished, &d.held,
        ];
        tx.execute(&st, &args).await.map_err(super::error::map)?;
    }
    Ok(())
}

/// Gives the owner's claims back (after a restart of that node): due now.
pub(crate) async fn release(tx: &Transaction<'_>, owner: &str, now: i64) -> Result<u64> {
    exec(
        tx,
        "UPDATE notifications SET status = 'retrying', claimed_by = NULL, next_attempt_at = $2 \
         WHERE status = 'sending' AND claimed_by = $1",
        &[&owner, &now],
    )
    .await
}

/// Makes the retrying rows of one receiver's channel due now.
pub(crate) async fn retry_now(
    tx: &Transaction<'_>,
    receiver: &str,
    index: i64,
    now: i64,
) -> Result<u64> {
    exec(
        tx,
        "UPDATE notifications SET next_attempt_at = $3 \
         WHERE status = 'retrying' AND next_attempt_at > $3 AND NOT held \
           AND receiver = $1 AND channel_index = $2",
        &[&receiver, &index, &now],
    )
    .await
}

/// Deletes finished rows older than `before` that tell of no open alert.
pub(crate) async fn delete_before(tx: &Transaction<'_>, before: i64) -> Result<u64> {
    exec(
        tx,
        "DELETE FROM notifications WHERE finished_at IS NOT NULL AND finished_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM notification_alerts na JOIN alerts a \
             ON a.id = na.alert_id \
             WHERE na.notification_id = notifications.id AND a.state <> 'closed')",
        &[&before],
    )
    .await
}

/// The earliest `next_attempt_at` of an unfinished row.
pub(crate) async fn next_due<C: GenericClient + Sync>(c: &C) -> Result<Option<i64>> {
    let r = c
        .query_one(
            "SELECT min(next_attempt_at) FROM notifications \
             WHERE status IN ('pending', 'sending', 'retrying')",
            &[],
        )
        .await
        .map_err(super::error::map)?;
    get(&r, 0)
}

/// The latest notification of each (group, alert) for alerts that are not closed.
pub(crate) async fn log<C: GenericClient + Sync>(c: &C) -> Result<Vec<Notified>> {
    collect(
        c,
        "SELECT DISTINCT ON (n.group_key, na.alert_id) n.group_key, na.alert_id, n.kind, \
         n.created_at FROM notification_alerts na JOIN notifications n \
         ON n.id = na.notification_id \
         WHERE na.alert_id IN (SELECT id FROM alerts WHERE state <> 'closed') \
         ORDER BY n.group_key, na.alert_id, n.id DESC",
        &[],
        |r| {
            Ok(Notified {
                group_key: get(r, 0)?,
                alert_id: get(r, 1)?,
                kind: get(r, 2)?,
                at: get(r, 3)?,
            })
        },
    )
    .await
}

/// Every alert that is not closed, in full, by id.
pub(crate) async fn open_alerts<C: GenericClient + Sync>(c: &C) -> Result<Vec<StoredAlert>> {
    collect(
        c,
        &format!("SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.state <> 'closed' ORDER BY a.id"),
        &[],
        row::alert,
    )
    .await
}

/// The newest `limit` notifications of an alert, newest first.
pub(crate) async fn of_alert<C: GenericClient + Sync>(
    c: &C,
    alert_id: i64,
    limit: usize,
) -> Result<Vec<NotificationRecord>> {
    collect(
        c,
        "SELECT n.id, n.receiver, n.channel, n.kind, n.status, n.attempts, n.created_at, \
         n.finished_at, n.last_error, n.last_code, n.idempotency_key \
         FROM notification_alerts na JOIN notifications n ON n.id = na.notification_id \
         WHERE na.alert_id = $1 ORDER BY n.id DESC LIMIT $2",
        &[&alert_id, &row::limit(limit)],
        |r| {
            Ok(NotificationRecord {
                id: get(r, 0)?,
                receiver: get(r, 1)?,
                channel: get(r, 2)?,
                kind: get(r, 3)?,
                status: get(r, 4)?,
                attempts: attempts(r, 5)?,
                created_at: get(r, 6)?,
                finished_at: get(r, 7)?,
                last_error: get(r, 8)?,
                last_code: get::<Option<i64>>(r, 9)?
                    .map(u16::try_from)
                    .transpose()
                    .map_err(|e| decoding("a status code", e))?,
                idempotency_key: get(r, 10)?,
            })
        },
    )
    .await
}

/// The rows a rate limit holds and no summary has told yet, oldest first, with payloads.
pub(crate) async fn limited<C: GenericClient + Sync>(c: &C) -> Result<Vec<OutboxRow>> {
    collect(
        c,
        &format!(
            "SELECT {ROW_COLUMNS} FROM notifications n WHERE n.status = 'limited' ORDER BY n.id"
        ),
        &[],
        outbox_row,
    )
    .await
}

/// Rows per channel and status (deliveries only: not what a rate limit holds or folded).
pub(crate) async fn counts<C: GenericClient + Sync>(c: &C) -> Result<Vec<DeliveryCount>> {
    collect(
        c,
        "SELECT channel, status, count(*) FROM notifications \
         WHERE status NOT IN ('limited', 'folded') GROUP BY channel, status \
         ORDER BY channel, status",
        &[],
        |r| {
            Ok(DeliveryCount {
                channel: get(r, 0)?,
                status: get(r, 1)?,
                count: get_u64(r, 2)?,
            })
        },
    )
    .await
}

/// Rows of a channel after an id, oldest first.
pub(crate) async fn after<C: GenericClient + Sync>(
    c: &C,
    channel: &str,
    after_id: i64,
    limit: usize,
) -> Result<Vec<OutboxRow>> {
    collect(
        c,
        &format!(
            "SELECT {ROW_COLUMNS} FROM notifications n WHERE n.id > $1 AND n.channel = $2 \
             ORDER BY n.id LIMIT $3"
        ),
        &[&after_id, &channel, &row::limit(limit)],
        outbox_row,
    )
    .await
}
