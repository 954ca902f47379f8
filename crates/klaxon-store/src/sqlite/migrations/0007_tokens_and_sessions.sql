-- klaxon SQLite schema, version 7: tokens with an owner, an expiry and a revocation, and
-- dashboard sessions in the database.
-- Runs once, inside one transaction, on top of version 6; `PRAGMA user_version` records it.
--
-- The tokens table is rebuilt (SQLite cannot drop a column constraint): a name is now unique
-- only among tokens that are not revoked, so a revoked token's name can be given again.
-- A token belongs to a user by name for now (`user_name`, plain text); a `user_id` column
-- referencing a users table can be added beside it later without rebuilding again.
CREATE TABLE tokens_v7 (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    -- Hex SHA-256 of the secret; never the secret itself.
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    -- The name of the token that created it; NULL for tokens made at start.
    created_by TEXT,
    expires_at INTEGER,
    revoked_at INTEGER,
    -- Written at most once a minute per token.
    last_used_at INTEGER,
    user_name TEXT
);
INSERT INTO tokens_v7 (id, name, role, hash, created_at)
    SELECT id, name, role, hash, created_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v7 RENAME TO tokens;
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

-- Dashboard sessions, keyed by the hex SHA-256 of the session id (the cookie), so the table
-- holds no usable cookie. A session stands for its token: role and name are the token's,
-- read with it. Opening one touches only its token's rows (`sessions_by_token`); the expiry
-- sweep reads `sessions_by_expiry`.
CREATE TABLE sessions (
    key TEXT PRIMARY KEY,
    token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_token ON sessions (token_id, created_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
