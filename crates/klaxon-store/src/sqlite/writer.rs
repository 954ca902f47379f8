//! The writer thread: the only owner of the write connection, and group commit.
//! It blocks for one request, drains whatever else is queued, runs a batch in one transaction
//! with a savepoint per request (every urgent request first, then a bounded chunk of
//! telemetry), commits (one fsync), and only then answers every caller. It must never answer a caller before the commit, and never runs on an async
//! runtime thread. It keeps [`Health`]: whether its commits fail (a full disk), since when and
//! why, until one commits again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use klaxon_engine::BaselineRecord;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::error::{map, message};
use super::{access, change, outbox, people, write};
use crate::{
    AlertChange, AuditEntry, Claim, Delivery, NewAlert, NewNotification, NewRuleSet, NewSession,
    NewToken, OutboxRow, PeopleChange, Result, RuleKind, RuleSetRecord, StoreError, StoredAlert,
    TelemetryRow, TokenRecord, WriteFailure,
};

/// Whether one writer's commits fail, shared between the writer thread and the store's handles.
pub(crate) struct Health {
    database: &'static str,
    /// Set while `failure` is `Some`: the cheap check callers make per request.
    failing: AtomicBool,
    failure: Mutex<Option<WriteFailure>>,
    /// A fault for tests: while set, every commit fails as on a full disk. Shared by the
    /// writers of one store.
    full: Arc<AtomicBool>,
}

impl Health {
    pub(crate) fn new(database: &'static str, full: Arc<AtomicBool>) -> Health {
        Health {
            database,
            failing: AtomicBool::new(false),
            failure: Mutex::new(None),
            full,
        }
    }

