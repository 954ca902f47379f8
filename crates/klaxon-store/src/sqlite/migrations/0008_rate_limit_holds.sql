-- klaxon SQLite schema, version 8: notifications held by a receiver's rate limit are rows.
-- Runs once, inside one transaction, on top of version 7; `PRAGMA user_version` records it.
--
-- A notification the rate limit holds is written as a row of status `limited` (never claimed,
-- never sent) with its own group and alerts, so a restart neither tells it again nor loses it:
-- the dispatcher takes the `limited` rows back into the limiter. The summary that folds them
-- turns them `folded` in the same commit that writes it. This index finds a receiver's
-- limited rows (and stays empty once everything held is told).
CREATE INDEX notifications_limited ON notifications (receiver, kind, id)
    WHERE status = 'limited';
