//! The rules engine: active rule sets, per-run state, evaluation of every operator, alerts, and
//! the deadline set of timer rules (what fires when something does *not* happen).
//!
//! Pure: no I/O, no clock reads, no async runtime. The caller passes engine time with every
//! call and owns the buffer alerts are written into. One owner drives it, so it needs no locks.

mod compiled;
mod eval;
mod message;
mod state;
mod timer;

use std::sync::Arc;

use crate::event::alert::Alert;
use crate::event::ewma::Ewma;
use crate::event::intern::{key, Interner, Sym};
use crate::event::rule::RuleSet;
use crate::signal::{Body, Signal, Trigger};
use crate::Map;

use compiled::{Compiled, SetMeta};
use eval::{Input, Shared};
use state::{Predecessor, Proc, Scope, CLOSED};
use timer::Timers;

/// What the engine made of one signal, for the caller's telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The signal's time (engine time when it had none).
    pub ts: i64,
    /// A trace stop with no open trace: no rules ran and no trace state changed (the stop
    /// still opened its process when none was open, and re-armed its silence timers).
    pub ignored: bool,
    /// Mark: time since the previous mark of the key (0 for the first); trace stop: duration.
    pub used_ms: Option<i64>,
    /// Mark: n for the n-th mark of the key; trace: completed traces; process: steps done.
    pub action_count: u64,
}

/// Counters of the engine's work since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub signals: u64,
    pub ignored_trace_stops: u64,
    pub alerts: u64,
    pub throttled: u64,
    pub timers_fired: u64,
    pub open_processes: usize,
    pub timer_entries: usize,
    pub tracked_keys: usize,
}

/// A persisted EWMA baseline (named scopes only; `#NONE` baselines die with their run).
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRecord {
    pub group: String,
    pub rule_id: String,
    pub scope: String,
    pub action: String,
    pub context: Option<String>,
    pub n: u32,
    pub avg: f64,
}

