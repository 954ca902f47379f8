//! Signal ingest: `POST /v1/signals` (one JSON signal, a JSON array, or streamed NDJSON) and the
//! process convenience endpoints. Good lines are never lost because of bad ones; a full queue
//! answers 429 with Retry-After, a store that cannot write 503 with Retry-After, both before
//! anything more is accepted.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures_util::StreamExt;
use klaxon_engine::wire::signal_from_value;
use klaxon_engine::{Body as SignalBody, Signal};
use klaxon_store::Store;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{too_large, JsonBody, Path, Query};
use crate::gate::over_cap;
use crate::jetstream::{Publisher, SignalBatch};
use crate::openapi::shape::{Schema, Shape};
use crate::pipeline::driver::{Batch, Input};
use crate::state::AppState;

use super::signal_body::{self, Decoded, Splitter};

/// Signals sent to the engine in one batch at most while a body streams in.
const CHUNK: usize = 4096;

/// A chunk is sent to the engine once its signals take about this much memory.
const CHUNK_BYTES: usize = 4 << 20;

/// What a signal takes in the engine queue, estimated from its JSON: the signal itself and
/// the text it owns, which is at most what its JSON spelled out.
fn signal_bytes(json_len: usize) -> usize {
    std::mem::size_of::<Signal>() + json_len
}

/// How long a streamed request waits for queue room after its first chunk was accepted.
const STREAM_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
pub(crate) struct IngestQuery {
    /// `durable`: answer only once the signals' telemetry is committed.
    wait: Option<String>,
}

impl Schema for IngestQuery {
    fn shape() -> Shape {
        Shape::object().opt(
            "wait",
            Shape::one_of_text(&["durable"])
                .describe("`durable`: answer only once the signals are in the store"),
        )
    }
}

/// The fields every signal may carry, and those of its kind (docs/signals.md), added to
/// `object`; `process` and `kind` are the caller's to add.
fn signal_fields(object: Shape, kinds: &[&str]) -> Shape {
    let text = Shape::string;
    let has = |k: &str| kinds.contains(&k);
    let mut s = object
        .opt(
            "ts",
            Shape::any_of([Shape::integer(), Shape::time()])
                .describe("epoch ms or RFC 3339; default: now"),
        )
        .opt(
            "name",
            text().describe("the process name rules match on; default: the id"),
        )
        .opt(
            "group",
            text().describe("the rule-set group that evaluates it; default: every active group"),
        )
        .opt("baseline_scope", text())
        .opt(
            "attrs",
            Shape::object().describe("free data, not evaluated"),
        );
    if kinds.iter().any(|k| k.starts_with("process")) {
        s = s
            .opt("status", Shape::integer())
            .opt("info", text())
            .opt("steps_todo", Shape::count())
            .opt("steps_done", Shape::count())
            .opt(
                "step_done",
                Shape::any_of([Shape::boolean(), Shape::count()]),
            );
    }
    if has("mark") || has("trace_start") || has("trace_stop") {
        s = s.opt("action", text()).opt("context", text());
    }
    if has("log") {
        s = s
            .opt(
                "level",
                Shape::one_of_text(&["ERROR", "WARN", "MONITOR", "INFO", "DEBUG"])
                    .describe("in any case"),
            )
            .opt("message", text());
    }
    if has("metric") {
        s = s
            .opt("labels", Shape::map(text()))
            .opt("value", Shape::number());
    }
    s
}

/// One signal (docs/signals.md), `Signal` in the OpenAPI document: the fields a kind does
/// not take are refused with the signal.
pub(crate) fn signal_shape() -> Shape {
    const KINDS: [&str; 8] = [
        "process_start",
        "process_update",
        "process_stop",
        "mark",
        "trace_start",
        "trace_stop",
        "log",
        "metric",
    ];
    let object = Shape::object()
        .req("kind", Shape::one_of_text(&KINDS).describe("in any case"))
        .opt(
            "process",
            Shape::any_of([Shape::string(), Shape::integer()])
                .describe("the run's id; required but on process_start and metric"),
        );
    signal_fields(object, &KINDS).closed().named("Signal")
}

