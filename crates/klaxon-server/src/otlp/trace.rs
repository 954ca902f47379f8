//! Spans → signals: a root span (or one carrying the process attribute) is a process run from
//! its start to its end, with the span's status as the run's; any other span is a trace of its
//! trace's run, its name the action; span events are marks.

use klaxon_engine::{Body, Monitor, ProcessFields, Signal};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::hold::{Hold, Released};
use super::{attr, hex_id, millis, Mapped, Settings};

/// Maps every span of an export; a trace's spans without its root wait in `hold` for it, and
/// what waited with the root goes out with it (`Released`, to put back if the engine refuses).
/// The signals come sorted by time.
pub(crate) fn map_traces(
    req: &ExportTraceServiceRequest,
    set: Settings<'_>,
    hold: &Mutex<Hold>,
    now: i64,
) -> (Mapped, Released) {
    let mut m = Mapped::default();
    let mut traces: HashMap<String, (bool, Vec<Signal>)> = HashMap::new();
    for rs in &req.resource_spans {
        let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let service = attr(resource, "service.name");
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                if let Err(why) = one(span, resource, service.as_deref(), set, &mut m, &mut traces)
                {
                    m.reject(|| format!("span {}: {why}", who(span)));
                }
            }
        }
    }
    let mut released = Released::new();
    let before = released_len(&released);
    if !traces.is_empty() {
        // Locked for the hold alone: exports map in parallel.
        let mut hold = hold.lock().unwrap_or_else(PoisonError::into_inner);
        for (trace, (rooted, signals)) in traces {
            hold.take(now, trace, rooted, signals, &mut m.signals, &mut released);
        }
    }
    m.bytes += (released_len(&released) - before) * (std::mem::size_of::<Signal>() + 64);
    m.sort();
    (m, released)
}

fn released_len(r: &Released) -> usize {
    r.iter().map(|(_, s)| s.len()).sum()
}

/// How a refused span is named: its id and the start of its name.
fn who(span: &Span) -> String {
    let name: String = span.name.chars().take(64).collect();
    format!(
        "{} `{name}`",
        hex_id(&span.span_id).unwrap_or_else(|| "(no id)".to_owned())
    )
}

/// Maps one span: a run of its own (root or process attribute) or a trace of its trace's run;
/// the signals of a trace's run go to `traces`, with whether the root is among them.
fn one(
    span: &Span,
    resource: &[KeyValue],
    service: Option<&str>,
    set: Settings<'_>,
    m: &mut Mapped,
    traces: &mut HashMap<String, (bool, Vec<Signal>)>,
) -> Result<(), String> {
    let c = set.config;
    let size = span.encoded_len();
    if size > set.max_item_bytes {
        return Err(format!("over {} bytes", set.max_item_bytes));
    }
    let trace = match hex_id(&span.trace_id) {
        Some(t) if span.trace_id.len() == 16 => t,
        _ => return Err("trace_id: must be 16 bytes, not all zero".to_owned()),
    };
    let id = match hex_id(&span.span_id) {
        Some(s) if span.span_id.len() == 8 => s,
        _ => return Err("span_id: must be 8 bytes, not all zero".to_owned()),
    };
    let start = millis(span.start_time_unix_nano)
        .ok_or_else(|| "start_time_unix_nano: required".to_owned())?;
    let end =
        millis(span.end_time_unix_nano).ok_or_else(|| "end_time_unix_nano: required".to_owned())?;
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err("end_time_unix_nano: before the start".to_owned());
    }
    let group =
        attr(&span.attributes, &c.group_attribute).or_else(|| attr(resource, &c.group_attribute));
    let named = attr(&span.attributes, &c.process_attribute);
    let root = hex_id(&span.parent_span_id).is_none();
    let signal = |process: &str, ts: i64, name: Option<String>, body: Body| Signal {
        ts: Some(ts),
        process: process.to_owned(),
        name,
        group: group.clone(),
        baseline_scope: None,
        body,
        attrs: None,
    };
    let mut out = Vec::with_capacity(2 + span.events.len());
    let process = if root || named.is_some() {
        let process = if root {
            trace.clone()
        } else {
            format!("{trace}/{id}")
        };
        let name = named.or_else(|| (!span.name.is_empty()).then(|| span.name.clone()));
        out.push(signal(
            &process,
            start,
            name.clone(),
            Body::ProcessStart(ProcessFields::default()),
        ));
        let status = span.status.as_ref();
        out.push(signal(
            &process,
            end,
            name,
            Body::ProcessStop(ProcessFields {
                status: Some(i64::from(status.map_or(0, |s| s.code))),
                info: status.map(|s| s.message.clone()).filter(|s| !s.is_empty()),
                ..ProcessFields::default()
            }),
        ));
        process
    } else {
        if span.name.is_empty() {
            return Err("name: required, it is the trace's action".to_owned());
        }
        let context = attr(&span.attributes, &c.context_attribute);
        let monitor = Monitor::new(&span.name, context.as_deref());
        // Named by the service, should they open the run without their root.
        let name = service.map(str::to_owned);
        out.push(signal(
            &trace,
            start,
            name.clone(),
            Body::TraceStart(monitor.clone()),
        ));
        out.push(signal(&trace, end, name, Body::TraceStop(monitor)));
        trace.clone()
    };
    let name = out[0].name.clone();
    for e in span.events.iter().filter(|e| !e.name.is_empty()) {
        let context = attr(&e.attributes, &c.context_attribute);
        let ts = millis(e.time_unix_nano).unwrap_or(start);
        out.push(signal(
            &process,
            ts,
            name.clone(),
            Body::Mark(Monitor::new(&e.name, context.as_deref())),
        ));
    }
    m.bytes += out.len() * std::mem::size_of::<Signal>() + size;
    if process == trace {
        let entry = traces.entry(trace).or_default();
        entry.0 |= root;
        entry.1.extend(out);
    } else {
        m.signals.extend(out);
    }
    Ok(())
}
