//! OTLP/HTTP in: `POST /v1/traces`, `/v1/logs` and `/v1/metrics`, protobuf
//! (`application/x-protobuf`) or JSON (`application/json`) bodies, gzip or not. Decodes the
//! export request (the generated messages of `opentelemetry-proto`, never by hand), maps it to
//! signals (`crate::otlp`), hands them to the engine as ingest does (429 or 503 with
//! Retry-After, before anything is accepted), and answers OTLP's `Export…ServiceResponse`,
//! whose `partial_success` counts and explains the items refused. A body that does not decode is
//! refused whole: 400 with a `google.rpc.Status` in the request's encoding.

use std::io::Read;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use klaxon_store::Store;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde_json::json;

use crate::clock::wall_ms;
use crate::error::ApiError;
use crate::extract::too_large;
use crate::openapi::shape::Shape;
use crate::otlp::{map_logs, map_metrics, map_traces, Mapped, Released, Settings};
use crate::state::AppState;

use super::ingest::{send_in_time, Intake};

/// A lock of the OTLP state; a panic elsewhere left nothing half-written worth refusing over.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Releases, once a second, the spans that waited their time for a root span, each trace as a
/// run of its own; at shutdown, every span still waiting.
pub(crate) async fn release_held<S: Store + Clone>(
    st: AppState<S>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        let all = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        let mut out = Vec::new();
        lock(&st.otlp_hold).expired(wall_ms(), all, &mut out);
        if !out.is_empty() {
            out.sort_by_key(|s| (s.ts.unwrap_or(i64::MAX), crate::otlp::rank(&s.body)));
            if send_in_time(&st, out, 128).await.is_err() || all {
                return;
            }
        }
        if all {
            return;
        }
    }
}

/// OTLP's protobuf media type.
pub(crate) const PROTOBUF: &str = "application/x-protobuf";

/// How the request was encoded; the answer is encoded the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body of an OTLP error (its `details` left empty).
#[derive(Clone, PartialEq, Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// `google.rpc.Code.INVALID_ARGUMENT`.
const INVALID_ARGUMENT: i32 = 3;

/// An error answer: the status and a `google.rpc.Status` body in `enc`.
fn refuse(enc: Encoding, status: StatusCode, message: String) -> Response {
    let mut resp = match enc {
        Encoding::Protobuf => (
            status,
            [(header::CONTENT_TYPE, PROTOBUF)],
            Status {
                code: INVALID_ARGUMENT,
                message,
            }
            .encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"code": INVALID_ARGUMENT, "message": message, "details": []}).to_string(),
        )
            .into_response(),
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The encoding the `Content-Type` names; `Err`: 415.
fn encoding(headers: &HeaderMap) -> Result<Encoding, Box<Response>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct.starts_with(PROTOBUF) || ct.starts_with("application/protobuf") {
        Ok(Encoding::Protobuf)
    } else if ct.starts_with("application/json") {
        Ok(Encoding::Json)
    } else {
        Err(Box::new(refuse(
            Encoding::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type `{ct}`: send {PROTOBUF} or application/json"),
        )))
    }
}

/// Reads the body within the endpoint's limit and checks its `Content-Encoding` (415, as JSON,
/// for one OTLP does not use); returns whether it is gzip.
async fn read<S>(
    st: &AppState<S>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, bool), Box<Response>> {
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(Box::new(refuse(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding `{other}`: send gzip or none"),
            )))
        }
    };
    let limit = st.config.ingest.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Box::new(too_large(limit).into_response()))?;
    Ok((bytes, gzip))
}

/// Why a body could not be used: it does not decode (400, a `google.rpc.Status`), or an
/// error of klaxon's own shape (413).
enum Refused {
    Bad(String),
    Api(ApiError),
}

/// Inflates a gzip body, refusing one that inflates to more than `max` bytes.
fn inflate(bytes: &[u8], max: usize) -> Result<Vec<u8>, Refused> {
    let mut out = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(max as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| Refused::Bad(format!("gzip body does not inflate: {e}")))?;
    if out.len() > max {
        let err = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("gzip body inflates to more than {max} bytes ([otlp] max_inflated_bytes)"),
        );
        return Err(Refused::Api(err.with_details(json!({"limit_bytes": max}))));
    }
    Ok(out)
}

