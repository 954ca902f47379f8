-- klaxon SQLite schema: users, teams and the audit log.
-- Runs once, inside one transaction; `PRAGMA user_version` records it.
--
-- A user's name is its id (tokens name their user by it, `tokens.user_name`). Contacts are a
-- JSON array of `{"kind": ..., ...}` objects, read and written whole. `origin` is `api` or
-- `config` (declared in the configuration file: read-only through the API).
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display_name TEXT,
    email TEXT,
    time_zone TEXT NOT NULL,
    contacts TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Members in the order given (`position`). Deleting a user who is a member is refused by the
-- store before it gets here; `member_of` answers "which teams is this user in".
CREATE TABLE team_members (
    team TEXT NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    PRIMARY KEY (team, position)
) WITHOUT ROWID;
CREATE INDEX member_of ON team_members (user_name);

-- What people did: one row per action, written in the commit of the action where the action
-- is a store write. Read newest first by id (the cursor), filtered by actor or action
-- (`audit_by_actor`, `audit_by_action`) and a time range.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_by_actor ON audit (actor, id);
CREATE INDEX audit_by_action ON audit (action, id);
CREATE INDEX audit_by_time ON audit (at);
