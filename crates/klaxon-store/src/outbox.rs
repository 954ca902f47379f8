//! Records of the notification outbox: notifications to deliver, claims, delivery outcomes, and
//! the reads of delivery tracking. Every notification is a row before it is sent; workers claim
//! due rows (leases, so a vanished worker's rows come back), send, and record the outcome.
//! Rows of one stream (receiver, channel, group) are delivered in order: a row is claimable
//! only when no earlier row of its stream is unfinished.

use serde::Serialize;

/// Delivery states of a notification.
pub mod status {
    /// Waiting for its first attempt.
    pub const PENDING: &str = "pending";
    /// Claimed by a worker until its lease ends.
    pub const SENDING: &str = "sending";
    /// Failed in a way that may pass; tried again at `next_attempt_at`.
    pub const RETRYING: &str = "retrying";
    /// The receiver took it.
    pub const SENT: &str = "sent";
    /// Failed in a way trying again will not cure.
    pub const FAILED: &str = "failed";
    /// Older than the maximum age and still not delivered.
    pub const DEAD: &str = "dead";
    /// Held by its receiver's rate limit: recorded, never sent itself; a summary folds it.
    pub const LIMITED: &str = "limited";
    /// Held by a rate limit, then told in a summary (a row of its own, `summary` set).
    pub const FOLDED: &str = "folded";
}

/// A notification to put into the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// Unique; sent to the receiver so it can drop a repeat.
    pub idempotency_key: String,
    pub receiver: String,
    /// `webhook`, `slack`, `email`, `pagerduty`, `websocket`.
    pub channel: String,
    /// The channel's position in its receiver.
    pub channel_index: i64,
    pub group_key: String,
    /// `firing`, `acknowledged`, `resolved`.
    pub kind: String,
    /// The notification document (JSON), rendered per channel when sent.
    pub payload: String,
    /// The alerts it tells of.
    pub alert_ids: Vec<i64>,
    /// Epoch ms.
    pub created_at: i64,
    /// Held by the receiver's rate limit: written as [`status::LIMITED`], so that what it
    /// tells counts as told and a restart takes it back into the limit, but never claimed.
    pub limited: bool,
    /// A rate limit's summary: in the same commit, every [`status::LIMITED`] row of its
    /// receiver and kind written before it becomes [`status::FOLDED`].
    pub summary: bool,
}

impl NewNotification {
    /// Rows of one stream (receiver, channel, group) are delivered in order. The stream is a
    /// 64-bit hash: a collision only orders two unrelated streams, it never reorders one.
    pub fn stream(&self) -> i64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let index = self.channel_index.to_le_bytes();
        for part in [self.receiver.as_bytes(), &index, self.group_key.as_bytes()] {
            for b in (part.len() as u64).to_le_bytes().iter().chain(part) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        i64::from_le_bytes(h.to_le_bytes())
    }
}

/// A worker's claim: rows become `sending`, owned by `owner` until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub owner: String,
    /// Epoch ms: rows due at or before this are claimed.
    pub now: i64,
    /// Epoch ms: the lease's end.
    pub until: i64,
}

/// A row of the outbox as a worker sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub idempotency_key: String,
    pub receiver: String,
    pub channel: String,
    pub channel_index: i64,
    pub group_key: String,
    pub kind: String,
    pub payload: String,
    pub status: String,
    /// Attempts so far, the claimed one included.
    pub attempts: u32,
    pub created_at: i64,
}

/// What happened to a claimed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    /// The claim's owner; a row claimed by someone else since (lease expired) is left alone.
    pub owner: String,
    /// `sent`, `retrying`, `failed` or `dead`.
    pub status: &'static str,
    /// Epoch ms of the outcome.
    pub at: i64,
    /// For `retrying`: when to try again.
    pub next_attempt_at: Option<i64>,
    pub error: Option<String>,
    /// HTTP status or SMTP reply code, if there was one.
    pub code: Option<u16>,
    /// The receiver asked for the wait (Retry-After): [`crate::Store::retry_channel_now`]
    /// leaves the row alone.
    pub held: bool,
}

/// One notification as the alert API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationRecord {
    pub id: i64,
    pub receiver: String,
    pub channel: String,
    pub kind: String,
    pub status: String,
    pub attempts: u32,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_code: Option<u16>,
    pub idempotency_key: String,
}

/// What was last told of an alert in a group: the latest notification of that group that
/// covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notified {
    pub group_key: String,
    pub alert_id: i64,
    pub kind: String,
    /// Epoch ms the notification was made.
    pub at: i64,
}

/// How many rows of one channel are in one status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryCount {
    pub channel: String,
    pub status: String,
    pub count: u64,
}