/// The event-rules engine.
pub struct Engine {
    sh: Shared,
    compiled: Arc<Compiled>,
    /// Active sets, sorted by group.
    active: Vec<Arc<SetMeta>>,
    next_uid: u32,
    procs: Vec<Option<Proc>>,
    free: Vec<u32>,
    ids: Map<Box<str>, u32>,
    next_run: u64,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            sh: Shared {
                now: i64::MIN,
                interner: Interner::new(),
                timers: Timers::default(),
                baselines: Map::default(),
                throttle: Map::default(),
                next_pending: 0,
                stats: Stats::default(),
            },
            compiled: Arc::new(Compiled::default()),
            active: Vec::new(),
            next_uid: 0,
            procs: Vec::new(),
            free: Vec::new(),
            ids: Map::default(),
            next_run: 0,
        }
    }

    /// Engine time: the largest `now` passed so far (`i64::MIN` before the first call).
    pub fn now(&self) -> i64 {
        self.sh.now
    }

    /// Activates `set` as the one version of `group`, atomically for the next signal.
    /// Rules that are unchanged (same id, same definition) keep their timers, pending
    /// expectations and once-flags; timers of removed or changed rules are dropped, and
    /// `RUNTIME_EXCEEDED`/`SILENCE_SECONDS` rules new to a name are armed for its open runs.
    pub fn activate(
        &mut self,
        group: &str,
        name: &str,
        version: Option<serde_json::Number>,
        set: &RuleSet,
    ) {
        let meta = Arc::new(SetMeta {
            group: Arc::from(group),
            group_sym: self.sh.interner.intern(group),
            name: Arc::from(name),
            version,
            set: Arc::new(set.clone()),
        });
        let mut active: Vec<Arc<SetMeta>> = self
            .active
            .iter()
            .filter(|m| &*m.group != group)
            .cloned()
            .collect();
        active.push(meta);
        active.sort_by(|a, b| a.group.cmp(&b.group));
        self.swap(active);
    }

    /// Deactivates the set of `group`; returns whether one was active.
    pub fn deactivate(&mut self, group: &str) -> bool {
        let before = self.active.len();
        let active: Vec<Arc<SetMeta>> = self
            .active
            .iter()
            .filter(|m| &*m.group != group)
            .cloned()
            .collect();
        let removed = active.len() != before;
        if removed {
            self.swap(active);
        }
        removed
    }

    /// The active sets as (group, name, version).
    pub fn active(&self) -> impl Iterator<Item = (&str, &str, Option<&serde_json::Number>)> {
        self.active
            .iter()
            .map(|m| (&*m.group, &*m.name, m.version.as_ref()))
    }

    fn swap(&mut self, active: Vec<Arc<SetMeta>>) {
        let old = Arc::clone(&self.compiled);
        let new = Compiled::build(&active, &old, &mut self.sh.interner, &mut self.next_uid);
        let keep = |uid: u32| new.rule(uid).is_some();
        // State of rules that no longer exist goes; state of carried-over rules stays.
        self.sh.timers.retain_map(|t| match t.kind {
            timer::TimerKind::Followed { .. } => true,
            timer::TimerKind::MaxOpen { rule_uid, .. }
            | timer::TimerKind::Silence { rule_uid }
            | timer::TimerKind::Runtime { rule_uid } => keep(rule_uid),
        });
        for (slot, p) in self.procs.iter_mut().enumerate() {
            let Some(p) = p else { continue };
            p.pending.retain(|pd| keep(pd.rule_uid));
            p.runtime_fired.retain(|&u| keep(u));
            p.silences.retain(|w| keep(w.rule_uid));
            let slot = u32::try_from(slot).expect("slots fit u32");
            eval::arm_open(&mut self.sh, &new, p, slot, |uid| old.rule(uid).is_none());
        }
        self.active = active;
        self.compiled = Arc::new(new);
    }

    /// The earliest pending deadline, a lower bound: call [`Engine::advance`] with a time
    /// strictly past it. `None` when no timer is pending.
    pub fn next_deadline(&self) -> Option<i64> {
        self.sh.timers.next_deadline()
    }

    /// Moves engine time to `now` (never backwards) and fires the timers now strictly past
    /// their deadline, in deadline order.
    pub fn advance(&mut self, now: i64, out: &mut Vec<Alert>) {
        self.sh.now = self.sh.now.max(now);
        let compiled = Arc::clone(&self.compiled);
        eval::fire_due(&mut self.sh, &compiled, &mut self.procs, out);
    }

    /// Evaluates one signal at engine time `now`, appending the alerts it (and any timer due
    /// before it) fires to `out`.
    pub fn process(&mut self, now: i64, signal: &Signal, out: &mut Vec<Alert>) -> Outcome {
        self.advance(now, out);
        self.sh.stats.signals += 1;
        let ts = signal.ts.unwrap_or(self.sh.now);
        let compiled = Arc::clone(&self.compiled);
        let outcome = self.apply(&compiled, ts, signal, out);
        eval::fire_due(&mut self.sh, &compiled, &mut self.procs, out);
        outcome
    }

    /// Evaluates one signal of a batch sorted by time whose signals may come late (an
    /// OpenTelemetry span is sent when it ends, with its start and its end): before the signal it
    /// fires only the timers due strictly before the signal's own time, and none after it, so a
    /// timer armed by an earlier signal of the batch meets the later ones first, as it would have
    /// had they been sent live. Engine time does not move: call [`Engine::advance`] when the
    /// batch is done, which fires what is still due.
    pub fn process_in_time(&mut self, signal: &Signal, out: &mut Vec<Alert>) -> Outcome {
        self.sh.stats.signals += 1;
        let ts = signal.ts.unwrap_or(self.sh.now);
        let compiled = Arc::clone(&self.compiled);
        eval::fire_due_before(&mut self.sh, &compiled, &mut self.procs, out, ts);
        self.apply(&compiled, ts, signal, out)
    }

    fn apply(&mut self, c: &Compiled, ts: i64, sig: &Signal, out: &mut Vec<Alert>) -> Outcome {
        let mut outcome = Outcome {
            ts,
            ignored: false,
            used_ms: None,
            action_count: 0,
        };
        match &sig.body {
            Body::ProcessStart(f) => {
                if let Some(&slot) = self.ids.get(sig.process.as_str()) {
                    self.end_run(slot); // a restart ends the open run silently
                }
                let slot = self.open(sig, ts, true);
                let p = self.procs[slot as usize].as_mut().expect("just opened");
                p.merge(f);
                eval::arm_open(&mut self.sh, c, p, slot, |_| true);
                outcome.action_count = p.steps_done_count();
                let inp = Input::process(Trigger::ProcessStart, ts, p);
                eval::run_process_rules(&mut self.sh, c, p, slot, &inp, out);
            }
            Body::ProcessUpdate(f) | Body::ProcessStop(f) => {
                let slot = self.get_or_open(c, sig, ts);
                let p = self.procs[slot as usize].as_mut().expect("open");
                eval::touch(&mut self.sh, c, p, slot, ts);
                p.merge(f);
                let trigger = if matches!(sig.body, Body::ProcessStop(_)) {
                    Trigger::ProcessStop
                } else {
                    Trigger::ProcessUpdate
                };
                outcome.action_count = p.steps_done_count();
                let inp = Input::process(trigger, ts, p);
                eval::run_process_rules(&mut self.sh, c, p, slot, &inp, out);
                if trigger == Trigger::ProcessStop {
                    self.end_run(slot);
                }
            }
            Body::Mark(m) => {
                let slot = self.get_or_open(c, sig, ts);
                let action = self.sh.interner.intern(&m.action);
                let context = self.sh.interner.intern_opt(m.context.as_deref());
                let k = key(action, context);
                let p = self.procs[slot as usize].as_mut().expect("open");
                eval::touch(&mut self.sh, c, p, slot, ts);
                eval::satisfy(p, action, context, ts);
                let ks = p.keys.entry(k).or_default();
                let gap = (ks.mark_count > 0).then(|| ts - ks.mark_last);
                ks.mark_count += 1;
                ks.mark_last = ts;
                let count = ks.mark_count;
                outcome.used_ms = Some(gap.unwrap_or(0));
                outcome.action_count = count;
                let inp = Input {
                    trigger: Trigger::MarkEvent,
                    ts,
                    action,
                    context,
                    key: k,
                    count,
                    used_ms: Some(gap.unwrap_or(0)),
                    gap_ms: gap,
                    sample: gap,
                    trace_seq: 0,
                };
                eval::run_monitor_rules(&mut self.sh, c, p, slot, &inp, out);
                p.pred = Some(Predecessor {
                    action,
                    context,
                    ts,
                });
            }
            Body::TraceStart(m) => {
                let slot = self.get_or_open(c, sig, ts);
                let action = self.sh.interner.intern(&m.action);
                let context = self.sh.interner.intern_opt(m.context.as_deref());
                let k = key(action, context);
                let p = self.procs[slot as usize].as_mut().expect("open");
                eval::touch(&mut self.sh, c, p, slot, ts);
                eval::satisfy(p, action, context, ts);
                let ks = p.keys.entry(k).or_default();
                let gap = (ks.trace_last_stop != CLOSED).then(|| ts - ks.trace_last_stop);
                let count = ks.trace_done;
                let seq = ks.trace_seq.wrapping_add(1);
                outcome.action_count = count;
                let inp = Input {
                    trigger: Trigger::TraceStart,
                    ts,
                    action,
                    context,
                    key: k,
                    count,
                    used_ms: None,
                    gap_ms: gap,
                    sample: None,
                    trace_seq: seq,
                };
                eval::run_monitor_rules(&mut self.sh, c, p, slot, &inp, out);
                let ks = p.keys.entry(k).or_default();
                ks.trace_start = ts;
                ks.trace_seq = seq;
                p.pred = Some(Predecessor {
                    action,
                    context,
                    ts,
                });
            }
            Body::TraceStop(m) => {
                // A stop with no open trace runs no rules, but it is still a signal of its
                // process: it opens the run when none is open and re-arms silence timers.
                let slot = self.get_or_open(c, sig, ts);
                let action = self.sh.interner.intern(&m.action);
                let context = self.sh.interner.intern_opt(m.context.as_deref());
                let k = key(action, context);
                let p = self.procs[slot as usize].as_mut().expect("open");
                eval::touch(&mut self.sh, c, p, slot, ts);
                if p.keys.get(&k).is_none_or(|ks| ks.trace_start == CLOSED) {
                    self.sh.stats.ignored_trace_stops += 1;
                    outcome.ignored = true;
                    return outcome;
                }
                eval::satisfy(p, action, context, ts);
                let ks = p.keys.get_mut(&k).expect("checked above");
                let used = ts - ks.trace_start;
                ks.trace_done += 1;
                let count = ks.trace_done;
                outcome.used_ms = Some(used);
                outcome.action_count = count;
                let inp = Input {
                    trigger: Trigger::TraceStop,
                    ts,
                    action,
                    context,
                    key: k,
                    count,
                    used_ms: Some(used),
                    gap_ms: None,
                    sample: Some(used),
                    trace_seq: 0,
                };
                eval::run_monitor_rules(&mut self.sh, c, p, slot, &inp, out);
                let ks = p
                    .keys
                    .get_mut(&k)
                    .expect("keys are never removed from a live run");
                ks.trace_start = CLOSED;
                ks.trace_last_stop = ts;
                p.pred = Some(Predecessor {
                    action,
                    context,
                    ts,
                });
            }
            Body::Log(log) => {
                let slot = self.get_or_open(c, sig, ts);
                let p = self.procs[slot as usize].as_mut().expect("open");
                eval::touch(&mut self.sh, c, p, slot, ts);
                outcome.action_count = p.steps_done_count();
                eval::run_log_rules(&mut self.sh, c, p, slot, ts, log, out);
            }
            // Samples belong to the threshold engine (`crate::threshold`); no event rule sees them.
            Body::Metric(_) => {}
        }
        outcome
    }

    fn get_or_open(&mut self, c: &Compiled, sig: &Signal, ts: i64) -> u32 {
        if let Some(&slot) = self.ids.get(sig.process.as_str()) {
            return slot;
        }
        let slot = self.open(sig, ts, false);
        let p = self.procs[slot as usize].as_mut().expect("just opened");
        eval::arm_open(&mut self.sh, c, p, slot, |_| true);
        slot
    }

    fn open(&mut self, sig: &Signal, ts: i64, explicit: bool) -> u32 {
        let name_str: &str = sig
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&sig.process);
        let name = self.sh.interner.intern(name_str);
        let id: Arc<str> = Arc::from(sig.process.as_str());
        self.next_run += 1;
        let (scope, scope_str) = match sig.baseline_scope.as_deref().filter(|s| !s.is_empty()) {
            Some("#NONE") => (
                Scope::Local,
                Arc::from(format!("{}@{ts}/{}", sig.process, self.next_run)),
            ),
            Some(s) => (Scope::Shared(self.sh.interner.intern(s)), Arc::from(s)),
            None => (Scope::Shared(name), Arc::from(name_str)),
        };
        let proc = Proc {
            run: self.next_run,
            id,
            name,
            name_str: Arc::from(name_str),
            group: self.sh.interner.intern_opt(sig.group.as_deref()),
            scope,
            scope_str,
            explicit,
            start_ts: ts,
            last_ts: ts,
            status: None,
            info: None,
            steps_todo: None,
            steps_done: None,
            pred: None,
            keys: Map::default(),
            pending: Vec::new(),
            runtime_fired: Vec::new(),
            silences: Vec::new(),
            local_baselines: Map::default(),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.procs[slot as usize] = Some(proc);
                slot
            }
            None => {
                self.procs.push(Some(proc));
                u32::try_from(self.procs.len() - 1).expect("fewer than 2^32 open runs")
            }
        };
        self.ids.insert(Box::from(sig.process.as_str()), slot);
        slot
    }

    /// Ends a run: its timers become stale and are dropped when they come due.
    fn end_run(&mut self, slot: u32) {
        if let Some(p) = self.procs[slot as usize].take() {
            self.ids.remove(&*p.id);
            self.free.push(slot);
        }
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        let mut s = self.sh.stats;
        s.open_processes = self.ids.len();
        s.timer_entries = self.sh.timers.len();
        s.tracked_keys = self.procs.iter().flatten().map(|p| p.keys.len()).sum();
        s
    }

    /// The baselines of named scopes, for persistence.
    pub fn baselines(&self) -> Vec<BaselineRecord> {
        let i = &self.sh.interner;
        self.sh
            .baselines
            .iter()
            .map(|(&(g, r, s, k), e)| BaselineRecord {
                group: i.name(g).to_owned(),
                rule_id: i.name(r).to_owned(),
                scope: i.name(s).to_owned(),
                action: i.name((k >> 32) as Sym).to_owned(),
                context: Some(i.name(k as Sym))
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
                n: e.n,
                avg: e.avg,
            })
            .collect()
    }

    /// Restores a persisted baseline (warm-up survives a restart).
    pub fn restore_baseline(&mut self, b: &BaselineRecord) {
        let i = &mut self.sh.interner;
        let k = (
            i.intern(&b.group),
            i.intern(&b.rule_id),
            i.intern(&b.scope),
            key(i.intern(&b.action), i.intern_opt(b.context.as_deref())),
        );
        self.sh.baselines.insert(k, Ewma { n: b.n, avg: b.avg });
    }

    /// Whether the run with this id is open.
    pub fn is_open(&self, process: &str) -> bool {
        self.ids.contains_key(process)
    }
}
