//! Evaluation of rules against one signal, arming and firing of timers, throttling and the
//! construction of alerts. Free functions over explicit state, so the borrow of the compiled
//! rules never conflicts with the mutable run state.

use std::sync::Arc;

use super::compiled::{Compiled, RuleRt};
use super::message::{explain, Facts};
use super::state::{Pending, Predecessor, Proc, Scope, SilenceWatch, CLOSED};
use super::timer::{TimerKind, Timers};
use super::Stats;
use crate::event::alert::{fingerprint, Alert};
use crate::event::ewma::Ewma;
use crate::event::intern::{key, Interner, Sym, NONE};
use crate::event::rule::{Condition, Unit};
use crate::signal::{Log, Trigger};
use crate::Map;

/// Engine state shared by all runs.
pub(crate) struct Shared {
    pub now: i64,
    pub interner: Interner,
    pub timers: Timers,
    /// Baselines of named scopes: (group, rule id, scope, key).
    pub baselines: Map<(Sym, Sym, Sym, u64), Ewma>,
    /// Last emitted firing per fingerprint, for rules with a throttle.
    pub throttle: Map<u64, i64>,
    pub next_pending: u64,
    pub stats: Stats,
}

/// What rules see of one signal.
pub(crate) struct Input {
    pub trigger: Trigger,
    pub ts: i64,
    /// Monitor: the signal's action and context; process: the process name and `NONE`.
    pub action: Sym,
    pub context: Sym,
    pub key: u64,
    pub count: u64,
    pub used_ms: Option<i64>,
    pub gap_ms: Option<i64>,
    /// The measurement AVG_DEVIATION_PCT folds in (none for a first mark).
    pub sample: Option<i64>,
    /// The sequence number the trace being started will get.
    pub trace_seq: u32,
}

impl Input {
    pub(crate) fn process(trigger: Trigger, ts: i64, p: &Proc) -> Input {
        Input {
            trigger,
            ts,
            action: p.name,
            context: NONE,
            key: key(p.name, NONE),
            count: p.steps_done_count(),
            used_ms: None,
            gap_ms: None,
            sample: None,
            trace_seq: 0,
        }
    }
}

/// The measured side of a firing.
#[derive(Default)]
struct Hit {
    value: Option<f64>,
    limit: Option<f64>,
    baseline: Option<f64>,
    pred: Option<Predecessor>,
}

fn hit(value: Option<f64>, limit: Option<f64>) -> Option<Hit> {
    Some(Hit {
        value,
        limit,
        ..Hit::default()
    })
}

/// A deadline `limit_ms` after `ts`: engine time strictly past it is strictly past `ts + limit`.
fn deadline(ts: i64, limit_ms: f64) -> i64 {
    ts.saturating_add(limit_ms.floor() as i64)
}

fn applies(rule: &RuleRt, p: &Proc) -> bool {
    p.group == NONE || rule.meta.group_sym == p.group
}

/// Arms the open-time timers (RUNTIME_EXCEEDED, SILENCE_SECONDS) of the rules `is_new` accepts.
pub(crate) fn arm_open(
    sh: &mut Shared,
    c: &Compiled,
    p: &mut Proc,
    slot: u32,
    is_new: impl Fn(u32) -> bool,
) {
    for &ix in c.on_open(p.name) {
        let rule = &c.rules[ix as usize];
        if !is_new(rule.uid) || !applies(rule, p) {
            continue;
        }
        let explicit_only = rule.def.trigger == Trigger::ProcessStart;
        if explicit_only && !p.explicit {
            continue; // an implicit start evaluates no PROCESS_START rule, timers included
        }
        match rule.def.condition {
            Condition::RuntimeExceeded { limit_ms } if !p.runtime_fired.contains(&rule.uid) => {
                let kind = TimerKind::Runtime { rule_uid: rule.uid };
                sh.timers
                    .arm(deadline(p.start_ts, limit_ms), slot, p.run, kind);
            }
            Condition::SilenceSeconds { limit_ms, .. }
                if !p.silences.iter().any(|w| w.rule_uid == rule.uid) =>
            {
                let kind = TimerKind::Silence { rule_uid: rule.uid };
                let seq = sh
                    .timers
                    .arm(deadline(p.last_ts, limit_ms), slot, p.run, kind);
                p.silences.push(SilenceWatch {
                    rule_uid: rule.uid,
                    armed: true,
                    seq,
                });
            }
            _ => {}
        }
    }
}

