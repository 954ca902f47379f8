//! The PostgreSQL backend of [`Store`], for several nodes sharing one database. Every write but
//! telemetry is one transaction that first takes the store's advisory write lock, so writes
//! commit one at a time in the order they took it: ids (alerts, events, notifications, timeline entries) ascend
//! in commit order, and a follower reading "after id N" never misses a row committed later with
//! a smaller id. A write returns only after its commit (PostgreSQL's `synchronous_commit`
//! decides durability), so callers signal a change only once it is stored (write-then-signal).
//! Owns its SQL, schema and migrations; must not be reached from outside this crate except
//! through [`Store`] and [`PostgresStore::connect`].
//!
//! - `pool.rs`: a fixed set of connections; `schema.rs`: migrations (`migrations/*.sql`) under
//!   an advisory lock, so nodes starting at once migrate once.
//! - `write.rs`: the SQL of writes of alerts, telemetry, rule sets and baselines; `change.rs`:
//!   lifecycle changes; `incident.rs`, `escalation.rs`: incidents, escalations, SLA breaches;
//!   `outbox.rs`: the notification outbox (claims `FOR UPDATE SKIP LOCKED`).
//! - `access.rs`: tokens and dashboard sessions; `people.rs`, `schedule.rs`, `origin.rs`: users,
//!   teams, schedules and the audit log.
//! - `read.rs`: most reads; `history.rs`: the alert history; `report.rs`: summary, response
//!   times, trends; `row.rs`: row ↔ record mapping and the row inserts several writes share.
//! - `error.rs`: tokio-postgres errors → [`StoreError`], in one place.

mod access;
mod change;
pub mod cluster;
mod error;
mod escalation;
mod history;
mod incident;
mod origin;
mod outbox;
mod people;
mod policy;
mod pool;
mod read;
mod report;
mod row;
mod schedule;
mod schema;
mod write;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use klaxon_engine::BaselineRecord;
use tokio_postgres::{Client, Config, IsolationLevel, Transaction};

use self::error::map;
pub use self::pool::Limits;
use self::pool::{prepared, with_statements, Pool};
use crate::{
    AlertChange, AlertDetail, AlertIndex, AlertQuery, AuditEntry, AuditQuery, AuditRecord, Claim,
    Delivery, DeliveryCount, HistoryQuery, IncidentDetail, IncidentQuery, IncidentRecord, Member,
    NewAlert, NewNotification, NewRuleSet, NewSession, NewToken, NotificationRecord, Notified,
    OutboxRow, PeopleChange, Performance, PolicyRecord, Result, RuleKind, RuleSetRecord,
    ScheduleRecord, SessionRecord, Store, StoreError, StoredAlert, Summary, TeamRecord,
    TelemetryCounts, TelemetryRow, TimelineEntry, TokenRecord, TrendBucket, TrendQuery, UserRecord,
    WriteFailure,
};

/// Connections in the pool (queries run at most this many at once per node).
const CONNECTIONS: usize = 8;

/// The first key of the write lock (`pg_advisory_xact_lock(key, hashtext(schema))`): one lock
/// per schema, so stores in different schemas of one database do not wait for each other.
const WRITE_LOCK: i32 = 0x6b6c_7801;

/// A PostgreSQL store. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    health: Health,
    /// The schema the store lives in, when not the connection's default.
    schema: Option<String>,
    /// The leader epoch this node won (`cluster.rs`), 0 when it never led: while not 0, every
    /// locked write checks under the write lock that the stored epoch is still this one.
    fence: AtomicI64,
}

impl PostgresStore {
    /// The schema version this build migrates a database to.
    pub const SCHEMA_VERSION: i64 = schema::NEWEST;

    /// Connects to the database at `url` (`postgres://user@host:port/db`, or the key=value
    /// form) and migrates it. `schema`, when given, is the search path of every connection:
    /// the store's tables live there (the schema must exist).
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PostgresStore> {
        PostgresStore::connect_with(url, schema, Limits::default()).await
    }