/// The body of `POST /v1/signals` as JSON: one signal or an array of them.
pub(crate) fn signals_shape() -> Shape {
    Shape::any_of([signal_shape(), Shape::array(signal_shape())])
}

/// The body of a convenience endpoint: a signal of `kind` without `kind` (and `process`, which
/// the path gives, but for a start).
pub(crate) struct OneSignal<const KIND: u8>;

/// The kinds of [`OneSignal`].
pub(crate) const START: u8 = 0;
pub(crate) const PROCESS: u8 = 1;
pub(crate) const MONITOR: u8 = 2;
pub(crate) const LOG: u8 = 3;

impl<const KIND: u8> Schema for OneSignal<KIND> {
    fn shape() -> Shape {
        let object = Shape::object();
        let s = match KIND {
            START => signal_fields(
                object.opt(
                    "process",
                    Shape::string().describe("the run's id; generated when not given"),
                ),
                &["process_start"],
            ),
            PROCESS => signal_fields(object, &["process_update"]),
            MONITOR => signal_fields(object.req("action", Shape::string()), &["mark"]),
            _ => signal_fields(object.req("message", Shape::string()), &["log"]).req(
                "level",
                Shape::one_of_text(&["ERROR", "WARN", "MONITOR", "INFO", "DEBUG"]),
            ),
        };
        s.closed()
    }
}

/// The answer of ingest: what was accepted and what was rejected, by position.
pub(crate) fn accepted_shape() -> Shape {
    let rejected = Shape::object()
        .req(
            "line",
            Shape::count().describe("the NDJSON line, or the array element from 1"),
        )
        .req("error", Shape::string());
    Shape::object()
        .req("accepted", Shape::count())
        .req("rejected", Shape::array(rejected))
        .opt(
            "processes",
            Shape::array(Shape::string()).describe("ids generated for process starts without one"),
        )
}

/// The answer of a convenience endpoint: as ingest's, with the process's id.
pub(crate) fn one_accepted_shape() -> Shape {
    accepted_shape().req("process", Shape::string())
}

/// A rejected line (NDJSON) or element (array, 1-based).
#[derive(Debug, serde::Serialize)]
struct Rejected {
    line: usize,
    error: String,
}

/// Accepts signals in chunks and sends them to the engine.
pub(crate) struct Intake<'a, S> {
    st: &'a AppState<S>,
    received_at: i64,
    accepted_at: Instant,
    durable: bool,
    waits: Vec<oneshot::Receiver<()>>,
    accepted: usize,
    chunk: Vec<Signal>,
    /// What the chunk's signals take in memory, estimated from their JSON.
    chunk_bytes: usize,
    chunk_size: usize,
    /// A chunk is sent once its signals take this much (less when it must fit a NATS message).
    chunk_max_bytes: usize,
    rejected: Vec<Rejected>,
    generated: Vec<String>,
    /// The signals come sorted by time and may be late (OTLP): see `Batch::in_time`.
    in_time: bool,
}

impl<'a, S: Store + Clone> Intake<'a, S> {
    /// Signals sorted by time that may come late, each chunk evaluated in their time.
    pub(crate) fn in_time(st: &'a AppState<S>) -> Self {
        let mut intake = Intake::new(st, false);
        intake.in_time = true;
        intake
    }

    pub(crate) fn new(st: &'a AppState<S>, durable: bool) -> Self {
        let chunk_size = CHUNK.min(st.config.ingest.queue_signals);
        Intake {
            st,
            received_at: wall_ms(),
            accepted_at: Instant::now(),
            durable,
            waits: Vec::new(),
            accepted: 0,
            chunk: Vec::with_capacity(chunk_size),
            chunk_bytes: 0,
            chunk_size,
            chunk_max_bytes: st
                .publisher
                .as_ref()
                .map_or(CHUNK_BYTES, |p| p.max_batch_bytes().min(CHUNK_BYTES)),
            rejected: Vec::new(),
            generated: Vec::new(),
            in_time: false,
        }
    }

