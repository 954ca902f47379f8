//! Test helpers: compact rule-set and signal builders, and a driver that replays signals the way
//! the offline replay does (engine time = the largest signal time seen so far).

use klaxon_engine::event::parse_rule_set;
pub(crate) use klaxon_engine::{
    Alert, Body, Engine, Level, Log, Monitor, Outcome, ProcessFields, RuleSet, Signal,
};
use serde_json::{json, Value};

/// 2023-11-14T22:13:20.000Z, a readable base time for every test.
pub(crate) const T0: i64 = 1_700_000_000_000;

// ---------------------------------------------------------------------------------------------
// Rule sets

/// One rule of a rule-set document, built fluently.
#[derive(Debug, Clone)]
pub(crate) struct R(pub Value);

/// A rule with handler `LOG`; an empty `action` or `value` is left out of the document.
pub(crate) fn rule(id: &str, trigger: &str, action: &str, operator: &str, value: &str) -> R {
    let mut r = json!({
        "id": id,
        "trigger_type": trigger,
        "condition": { "operator": operator },
        "alert": { "handler": "LOG" },
    });
    if !action.is_empty() {
        r["action"] = json!(action);
    }
    if !value.is_empty() {
        r["condition"]["value"] = json!(value);
    }
    R(r)
}

impl R {
    pub(crate) fn ctx(mut self, context: &str) -> R {
        self.0["context"] = json!(context);
        self
    }

    pub(crate) fn throttle(mut self, seconds: f64) -> R {
        self.0["alert"]["throttle_seconds"] = json!(seconds);
        self
    }

    pub(crate) fn severity(mut self, severity: &str) -> R {
        self.0["alert"]["severity"] = json!(severity);
        self
    }

    /// Sets (or overrides) any top-level key, for validation tests.
    pub(crate) fn with(mut self, key: &str, value: Value) -> R {
        self.0[key] = value;
        self
    }
}

/// A rule-set document named `test`, version 1, with these rules.
pub(crate) fn rules(rs: impl IntoIterator<Item = R>) -> String {
    let rules: Vec<Value> = rs.into_iter().map(|r| r.0).collect();
    json!({ "header": { "rule_set": "test", "rule_set_version": 1 }, "rules": rules }).to_string()
}

/// Parses a rule set, panicking with every error when it is invalid.
pub(crate) fn parse(text: &str) -> RuleSet {
    match parse_rule_set(text) {
        Ok(p) => p.set,
        Err(errors) => panic!("rule set rejected: {errors:#?}\n{text}"),
    }
}

/// An engine with `text` active in group `default` (name from the header, else `test`).
pub(crate) fn engine(text: &str) -> Engine {
    let set = parse(text);
    let mut e = Engine::new();
    let name = set.name.clone().unwrap_or_else(|| "test".to_owned());
    e.activate("default", &name, set.version.clone(), &set);
    e
}

// ---------------------------------------------------------------------------------------------
// Signals

fn monitor(p: &str, ts: i64, action: &str, ctx: &str, body: fn(Monitor) -> Body) -> Signal {
    Signal::new(p, Some(ts), body(Monitor::new(action, Some(ctx))))
}

/// A mark; `ctx` `""` is the missing context.
pub(crate) fn mark(p: &str, ts: i64, action: &str, ctx: &str) -> Signal {
    monitor(p, ts, action, ctx, Body::Mark)
}

/// A trace start.
pub(crate) fn ts_(p: &str, ts: i64, action: &str, ctx: &str) -> Signal {
    monitor(p, ts, action, ctx, Body::TraceStart)
}

/// A trace stop.
pub(crate) fn te(p: &str, ts: i64, action: &str, ctx: &str) -> Signal {
    monitor(p, ts, action, ctx, Body::TraceStop)
}

/// An explicit process start of a process named `name`.
pub(crate) fn start(p: &str, ts: i64, name: &str, f: ProcessFields) -> Signal {
    Signal::new(p, Some(ts), Body::ProcessStart(f)).name(name)
}

pub(crate) fn update(p: &str, ts: i64, f: ProcessFields) -> Signal {
    Signal::new(p, Some(ts), Body::ProcessUpdate(f))
}

pub(crate) fn stop(p: &str, ts: i64, f: ProcessFields) -> Signal {
    Signal::new(p, Some(ts), Body::ProcessStop(f))
}

pub(crate) fn log(p: &str, ts: i64, level: Level, msg: &str) -> Signal {
    Signal::new(
        p,
        Some(ts),
        Body::Log(Log {
            level,
            message: msg.to_owned(),
        }),
    )
}

/// Empty process fields, to chain [`FieldsExt`] setters on.
pub(crate) fn pf() -> ProcessFields {
    ProcessFields::default()
}

pub(crate) trait FieldsExt {
    fn status(self, s: i64) -> Self;
    fn info(self, s: &str) -> Self;
    fn todo(self, n: i64) -> Self;
    fn done(self, n: i64) -> Self;
    /// `step_done: n` (the wire's `true` is 1).
    fn step(self, n: i64) -> Self;
}

impl FieldsExt for ProcessFields {
    fn status(mut self, s: i64) -> Self {
        self.status = Some(s);
        self
    }
    fn info(mut self, s: &str) -> Self {
        self.info = Some(s.to_owned());
        self
    }
    fn todo(mut self, n: i64) -> Self {
        self.steps_todo = Some(n);
        self
    }
    fn done(mut self, n: i64) -> Self {
        self.steps_done = Some(n);
        self
    }
    fn step(mut self, n: i64) -> Self {
        self.step_done = Some(n);
        self
    }
}

