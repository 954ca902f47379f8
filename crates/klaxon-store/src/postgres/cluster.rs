//! Several nodes on one database, one leader: the election, its fencing, and the nodes'
//! heartbeats. Owns the tables `cluster_leader` and `cluster_nodes` (migration 0003); knows
//! nothing of what a leader does.
//!
//! - **Election.** A node campaigns with [`PostgresStore::try_lead`]: a session advisory lock
//!   (`pg_try_advisory_lock`, one per schema) taken on a connection of its own, outside the
//!   pool. The lock lasts as long as that session: PostgreSQL releases it when the node or its
//!   connection dies, and ends the session (`idle_session_timeout` = the lease) when the node
//!   stops pinging it, frozen or cut off. [`Leadership::hold`] pings it and returns when it is
//!   lost.
//! - **Fencing.** On winning, the node raises `cluster_leader.epoch` in a transaction holding
//!   the store's write lock, and the store then checks in every locked write, under that lock,
//!   that the epoch is still its own ([`super::begin`]): once another node has won, every write
//!   of the deposed one fails with [`StoreError::Fenced`] and writes nothing, even if the old
//!   node has not yet noticed.
//! - **Membership.** Every node upserts its row of `cluster_nodes` each heartbeat
//!   ([`PostgresStore::cluster_heartbeat`]); [`PostgresStore::cluster_view`] reads the leader
//!   (only while some session holds the lock), the epoch and each node's heartbeat age, all
//!   times from the database's clock, so nodes' clocks need not agree.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_postgres::{Client, Transaction};

use super::error::map;
use super::pool::{prepared, with_statements};
use super::{PostgresStore, WRITE_LOCK};
use crate::{Result, StoreError};

/// The first key of the leader lock (`pg_try_advisory_lock(key, hashtext(schema))`), one per
/// schema like the write and migration locks, whose first keys differ.
const LEADER_LOCK: i32 = 0x6b6c_7802;

/// The database's clock in epoch milliseconds.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// This node's leadership: the session holding the leader lock, and the epoch it won.
/// Dropping it ends the session, which releases the lock.
pub struct Leadership {
    epoch: i64,
    client: Client,
    ended: oneshot::Receiver<String>,
}

/// The leader as the database records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterLeader {
    pub epoch: i64,
    pub node: String,
    pub advertise: String,
    /// When it won (epoch milliseconds, the database's clock).
    pub since: i64,
}

/// One node's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNode {
    pub node: String,
    pub advertise: String,
    /// `leader` or `follower`, as the node last said.
    pub role: String,
    /// Milliseconds since its last heartbeat (the database's clock).
    pub heartbeat_age_ms: i64,
    /// When it (last) started (epoch milliseconds, the database's clock).
    pub started_at: i64,
}

/// The cluster as the database sees it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterView {
    /// The leader, while a session holds the leader lock; `None` when no node leads.
    pub leader: Option<ClusterLeader>,
    /// The last epoch won (0: no node has ever led).
    pub epoch: i64,
    /// Every node that has a heartbeat row, by name.
    pub nodes: Vec<ClusterNode>,
}

impl PostgresStore {
    /// Tries once to become the leader as `node` (reached at `advertise`): takes the leader
    /// lock on a session of its own, which PostgreSQL ends when it has been idle for `lease`
    /// (so [`Leadership::hold`] must ping it more often), and raises the epoch. From then on
    /// this store's locked writes are fenced by that epoch. `None` when another session holds
    /// the lock. A node that campaigns again and again keeps one session: [`Candidate`].
    pub async fn try_lead(
        &self,
        node: &str,
        advertise: &str,
        lease: Duration,
    ) -> Result<Option<Leadership>> {
        self.candidate(node, advertise, lease).try_lead().await
    }

    /// A candidate for the leadership as `node`, whose attempts share one session until it
    /// wins or the session fails.
    pub fn candidate(&self, node: &str, advertise: &str, lease: Duration) -> Candidate {
        Candidate {
            store: self.clone(),
            node: node.to_owned(),
            advertise: advertise.to_owned(),
            lease,
            session: None,
        }
    }

