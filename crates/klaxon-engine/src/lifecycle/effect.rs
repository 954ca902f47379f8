//! What the lifecycle asks of the world, into a buffer the caller owns: [`Effects`] holds one
//! batch's writes (to commit, in order, in one transaction) and changes (to publish after the
//! commit, in order). Several occurrences of one alert within a batch fold into the latest.
//! [`Effects::clear`] is the batch boundary.

use std::collections::HashMap;
use std::sync::Arc;

use super::mute::Mute;
use super::record::{AlertRecord, Assignment, Labels, NoteRecord, Occur, Transition, Write};
use super::table::State;

/// One change to publish, with the alert's state after it and why it is quiet.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub alert_id: i64,
    pub state: State,
    pub severity: Arc<str>,
    /// The alert's labels, for stream filters and routing.
    pub labels: Arc<Labels>,
    /// What mutes it now (`None`: nothing).
    pub mute: Option<Arc<Mute>>,
    pub detail: Detail,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// A new alert, as written.
    Created(Arc<AlertRecord>),
    /// More firings: the count, the latest time and summary, the sender's `endsAt`.
    Occurrence {
        occurrences: u64,
        last_seen: i64,
        summary: Arc<str>,
        ends_at: Option<i64>,
    },
    Transition(Arc<Transition>),
    Note(Arc<NoteRecord>),
    Assigned(Arc<Assignment>),
    /// Only why it is quiet changed (a source of inhibition started or stopped firing, it
    /// stopped flapping): nothing is written.
    Muted,
    /// A silence that holds alerts ends soon.
    Notice(Arc<Notice>),
}

/// The announcement of a silence's end.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub silence: String,
    pub ends_at: i64,
    pub text: String,
    /// The alerts it holds, by id.
    pub alerts: Vec<i64>,
}

impl Change {
    /// `created`, `occurrence`, `transition`, `note`, `assigned`, `muted`, `notice`.
    pub fn kind(&self) -> &'static str {
        match self.detail {
            Detail::Created(_) => "created",
            Detail::Occurrence { .. } => "occurrence",
            Detail::Transition(_) => "transition",
            Detail::Note(_) => "note",
            Detail::Assigned(_) => "assigned",
            Detail::Muted => "muted",
            Detail::Notice(_) => "notice",
        }
    }
}

/// One batch in the making.
#[derive(Debug, Default)]
pub struct Effects {
    /// To commit, in order, in one transaction.
    pub writes: Vec<Write>,
    /// To publish once the writes are committed, in order.
    pub changes: Vec<Change>,
    /// Alerts whose latest entries in this batch are an occurrence: (index in `writes`, index
    /// in `changes`). A further occurrence replaces them.
    folding: HashMap<i64, (usize, usize), foldhash::fast::RandomState>,
}

impl Effects {
    pub fn new() -> Effects {
        Effects::default()
    }

    /// Ends the batch: empties the buffers, keeping their memory.
    pub fn clear(&mut self) {
        self.writes.clear();
        self.changes.clear();
        self.folding.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.changes.is_empty()
    }

    /// Adds a change (and its write, if it has one); a later occurrence of the alert will
    /// not fold into an earlier one.
    pub(crate) fn push(&mut self, write: Option<Write>, change: Change) {
        self.folding.remove(&change.alert_id);
        if let Some(w) = write {
            self.writes.push(w);
        }
        self.changes.push(change);
    }

    /// Adds a write that changes no alert (a silence).
    pub(crate) fn push_write(&mut self, write: Write) {
        self.writes.push(write);
    }

    /// Adds an occurrence, replacing the alert's previous one if nothing came between.
    pub(crate) fn push_occurrence(&mut self, write: Occur, change: Change) {
        let id = write.id;
        match self.folding.get(&id) {
            Some(&(w, c)) => {
                self.writes[w] = Write::Occur(write);
                self.changes[c] = change;
            }
            None => {
                self.folding
                    .insert(id, (self.writes.len(), self.changes.len()));
                self.writes.push(Write::Occur(write));
                self.changes.push(change);
            }
        }
    }
}
