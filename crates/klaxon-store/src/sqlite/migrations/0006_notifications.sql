-- klaxon SQLite schema, version 3: the notification outbox.
-- Runs once, inside one transaction, on top of version 2; `PRAGMA user_version` records it.
--
-- Every notification is a row before it is sent. `status` moves pending → sending (claimed,
-- `claimed_by`, lease end in `next_attempt_at`) → sent | retrying (again at `next_attempt_at`)
-- | failed | dead. Unfinished rows (pending, sending, retrying) are the only ones the due and
-- stream indexes hold, so a large history of delivered rows costs the workers nothing.
-- PostgreSQL will claim with `FOR UPDATE SKIP LOCKED` over the same columns.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    -- 128 random bits: unique without an index to keep so.
    idempotency_key TEXT NOT NULL,
    receiver TEXT NOT NULL,
    channel TEXT NOT NULL,
    channel_index INTEGER NOT NULL,
        -- A hash of receiver, channel index and group key: rows of a stream are delivered in id
    -- order.
    stream INTEGER NOT NULL,
    group_key TEXT NOT NULL,
        kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_by TEXT,
    last_error TEXT,
    last_code INTEGER,
    -- 1 when the receiver asked for the wait (Retry-After): a recovery does not cut it short.
    held INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER
);
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('pending', 'sending', 'retrying');
CREATE INDEX notifications_stream ON notifications (stream, id)
    WHERE status IN ('pending', 'sending', 'retrying');
CREATE INDEX notifications_finished ON notifications (finished_at)
    WHERE finished_at IS NOT NULL;

-- The notification documents, apart from the rows the workers update, so an update rewrites a
-- small row.
CREATE TABLE notification_payloads (
    id INTEGER PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
    payload TEXT NOT NULL
);

-- The alerts each notification tells of: an alert's notifications, and what was last told of
-- an open alert in each group (so a restart tells nothing twice).
CREATE TABLE notification_alerts (
    alert_id INTEGER NOT NULL,
    notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (alert_id, notification_id)
) WITHOUT ROWID;
CREATE INDEX notification_alerts_notification ON notification_alerts (notification_id);