    /// The leader epoch this store's writes are fenced by (0: it never led).
    pub fn fence(&self) -> i64 {
        self.inner.fence.load(Ordering::Acquire)
    }

    /// Records a heartbeat of `node` (reached at `advertise`, in `role`); `starting` resets its
    /// start time. Not fenced, not under the write lock: a follower writes it too.
    pub async fn cluster_heartbeat(
        &self,
        node: &str,
        advertise: &str,
        role: &str,
        starting: bool,
    ) -> Result<()> {
        let conn = self.inner.pool.get().await?;
        let c: &Client = &conn;
        with_statements(conn.statements(), async move {
            let sql = format!(
                "INSERT INTO cluster_nodes (node, advertise, role, heartbeat_at, started_at) \
                 VALUES ($1, $2, $3, {NOW_MS}, {NOW_MS}) ON CONFLICT (node) DO UPDATE SET \
                 advertise = excluded.advertise, role = excluded.role, \
                 heartbeat_at = excluded.heartbeat_at, \
                 started_at = CASE WHEN $4 THEN excluded.started_at \
                 ELSE cluster_nodes.started_at END"
            );
            let stmt = prepared(c, &sql).await?;
            c.execute(&stmt, &[&node, &advertise, &role, &starting])
                .await
                .map_err(map)?;
            Ok(())
        })
        .await
    }

    /// Deletes the heartbeat row of `node` (it stops).
    pub async fn cluster_leave(&self, node: &str) -> Result<()> {
        let conn = self.inner.pool.get().await?;
        let c: &Client = &conn;
        with_statements(conn.statements(), async move {
            c.execute("DELETE FROM cluster_nodes WHERE node = $1", &[&node])
                .await
                .map_err(map)?;
            Ok(())
        })
        .await
    }

    /// The leader (if a session holds the leader lock), the epoch, and every node's heartbeat.
    pub async fn cluster_view(&self) -> Result<ClusterView> {
        let conn = self.inner.pool.get().await?;
        let c: &Client = &conn;
        with_statements(conn.statements(), async move {
            let sql = "SELECT epoch, node, advertise, since, EXISTS (SELECT 1 FROM pg_locks \
                 WHERE locktype = 'advisory' AND granted AND objsubid = 2 \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND classid = $1::integer::oid \
                 AND objid = hashtext(coalesce(current_schema(), ''))::oid) \
                 FROM cluster_leader WHERE id = 1";
            let stmt = prepared(c, sql).await?;
            let row = c.query_one(&stmt, &[&LEADER_LOCK]).await.map_err(map)?;
            let epoch: i64 = row.try_get(0).map_err(map)?;
            let held: bool = row.try_get(4).map_err(map)?;
            let leader = (held && epoch > 0)
                .then(|| -> Result<ClusterLeader> {
                    Ok(ClusterLeader {
                        epoch,
                        node: row.try_get(1).map_err(map)?,
                        advertise: row.try_get(2).map_err(map)?,
                        since: row.try_get(3).map_err(map)?,
                    })
                })
                .transpose()?;
            let sql = format!(
                "SELECT node, advertise, role, {NOW_MS} - heartbeat_at, started_at \
                 FROM cluster_nodes ORDER BY node"
            );
            let stmt = prepared(c, &sql).await?;
            let mut nodes = Vec::new();
            for r in c.query(&stmt, &[]).await.map_err(map)? {
                nodes.push(ClusterNode {
                    node: r.try_get(0).map_err(map)?,
                    advertise: r.try_get(1).map_err(map)?,
                    role: r.try_get(2).map_err(map)?,
                    heartbeat_age_ms: r.try_get::<_, i64>(3).map_err(map)?.max(0),
                    started_at: r.try_get(4).map_err(map)?,
                });
            }
            Ok(ClusterView {
                leader,
                epoch,
                nodes,
            })
        })
        .await
    }
}

/// A node campaigning for the leadership ([`PostgresStore::candidate`]).
pub struct Candidate {
    store: PostgresStore,
    node: String,
    advertise: String,
    lease: Duration,
    /// The session the attempts run on, opened by the first (again after one failed).
    session: Option<(Client, oneshot::Receiver<String>)>,
}

