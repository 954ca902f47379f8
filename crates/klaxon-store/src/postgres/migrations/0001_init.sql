-- The schema of the PostgreSQL backend, as SQLite's migrations 0001-0013 left it, in one step.
-- Telemetry shares the database (PostgreSQL has no single writer for it to hold up).
-- Times are epoch milliseconds (BIGINT); labels and annotations are JSONB objects of strings.

-- `last_alert_id`: the highest alert id ever used. A row, not a sequence: it moves only with
-- the commit that uses the id (a rolled-back insert leaves it as it was), and writes hold the
-- store's write lock, so ids are handed out in commit order.
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pings BIGINT NOT NULL,
    last_alert_id BIGINT NOT NULL
);
INSERT INTO meta (id, pings, last_alert_id) VALUES (1, 0, 0);

CREATE TABLE alerts (
    id BIGINT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    "group" TEXT NOT NULL,
    rule_set TEXT NOT NULL,
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
    action_count BIGINT NOT NULL,
    value DOUBLE PRECISION,
    "limit" DOUBLE PRECISION,
    signal_ts BIGINT NOT NULL,
    engine_ts BIGINT NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    labels JSONB NOT NULL,
    annotations JSONB NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    occurrences BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    resolved_at BIGINT,
    resolved_by TEXT,
    closed_at BIGINT,
    suppressed_until BIGINT,
    assignee TEXT,
    ends_at BIGINT,
    generator_url TEXT,
    updated_at BIGINT NOT NULL,
    suppressed_by TEXT
);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint);
CREATE INDEX alerts_rule_id ON alerts (rule_id);
CREATE INDEX alerts_process ON alerts (process);
CREATE INDEX alerts_open ON alerts (state, severity) WHERE state <> 'closed';
CREATE INDEX alerts_name ON alerts (name);
CREATE INDEX alerts_first_seen ON alerts (first_seen);
CREATE INDEX alerts_labels ON alerts USING gin (labels jsonb_path_ops);

CREATE TABLE alert_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    ts BIGINT NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX alert_events_alert_id ON alert_events (alert_id, id);

CREATE TABLE alert_occurrences (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    at BIGINT NOT NULL,
    value DOUBLE PRECISION,
    message TEXT NOT NULL
);
CREATE INDEX alert_occurrences_alert_id ON alert_occurrences (alert_id, id);

CREATE TABLE alert_notes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    at BIGINT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX alert_notes_alert_id ON alert_notes (alert_id, id);

CREATE TABLE process_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    process TEXT NOT NULL,
    name TEXT,
    "group" TEXT,
    status BIGINT,
    info TEXT,
    steps_todo BIGINT,
    steps_done BIGINT,
    ts BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX process_events_received_at ON process_events (received_at);

CREATE TABLE marks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    process TEXT NOT NULL,
    "action" TEXT NOT NULL,
    context TEXT,
    ts BIGINT NOT NULL,
    used_ms BIGINT NOT NULL,
    action_count BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX marks_received_at ON marks (received_at);

CREATE TABLE traces (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    process TEXT NOT NULL,
    "action" TEXT NOT NULL,
    context TEXT,
    kind TEXT NOT NULL,
    ts BIGINT NOT NULL,
    used_ms BIGINT,
    action_count BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX traces_received_at ON traces (received_at);

CREATE TABLE logs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    process TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    ts BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX logs_received_at ON logs (received_at);

CREATE TABLE processes (
    process TEXT PRIMARY KEY,
    name TEXT,
    "group" TEXT,
    status BIGINT,
    info TEXT,
    steps_todo BIGINT,
    steps_done BIGINT,
    started_at BIGINT,
    stopped_at BIGINT,
    last_ts BIGINT NOT NULL
);

CREATE TABLE rule_sets (
    kind TEXT NOT NULL CHECK (kind IN ('event', 'threshold')),
    "group" TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1),
    body TEXT NOT NULL,
    author TEXT,
    created_at BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (kind, "group", name, version)
);
CREATE UNIQUE INDEX rule_sets_one_active ON rule_sets (kind, "group") WHERE active;