/// Decodes an export request from protobuf or OTLP/JSON; a JSON error names where it is.
fn decode<M: Message + Default + serde::de::DeserializeOwned>(
    enc: Encoding,
    bytes: &[u8],
) -> Result<M, Refused> {
    let bad = Refused::Bad;
    match enc {
        Encoding::Protobuf => M::decode(bytes).map_err(|e| bad(format!("invalid protobuf: {e}"))),
        Encoding::Json => {
            let de = &mut serde_json::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                bad(format!("invalid OTLP/JSON at `{path}`: {}", e.inner()))
            })
        }
    }
}

/// Reads, inflates, decodes and maps a request off the async workers (a large body takes
/// milliseconds), then hands the signals to the engine; `answer` builds the success from what
/// was refused.
async fn export<S, M>(
    st: AppState<S>,
    headers: HeaderMap,
    body: Body,
    map: fn(&M, Settings<'_>, &AppState<S>) -> (Mapped, Released),
    answer: fn(Encoding, &Mapped) -> Vec<u8>,
) -> Response
where
    S: Store + Clone,
    M: Message + Default + serde::de::DeserializeOwned + 'static,
{
    let enc = match encoding(&headers) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let (bytes, gzip) = match read(&st, &headers, body).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let task_st = st.clone();
    let mapped = tokio::task::spawn_blocking(move || {
        let st = task_st;
        let inflated;
        let raw: &[u8] = if gzip {
            inflated = inflate(&bytes, st.config.otlp.max_inflated_bytes)?;
            &inflated
        } else {
            &bytes
        };
        let req: M = decode(enc, raw)?;
        let set = Settings {
            config: &st.config.otlp,
            max_item_bytes: st.config.ingest.max_line_bytes,
        };
        Ok::<_, Refused>(map(&req, set, &st))
    })
    .await;
    let (mut mapped, released) = match mapped {
        Ok(Ok(m)) => m,
        Ok(Err(Refused::Bad(message))) => return refuse(enc, StatusCode::BAD_REQUEST, message),
        Ok(Err(Refused::Api(e))) => return e.into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let n = mapped.signals.len();
    let each = mapped.bytes / n.max(1);
    let mut intake = Intake::in_time(&st);
    let mut result = Ok(());
    for (i, s) in std::mem::take(&mut mapped.signals).into_iter().enumerate() {
        result = intake.push(s, i + 1, each).await;
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = intake.settle(n + 1).await.map(|_| ());
    }
    if let Err(e) = result {
        if intake.accepted() == 0 && !released.is_empty() {
            // Nothing of the export was taken: what waited for its root waits again.
            lock(&st.otlp_hold).put_back(wall_ms(), released);
        }
        return e.into_response();
    }
    let media = match enc {
        Encoding::Protobuf => PROTOBUF,
        Encoding::Json => "application/json",
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, media)],
        answer(enc, &mapped),
    )
        .into_response()
}

/// The JSON of an answer: `{}`, or the partial success with `field` the count (an int64, so a
/// string in OTLP/JSON).
fn json_answer(m: &Mapped, field: &str) -> Vec<u8> {
    let body = if m.rejected == 0 {
        json!({})
    } else {
        json!({"partialSuccess": {field: m.rejected.to_string(), "errorMessage": m.error_message()}})
    };
    body.to_string().into_bytes()
}

