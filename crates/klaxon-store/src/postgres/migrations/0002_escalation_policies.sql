-- klaxon PostgreSQL schema: escalation policies (as SQLite's 0014).
--
-- A policy's name is its id. `definition` is the policy as declared (repeat, ack_timeout,
-- levels), a JSON object read and written whole; the server compiles it. `origin` is `api` or
-- `config` (declared in the configuration file: read-only through the API).
CREATE TABLE escalation_policies (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every user, team and schedule a policy's levels name (`kind` is `user`, `team` or
-- `schedule`), so that each must exist and none is deleted while named.
CREATE TABLE escalation_policy_names (
    policy TEXT NOT NULL REFERENCES escalation_policies (name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (policy, kind, name)
);
CREATE INDEX policy_of_name ON escalation_policy_names (kind, name);