    /// Takes what the decoder made of one element or line.
    async fn take(&mut self, d: Decoded) -> ApiResult<()> {
        match d {
            Decoded::Signal {
                signal,
                line,
                json_len,
            } => self.push(signal, line, json_len).await,
            Decoded::Rejected { line, error } => {
                self.reject(line, error);
                Ok(())
            }
        }
    }

    fn reject(&mut self, line: usize, error: String) {
        self.st.metrics.signals_rejected.fetch_add(1, Relaxed);
        self.rejected.push(Rejected { line, error });
    }

    /// Adds a signal whose JSON took `json_len` bytes.
    pub(crate) async fn push(
        &mut self,
        mut s: Signal,
        line: usize,
        json_len: usize,
    ) -> ApiResult<()> {
        if s.process.is_empty() {
            if matches!(s.body, SignalBody::ProcessStart(_)) {
                s.process = new_process_id()?;
                self.generated.push(s.process.clone());
            } else if !matches!(s.body, SignalBody::Metric(_)) {
                self.reject(line, "field `process`: required".to_owned());
                return Ok(());
            }
        }
        self.chunk.push(s);
        self.chunk_bytes += signal_bytes(json_len);
        if self.chunk.len() >= self.chunk_size || self.chunk_bytes >= self.chunk_max_bytes {
            self.flush(line).await?;
        }
        Ok(())
    }

    /// Sends the current chunk; `next_line` is the first line not yet accepted if it fails.
    async fn flush(&mut self, next_line: usize) -> ApiResult<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let n = self.chunk.len();
        let progress = json!({
            "accepted": self.accepted,
            "first_unaccepted_line": next_line.saturating_sub(n).max(1),
        });
        if let Some(err) = self.st.store_refusal() {
            self.st.metrics.ingest_refused.fetch_add(1, Relaxed);
            return Err(more_details(err, progress));
        }
        if let Some(p) = self.st.publisher.clone() {
            return self.publish(&p, progress).await;
        }
        let n32 = u32::try_from(n).map_err(ApiError::internal)?;
        let room = if self.accepted == 0 {
            self.st.try_room(n32, self.chunk_bytes)
        } else {
            // Later chunks of a streamed body wait a little for room (backpressure on the
            // connection) before giving up.
            self.st
                .room_within(n32, self.chunk_bytes, STREAM_WAIT)
                .await
        };
        let Some(permit) = room else {
            self.st.metrics.ingest_throttled.fetch_add(1, Relaxed);
            let retry = self.st.config.ingest.retry_after_seconds;
            let err = ApiError::overloaded("the engine queue is full; retry later", retry);
            return Err(err.with_details(progress));
        };
        let bytes = permit.bytes();
        let (tx, rx) = if self.durable {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.chunk_bytes = 0;
        let batch = Batch {
            signals: std::mem::replace(&mut self.chunk, Vec::with_capacity(self.chunk_size)),
            received_at: self.received_at,
            accepted: self.accepted_at,
            durable: tx,
            permit,
            in_time: self.in_time,
            at: None,
            replay: false,
            committed: None,
        };
        let (depth, bytes) = (
            i64::try_from(n).unwrap_or(0),
            i64::try_from(bytes).unwrap_or(0),
        );
        self.st.metrics.queue_depth.fetch_add(depth, Relaxed);
        self.st.metrics.queue_bytes.fetch_add(bytes, Relaxed);
        if let Err(e) = self.st.send(Input::Batch(batch)) {
            self.st.metrics.queue_depth.fetch_sub(depth, Relaxed);
            self.st.metrics.queue_bytes.fetch_sub(bytes, Relaxed);
            return Err(e);
        }
        self.st
            .metrics
            .signals_accepted
            .fetch_add(n as u64, Relaxed);
        self.accepted += n;
        self.waits.extend(rx);
        Ok(())
    }

