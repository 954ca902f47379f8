//! OTLP/HTTP in (docs/opentelemetry.md): export requests built with the protocol's own prost
//! types (and OTLP/JSON) raise the alerts their mapped signals raise: spans as runs, traces and
//! marks, late spans alerting as live ones; log records as logs; gauges, cumulative sums (as
//! rates) and histograms as samples. Bodies that do not decode get OTLP's errors; the good items
//! of a partly bad export are kept and the bad counted; gzip inflates within its bound.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use serde_json::{json, Value};

use crate::harness::{data_dir, serve, start, Running, ADMIN};

const PROTOBUF: &str = "application/x-protobuf";

const RULES: &str = r#"{"header":{"rule_set":"otel"},"rules":[
 {"id":"FAILED","trigger_type":"PROCESS_STOP","action":"checkout","condition":{"operator":"STATUS_EQUALS","value":2},"alert":{"handler":"h","severity":"high"}},
 {"id":"SLOW_QUERY","trigger_type":"TRACE_STOP","action":"db.query","condition":{"operator":"MAX_DURATION_MS","value":100},"alert":{"handler":"h"}},
 {"id":"STUCK_QUERY","trigger_type":"TRACE_START","action":"db.query","condition":{"operator":"MAX_OPEN_MS","value":1000},"alert":{"handler":"h"}},
 {"id":"LONG_CHECKOUT","trigger_type":"PROCESS_START","action":"checkout","condition":{"operator":"RUNTIME_EXCEEDED","value":3000},"alert":{"handler":"h"}},
 {"id":"MISS","trigger_type":"MARK_EVENT","action":"cache.miss","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h","severity":"low"}},
 {"id":"PAYMENT_LOG","trigger_type":"LOGGING","condition":{"operator":"LOG_CONTAINS","value":"ERROR|payment declined"},"alert":{"handler":"h"}}
]}"#;

async fn activate(r: &Running) {
    let (s, v) = r.admin("POST", "/v1/rulesets", RULES).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = r.admin("POST", "/v1/rulesets/otel/1/activate", "").await;
    assert_eq!(s, 200, "{v}");
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

const MS: u64 = 1_000_000;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", "shop")],
        ..Resource::default()
    })
}

fn span(trace: u8, id: u8, parent: u8, name: &str, start: u64, end: u64) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 { vec![] } else { vec![parent; 8] },
        name: name.to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        ..Span::default()
    }
}

fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// POSTs an OTLP body: status, head, answer bytes.
async fn post(
    r: &Running,
    path: &str,
    ctype: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> (u16, String, Vec<u8>) {
    let auth = format!("Bearer {ADMIN}");
    let mut headers = vec![("content-type", ctype), ("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    r.request_bytes("POST", path, &headers, body).await
}

/// The alerts of rule `rule` once `pred` holds on them (bounded).
async fn alerts_of(r: &Running, rule: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let v = r
        .until(&format!("/alerts/history?rule={rule}&limit=50"), |v| {
            v["alerts"].as_array().is_some_and(|a| pred(a))
        })
        .await;
    v["alerts"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_spans_raise_the_alerts_live_signals_would() {
    let dir = data_dir("otlp-spans");
    let r = start(&dir, |c| c.collector.enabled = false).await;
    activate(&r).await;
    // A trace that ended a minute ago, sent now in one export, children first as an SDK sends
    // them: a 5 s checkout that failed, a 250 ms query, a 2 s query, a cache miss.
    let t0 = now_ns() - 60_000 * MS;
    let mut root = span(1, 1, 0, "checkout", t0, t0 + 5_000 * MS);
    root.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "card declined".to_owned(),
    });
    let mut quick = span(1, 2, 1, "db.query", t0 + 100 * MS, t0 + 350 * MS);
    quick.attributes = vec![kv("klaxon.context", "orders")];
    quick.events = vec![span::Event {
        name: "cache.miss".to_owned(),
        time_unix_nano: t0 + 120 * MS,
        attributes: vec![kv("klaxon.context", "prices")],
        ..span::Event::default()
    }];
    let mut stuck = span(1, 3, 1, "db.query", t0 + 1_000 * MS, t0 + 3_000 * MS);
    stuck.attributes = vec![kv("klaxon.context", "stock")];
    let body = traces(vec![quick, stuck, root]).encode_to_vec();
    let (s, head, answer) = post(&r, "/v1/traces", PROTOBUF, body, &[]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&answer));
    assert!(
        head.contains("content-type: application/x-protobuf"),
        "{head}"
    );
    let answer = ExportTraceServiceResponse::decode(&answer[..]).expect("a response message");
    assert_eq!(answer.partial_success, None, "nothing refused");

    let failed = alerts_of(&r, "FAILED", |a| !a.is_empty()).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0]["process"], "01010101010101010101010101010101",
        "{failed:?}"
    );
    let slow = alerts_of(&r, "SLOW_QUERY", |a| a.len() == 2).await;
    assert_eq!(slow.len(), 2, "both queries took over 100 ms: {slow:?}");
    let miss = alerts_of(&r, "MISS", |a| !a.is_empty()).await;
    assert_eq!(miss[0]["context"], "prices", "{miss:?}");
    // Live, the 2 s query was open past 1 s and the checkout ran past 3 s, but the 250 ms
    // query was never open for 1 s: the late batch gives the same, not a firing for every
    // trace whose deadline had passed when it arrived.
    let long = alerts_of(&r, "LONG_CHECKOUT", |a| !a.is_empty()).await;
    assert_eq!(long.len(), 1, "{long:?}");
    let stuck = alerts_of(&r, "STUCK_QUERY", |a| !a.is_empty()).await;
    assert_eq!(stuck.len(), 1, "only the 2 s query: {stuck:?}");
    assert_eq!(stuck[0]["context"], "stock", "{stuck:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_exported_before_their_root_wait_for_it_or_end_as_their_own_run() {
    let dir = data_dir("otlp-hold");
    let r = start(&dir, |c| {
        c.collector.enabled = false;
        c.otlp.hold_seconds = 1;
    })
    .await;
    activate(&r).await;
    // A long checkout: its slow query is exported first, the root in a later export.
    let t0 = now_ns() - 30_000 * MS;
    let query = span(6, 2, 1, "db.query", t0 + 10 * MS, t0 + 500 * MS);
    let (s, _, _) = post(
        &r,
        "/v1/traces",
        PROTOBUF,
        traces(vec![query]).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(s, 200);
    let mut root = span(6, 1, 0, "checkout", t0, t0 + 800 * MS);
    root.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Status::default()
    });
    let (s, _, _) = post(
        &r,
        "/v1/traces",
        PROTOBUF,
        traces(vec![root]).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(s, 200);
    let slow = alerts_of(&r, "SLOW_QUERY", |a| !a.is_empty()).await;
    // Evaluated in the run the root opened, not one the query opened on its own.
    assert_eq!(slow[0]["process_name"], "checkout", "{slow:?}");
    assert_eq!(slow[0]["process"], "06060606060606060606060606060606");

    // A query whose root never comes: after hold_seconds, a run of its own, named by the
    // service and stopped at its end, so no run is left open.
    let orphan = span(7, 2, 1, "db.query", t0 + 10 * MS, t0 + 500 * MS);
    let (s, _, _) = post(
        &r,
        "/v1/traces",
        PROTOBUF,
        traces(vec![orphan]).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(s, 200);
    let slow = alerts_of(&r, "SLOW_QUERY", |a| a.len() == 2).await;
    assert_eq!(slow.len(), 2, "{slow:?}");
    let alone = slow
        .iter()
        .find(|a| a["process"] == "07070707070707070707070707070707")
        .expect("the orphan's alert");
    assert_eq!(alone["process_name"], "shop", "{alone}");
    let open = r.text("/monitoring/prometheus").await;
    assert!(
        open.lines().any(|l| l == "klaxon_open_processes 0"),
        "{open}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_records_in_otlp_json_raise_log_alerts() {
    let dir = data_dir("otlp-logs");
    let r = start(&dir, |c| c.collector.enabled = false).await;
    activate(&r).await;
    let t = now_ns();
    let body = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": t.to_string(), "severityNumber": 17, "severityText": "ERROR",
             "body": {"stringValue": "Payment declined for order 7"},
             "traceId": "0202020202020202020202020202020a", "spanId": "0303030303030303"},
            {"timeUnixNano": t.to_string(), "severityNumber": 9,
             "body": {"stringValue": "payment declined, retrying"}}
        ]}]
    }]});
    let (s, head, answer) = post(
        &r,
        "/v1/logs",
        "application/json",
        body.to_string().into_bytes(),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&answer));
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(
        serde_json::from_slice::<Value>(&answer).expect("JSON"),
        json!({})
    );
    let a = alerts_of(&r, "PAYMENT_LOG", |a| !a.is_empty()).await;
    assert_eq!(a.len(), 1, "the INFO record does not match ERROR|…: {a:?}");
    assert_eq!(
        a[0]["process"], "shop",
        "its service's run, whatever its trace: {a:?}"
    );
    r.stop().await;
}