impl Candidate {
    /// Tries once to become the leader: see [`PostgresStore::try_lead`].
    pub async fn try_lead(&mut self) -> Result<Option<Leadership>> {
        if self.session.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            let options = format!("-c idle_session_timeout={}", self.lease.as_millis().max(1));
            self.session = Some(self.store.inner.pool.dedicated(&options).await?);
        }
        let Some((client, _)) = &self.session else {
            return Ok(None);
        };
        let won = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), '')))",
                &[&LEADER_LOCK],
            )
            .await
            .and_then(|r| r.try_get::<_, bool>(0));
        match won {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                self.session = None;
                return Err(map(e));
            }
        }
        let Some((mut client, ended)) = self.session.take() else {
            return Ok(None);
        };
        // Under the write lock: the previous leader's writes still running commit first; any
        // it begins afterwards read the new epoch and are refused. On an error the session is
        // dropped, which releases the lock.
        let tx = client.transaction().await.map_err(map)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))",
            &[&WRITE_LOCK],
        )
        .await
        .map_err(map)?;
        let epoch: i64 = tx
            .query_one(
                &format!(
                    "UPDATE cluster_leader SET epoch = epoch + 1, node = $1, advertise = $2, \
                     since = {NOW_MS} WHERE id = 1 RETURNING epoch"
                ),
                &[&self.node, &self.advertise],
            )
            .await
            .map_err(map)?
            .try_get(0)
            .map_err(map)?;
        tx.commit().await.map_err(map)?;
        self.store.inner.fence.store(epoch, Ordering::Release);
        tracing::info!(node = %self.node, epoch, "won the cluster leadership");
        Ok(Some(Leadership {
            epoch,
            client,
            ended,
        }))
    }
}

impl Leadership {
    /// The epoch this node won.
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    /// Holds the leadership: pings the lock's session every `every` (which must be shorter
    /// than the lease given to [`PostgresStore::try_lead`]) and checks the epoch is still
    /// this one. Returns why, once the leadership is lost: the session ended (the database
    /// ended it, or the connection broke), a ping went unanswered for `every` × 3, or
    /// another node raised the epoch.
    pub async fn hold(&mut self, every: Duration) -> String {
        loop {
            tokio::select! {
                why = &mut self.ended => {
                    return why.unwrap_or_else(|_| "the lock's connection ended".to_owned());
                }
                () = tokio::time::sleep(every) => {}
            }
            let check = self
                .client
                .query_one("SELECT epoch, node FROM cluster_leader WHERE id = 1", &[]);
            match tokio::time::timeout(every * 3, check).await {
                Err(_) => {
                    return format!(
                        "the database did not answer the lock's ping within {:?}",
                        every * 3
                    )
                }
                Ok(Err(e)) => return format!("the lock's ping failed: {}", map(e)),
                Ok(Ok(row)) => {
                    let epoch: i64 = row.try_get(0).unwrap_or(0);
                    if epoch != self.epoch {
                        let node: String = row.try_get(1).unwrap_or_default();
                        return format!(
                            "node {node} leads since epoch {epoch} (this node led epoch {})",
                            self.epoch
                        );
                    }
                }
            }
        }
    }
}

/// Refuses the write transaction `tx` (holding the write lock) unless the stored epoch is
/// `fence`, the one this node won.
pub(super) async fn check_fence(tx: &Transaction<'_>, fence: i64) -> Result<()> {
    let stmt = prepared(tx, "SELECT epoch, node FROM cluster_leader WHERE id = 1").await?;
    let row = tx.query_one(&stmt, &[]).await.map_err(map)?;
    let epoch: i64 = row.try_get(0).map_err(map)?;
    if epoch == fence {
        return Ok(());
    }
    let node: String = row.try_get(1).map_err(map)?;
    Err(StoreError::Fenced(format!(
        "this node led epoch {fence}, but node {node} leads since epoch {epoch}: \
         the write was refused"
    )))
}
