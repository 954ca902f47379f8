//! The JSON wire form of a signal (`docs/signals.md`): one object parsed straight from text or
//! from a `Value` into a [`Signal`], and the canonical form back. Owns no engine state, never
//! reads a clock (a missing `ts` stays `None`); the text path builds no `Value` but `attrs`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Unexpected, Visitor};
use serde_json::{Map, Value};

use crate::signal::{Body, Labels, Level, Log, Metric, Monitor, ProcessFields, Signal};
use crate::timestamp::{self, excerpt, json_type_name};

/// Why a signal was rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignalError {
    /// The offending key (unknown keys included); `None` when the object as a whole is wrong.
    pub field: Option<String>,
    /// Lowercase, says what was expected; JSON syntax errors carry line and column.
    pub message: String,
}

impl SignalError {
    fn at(field: &str, message: impl Into<String>) -> SignalError {
        SignalError {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SignalError {}

/// Parses one signal from the text of one JSON object (e.g. an NDJSON line).
pub fn parse_signal(text: &str) -> Result<Signal, SignalError> {
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = RawSeed {
        failed: &mut failed,
    }
    .deserialize(&mut de)
    .and_then(|raw| de.end().map(|()| raw));
    match raw {
        Ok(raw) => build(raw),
        Err(e) => Err(SignalError {
            field: failed.map(Cow::into_owned),
            message: e.to_string(),
        }),
    }
}

/// Converts one JSON value (e.g. an element of a JSON array) into a signal.
pub fn signal_from_value(v: Value) -> Result<Signal, SignalError> {
    let mut failed = None;
    match (RawSeed {
        failed: &mut failed,
    })
    .deserialize(v)
    {
        Ok(raw) => build(raw),
        Err(e) => Err(SignalError {
            field: failed.map(Cow::into_owned),
            message: e.to_string(),
        }),
    }
}

/// The canonical wire form: `ts` as epoch ms, absent fields omitted, `step_done` as an integer.
/// [`parse_signal`] and [`signal_from_value`] give back the same signal for every signal they
/// produce.
pub fn signal_to_value(s: &Signal) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), s.body.kind_name().into());
    if let Some(ts) = s.ts {
        m.insert("ts".into(), ts.into());
    }
    if !s.process.is_empty() {
        m.insert("process".into(), s.process.as_str().into());
    }
    if let Body::Metric(metric) = &s.body {
        m.insert("name".into(), metric.name.as_str().into());
    } else {
        put_str(&mut m, "name", s.name.as_deref());
    }
    put_str(&mut m, "group", s.group.as_deref());
    put_str(&mut m, "baseline_scope", s.baseline_scope.as_deref());
    match &s.body {
        Body::ProcessStart(p) | Body::ProcessUpdate(p) | Body::ProcessStop(p) => {
            put_int(&mut m, "status", p.status);
            put_str(&mut m, "info", p.info.as_deref());
            put_int(&mut m, "steps_todo", p.steps_todo);
            put_int(&mut m, "steps_done", p.steps_done);
            put_int(&mut m, "step_done", p.step_done);
        }
        Body::Mark(mon) | Body::TraceStart(mon) | Body::TraceStop(mon) => {
            m.insert("action".into(), mon.action.as_str().into());
            put_str(&mut m, "context", mon.context.as_deref());
        }
        Body::Log(log) => {
            m.insert("level".into(), log.level.as_str().into());
            m.insert("message".into(), log.message.as_str().into());
        }
        Body::Metric(metric) => {
            let labels: Map<String, Value> = metric
                .labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            if !labels.is_empty() {
                m.insert("labels".into(), Value::Object(labels));
            }
            if let Some(n) = serde_json::Number::from_f64(metric.value) {
                m.insert("value".into(), Value::Number(n));
            }
        }
    }
    if let Some(attrs) = &s.attrs {
        m.insert("attrs".into(), Value::Object(attrs.clone()));
    }
    Value::Object(m)
}

fn put_str(m: &mut Map<String, Value>, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

fn put_int(m: &mut Map<String, Value>, key: &str, v: Option<i64>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

// ---- the flat, borrowed form of one object, filled in a single pass over its keys ----

/// Every key a signal may have, in the order problems are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Kind,
    Ts,
    Process,
    Name,
    Group,
    BaselineScope,
    Action,
    Context,
    Status,
    Info,
    StepsTodo,
    StepsDone,
    StepDone,
    Level,
    Message,
    Attrs,
    Labels,
    Value,
}

impl Field {
    const ALL: [Field; 18] = [
        Field::Kind,
        Field::Ts,
        Field::Process,
        Field::Name,
        Field::Group,
        Field::BaselineScope,
        Field::Action,
        Field::Context,
        Field::Status,
        Field::Info,
        Field::StepsTodo,
        Field::StepsDone,
        Field::StepDone,
        Field::Level,
        Field::Message,
        Field::Attrs,
        Field::Labels,
        Field::Value,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::Ts => "ts",
            Field::Process => "process",
            Field::Name => "name",
            Field::Group => "group",
            Field::BaselineScope => "baseline_scope",
            Field::Action => "action",
            Field::Context => "context",
            Field::Status => "status",
            Field::Info => "info",
            Field::StepsTodo => "steps_todo",
            Field::StepsDone => "steps_done",
            Field::StepDone => "step_done",
            Field::Level => "level",
            Field::Message => "message",
            Field::Attrs => "attrs",
            Field::Labels => "labels",
            Field::Value => "value",
        }
    }

    fn from_name(s: &str) -> Option<Field> {
        Some(match s {
            "kind" => Field::Kind,
            "ts" => Field::Ts,
            "process" => Field::Process,
            "name" => Field::Name,
            "group" => Field::Group,
            "baseline_scope" => Field::BaselineScope,
            "action" => Field::Action,
            "context" => Field::Context,
            "status" => Field::Status,
            "info" => Field::Info,
            "steps_todo" => Field::StepsTodo,
            "steps_done" => Field::StepsDone,
            "step_done" => Field::StepDone,
            "level" => Field::Level,
            "message" => Field::Message,
            "attrs" => Field::Attrs,
            "labels" => Field::Labels,
            "value" => Field::Value,
            _ => return None,
        })
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// Which kinds carry this field, for the message that rejects it elsewhere.
    fn carried_by(self) -> &'static str {
        if PROCESS_FIELDS & self.bit() != 0 {
            "only process_start, process_update and process_stop carry it"
        } else if MONITOR_FIELDS & self.bit() != 0 {
            "only mark, trace_start and trace_stop carry it"
        } else if METRIC_FIELDS & self.bit() != 0 {
            "only metric carries it"
        } else {
            "only log carries it"
        }
    }
}