    /// As [`PostgresStore::connect`], with the lock and statement timeouts of `limits`.
    pub async fn connect_with(
        url: &str,
        schema: Option<&str>,
        limits: Limits,
    ) -> Result<PostgresStore> {
        let config = Config::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("postgresql url: {e}")))?;
        let pool = Pool::new(config, schema, CONNECTIONS, limits);
        {
            let mut conn = pool.get().await?;
            schema::migrate(&mut conn).await?;
        }
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                health: Health::default(),
                schema: schema.map(str::to_owned),
                fence: AtomicI64::new(0),
            }),
        })
    }

    /// The schema given to [`PostgresStore::connect`], if any.
    pub fn schema(&self) -> Option<&str> {
        self.inner.schema.as_deref()
    }

    /// Refuses new requests and closes idle connections; requests already running finish.
    pub fn close(&self) {
        self.inner.pool.close();
    }
}

/// Whether writes fail: from the first write that fails for the database's sake (`Unavailable`:
/// the server is down, refuses, or the schema is gone) until one commits again. A write
/// refused for its own content (`Conflict`, `NotFound`, …) changes nothing.
#[derive(Default)]
struct Health {
    /// Set while `failure` is `Some`: the cheap check callers make per request.
    failing: AtomicBool,
    failure: Mutex<Option<WriteFailure>>,
}

impl Health {
    fn record<T>(&self, outcome: &Result<T>) {
        match outcome {
            Ok(_) if !self.failing.load(Ordering::Acquire) => {}
            Ok(_) => {
                let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(old) = f.take() {
                    tracing::info!(since = old.since, "postgresql: writes commit again");
                }
                self.failing.store(false, Ordering::Release);
            }
            Err(StoreError::Unavailable(why)) => {
                let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
                let since = f.as_ref().map_or_else(now_ms, |old| old.since);
                *f = Some(WriteFailure {
                    since,
                    error: why.clone(),
                    database: "postgresql",
                });
                self.failing.store(true, Ordering::Release);
            }
            Err(_) => {}
        }
    }

    fn failure(&self) -> Option<WriteFailure> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Begins a write transaction holding the store's write lock until it ends. With a `fence`
/// (the leader epoch this node won, not 0), the transaction goes on only while the stored epoch
/// is still that one: a deposed leader's write fails with [`StoreError::Fenced`], writing
/// nothing. The check runs under the write lock, which the next leader takes to raise the
/// epoch, so no write of the old leader commits after the new one won.
async fn begin(client: &mut Client, fence: i64) -> Result<Transaction<'_>> {
    let tx = client.transaction().await.map_err(map)?;
    let lock = prepared(
        &tx,
        "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))",
    )
    .await?;
    tx.execute(&lock, &[&WRITE_LOCK]).await.map_err(map)?;
    if fence != 0 {
        cluster::check_fence(&tx, fence).await?;
    }
    Ok(tx)
}

/// Runs `$body` (an expression using the transaction `$tx`, awaited) in one write transaction
/// and commits; an error rolls everything back (dropping the transaction). The outcome goes to
/// the store's [`Health`]. `unlocked` leaves out the write lock: for telemetry, whose rows no
/// reader follows by id, so a large append never holds up an alert's commit.
macro_rules! writing {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let result = async {
            let mut conn = $self.inner.pool.get().await?;
            with_statements(conn.statements(), async {
                let $tx = begin(&mut conn, $self.inner.fence.load(Ordering::Acquire)).await?;
                let out = $body.await?;
                $tx.commit().await.map_err(map)?;
                Ok::<_, StoreError>(out)
            })
            .await
        }
        .await;
        $self.inner.health.record(&result);
        result
    }};
    ($self:ident, unlocked, |$tx:ident| $body:expr) => {{
        let result = async {
            let mut conn = $self.inner.pool.get().await?;
            with_statements(conn.statements(), async {
                let $tx = conn.transaction().await.map_err(map)?;
                let out = $body.await?;
                $tx.commit().await.map_err(map)?;
                Ok::<_, StoreError>(out)
            })
            .await
        }
        .await;
        $self.inner.health.record(&result);
        result
    }};
}

