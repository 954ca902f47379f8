-- klaxon telemetry database (a file of its own beside the main one), version 1.
-- Runs once, inside one transaction; `PRAGMA user_version` records that it ran.

-- One row; `ping` updates it to prove a durable write goes through.
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pings INTEGER NOT NULL
);
INSERT INTO meta (id, pings) VALUES (1, 0);

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