CREATE TABLE baselines (
    "group" TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    "action" TEXT NOT NULL,
    context TEXT NOT NULL,
    n BIGINT NOT NULL,
    avg DOUBLE PRECISION NOT NULL,
    PRIMARY KEY ("group", rule_id, scope, "action", context)
);

CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    receiver TEXT NOT NULL,
    channel TEXT NOT NULL,
    channel_index BIGINT NOT NULL,
    stream BIGINT NOT NULL,
    group_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_by TEXT,
    last_error TEXT,
    last_code BIGINT,
    held BOOLEAN NOT NULL DEFAULT false,
    finished_at BIGINT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('pending', 'sending', 'retrying');
CREATE INDEX notifications_stream ON notifications (stream, id)
    WHERE status IN ('pending', 'sending', 'retrying');
CREATE INDEX notifications_finished ON notifications (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX notifications_limited ON notifications (receiver, kind, id)
    WHERE status = 'limited';
CREATE INDEX notifications_channel ON notifications (channel, id);
CREATE UNIQUE INDEX notifications_once ON notifications (idempotency_key)
    WHERE group_key LIKE 'escalation:%' OR group_key LIKE 'sla:%';

CREATE TABLE notification_payloads (
    id BIGINT PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
    payload TEXT NOT NULL
);

CREATE TABLE notification_alerts (
    alert_id BIGINT NOT NULL,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (alert_id, notification_id)
);
CREATE INDEX notification_alerts_notification ON notification_alerts (notification_id);

CREATE TABLE tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    user_name TEXT
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE sessions (
    key TEXT PRIMARY KEY,
    token_id BIGINT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_token ON sessions (token_id, created_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE incidents (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    priority TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('open', 'investigating', 'resolved', 'closed', 'reopened')),
    owner TEXT,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT,
    confidence DOUBLE PRECISION,
    priority_by TEXT
);
CREATE INDEX incidents_state ON incidents (state, id);

CREATE TABLE incident_members (
    alert_id BIGINT PRIMARY KEY REFERENCES alerts (id),
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    joined_at BIGINT NOT NULL,
    link TEXT
);
CREATE INDEX incident_members_incident ON incident_members (incident_id, alert_id);

CREATE TABLE incident_timeline (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display_name TEXT,
    email TEXT,
    time_zone TEXT NOT NULL,
    contacts TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE team_members (
    team TEXT NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    user_name TEXT NOT NULL,
    PRIMARY KEY (team, position)
);
CREATE INDEX member_of ON team_members (user_name);

CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    "action" TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_by_actor ON audit (actor, id);
CREATE INDEX audit_by_action ON audit ("action", id);
CREATE INDEX audit_by_time ON audit (at);

CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE schedule_users (
    schedule TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    PRIMARY KEY (schedule, user_name)
);
CREATE INDEX schedule_of_user ON schedule_users (user_name);

CREATE TABLE schedule_overrides (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX overrides_by_start ON schedule_overrides (schedule, start_ms);
CREATE INDEX override_of_user ON schedule_overrides (user_name);

CREATE TABLE escalations (
    subject TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    state TEXT NOT NULL,
    next_due BIGINT,
    started_at BIGINT NOT NULL,
    ended BOOLEAN NOT NULL DEFAULT false,
    acknowledged_at BIGINT
);
CREATE INDEX escalations_open ON escalations (subject) WHERE NOT ended;
CREATE INDEX escalations_started ON escalations (started_at);

CREATE TABLE escalation_pages (
    subject TEXT NOT NULL,
    page_key TEXT NOT NULL,
    policy TEXT NOT NULL,
    level BIGINT NOT NULL,
    round BIGINT NOT NULL,
    cycle BIGINT NOT NULL,
    targets TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (subject, page_key)
);
CREATE INDEX escalation_pages_at ON escalation_pages (at);

CREATE TABLE sla_breaches (
    subject TEXT NOT NULL,
    what TEXT NOT NULL,
    severity TEXT NOT NULL,
    team TEXT,
    target_ms BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (subject, what)
);
CREATE INDEX sla_breaches_at ON sla_breaches (at);
