//! A small script language that drives the lifecycle with a fake clock and prints every
//! answer, write and published change, so a scenario reads as what happened. Every write is
//! applied to `Model` (`model.rs`), a stand-in for the store that refuses what the store would refuse (a
//! transition from a state the alert is not in, an illegal one), and after every batch the
//! states the lifecycle holds must be the states the model holds.
//!
//! One line per step: `<time> <command> <args>` (times are offsets from `T0`: `0`, `500ms`,
//! `90s`, `5m`, `1h30m`). A line starting with `&` joins the previous step's batch (so
//! occurrences fold); every other line is a batch of its own, rendered then cleared.
//! Configuration lines come first, without a time: `config`, `window`, `inhibit`.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_engine::lifecycle::{
    key::label_key, Act, Answer, Detail, Effects, Input, Labelled, Lifecycle, Mute, NoiseConfig,
    Refusal, Resend, Restored, Settings, Source, State, Write,
};
use klaxon_engine::matcher::{parse_filter, parse_filter_parts};
use klaxon_engine::noise::{
    FlapSettings, InhibitRule, MaintenanceWindow, MatcherSpec, Schedule, Silence, Windows,
};
use klaxon_engine::threshold::{Aggregation, Operator, ThresholdEvent, ThresholdEventKind};
use klaxon_engine::Alert;
use klaxon_engine::Severity;
use klaxon_engine::Trigger;

use crate::lifecycle::model::Model;

/// 2023-11-14T22:13:20.000Z.
pub(crate) const T0: i64 = 1_700_000_000_000;
const SEED: u64 = 42;

/// Runs a script and returns its trace.
pub(crate) fn run(script: &str) -> String {
    let mut s = Script::default();
    for line in script.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            s.end_batch();
            s.say(line);
            continue;
        }
        let (joined, line) = match line.strip_prefix('&') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        if !joined {
            s.end_batch();
        }
        s.step(line);
    }
    s.end_batch();
    s.out
}

/// A duration or an offset: `0`, `500ms`, `90s`, `5m`, `2h`, `1h30m`, `-1s`.
pub(crate) fn dur(s: &str) -> i64 {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mut total, mut num) = (0i64, String::new());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().unwrap_or_else(|_| panic!("bad duration {s}"));
        num.clear();
        total += match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                n
            }
            's' => n * 1000,
            'm' => n * 60_000,
            'h' => n * 3_600_000,
            'd' => n * 86_400_000,
            _ => panic!("bad duration {s}"),
        };
    }
    if !num.is_empty() {
        total += num
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("bad duration {s}"));
    }
    if neg {
        -total
    } else {
        total
    }
}

/// An instant as an offset from `T0`, in the largest unit that divides it.
pub(crate) fn t(at: i64) -> String {
    match at {
        i64::MAX => return "never".into(),
        i64::MIN => return "at once".into(),
        _ => {}
    }
    let d = at - T0;
    let (sign, mut a) = if d < 0 { ("-", -d) } else { ("", d) };
    if a == 0 {
        return "0".into();
    }
    let mut s = sign.to_owned();
    for (unit, ms) in [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
        if a >= ms {
            s.push_str(&format!("{}{unit}", a / ms));
            a %= ms;
        }
    }
    s
}

/// Splits on whitespace outside double quotes; quotes are removed.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut quoted, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// `a=1,b=2` as labels.
fn labels(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or_else(|| panic!("bad label {p}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The options (`key=value`) and the other arguments of a command.
struct Args {
    plain: Vec<String>,
    opts: BTreeMap<String, String>,
}

impl Args {
    fn new(words: &[String], option_keys: &[&str]) -> Args {
        let mut plain = Vec::new();
        let mut opts = BTreeMap::new();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) if option_keys.contains(&k) => {
                    opts.insert(k.to_owned(), v.to_owned());
                }
                _ => plain.push(w.clone()),
            }
        }
        Args { plain, opts }
    }

    fn opt(&self, k: &str) -> Option<&str> {
        self.opts.get(k).map(String::as_str)
    }

    fn arg(&self, i: usize) -> &str {
        self.plain.get(i).map_or("", String::as_str)
    }
}

