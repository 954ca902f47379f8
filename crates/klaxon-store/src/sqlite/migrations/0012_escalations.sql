-- klaxon SQLite schema: escalations, their pages, SLA breaches.
-- Runs once, inside one transaction; `PRAGMA user_version` records it.
--
-- An escalation's state is its owner's JSON; `next_due` is when it next needs to be woken.
-- Rows that ended stay, for the statistics; only the others are loaded at start.
CREATE TABLE escalations (
    subject TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    state TEXT NOT NULL,
    next_due INTEGER,
    started_at INTEGER NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    acknowledged_at INTEGER
);
CREATE INDEX escalations_open ON escalations (subject) WHERE ended = 0;
CREATE INDEX escalations_started ON escalations (started_at);

-- Each level paged, once per (subject, cycle.round.level).
CREATE TABLE escalation_pages (
    subject TEXT NOT NULL,
    page_key TEXT NOT NULL,
    policy TEXT NOT NULL,
    level INTEGER NOT NULL,
    round INTEGER NOT NULL,
    cycle INTEGER NOT NULL,
    targets TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (subject, page_key)
) WITHOUT ROWID;
CREATE INDEX escalation_pages_at ON escalation_pages (at);

-- A target of the SLA that passed without its action, once per (subject, what).
CREATE TABLE sla_breaches (
    subject TEXT NOT NULL,
    what TEXT NOT NULL,
    severity TEXT NOT NULL,
    team TEXT,
    target_ms INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (subject, what)
) WITHOUT ROWID;
CREATE INDEX sla_breaches_at ON sla_breaches (at);

-- The notifications of pages and breaches are written once: their idempotency keys are
-- unique among them.
CREATE UNIQUE INDEX notifications_once ON notifications (idempotency_key)
    WHERE group_key GLOB 'escalation:*' OR group_key GLOB 'sla:*';
