//! A batch of signals as one JetStream message, and back: the body is NDJSON, one signal a line
//! in its wire form (`klaxon_engine::wire`), each with its `ts` (a signal sent without one gets
//! the time the batch was accepted, so that replay gives it the same time); the headers carry
//! when the batch was accepted and whether it is evaluated in its signals' time (OTLP). Pure.

use async_nats::HeaderMap;
use klaxon_engine::wire::{parse_signal, signal_to_value};
use klaxon_engine::Signal;

/// The header with the time the batch was accepted (epoch ms): the engine's `now` for it.
pub(crate) const ACCEPTED: &str = "Klaxon-Accepted";
/// The header present on a batch sorted by time whose signals may come late (OTLP).
pub(crate) const IN_TIME: &str = "Klaxon-In-Time";

/// Signals accepted together: what ingest publishes and the engine evaluates as one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalBatch {
    pub signals: Vec<Signal>,
    /// When the batch was accepted (epoch ms): the engine's time for it, also on replay.
    pub accepted_ms: i64,
    /// Sorted by time and possibly late (OTLP spans): timers fire between the signals at
    /// their own times.
    pub in_time: bool,
}

/// The message of a batch: headers and NDJSON body.
pub(crate) fn encode(batch: &SignalBatch) -> (HeaderMap, Vec<u8>) {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPTED, batch.accepted_ms.to_string().as_str());
    if batch.in_time {
        headers.insert(IN_TIME, "1");
    }
    let mut body = Vec::with_capacity(batch.signals.len() * 96);
    for s in &batch.signals {
        let mut v = signal_to_value(s);
        if s.ts.is_none() {
            v["ts"] = batch.accepted_ms.into();
        }
        // Writing a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut body, &v);
        body.push(b'\n');
    }
    (headers, body)
}

/// The batch a message carries, or why it is not one of klaxon's.
pub(crate) fn decode(headers: Option<&HeaderMap>, body: &[u8]) -> Result<SignalBatch, String> {
    let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
    let accepted_ms = header(ACCEPTED)
        .ok_or_else(|| format!("no {ACCEPTED} header"))?
        .parse::<i64>()
        .map_err(|e| format!("header {ACCEPTED}: {e}"))?;
    let in_time = header(IN_TIME).is_some();
    let text = std::str::from_utf8(body).map_err(|e| format!("body: {e}"))?;
    let mut signals = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        signals.push(parse_signal(line).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(SignalBatch {
        signals,
        accepted_ms,
        in_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(line: &str) -> Signal {
        parse_signal(line).expect("a signal")
    }

    #[test]
    fn a_batch_reads_back_with_the_accepted_time_as_missing_ts() {
        let batch = SignalBatch {
            signals: vec![
                signal(r#"{"kind":"process_start","process":"p1","name":"job","steps_todo":3}"#),
                signal(r#"{"kind":"mark","process":"p1","action":"a","context":"c","ts":5}"#),
                signal(r#"{"kind":"metric","name":"cpu","labels":{"host":"h"},"value":1.5}"#),
            ],
            accepted_ms: 1_000,
            in_time: true,
        };
        let (headers, body) = encode(&batch);
        let back = decode(Some(&headers), &body).expect("decodes");
        assert_eq!(back.accepted_ms, 1_000);
        assert!(back.in_time);
        assert_eq!(back.signals.len(), 3);
        assert_eq!(
            back.signals[0].ts,
            Some(1_000),
            "stamped with the accepted time"
        );
        assert_eq!(back.signals[1].ts, Some(5), "its own time kept");
        let mut stamped = batch.signals.clone();
        stamped[0].ts = Some(1_000);
        stamped[2].ts = Some(1_000);
        assert_eq!(back.signals, stamped);
    }

    #[test]
    fn a_foreign_message_is_refused_with_the_reason() {
        assert!(decode(None, b"{}")
            .expect_err("no header")
            .contains("Klaxon-Accepted"));
        let mut h = HeaderMap::new();
        h.insert(ACCEPTED, "12");
        let err = decode(Some(&h), b"{\"kind\":\"nope\"}\n").expect_err("bad line");
        assert!(err.starts_with("line 1:"), "{err}");
    }
}