    /// Stores the chunk in the signal stream (`[cluster] nats`) and counts it accepted once
    /// JetStream has acknowledged it; the consumer feeds it to the engine. 503 with
    /// Retry-After, the chunk not accepted, when JetStream does not acknowledge it in time.
    async fn publish(&mut self, p: &Publisher, progress: Value) -> ApiResult<()> {
        let n = self.chunk.len();
        let batch = SignalBatch {
            signals: std::mem::replace(&mut self.chunk, Vec::with_capacity(self.chunk_size)),
            accepted_ms: self.received_at,
            in_time: self.in_time,
        };
        self.chunk_bytes = 0;
        match p.publish(&batch).await {
            Ok(_) => {
                let m = &self.st.metrics;
                m.stream.published.fetch_add(1, Relaxed);
                m.signals_accepted.fetch_add(n as u64, Relaxed);
                self.accepted += n;
                Ok(())
            }
            Err(e) => {
                self.st
                    .metrics
                    .stream
                    .publish_failures
                    .fetch_add(1, Relaxed);
                tracing::warn!(error = %e, signals = n, "signals not accepted: the signal stream did not take them");
                let retry = self.st.config.ingest.retry_after_seconds;
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("the signal stream did not take the signals; retry later ({e})"),
                );
                err.retry_after = Some(retry);
                Err(err.with_details(progress))
            }
        }
    }

    async fn finish(mut self, next_line: usize) -> ApiResult<Json<Value>> {
        self.settle(next_line).await?;
        let mut body = json!({"accepted": self.accepted, "rejected": self.rejected});
        if !self.generated.is_empty() {
            body["processes"] = json!(self.generated);
        }
        Ok(Json(body))
    }

    /// Signals accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted
    }

    /// Sends what is left and waits for what asked to be durable; returns how many signals
    /// were accepted.
    pub(crate) async fn settle(&mut self, next_line: usize) -> ApiResult<usize> {
        self.flush(next_line).await?;
        let wait = Duration::from_secs(self.st.config.store.commit_wait_seconds);
        let deadline = tokio::time::Instant::now() + wait;
        for w in self.waits.drain(..) {
            match tokio::time::timeout_at(deadline, w).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(ApiError::unavailable(
                        "the telemetry writer stopped before the signals were durable",
                    ))
                }
                Err(_) => {
                    let what = "the signals were accepted and are written once the store can write";
                    let err = self.st.not_committed(wait, what);
                    return Err(more_details(
                        err,
                        json!({"accepted": self.accepted, "durable": false}),
                    ));
                }
            }
        }
        Ok(self.accepted)
    }
}

/// Sends signals sorted by time that no request waits for (OTLP spans released from the hold):
/// waits for room in the engine queue as long as it takes, chunk by chunk; `Err` once the
/// engine has stopped.
pub(crate) async fn send_in_time<S: Store + Clone>(
    st: &AppState<S>,
    signals: Vec<Signal>,
    bytes_each: usize,
) -> ApiResult<()> {
    if let Some(p) = st.publisher.clone() {
        return publish_in_time(st, &p, signals).await;
    }
    let mut rest = signals.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<Signal> = rest
            .by_ref()
            .take(CHUNK.min(st.config.ingest.queue_signals))
            .collect();
        let n = chunk.len();
        let bytes = n * signal_bytes(bytes_each);
        let n32 = u32::try_from(n).map_err(ApiError::internal)?;
        let permit = loop {
            if let Some(p) = st.room_within(n32, bytes, Duration::from_secs(1)).await {
                break p;
            }
        };
        let (depth, bytes) = (
            i64::try_from(n).unwrap_or(0),
            i64::try_from(permit.bytes()).unwrap_or(0),
        );
        st.metrics.queue_depth.fetch_add(depth, Relaxed);
        st.metrics.queue_bytes.fetch_add(bytes, Relaxed);
        let batch = Batch {
            signals: chunk,
            received_at: wall_ms(),
            accepted: Instant::now(),
            durable: None,
            permit,
            in_time: true,
            at: None,
            replay: false,
            committed: None,
        };
        if let Err(e) = st.send(Input::Batch(batch)) {
            st.metrics.queue_depth.fetch_sub(depth, Relaxed);
            st.metrics.queue_bytes.fetch_sub(bytes, Relaxed);
            return Err(e);
        }
        st.metrics.signals_accepted.fetch_add(n as u64, Relaxed);
    }
    Ok(())
}

