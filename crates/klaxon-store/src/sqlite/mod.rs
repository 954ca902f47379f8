//! The SQLite backend of [`Store`]: two files in WAL mode — the main database (alerts, rule
//! sets, baselines, tokens, sessions) and, beside it, the telemetry database (`<name>-telemetry.sqlite`)
//! — each with one writer thread doing group commit, a checkpointer thread and a small pool of
//! read-only connections. Apart, a large telemetry write never holds up an alert commit.
//! Owns its SQL, schema and migrations. It must never write on an async runtime thread, never
//! write from a reader connection, and never answer a write before it is committed and fsynced.
//!
//! - `schema.rs`: connection settings and the numbered migrations of each file
//!   (`migrations/*.sql`, `migrations/telemetry/*.sql`); `checkpoint.rs`: the checkpointer.
//! - `writer.rs`: the writer thread and group commit; `write.rs`: the SQL of every write but
//!   lifecycle changes, which `change.rs` owns; `derived.rs`: the tables derived from alerts
//!   (counts, labels, search text), which every write of an alert keeps in step.
//! - `access.rs`: the SQL of tokens and dashboard sessions, reads and writes.
//! - `people.rs`: the SQL of users, teams and the audit log, reads and writes; `schedule.rs`
//!   and `policy.rs` those of on-call schedules and escalation policies.
//! - `read.rs`: the reader pool and the SQL of most reads; `history.rs`: the alert history and
//!   its plan choice; `report.rs`: summary, response times, trends; `row.rs`: row ↔ record
//!   mapping and the row inserts both write paths share.
//! - `error.rs`: rusqlite errors → [`StoreError`], in one place.

mod access;
mod change;
mod checkpoint;
mod derived;
mod error;
mod escalation;
mod history;
mod incident;
mod origin;
mod outbox;
mod people;
mod policy;
mod read;
mod report;
mod row;
mod schedule;
mod schema;
mod write;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use klaxon_engine::BaselineRecord;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use self::read::ReadPool;
use self::writer::{Health, Reply, Request};
use crate::{
    AlertChange, AlertDetail, AlertIndex, AlertQuery, AuditEntry, AuditQuery, AuditRecord, Claim,
    Delivery, DeliveryCount, HistoryQuery, IncidentDetail, IncidentQuery, IncidentRecord, Member,
    NewAlert, NewNotification, NewRuleSet, NewSession, NewToken, NotificationRecord, Notified,
    OutboxRow, PeopleChange, Performance, PolicyRecord, Result, RuleKind, RuleSetRecord,
    ScheduleRecord, SessionRecord, Store, StoreError, StoredAlert, Summary, TeamRecord,
    TelemetryCounts, TelemetryRow, TimelineEntry, TokenRecord, TrendBucket, TrendQuery, UserRecord,
    WriteFailure,
};

/// Read-only connections in the pool (reads run at most this many at once).
const READERS: usize = 4;

/// A SQLite store. Cheap to clone: clones share the writer thread and the reader pool.
///
/// When the last clone is dropped the writer still finishes, commits and answers every queued
/// request before its thread ends; [`SqliteStore::close`] does the same and also waits for the
/// thread to end, which is what a graceful shutdown should call.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    main: Database,
    telemetry: Database,
    /// The fault of [`SqliteStore::fail_writes`], shared by both writers.
    full: Arc<AtomicBool>,
}

/// One database file: its writer thread, checkpointer and readers.
struct Database {
    /// `None` only while dropping, so the writer sees the channel close before it is joined.
    tx: Option<mpsc::Sender<Request>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<checkpoint::Checkpointer>,
    readers: Arc<ReadPool>,
    health: Arc<Health>,
}

