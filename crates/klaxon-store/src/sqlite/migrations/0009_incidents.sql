-- klaxon SQLite schema, version 9: incidents, their members and their timelines.
-- Runs once, inside one transaction, on top of version 8; `PRAGMA user_version` records it.
--
-- Incidents are written through the same `apply_alert_changes` commits as the alert changes
-- that cause them, so an incident and its members are durable before anything shows them.
-- `incident_members` holds each alert in at most one incident (its primary key), with the
-- link that put it there as JSON (none for the alert that opened it or one placed by hand).
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY,
    title       TEXT    NOT NULL,
    priority    TEXT    NOT NULL,
    state       TEXT    NOT NULL
                CHECK (state IN ('open', 'investigating', 'resolved', 'closed', 'reopened')),
    owner       TEXT,
    opened_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    confidence  REAL
);
-- Lists by state (the filter most asked for), newest first.
CREATE INDEX incidents_state ON incidents (state, id);

CREATE TABLE incident_members (
    alert_id    INTEGER PRIMARY KEY REFERENCES alerts (id),
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    joined_at   INTEGER NOT NULL,
    link        TEXT
);
CREATE INDEX incident_members_incident ON incident_members (incident_id, alert_id);

CREATE TABLE incident_timeline (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);
