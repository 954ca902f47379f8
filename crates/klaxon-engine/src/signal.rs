//! The signal model of the event-rules engine (process runs, marks, traces, logs; docs/signals.md)
//! and metric samples as Rust types.
//! Owns no parsing (see `wire`) and no state (see `engine` and `threshold`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One input to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Sender's time in epoch milliseconds; `None` takes the current engine time.
    pub ts: Option<i64>,
    /// The process (run) id. Empty only for a `process_start` whose id the caller must generate.
    pub process: String,
    /// Process name; used when this signal opens a run (explicitly or implicitly).
    pub name: Option<String>,
    /// Rule-set group the process belongs to; `None` means every active group evaluates it.
    pub group: Option<String>,
    /// Baseline (and fingerprint) scope; `#NONE` makes both local to the process run.
    pub baseline_scope: Option<String>,
    /// What happened.
    pub body: Body,
    /// Free data the sender attached; the engine ignores it.
    pub attrs: Option<Map<String, Value>>,
}

/// The kind-specific part of a signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    ProcessStart(ProcessFields),
    ProcessUpdate(ProcessFields),
    ProcessStop(ProcessFields),
    Mark(Monitor),
    TraceStart(Monitor),
    TraceStop(Monitor),
    Log(Log),
    /// A metric sample; threshold rules evaluate it, the event-rules engine ignores it.
    Metric(Metric),
}

/// A metric sample's labels, sorted by name, so that the order they were sent in never matters.
/// An empty value is the same as an absent label (as in Prometheus).
pub type Labels = BTreeMap<String, String>;

/// One metric sample: a value of the series (name, labels) at the signal's `ts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub labels: Labels,
    /// Finite; the wire form rejects anything else and the threshold engine ignores it.
    pub value: f64,
}

/// Fields a process signal may carry; every field is optional and sticky once given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessFields {
    pub status: Option<i64>,
    pub info: Option<String>,
    pub steps_todo: Option<i64>,
    pub steps_done: Option<i64>,
    /// Added to `steps_done` after `steps_done` is applied (`true` on the wire is 1).
    pub step_done: Option<i64>,
}

/// A mark or a trace start/stop: the metric key is (process, action, context).
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    pub action: String,
    /// `None` is the missing context, distinct from every named one (`""` on the wire is `None`).
    pub context: Option<String>,
}

/// A log line of a process.
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub level: Level,
    pub message: String,
}

/// Log levels, as signals name them (docs/signals.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Error,
    Warn,
    Monitor,
    Info,
    Debug,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Error,
        Level::Warn,
        Level::Monitor,
        Level::Info,
        Level::Debug,
    ];

    /// Parses a level name case-insensitively.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Monitor => "MONITOR",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

/// The rule trigger a signal fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    ProcessStart,
    ProcessUpdate,
    ProcessStop,
    MarkEvent,
    TraceStart,
    TraceStop,
    Logging,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::ProcessStart,
        Trigger::ProcessUpdate,
        Trigger::ProcessStop,
        Trigger::MarkEvent,
        Trigger::TraceStart,
        Trigger::TraceStop,
        Trigger::Logging,
    ];

    /// Parses a trigger name case-insensitively.
    pub fn parse(s: &str) -> Option<Trigger> {
        Trigger::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::ProcessStart => "PROCESS_START",
            Trigger::ProcessUpdate => "PROCESS_UPDATE",
            Trigger::ProcessStop => "PROCESS_STOP",
            Trigger::MarkEvent => "MARK_EVENT",
            Trigger::TraceStart => "TRACE_START",
            Trigger::TraceStop => "TRACE_STOP",
            Trigger::Logging => "LOGGING",
        }
    }

    /// Monitor triggers are those of marks and traces.
    pub fn is_monitor(self) -> bool {
        matches!(
            self,
            Trigger::MarkEvent | Trigger::TraceStart | Trigger::TraceStop
        )
    }

    /// Process triggers are those of process start, update and stop.
    pub fn is_process(self) -> bool {
        matches!(
            self,
            Trigger::ProcessStart | Trigger::ProcessUpdate | Trigger::ProcessStop
        )
    }
}

impl Body {
    /// The trigger this body fires; `None` for a metric sample, which fires no event rule.
    pub fn trigger(&self) -> Option<Trigger> {
        Some(match self {
            Body::ProcessStart(_) => Trigger::ProcessStart,
            Body::ProcessUpdate(_) => Trigger::ProcessUpdate,
            Body::ProcessStop(_) => Trigger::ProcessStop,
            Body::Mark(_) => Trigger::MarkEvent,
            Body::TraceStart(_) => Trigger::TraceStart,
            Body::TraceStop(_) => Trigger::TraceStop,
            Body::Log(_) => Trigger::Logging,
            Body::Metric(_) => return None,
        })
    }

    /// The wire name of this kind (`"kind"` in JSON).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Body::ProcessStart(_) => "process_start",
            Body::ProcessUpdate(_) => "process_update",
            Body::ProcessStop(_) => "process_stop",
            Body::Mark(_) => "mark",
            Body::TraceStart(_) => "trace_start",
            Body::TraceStop(_) => "trace_stop",
            Body::Log(_) => "log",
            Body::Metric(_) => "metric",
        }
    }
}

impl Signal {
    /// A signal with only the required fields set; handy for callers and tests.
    pub fn new(process: impl Into<String>, ts: Option<i64>, body: Body) -> Signal {
        Signal {
            ts,
            process: process.into(),
            name: None,
            group: None,
            baseline_scope: None,
            body,
            attrs: None,
        }
    }

    /// A mark of `action` with an optional context.
    pub fn mark(process: &str, ts: i64, action: &str, context: Option<&str>) -> Signal {
        Signal::new(process, Some(ts), Body::Mark(Monitor::new(action, context)))
    }
}

impl Monitor {
    pub fn new(action: &str, context: Option<&str>) -> Monitor {
        Monitor {
            action: action.to_owned(),
            context: context.filter(|c| !c.is_empty()).map(str::to_owned),
        }
    }
}
