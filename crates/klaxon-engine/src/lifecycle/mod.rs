//! The alert lifecycle as a pure core. It owns every alert that is not closed: deduplication by
//! fingerprint, the transition table (`table.rs`, the one judge of every state change), quiet
//! firings kept in RAM and flushed folded, the lifecycle's timers (auto-resolve, resolve
//! timeout and `endsAt`, suppression expiry, close after resolution) in one deadline set,
//! silences and maintenance windows (which change state), and the one decision of why an alert
//! is quiet ([`Mute`]: suppression, inhibition everywhere and per route, flapping), which
//! travels on every published [`Change`].
//!
//! It must not do I/O, read a clock or randomness, block, lock or spawn: time (epoch ms) and a
//! seed are arguments, effects go into the caller's [`Effects`]. The caller (the server's
//! shell) receives inputs, calls [`Lifecycle::apply`] and [`Lifecycle::advance`], commits
//! `Effects::writes` in one transaction, and only then publishes `Effects::changes` and gives
//! the answers; then [`Effects::clear`] ends the batch.
//!
//! ```text
//! Lifecycle::new(settings, noise, seed)      restore(max_id, open alerts, silences)
//! apply(now, Input, &mut Effects) -> Answer  advance(now, &mut Effects)   next_deadline()
//! explain(now, id)   mute_of(id)   muted()   state_of(id)   content_keys()   stats()
//! ```

mod action;
mod convert;
mod effect;
mod explain;
mod firing;
pub mod key;
mod machine;
mod mute;
mod record;
mod schedule;
mod silence;
mod table;
mod timer;

pub use convert::{engine_labels, engine_occurrence, from_engine, from_labelled, from_threshold};
pub use effect::{Change, Detail, Effects, Notice};
pub use explain::{Explanation, Flapping, Suppressed};
pub use input::{Act, Answer, Done, Input, Labelled, Refusal, Resend, RuleRef, SilenceRefusal};
pub use key::ContentKeys;
pub use machine::{Lifecycle, Settings, Stats, QUIET_FLUSH_MS, QUIET_LOG_MS};
pub use mute::{Held, Inhibited, Mute, News, NoiseConfig, Suppression};
pub use record::{
    Actor, AlertRecord, Assignment, Labels, NoteRecord, Occur, Occurrence, Restored, Source,
    Suppressor, Transition, Write,
};
pub use table::{dedup, transition, Action, Dedup, Illegal, State};

mod input;

/// Maps keyed by numbers (ids, fingerprints), looked up on every firing: foldhash keyed by the
/// lifecycle's seed (so iteration order replays with the seed, and senders cannot aim at
/// collisions).
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::quality::FixedState>;

fn fast_map<K, V>(seed: u64) -> FastMap<K, V> {
    FastMap::with_hasher(foldhash::quality::FixedState::with_seed(seed))
}
