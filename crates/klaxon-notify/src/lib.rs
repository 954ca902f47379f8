//! klaxon-notify: what klaxon tells people and systems about alerts, and how.
//!
//! Owns the routing tree (which receivers an alert goes to), grouping (when a notification is
//! due and what it says), the channels (one file per channel under `channel/`), templates,
//! the payloads of each channel, and the retry policy (which outcomes are retried, and when).
//! It knows no SQL and keeps nothing durable: the outbox lives in `klaxon-store`, the tasks that
//! feed and drain it live in `klaxon-server`. Routing, grouping, payloads and the retry policy
//! are pure (time is an argument); only `channel`, `http` and `outbound` do I/O.

pub mod channel;
pub mod config;
pub mod duration;
pub mod group;
pub mod http;
pub mod limit;
pub mod notification;
pub mod outbound;
pub mod retry;
pub mod route;
pub mod secret;
pub mod template;

pub use channel::email::SmtpDefaults;
pub use config::{compile, Holder, Notifier, NotifySettings, Receiver, ReceiverConfig};
pub use limit::{Limiter, RateLimit};
pub use notification::{AlertView, EscalationPage, Kind, Muted, Notification};
pub use retry::{Backoff, DeliveryOutcome};
pub use route::{GroupBy, RouteConfig, Target, Timing};
pub use secret::Secret;