/// Records a signal of the run at `ts`: moves the deadlines of armed silence watches (lazily:
/// the entry in the deadline set is corrected when it comes due) and re-arms fired ones.
pub(crate) fn touch(sh: &mut Shared, c: &Compiled, p: &mut Proc, slot: u32, ts: i64) {
    if !p.touch(ts) {
        return;
    }
    for w in p.silences.iter_mut() {
        if w.armed {
            w.seq = sh.timers.next_seq();
        } else if let Some(Condition::SilenceSeconds { limit_ms, .. }) =
            c.rule(w.rule_uid).map(|r| &r.def.condition)
        {
            w.armed = true;
            let kind = TimerKind::Silence {
                rule_uid: w.rule_uid,
            };
            w.seq = sh
                .timers
                .arm(deadline(p.last_ts, *limit_ms), slot, p.run, kind);
        }
    }
}

/// An arriving monitor signal satisfies the expectations awaiting it (before its own rules run).
pub(crate) fn satisfy(p: &mut Proc, action: Sym, context: Sym, ts: i64) {
    if p.pending.is_empty() {
        return;
    }
    p.pending.retain(|pd| {
        let matches = pd.await_action == action && (pd.any_context || pd.await_context == context);
        !(matches && ts <= pd.deadline)
    });
}

/// Monitor rules: first those for the signal's context, then the context-free ones.
pub(crate) fn run_monitor_rules(
    sh: &mut Shared,
    c: &Compiled,
    p: &mut Proc,
    slot: u32,
    inp: &Input,
    out: &mut Vec<Alert>,
) {
    if inp.context != NONE {
        for &ix in c.by_context(inp.trigger, inp.action, inp.context) {
            eval_rule(sh, &c.rules[ix as usize], p, slot, inp, out);
        }
    }
    for &ix in c.by_action(inp.trigger, inp.action) {
        eval_rule(sh, &c.rules[ix as usize], p, slot, inp, out);
    }
}

/// Process rules: those whose action is the process name.
pub(crate) fn run_process_rules(
    sh: &mut Shared,
    c: &Compiled,
    p: &mut Proc,
    slot: u32,
    inp: &Input,
    out: &mut Vec<Alert>,
) {
    for &ix in c.by_action(inp.trigger, p.name) {
        eval_rule(sh, &c.rules[ix as usize], p, slot, inp, out);
    }
}

/// LOGGING rules; a rule's action, when given, must be the process name.
pub(crate) fn run_log_rules(
    sh: &mut Shared,
    c: &Compiled,
    p: &mut Proc,
    _slot: u32,
    ts: i64,
    log: &Log,
    out: &mut Vec<Alert>,
) {
    for &ix in &c.logging {
        let rule = &c.rules[ix as usize];
        if !applies(rule, p) || (rule.action != NONE && rule.action != p.name) {
            continue;
        }
        let fires = match &rule.def.condition {
            Condition::Severity { level } => *level == log.level,
            Condition::LogContains { level, needle } => {
                level.is_none_or(|l| l == log.level) && contains_ci(&log.message, needle)
            }
            _ => false,
        };
        if fires {
            let inp = Input::process(Trigger::Logging, ts, p);
            let facts_log = Some((log.level.as_str(), log.message.as_str()));
            emit(sh, p, rule, &inp, ts, Hit::default(), facts_log, out);
        }
    }
}

fn preceded(
    pred: Option<Predecessor>,
    expect: (Sym, Sym, bool),
    ts: i64,
    within: Option<(f64, f64, f64)>,
) -> Option<Hit> {
    let Some(pr) = pred else {
        return Some(Hit {
            limit: within.map(|w| w.1),
            ..Hit::default()
        });
    };
    let matched = pr.action == expect.0 && (expect.2 || pr.context == expect.1);
    if !matched {
        return Some(Hit {
            limit: within.map(|w| w.1),
            pred: Some(pr),
            ..Hit::default()
        });
    }
    let (limit_ms, limit, per_unit) = within?;
    let elapsed = ts - pr.ts;
    (elapsed as f64 > limit_ms).then_some(Hit {
        value: Some(elapsed as f64 / per_unit),
        limit: Some(limit),
        pred: Some(pr),
        baseline: None,
    })
}

