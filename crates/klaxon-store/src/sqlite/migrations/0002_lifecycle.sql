-- klaxon SQLite schema, version 2: the alert lifecycle.
-- Runs once, inside one transaction, on top of version 1; `PRAGMA user_version` records it.
--
-- Alerts gain their lifecycle columns; occurrences and notes get their own tables. Three
-- derived structures serve the reads at a million alerts: `alert_counts` (the summary without
-- a scan), `alert_labels` (label filters by index), `alert_blocks` (time ranges as id ranges)
-- and `alerts_fts` (free-text search by trigram index). This migration fills them from the existing alerts; from then on the store
-- updates them with every write of an alert, in the same transaction (sqlite/derived.rs).
-- Not with triggers: a trigger makes every insert of an alert open a statement savepoint, and
-- FTS5 flushes its pending index to disk at every savepoint, which made inserts ~10x slower.

-- Lifecycle columns. Alerts of version 1 all came from engine rules.
ALTER TABLE alerts ADD COLUMN source TEXT NOT NULL DEFAULT 'rule';
ALTER TABLE alerts ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- JSON objects of string values.
ALTER TABLE alerts ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE alerts ADD COLUMN annotations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE alerts ADD COLUMN first_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN acknowledged_at INTEGER;
ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT;
ALTER TABLE alerts ADD COLUMN resolved_at INTEGER;
ALTER TABLE alerts ADD COLUMN resolved_by TEXT;
ALTER TABLE alerts ADD COLUMN closed_at INTEGER;
ALTER TABLE alerts ADD COLUMN suppressed_until INTEGER;
ALTER TABLE alerts ADD COLUMN assignee TEXT;
ALTER TABLE alerts ADD COLUMN ends_at INTEGER;
ALTER TABLE alerts ADD COLUMN generator_url TEXT;
ALTER TABLE alerts ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;

-- Existing (engine) alerts: what `insert_alerts` now writes for a new one. The labels must stay
-- the same as `engine_labels` in sqlite/write.rs builds them (a test compares the two);
-- json_patch drops `context` when it is NULL.
UPDATE alerts SET
    name = rule_id,
    first_seen = engine_ts,
    last_seen = engine_ts,
    updated_at = created_at,
    labels = json_patch(
        json_object(
            'alertname', rule_id, 'rule_set', rule_set, 'group', "group",
            'process_name', process_name, 'scope', scope, 'action', "action",
            'handler', handler, 'severity', severity
        ),
        json_object('context', context)
    );

-- Every firing folded into an alert, the first one included.
CREATE TABLE alert_occurrences (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at INTEGER NOT NULL,
    value REAL,
    message TEXT NOT NULL
);
CREATE INDEX alert_occurrences_alert_id ON alert_occurrences (alert_id);
INSERT INTO alert_occurrences (alert_id, at, value, message)
    SELECT id, signal_ts, value, message FROM alerts ORDER BY id;

CREATE TABLE alert_notes (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX alert_notes_alert_id ON alert_notes (alert_id);

-- Indexes of the history's drivers (sqlite/history.rs); each also ends in the rowid, so one
-- equality walks its alerts newest first. The first_seen index also covers what
-- `alert_performance` and `alert_trends` read, so they never touch the alerts themselves.
CREATE INDEX alerts_state_severity ON alerts (state, severity);
CREATE INDEX alerts_name ON alerts (name);
CREATE INDEX alerts_source ON alerts (source);
CREATE INDEX alerts_first_seen
    ON alerts (first_seen, severity, name, acknowledged_at, resolved_at);

-- Alerts per (state, severity, source): the summary and the history's estimates read this
-- table instead of counting a million rows. Rows may hold n = 0.
CREATE TABLE alert_counts (
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    source TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (state, severity, source)
) WITHOUT ROWID;
INSERT INTO alert_counts (state, severity, source, n)
    SELECT state, severity, source, count(*) FROM alerts GROUP BY state, severity, source;

-- Every (label, value) of every alert, for label filters by index, newest alert first. Any
-- label name works (dots, quotes, anything): it is a value here, never part of a JSON path.
CREATE TABLE alert_labels (
    label TEXT NOT NULL,
    value TEXT NOT NULL,
    alert_id INTEGER NOT NULL,
    PRIMARY KEY (label, value, alert_id)
) WITHOUT ROWID;
INSERT INTO alert_labels (label, value, alert_id)
    SELECT j.key, j.value, a.id FROM alerts AS a, json_each(a.labels) AS j;

-- The range of first_seen of each block of 4096 consecutive ids (block = id / 4096). A time
-- filter of the history becomes an exact id range: blocks whose every alert was first seen
-- after the range (or before it) are skipped. first_seen never changes once inserted.
CREATE TABLE alert_blocks (
    block INTEGER PRIMARY KEY,
    min_first_seen INTEGER NOT NULL,
    max_first_seen INTEGER NOT NULL
);
INSERT INTO alert_blocks (block, min_first_seen, max_first_seen)
    SELECT id >> 12, min(first_seen), max(first_seen) FROM alerts GROUP BY id >> 12;

-- Trigrams of the name, the message and the label values (one line each) of every alert, for
-- free-text search (the text `search_text` in sqlite/derived.rs builds). Contentless and
-- without positions (detail = none) to stay small: a match is a candidate that holds every
-- trigram of the text, and the history checks the text itself on each candidate, so results
-- are exact.
CREATE VIRTUAL TABLE alerts_fts USING fts5 (
    text,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'trigram'
);
INSERT INTO alerts_fts (rowid, text)
    SELECT id, name || char(10) || message || char(10)
               || coalesce((SELECT group_concat(value, char(10)) FROM json_each(labels)), '')
    FROM alerts;