fn gauge_point(t: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        attributes: vec![kv("queue", "mail")],
        ..NumberDataPoint::default()
    }
}

fn metrics(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

fn counter(start: u64, t: u64, v: f64) -> Metric {
    Metric {
        name: "http.requests".to_owned(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                start_time_unix_nano: start,
                ..gauge_point(t, v)
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Metric::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_sums_as_rates_and_histograms_feed_threshold_rules() {
    let dir = data_dir("otlp-metrics");
    let r = start(&dir, |c| c.collector.enabled = false).await;
    let doc = json!({"header": {"rule_set": "otel-metrics"}, "rules": [
        {"id": "deep_queue", "metric": "queue.depth", "threshold": 10, "operator": "gt",
         "labels": {"service.name": "shop", "queue": "mail"}},
        {"id": "busy", "metric": "http.requests", "threshold": 5, "operator": "gt"},
        {"id": "slow_p99", "metric": "latency.p99", "threshold": 400, "operator": "gt"},
        {"id": "many", "metric": "latency.count", "threshold": 9, "operator": "gt"}
    ]});
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules?group=ops", &doc.to_string())
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = r
        .admin(
            "POST",
            "/v1/threshold-rules/otel-metrics/1/activate?group=ops",
            "",
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let t = now_ns() - 20_000 * MS;
    let first = metrics(vec![
        Metric {
            name: "queue.depth".to_owned(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![gauge_point(t, 12.0)],
            })),
            ..Metric::default()
        },
        counter(t - 1_000 * MS, t, 0.0),
        Metric {
            name: "latency".to_owned(),
            data: Some(Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: t,
                    count: 10,
                    sum: Some(3_000.0),
                    bucket_counts: vec![2, 8, 0],
                    explicit_bounds: vec![100.0, 500.0],
                    ..HistogramDataPoint::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Metric::default()
        },
    ]);
    let (s, _, answer) = post(&r, "/v1/metrics", PROTOBUF, first.encode_to_vec(), &[]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&answer));
    // The counter's second point, 10 s and 100 requests later: 10 per second.
    let second = metrics(vec![counter(t - 1_000 * MS, t + 10_000 * MS, 100.0)]);
    let (s, _, answer) = post(&r, "/v1/metrics", PROTOBUF, second.encode_to_vec(), &[]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&answer));

    let deep = alerts_of(&r, "deep_queue", |a| !a.is_empty()).await;
    assert_eq!(deep[0]["labels"]["queue"], "mail", "{deep:?}");
    let busy = alerts_of(&r, "busy", |a| !a.is_empty()).await;
    assert_eq!(busy[0]["value"], 10, "{busy:?}");
    let p99 = alerts_of(&r, "slow_p99", |a| !a.is_empty()).await;
    assert_eq!(p99[0]["value"], 495, "{p99:?}");
    let many = alerts_of(&r, "many", |a| !a.is_empty()).await;
    assert_eq!(many[0]["value"], 10, "{many:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_otlp_errors_and_bad_items_cost_only_themselves() {
    let dir = data_dir("otlp-bad");
    let r = start(&dir, |c| {
        c.collector.enabled = false;
        c.ingest.max_line_bytes = 4096;
    })
    .await;
    activate(&r).await;
    // Not protobuf: 400 with a google.rpc.Status in protobuf.
    let (s, head, body) = post(&r, "/v1/traces", PROTOBUF, vec![0xff, 0xff, 0xff], &[]).await;
    assert_eq!(s, 400);
    assert!(
        head.contains("content-type: application/x-protobuf"),
        "{head}"
    );
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let st = RpcStatus::decode(&body[..]).expect("a google.rpc.Status");
    assert_eq!(st.code, 3, "INVALID_ARGUMENT");
    assert!(st.message.contains("invalid protobuf"), "{}", st.message);
    // Not OTLP/JSON: 400 with the Status as JSON, naming where.
    let bad = br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}"#;
    let (s, _, body) = post(&r, "/v1/traces", "application/json", bad.to_vec(), &[]).await;
    assert_eq!(s, 400);
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(v["code"], 3, "{v}");
    let m = v["message"].as_str().unwrap_or_default();
    assert!(
        m.contains("resourceSpans[0].scopeSpans[0].spans[0].traceId"),
        "{m}"
    );
    // Neither: 415.
    let (s, _, _) = post(&r, "/v1/logs", "text/plain", b"hello".to_vec(), &[]).await;
    assert_eq!(s, 415);
    // Without a token: 401 before the body is read.
    let (s, _, _) = r
        .request_bytes(
            "POST",
            "/v1/traces",
            &[("content-type", PROTOBUF)],
            vec![0xff],
        )
        .await;
    assert_eq!(s, 401);

    // A partly bad export: a span without a trace id and one over the signal limit are
    // refused and counted; the good one still raises its alert.
    let t0 = now_ns() - 10_000 * MS;
    let mut root = span(4, 1, 0, "checkout", t0, t0 + 10 * MS);
    root.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Status::default()
    });
    let mut no_trace = span(0, 2, 1, "db.query", t0, t0 + MS);
    no_trace.trace_id = vec![];
    let mut huge = span(4, 3, 1, "db.query", t0, t0 + MS);
    huge.attributes = vec![kv("blob", &"x".repeat(5000))];
    let body = traces(vec![no_trace, huge, root]).encode_to_vec();
    let (s, _, answer) = post(&r, "/v1/traces", PROTOBUF, body, &[]).await;
    assert_eq!(s, 200);
    let partial = ExportTraceServiceResponse::decode(&answer[..])
        .expect("a response")
        .partial_success
        .expect("a partial success");
    assert_eq!(partial.rejected_spans, 2, "{partial:?}");
    assert!(
        partial.error_message.contains("trace_id: must be 16 bytes"),
        "{partial:?}"
    );
    assert!(
        partial.error_message.contains("over 4096 bytes"),
        "{partial:?}"
    );
    let failed = alerts_of(&r, "FAILED", |a| !a.is_empty()).await;
    assert_eq!(failed[0]["process"], "04040404040404040404040404040404");

    // The same in OTLP/JSON: the count is an int64, a string.
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "", "spanId": "0101010101010101", "name": "x",
         "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    ]}]}]});
    let (s, _, answer) = post(
        &r,
        "/v1/traces",
        "application/json",
        body.to_string().into_bytes(),
        &[],
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_slice(&answer).expect("JSON");
    assert_eq!(v["partialSuccess"]["rejectedSpans"], "1", "{v}");
    r.stop().await;
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_inflate_within_their_bound() {
    let dir = data_dir("otlp-gzip");
    let r = start(&dir, |c| {
        c.collector.enabled = false;
        c.otlp.max_inflated_bytes = 64 << 10;
    })
    .await;
    activate(&r).await;
    let t0 = now_ns() - 10_000 * MS;
    let mut root = span(5, 1, 0, "checkout", t0, t0 + 10 * MS);
    root.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Status::default()
    });
    let body = gzip(&traces(vec![root]).encode_to_vec());
    let gz = [("content-encoding", "gzip")];
    let (s, _, answer) = post(&r, "/v1/traces", PROTOBUF, body, &gz).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&answer));
    let failed = alerts_of(&r, "FAILED", |a| !a.is_empty()).await;
    assert_eq!(failed[0]["process"], "05050505050505050505050505050505");

    // 1 MiB of zeros gzips to about 1 KiB and would inflate past the 64 KiB bound.
    let bomb = gzip(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 4096);
    let (s, _, answer) = post(&r, "/v1/traces", PROTOBUF, bomb, &gz).await;
    assert_eq!(s, 413, "{}", String::from_utf8_lossy(&answer));
    let v: Value = serde_json::from_slice(&answer).expect("JSON");
    let m = v["error"]["message"].as_str().unwrap_or_default();
    assert!(m.contains("max_inflated_bytes"), "{v}");
    // Not gzip at all: 400.
    let (s, _, _) = post(&r, "/v1/traces", PROTOBUF, b"plain".to_vec(), &gz).await;
    assert_eq!(s, 400);
    // An encoding OTLP does not use: 415.
    let (s, _, _) = post(
        &r,
        "/v1/traces",
        PROTOBUF,
        b"x".to_vec(),
        &[("content-encoding", "br")],
    )
    .await;
    assert_eq!(s, 415);
    r.stop().await;
}

