-- Threshold rule sets are stored, versioned and activated like event rule sets, but apart:
-- each kind has its own versions and its own active set per group.
CREATE TABLE rule_sets_v3 (
    kind TEXT NOT NULL DEFAULT 'event' CHECK (kind IN ('event', 'threshold')),
    "group" TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    json TEXT NOT NULL,
    author TEXT,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    UNIQUE (kind, "group", name, version)
);
INSERT INTO rule_sets_v3 (kind, "group", name, version, json, author, created_at, active)
    SELECT 'event', "group", name, version, json, author, created_at, active FROM rule_sets;
DROP TABLE rule_sets;
ALTER TABLE rule_sets_v3 RENAME TO rule_sets;
-- At most one active rule set per kind and group.
CREATE UNIQUE INDEX rule_sets_one_active ON rule_sets (kind, "group") WHERE active = 1;