impl Database {
    fn open(path: &Path, db: schema::Db, full: &Arc<AtomicBool>) -> Result<Database> {
        let conn = schema::open_writer(path, db)?;
        let readers = Arc::new(ReadPool::open(path.to_owned(), READERS)?);
        let (tx, rx) = mpsc::channel(writer::QUEUE);
        let name = match db {
            schema::Db::Main => "main",
            schema::Db::Telemetry => "telemetry",
        };
        let health = Arc::new(Health::new(name, Arc::clone(full)));
        let handle = writer::spawn(conn, rx, Arc::clone(&health)).map_err(|e| {
            StoreError::Unavailable(format!("cannot start the sqlite writer thread: {e}"))
        })?;
        let checkpointer = checkpoint::Checkpointer::spawn(path).map_err(|e| {
            StoreError::Unavailable(format!("cannot start the sqlite checkpointer: {e}"))
        })?;
        Ok(Database {
            tx: Some(tx),
            writer: Mutex::new(Some(handle)),
            checkpointer: Mutex::new(checkpointer),
            readers,
            health,
        })
    }

    fn tx(&self) -> &mpsc::Sender<Request> {
        self.tx
            .as_ref()
            .expect("the sender is only taken in Drop, when no SqliteStore is left")
    }

    /// Queues a write for the writer thread and waits until its batch has committed.
    async fn write<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.tx()
            .send(request(reply))
            .await
            .map_err(|_| StoreError::Unavailable("the store is closed".to_owned()))?;
        answer.await.unwrap_or_else(|_| Err(writer_gone()))
    }

    async fn close(&self) -> Result<()> {
        self.readers.close();
        let (reply, done) = oneshot::channel();
        let mut result = Ok(());
        // The send fails only if the writer already stopped accepting (an earlier close).
        if self.tx().send(Request::Close(reply)).await.is_ok() {
            result = done.await.unwrap_or_else(|_| Err(writer_gone()));
        }
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // The writer has answered (or stopped); joining waits for its last instructions.
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Unavailable(format!("joining the writer: {e}")))?
                .map_err(|_| StoreError::Unavailable("the sqlite writer panicked".to_owned()))?;
        }
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop();
        if let Some(handle) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        result
    }
}

impl SqliteStore {
    /// The schema version this build migrates a database to (`PRAGMA user_version`).
    pub const SCHEMA_VERSION: i64 = schema::NEWEST;