fn eval_rule(
    sh: &mut Shared,
    rule: &RuleRt,
    p: &mut Proc,
    slot: u32,
    inp: &Input,
    out: &mut Vec<Alert>,
) {
    if !applies(rule, p) {
        return;
    }
    let f = |v: i64| Some(v as f64);
    let fired = match &rule.def.condition {
        Condition::Always => hit(None, None),
        Condition::MaxDurationMs { limit_ms } => inp
            .used_ms
            .filter(|&u| u as f64 > *limit_ms)
            .and_then(|u| hit(f(u), Some(*limit_ms))),
        Condition::MaxOccurrence { limit } => {
            let n = if inp.trigger.is_monitor() {
                inp.count as f64
            } else {
                p.steps_done.unwrap_or(0) as f64
            };
            (n > *limit).then(|| hit(Some(n), Some(*limit))).flatten()
        }
        Condition::MaxGapSeconds { limit_ms, seconds } => inp
            .gap_ms
            .filter(|&g| g as f64 > *limit_ms)
            .and_then(|g| hit(Some(g as f64 / 1000.0), Some(*seconds))),
        Condition::AvgDeviationPct { pct, warmup, alpha } => {
            let Some(x) = inp.sample else { return };
            let e = match p.scope {
                Scope::Shared(scope) => sh
                    .baselines
                    .entry((rule.meta.group_sym, rule.id_sym, scope, inp.key))
                    .or_default(),
                Scope::Local => p
                    .local_baselines
                    .entry((rule.meta.group_sym, rule.id_sym, inp.key))
                    .or_default(),
            };
            let base = e.baseline(*warmup);
            e.fold(x as f64, *warmup, *alpha);
            match base {
                Some(b) if b >= 1.0 => {
                    let limit = b * (1.0 + pct / 100.0);
                    (x as f64 > limit).then_some(Hit {
                        value: Some(x as f64),
                        limit: Some(limit),
                        baseline: Some(b),
                        pred: None,
                    })
                }
                _ => None,
            }
        }
        Condition::PrecededBy { .. } => preceded(p.pred, rule.expect, inp.ts, None),
        Condition::PrecededByWithin {
            limit_ms,
            unit,
            limit,
            ..
        } => {
            let per_unit = if *unit == Unit::Secs { 1000.0 } else { 1.0 };
            preceded(
                p.pred,
                rule.expect,
                inp.ts,
                Some((*limit_ms, *limit, per_unit)),
            )
        }
        Condition::RuntimeExceeded { limit_ms } => {
            let runtime = inp.ts - p.start_ts;
            if p.runtime_fired.contains(&rule.uid) || runtime as f64 <= *limit_ms {
                None
            } else {
                p.runtime_fired.push(rule.uid); // once per run, even if the throttle drops it
                hit(f(runtime), Some(*limit_ms))
            }
        }
        Condition::MaxRuntimeExceeded { limit_ms } => {
            let runtime = inp.ts - p.start_ts;
            (runtime as f64 > *limit_ms)
                .then(|| hit(f(runtime), Some(*limit_ms)))
                .flatten()
        }
        Condition::StepsLeftHigh { limit } => p.steps_todo.and_then(|todo| {
            let left = (todo - p.steps_done.unwrap_or(0)) as f64;
            (left > *limit)
                .then(|| hit(Some(left), Some(*limit)))
                .flatten()
        }),
        Condition::SuccessRateLow { pct } => p.steps_todo.filter(|&t| t > 0).and_then(|todo| {
            let done = p.steps_done.unwrap_or(0) as f64;
            let todo = todo as f64;
            (done * 100.0 < pct * todo)
                .then(|| hit(Some(done * 100.0 / todo), Some(*pct)))
                .flatten()
        }),
        Condition::StatusEquals { status } => p
            .status
            .filter(|&s| s as f64 == *status)
            .and_then(|s| hit(f(s), None)),
        Condition::InfoContains { needle } => p
            .info
            .as_deref()
            .filter(|i| contains_ci(i, needle))
            .and_then(|_| hit(None, None)),
        Condition::FollowedByWithinMs { limit_ms, .. } => {
            arm_followed(sh, rule, p, slot, inp, *limit_ms);
            None
        }
        Condition::MaxOpenMs { limit_ms } => {
            let kind = TimerKind::MaxOpen {
                rule_uid: rule.uid,
                key: inp.key,
                trace_seq: inp.trace_seq,
            };
            sh.timers
                .arm(deadline(inp.ts, *limit_ms), slot, p.run, kind);
            None
        }
        Condition::SilenceSeconds { .. }
        | Condition::Severity { .. }
        | Condition::LogContains { .. } => None,
    };
    if let Some(h) = fired {
        emit(sh, p, rule, inp, inp.ts, h, None, out);
    }
}

