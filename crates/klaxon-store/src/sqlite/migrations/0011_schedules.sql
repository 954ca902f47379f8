-- klaxon SQLite schema: on-call schedules and their overrides.
-- Runs once, inside one transaction; `PRAGMA user_version` records it.
--
-- A schedule's name is its id. `definition` is the schedule as declared (time zone, layers,
-- overrides declared with it), a JSON object read and written whole; the server compiles it.
-- `origin` is `api` or `config` (declared in the configuration file: read-only through the API).
CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Every user a schedule's definition names, so that deleting a user it names is refused
-- (`schedule_of_user` answers "which schedules name this user").
CREATE TABLE schedule_users (
    schedule TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    PRIMARY KEY (schedule, user_name)
) WITHOUT ROWID;
CREATE INDEX schedule_of_user ON schedule_users (user_name);

-- Overrides added one by one (someone covers a shift), times in epoch ms, end exclusive. The
-- overrides of one schedule never overlap: an insert checks its neighbours through
-- `overrides_by_start`.
CREATE TABLE schedule_overrides (
    id INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX overrides_by_start ON schedule_overrides (schedule, start_ms);
CREATE INDEX override_of_user ON schedule_overrides (user_name);
