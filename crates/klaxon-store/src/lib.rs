//! klaxon-store: the store boundary of klaxon. The [`Store`] trait, the records it keeps, and
//! its backends, SQLite and PostgreSQL. Only this crate knows SQL; callers see records and
//! [`StoreError`].

pub mod access;
#[doc(hidden)]
pub mod conformance;
mod error;
pub mod escalation;
mod health;
pub mod incident;
pub mod lifecycle;
pub mod outbox;
pub mod people;
pub mod postgres;
pub mod sqlite;

use std::future::Future;

pub use access::{NewSession, NewToken, Role, SessionRecord, TokenRecord, TokenState};
pub use error::StoreError;
pub use escalation::{BreachRecord, EscalationChange, EscalationRecord, PageRecord, SlaAlert};
pub use health::WriteFailure;
pub use incident::{
    IncidentChange, IncidentDetail, IncidentQuery, IncidentRecord, IncidentState, Member,
    TimelineEntry,
};
/// The identity labels of an engine alert (the lifecycle's mapping, so deduplication and routing
/// agree with what the store derives).
pub use klaxon_engine::lifecycle::engine_labels;
use klaxon_engine::{Alert, BaselineRecord};
pub use lifecycle::{
    AlertChange, AlertDetail, AlertEvent, AlertIndex, HistoryQuery, Note, Occurrence, Performance,
    Source, Summary, TrendBucket, TrendQuery,
};
pub use outbox::{
    Claim, Delivery, DeliveryCount, NewNotification, NotificationRecord, Notified, OutboxRow,
};
pub use people::{
    AuditEntry, AuditQuery, AuditRecord, Contact, Origin, OverrideRecord, PeopleChange,
    PolicyRecord, ScheduleRecord, TeamRecord, UserRecord,
};
use serde::Serialize;

/// Result of a store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An alert as stored: the lifecycle's own record (`klaxon_engine::lifecycle::AlertRecord`),
/// so what the lifecycle writes and what the store reads back are one type. Engine-rule alerts
/// fill the rule columns (`group` … `engine_ts`); alerts from elsewhere (threshold rules,
/// Alertmanager clients, the API) leave them empty (`""`, `0`, `None`) and carry `labels` and
/// `annotations`. `suppressed_by` may also read `manual` on alerts suppressed by hand before
/// suppression was a silence.
pub use klaxon_engine::lifecycle::AlertRecord as StoredAlert;

/// An alert to store, with the server time it is stored at.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub alert: Alert,
    /// Server time (epoch ms).
    pub created_at: i64,
}

/// Which alerts to list: newest first when `before_id` pages backwards, or ascending from
/// `after_id` (for followers catching up).
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Ascending from after this id (exclusive).
    pub after_id: Option<i64>,
    /// Descending from before this id (exclusive). Ignored when `after_id` is set.
    pub before_id: Option<i64>,
    pub rule_id: Option<String>,
    pub process: Option<String>,
    pub severity: Option<String>,
    /// At most this many (the store caps it at 10,000).
    pub limit: usize,
}

/// One telemetry row: what a signal did, with the engine's measurements.
#[derive(Debug, Clone, PartialEq)]
pub enum TelemetryRow {
    /// A process start, update or stop; `kind` is `start`, `update` or `stop`.
    Process {
        kind: &'static str,
        process: String,
        name: Option<String>,
        group: Option<String>,
        status: Option<i64>,
        info: Option<String>,
        steps_todo: Option<i64>,
        steps_done: Option<i64>,
        ts: i64,
        received_at: i64,
    },
    /// A mark with its gap to the previous mark of the key and its count.
    Mark {
        process: String,
        action: String,
        context: Option<String>,
        ts: i64,
        used_ms: i64,
        action_count: u64,
        received_at: i64,
    },
    /// A trace start (`used_ms` none) or an accepted trace stop (`used_ms` = duration).
    Trace {
        process: String,
        action: String,
        context: Option<String>,
        /// `start` or `stop`.
        kind: &'static str,
        ts: i64,
        used_ms: Option<i64>,
        action_count: u64,
        received_at: i64,
    },
    Log {
        process: String,
        level: String,
        message: String,
        ts: i64,
        received_at: i64,
    },
}