/// As [`send_in_time`], through the signal stream: retries each chunk until JetStream takes
/// it; `Err` once shutdown has begun and it still did not.
async fn publish_in_time<S: Store + Clone>(
    st: &AppState<S>,
    p: &Publisher,
    signals: Vec<Signal>,
) -> ApiResult<()> {
    let per = (p.max_batch_bytes() / (std::mem::size_of::<Signal>() + 256)).clamp(1, CHUNK);
    let mut rest = signals.into_iter().peekable();
    while rest.peek().is_some() {
        let batch = SignalBatch {
            signals: rest.by_ref().take(per).collect(),
            accepted_ms: wall_ms(),
            in_time: true,
        };
        let n = batch.signals.len();
        loop {
            match p.publish(&batch).await {
                Ok(_) => break,
                Err(e) => {
                    st.metrics.stream.publish_failures.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, signals = n, "released spans not yet in the signal stream; retrying");
                    if *st.shutdown.borrow() {
                        return Err(ApiError::unavailable(e));
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        st.metrics.stream.published.fetch_add(1, Relaxed);
        st.metrics.signals_accepted.fetch_add(n as u64, Relaxed);
    }
    Ok(())
}

/// Adds the fields of `more` (an object) to an error's details.
fn more_details(mut err: ApiError, more: Value) -> ApiError {
    match (err.details.as_object_mut(), more) {
        (Some(d), Value::Object(m)) => d.extend(m),
        (_, more) => err.details = more,
    }
    err
}

/// A new process id: 16 random bytes as a UUID-formatted string.
pub(crate) fn new_process_id() -> ApiResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(ApiError::internal)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// `POST /v1/signals`.
pub(crate) async fn signals<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let durable = match q.wait.as_deref() {
        None => false,
        Some("durable") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "wait: `{other}` is not supported; use wait=durable"
            )))
        }
    };
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/x-ndjson") || ct.starts_with("application/jsonl")
        });
    let mut intake = Intake::new(&st, durable);
    if ndjson {
        let last = stream_ndjson(&st, body, &mut intake).await?;
        return intake.finish(last + 1).await;
    }
    let limit = st.config.ingest.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let max_line = st.config.ingest.max_line_bytes;
    match first {
        Some(b'[') => {
            for d in signal_body::array(&bytes, max_line).map_err(ApiError::bad_request)? {
                intake.take(d).await?;
            }
            let n = intake.rejected.len() + intake.accepted + intake.chunk.len();
            intake.finish(n + 1).await
        }
        Some(b'{') => {
            // One object, or NDJSON sent without its content type.
            for d in signal_body::lines(&bytes, max_line).map_err(ApiError::bad_request)? {
                intake.take(d).await?;
            }
            intake.finish(signal_body::line_count(&bytes) + 1).await
        }
        None => Err(ApiError::bad_request(
            "empty body: send a JSON signal, a JSON array or NDJSON",
        )),
        Some(_) => Err(ApiError::bad_request(
            "body must be a JSON object, a JSON array or NDJSON",
        )),
    }
}