/// The OpenTelemetry Python SDK's packages, or why they are missing (a failure when
/// KLAXON_REQUIRE_PEERS=1, as in CI, which installs them).
fn python_sdk() -> Option<()> {
    let require = std::env::var("KLAXON_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    let probe = std::process::Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http",
        ])
        .output();
    let why = match probe {
        Ok(o) if o.status.success() => return Some(()),
        Ok(_) => "python3 has no OpenTelemetry SDK (pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http)".to_owned(),
        Err(e) => format!("no python3: {e}"),
    };
    assert!(!require, "KLAXON_REQUIRE_PEERS=1 but {why}");
    println!("skipped: {why}");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_raises_an_alert_of_each_kind() {
    if python_sdk().is_none() {
        return;
    }
    let dir = data_dir("otlp-sdk");
    let r = serve(&dir, |c| c.collector.enabled = false).await;
    activate(&r).await;
    let doc = json!({"header": {"rule_set": "sdk"}, "rules": [
        {"id": "deep_queue", "metric": "queue.depth", "threshold": 10, "operator": "gt",
         "labels": {"service.name": "shop", "queue": "mail"}}
    ]});
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules?group=ops", &doc.to_string())
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules/sdk/1/activate?group=ops", "")
        .await;
    assert_eq!(s, 200, "{v}");

    let base = format!("http://{}", r.addr());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/otel_sdk.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &base, ADMIN])
            .output()
    })
    .await
    .expect("joined")
    .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let failed = alerts_of(&r, "FAILED", |a| !a.is_empty()).await;
    assert_eq!(failed.len(), 1, "the failed checkout: {failed:?}");
    let trace = failed[0]["process"].as_str().unwrap_or_default().to_owned();
    assert_eq!(trace.len(), 32, "{failed:?}");
    let slow = alerts_of(&r, "SLOW_QUERY", |a| !a.is_empty()).await;
    assert_eq!(slow[0]["context"], "orders", "{slow:?}");
    assert_eq!(slow[0]["process"], trace.as_str(), "{slow:?}");
    let miss = alerts_of(&r, "MISS", |a| !a.is_empty()).await;
    assert_eq!(miss[0]["process"], trace.as_str(), "{miss:?}");
    let logged = alerts_of(&r, "PAYMENT_LOG", |a| !a.is_empty()).await;
    assert_eq!(
        logged[0]["process"], "shop",
        "the log record's service: {logged:?}"
    );
    let deep = alerts_of(&r, "deep_queue", |a| !a.is_empty()).await;
    assert_eq!(deep[0]["labels"]["queue"], "mail", "{deep:?}");
    r.stop().await;
}