/// Runs `$body` (an expression using the client `$c`, awaited) on a pooled connection.
macro_rules! reading {
    ($self:ident, |$c:ident| $body:expr) => {{
        let conn = $self.inner.pool.get().await?;
        let $c: &Client = &conn;
        with_statements(conn.statements(), $body).await
    }};
}

/// Runs `$body` in a read-only repeatable-read transaction: its reads see one commit.
macro_rules! snapshot {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut conn = $self.inner.pool.get().await?;
        with_statements(conn.statements(), async {
            let $tx = conn
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(map)?;
            let out = $body.await?;
            $tx.commit().await.map_err(map)?;
            Ok(out)
        })
        .await
    }};
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema)
            .finish_non_exhaustive()
    }
}

impl Store for PostgresStore {
    async fn insert_alerts(&self, alerts: Vec<NewAlert>) -> Result<Vec<StoredAlert>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        writing!(self, |tx| write::insert_alerts(&tx, alerts))
    }

    async fn get_alert(&self, id: i64) -> Result<StoredAlert> {
        reading!(self, |c| read::get_alert(c, id))
    }

    async fn list_alerts(&self, q: AlertQuery) -> Result<Vec<StoredAlert>> {
        reading!(self, |c| read::list_alerts(c, &q))
    }

    async fn append_telemetry(&self, rows: Vec<TelemetryRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        writing!(self, unlocked, |tx| write::append_telemetry(&tx, rows))
    }

    async fn telemetry_counts(&self) -> Result<TelemetryCounts> {
        reading!(self, |c| read::telemetry_counts(c))
    }

    async fn delete_telemetry_before(&self, received_before: i64) -> Result<u64> {
        writing!(self, unlocked, |tx| write::delete_telemetry_before(
            &tx,
            received_before
        ))
    }

    async fn insert_rule_set(&self, rs: NewRuleSet) -> Result<RuleSetRecord> {
        writing!(self, |tx| write::insert_rule_set(&tx, rs))
    }

    async fn list_rule_sets(&self) -> Result<Vec<RuleSetRecord>> {
        reading!(self, |c| read::list_rule_sets(c))
    }

    async fn get_rule_set(
        &self,
        kind: RuleKind,
        group: &str,
        name: &str,
        version: i64,
    ) -> Result<RuleSetRecord> {
        reading!(self, |c| row::get_rule_set(c, kind, group, name, version))
    }

    async fn activate_rule_set(
        &self,
        kind: RuleKind,
        group: &str,
        name: &str,
        version: i64,
    ) -> Result<RuleSetRecord> {
        writing!(self, |tx| write::activate_rule_set(
            &tx, kind, group, name, version
        ))
    }

    async fn active_rule_sets(&self) -> Result<Vec<RuleSetRecord>> {
        reading!(self, |c| read::active_rule_sets(c))
    }

    async fn save_baselines(&self, b: Vec<BaselineRecord>) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        writing!(self, |tx| write::save_baselines(&tx, &b))
    }

    async fn load_baselines(&self) -> Result<Vec<BaselineRecord>> {
        reading!(self, |c| read::load_baselines(c))
    }

    async fn create_token(&self, token: NewToken) -> Result<TokenRecord> {
        writing!(self, |tx| access::create_token(&tx, token))
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        reading!(self, |c| access::find_token(c, hash))
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        reading!(self, |c| access::list_tokens(c))
    }

    async fn revoke_token(&self, id: i64, at: i64) -> Result<TokenRecord> {
        writing!(self, |tx| access::revoke_token(&tx, id, at))
    }

    async fn record_token_use(&self, id: i64, at: i64) -> Result<()> {
        writing!(self, |tx| access::record_token_use(&tx, id, at))
    }

    async fn open_session(&self, session: NewSession, per_token: usize) -> Result<u64> {
        writing!(self, |tx| access::open_session(&tx, &session, per_token))
    }

    async fn find_session(&self, key: &str) -> Result<Option<SessionRecord>> {
        reading!(self, |c| access::find_session(c, key))
    }

    async fn close_session(&self, key: &str) -> Result<bool> {
        writing!(self, |tx| access::close_session(&tx, key))
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        writing!(self, |tx| access::delete_expired_sessions(&tx, now))
    }

    async fn change_people(&self, change: PeopleChange, audit: Vec<AuditEntry>) -> Result<()> {
        writing!(self, |tx| people::apply(&tx, &change, &audit))
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>> {
        reading!(self, |c| people::get_user(c, name))
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        reading!(self, |c| people::list_users(c))
    }

    async fn get_team(&self, name: &str) -> Result<Option<TeamRecord>> {
        snapshot!(self, |tx| people::get_team(&tx, name))
    }

    async fn list_teams(&self) -> Result<Vec<TeamRecord>> {
        snapshot!(self, |tx| people::list_teams(&tx))
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>> {
        snapshot!(self, |tx| schedule::get_schedule(&tx, name))
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>> {
        snapshot!(self, |tx| schedule::list_schedules(&tx))
    }

    async fn get_policy(&self, name: &str) -> Result<Option<PolicyRecord>> {
        snapshot!(self, |tx| policy::get_policy(&tx, name))
    }

    async fn list_policies(&self) -> Result<Vec<PolicyRecord>> {
        snapshot!(self, |tx| policy::list_policies(&tx))
    }

    async fn append_audit(&self, rows: Vec<AuditEntry>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        writing!(self, |tx| people::append_audit(&tx, &rows))
    }

    async fn audit_log(&self, q: AuditQuery) -> Result<Vec<AuditRecord>> {
        reading!(self, |c| people::audit_log(c, &q))
    }

    async fn apply_alert_changes(&self, changes: Vec<AlertChange>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        writing!(self, |tx| change::apply(&tx, &changes))
    }

    async fn max_alert_id(&self) -> Result<i64> {
        reading!(self, |c| read::max_alert_id(c))
    }

    async fn load_open_alerts(&self) -> Result<Vec<AlertIndex>> {
        reading!(self, |c| read::load_open_alerts(c))
    }

    async fn open_escalations(&self) -> Result<Vec<crate::EscalationRecord>> {
        reading!(self, |c| escalation::open(c))
    }

    async fn escalations_started(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<crate::EscalationRecord>> {
        reading!(self, |c| escalation::started(c, from, to, limit))
    }

    async fn escalation_pages(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<crate::PageRecord>> {
        reading!(self, |c| escalation::pages(c, from, to, limit))
    }

    async fn sla_breaches(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<crate::BreachRecord>> {
        reading!(self, |c| escalation::breaches(c, from, to, limit))
    }

    async fn open_sla_breaches(&self) -> Result<Vec<(String, String)>> {
        reading!(self, |c| escalation::open_breaches(c))
    }

    async fn sla_alerts(&self, from: i64, to: i64, limit: usize) -> Result<Vec<crate::SlaAlert>> {
        reading!(self, |c| escalation::sla_alerts(c, from, to, limit))
    }

    async fn max_incident_id(&self) -> Result<i64> {
        reading!(self, |c| incident::max_incident_id(c))
    }

    async fn load_open_incidents(&self) -> Result<Vec<(IncidentRecord, Vec<Member>)>> {
        snapshot!(self, |tx| incident::load_open(&tx))
    }

    async fn list_incidents(&self, q: IncidentQuery) -> Result<Vec<IncidentRecord>> {
        reading!(self, |c| incident::list(c, &q))
    }

    async fn incident_sizes(&self, ids: Vec<i64>) -> Result<Vec<(i64, i64)>> {
        reading!(self, |c| incident::sizes(c, &ids))
    }

    async fn incident_detail(&self, id: i64, timeline: usize) -> Result<IncidentDetail> {
        snapshot!(self, |tx| incident::detail(&tx, id, timeline))
    }

    async fn incident_of_alert(&self, alert_id: i64) -> Result<Option<Member>> {
        reading!(self, |c| incident::of_alert(c, alert_id))
    }

    async fn incident_timeline(&self, after_id: i64, limit: usize) -> Result<Vec<TimelineEntry>> {
        reading!(self, |c| incident::timeline_after(c, after_id, limit))
    }

    async fn latest_timeline_id(&self) -> Result<i64> {
        reading!(self, |c| incident::latest_timeline_id(c))
    }

    async fn silences(&self) -> Result<Vec<klaxon_engine::noise::Silence>> {
        reading!(self, |c| read::silences(c))
    }

    async fn alert_detail(&self, id: i64, occurrences: usize) -> Result<AlertDetail> {
        snapshot!(self, |tx| read::alert_detail(&tx, id, occurrences))
    }

    async fn alert_history(&self, q: HistoryQuery) -> Result<Vec<StoredAlert>> {
        reading!(self, |c| history::alert_history(c, &q))
    }

    async fn alert_summary(&self) -> Result<Summary> {
        reading!(self, |c| report::alert_summary(c))
    }

    async fn alert_performance(&self, from: i64, to: i64) -> Result<Performance> {
        reading!(self, |c| report::alert_performance(c, from, to))
    }

    async fn alert_trends(&self, q: TrendQuery) -> Result<Vec<TrendBucket>> {
        reading!(self, |c| report::alert_trends(c, &q))
    }

    async fn enqueue_notifications(
        &self,
        rows: Vec<NewNotification>,
        claim: Option<Claim>,
    ) -> Result<Vec<OutboxRow>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        writing!(self, |tx| outbox::enqueue(&tx, &rows, claim.as_ref()))
    }

    async fn claim_notifications(&self, claim: Claim, limit: usize) -> Result<Vec<OutboxRow>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        writing!(self, |tx| outbox::claim(&tx, &claim, limit))
    }

    async fn record_deliveries(&self, outcomes: Vec<Delivery>) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        writing!(self, |tx| outbox::record(&tx, &outcomes))
    }

    async fn release_notification_claims(&self, owner: &str, now: i64) -> Result<u64> {
        writing!(self, |tx| outbox::release(&tx, owner, now))
    }

    async fn retry_channel_now(&self, receiver: &str, channel_index: i64, now: i64) -> Result<u64> {
        writing!(self, |tx| outbox::retry_now(
            &tx,
            receiver,
            channel_index,
            now
        ))
    }

    async fn next_notification_due(&self) -> Result<Option<i64>> {
        reading!(self, |c| outbox::next_due(c))
    }

    async fn notification_log(&self) -> Result<Vec<Notified>> {
        reading!(self, |c| outbox::log(c))
    }

    async fn limited_notifications(&self) -> Result<Vec<OutboxRow>> {
        reading!(self, |c| outbox::limited(c))
    }

    async fn open_alerts(&self) -> Result<Vec<StoredAlert>> {
        reading!(self, |c| outbox::open_alerts(c))
    }

    async fn alert_notifications(
        &self,
        alert_id: i64,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>> {
        reading!(self, |c| outbox::of_alert(c, alert_id, limit))
    }

    async fn notifications_after(
        &self,
        channel: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        reading!(self, |c| outbox::after(c, channel, after_id, limit))
    }

    async fn delivery_counts(&self) -> Result<Vec<DeliveryCount>> {
        reading!(self, |c| outbox::counts(c))
    }

    async fn delete_notifications_before(&self, before: i64) -> Result<u64> {
        writing!(self, |tx| outbox::delete_before(&tx, before))
    }

    async fn ping(&self) -> Result<()> {
        writing!(self, |tx| write::ping(&tx))
    }

    fn write_failure(&self) -> Option<WriteFailure> {
        self.inner.health.failure()
    }
}
