//! The last stage before readers: every committed lifecycle change, numbered in order, the
//! newest kept in a bounded buffer (`Hub`) that readers walk with their own cursor. Every alert
//! stream reads it (`/alerts/stream` every change, `/v1/alerts/stream` the new alerts). A
//! reader that falls out of the buffer is told (`Read::Lagged`), never silently skipped. The
//! lifecycle manager publishes only after the store has committed (write-then-signal).
//! Changes of only why an alert is quiet (`muted`) are for the notification dispatcher and are
//! not numbered here: the alert streams tell what was committed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};

use crate::pipeline::lifecycle::Change;

/// A numbered change.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub seq: u64,
    pub change: Arc<Change>,
}

/// The buffer and the newest sequence number.
pub(crate) struct Hub {
    /// Identifies this server run; event ids are `<boot>-<seq>`.
    pub boot: i64,
    capacity: usize,
    buf: Mutex<VecDeque<Entry>>,
    latest: watch::Sender<u64>,
}

/// What a reader gets for its cursor.
pub(crate) enum Read {
    /// Entries after the cursor (possibly empty: wait for `changed`).
    Entries(Vec<Entry>),
    /// The cursor fell out of the buffer: this many changes are gone; continue from `from`.
    Lagged { missed: u64, from: u64 },
}

impl Hub {
    pub(crate) fn new(boot: i64, capacity: usize) -> Arc<Hub> {
        let (latest, _) = watch::channel(0);
        Arc::new(Hub {
            boot,
            capacity: capacity.max(1),
            buf: Mutex::new(VecDeque::new()),
            latest,
        })
    }

    /// Numbers every change the manager publishes, until the manager stops.
    pub(crate) async fn run(self: Arc<Hub>, mut rx: broadcast::Receiver<Arc<Change>>) {
        loop {
            match rx.recv().await {
                Ok(c) if c.unstreamed() => {}
                Ok(c) => self.push(c),
                // The hub reads right away; if it ever lags, readers learn it through a gap.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "alert stream hub lagged behind the lifecycle manager"
                    );
                    let next = *self.latest.borrow() + n;
                    self.latest.send_replace(next);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn push(&self, change: Arc<Change>) {
        let seq = *self.latest.borrow() + 1;
        if let Ok(mut b) = self.buf.lock() {
            b.push_back(Entry { seq, change });
            while b.len() > self.capacity {
                b.pop_front();
            }
        }
        self.latest.send_replace(seq);
    }

    /// The newest sequence number.
    pub(crate) fn latest(&self) -> u64 {
        *self.latest.borrow()
    }

    /// A receiver that wakes when a change is added.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Up to `max` entries after `cursor`.
    pub(crate) fn read(&self, cursor: u64, max: usize) -> Read {
        let Ok(b) = self.buf.lock() else {
            return Read::Entries(Vec::new());
        };
        let oldest = b.front().map_or(self.latest() + 1, |e| e.seq);
        if cursor + 1 < oldest && cursor < self.latest() {
            return Read::Lagged {
                missed: oldest - cursor - 1,
                from: oldest - 1,
            };
        }
        let skip = usize::try_from((cursor + 1).saturating_sub(oldest)).unwrap_or(usize::MAX);
        Read::Entries(b.iter().skip(skip).take(max).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: i64) -> Arc<Change> {
        of(id, crate::pipeline::lifecycle::Detail::Other)
    }

    fn of(id: i64, detail: crate::pipeline::lifecycle::Detail) -> Arc<Change> {
        Arc::new(Change {
            alert_id: id,
            severity: "high".into(),
            state: klaxon_engine::lifecycle::State::Active,
            labels: Default::default(),
            json: "{}".into(),
            detail,
            mute: None,
            end_of_batch: true,
        })
    }

    /// Streams tell what was committed: a change of only why an alert is quiet is not numbered.
    #[tokio::test]
    async fn muted_changes_are_not_numbered() {
        use crate::pipeline::lifecycle::Detail;
        let hub = Hub::new(1, 8);
        let (tx, rx) = broadcast::channel(8);
        for c in [
            of(1, Detail::Other),
            of(2, Detail::Muted),
            of(3, Detail::Other),
        ] {
            tx.send(c).expect("the receiver is there");
        }
        drop(tx);
        Arc::clone(&hub).run(rx).await;
        match hub.read(0, 10) {
            Read::Entries(e) => assert_eq!(
                e.iter()
                    .map(|e| (e.seq, e.change.alert_id))
                    .collect::<Vec<_>>(),
                vec![(1, 1), (2, 3)]
            ),
            Read::Lagged { .. } => panic!("nothing fell out"),
        }
    }

    #[test]
    fn readers_walk_the_buffer_and_learn_when_they_fall_out() {
        let hub = Hub::new(1, 3);
        for i in 1..=5 {
            hub.push(change(i));
        }
        match hub.read(0, 10) {
            Read::Lagged { missed, from } => assert_eq!((missed, from), (2, 2)),
            Read::Entries(_) => panic!("cursor 0 fell out of a buffer holding 3..=5"),
        }
        match hub.read(2, 10) {
            Read::Entries(e) => {
                assert_eq!(e.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5])
            }
            Read::Lagged { .. } => panic!("cursor 2 is just before the buffer"),
        }
        match hub.read(5, 10) {
            Read::Entries(e) => assert!(e.is_empty()),
            Read::Lagged { .. } => panic!("up to date"),
        }
    }
}
