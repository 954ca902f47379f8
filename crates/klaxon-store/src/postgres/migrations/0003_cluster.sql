-- klaxon PostgreSQL schema: several nodes, one leader (cluster.rs).
--
-- `cluster_leader` is one row: the leader's epoch, raised by each node that wins the election
-- (the session advisory lock of cluster.rs), inside a write transaction; every write of a
-- leader checks under the write lock that the epoch is still its own (fencing). Epoch 0: no
-- node has led yet. Times are epoch milliseconds of the database's clock.
CREATE TABLE cluster_leader (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL,
    node TEXT NOT NULL,
    advertise TEXT NOT NULL,
    since BIGINT NOT NULL
);
INSERT INTO cluster_leader (id, epoch, node, advertise, since) VALUES (1, 0, '', '', 0);

-- Every node's last heartbeat: its name, the URL it is reached at, its role (`leader` or
-- `follower`). A node that stops deletes its row; one that dies leaves it, ageing.
CREATE TABLE cluster_nodes (
    node TEXT PRIMARY KEY,
    advertise TEXT NOT NULL,
    role TEXT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