    /// Opens (creating if needed) the database file at `path` and the telemetry database beside
    /// it ([`SqliteStore::telemetry_path`]), and migrates both. The directory must exist.
    /// Blocking: call it before serving, or from a blocking thread.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let full = Arc::new(AtomicBool::new(false));
        let main = Database::open(path, schema::Db::Main, &full)?;
        let telemetry = Database::open(&Self::telemetry_path(path), schema::Db::Telemetry, &full)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                main,
                telemetry,
                full,
            }),
        })
    }

    /// A fault for tests: while `full`, every commit of both databases fails with SQLite's
    /// disk-full error and keeps nothing, as on a full disk; reads still work. Not an API.
    #[doc(hidden)]
    pub fn fail_writes(&self, full: bool) {
        self.inner.full.store(full, Ordering::Relaxed);
    }

    /// The telemetry database that belongs with the main database at `path`:
    /// `klaxon.sqlite` → `klaxon-telemetry.sqlite`, in the same directory.
    pub fn telemetry_path(path: &Path) -> PathBuf {
        let stem = path
            .file_stem()
            .map_or_else(|| "klaxon".into(), |s| s.to_string_lossy().into_owned());
        let ext = path
            .extension()
            .map_or_else(|| "sqlite".into(), |s| s.to_string_lossy().into_owned());
        path.with_file_name(format!("{stem}-telemetry.{ext}"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stops accepting requests, lets the writer finish and commit everything already queued,
    /// and waits for its thread to end. Later calls on any clone fail `Unavailable`; closing
    /// again is a no-op.
    pub async fn close(&self) -> Result<()> {
        let main = self.inner.main.close().await;
        let telemetry = self.inner.telemetry.close().await;
        main.and(telemetry)
    }

    /// How [`Store::alert_history`] would run `q`: the chosen plan and SQLite's query plan of
    /// it, one line each. For benchmarks, tests and operators, not an API.
    #[doc(hidden)]
    pub async fn explain_history(&self, q: HistoryQuery) -> Result<String> {
        self.read(move |c| history::explain(c, &q)).await
    }

    /// SQLite's plan of the statements that open a dashboard session, one line each: each
    /// reads only the rows of the session's own token. For tests and operators, not an API.
    #[doc(hidden)]
    pub async fn explain_open_session(&self) -> Result<String> {
        self.read(access::explain_open_session).await
    }

    async fn write<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        self.inner.main.write(request).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.inner.main.readers.run(f).await
    }
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable("the sqlite writer stopped before answering".to_owned())
}

impl Drop for Database {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain what is queued, commit and end.
        drop(self.tx.take());
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Outside a runtime (e.g. after it shut down) waiting is harmless and makes sure the
        // last batch is on disk before the process exits. On a runtime thread we must not
        // block; the writer finishes on its own.
        if let Some(handle) = handle {
            if tokio::runtime::Handle::try_current().is_err() && handle.join().is_err() {
                tracing::error!("the sqlite writer panicked");
            }
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Store for SqliteStore {
    async fn insert_alerts(&self, alerts: Vec<NewAlert>) -> Result<Vec<StoredAlert>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|r| Request::InsertAlerts(alerts, r)).await
    }

    async fn get_alert(&self, id: i64) -> Result<StoredAlert> {
        self.read(move |c| read::get_alert(c, id)).await
    }

    async fn list_alerts(&self, q: AlertQuery) -> Result<Vec<StoredAlert>> {
        self.read(move |c| read::list_alerts(c, &q)).await
    }

    async fn append_telemetry(&self, rows: Vec<TelemetryRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // One request: the writer runs it in one savepoint of one transaction, so it commits
        // whole or not at all. (Telemetry has a writer of its own: nothing else waits behind a
        // large append.)
        self.inner
            .telemetry
            .write(|r| Request::AppendTelemetry(rows, r))
            .await
    }

    async fn telemetry_counts(&self) -> Result<TelemetryCounts> {
        self.inner
            .telemetry
            .readers
            .run(read::telemetry_counts)
            .await
    }

    async fn delete_telemetry_before(&self, received_before: i64) -> Result<u64> {
        self.inner
            .telemetry
            .write(|r| Request::DeleteTelemetryBefore(received_before, r))
            .await
    }

    async fn insert_rule_set(&self, rs: NewRuleSet) -> Result<RuleSetRecord> {
        self.write(|r| Request::InsertRuleSet(rs, r)).await
    }

    async fn list_rule_sets(&self) -> Result<Vec<RuleSetRecord>> {
        self.read(read::list_rule_sets).await
    }

    async fn get_rule_set(
        &self,
        kind: RuleKind,
        group: &str,
        name: &str,
        version: i64,
    ) -> Result<RuleSetRecord> {
        let (group, name) = (group.to_owned(), name.to_owned());
        self.read(move |c| row::get_rule_set(c, kind, &group, &name, version))
            .await
    }

    async fn activate_rule_set(
        &self,
        kind: RuleKind,
        group: &str,
        name: &str,
        version: i64,
    ) -> Result<RuleSetRecord> {
        let (group, name) = (group.to_owned(), name.to_owned());
        self.write(|reply| Request::ActivateRuleSet {
            kind,
            group,
            name,
            version,
            reply,
        })
        .await
    }

    async fn active_rule_sets(&self) -> Result<Vec<RuleSetRecord>> {
        self.read(read::active_rule_sets).await
    }

    async fn save_baselines(&self, b: Vec<BaselineRecord>) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        self.write(|r| Request::SaveBaselines(b, r)).await
    }

    async fn load_baselines(&self) -> Result<Vec<BaselineRecord>> {
        self.read(read::load_baselines).await
    }

    async fn create_token(&self, token: NewToken) -> Result<TokenRecord> {
        self.write(|r| Request::CreateToken(token, r)).await
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let hash = hash.to_owned();
        self.read(move |c| access::find_token(c, &hash)).await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.read(access::list_tokens).await
    }

    async fn revoke_token(&self, id: i64, at: i64) -> Result<TokenRecord> {
        self.write(|r| Request::RevokeToken(id, at, r)).await
    }

    async fn record_token_use(&self, id: i64, at: i64) -> Result<()> {
        self.write(|r| Request::RecordTokenUse(id, at, r)).await
    }

    async fn open_session(&self, session: NewSession, per_token: usize) -> Result<u64> {
        self.write(|r| Request::OpenSession(session, per_token, r))
            .await
    }

    async fn find_session(&self, key: &str) -> Result<Option<SessionRecord>> {
        let key = key.to_owned();
        self.read(move |c| access::find_session(c, &key)).await
    }

    async fn close_session(&self, key: &str) -> Result<bool> {
        let key = key.to_owned();
        self.write(|r| Request::CloseSession(key, r)).await
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        self.write(|r| Request::DeleteExpiredSessions(now, r)).await
    }

    async fn change_people(&self, change: PeopleChange, audit: Vec<AuditEntry>) -> Result<()> {
        self.write(|r| Request::ChangePeople(Box::new(change), audit, r))
            .await
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>> {
        let name = name.to_owned();
        self.read(move |c| people::get_user(c, &name)).await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        self.read(people::list_users).await
    }

    async fn get_team(&self, name: &str) -> Result<Option<TeamRecord>> {
        let name = name.to_owned();
        self.read(move |c| people::get_team(c, &name)).await
    }

    async fn list_teams(&self) -> Result<Vec<TeamRecord>> {
        self.read(people::list_teams).await
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>> {
        let name = name.to_owned();
        self.read(move |c| schedule::get_schedule(c, &name)).await
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>> {
        self.read(schedule::list_schedules).await
    }

    async fn get_policy(&self, name: &str) -> Result<Option<PolicyRecord>> {
        let name = name.to_owned();
        self.read(move |c| policy::get_policy(c, &name)).await
    }

    async fn list_policies(&self) -> Result<Vec<PolicyRecord>> {
        self.read(policy::list_policies).await
    }

    async fn append_audit(&self, rows: Vec<AuditEntry>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(|r| Request::AppendAudit(rows, r)).await
    }

    async fn audit_log(&self, q: AuditQuery) -> Result<Vec<AuditRecord>> {
        self.read(move |c| people::audit_log(c, &q)).await
    }

    async fn apply_alert_changes(&self, changes: Vec<AlertChange>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.write(|r| Request::ApplyAlertChanges(changes, r)).await
    }

    async fn max_alert_id(&self) -> Result<i64> {
        self.read(read::max_alert_id).await
    }

    async fn open_escalations(&self) -> Result<Vec<crate::EscalationRecord>> {
        self.read(escalation::open).await
    }

    async fn escalations_started(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<crate::EscalationRecord>> {
        self.read(move |c| escalation::started(c, from, to, limit))
            .await
    }

    async fn escalation_pages(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<crate::PageRecord>> {
        self.read(move |c| escalation::pages(c, from, to, limit))
            .await
    }

    async fn sla_breaches(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<crate::BreachRecord>> {
        self.read(move |c| escalation::breaches(c, from, to, limit))
            .await
    }

    async fn open_sla_breaches(&self) -> Result<Vec<(String, String)>> {
        self.read(escalation::open_breaches).await
    }

    async fn sla_alerts(&self, from: i64, to: i64, limit: usize) -> Result<Vec<crate::SlaAlert>> {
        self.read(move |c| escalation::sla_alerts(c, from, to, limit))
            .await
    }

    async fn max_incident_id(&self) -> Result<i64> {
        self.read(incident::max_incident_id).await
    }

    async fn load_open_incidents(&self) -> Result<Vec<(IncidentRecord, Vec<Member>)>> {
        self.read(incident::load_open).await
    }

    async fn list_incidents(&self, q: IncidentQuery) -> Result<Vec<IncidentRecord>> {
        self.read(move |c| incident::list(c, &q)).await
    }

    async fn incident_sizes(&self, ids: Vec<i64>) -> Result<Vec<(i64, i64)>> {
        self.read(move |c| incident::sizes(c, &ids)).await
    }

    async fn incident_detail(&self, id: i64, timeline: usize) -> Result<IncidentDetail> {
        self.read(move |c| incident::detail(c, id, timeline)).await
    }

    async fn incident_of_alert(&self, alert_id: i64) -> Result<Option<Member>> {
        self.read(move |c| incident::of_alert(c, alert_id)).await
    }

    async fn incident_timeline(&self, after_id: i64, limit: usize) -> Result<Vec<TimelineEntry>> {
        self.read(move |c| incident::timeline_after(c, after_id, limit))
            .await
    }

    async fn latest_timeline_id(&self) -> Result<i64> {
        self.read(incident::latest_timeline_id).await
    }

    async fn silences(&self) -> Result<Vec<klaxon_engine::noise::Silence>> {
        self.read(read::silences).await
    }

    async fn load_open_alerts(&self) -> Result<Vec<AlertIndex>> {
        self.read(read::load_open_alerts).await
    }

    async fn alert_detail(&self, id: i64, occurrences: usize) -> Result<AlertDetail> {
        self.read(move |c| read::alert_detail(c, id, occurrences))
            .await
    }

    async fn alert_history(&self, q: HistoryQuery) -> Result<Vec<StoredAlert>> {
        self.read(move |c| history::alert_history(c, &q)).await
    }

    async fn alert_summary(&self) -> Result<Summary> {
        self.read(report::alert_summary).await
    }

    async fn alert_performance(&self, from: i64, to: i64) -> Result<Performance> {
        self.read(move |c| report::alert_performance(c, from, to))
            .await
    }

    async fn alert_trends(&self, q: TrendQuery) -> Result<Vec<TrendBucket>> {
        self.read(move |c| report::alert_trends(c, &q)).await
    }

    async fn enqueue_notifications(
        &self,
        rows: Vec<NewNotification>,
        claim: Option<Claim>,
    ) -> Result<Vec<OutboxRow>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|r| Request::EnqueueNotifications(rows, claim, r))
            .await
    }

    async fn claim_notifications(&self, claim: Claim, limit: usize) -> Result<Vec<OutboxRow>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.write(|r| Request::ClaimNotifications(claim, limit, r))
            .await
    }

    async fn record_deliveries(&self, outcomes: Vec<Delivery>) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.write(|r| Request::RecordDeliveries(outcomes, r)).await
    }

    async fn release_notification_claims(&self, owner: &str, now: i64) -> Result<u64> {
        let owner = owner.to_owned();
        self.write(|r| Request::ReleaseClaims(owner, now, r)).await
    }

    async fn retry_channel_now(&self, receiver: &str, channel_index: i64, now: i64) -> Result<u64> {
        let receiver = receiver.to_owned();
        self.write(|r| Request::RetryChannelNow(receiver, channel_index, now, r))
            .await
    }

    async fn next_notification_due(&self) -> Result<Option<i64>> {
        self.read(outbox::next_due).await
    }

    async fn notification_log(&self) -> Result<Vec<Notified>> {
        self.read(outbox::log).await
    }

    async fn open_alerts(&self) -> Result<Vec<StoredAlert>> {
        self.read(outbox::open_alerts).await
    }

    async fn alert_notifications(
        &self,
        alert_id: i64,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>> {
        self.read(move |c| outbox::of_alert(c, alert_id, limit))
            .await
    }

    async fn notifications_after(
        &self,
        channel: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        let channel = channel.to_owned();
        self.read(move |c| outbox::after(c, &channel, after_id, limit))
            .await
    }

    async fn limited_notifications(&self) -> Result<Vec<OutboxRow>> {
        self.read(outbox::limited).await
    }

    async fn delivery_counts(&self) -> Result<Vec<DeliveryCount>> {
        self.read(outbox::counts).await
    }

    async fn delete_notifications_before(&self, before: i64) -> Result<u64> {
        self.write(|r| Request::DeleteNotificationsBefore(before, r))
            .await
    }

    async fn ping(&self) -> Result<()> {
        // Both, even when the first fails: each probe clears its own database's failure.
        let main = self.write(Request::Ping).await;
        let telemetry = self.inner.telemetry.write(Request::Ping).await;
        main.and(telemetry)
    }

    fn write_failure(&self) -> Option<WriteFailure> {
        let main = self.inner.main.health.failure();
        let telemetry = self.inner.telemetry.health.failure();
        match (main, telemetry) {
            (Some(m), Some(t)) => Some(if t.since < m.since { t } else { m }),
            (m, t) => m.or(t),
        }
    }
}