#[derive(Default)]
struct Config {
    settings: Settings,
    windows: Vec<MaintenanceWindow>,
    inhibit: Vec<InhibitRule>,
    flapping: Option<FlapSettings>,
    notice: Option<i64>,
}

#[derive(Default)]
struct Script {
    cfg: Config,
    lc: Option<Lifecycle>,
    fx: Effects,
    model: Model,
    /// Silence ids in the order they appeared, shown as `$1`, `$2`, …
    silences: Vec<String>,
    /// Event rules' `auto_resolve_seconds`, by rule, as the active rules would say at start.
    rule_auto: BTreeMap<String, i64>,
    now: i64,
    out: String,
}

impl Script {
    fn lc(&mut self) -> &mut Lifecycle {
        if self.lc.is_none() {
            self.lc = Some(self.fresh());
        }
        self.lc.as_mut().expect("built")
    }

    fn fresh(&self) -> Lifecycle {
        let noise = NoiseConfig {
            windows: Windows::new(self.cfg.windows.clone()),
            inhibit: self.cfg.inhibit.clone(),
            flapping: self.cfg.flapping.unwrap_or(FlapSettings {
                changes: 0,
                window_ms: 0,
            }),
            notice_before_ms: self.cfg.notice,
        };
        Lifecycle::new(self.cfg.settings, noise, SEED)
    }

    fn say(&mut self, s: impl AsRef<str>) {
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }

    fn sid(&mut self, id: &str) -> String {
        let n = match self.silences.iter().position(|s| s == id) {
            Some(i) => i + 1,
            None => {
                self.silences.push(id.to_owned());
                self.silences.len()
            }
        };
        format!("${n}")
    }

