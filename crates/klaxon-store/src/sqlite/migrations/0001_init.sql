-- klaxon SQLite schema, version 1.
-- Runs once, inside one transaction; `PRAGMA user_version` records that it ran.

-- One row; `ping` updates it to prove a durable write goes through.
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pings INTEGER NOT NULL
);
INSERT INTO meta (id, pings) VALUES (1, 0);

-- Alerts: AUTOINCREMENT so an id is never reused, even after rows are deleted; followers page
-- by id.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    "group" TEXT NOT NULL,
    rule_set TEXT NOT NULL,
    -- The JSON number as text (integer or float exactly as serde_json prints it), or NULL.
    rule_set_version TEXT,
    rule_id TEXT NOT NULL,
    "trigger" TEXT NOT NULL,
    operator TEXT NOT NULL,
    severity TEXT NOT NULL,
    handler TEXT NOT NULL,
    process TEXT NOT NULL,
    process_name TEXT NOT NULL,
    scope TEXT NOT NULL,
    "action" TEXT NOT NULL,
    context TEXT,
    action_count INTEGER NOT NULL,
    value REAL,
    "limit" REAL,
    signal_ts INTEGER NOT NULL,
    engine_ts INTEGER NOT NULL,
    message TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint);
CREATE INDEX alerts_rule_id ON alerts (rule_id);
CREATE INDEX alerts_process ON alerts (process);
CREATE INDEX alerts_created_at ON alerts (created_at);

-- The audit trail of every alert: one row per state change, the first one `created`.
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX alert_events_alert_id ON alert_events (alert_id);

-- Telemetry: append-only, one table per kind, no secondary index (insert speed). Retention
-- relies on `received_at` being non-decreasing in rowid order (see sqlite/write.rs).
CREATE TABLE process_events (
    kind TEXT NOT NULL,
    process TEXT NOT NULL,
    name TEXT,
    "group" TEXT,
    status INTEGER,
    info TEXT,
    steps_todo INTEGER,
    steps_done INTEGER,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE marks (
    process TEXT NOT NULL,
    "action" TEXT NOT NULL,
    context TEXT,
    ts INTEGER NOT NULL,
    used_ms INTEGER NOT NULL,
    action_count INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE traces (
    process TEXT NOT NULL,
    "action" TEXT NOT NULL,
    context TEXT,
    kind TEXT NOT NULL,
    ts INTEGER NOT NULL,
    used_ms INTEGER,
    action_count INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE logs (
    process TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);

-- The current state of every process run, upserted from its process rows.
CREATE TABLE processes (
    process TEXT PRIMARY KEY,
    name TEXT,
    "group" TEXT,
    status INTEGER,
    info TEXT,
    steps_todo INTEGER,
    steps_done INTEGER,
    started_at INTEGER,
    stopped_at INTEGER,
    last_ts INTEGER NOT NULL
);

CREATE TABLE rule_sets (
    "group" TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    json TEXT NOT NULL,
    author TEXT,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    UNIQUE ("group", name, version)
);
-- At most one active rule set per group.
CREATE UNIQUE INDEX rule_sets_one_active ON rule_sets ("group") WHERE active = 1;

-- EWMA baselines of named scopes; context '' stands for none.
CREATE TABLE baselines (
    "group" TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    "action" TEXT NOT NULL,
    context TEXT NOT NULL,
    n INTEGER NOT NULL,
    avg REAL NOT NULL,
    PRIMARY KEY ("group", rule_id, scope, "action", context)
) WITHOUT ROWID;

-- Access tokens: only the hex SHA-256 of a token is kept.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