/// Keys of every kind but `metric`.
const COMMON_FIELDS: u32 = Field::Kind.bit()
    | Field::Ts.bit()
    | Field::Process.bit()
    | Field::Name.bit()
    | Field::Group.bit()
    | Field::BaselineScope.bit()
    | Field::Attrs.bit();
const PROCESS_FIELDS: u32 = Field::Status.bit()
    | Field::Info.bit()
    | Field::StepsTodo.bit()
    | Field::StepsDone.bit()
    | Field::StepDone.bit();
const MONITOR_FIELDS: u32 = Field::Action.bit() | Field::Context.bit();
const LOG_FIELDS: u32 = Field::Level.bit() | Field::Message.bit();
/// A metric sample belongs to no process: it has only these keys.
const METRIC_FIELDS: u32 = Field::Labels.bit() | Field::Value.bit();
const METRIC_ALLOWED: u32 = Field::Kind.bit() | Field::Ts.bit() | Field::Name.bit() | METRIC_FIELDS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ProcessStart,
    ProcessUpdate,
    ProcessStop,
    Mark,
    TraceStart,
    TraceStop,
    Log,
    Metric,
}

const KIND_LIST: &str =
    "process_start, process_update, process_stop, mark, trace_start, trace_stop, log, metric";

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::ProcessStart,
        Kind::ProcessUpdate,
        Kind::ProcessStop,
        Kind::Mark,
        Kind::TraceStart,
        Kind::TraceStop,
        Kind::Log,
        Kind::Metric,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::ProcessStart => "process_start",
            Kind::ProcessUpdate => "process_update",
            Kind::ProcessStop => "process_stop",
            Kind::Mark => "mark",
            Kind::TraceStart => "trace_start",
            Kind::TraceStop => "trace_stop",
            Kind::Log => "log",
            Kind::Metric => "metric",
        }
    }

    /// Case-insensitive, like levels and rule triggers.
    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }

    fn allowed(self) -> u32 {
        match self {
            Kind::ProcessStart | Kind::ProcessUpdate | Kind::ProcessStop => {
                COMMON_FIELDS | PROCESS_FIELDS
            }
            Kind::Mark | Kind::TraceStart | Kind::TraceStop => COMMON_FIELDS | MONITOR_FIELDS,
            Kind::Log => COMMON_FIELDS | LOG_FIELDS,
            Kind::Metric => METRIC_ALLOWED,
        }
    }
}

/// One signal object as written, before per-kind validation. `None` is an absent key or `null`.
#[derive(Default)]
struct Raw<'de> {
    kind: Option<Cow<'de, str>>,
    ts: Option<i64>,
    process: Option<Cow<'de, str>>,
    name: Option<Cow<'de, str>>,
    group: Option<Cow<'de, str>>,
    baseline_scope: Option<Cow<'de, str>>,
    action: Option<Cow<'de, str>>,
    context: Option<Cow<'de, str>>,
    status: Option<i64>,
    info: Option<Cow<'de, str>>,
    steps_todo: Option<i64>,
    steps_done: Option<i64>,
    /// `false` is `Some(0)` here so that it still counts as present.
    step_done: Option<i64>,
    level: Option<Cow<'de, str>>,
    message: Option<Cow<'de, str>>,
    attrs: Option<Map<String, Value>>,
    labels: Option<Labels>,
    value: Option<f64>,
}

impl Raw<'_> {
    /// The fields given a non-null value.
    fn present(&self) -> u32 {
        let flags = [
            (Field::Kind, self.kind.is_some()),
            (Field::Ts, self.ts.is_some()),
            (Field::Process, self.process.is_some()),
            (Field::Name, self.name.is_some()),
            (Field::Group, self.group.is_some()),
            (Field::BaselineScope, self.baseline_scope.is_some()),
            (Field::Action, self.action.is_some()),
            (Field::Context, self.context.is_some()),
            (Field::Status, self.status.is_some()),
            (Field::Info, self.info.is_some()),
            (Field::StepsTodo, self.steps_todo.is_some()),
            (Field::StepsDone, self.steps_done.is_some()),
            (Field::StepDone, self.step_done.is_some()),
            (Field::Level, self.level.is_some()),
            (Field::Message, self.message.is_some()),
            (Field::Attrs, self.attrs.is_some()),
            (Field::Labels, self.labels.is_some()),
            (Field::Value, self.value.is_some()),
        ];
        flags
            .into_iter()
            .filter(|&(_, present)| present)
            .fold(0, |acc, (field, _)| acc | field.bit())
    }
}