    fn silence_id(&self, name: &str) -> String {
        let n: usize = name
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("silences are named $1, $2, …: {name}"));
        self.silences
            .get(n - 1)
            .cloned()
            .unwrap_or_else(|| format!("unknown-{n}"))
    }

    fn end_batch(&mut self) {
        let writes = std::mem::take(&mut self.fx.writes);
        let changes = std::mem::take(&mut self.fx.changes);
        for w in &writes {
            self.model.apply(w);
            let line = self.write(w);
            self.say(format!("  write {line}"));
        }
        for c in &changes {
            let line = self.change(c);
            self.say(format!("  publish {line}"));
        }
        self.fx.writes = writes;
        self.fx.changes = changes;
        self.fx.clear();
        // What the lifecycle holds is what the store holds.
        if let Some(lc) = &self.lc {
            for (id, a) in &self.model.open {
                assert_eq!(
                    lc.state_of(*id),
                    Some(a.state),
                    "#{id}: RAM and store differ"
                );
            }
            assert_eq!(lc.stats().alerts, self.model.open.len(), "held alerts");
        }
    }

    fn step(&mut self, line: &str) {
        let words = tokens(line);
        match words[0].as_str() {
            "config" | "window" | "inhibit" => {
                assert!(self.lc.is_none(), "configure before the first input");
                self.configure(&words);
                return;
            }
            _ => {}
        }
        self.now = T0 + dur(&words[0]);
        self.say(format!("> {line}"));
        let cmd = words[1].as_str();
        let rest = &words[2..];
        match cmd {
            "fire" => self.fire(rest),
            "am" | "api" => self.labelled(cmd, rest),
            "th" => self.threshold(rest),
            "resend" => self.resend(rest),
            "ack" | "resolve" | "close" | "unsuppress" | "suppress" => self.act(cmd, rest),
            "note" | "assign" => self.note(cmd, rest),
            "silence" => self.silence(rest),
            "expire" => {
                let id = self.silence_id(&rest[0]);
                let now = self.now;
                let mut fx = std::mem::take(&mut self.fx);
                let a = self.lc().apply(now, Input::ExpireSilence(&id), &mut fx);
                self.fx = fx;
                self.answer(&a);
            }
            "tick" => {
                let now = self.now;
                let mut fx = std::mem::take(&mut self.fx);
                self.lc().advance(now, &mut fx);
                self.fx = fx;
            }
            "flush" => {
                let mut fx = std::mem::take(&mut self.fx);
                self.lc().flush(&mut fx);
                self.fx = fx;
            }
            "deadline" => {
                let d = self.lc().next_deadline();
                self.say(format!("  = next deadline {}", d.map_or("none".into(), t)));
            }
            "explain" => self.explain(rest),
            "restart" => self.restart(),
            other => panic!("unknown command {other}"),
        }
    }

    fn configure(&mut self, w: &[String]) {
        match w[0].as_str() {
            "config" => {
                let a = Args::new(
                    &w[1..],
                    &["reopen", "close", "rule_auto", "timeout", "flap", "notice"],
                );
                let s = &mut self.cfg.settings;
                if let Some(v) = a.opt("reopen") {
                    s.reopen_window_ms = dur(v);
                }
                if let Some(v) = a.opt("close") {
                    s.close_after_ms = dur(v);
                }
                if let Some(v) = a.opt("rule_auto") {
                    s.rule_auto_resolve_ms = Some(dur(v));
                }
                if let Some(v) = a.opt("timeout") {
                    s.resolve_timeout_ms = dur(v);
                }
                if let Some((n, w)) = a.opt("flap").and_then(|v| v.split_once('/')) {
                    self.cfg.flapping = Some(FlapSettings {
                        changes: n.parse().expect("a count"),
                        window_ms: dur(w),
                    });
                }
                self.cfg.notice = a.opt("notice").map(dur);
            }
            "window" => {
                let a = Args::new(&w[1..], &["match"]);
                self.cfg.windows.push(MaintenanceWindow {
                    name: a.arg(0).to_owned(),
                    matchers: a
                        .opt("match")
                        .map(|m| parse_filter(&format!("{{{m}}}")).expect("matchers"))
                        .unwrap_or_default(),
                    schedule: Schedule::Once {
                        start: T0 + dur(a.arg(1)),
                        end: T0 + dur(a.arg(2)),
                    },
                });
            }
            _ => {
                let a = Args::new(&w[1..], &["source", "target", "equal", "route"]);
                let m = |k: &str| {
                    parse_filter(&format!("{{{}}}", a.opt(k).unwrap_or(""))).expect("matchers")
                };
                self.cfg.inhibit.push(InhibitRule {
                    name: a.arg(0).to_owned(),
                    source: m("source"),
                    target: m("target"),
                    equal: a
                        .opt("equal")
                        .map(|e| e.split(',').map(str::to_owned).collect())
                        .unwrap_or_default(),
                    route: a.opt("route").map(str::to_owned),
                });
            }
        }
    }

    fn fire(&mut self, w: &[String]) {
        let a = Args::new(w, &["msg", "sev", "auto", "value", "scope"]);
        let rule = a.arg(0).to_owned();
        let scope = a.opt("scope").unwrap_or("s");
        let sev = match a.opt("sev").unwrap_or("high") {
            "critical" => Severity::Critical,
            "medium" => Severity::Medium,
            "low" => Severity::Low,
            "info" => Severity::Info,
            _ => Severity::High,
        };
        let auto = a.opt("auto").map(dur);
        if let Some(ms) = auto {
            self.rule_auto.insert(rule.clone(), ms);
        }
        let alert = Alert {
            group: Arc::from("g"),
            rule_set: Arc::from("set"),
            rule_set_version: None,
            rule_id: Arc::from(rule.as_str()),
            trigger: Trigger::MarkEvent,
            operator: Arc::from("COUNT_GT"),
            severity: sev,
            handler: Arc::from("LOG"),
            process: Arc::from("p1"),
            process_name: Arc::from("proc"),
            scope: Arc::from(scope),
            action: Arc::from("a"),
            context: None,
            action_count: 1,
            value: a.opt("value").map(|v| v.parse().expect("a number")),
            limit: None,
            signal_ts: self.now,
            engine_ts: self.now,
            message: a
                .opt("msg")
                .map_or_else(|| format!("{rule} fired"), str::to_owned),
            fingerprint: klaxon_engine::fingerprint("g", &rule, scope, "a", None),
            auto_resolve_ms: auto.map(|ms| ms as f64),
        };
        let now = self.now;
        let mut fx = std::mem::take(&mut self.fx);
        let ans = self.lc().apply(now, Input::Fired(&alert), &mut fx);
        self.fx = fx;
        self.answer(&ans);
    }

    /// `am|api <labels> [summary=] [ends=] [sev=]`: the severity is the label's, else
    /// `warning`; the annotations are `{summary}`.
    fn labelled(&mut self, cmd: &str, w: &[String]) {
        let a = Args::new(w, &["summary", "ends", "sev"]);
        let labels = labels(a.arg(0));
        let l = self.labelled_of(
            if cmd == "am" {
                Source::Alertmanager
            } else {
                Source::Api
            },
            labels,
            &a,
        );
        let now = self.now;
        let mut fx = std::mem::take(&mut self.fx);
        let ans = self.lc().apply(now, Input::Labelled(&l), &mut fx);
        self.fx = fx;
        self.answer(&ans);
    }

    fn labelled_of(&self, source: Source, labels: BTreeMap<String, String>, a: &Args) -> Labelled {
        let (severity, summary, annotations) = content(&labels, a);
        Labelled {
            ends_at: a.opt("ends").map(|e| T0 + dur(e)),
            ..Labelled::of_labels(source, labels, annotations, (&severity, &summary), self.now)
        }
    }

    /// `th <pending|firing|resolved|cancelled> <labels> [summary=] [windows=a,b]`: a threshold
    /// rule `cpu` on metric `cpu_usage` of the series with these labels.
    fn threshold(&mut self, w: &[String]) {
        let a = Args::new(w, &["summary", "windows"]);
        let kind = match a.arg(0) {
            "pending" => ThresholdEventKind::Pending,
            "firing" => ThresholdEventKind::Firing,
            "resolved" => ThresholdEventKind::Resolved,
            _ => ThresholdEventKind::Cancelled,
        };
        let labels = labels(a.arg(1));
        let fingerprint = klaxon_engine::threshold::threshold_fingerprint(
            "g",
            "cpu",
            "cpu_usage",
            labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let ev = ThresholdEvent {
            kind,
            group: Arc::from("g"),
            rule_set: Arc::from("th"),
            rule_set_version: None,
            rule_id: Arc::from("cpu"),
            rule_name: Arc::from("CPU high"),
            description: None,
            metric: Arc::from("cpu_usage"),
            labels,
            aggregation: Aggregation::Avg,
            window_ms: 60_000,
            value: Some(95.0),
            threshold: 90.0,
            operator: Operator::GreaterThan,
            severity: Severity::High,
            fingerprint,
            since: self.now,
            at: self.now,
            message: a.opt("summary").unwrap_or("cpu above 90").to_owned(),
            notification_channels: Arc::from(Vec::new()),
            escalation_policy: None,
            suppression_rules: a
                .opt("windows")
                .map(|w| w.split(',').map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default()
                .into(),
        };
        let now = self.now;
        let mut fx = std::mem::take(&mut self.fx);
        let ans = self.lc().apply(now, Input::Threshold(&ev), &mut fx);
        self.fx = fx;
        self.answer(&ans);
    }

    /// `resend <labels>[|summary] … [ends=]`: one request of resends reduced to numbers.
    fn resend(&mut self, w: &[String]) {
        let a = Args::new(w, &["ends"]);
        let keys = self.lc().content_keys();
        let ends_at = a.opt("ends").map(|e| T0 + dur(e));
        let resends: Vec<Resend> = a
            .plain
            .iter()
            .map(|spec| {
                let (l, summary) = spec.split_once('|').unwrap_or((spec, ""));
                let labels = labels(l);
                let mut opts = Args::new(&[], &[]);
                if !summary.is_empty() {
                    opts.opts.insert("summary".into(), summary.into());
                }
                let (severity, summary, annotations) = content(&labels, &opts);
                Resend {
                    fingerprint: label_key(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    content: keys.key_of(&severity, &summary, &annotations),
                    ends_at,
                }
            })
            .collect();
        let now = self.now;
        let mut fx = std::mem::take(&mut self.fx);
        let ans = self.lc().apply(now, Input::Resends(&resends), &mut fx);
        self.fx = fx;
        self.answer(&ans);
    }

    fn act(&mut self, cmd: &str, w: &[String]) {
        let a = Args::new(w, &["by", "reason"]);
        let id = alert_id(a.arg(0));
        let act = match cmd {
            "ack" => Act::Acknowledge,
            "resolve" => Act::Resolve,
            "close" => Act::Close,
            "unsuppress" => Act::Unsuppress,
            _ => Act::Suppress {
                until: self.now + dur(a.arg(1)),
            },
        };
        let actor = a.opt("by").unwrap_or("alice").to_owned();
        let reason = a
            .opt("reason")
            .map_or_else(|| format!("{cmd} by {actor}"), str::to_owned);
        self.until_held(id, |stored| Input::Act {
            id,
            act,
            actor: &actor,
            reason: &reason,
            stored,
        });
    }

    /// Applies an input about alert `id`; told the alert is not held, does the shell's part:
    /// asks the store for its state and applies the input again with it.
    fn until_held<'a>(&mut self, id: i64, input: impl Fn(Option<State>) -> Input<'a>) {
        let mut stored = None;
        loop {
            let now = self.now;
            let mut fx = std::mem::take(&mut self.fx);
            let ans = self.lc().apply(now, input(stored), &mut fx);
            self.fx = fx;
            self.answer(&ans);
            let not_held = matches!(
                ans,
                Answer::Act(Err(Refusal::NotHeld)) | Answer::Unit(Err(Refusal::NotHeld))
            );
            if !not_held {
                return;
            }
            match self.model.state(id) {
                Some(s) => stored = Some(s),
                None => return self.say("  = 404 (the store has none either)"),
            }
        }
    }

    fn note(&mut self, cmd: &str, w: &[String]) {
        let id = alert_id(&w[0]);
        let text = w[1..].join(" ");
        let assignee = (text != "-").then_some(text.as_str());
        if cmd == "note" {
            self.until_held(id, |stored| Input::Note {
                id,
                author: "bob",
                text: &text,
                stored,
            });
        } else {
            self.until_held(id, |stored| Input::Assign {
                id,
                actor: "bob",
                assignee,
                stored,
            });
        }
    }

    /// `silence <matchers> [from=] to= [by=] [comment=] [id=$n]`.
    fn silence(&mut self, w: &[String]) {
        let a = Args::new(w, &["from", "to", "by", "comment", "id"]);
        let matchers = parse_filter_parts(&format!("{{{}}}", a.arg(0)))
            .expect("matchers")
            .into_iter()
            .map(|m| MatcherSpec {
                name: m.name,
                value: m.value,
                is_regex: m.op.contains('~'),
                is_equal: !m.op.starts_with('!'),
            })
            .collect();
        let s = Silence {
            id: a.opt("id").map(|n| self.silence_id(n)).unwrap_or_default(),
            matchers,
            starts_at: a.opt("from").map_or(self.now, |f| T0 + dur(f)),
            ends_at: T0 + dur(a.opt("to").expect("to=")),
            created_by: a.opt("by").unwrap_or("ops").to_owned(),
            comment: a.opt("comment").unwrap_or("maintenance").to_owned(),
            updated_at: self.now,
        };
        let now = self.now;
        let mut fx = std::mem::take(&mut self.fx);
        let ans = self.lc().apply(now, Input::UpsertSilence(&s), &mut fx);
        self.fx = fx;
        self.answer(&ans);
    }

    fn explain(&mut self, w: &[String]) {
        let id = alert_id(&w[0]);
        let now = self.now;
        let Some(e) = self.lc().explain(now, id) else {
            return self.say("  = not held");
        };
        let suppressed = match &e.suppressed {
            Some(klaxon_engine::lifecycle::Suppressed::Silence {
                id,
                until,
                comment,
                created_by,
                matchers,
            }) => {
                let sid = self.sid(id);
                format!(
                    "silence {sid} until {} ({} by {}; {})",
                    until.map_or("-".into(), t),
                    comment.as_deref().unwrap_or("-"),
                    created_by.as_deref().unwrap_or("-"),
                    matchers.join(",")
                )
            }
            Some(klaxon_engine::lifecycle::Suppressed::Maintenance { window, until }) => {
                format!("maintenance {window} until {}", until.map_or("-".into(), t))
            }
            Some(klaxon_engine::lifecycle::Suppressed::Manual { until }) => {
                format!("by hand until {}", until.map_or("-".into(), t))
            }
            None => "no".into(),
        };
        let inhibited: Vec<String> = e
            .inhibited
            .iter()
            .map(|i| {
                format!(
                    "#{} via {}{}",
                    i.source,
                    i.rule,
                    i.route
                        .as_deref()
                        .map_or(String::new(), |r| format!(" on {r}"))
                )
            })
            .collect();
        let f = e.flapping;
        self.say(format!(
            "  = {} n={} last={} ends={}; suppressed: {suppressed}; inhibited: [{}]; flapping: {} ({} changes, limit {:?}, stable at {})",
            e.state,
            e.occurrences,
            t(e.last_seen),
            e.ends_at.map_or("-".into(), t),
            inhibited.join(", "),
            f.flapping,
            f.changes,
            f.limit,
            f.stable_at.map_or("-".into(), t),
        ));
    }

    /// A new lifecycle from what the store holds (timers re-armed; the first `tick` looks at
    /// every alert again).
    fn restart(&mut self) {
        let mut lc = self.fresh();
        let alerts: Vec<Restored> = self
            .model
            .open
            .values()
            .cloned()
            .map(|mut r| {
                if r.source == Source::Rule {
                    r.auto_resolve_ms = r
                        .labels
                        .get("alertname")
                        .and_then(|n| self.rule_auto.get(n))
                        .copied();
                }
                r
            })
            .collect();
        let refused = lc.restore(
            self.model.max_id,
            alerts,
            self.model.silences.values().cloned(),
        );
        assert!(refused.is_empty(), "stored silences refused: {refused:?}");
        self.lc = Some(lc);
        let d = self.lc().next_deadline();
        self.say(format!(
            "  = restored; next deadline {}",
            d.map_or("none".into(), t)
        ));
    }

    fn answer(&mut self, a: &Answer) {
        let s = match a {
            Answer::Firing {
                id: Some(id),
                quiet,
            } => {
                format!("#{id}{}", if *quiet { " quiet" } else { "" })
            }
            Answer::Firing { id: None, .. } => "nothing".into(),
            Answer::Taken(v) => format!(
                "taken [{}]",
                v.iter()
                    .map(|b| if *b { "yes" } else { "no" })
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Answer::Act(Ok(d)) => format!("done #{} {} -> {}", d.id, d.from, d.to),
            Answer::Act(Err(r)) | Answer::Unit(Err(r)) => refusal(r),
            Answer::Unit(Ok(())) => "ok".into(),
            Answer::Silence(Ok(id)) => {
                let sid = self.sid(id);
                format!("silence {sid}")
            }
            Answer::Silence(Err(e)) => format!("refused {e:?}"),
        };
        self.say(format!("  = {s}"));
    }

    fn write(&mut self, w: &Write) -> String {
        match w {
            Write::Insert {
                alert,
                actor,
                reason,
                occurrence,
            } => format!(
                "insert #{} {} {} {} sev={} \"{}\" by {actor}: {reason} (occurrence {}{})",
                alert.id,
                alert.name,
                alert.source.as_str(),
                alert.state,
                alert.severity,
                alert.message,
                t(occurrence.at),
                alert
                    .ends_at
                    .map_or(String::new(), |e| format!(", ends {}", t(e))),
            ),
            Write::Occur(o) => format!(
                "occur #{} n={} last={} sev={} \"{}\"{} {} (occurrence {}{})",
                o.id,
                o.occurrences,
                t(o.at),
                o.severity,
                o.summary,
                o.ends_at
                    .map_or(String::new(), |e| format!(" ends={}", t(e))),
                if o.log { "logged" } else { "not logged" },
                t(o.occurrence.at),
                o.occurrence
                    .value
                    .map_or(String::new(), |v| format!(" value {v}")),
            ),
            Write::Transition(tr) => {
                let hold = match (&tr.by, tr.until) {
                    (Some(b), Some(u)) => format!(" [{} until {}]", self.by(b), t(u)),
                    (None, Some(u)) => format!(" [until {}]", t(u)),
                    _ => String::new(),
                };
                let reason = self.ids_in(&tr.reason);
                format!(
                    "transition #{} {} -> {} by {}: {reason}{hold}",
                    tr.id, tr.from, tr.to, tr.actor
                )
            }
            Write::Silence(s) => {
                let sid = self.sid(&s.id);
                let m: Vec<String> = s.matchers.iter().map(MatcherSpec::display).collect();
                format!(
                    "silence {sid} {{{}}} {}..{} by {}: {}",
                    m.join(","),
                    t(s.starts_at),
                    t(s.ends_at),
                    s.created_by,
                    s.comment
                )
            }
            Write::Note(n) => format!("note #{} ({}) by {}: {}", n.id, n.state, n.author, n.text),
            Write::Assign(a) => format!(
                "assign #{} ({}) to {} by {}",
                a.id,
                a.state,
                a.assignee.as_deref().unwrap_or("nobody"),
                a.actor
            ),
        }
    }

    fn by(&mut self, b: &klaxon_engine::lifecycle::Suppressor) -> String {
        match b {
            klaxon_engine::lifecycle::Suppressor::Silence(id) => {
                let sid = self.sid(id);
                format!("silence:{sid}")
            }
            klaxon_engine::lifecycle::Suppressor::Maintenance(w) => format!("maintenance:{w}"),
        }
    }

    /// Text with the known silence ids replaced by their names.
    fn ids_in(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for (i, id) in self.silences.iter().enumerate() {
            s = s.replace(id.as_str(), &format!("${}", i + 1));
        }
        s
    }

    fn mute(&mut self, m: Option<&Arc<Mute>>) -> String {
        let Some(m) = m else {
            return String::new();
        };
        let mut parts = Vec::new();
        if let Some(i) = &m.inhibited {
            parts.push(format!("inhibited by #{} via {}", i.source, i.rule));
        }
        if let Some(s) = &m.suppressed {
            let by = s.by.as_ref().map_or("hand".into(), |b| self.by(b));
            parts.push(format!(
                "suppressed by {by} until {}",
                s.until.map_or("-".into(), t)
            ));
        }
        if let Some(f) = m.flapping_until {
            parts.push(format!("flapping until {}", t(f)));
        }
        for i in &m.routes {
            parts.push(format!(
                "on {}: inhibited by #{} via {}",
                i.route.as_deref().unwrap_or("?"),
                i.source,
                i.rule
            ));
        }
        format!(" [{}]", parts.join("; "))
    }

    fn change(&mut self, c: &klaxon_engine::lifecycle::Change) -> String {
        let mute = self.mute(c.mute.as_ref());
        let what = match &c.detail {
            Detail::Created(_) => String::new(),
            Detail::Occurrence {
                occurrences,
                last_seen,
                ..
            } => format!(" n={occurrences} last={}", t(*last_seen)),
            Detail::Transition(tr) => format!(" {}->{}", tr.from, tr.to),
            Detail::Note(_) | Detail::Assigned(_) => String::new(),
            Detail::Muted => {
                if c.mute.is_none() {
                    " [nothing]".into()
                } else {
                    String::new()
                }
            }
            Detail::Notice(n) => format!(": {} (alerts {:?})", self.ids_in(&n.text), n.alerts),
        };
        format!("{} #{} {}{what}{mute}", c.kind(), c.alert_id, c.state)
    }
}

/// Severity, summary and annotations of a labelled alert as the script builds them.
fn content(
    labels: &BTreeMap<String, String>,
    a: &Args,
) -> (String, String, BTreeMap<String, String>) {
    let severity = a
        .opt("sev")
        .or(labels.get("severity").map(String::as_str))
        .unwrap_or("warning")
        .to_owned();
    let summary = a.opt("summary").map_or_else(
        || {
            format!(
                "{} is firing",
                labels.get("alertname").map_or("?", String::as_str)
            )
        },
        str::to_owned,
    );
    let annotations = [("summary".to_owned(), summary.clone())].into();
    (severity, summary, annotations)
}

fn alert_id(s: &str) -> i64 {
    s.strip_prefix('#')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("alerts are named #1, #2, …: {s}"))
}

fn refusal(r: &Refusal) -> String {
    match r {
        Refusal::NotFound => "404 not found".into(),
        Refusal::NotHeld => "not held: ask the store".into(),
        Refusal::Illegal { current, message } => {
            format!("409 illegal_transition current_state={current}: {message}")
        }
    }
}
