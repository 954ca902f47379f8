//! The store probe: while the store reports that its writes fail (a full disk), a durable
//! ping every second, so the store learns that it can write again even when nothing else
//! writes (ingest and actions are refused meanwhile). Decides nothing; the store keeps the
//! state.

use std::time::Duration;

use klaxon_store::Store;

/// How often a failing store is probed.
const EVERY: Duration = Duration::from_secs(1);

/// Runs until the server stops (aborted at drain).
pub(crate) async fn run<S: Store>(store: S) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if store.write_failure().is_some() {
            // The outcome is recorded by the store itself; a failure here is expected.
            let _ = store.ping().await;
        }
    }
}