/// Telemetry row counts, for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TelemetryCounts {
    pub process_events: u64,
    pub marks: u64,
    pub traces: u64,
    pub logs: u64,
}

/// Which engine a rule set is for. Each kind has its own versions and its own active set per
/// group: an event rule set and a threshold rule set of one group are independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Event rules over process runs, marks, traces and logs (`klaxon_engine::event`).
    #[default]
    Event,
    /// Threshold rules on metrics (`klaxon_engine::threshold`).
    Threshold,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Event => "event",
            RuleKind::Threshold => "threshold",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        match s {
            "event" => Some(RuleKind::Event),
            "threshold" => Some(RuleKind::Threshold),
            _ => None,
        }
    }
}

/// A stored rule-set version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleSetRecord {
    pub kind: RuleKind,
    pub group: String,
    pub name: String,
    pub version: i64,
    /// The rule-set JSON document exactly as submitted.
    pub json: String,
    pub author: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    pub active: bool,
}

/// A rule-set version to store, under its own version or the next one of (kind, group, name).
#[derive(Debug, Clone)]
pub struct NewRuleSet {
    pub kind: RuleKind,
    pub group: String,
    pub name: String,
    /// The version to store it as (the document's own); `None`: the highest so far plus one.
    pub version: Option<i64>,
    pub json: String,
    pub author: Option<String>,
    pub created_at: i64,
}