/// Per-kind validation and conversion into the engine's type.
fn build(raw: Raw<'_>) -> Result<Signal, SignalError> {
    let kind_text = raw
        .kind
        .as_deref()
        .ok_or_else(|| SignalError::at("kind", format!("missing; expected one of {KIND_LIST}")))?;
    let kind = Kind::parse(kind_text).ok_or_else(|| {
        SignalError::at(
            "kind",
            format!(
                "unknown kind `{}`; expected one of {KIND_LIST}",
                excerpt(kind_text)
            ),
        )
    })?;
    let misplaced = raw.present() & !kind.allowed();
    if let Some(field) = Field::ALL.into_iter().find(|f| misplaced & f.bit() != 0) {
        let why = if kind == Kind::Metric {
            "a metric sample has only kind, ts, name, labels and value"
        } else {
            field.carried_by()
        };
        return Err(SignalError::at(
            field.name(),
            format!("not allowed on `{}` signals; {why}", kind.name()),
        ));
    }

    let Raw {
        kind: _,
        ts,
        process,
        name,
        group,
        baseline_scope,
        action,
        context,
        status,
        info,
        steps_todo,
        steps_done,
        step_done,
        level,
        message,
        attrs,
        labels,
        value,
    } = raw;
    let process = match process {
        // Rejected above as misplaced on a metric sample.
        _ if kind == Kind::Metric => String::new(),
        Some(p) if !p.is_empty() => p.into_owned(),
        _ if kind == Kind::ProcessStart => String::new(),
        Some(_) => return Err(SignalError::at("process", "must not be empty")),
        None => return Err(required(Field::Process, kind)),
    };
    let body = match kind {
        Kind::ProcessStart | Kind::ProcessUpdate | Kind::ProcessStop => {
            let fields = ProcessFields {
                status,
                info: info.map(Cow::into_owned),
                steps_todo,
                steps_done,
                step_done: step_done.filter(|&n| n != 0),
            };
            match kind {
                Kind::ProcessStart => Body::ProcessStart(fields),
                Kind::ProcessUpdate => Body::ProcessUpdate(fields),
                _ => Body::ProcessStop(fields),
            }
        }
        Kind::Mark | Kind::TraceStart | Kind::TraceStop => {
            let action = match action {
                Some(a) if !a.is_empty() => a.into_owned(),
                Some(_) => return Err(SignalError::at("action", "must not be empty")),
                None => return Err(required(Field::Action, kind)),
            };
            let monitor = Monitor {
                action,
                context: non_empty(context),
            };
            match kind {
                Kind::Mark => Body::Mark(monitor),
                Kind::TraceStart => Body::TraceStart(monitor),
                _ => Body::TraceStop(monitor),
            }
        }
        Kind::Log => {
            let level_text = level.ok_or_else(|| required(Field::Level, kind))?;
            let level = Level::parse(&level_text).ok_or_else(|| {
                SignalError::at(
                    "level",
                    format!(
                        "unknown level `{}`; expected one of ERROR, WARN, MONITOR, INFO, DEBUG",
                        excerpt(&level_text)
                    ),
                )
            })?;
            let message = message.ok_or_else(|| required(Field::Message, kind))?;
            Body::Log(Log {
                level,
                message: message.into_owned(),
            })
        }
        Kind::Metric => return metric(ts, name, labels, value),
    };
    Ok(Signal {
        ts,
        process,
        name: non_empty(name),
        group: non_empty(group),
        baseline_scope: non_empty(baseline_scope),
        body,
        attrs,
    })
}

/// A metric sample: `name` and `value` required, labels with empty values dropped.
fn metric(
    ts: Option<i64>,
    name: Option<Cow<'_, str>>,
    labels: Option<Labels>,
    value: Option<f64>,
) -> Result<Signal, SignalError> {
    let name = match name {
        Some(n) if !n.is_empty() => n.into_owned(),
        Some(_) => return Err(SignalError::at("name", "must not be empty")),
        None => return Err(required(Field::Name, Kind::Metric)),
    };
    let value = value.ok_or_else(|| required(Field::Value, Kind::Metric))?;
    let mut labels = labels.unwrap_or_default();
    labels.retain(|_, v| !v.is_empty());
    Ok(Signal {
        ts,
        process: String::new(),
        name: None,
        group: None,
        baseline_scope: None,
        body: Body::Metric(Metric {
            name,
            labels,
            value,
        }),
        attrs: None,
    })
}

fn required(field: Field, kind: Kind) -> SignalError {
    SignalError::at(
        field.name(),
        format!("missing; required on `{}` signals", kind.name()),
    )
}

/// `""` is the same as absent.
fn non_empty(s: Option<Cow<'_, str>>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(Cow::into_owned)
}

/// Deserializes the object into [`Raw`], noting in `failed` the key whose value was rejected.
struct RawSeed<'f> {
    failed: &'f mut Option<Cow<'static, str>>,
}