fn arm_followed(
    sh: &mut Shared,
    rule: &RuleRt,
    p: &mut Proc,
    slot: u32,
    inp: &Input,
    limit_ms: f64,
) {
    if p.pending
        .iter()
        .any(|pd| pd.rule_uid == rule.uid && pd.trigger_key == inp.key)
    {
        return; // one pending expectation per (rule, run, key): the deadline does not move
    }
    sh.next_pending += 1;
    let d = deadline(inp.ts, limit_ms);
    p.pending.push(Pending {
        id: sh.next_pending,
        rule_uid: rule.uid,
        trigger_key: inp.key,
        await_action: rule.expect.0,
        await_context: rule.expect.1,
        any_context: rule.expect.2,
        deadline: d,
        action: inp.action,
        context: inp.context,
        action_count: inp.count,
    });
    sh.timers.arm(
        d,
        slot,
        p.run,
        TimerKind::Followed {
            pending: sh.next_pending,
        },
    );
}

/// Fires every timer strictly past its deadline at engine time, in deadline order.
pub(crate) fn fire_due(
    sh: &mut Shared,
    c: &Compiled,
    procs: &mut [Option<Proc>],
    out: &mut Vec<Alert>,
) {
    let now = sh.now;
    fire_due_before(sh, c, procs, out, now);
}

/// Fires the timers strictly before `until` (at most engine time), in deadline order; what a
/// firing measures (open ms, silent s, runtime) is measured at `until`.
pub(crate) fn fire_due_before(
    sh: &mut Shared,
    c: &Compiled,
    procs: &mut [Option<Proc>],
    out: &mut Vec<Alert>,
    until: i64,
) {
    let until = until.min(sh.now);
    while let Some(t) = sh.timers.pop_due(until) {
        let Some(Some(p)) = procs.get_mut(t.slot as usize) else {
            continue;
        };
        if p.run != t.run {
            continue; // the run ended: its timers are cancelled
        }
        let now = until;
        match t.kind {
            TimerKind::Followed { pending } => {
                let Some(ix) = p.pending.iter().position(|pd| pd.id == pending) else {
                    continue;
                };
                let pd = p.pending.swap_remove(ix);
                let Some(rule) = c.rule(pd.rule_uid) else {
                    continue;
                };
                let Condition::FollowedByWithinMs { limit_ms, .. } = rule.def.condition else {
                    continue;
                };
                let inp = timer_input(
                    rule.def.trigger,
                    pd.deadline,
                    pd.action,
                    pd.context,
                    pd.action_count,
                );
                sh.stats.timers_fired += 1;
                emit(
                    sh,
                    p,
                    rule,
                    &inp,
                    pd.deadline,
                    Hit {
                        limit: Some(limit_ms),
                        ..Hit::default()
                    },
                    None,
                    out,
                );
            }
            TimerKind::MaxOpen {
                rule_uid,
                key: k,
                trace_seq,
            } => {
                let Some(ks) = p.keys.get(&k).copied() else {
                    continue;
                };
                if ks.trace_start == CLOSED || ks.trace_seq != trace_seq {
                    continue;
                }
                let Some(rule) = c.rule(rule_uid) else {
                    continue;
                };
                let Condition::MaxOpenMs { limit_ms } = rule.def.condition else {
                    continue;
                };
                let inp = timer_input(
                    Trigger::TraceStart,
                    t.deadline,
                    (k >> 32) as Sym,
                    k as Sym,
                    ks.trace_done,
                );
                sh.stats.timers_fired += 1;
                let h = Hit {
                    value: Some((now - ks.trace_start) as f64),
                    limit: Some(limit_ms),
                    ..Hit::default()
                };
                emit(sh, p, rule, &inp, t.deadline, h, None, out);
            }
            TimerKind::Silence { rule_uid } => {
                let Some(rule) = c.rule(rule_uid) else {
                    continue;
                };
                let Condition::SilenceSeconds { limit_ms, seconds } = rule.def.condition else {
                    continue;
                };
                let Some(w) = p
                    .silences
                    .iter_mut()
                    .find(|w| w.rule_uid == rule_uid && w.armed)
                else {
                    continue;
                };
                let actual = deadline(p.last_ts, limit_ms);
                if actual > t.deadline {
                    // The process spoke since: the deadline moved, in the order of that signal.
                    sh.timers.arm_at(actual, w.seq, t.slot, t.run, t.kind);
                    continue;
                }
                w.armed = false; // once per silence; the next signal re-arms
                let inp = timer_input(
                    Trigger::ProcessStart,
                    actual,
                    p.name,
                    NONE,
                    p.steps_done_count(),
                );
                sh.stats.timers_fired += 1;
                let h = Hit {
                    value: Some((now - p.last_ts) as f64 / 1000.0),
                    limit: Some(seconds),
                    ..Hit::default()
                };
                emit(sh, p, rule, &inp, actual, h, None, out);
            }
            TimerKind::Runtime { rule_uid } => {
                if p.runtime_fired.contains(&rule_uid) {
                    continue;
                }
                let Some(rule) = c.rule(rule_uid) else {
                    continue;
                };
                let Condition::RuntimeExceeded { limit_ms } = rule.def.condition else {
                    continue;
                };
                p.runtime_fired.push(rule_uid);
                let inp = timer_input(
                    rule.def.trigger,
                    t.deadline,
                    p.name,
                    NONE,
                    p.steps_done_count(),
                );
                sh.stats.timers_fired += 1;
                let h = Hit {
                    value: Some((now - p.start_ts) as f64),
                    limit: Some(limit_ms),
                    ..Hit::default()
                };
                emit(sh, p, rule, &inp, t.deadline, h, None, out);
            }
        }
    }
}

