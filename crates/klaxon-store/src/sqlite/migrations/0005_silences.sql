-- Silences (Alertmanager API v2), and what suppresses an alert.
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    -- JSON array of {"name", "value", "isRegex", "isEqual"}.
    matchers TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX silences_ends_at ON silences (ends_at);

-- `silence:<id>`, `maintenance:<name>` or `manual` while the alert is suppressed.
ALTER TABLE alerts ADD COLUMN suppressed_by TEXT;