impl<'de> DeserializeSeed<'de> for RawSeed<'_> {
    type Value = Raw<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RawSeed<'_> {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a signal (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let failed = self.failed;
        let mut raw = Raw::default();
        let mut seen = 0u32;
        while let Some(key) = map.next_key::<Key>()? {
            let field = match key {
                Key::Known(field) => field,
                Key::Unknown(name) => {
                    *failed = Some(Cow::Owned(name));
                    return Err(de::Error::custom(
                        "unknown field; free data belongs in `attrs`",
                    ));
                }
            };
            if seen & field.bit() != 0 {
                *failed = Some(Cow::Borrowed(field.name()));
                return Err(de::Error::custom("duplicate field"));
            }
            seen |= field.bit();
            let mut fail = |e: A::Error| {
                *failed = Some(Cow::Borrowed(field.name()));
                e
            };
            match field {
                Field::Kind => raw.kind = text(map.next_value().map_err(&mut fail)?),
                Field::Ts => {
                    raw.ts = map
                        .next_value::<Option<Ts>>()
                        .map_err(&mut fail)?
                        .map(|t| t.0)
                }
                Field::Process => {
                    raw.process = map
                        .next_value::<Option<ProcessId>>()
                        .map_err(&mut fail)?
                        .map(|p| p.0);
                }
                Field::Name => raw.name = text(map.next_value().map_err(&mut fail)?),
                Field::Group => raw.group = text(map.next_value().map_err(&mut fail)?),
                Field::BaselineScope => {
                    raw.baseline_scope = text(map.next_value().map_err(&mut fail)?);
                }
                Field::Action => raw.action = text(map.next_value().map_err(&mut fail)?),
                Field::Context => raw.context = text(map.next_value().map_err(&mut fail)?),
                Field::Status => raw.status = int(map.next_value().map_err(&mut fail)?),
                Field::Info => raw.info = text(map.next_value().map_err(&mut fail)?),
                Field::StepsTodo => raw.steps_todo = count(map.next_value().map_err(&mut fail)?),
                Field::StepsDone => raw.steps_done = count(map.next_value().map_err(&mut fail)?),
                Field::StepDone => {
                    raw.step_done = map
                        .next_value::<Option<StepDone>>()
                        .map_err(&mut fail)?
                        .map(|s| s.0);
                }
                Field::Level => raw.level = text(map.next_value().map_err(&mut fail)?),
                Field::Message => raw.message = text(map.next_value().map_err(&mut fail)?),
                Field::Labels => {
                    raw.labels = map
                        .next_value::<Option<LabelMap>>()
                        .map_err(&mut fail)?
                        .map(|l| l.0);
                }
                Field::Value => {
                    raw.value = map
                        .next_value::<Option<Finite>>()
                        .map_err(&mut fail)?
                        .map(|v| v.0);
                }
                Field::Attrs => {
                    raw.attrs = match map.next_value::<Option<Value>>().map_err(&mut fail)? {
                        None => None,
                        Some(Value::Object(attrs)) => Some(attrs),
                        Some(other) => {
                            return Err(fail(de::Error::custom(format!(
                                "expected a JSON object, got {}",
                                json_type_name(&other)
                            ))));
                        }
                    };
                }
            }
        }
        Ok(raw)
    }
}