    /// The current run of failures, if any.
    pub(crate) fn failure(&self) -> Option<WriteFailure> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records a batch's outcome: a commit ends a run of failures, a failure starts or extends
    /// one.
    fn record(&self, outcome: std::result::Result<(), &str>) {
        if outcome.is_ok() && !self.failing.load(Ordering::Acquire) {
            return;
        }
        let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(()) => {
                if let Some(old) = f.take() {
                    tracing::info!(
                        database = self.database,
                        since = old.since,
                        "sqlite: writes commit again"
                    );
                }
                self.failing.store(false, Ordering::Release);
            }
            Err(why) => {
                let since = f.as_ref().map_or_else(now_ms, |old| old.since);
                *f = Some(WriteFailure {
                    since,
                    error: why.to_owned(),
                    database: self.database,
                });
                self.failing.store(true, Ordering::Release);
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The message SQLite gives for `SQLITE_FULL`, as the fault of [`Health::full`] reports it.
fn disk_full() -> StoreError {
    map(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
        None,
    ))
}

/// How a caller gets its answer.
pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// Requests the channel holds before senders wait (async backpressure, no blocking).
pub(crate) const QUEUE: usize = 4096;
/// At most this many requests in one transaction.
const MAX_REQUESTS: usize = 10_000;
/// Stop draining urgent requests once the batch holds about this many rows.
const MAX_ROWS: usize = 100_000;
/// Telemetry rows added to one transaction (at least one request). Telemetry has a database
/// file and writer of its own, so this only sizes its transactions: large, for throughput.
const BULK_ROWS: usize = 100_000;

/// One write, with where to send its result.
pub(crate) enum Request {
    InsertAlerts(Vec<NewAlert>, Reply<Vec<StoredAlert>>),
    ApplyAlertChanges(Vec<AlertChange>, Reply<()>),
    AppendTelemetry(Vec<TelemetryRow>, Reply<()>),
    DeleteTelemetryBefore(i64, Reply<u64>),
    InsertRuleSet(NewRuleSet, Reply<RuleSetRecord>),
    ActivateRuleSet {
        kind: RuleKind,
        group: String,
        name: String,
        version: i64,
        reply: Reply<RuleSetRecord>,
    },
    SaveBaselines(Vec<BaselineRecord>, Reply<()>),
    CreateToken(NewToken, Reply<TokenRecord>),
    RevokeToken(i64, i64, Reply<TokenRecord>),
    RecordTokenUse(i64, i64, Reply<()>),
    OpenSession(NewSession, usize, Reply<u64>),
    CloseSession(String, Reply<bool>),
    DeleteExpiredSessions(i64, Reply<u64>),
    EnqueueNotifications(Vec<NewNotification>, Option<Claim>, Reply<Vec<OutboxRow>>),
    ClaimNotifications(Claim, usize, Reply<Vec<OutboxRow>>),
    RecordDeliveries(Vec<Delivery>, Reply<()>),
    ReleaseClaims(String, i64, Reply<u64>),
    RetryChannelNow(String, i64, i64, Reply<u64>),
    DeleteNotificationsBefore(i64, Reply<u64>),
    ChangePeople(Box<PeopleChange>, Vec<AuditEntry>, Reply<()>),
    AppendAudit(Vec<AuditEntry>, Reply<()>),
    Ping(Reply<()>),
    /// Finish everything queued, commit, close the connection, then answer.
    Close(Reply<()>),
}

impl Request {
    /// Roughly how many rows the request writes, for the batch cap.
    fn rows(&self) -> usize {
        match self {
            Request::InsertAlerts(a, _) => a.len().max(1),
            Request::ApplyAlertChanges(c, _) => c.len().max(1),
            Request::AppendTelemetry(r, _) => r.len().max(1),
            Request::SaveBaselines(b, _) => b.len().max(1),
            Request::EnqueueNotifications(n, _, _) => n.len().max(1) * 2,
            Request::RecordDeliveries(d, _) => d.len().max(1),
            Request::ClaimNotifications(_, limit, _) => (*limit).max(1),
            _ => 1,
        }
    }

    /// Runs the request in its own savepoint; the result waits for the batch's commit.
    fn execute(self, conn: &Connection) -> Box<dyn Answer> {
        match self {
            Request::InsertAlerts(alerts, reply) => {
                pending(reply, savepoint(conn, |c| write::insert_alerts(c, alerts)))
            }
            Request::ApplyAlertChanges(changes, reply) => {
                pending(reply, savepoint(conn, |c| change::apply(c, &changes)))
            }
            Request::AppendTelemetry(rows, reply) => pending(
                reply,
                savepoint(conn, |c| write::append_telemetry(c, &rows)),
            ),
            Request::DeleteTelemetryBefore(cutoff, reply) => pending(
                reply,
                savepoint(conn, |c| write::delete_telemetry_before(c, cutoff)),
            ),
            Request::InsertRuleSet(rs, reply) => {
                pending(reply, savepoint(conn, |c| write::insert_rule_set(c, rs)))
            }
            Request::ActivateRuleSet {
                kind,
                group,
                name,
                version,
                reply,
            } => pending(
                reply,
                savepoint(conn, |c| {
                    write::activate_rule_set(c, kind, &group, &name, version)
                }),
            ),
            Request::SaveBaselines(b, reply) => {
                pending(reply, savepoint(conn, |c| write::save_baselines(c, &b)))
            }
            Request::CreateToken(t, reply) => {
                pending(reply, savepoint(conn, |c| access::create_token(c, t)))
            }
            Request::RevokeToken(id, at, reply) => {
                pending(reply, savepoint(conn, |c| access::revoke_token(c, id, at)))
            }
            Request::RecordTokenUse(id, at, reply) => pending(
                reply,
                savepoint(conn, |c| access::record_token_use(c, id, at)),
            ),
            Request::OpenSession(s, per_token, reply) => pending(
                reply,
                savepoint(conn, |c| access::open_session(c, &s, per_token)),
            ),
            Request::CloseSession(key, reply) => {
                pending(reply, savepoint(conn, |c| access::close_session(c, &key)))
            }
            Request::DeleteExpiredSessions(now, reply) => pending(
                reply,
                savepoint(conn, |c| access::delete_expired_sessions(c, now)),
            ),
            Request::EnqueueNotifications(rows, claim, reply) => pending(
                reply,
                savepoint(conn, |c| outbox::enqueue(c, &rows, claim.as_ref())),
            ),
            Request::ClaimNotifications(claim, limit, reply) => {
                pending(reply, savepoint(conn, |c| outbox::claim(c, &claim, limit)))
            }
            Request::RecordDeliveries(d, reply) => {
                pending(reply, savepoint(conn, |c| outbox::record(c, &d)))
            }
            Request::ReleaseClaims(owner, now, reply) => {
                pending(reply, savepoint(conn, |c| outbox::release(c, &owner, now)))
            }
            Request::RetryChannelNow(receiver, index, now, reply) => pending(
                reply,
                savepoint(conn, |c| outbox::retry_now(c, &receiver, index, now)),
            ),
            Request::DeleteNotificationsBefore(before, reply) => {
                pending(reply, savepoint(conn, |c| outbox::delete_before(c, before)))
            }
            Request::ChangePeople(change, audit, reply) => pending(
                reply,
                savepoint(conn, |c| people::apply(c, &change, &audit)),
            ),
            Request::AppendAudit(rows, reply) => {
                pending(reply, savepoint(conn, |c| people::append_audit(c, &rows)))
            }
            Request::Ping(reply) => pending(reply, savepoint(conn, write::ping)),
            // Never batched: `run` takes it out of the queue and answers it after the last batch.
            Request::Close(reply) => pending(reply, Ok(())),
        }
    }

    /// Answers `Unavailable(why)` without running: the batch could not start or was lost.
    fn fail(self, why: &str) {
        fn err<T>(why: &str) -> Result<T> {
            Err(StoreError::Unavailable(why.to_owned()))
        }
        // A caller that stopped waiting has dropped its receiver; nothing to do then.
        match self {
            Request::InsertAlerts(_, r) => drop(r.send(err(why))),
            Request::AppendTelemetry(_, r)
            | Request::SaveBaselines(_, r)
            | Request::ApplyAlertChanges(_, r)
            | Request::ChangePeople(_, _, r)
            | Request::AppendAudit(_, r) => drop(r.send(err(why))),
            Request::Ping(r) | Request::Close(r) => drop(r.send(err(why))),
            Request::DeleteTelemetryBefore(_, r) => drop(r.send(err(why))),
            Request::InsertRuleSet(_, r) | Request::ActivateRuleSet { reply: r, .. } => {
                drop(r.send(err(why)))
            }
            Request::CreateToken(_, r) | Request::RevokeToken(_, _, r) => drop(r.send(err(why))),
            Request::RecordTokenUse(_, _, r) => drop(r.send(err(why))),
            Request::OpenSession(_, _, r) | Request::DeleteExpiredSessions(_, r) => {
                drop(r.send(err(why)))
            }
            Request::CloseSession(_, r) => drop(r.send(err(why))),
            Request::EnqueueNotifications(_, _, r) | Request::ClaimNotifications(_, _, r) => {
                drop(r.send(err(why)))
            }
            Request::RecordDeliveries(_, r) => drop(r.send(err(why))),
            Request::ReleaseClaims(_, _, r)
            | Request::DeleteNotificationsBefore(_, r)
            | Request::RetryChannelNow(_, _, _, r) => drop(r.send(err(why))),
        }
    }
}

/// A result held until the batch commits.
trait Answer: Send {
    /// Sends the result, or `Unavailable(why)` when the batch did not commit.
    fn send(self: Box<Self>, failed: Option<&str>);
    /// Why the request could not write, when the database (not the request) is at fault.
    fn unavailable(&self) -> Option<&str>;
}

struct Pending<T> {
    reply: Reply<T>,
    result: Result<T>,
}

impl<T: Send> Answer for Pending<T> {
    fn send(self: Box<Self>, failed: Option<&str>) {
        let result = match failed {
            None => self.result,
            Some(why) => Err(StoreError::Unavailable(why.to_owned())),
        };
        // A caller that stopped waiting has dropped its receiver; its write still committed.
        let _ = self.reply.send(result);
    }

    fn unavailable(&self) -> Option<&str> {
        match &self.result {
            Err(e @ StoreError::Unavailable(_)) => Some(message(e)),
            _ => None,
        }
    }
}

fn pending<T: Send + 'static>(reply: Reply<T>, result: Result<T>) -> Box<dyn Answer> {
    Box::new(Pending { reply, result })
}

/// Runs `op` in a savepoint: on error only its own changes are rolled back, the rest of the
/// batch stays.
fn savepoint<T>(conn: &Connection, op: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    exec(conn, "SAVEPOINT request")?;
    match op(conn) {
        Ok(v) => {
            exec(conn, "RELEASE request")?;
            Ok(v)
        }
        Err(e) => {
            // If SQLite already rolled the whole transaction back (I/O error, disk full), there
            // is no savepoint left; the batch loop notices and fails the batch.
            if !conn.is_autocommit() {
                exec(conn, "ROLLBACK TO request")?;
                exec(conn, "RELEASE request")?;
            }
            Err(e)
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(drop)
        .map_err(map)
}

/// Starts the writer thread; it runs until every sender is gone or a `Close` arrives, and the
/// queue is empty.
pub(crate) fn spawn(
    conn: Connection,
    rx: mpsc::Receiver<Request>,
    health: Arc<Health>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("klaxon-store-writer".to_owned())
        .spawn(move || run(conn, rx, &health))
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Request>, health: &Health) {
    let mut urgent: VecDeque<Request> = VecDeque::new();
    let mut bulk: VecDeque<Request> = VecDeque::new();
    let mut batch = Vec::new();
    let mut answers = Vec::new();
    let mut closers = Vec::new();
    let mut open = true;
    loop {
        // Block only when nothing is waiting; then take everything queued at this moment.
        if urgent.is_empty() && bulk.is_empty() {
            if !open {
                break;
            }
            match rx.blocking_recv() {
                Some(req) => sort(req, &mut urgent, &mut bulk, &mut closers, &mut rx),
                None => break,
            }
        }
        while let Ok(req) = rx.try_recv() {
            sort(req, &mut urgent, &mut bulk, &mut closers, &mut rx);
        }
        if !closers.is_empty() {
            open = false;
        }
        // Everything urgent first (alerts, lifecycle changes, rule sets, tokens, sessions), then
        // telemetry up to a bounded size, so an alert never waits behind a large telemetry
        // write for longer than one bounded chunk of it.
        let mut rows = 0;
        while batch.len() < MAX_REQUESTS && rows < MAX_ROWS {
            let Some(req) = urgent.pop_front() else { break };
            rows += req.rows();
            batch.push(req);
        }
        let mut bulk_rows = 0;
        while batch.len() < MAX_REQUESTS && bulk_rows < BULK_ROWS {
            let Some(req) = bulk.pop_front() else { break };
            bulk_rows += req.rows();
            batch.push(req);
        }
        if !batch.is_empty() {
            commit_batch(&conn, &mut batch, &mut answers, health);
        }
    }
    let closed = match conn.close() {
        Ok(()) => Ok(()),
        Err((_, e)) => {
            tracing::warn!(error = %e, "closing the sqlite write connection failed");
            Err(map(e))
        }
    };
    for reply in closers {
        let _ = reply.send(match &closed {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Unavailable(message(e).to_owned())),
        });
    }
}

/// Files a request into its queue; a `Close` stops new requests (those already queued are
/// still received and written).
fn sort(
    req: Request,
    urgent: &mut VecDeque<Request>,
    bulk: &mut VecDeque<Request>,
    closers: &mut Vec<Reply<()>>,
    rx: &mut mpsc::Receiver<Request>,
) {
    match req {
        Request::Close(reply) => {
            rx.close();
            closers.push(reply);
        }
        Request::AppendTelemetry(..) | Request::DeleteTelemetryBefore(..) => bulk.push_back(req),
        other => urgent.push_back(other),
    }
}

/// Runs one batch in one transaction and answers every caller after the commit. Before it
/// answers, it records in `health` whether the database could write: a lost batch, or a request
/// that found the database at fault, is a failure; a request refused for its own content is not.
fn commit_batch(
    conn: &Connection,
    batch: &mut Vec<Request>,
    answers: &mut Vec<Box<dyn Answer>>,
    health: &Health,
) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "sqlite: cannot begin a write transaction");
        let why = format!("cannot begin a write transaction: {}", message(&e));
        health.record(Err(&why));
        batch.drain(..).for_each(|r| r.fail(&why));
        return;
    }
    let mut requests = batch.drain(..);
    for req in requests.by_ref() {
        answers.push(req.execute(conn));
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back: nothing of this batch was kept.
            let why = answers.last().and_then(|a| a.unavailable()).map_or_else(
                || "the write transaction was rolled back by sqlite".to_owned(),
                |e| format!("the write transaction was rolled back by sqlite: {e}"),
            );
            tracing::error!("sqlite: {why}");
            health.record(Err(&why));
            answers.drain(..).for_each(|a| a.send(Some(&why)));
            requests.for_each(|r| r.fail(&why));
            return;
        }
    }
    drop(requests);
    let refused = answers
        .iter()
        .find_map(|a| a.unavailable())
        .map(str::to_owned);
    let committed = if health.full.load(Ordering::Relaxed) {
        Err(disk_full())
    } else {
        exec(conn, "COMMIT")
    };
    match committed {
        Ok(()) => {
            health.record(refused.as_deref().map_or(Ok(()), Err));
            answers.drain(..).for_each(|a| a.send(None));
        }
        Err(e) => {
            tracing::error!(error = %e, "sqlite: commit failed");
            if !conn.is_autocommit() {
                if let Err(e) = exec(conn, "ROLLBACK") {
                    tracing::error!(error = %e, "sqlite: rollback after a failed commit failed");
                }
            }
            let why = format!("commit failed: {}", message(&e));
            health.record(Err(&why));
            answers.drain(..).for_each(|a| a.send(Some(&why)));
        }
    }
}
