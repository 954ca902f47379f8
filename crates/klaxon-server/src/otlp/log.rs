//! Log records → log signals: the severity number gives the level, the body the message. A
//! record belongs to the run of its service (or of the process attribute's value), one run
//! that never stops, whatever trace it was written in: the trace and span ids go with it in
//! `attrs`, and a trace's run opens and stops with its root span alone.

use klaxon_engine::{Body, Level, Log, Signal};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;
use serde_json::{Map, Value};

use super::{attr, hex_id, millis, text, Mapped, Settings};

/// The process of a record without a trace and without a `service.name`.
const UNKNOWN_SERVICE: &str = "unknown_service";

/// Maps every log record of an export; the signals come sorted by time.
pub(crate) fn map_logs(req: &ExportLogsServiceRequest, set: Settings<'_>) -> Mapped {
    let mut m = Mapped::default();
    for rl in &req.resource_logs {
        let resource = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        for sl in &rl.scope_logs {
            for (i, record) in sl.log_records.iter().enumerate() {
                if let Err(why) = one(record, resource, set, &mut m) {
                    m.reject(|| format!("log record {}: {why}", i + 1));
                }
            }
        }
    }
    m.sort();
    m
}

/// OTLP's severity number (1–24) as a level; 0 (unset) reads the severity text, else INFO.
pub(crate) fn level(number: i32, text: &str) -> Level {
    match number {
        1..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=24 => Level::Error,
        _ => match text.to_ascii_uppercase().as_str() {
            "TRACE" | "DEBUG" => Level::Debug,
            "WARN" | "WARNING" => Level::Warn,
            "ERROR" | "FATAL" | "CRITICAL" => Level::Error,
            other => Level::parse(other).unwrap_or(Level::Info),
        },
    }
}

fn one(
    r: &LogRecord,
    resource: &[KeyValue],
    set: Settings<'_>,
    m: &mut Mapped,
) -> Result<(), String> {
    let c = set.config;
    let size = r.encoded_len();
    if size > set.max_item_bytes {
        return Err(format!("over {} bytes", set.max_item_bytes));
    }
    let trace = hex_id(&r.trace_id);
    if trace.is_some() && r.trace_id.len() != 16 {
        return Err("trace_id: must be 16 bytes".to_owned());
    }
    let span = hex_id(&r.span_id);
    if span.is_some() && r.span_id.len() != 8 {
        return Err("span_id: must be 8 bytes".to_owned());
    }
    let process = attr(&r.attributes, &c.process_attribute)
        .or_else(|| attr(resource, "service.name"))
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned());
    let mut attrs = Map::new();
    if let Some(t) = trace {
        attrs.insert("trace_id".to_owned(), Value::from(t));
    }
    if let Some(s) = span {
        attrs.insert("span_id".to_owned(), Value::from(s));
    }
    let group =
        attr(&r.attributes, &c.group_attribute).or_else(|| attr(resource, &c.group_attribute));
    m.signals.push(Signal {
        ts: millis(r.time_unix_nano).or_else(|| millis(r.observed_time_unix_nano)),
        name: Some(process.clone()),
        process,
        group,
        baseline_scope: None,
        body: Body::Log(Log {
            level: level(r.severity_number, &r.severity_text),
            message: r.body.as_ref().and_then(text).unwrap_or_default(),
        }),
        attrs: (!attrs.is_empty()).then_some(attrs),
    });
    m.bytes += std::mem::size_of::<Signal>() + size;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_map_to_levels_and_unset_reads_the_text() {
        assert_eq!(level(1, ""), Level::Debug);
        assert_eq!(level(9, ""), Level::Info);
        assert_eq!(level(13, ""), Level::Warn);
        assert_eq!(level(17, ""), Level::Error);
        assert_eq!(level(21, ""), Level::Error);
        assert_eq!(level(0, "warning"), Level::Warn);
        assert_eq!(level(0, ""), Level::Info);
    }
}