fn text(v: Option<Str<'_>>) -> Option<Cow<'_, str>> {
    v.map(|s| s.0)
}

fn int(v: Option<Int>) -> Option<i64> {
    v.map(|i| i.0)
}

fn count(v: Option<Count>) -> Option<i64> {
    v.map(|c| c.0)
}

// ---- value types; each visitor's `expecting` is what a wrong type's message names ----

enum Key {
    Known(Field),
    Unknown(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Field::from_name(v).map_or_else(|| Key::Unknown(v.to_owned()), Key::Known))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A string, borrowed from the input when it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Str<'de>, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A process id: a string, or an integer that becomes its decimal string.
struct ProcessId<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for ProcessId<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProcessId<'de>, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = ProcessId<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ProcessId<'de>, E> {
                Ok(ProcessId(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProcessId<'de>, E> {
                Ok(ProcessId(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ProcessId<'de>, E> {
                Ok(ProcessId(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ProcessId<'de>, E> {
                Ok(ProcessId(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ProcessId<'de>, E> {
                Ok(ProcessId(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// A timestamp: epoch milliseconds as a number, or a string as `timestamp::parse_ts_str` takes.
struct Ts(i64);

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ts, D::Error> {
        struct TsVisitor;
        impl Visitor<'_> for TsVisitor {
            type Value = Ts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("epoch milliseconds (a number) or an RFC 3339 timestamp (a string)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ts, E> {
                timestamp::ts_from_i64(v).map(Ts).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ts, E> {
                timestamp::ts_from_u64(v).map(Ts).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ts, E> {
                timestamp::ts_from_f64(v).map(Ts).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ts, E> {
                timestamp::parse_ts_str(v).map(Ts).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(TsVisitor)
    }
}

/// Checks an integer, optionally non-negative; floats and out-of-range values are errors.
struct IntVisitor {
    non_negative: bool,
}

impl Visitor<'_> for IntVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.non_negative {
            "a non-negative integer"
        } else {
            "an integer"
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        if self.non_negative && v < 0 {
            Err(E::invalid_value(Unexpected::Signed(v), &self))
        } else {
            Ok(v)
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("integer `{v}` is out of range")))
    }
}

/// Any integer (`status`).
struct Int(i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Int, D::Error> {
        deserializer
            .deserialize_i64(IntVisitor {
                non_negative: false,
            })
            .map(Int)
    }
}

/// A non-negative integer (`steps_todo`, `steps_done`).
struct Count(i64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Count, D::Error> {
        deserializer
            .deserialize_i64(IntVisitor { non_negative: true })
            .map(Count)
    }
}

/// A finite number, integer or not (a metric value).
struct Finite(f64);

impl<'de> Deserialize<'de> for Finite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Finite, D::Error> {
        struct FiniteVisitor;
        impl Visitor<'_> for FiniteVisitor {
            type Value = Finite;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a finite number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Finite, E> {
                Ok(Finite(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Finite, E> {
                Ok(Finite(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Finite, E> {
                if v.is_finite() {
                    Ok(Finite(v))
                } else {
                    Err(E::invalid_value(Unexpected::Float(v), &self))
                }
            }
        }
        deserializer.deserialize_any(FiniteVisitor)
    }
}

/// Metric labels: an object of string values, each name at most once and not empty.
struct LabelMap(Labels);

impl<'de> Deserialize<'de> for LabelMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<LabelMap, D::Error> {
        struct LabelsVisitor;
        impl<'de> Visitor<'de> for LabelsVisitor {
            type Value = LabelMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of label names to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LabelMap, A::Error> {
                let mut labels = Labels::new();
                while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
                    if name.is_empty() {
                        return Err(de::Error::custom("a label name must not be empty"));
                    }
                    let value = map.next_value::<Str<'de>>().map_err(|e| {
                        de::Error::custom(format_args!("label `{}`: {e}", excerpt(&name)))
                    })?;
                    if labels
                        .insert(name.clone().into_owned(), value.0.into_owned())
                        .is_some()
                    {
                        return Err(de::Error::custom(format_args!(
                            "duplicate label `{}`",
                            excerpt(&name)
                        )));
                    }
                }
                Ok(LabelMap(labels))
            }
        }
        deserializer.deserialize_map(LabelsVisitor)
    }
}

/// `true` (1), `false` (0) or a non-negative integer.
struct StepDone(i64);

impl<'de> Deserialize<'de> for StepDone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StepDone, D::Error> {
        struct StepVisitor;
        impl Visitor<'_> for StepVisitor {
            type Value = StepDone;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`true`, `false` or a non-negative integer")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<StepDone, E> {
                Ok(StepDone(i64::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StepDone, E> {
                if v < 0 {
                    Err(E::invalid_value(Unexpected::Signed(v), &self))
                } else {
                    Ok(StepDone(v))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StepDone, E> {
                i64::try_from(v)
                    .map(StepDone)
                    .map_err(|_| E::custom(format!("integer `{v}` is out of range")))
            }
        }
        deserializer.deserialize_any(StepVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Signal {
        let from_text = parse_signal(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let value: Value = serde_json::from_str(text).expect("test input is JSON");
        let from_value = signal_from_value(value).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            from_text, from_value,
            "text and value paths disagree on {text}"
        );
        from_text
    }

    /// The error of the text path; the value path must blame the same field.
    fn err(text: &str) -> SignalError {
        let e = parse_signal(text).expect_err(text);
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            let ev = signal_from_value(value).expect_err(text);
            assert_eq!(e.field, ev.field, "text and value paths disagree on {text}");
        }
        e
    }

    fn attrs() -> Map<String, Value> {
        match json!({"train": "ICE 123", "n": [1, 2, {"x": null}]}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn full(body: Body) -> Signal {
        Signal {
            ts: Some(1_700_000_000_123),
            process: "run-1".into(),
            name: Some("nightly".into()),
            group: Some("trains".into()),
            baseline_scope: Some("#NONE".into()),
            body,
            attrs: Some(attrs()),
        }
    }

    fn every_kind() -> Vec<Signal> {
        let fields = ProcessFields {
            status: Some(-3),
            info: Some("loading".into()),
            steps_todo: Some(10),
            steps_done: Some(4),
            step_done: Some(2),
        };
        let monitor = Monitor::new("load", Some("eu"));
        let log = Log {
            level: Level::Warn,
            message: "disk \"almost\" full\n".into(),
        };
        let mut out = vec![
            full(Body::ProcessStart(fields.clone())),
            full(Body::ProcessUpdate(fields.clone())),
            full(Body::ProcessStop(fields)),
            full(Body::Mark(monitor.clone())),
            full(Body::TraceStart(monitor.clone())),
            full(Body::TraceStop(monitor)),
            full(Body::Log(log)),
        ];
        // The minimal forms too.
        out.push(Signal::new(
            "",
            None,
            Body::ProcessStart(ProcessFields::default()),
        ));
        out.push(Signal::new(
            "p",
            None,
            Body::ProcessStop(ProcessFields::default()),
        ));
        out.push(Signal::mark("p", 5, "a", None));
        out.push(Signal::new(
            "",
            Some(1_700_000_000_123),
            Body::Metric(Metric {
                name: "system.cpu.usage".into(),
                labels: Labels::from([
                    ("host".into(), "web-1".into()),
                    ("dc".into(), "eu \"1\"".into()),
                ]),
                value: 93.25,
            }),
        ));
        out.push(Signal::new(
            "",
            None,
            Body::Metric(Metric {
                name: "up".into(),
                labels: Labels::new(),
                value: -2.0,
            }),
        ));
        out
    }

    #[test]
    fn every_kind_round_trips() {
        for s in every_kind() {
            let value = signal_to_value(&s);
            assert_eq!(value["kind"], s.body.kind_name());
            assert_eq!(signal_from_value(value.clone()), Ok(s.clone()));
            assert_eq!(ok(&value.to_string()), s);
        }
    }

    #[test]
    fn canonical_form_omits_absent_fields() {
        let s = Signal::mark("p", 5, "a", None);
        assert_eq!(
            signal_to_value(&s),
            json!({"kind": "mark", "ts": 5, "process": "p", "action": "a"})
        );
        let s = Signal::new("", None, Body::ProcessStart(ProcessFields::default()));
        assert_eq!(signal_to_value(&s), json!({"kind": "process_start"}));
    }

    #[test]
    fn numeric_process_ids_become_strings() {
        let s = ok(r#"{"kind":"mark","process":42,"action":"a"}"#);
        assert_eq!(s.process, "42");
        assert_eq!(
            ok(r#"{"kind":"log","process":-7,"level":"info","message":""}"#).process,
            "-7"
        );
        let e = err(r#"{"kind":"mark","process":4.5,"action":"a"}"#);
        assert_eq!(e.field.as_deref(), Some("process"));
        assert!(e.message.contains("expected a string or an integer"), "{e}");
    }

    #[test]
    fn process_is_required_except_on_start() {
        assert_eq!(ok(r#"{"kind":"process_start","name":"x"}"#).process, "");
        assert_eq!(ok(r#"{"kind":"process_start","process":""}"#).process, "");
        assert_eq!(ok(r#"{"kind":"process_start","process":null}"#).process, "");
        let e = err(r#"{"kind":"process_update","status":1}"#);
        assert_eq!(e.field.as_deref(), Some("process"));
        assert_eq!(e.message, "missing; required on `process_update` signals");
        let e = err(r#"{"kind":"mark","process":"","action":"a"}"#);
        assert_eq!(e.field.as_deref(), Some("process"));
        assert_eq!(e.message, "must not be empty");
    }

    #[test]
    fn ts_forms_are_equal() {
        let forms = [
            r#"{"kind":"mark","process":"p","action":"a","ts":1700000000000}"#,
            r#"{"kind":"mark","process":"p","action":"a","ts":"2023-11-14T22:13:20Z"}"#,
            r#"{"kind":"mark","process":"p","action":"a","ts":"2023-11-15T00:13:20.000+02:00"}"#,
            r#"{"kind":"mark","process":"p","action":"a","ts":"1700000000000"}"#,
            r#"{"kind":"mark","process":"p","action":"a","ts":1700000000000.7}"#,
        ];
        for text in forms {
            assert_eq!(ok(text).ts, Some(1_700_000_000_000), "{text}");
        }
        assert_eq!(ok(r#"{"kind":"mark","process":"p","action":"a"}"#).ts, None);
        assert_eq!(
            ok(r#"{"kind":"mark","process":"p","action":"a","ts":null}"#).ts,
            None
        );
    }

    #[test]
    fn bad_ts_names_the_field() {
        let e = err(r#"{"kind":"mark","process":"p","action":"a","ts":"yesterday"}"#);
        assert_eq!(e.field.as_deref(), Some("ts"));
        assert!(
            e.message
                .contains("expected epoch milliseconds or an RFC 3339"),
            "{e}"
        );
        let e = err(r#"{"kind":"mark","process":"p","action":"a","ts":true}"#);
        assert_eq!(e.field.as_deref(), Some("ts"));
        assert!(
            e.message.contains("expected epoch milliseconds (a number)"),
            "{e}"
        );
        let e = err(r#"{"kind":"mark","process":"p","action":"a","ts":1e300}"#);
        assert!(e.message.contains("out of range"), "{e}");
    }

    #[test]
    fn unknown_key_is_rejected_naming_it() {
        let e = err(r#"{"kind":"mark","process":"p","action":"a","contxt":"eu"}"#);
        assert_eq!(e.field.as_deref(), Some("contxt"));
        assert!(
            e.message
                .starts_with("unknown field; free data belongs in `attrs`"),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("field `contxt`: unknown field"),
            "{e}"
        );
        // Even when null.
        let e = err(r#"{"kind":"mark","process":"p","action":"a","colour":null}"#);
        assert_eq!(e.field.as_deref(), Some("colour"));
    }

    #[test]
    fn a_field_of_another_kind_is_rejected() {
        let e = err(r#"{"kind":"mark","process":"p","action":"a","level":"INFO"}"#);
        assert_eq!(e.field.as_deref(), Some("level"));
        assert_eq!(
            e.message,
            "not allowed on `mark` signals; only log carries it"
        );
        let e = err(r#"{"kind":"log","process":"p","level":"INFO","message":"m","context":""}"#);
        assert_eq!(e.field.as_deref(), Some("context"));
        let e = err(r#"{"kind":"trace_stop","process":"p","action":"a","step_done":false}"#);
        assert_eq!(e.field.as_deref(), Some("step_done"));
        assert!(e
            .message
            .contains("only process_start, process_update and process_stop"));
        let e = err(r#"{"kind":"process_update","process":"p","action":"a"}"#);
        assert_eq!(e.field.as_deref(), Some("action"));
    }

    #[test]
    fn null_is_the_same_as_absent() {
        let s = ok(
            r#"{"kind":"mark","process":"p","action":"a","level":null,"name":null,
                       "context":null,"attrs":null}"#,
        );
        assert_eq!(
            s,
            Signal::new("p", None, Body::Mark(Monitor::new("a", None)))
        );
    }

    #[test]
    fn missing_or_empty_action_is_rejected() {
        for kind in ["mark", "trace_start", "trace_stop"] {
            let e = err(&format!(
                r#"{{"kind":"{kind}","process":"p","context":"c"}}"#
            ));
            assert_eq!(e.field.as_deref(), Some("action"));
            assert_eq!(e.message, format!("missing; required on `{kind}` signals"));
        }
        let e = err(r#"{"kind":"mark","process":"p","action":""}"#);
        assert_eq!(
            (e.field.as_deref(), e.message.as_str()),
            (Some("action"), "must not be empty")
        );
    }

    #[test]
    fn log_levels_are_the_five_in_any_case() {
        let s = ok(r#"{"kind":"log","process":"p","level":"mOnItOr","message":"m"}"#);
        assert!(matches!(
            s.body,
            Body::Log(Log {
                level: Level::Monitor,
                ..
            })
        ));
        let e = err(r#"{"kind":"log","process":"p","level":"FATAL","message":"m"}"#);
        assert_eq!(e.field.as_deref(), Some("level"));
        assert_eq!(
            e.message,
            "unknown level `FATAL`; expected one of ERROR, WARN, MONITOR, INFO, DEBUG"
        );
        let e = err(r#"{"kind":"log","process":"p","message":"m"}"#);
        assert_eq!(e.field.as_deref(), Some("level"));
        let e = err(r#"{"kind":"log","process":"p","level":"INFO"}"#);
        assert_eq!(e.field.as_deref(), Some("message"));
        assert_eq!(e.message, "missing; required on `log` signals");
    }

    #[test]
    fn empty_context_is_none() {
        let s = ok(r#"{"kind":"trace_start","process":"p","action":"a","context":""}"#);
        assert_eq!(s.body, Body::TraceStart(Monitor::new("a", None)));
        let s = ok(r#"{"kind":"trace_start","process":"p","action":"a","context":"eu"}"#);
        assert_eq!(s.body, Body::TraceStart(Monitor::new("a", Some("eu"))));
    }

    #[test]
    fn empty_optional_strings_are_absent() {
        let s = ok(
            r#"{"kind":"process_start","process":"p","name":"","group":"",
                       "baseline_scope":"","info":""}"#,
        );
        assert_eq!((s.name, s.group, s.baseline_scope), (None, None, None));
        // `info` is a value of its own: "" replaces an earlier info.
        let Body::ProcessStart(f) = s.body else {
            panic!("kind")
        };
        assert_eq!(f.info.as_deref(), Some(""));
    }

    #[test]
    fn step_done_true_false_and_integers() {
        let step = |v: &str| {
            let s = ok(&format!(
                r#"{{"kind":"process_update","process":"p","step_done":{v}}}"#
            ));
            let Body::ProcessUpdate(f) = s.body else {
                panic!("kind")
            };
            f.step_done
        };
        assert_eq!(step("true"), Some(1));
        assert_eq!(step("2"), Some(2));
        assert_eq!(step("false"), None);
        assert_eq!(step("0"), None);
        assert_eq!(step("null"), None);
        for bad in ["-1", "1.5", r#""1""#] {
            let e = err(&format!(
                r#"{{"kind":"process_update","process":"p","step_done":{bad}}}"#
            ));
            assert_eq!(e.field.as_deref(), Some("step_done"), "{bad}");
            assert!(e
                .message
                .contains("expected `true`, `false` or a non-negative integer"));
        }
    }

    #[test]
    fn wrong_types_name_the_field_and_the_expectation() {
        let cases = [
            (r#""status":"3""#, "status", "expected an integer"),
            (r#""status":3.5"#, "status", "expected an integer"),
            (
                r#""steps_todo":-1"#,
                "steps_todo",
                "expected a non-negative integer",
            ),
            (
                r#""steps_done":true"#,
                "steps_done",
                "expected a non-negative integer",
            ),
            (r#""info":5"#, "info", "expected a string"),
            (r#""name":["x"]"#, "name", "expected a string"),
            (
                r#""attrs":"x""#,
                "attrs",
                "expected a JSON object, got a string",
            ),
        ];
        for (field_json, field, expected) in cases {
            let text = format!(r#"{{"kind":"process_update","process":"p",{field_json}}}"#);
            let e = err(&text);
            assert_eq!(e.field.as_deref(), Some(field), "{text}");
            assert!(e.message.contains(expected), "{text}: {e}");
        }
        let e = err(r#"{"kind":"process_update","process":"p","status":9223372036854775808}"#);
        assert!(e.message.contains("out of range"), "{e}");
    }

    #[test]
    fn attrs_are_kept() {
        let s = ok(
            r#"{"kind":"mark","process":"p","action":"a","attrs":{"train":"ICE 123","n":[1,2,{"x":null}]}}"#,
        );
        assert_eq!(s.attrs, Some(attrs()));
        let s = ok(r#"{"kind":"mark","process":"p","action":"a","attrs":{}}"#);
        assert_eq!(s.attrs, Some(Map::new()));
    }

    #[test]
    fn field_order_does_not_matter() {
        let a = ok(r#"{"kind":"log","ts":1,"process":"p","level":"ERROR","message":"m"}"#);
        let b = ok(r#"{"message":"m","level":"ERROR","process":"p","ts":1,"kind":"log"}"#);
        assert_eq!(a, b);
    }

    #[test]
    fn kind_is_required_and_known() {
        let e = err(r#"{"process":"p","action":"a"}"#);
        assert_eq!(e.field.as_deref(), Some("kind"));
        assert!(
            e.message
                .starts_with("missing; expected one of process_start,"),
            "{e}"
        );
        let e = err(r#"{"kind":"marker","process":"p","action":"a"}"#);
        assert_eq!(e.field.as_deref(), Some("kind"));
        assert!(
            e.message
                .starts_with("unknown kind `marker`; expected one of"),
            "{e}"
        );
        assert_eq!(
            ok(r#"{"kind":"MARK","process":"p","action":"a"}"#)
                .body
                .kind_name(),
            "mark"
        );
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let s = ok(r#"{"kind":"mark","process":"p\u00e9","action":"a\"b","context":"\n"}"#);
        assert_eq!(s.process, "pé");
        assert_eq!(s.body, Body::Mark(Monitor::new("a\"b", Some("\n"))));
        let s = ok(r#"{"kind":"\u006dark","proc\u0065ss":"p","action":"a"}"#);
        assert_eq!(s.process, "p");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let e = parse_signal(r#"{"kind":"mark","process":"p","action":"a","action":"b"}"#)
            .expect_err("duplicate");
        assert_eq!(e.field.as_deref(), Some("action"));
        assert!(e.message.starts_with("duplicate field"), "{e}");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let e = err(r#"{"kind":"mark","process":"p" "action":"a"}"#);
        assert_eq!(e.field, None);
        assert!(e.message.contains("line 1 column"), "{e}");
        let e =
            parse_signal("{\"kind\":\"mark\",\n\"process\":\"p\",\n\"action\":}").expect_err("bad");
        assert!(e.message.ends_with("at line 3 column 10"), "{e}");
        let e = parse_signal(r#"{"kind":"mark","process":"p","action":"a"} x"#).expect_err("bad");
        assert!(
            e.message.starts_with("trailing characters at line 1"),
            "{e}"
        );
        assert!(parse_signal("").is_err());
    }

    #[test]
    fn a_signal_must_be_an_object() {
        for text in ["[1]", "\"mark\"", "3", "null"] {
            let e = err(text);
            assert_eq!(e.field, None, "{text}");
            assert!(
                e.message.contains("expected a signal (a JSON object)"),
                "{text}: {e}"
            );
        }
    }

    fn sample(s: &Signal) -> &Metric {
        match &s.body {
            Body::Metric(m) => m,
            other => panic!("not a metric: {other:?}"),
        }
    }

    #[test]
    fn metric_samples() {
        let s = ok(
            r#"{"kind":"metric","name":"system.cpu.usage","labels":{"host":"web-1","dc":"eu"},"value":93.2,"ts":1700000000000}"#,
        );
        assert_eq!(s.ts, Some(1_700_000_000_000));
        assert_eq!(s.process, "");
        assert_eq!(s.body.kind_name(), "metric");
        assert_eq!(s.body.trigger(), None);
        let m = sample(&s);
        assert_eq!(m.name, "system.cpu.usage");
        assert_eq!(m.value, 93.2);
        // Sorted by name whatever the order sent.
        let names: Vec<&str> = m.labels.keys().map(String::as_str).collect();
        assert_eq!(names, ["dc", "host"]);
        let other = ok(
            r#"{"kind":"METRIC","value":93.2,"labels":{"dc":"eu","host":"web-1"},"name":"system.cpu.usage","ts":1700000000000}"#,
        );
        assert_eq!(s, other);
        // Integers, no labels, no ts.
        let s = ok(r#"{"kind":"metric","name":"up","value":1}"#);
        assert_eq!(sample(&s).value, 1.0);
        assert!(sample(&s).labels.is_empty());
        assert_eq!(s.ts, None);
        // An empty label value is an absent label; `labels: null` is no labels.
        let s = ok(r#"{"kind":"metric","name":"up","value":1,"labels":{"host":"","dc":"eu"}}"#);
        assert_eq!(
            sample(&s).labels,
            Labels::from([("dc".into(), "eu".into())])
        );
        let s = ok(r#"{"kind":"metric","name":"up","value":1,"labels":null}"#);
        assert!(sample(&s).labels.is_empty());
        assert_eq!(
            signal_to_value(&s),
            json!({"kind": "metric", "name": "up", "value": 1.0})
        );
    }

    #[test]
    fn bad_metric_samples_name_the_field() {
        let cases = [
            (r#"{"kind":"metric","value":1}"#, "name", "missing; required on `metric` signals"),
            (r#"{"kind":"metric","name":"","value":1}"#, "name", "must not be empty"),
            (r#"{"kind":"metric","name":"up"}"#, "value", "missing; required on `metric` signals"),
            (r#"{"kind":"metric","name":"up","value":"1"}"#, "value", "expected a finite number"),
            (r#"{"kind":"metric","name":"up","value":true}"#, "value", "expected a finite number"),
            (r#"{"kind":"metric","name":"up","value":1e999}"#, "value", "out of range"),
            (
                r#"{"kind":"metric","name":"up","value":1,"labels":{"host":5}}"#,
                "labels",
                "label `host`: invalid type: integer `5`, expected a string",
            ),
            (
                r#"{"kind":"metric","name":"up","value":1,"labels":{"host":null}}"#,
                "labels",
                "label `host`: invalid type: null, expected a string",
            ),
            (
                r#"{"kind":"metric","name":"up","value":1,"labels":["host"]}"#,
                "labels",
                "expected an object of label names to string values",
            ),
            (
                r#"{"kind":"metric","name":"up","value":1,"labels":{"":"x"}}"#,
                "labels",
                "a label name must not be empty",
            ),
            (
                r#"{"kind":"metric","name":"up","value":1,"process":"p"}"#,
                "process",
                "not allowed on `metric` signals; a metric sample has only kind, ts, name, labels and value",
            ),
            (
                r#"{"kind":"metric","name":"up","value":1,"attrs":{}}"#,
                "attrs",
                "not allowed on `metric` signals",
            ),
            (
                r#"{"kind":"metric","name":"up","value":1,"group":"g"}"#,
                "group",
                "not allowed on `metric` signals",
            ),
            (
                r#"{"kind":"mark","process":"p","action":"a","value":1}"#,
                "value",
                "not allowed on `mark` signals; only metric carries it",
            ),
            (
                r#"{"kind":"log","process":"p","level":"info","message":"m","labels":{}}"#,
                "labels",
                "not allowed on `log` signals; only metric carries it",
            ),
            (
                r#"{"kind":"metric","name":"up","value":1,"lables":{}}"#,
                "lables",
                "unknown field",
            ),
        ];
        for (text, field, expected) in cases {
            let e = err(text);
            assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
            assert!(e.message.contains(expected), "{text}: {e}");
        }
        let e =
            parse_signal(r#"{"kind":"metric","name":"up","value":1,"labels":{"a":"x","a":"y"}}"#)
                .expect_err("duplicate label");
        assert_eq!(e.field.as_deref(), Some("labels"));
        assert!(e.message.starts_with("duplicate label `a`"), "{e}");
    }

    #[test]
    fn errors_display_and_serialize() {
        let e = SignalError::at("level", "not allowed");
        assert_eq!(e.to_string(), "field `level`: not allowed");
        assert_eq!(
            serde_json::to_value(&e).expect("serializable"),
            json!({"field": "level", "message": "not allowed"})
        );
        let e = SignalError {
            field: None,
            message: "eof".into(),
        };
        assert_eq!(e.to_string(), "eof");
    }
}