pub(crate) trait SignalExt {
    fn name(self, name: &str) -> Self;
    fn scope(self, scope: &str) -> Self;
    fn untimed(self) -> Self;
}

impl SignalExt for Signal {
    fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
    fn scope(mut self, scope: &str) -> Self {
        self.baseline_scope = Some(scope.to_owned());
        self
    }
    fn untimed(mut self) -> Self {
        self.ts = None;
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Driving the engine

/// An engine plus everything it emitted, fed like the offline replay.
pub(crate) struct Run {
    pub engine: Engine,
    pub alerts: Vec<Alert>,
}

impl Run {
    pub(crate) fn new(rules_json: &str) -> Run {
        Run {
            engine: engine(rules_json),
            alerts: Vec::new(),
        }
    }

    /// Engine time for a signal: the largest signal time seen so far (0 before the first, as
    /// in `klaxon replay`).
    fn time_for(&self, s: &Signal) -> i64 {
        let now = self.engine.now().max(0);
        s.ts.map_or(now, |t| t.max(now))
    }

    /// Feeds one signal; returns its outcome and the alerts of this step.
    pub(crate) fn send_o(&mut self, s: &Signal) -> (Outcome, Vec<Alert>) {
        let mut out = Vec::new();
        let now = self.time_for(s);
        let o = self.engine.process(now, s, &mut out);
        self.alerts.extend(out.iter().cloned());
        (o, out)
    }

    /// Feeds one signal; returns the alerts of this step.
    pub(crate) fn send(&mut self, s: &Signal) -> Vec<Alert> {
        self.send_o(s).1
    }

    pub(crate) fn send_all(&mut self, ss: &[Signal]) -> Vec<Alert> {
        ss.iter().flat_map(|s| self.send(s)).collect()
    }

    /// Moves engine time to `now`; returns the timer alerts fired.
    pub(crate) fn advance(&mut self, now: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        self.engine.advance(now, &mut out);
        self.alerts.extend(out.iter().cloned());
        out
    }
}

/// Activates `rules_json`, feeds `signals` (engine time = largest ts so far), then advances to
/// `until` when given. Returns every alert in emission order.
pub(crate) fn check(rules_json: &str, signals: &[Signal], until: Option<i64>) -> Vec<Alert> {
    let mut run = Run::new(rules_json);
    run.send_all(signals);
    if let Some(t) = until {
        run.advance(t);
    }
    run.alerts
}

/// How many alerts rule `id` emitted.
pub(crate) fn count(alerts: &[Alert], id: &str) -> usize {
    alerts.iter().filter(|a| &*a.rule_id == id).count()
}

/// The rule ids of the alerts, in order.
pub(crate) fn ids(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| &*a.rule_id).collect()
}

/// The alert JSON lines, joined by newlines.
pub(crate) fn lines(alerts: &[Alert]) -> String {
    alerts
        .iter()
        .map(|a| serde_json::to_string(a).expect("an alert serializes"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Scenario timelines: signals 1 ms apart unless `wait` says otherwise

/// A timeline of one process: its signals in order, with the waits between them.
pub(crate) struct Seq {
    p: String,
    t: i64,
    step: i64,
    pub sigs: Vec<Signal>,
}

impl Seq {
    /// A timeline of process `p`; its first signal is at [`T0`].
    pub(crate) fn new(p: &str) -> Seq {
        Seq {
            p: p.to_owned(),
            t: T0,
            step: 0,
            sigs: Vec::new(),
        }
    }

    fn next(&mut self) -> i64 {
        self.t += self.step;
        self.step = 1;
        self.t
    }

    /// `+Ns`: the next signal comes `ms` after the previous one instead of 1 ms.
    pub(crate) fn wait(mut self, ms: i64) -> Seq {
        self.step = ms;
        self
    }

    fn push(mut self, f: impl FnOnce(&str, i64) -> Signal) -> Seq {
        let t = self.next();
        let s = f(&self.p, t);
        self.sigs.push(s);
        self
    }

    /// `E(action, ctx)`.
    pub(crate) fn e(self, action: &str, ctx: &str) -> Seq {
        self.push(|p, t| mark(p, t, action, ctx))
    }

    pub(crate) fn ts(self, action: &str, ctx: &str) -> Seq {
        self.push(|p, t| ts_(p, t, action, ctx))
    }

    pub(crate) fn te(self, action: &str, ctx: &str) -> Seq {
        self.push(|p, t| te(p, t, action, ctx))
    }

    /// A trace of `ms` milliseconds: start, then stop `ms` later.
    pub(crate) fn trace(self, action: &str, ms: i64) -> Seq {
        self.ts(action, "").wait(ms).te(action, "")
    }

    pub(crate) fn log(self, level: Level, msg: &str) -> Seq {
        self.push(|p, t| log(p, t, level, msg))
    }

    /// An explicit start; the process is named like its id.
    pub(crate) fn start(self, f: ProcessFields) -> Seq {
        self.push(|p, t| start(p, t, p, f))
    }

    pub(crate) fn update(self, f: ProcessFields) -> Seq {
        self.push(|p, t| update(p, t, f))
    }

    pub(crate) fn stop(self, f: ProcessFields) -> Seq {
        self.push(|p, t| stop(p, t, f))
    }

    /// The alerts of this timeline against `rules_json`, advancing to `until` when given.
    pub(crate) fn run(&self, rules_json: &str, until: Option<i64>) -> Vec<Alert> {
        check(rules_json, &self.sigs, until)
    }
}