/// What an OTLP handler makes of a body (`kind`: 0 traces, 1 logs, 2 metrics), without HTTP
/// or the engine: the signals mapped and the items refused, or why the body is refused. For the
/// fuzz targets; every trace starts with an empty hold and every sum with no last point.
#[cfg(feature = "fuzzing")]
pub(crate) fn map_body(
    kind: u8,
    json: bool,
    body: &[u8],
    config: &crate::config::Config,
) -> Result<(usize, i64), String> {
    let enc = if json {
        Encoding::Json
    } else {
        Encoding::Protobuf
    };
    let set = Settings {
        config: &config.otlp,
        max_item_bytes: config.ingest.max_line_bytes,
    };
    let why = |r: Refused| match r {
        Refused::Bad(m) => m,
        Refused::Api(e) => e.message,
    };
    let m = match kind % 3 {
        0 => {
            let hold =
                std::sync::Mutex::new(crate::otlp::Hold::new(config.otlp.hold_signals, 1_000));
            let req: ExportTraceServiceRequest = decode(enc, body).map_err(why)?;
            let (mut m, _) = map_traces(&req, set, &hold, 0);
            lock(&hold).expired(0, true, &mut m.signals);
            m
        }
        1 => map_logs(&decode(enc, body).map_err(why)?, set),
        _ => {
            let mut rates = crate::otlp::Rates::new(config.otlp.max_rate_series);
            map_metrics(&decode(enc, body).map_err(why)?, set, &mut rates)
        }
    };
    Ok((m.signals.len(), m.rejected))
}

/// `POST /v1/traces`.
pub(crate) async fn traces<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    fn map<S>(
        r: &ExportTraceServiceRequest,
        set: Settings<'_>,
        st: &AppState<S>,
    ) -> (Mapped, Released) {
        map_traces(r, set, &st.otlp_hold, wall_ms())
    }
    fn answer(enc: Encoding, m: &Mapped) -> Vec<u8> {
        match enc {
            Encoding::Json => json_answer(m, "rejectedSpans"),
            Encoding::Protobuf => ExportTraceServiceResponse {
                partial_success: (m.rejected > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: m.rejected,
                    error_message: m.error_message(),
                }),
            }
            .encode_to_vec(),
        }
    }
    export(st, headers, body, map::<S>, answer).await
}

/// `POST /v1/logs`.
pub(crate) async fn logs<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    fn map<S>(
        r: &ExportLogsServiceRequest,
        set: Settings<'_>,
        _: &AppState<S>,
    ) -> (Mapped, Released) {
        (map_logs(r, set), Released::new())
    }
    fn answer(enc: Encoding, m: &Mapped) -> Vec<u8> {
        match enc {
            Encoding::Json => json_answer(m, "rejectedLogRecords"),
            Encoding::Protobuf => ExportLogsServiceResponse {
                partial_success: (m.rejected > 0).then(|| ExportLogsPartialSuccess {
                    rejected_log_records: m.rejected,
                    error_message: m.error_message(),
                }),
            }
            .encode_to_vec(),
        }
    }
    export(st, headers, body, map::<S>, answer).await
}

/// `POST /v1/metrics`.
pub(crate) async fn metrics<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    fn map<S>(
        r: &ExportMetricsServiceRequest,
        set: Settings<'_>,
        st: &AppState<S>,
    ) -> (Mapped, Released) {
        (
            map_metrics(r, set, &mut lock(&st.otlp_rates)),
            Released::new(),
        )
    }
    fn answer(enc: Encoding, m: &Mapped) -> Vec<u8> {
        match enc {
            Encoding::Json => json_answer(m, "rejectedDataPoints"),
            Encoding::Protobuf => ExportMetricsServiceResponse {
                partial_success: (m.rejected > 0).then(|| ExportMetricsPartialSuccess {
                    rejected_data_points: m.rejected,
                    error_message: m.error_message(),
                }),
            }
            .encode_to_vec(),
        }
    }
    export(st, headers, body, map::<S>, answer).await
}

/// The answer of an export, as documented: OTLP's response message.
pub(crate) fn answer_shape(field: &str) -> Shape {
    Shape::object().opt(
        "partialSuccess",
        Shape::object()
            .opt(
                field,
                Shape::string().describe("how many items were refused (an int64)"),
            )
            .opt(
                "errorMessage",
                Shape::string().describe("why, for the first ten"),
            ),
    )
}

/// `google.rpc.Status` as JSON, the body of a refused OTLP request.
pub(crate) fn status_shape() -> Shape {
    Shape::object()
        .req("code", Shape::integer())
        .req("message", Shape::string())
        .opt("details", Shape::array(Shape::object()))
}