/// The persistence boundary. Every method that writes returns only after the write is
/// committed and durable (fsynced); SQLite batches concurrent writes into one commit (group
/// commit), so many callers waiting at once cost one fsync; PostgreSQL commits each write as
/// its own transaction.
///
/// Implementations: [`sqlite::SqliteStore`], [`postgres::PostgresStore`]. Every implementation
/// must pass [`conformance`]'s suite.
pub trait Store: Send + Sync + 'static {
    /// Stores alerts durably and returns them with their ids, in the given order.
    fn insert_alerts(
        &self,
        alerts: Vec<NewAlert>,
    ) -> impl Future<Output = Result<Vec<StoredAlert>>> + Send;
    fn get_alert(&self, id: i64) -> impl Future<Output = Result<StoredAlert>> + Send;
    fn list_alerts(&self, q: AlertQuery) -> impl Future<Output = Result<Vec<StoredAlert>>> + Send;

    /// Stores telemetry rows durably, all of them or none: a failed append stored nothing, so
    /// the caller retries it whole without storing a row twice.
    fn append_telemetry(&self, rows: Vec<TelemetryRow>) -> impl Future<Output = Result<()>> + Send;
    fn telemetry_counts(&self) -> impl Future<Output = Result<TelemetryCounts>> + Send;
    /// Deletes telemetry received before `received_before` (epoch ms); returns rows deleted.
    fn delete_telemetry_before(
        &self,
        received_before: i64,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Stores a new version of (kind, group, name): `rs.version` when given (`AlreadyExists`
    /// when that version is stored), else the highest version so far plus one.
    fn insert_rule_set(&self, rs: NewRuleSet)
        -> impl Future<Output = Result<RuleSetRecord>> + Send;
    /// All versions, ordered by kind, group, name, version.
    fn list_rule_sets(&self) -> impl Future<Output = Result<Vec<RuleSetRecord>>> + Send;
    fn get_rule_set(
        &self,
        kind: RuleKind,
        group: &str,
        name: &str,
        version: i64,
    ) -> impl Future<Output = Result<RuleSetRecord>> + Send;
    /// Makes this version the one active version of its kind and group (NotFound if it does
    /// not exist).
    fn activate_rule_set(
        &self,
        kind: RuleKind,
        group: &str,
        name: &str,
        version: i64,
    ) -> impl Future<Output = Result<RuleSetRecord>> + Send;
    /// The active version of every kind and group.
    fn active_rule_sets(&self) -> impl Future<Output = Result<Vec<RuleSetRecord>>> + Send;

    /// Replaces the stored baselines with these (upsert by group, rule, scope, action, context).
    fn save_baselines(&self, b: Vec<BaselineRecord>) -> impl Future<Output = Result<()>> + Send;
    fn load_baselines(&self) -> impl Future<Output = Result<Vec<BaselineRecord>>> + Send;

    /// Stores a token (its hash); AlreadyExists if a token that is not revoked has the name,
    /// or any token has the hash.
    fn create_token(&self, token: NewToken) -> impl Future<Output = Result<TokenRecord>> + Send;
    /// As [`Store::create_token`], with no creator, expiry or user.
    fn insert_token(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        created_at: i64,
    ) -> impl Future<Output = Result<TokenRecord>> + Send {
        self.create_token(NewToken {
            name: name.to_owned(),
            role,
            hash: hash.to_owned(),
            created_at,
            created_by: None,
            expires_at: None,
            user: None,
        })
    }
    /// The token with this hash, in whatever state.
    fn find_token(&self, hash: &str) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;
    /// Every token, revoked ones too, by id.
    fn list_tokens(&self) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;
    /// Revokes a token at `at` and ends its dashboard sessions, in one commit. NotFound for an
    /// unknown id; Conflict when it is the last admin token in force at `at` (revoking it would
    /// lock every administrator out). A token already revoked is returned unchanged.
    fn revoke_token(&self, id: i64, at: i64) -> impl Future<Output = Result<TokenRecord>> + Send;
    /// Records that a token was used at `at`; `last_used_at` never moves back.
    fn record_token_use(&self, id: i64, at: i64) -> impl Future<Output = Result<()>> + Send;

    /// Stores a dashboard session. In the same commit, ends the token's expired sessions and
    /// its oldest ones so that it keeps at most `per_token` (this one included); other tokens'
    /// sessions are not touched, and the work does not grow with their number. Returns how
    /// many sessions were ended. Conflict if the token is revoked or does not exist.
    fn open_session(
        &self,
        session: NewSession,
        per_token: usize,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// The session with this key (hash of its id), with its token, expired or not.
    fn find_session(&self, key: &str)
        -> impl Future<Output = Result<Option<SessionRecord>>> + Send;
    /// Ends a session; true if there was one.
    fn close_session(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Deletes sessions that expired at or before `now`; returns how many.
    fn delete_expired_sessions(&self, now: i64) -> impl Future<Output = Result<u64>> + Send;

    /// Applies one change to users and teams and appends `audit`, in one commit.
    fn change_people(
        &self,
        change: PeopleChange,
        audit: Vec<AuditEntry>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The user of that name, if any.
    fn get_user(&self, name: &str) -> impl Future<Output = Result<Option<UserRecord>>> + Send;
    /// Every user, by name.
    fn list_users(&self) -> impl Future<Output = Result<Vec<UserRecord>>> + Send;
    /// The team of that name with its members, if any.
    fn get_team(&self, name: &str) -> impl Future<Output = Result<Option<TeamRecord>>> + Send;
    /// Every team with its members, by name.
    fn list_teams(&self) -> impl Future<Output = Result<Vec<TeamRecord>>> + Send;
    /// The schedule of that name with its overrides, if any.
    fn get_schedule(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ScheduleRecord>>> + Send;
    /// Every schedule with its overrides, by name.
    fn list_schedules(&self) -> impl Future<Output = Result<Vec<ScheduleRecord>>> + Send;
    /// The escalation policy of that name, if any.
    fn get_policy(&self, name: &str) -> impl Future<Output = Result<Option<PolicyRecord>>> + Send;
    /// Every escalation policy, by name.
    fn list_policies(&self) -> impl Future<Output = Result<Vec<PolicyRecord>>> + Send;
    /// Appends audit rows of actions that are not store writes of their own, durably.
    fn append_audit(&self, rows: Vec<AuditEntry>) -> impl Future<Output = Result<()>> + Send;
    /// Audit rows newest first, filtered, at most `q.limit` (capped).
    fn audit_log(&self, q: AuditQuery) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;

    /// Applies lifecycle changes in order, durably, in one transaction with whatever else is
    /// queued. Ids of inserted alerts are chosen by the caller (see `max_alert_id`).
    /// A change naming an alert that does not exist fails the whole call with NotFound.
    fn apply_alert_changes(
        &self,
        changes: Vec<AlertChange>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The highest alert id ever used (0 for none).
    fn max_alert_id(&self) -> impl Future<Output = Result<i64>> + Send;
    /// Every alert that is not closed, for the lifecycle manager's index at start.
    fn load_open_alerts(&self) -> impl Future<Output = Result<Vec<AlertIndex>>> + Send;
    /// The highest incident id ever used (0 for none); incident ids are chosen by the caller.
    /// Escalations that have not ended.
    fn open_escalations(&self) -> impl Future<Output = Result<Vec<EscalationRecord>>> + Send;
    /// Escalations started in [from, to), at most `limit`, oldest first.
    fn escalations_started(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EscalationRecord>>> + Send;
    /// Pages in [from, to), at most `limit`, oldest first.
    fn escalation_pages(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PageRecord>>> + Send;
    /// SLA breaches in [from, to), at most `limit`, oldest first.
    fn sla_breaches(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<BreachRecord>>> + Send;
    /// (subject, what) of the breaches recorded for alerts that are not closed.
    fn open_sla_breaches(&self) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// Alerts first seen in [from, to), at most `limit`, oldest first.
    fn sla_alerts(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SlaAlert>>> + Send;
    fn max_incident_id(&self) -> impl Future<Output = Result<i64>> + Send;
    /// Every incident that is not closed, each with its members.
    fn load_open_incidents(
        &self,
    ) -> impl Future<Output = Result<Vec<(IncidentRecord, Vec<Member>)>>> + Send;
    /// Incidents newest first (by id) with filters and a cursor (`before_id`).
    fn list_incidents(
        &self,
        q: IncidentQuery,
    ) -> impl Future<Output = Result<Vec<IncidentRecord>>> + Send;
    /// How many alerts each of these incidents has, as `(incident id, alerts)` (incidents
    /// without alerts are left out; at most 1,000 ids are read).
    fn incident_sizes(&self, ids: Vec<i64>)
        -> impl Future<Output = Result<Vec<(i64, i64)>>> + Send;
    /// One incident with its members and its newest `timeline` entries; NotFound if none.
    fn incident_detail(
        &self,
        id: i64,
        timeline: usize,
    ) -> impl Future<Output = Result<IncidentDetail>> + Send;
    /// The incident membership of an alert, if it is in one.
    fn incident_of_alert(
        &self,
        alert_id: i64,
    ) -> impl Future<Output = Result<Option<Member>>> + Send;
    /// Timeline entries of every incident with an id above `after_id`, oldest first, at most
    /// `limit` (the store caps it at 1,000).
    fn incident_timeline(
        &self,
        after_id: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TimelineEntry>>> + Send;
    /// The id of the newest timeline entry (0 for none).
    fn latest_timeline_id(&self) -> impl Future<Output = Result<i64>> + Send;
    /// Every stored silence (expired ones too), ordered by id. Silences are written through
    /// [`AlertChange::Silence`], in the same commits as the alert changes they cause.
    fn silences(&self) -> impl Future<Output = Result<Vec<klaxon_engine::noise::Silence>>> + Send;
    /// One alert with its events, its latest occurrences (at most `occurrences`) and notes.
    fn alert_detail(
        &self,
        id: i64,
        occurrences: usize,
    ) -> impl Future<Output = Result<AlertDetail>> + Send;
    /// Alerts newest first (by id) with filters and a cursor (`before_id`).
    fn alert_history(
        &self,
        q: HistoryQuery,
    ) -> impl Future<Output = Result<Vec<StoredAlert>>> + Send;
    /// Counts by state and by severity.
    fn alert_summary(&self) -> impl Future<Output = Result<Summary>> + Send;
    /// Time to acknowledge and to resolve over alerts first seen in [from, to).
    fn alert_performance(
        &self,
        from: i64,
        to: i64,
    ) -> impl Future<Output = Result<Performance>> + Send;
    /// Alerts first seen in [from, to) counted per time bucket, severity and name.
    fn alert_trends(&self, q: TrendQuery) -> impl Future<Output = Result<Vec<TrendBucket>>> + Send;

    /// Puts notifications into the outbox, durably. With a claim, every row whose stream has
    /// nothing unfinished before it is claimed at once and returned (the caller sends those
    /// right away); the others wait for [`Store::claim_notifications`].
    fn enqueue_notifications(
        &self,
        rows: Vec<NewNotification>,
        claim: Option<Claim>,
    ) -> impl Future<Output = Result<Vec<OutboxRow>>> + Send;
    /// Claims up to `limit` due rows (pending or retrying and due, or claimed with an ended
    /// lease) whose streams have nothing unfinished before them, oldest due first. A backend
    /// shared by several nodes must give each row to one claimant (PostgreSQL:
    /// `FOR UPDATE SKIP LOCKED`).
    fn claim_notifications(
        &self,
        claim: Claim,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxRow>>> + Send;
    /// Records delivery outcomes of claimed rows, durably.
    fn record_deliveries(&self, outcomes: Vec<Delivery>)
        -> impl Future<Output = Result<()>> + Send;
    /// Makes every row claimed by `owner` due at `now` again; returns how many.
    fn release_notification_claims(
        &self,
        owner: &str,
        now: i64,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Makes every retrying row of one receiver's channel due at `now` (the receiver answered
    /// again: its backlog need not wait out its backoff); returns how many.
    fn retry_channel_now(
        &self,
        receiver: &str,
        channel_index: i64,
        now: i64,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// The earliest time an unfinished row is due (or its lease ends).
    fn next_notification_due(&self) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// What was last told of each alert that is not closed, per group (what a rate limit
    /// holds or folded into a summary counts as told).
    fn notification_log(&self) -> impl Future<Output = Result<Vec<Notified>>> + Send;
    /// The notifications a rate limit holds and no summary has told yet
    /// ([`outbox::status::LIMITED`]), oldest first, with their payloads.
    fn limited_notifications(&self) -> impl Future<Output = Result<Vec<OutboxRow>>> + Send;
    /// Every alert that is not closed, in full.
    fn open_alerts(&self) -> impl Future<Output = Result<Vec<StoredAlert>>> + Send;
    /// An alert's newest notifications (at most `limit`), newest first.
    fn alert_notifications(
        &self,
        alert_id: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<NotificationRecord>>> + Send;
    /// Rows of `channel` with an id above `after_id`, oldest first, at most `limit`.
    fn notifications_after(
        &self,
        channel: &str,
        after_id: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxRow>>> + Send;
    /// Rows per channel and status.
    fn delivery_counts(&self) -> impl Future<Output = Result<Vec<DeliveryCount>>> + Send;
    /// Deletes finished notifications older than `before` that tell of no open alert.
    fn delete_notifications_before(&self, before: i64) -> impl Future<Output = Result<u64>> + Send;

    /// Proves the store accepts a durable write (for readiness). While writes fail, it is the
    /// probe that finds out when they commit again.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;

    /// Whether writes fail now (a full disk, an I/O error): since when and the latest error;
    /// `None` once a write has committed again. Cheap and synchronous: callers ask it per
    /// request to refuse work before accepting it.
    fn write_failure(&self) -> Option<WriteFailure> {
        None
    }
}