fn timer_input(trigger: Trigger, ts: i64, action: Sym, context: Sym, count: u64) -> Input {
    Input {
        trigger,
        ts,
        action,
        context,
        key: key(action, context),
        count,
        used_ms: None,
        gap_ms: None,
        sample: None,
        trace_seq: 0,
    }
}

/// Throttles by fingerprint, then builds and appends the alert.
#[allow(clippy::too_many_arguments)]
fn emit(
    sh: &mut Shared,
    p: &Proc,
    rule: &RuleRt,
    inp: &Input,
    signal_ts: i64,
    h: Hit,
    log: Option<(&str, &str)>,
    out: &mut Vec<Alert>,
) {
    let i = &sh.interner;
    let action = i.name(inp.action);
    let context = (inp.context != NONE).then(|| i.name(inp.context));
    let fp = fingerprint(&rule.meta.group, &rule.id, &p.scope_str, action, context);
    if rule.def.throttle_ms > 0.0 {
        if let Some(&last) = sh.throttle.get(&fp) {
            if ((sh.now - last) as f64) < rule.def.throttle_ms {
                sh.stats.throttled += 1;
                return;
            }
        }
        sh.throttle.insert(fp, sh.now);
    }
    let pred = h.pred.map(|pr| {
        (
            i.name(pr.action),
            Some(i.name(pr.context)).filter(|c| !c.is_empty()),
        )
    });
    let facts = Facts {
        trigger: rule.def.trigger,
        process_id: &p.id,
        process_name: &p.name_str,
        action,
        context,
        value: h.value,
        limit: h.limit,
        baseline: h.baseline,
        pred,
        log,
    };
    let message = explain(&rule.operator, &rule.def.condition, &facts);
    let (action, context) = if rule.def.trigger.is_monitor() {
        (Arc::from(action), context.map(Arc::from))
    } else {
        (Arc::clone(&p.name_str), None)
    };
    sh.stats.alerts += 1;
    out.push(Alert {
        group: Arc::clone(&rule.meta.group),
        rule_set: Arc::clone(&rule.meta.name),
        rule_set_version: rule.meta.version.clone(),
        rule_id: Arc::clone(&rule.id),
        trigger: rule.def.trigger,
        operator: Arc::clone(&rule.operator),
        severity: rule.def.severity,
        handler: Arc::clone(&rule.handler),
        process: Arc::clone(&p.id),
        process_name: Arc::clone(&p.name_str),
        scope: Arc::clone(&p.scope_str),
        action,
        context,
        action_count: inp.count,
        value: h.value,
        limit: h.limit,
        signal_ts,
        engine_ts: sh.now,
        message,
        fingerprint: fp,
        auto_resolve_ms: rule.def.auto_resolve_ms,
    });
}

/// Case-insensitive substring search; `needle` is already lower-case. Allocation-free for ASCII.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

#[cfg(test)]
mod tests {
    use super::contains_ci;

    #[test]
    fn contains_ci_ascii_and_unicode() {
        assert!(contains_ci("Teil KAPUTT", "kaputt"));
        assert!(!contains_ci("alles gut", "kaputt"));
        assert!(
            contains_ci("GRÖSSE überschritten", "größe")
                || contains_ci("GRÖSSE überschritten", "grösse")
        );
        assert!(contains_ci("Fehler rg_lc_TEXT", "rg_lc_text"));
    }
}