/// 413 for a streamed body, with how far it got.
fn too_large_after(limit: usize, accepted: usize, next_line: usize) -> ApiError {
    too_large(limit).with_details(json!({
        "limit_bytes": limit,
        "accepted": accepted,
        "first_unaccepted_line": next_line,
    }))
}

/// Reads an NDJSON body chunk by chunk, never holding more than one partial line; returns the
/// number of the last line.
async fn stream_ndjson<S: Store + Clone>(
    st: &AppState<S>,
    body: Body,
    intake: &mut Intake<'_, S>,
) -> ApiResult<usize> {
    let max_body = st.config.ingest.max_body_bytes;
    let max_line = st.config.ingest.max_line_bytes;
    let mut stream = body.into_data_stream();
    let mut lines = Splitter::new(max_line);
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) if over_cap(&e) => {
                return Err(too_large_after(
                    max_body,
                    intake.accepted,
                    lines.line_no() + 1,
                ))
            }
            Err(e) => return Err(ApiError::bad_request(format!("reading the body: {e}"))),
        };
        total += chunk.len();
        if total > max_body {
            return Err(too_large_after(
                max_body,
                intake.accepted,
                lines.line_no() + 1,
            ));
        }
        let mut rest: &[u8] = &chunk;
        while let Some((line, piece)) = lines.next(&mut rest) {
            if let Some(d) = signal_body::piece(line, &piece, max_line) {
                intake.take(d).await?;
            }
        }
    }
    if let Some((line, piece)) = lines.finish() {
        if let Some(d) = signal_body::piece(line, &piece, max_line) {
            intake.take(d).await?;
        }
    }
    Ok(lines.line_no())
}

/// A JSON object whose keys are each given once, as a signal's must be.
pub(crate) struct Unique(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Unique;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Unique, M::Error> {
                let mut out = Map::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("duplicate field `{k}`")));
                    }
                    out.insert(k, v);
                }
                Ok(Unique(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// One signal built from a convenience endpoint's body plus its kind and process.
async fn one<S: Store + Clone>(
    st: AppState<S>,
    q: IngestQuery,
    kind: &str,
    process: Option<String>,
    body: JsonBody<Unique>,
) -> ApiResult<Json<Value>> {
    let mut obj = body.0 .0;
    obj.insert("kind".to_owned(), Value::from(kind));
    if let Some(p) = process {
        obj.insert("process".to_owned(), Value::from(p));
    }
    let json_len = obj.iter().map(|(k, v)| k.len() + v.to_string().len()).sum();
    let signal = signal_from_value(Value::Object(obj)).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_signal",
            e.to_string(),
        )
    })?;
    let durable = q.wait.as_deref() == Some("durable");
    let mut intake = Intake::new(&st, durable);
    intake.push(signal, 1, json_len).await?;
    let process = intake.chunk.first().map(|s| s.process.clone());
    let mut resp = intake.finish(2).await?;
    if let Some(p) = process {
        resp.0["process"] = Value::from(p);
    }
    Ok(resp)
}

/// `POST /v1/processes`: starts a run; the id is generated when the body has none.
pub(crate) async fn process_start<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<IngestQuery>,
    body: JsonBody<Unique>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    one(st, q, "process_start", None, body)
        .await
        .map(|j| (StatusCode::CREATED, j))
}

macro_rules! convenience {
    ($name:ident, $kind:literal) => {
        #[doc = concat!("`POST /v1/processes/{id}/…`: a `", $kind, "` signal for the process.")]
        pub(crate) async fn $name<S: Store + Clone>(
            State(st): State<AppState<S>>,
            Path(id): Path<String>,
            Query(q): Query<IngestQuery>,
            body: JsonBody<Unique>,
        ) -> ApiResult<Json<Value>> {
            one(st, q, $kind, Some(id), body).await
        }
    };
}

convenience!(process_update, "process_update");
convenience!(process_stop, "process_stop");
convenience!(mark, "mark");
convenience!(trace_start, "trace_start");
convenience!(trace_stop, "trace_stop");
convenience!(log, "log");
