//! The span hold: a trace's spans that arrive before its root span (an SDK exports a span when
//! it ends, and a long root ends after exports of its children) wait here for the root, so the
//! run is evaluated whole and in time order: start, traces and marks, stop. Bounded in signals
//! (`[otlp] hold_signals`) and in time (`[otlp] hold_seconds`): what finds no room, and what
//! waited its time without a root, is released as a run of its own that its last signal's time
//! stops, so no run is left open. Pure: `now` is an argument; the caller sends what comes out.

use std::collections::{HashMap, VecDeque};

use klaxon_engine::{Body, ProcessFields, Signal};

/// Signals of traces whose root has not arrived, by trace id.
#[derive(Debug)]
pub(crate) struct Hold {
    traces: HashMap<String, Held>,
    /// (release time, trace) in the order held; an entry whose trace was taken is skipped.
    order: VecDeque<(i64, String)>,
    signals: usize,
    max_signals: usize,
    hold_ms: i64,
}

#[derive(Debug)]
struct Held {
    signals: Vec<Signal>,
    until: i64,
}

/// Held signals that went out with their root, to put back if the engine refuses them.
pub(crate) type Released = Vec<(String, Vec<Signal>)>;

impl Hold {
    pub(crate) fn new(max_signals: usize, hold_ms: i64) -> Hold {
        Hold {
            traces: HashMap::new(),
            order: VecDeque::new(),
            signals: 0,
            max_signals,
            hold_ms,
        }
    }

    /// Signals held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.signals
    }

    /// Takes the signals an export carries for `trace`: with its root (`rooted`), they go out
    /// with whatever of the trace was held (recorded in `released`); without, they are held
    /// until the root comes, or go out at once as a run of their own when there is no room.
    pub(crate) fn take(
        &mut self,
        now: i64,
        trace: String,
        rooted: bool,
        signals: Vec<Signal>,
        out: &mut Vec<Signal>,
        released: &mut Released,
    ) {
        if rooted {
            if let Some(h) = self.traces.remove(&trace) {
                self.signals -= h.signals.len();
                out.extend(h.signals.iter().cloned());
                released.push((trace, h.signals));
            }
            out.extend(signals);
            return;
        }
        if self.signals + signals.len() > self.max_signals {
            orphan(&trace, signals, out);
            return;
        }
        self.signals += signals.len();
        match self.traces.get_mut(&trace) {
            Some(h) => h.signals.extend(signals),
            None => {
                let until = now.saturating_add(self.hold_ms);
                self.order.push_back((until, trace.clone()));
                self.traces.insert(trace, Held { signals, until });
            }
        }
    }

    /// Holds again what went out with a root the engine then refused, for the export's retry
    /// (they were held before, so the bound is not checked again).
    pub(crate) fn put_back(&mut self, now: i64, released: Released) {
        for (trace, signals) in released {
            self.signals += signals.len();
            match self.traces.get_mut(&trace) {
                Some(h) => h.signals.extend(signals),
                None => {
                    let until = now.saturating_add(self.hold_ms);
                    self.order.push_back((until, trace.clone()));
                    self.traces.insert(trace, Held { signals, until });
                }
            }
        }
    }

    /// Releases what has waited its time (every held trace with `all`, at shutdown), each as a
    /// run of its own.
    pub(crate) fn expired(&mut self, now: i64, all: bool, out: &mut Vec<Signal>) {
        while let Some((until, _)) = self.order.front() {
            if !all && *until > now {
                break;
            }
            let (until, trace) = self.order.pop_front().expect("peeked");
            if self.traces.get(&trace).is_some_and(|h| h.until == until) {
                let h = self.traces.remove(&trace).expect("just seen");
                self.signals -= h.signals.len();
                orphan(&trace, h.signals, out);
            }
        }
    }
}

/// A trace's signals without their root: they go out as a run opened by the first of them and
/// stopped at the last one's time, without a status.
fn orphan(trace: &str, signals: Vec<Signal>, out: &mut Vec<Signal>) {
    let Some(end) = signals.iter().filter_map(|s| s.ts).max() else {
        out.extend(signals);
        return;
    };
    let first = signals.iter().min_by_key(|s| s.ts);
    let (name, group) = first.map_or((None, None), |s| (s.name.clone(), s.group.clone()));
    out.extend(signals);
    out.push(Signal {
        ts: Some(end),
        process: trace.to_owned(),
        name,
        group,
        baseline_scope: None,
        body: Body::ProcessStop(ProcessFields::default()),
        attrs: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_engine::Monitor;

    fn trace_start(ts: i64) -> Signal {
        Signal::new("t1", Some(ts), Body::TraceStart(Monitor::new("q", None)))
    }

    #[test]
    fn children_wait_for_their_root_and_go_out_with_it() {
        let mut h = Hold::new(10, 1_000);
        let (mut out, mut rel) = (Vec::new(), Vec::new());
        h.take(
            0,
            "t1".into(),
            false,
            vec![trace_start(5)],
            &mut out,
            &mut rel,
        );
        assert!(out.is_empty());
        assert_eq!(h.len(), 1);
        h.take(
            10,
            "t1".into(),
            true,
            vec![trace_start(1)],
            &mut out,
            &mut rel,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(rel.len(), 1, "what was held is recorded, to put back");
        assert_eq!(h.len(), 0);
        h.expired(i64::MAX, false, &mut out);
        assert_eq!(out.len(), 2, "nothing left to release");
    }

    #[test]
    fn children_without_a_root_go_out_as_their_own_stopped_run() {
        let mut h = Hold::new(10, 1_000);
        let (mut out, mut rel) = (Vec::new(), Vec::new());
        h.take(
            0,
            "t1".into(),
            false,
            vec![trace_start(5), trace_start(9)],
            &mut out,
            &mut rel,
        );
        h.expired(999, false, &mut out);
        assert!(out.is_empty(), "not yet");
        h.expired(1_000, false, &mut out);
        assert_eq!(out.len(), 3);
        assert!(matches!(out[2].body, Body::ProcessStop(_)));
        assert_eq!(out[2].ts, Some(9), "stopped at the last signal");
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn without_room_children_go_out_at_once() {
        let mut h = Hold::new(1, 1_000);
        let (mut out, mut rel) = (Vec::new(), Vec::new());
        h.take(
            0,
            "t1".into(),
            false,
            vec![trace_start(5), trace_start(6)],
            &mut out,
            &mut rel,
        );
        assert_eq!(
            out.len(),
            3,
            "two signals over a hold of one: released with a stop"
        );
        assert_eq!(h.len(), 0);
    }
}
