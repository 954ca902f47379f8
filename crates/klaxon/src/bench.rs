//! `klaxon bench`: a load generator for `POST /v1/signals` (or, with `--otlp`, OTLP/HTTP span
//! exports to `POST /v1/traces`) and its report.
//! Owns the workload (rule set and pre-built NDJSON bodies), pacing over keep-alive connections,
//! client-side latency and the server-side figures read from `/monitoring/prometheus`.
//! It only talks to the URL it is given and stops by itself after `--duration`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, StatusCode, Uri};
use serde::Deserialize;
use serde_json::json;

use crate::client::{query, Client, Reply, Target};

/// The group the bench's rule set is activated in; every bench signal names it.
const GROUP: &str = "bench";
/// Rules that never fire, as in the engine's benchmark workload.
const QUIET_RULES: usize = 1000;
/// Keys (action, context) each process touches per round; the first 60 % take marks.
const KEYS_PER_PROCESS: usize = 10;
const ACTIONS: usize = 100;
const CONTEXTS: usize = 10;
/// The largest batch: every connection keeps about one batch of pre-built signals.
const MAX_BATCH: usize = 50_000;
/// A request taking longer than this counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests still unanswered this long after `--duration` count as errors.
const GRACE: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
    /// Concurrent keep-alive connections, each sending one request at a time.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Signals per request (NDJSON lines).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Target total signals per second over all connections; 0 sends as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Distinct processes (runs) the signals belong to.
    #[arg(long, default_value_t = 1000)]
    processes: usize,
    /// Percentage of signals that fire an alert (marks of the `HOT` action).
    #[arg(long, default_value_t = 0.0)]
    fire_pct: f64,
    /// Send with `?wait=durable`: each answer waits until the telemetry is committed.
    #[arg(long)]
    wait_durable: bool,
    /// Send OTLP/HTTP protobuf span exports to `/v1/traces` instead of NDJSON: each request
    /// carries `--batch`/2 spans (a span is two signals), traces of one root span and nine
    /// children whose names and contexts are the NDJSON workload's actions and contexts.
    #[arg(long)]
    otlp: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    validate(args)?;
    let client = Client::new(&args.target)?;
    let threads = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .min(4);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(bench(args, client))?;
    if args.json {
        println!("{}", report.to_json(args));
    } else {
        print!("{}", report.to_text(args));
    }
    Ok(if report.client.accepted > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn validate(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&args.connections),
        "--connections must be 1..=10000"
    );
    anyhow::ensure!(
        args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3600.0,
        "--duration must be more than 0 and at most 3600 seconds"
    );
    anyhow::ensure!(
        (1..=MAX_BATCH).contains(&args.batch),
        "--batch must be 1..={MAX_BATCH}"
    );
    anyhow::ensure!(
        (1..=1_000_000).contains(&args.processes),
        "--processes must be 1..=1000000"
    );
    anyhow::ensure!(
        (0.0..=100.0).contains(&args.fire_pct),
        "--fire-pct must be 0..=100"
    );
    anyhow::ensure!(
        !args.otlp || (!args.wait_durable && args.fire_pct == 0.0 && args.batch >= 2),
        "--otlp takes neither --wait-durable nor --fire-pct, and a --batch of at least 2"
    );
    Ok(())
}

async fn bench(args: &Args, client: Client) -> anyhow::Result<Report> {
    let rule_set = setup(args, &client).await?;
    let before = scrape(&client).await.ok();
    let lanes: Vec<Lane> = (0..args.connections)
        .map(|c| Lane::build(c, args))
        .collect();
    let path = if args.otlp {
        "/v1/traces"
    } else if args.wait_durable {
        "/v1/signals?wait=durable"
    } else {
        "/v1/signals"
    };
    let uri = client.uri(path)?;
    let interval = (args.rate > 0).then(|| {
        let per_conn = args.rate as f64 / args.connections as f64;
        Duration::from_secs_f64(args.batch as f64 / per_conn)
    });

    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.duration);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let monitor = tokio::spawn(watch_rss(client.clone(), stop_rx));
    let workers: Vec<_> = lanes
        .into_iter()
        .enumerate()
        .map(|(c, lane)| {
            let client = client.clone();
            let uri = uri.clone();
            // Spread the connections' first requests over one interval.
            let first = interval.map_or(start, |iv| {
                start + iv.mul_f64(c as f64 / args.connections as f64)
            });
            tokio::spawn(worker(
                client, uri, lane, first, interval, deadline, args.otlp,
            ))
        })
        .collect();
    let mut tally = Tally::default();
    for w in workers {
        tally.merge(w.await.context("a bench connection task failed")?);
    }
    let elapsed = start.elapsed();
    let _ = stop_tx.send(true);
    let rss_peak = monitor.await.unwrap_or(None);

    let after = settle(&client, before.as_ref(), tally.accepted).await;
    let server = after
        .as_ref()
        .map(|a| ServerFigures::from_scrapes(before.as_ref(), a, rss_peak));
    Ok(Report {
        rule_set,
        elapsed,
        client: tally,
        server,
    })
}

/// Stores and activates the bench's rule set in group `bench`; returns "name version N".
async fn setup(args: &Args, client: &Client) -> anyhow::Result<String> {
    let doc = rule_set(args.fire_pct > 0.0);
    let path = format!(
        "/v1/rulesets{}",
        query(&[
            ("group", Some(GROUP)),
            ("author", Some("klaxon-bench")),
            ("name", Some("bench")),
        ])
    );
    let reply = client.post_json(&path, doc.to_string()).await?;
    if !reply.is_success() {
        anyhow::bail!("storing the bench rule set: {}", reply.error());
    }
    #[derive(Deserialize)]
    struct Stored {
        name: String,
        version: i64,
    }
    let stored: Stored = reply.json()?;
    let path = format!(
        "/v1/rulesets/{}/{}/activate{}",
        crate::client::encode(&stored.name),
        stored.version,
        query(&[("group", Some(GROUP))])
    );
    let reply = client.post_json(&path, "").await?;
    if !reply.is_success() {
        anyhow::bail!("activating the bench rule set: {}", reply.error());
    }
    Ok(format!("{} version {}", stored.name, stored.version))
}

/// The engine benchmark's rule set as JSON: 1,000 measuring rules whose limits no bench signal
/// reaches, plus a rule on `HOT` (never throttled) when some signals should fire: it fires on
/// every `HOT` mark (`MAX_OCCURRENCE 0`) and its message carries the mark's count, so every
/// firing changes its alert and is committed at once (an identical resend would be written
/// within a second instead, folded, and measure that second).
fn rule_set(hot: bool) -> serde_json::Value {
    let mut rules = Vec::with_capacity(QUIET_RULES + 1);
    for r in 0..QUIET_RULES {
        let (trigger, operator, value) = match r % 4 {
            0 => (
                "MARK_EVENT",
                "MAX_DURATION_MS",
                json!(1_000_000_000_000_u64),
            ),
            1 => ("TRACE_STOP", "MAX_OCCURRENCE", json!(1_000_000_000_000_u64)),
            2 => ("MARK_EVENT", "MAX_GAP_SECONDS", json!(1_000_000_000_u64)),
            _ => ("TRACE_STOP", "AVG_DEVIATION_PCT", json!("1000000000|3|0.1")),
        };
        let mut rule = json!({
            "id": format!("R{r:04}"),
            "trigger_type": trigger,
            "action": action(r),
            "condition": {"operator": operator, "value": value},
            "alert": {"handler": "bench", "severity": "medium", "throttle_seconds": 0},
        });
        if r < QUIET_RULES * 4 / 5 {
            rule["context"] = json!(context(r / ACTIONS));
        }
        rules.push(rule);
    }
    if hot {
        rules.push(json!({
            "id": "HOT",
            "trigger_type": "MARK_EVENT",
            "action": "HOT",
            "condition": {"operator": "MAX_OCCURRENCE", "value": 0},
            "alert": {"handler": "bench", "severity": "low", "throttle_seconds": 0},
        }));
    }
    json!({
        "header": {"rule_set": "bench", "description": "klaxon bench: quiet measuring rules"},
        "rules": rules,
    })
}

fn action(i: usize) -> String {
    format!("ACTION_{:03}", i % ACTIONS)
}

fn context(i: usize) -> String {
    format!("CTX_{}", i % CONTEXTS)
}

/// One connection's pre-built signals: its processes' cycle (two rounds over every key: marks,
/// trace starts in the first round and their stops in the second) laid out once, long enough
/// that every batch is a zero-copy slice of it.
struct Lane {
    buf: Bytes,
    /// Byte offset where signal `i` starts; one more entry than signals.
    offsets: Vec<usize>,
    /// How many of the signals before `i` are `HOT`; one more entry than signals.
    hot_before: Vec<u32>,
    cycle: usize,
    batch: usize,
    /// With `--otlp`: the lane's protobuf span exports, sent in turn (each `batch` signals).
    otlp: Vec<Bytes>,
}

impl Lane {
    /// Lane `c` owns the processes `p` with `p % connections == c` (or shares one when there are
    /// fewer processes than connections), so a trace's start and stop travel in order.
    fn build(c: usize, args: &Args) -> Lane {
        if args.otlp {
            return Lane {
                buf: Bytes::new(),
                offsets: Vec::new(),
                hot_before: Vec::new(),
                cycle: 0,
                batch: args.batch / 2 * 2,
                otlp: otlp_bodies(c, args.batch / 2),
            };
        }
        let mut procs: Vec<usize> = (c..args.processes).step_by(args.connections).collect();
        if procs.is_empty() {
            procs.push(c % args.processes);
        }
        let marks = KEYS_PER_PROCESS * 6 / 10;
        let share = args.fire_pct / 100.0;
        // A phase per lane spreads the rounding of the hot share over the lanes.
        let phase = c as f64 / args.connections as f64;
        let mut cycle: Vec<(String, bool)> = Vec::new();
        for round in 0..2 {
            for &p in &procs {
                for k in 0..KEYS_PER_PROCESS {
                    let i = cycle.len() as f64;
                    let hot = share > 0.0
                        && ((i + 1.0) * share + phase).floor() > (i * share + phase).floor();
                    let kind = if hot || k < marks {
                        "mark"
                    } else if round == 0 {
                        "trace_start"
                    } else {
                        "trace_stop"
                    };
                    let head = format!(
                        r#"{{"kind":"{kind}","process":"bench-{p:06}","name":"JOB_{}","group":"{GROUP}","#,
                        p % 10
                    );
                    let line = if hot {
                        format!("{head}\"action\":\"HOT\"}}\n")
                    } else {
                        format!(
                            "{head}\"action\":\"{}\",\"context\":\"{}\"}}\n",
                            action(p + k * 7),
                            context(k)
                        )
                    };
                    cycle.push((line, hot));
                }
            }
        }
        let n = cycle.len() - 1 + args.batch;
        let mut buf = Vec::with_capacity(n * cycle[0].0.len());
        let mut offsets = Vec::with_capacity(n + 1);
        let mut hot_before = Vec::with_capacity(n + 1);
        let mut hot_count = 0_u32;
        for i in 0..n {
            let (line, hot) = &cycle[i % cycle.len()];
            offsets.push(buf.len());
            hot_before.push(hot_count);
            buf.extend_from_slice(line.as_bytes());
            hot_count += u32::from(*hot);
        }
        offsets.push(buf.len());
        hot_before.push(hot_count);
        Lane {
            buf: Bytes::from(buf),
            offsets,
            hot_before,
            cycle: cycle.len(),
            batch: args.batch,
            otlp: Vec::new(),
        }
    }

    /// The `k`-th request body of this lane and how many of its signals are `HOT`.
    fn body(&self, k: u64) -> (Bytes, u64) {
        if !self.otlp.is_empty() {
            return (self.otlp[(k % self.otlp.len() as u64) as usize].clone(), 0);
        }
        let start = ((k as u128 * self.batch as u128) % self.cycle as u128) as usize;
        let end = start + self.batch;
        let hot = self.hot_before[end] - self.hot_before[start];
        (
            self.buf.slice(self.offsets[start]..self.offsets[end]),
            u64::from(hot),
        )
    }
}

/// OTLP span exports a lane sends in turn.
const OTLP_BODIES: usize = 16;
/// Spans of one bench trace: a root and its children.
const SPANS_PER_TRACE: usize = 10;

/// Lane `c`'s OTLP/HTTP bodies, each an `ExportTraceServiceRequest` of `spans` spans: traces
/// of a root span (`JOB_n`, the NDJSON workload's process names) and nine children (its actions
/// and contexts, the context as the `klaxon.context` attribute), ended 5 s before the bench
/// started as an SDK's export would carry them, in the bench's group (`klaxon.group`).
fn otlp_bodies(c: usize, spans: usize) -> Vec<Bytes> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    let kv = |k: &str, v: String| KeyValue {
        key: k.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..KeyValue::default()
    };
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let base = now_ns.saturating_sub(10_000_000_000);
    let ms = 1_000_000_u64;
    (0..OTLP_BODIES)
        .map(|b| {
            let mut out = Vec::with_capacity(spans);
            let mut t = 0_usize;
            while out.len() < spans {
                let id = ((c as u128) << 64) | ((b as u128) << 32) | (t as u128 + 1);
                let trace_id = id.to_be_bytes().to_vec();
                let p = c * 1000 + t;
                let root_id = 1_u64.to_be_bytes().to_vec();
                let start = base + (t as u64 % 100) * ms;
                out.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: root_id.clone(),
                    name: format!("JOB_{}", p % 10),
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + 100 * ms,
                    ..Span::default()
                });
                for k in 1..SPANS_PER_TRACE {
                    if out.len() == spans {
                        break;
                    }
                    let s = start + k as u64 * 5 * ms;
                    out.push(Span {
                        trace_id: trace_id.clone(),
                        span_id: (k as u64 + 1).to_be_bytes().to_vec(),
                        parent_span_id: root_id.clone(),
                        name: action(p + k * 7),
                        start_time_unix_nano: s,
                        end_time_unix_nano: s + 4 * ms,
                        attributes: vec![kv("klaxon.context", context(k))],
                        ..Span::default()
                    });
                }
                t += 1;
            }
            let req = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            kv("service.name", "bench".to_owned()),
                            kv("klaxon.group", GROUP.to_owned()),
                        ],
                        ..Resource::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans: out,
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                }],
            };
            Bytes::from(req.encode_to_vec())
        })
        .collect()
}

/// What one connection (or all of them) saw.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    /// Signals in every request sent, resends after a 429 included.
    sent: u64,
    hot_sent: u64,
    accepted: u64,
    rejected: u64,
    throttled: u64,
    errors: u64,
    first_error: Option<String>,
    /// Latency of every answered request, in microseconds.
    latencies_us: Vec<u64>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.requests += o.requests;
        self.sent += o.sent;
        self.hot_sent += o.hot_sent;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.throttled += o.throttled;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.latencies_us.extend(o.latencies_us);
    }

    fn error(&mut self, e: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }
}

#[derive(Deserialize)]
struct Ack {
    accepted: u64,
    #[serde(default)]
    rejected: Vec<serde::de::IgnoredAny>,
}

/// Sends the lane's bodies one request at a time until `deadline`; paced to one request per
/// `interval` when given (catching up after a slow answer).
async fn worker(
    client: Client,
    uri: Uri,
    lane: Lane,
    first: Instant,
    interval: Option<Duration>,
    deadline: Instant,
    otlp: bool,
) -> Tally {
    let ctype = if otlp {
        "application/x-protobuf"
    } else {
        "application/x-ndjson"
    };
    let mut t = Tally::default();
    let deadline = tokio::time::Instant::from_std(deadline);
    let mut next = tokio::time::Instant::from_std(first);
    let mut k = 0_u64;
    loop {
        if let Some(iv) = interval {
            if next >= deadline {
                break;
            }
            tokio::time::sleep_until(next).await;
            next += iv;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        let (body, hot) = lane.body(k);
        k += 1;
        let req = match client
            .request(Method::POST, uri.clone())
            .header(CONTENT_TYPE, ctype)
            .body(Full::new(body))
        {
            Ok(r) => r,
            Err(e) => {
                t.error(e);
                break;
            }
        };
        t.requests += 1;
        t.sent += lane.batch as u64;
        t.hot_sent += hot;
        let sent_at = Instant::now();
        let give_up = (tokio::time::Instant::now() + REQUEST_TIMEOUT).min(deadline + GRACE);
        let answer = tokio::time::timeout_at(give_up, async {
            let resp = client.execute(req).await?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((parts, body))
        })
        .await;
        let reply = match answer {
            Ok(Ok((parts, body))) => Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            },
            Ok(Err(e)) => {
                t.error(format!("{e:#}"));
                // Do not spin on a server that refuses connections.
                let pause = tokio::time::Instant::now() + Duration::from_millis(100);
                tokio::time::sleep_until(deadline.min(pause)).await;
                continue;
            }
            Err(_) => {
                t.error(format!(
                    "no answer within {:.1} s",
                    sent_at.elapsed().as_secs_f64()
                ));
                continue;
            }
        };
        t.latencies_us
            .push(u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX));
        match reply.status {
            StatusCode::OK if otlp => {
                use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
                use prost::Message;
                match ExportTraceServiceResponse::decode(&reply.body[..]) {
                    Ok(r) => {
                        let refused = r.partial_success.map_or(0, |p| p.rejected_spans);
                        let refused = u64::try_from(refused).unwrap_or(0) * 2;
                        t.accepted += (lane.batch as u64).saturating_sub(refused);
                        t.rejected += refused;
                    }
                    Err(e) => t.error(format!("POST /v1/traces: {e}")),
                }
            }
            StatusCode::OK => match reply.json::<Ack>() {
                Ok(ack) => {
                    t.accepted += ack.accepted;
                    t.rejected += ack.rejected.len() as u64;
                }
                Err(e) => t.error(format!("POST /v1/signals: {e:#}")),
            },
            StatusCode::TOO_MANY_REQUESTS => {
                t.throttled += 1;
                // A long streamed body may have had its first chunks accepted; the rest was not.
                let partial = reply.error().details["accepted"].as_u64().unwrap_or(0);
                t.accepted += partial;
                if partial == 0 {
                    // Nothing was taken: send the same body again, so traces stay paired.
                    k -= 1;
                }
                let wait = reply.retry_after().unwrap_or(Duration::from_secs(1));
                let until = deadline.min(tokio::time::Instant::now() + wait);
                tokio::time::sleep_until(until).await;
                // Nothing of the refused request was accepted; do not burst to catch up.
                next = next.max(until);
            }
            _ => t.error(reply.error()),
        }
    }
    t
}

/// Samples the server's resident memory about once a second; returns the largest seen.
async fn watch_rss(client: Client, mut stop: tokio::sync::watch::Receiver<bool>) -> Option<f64> {
    let mut peak: Option<f64> = None;
    loop {
        tokio::select! {
            s = scrape(&client) => {
                if let Some(rss) = s.ok().and_then(|s| s.total("process_resident_memory_bytes")) {
                    peak = Some(peak.map_or(rss, |p| p.max(rss)));
                }
            }
            _ = stop.changed() => return peak,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return peak,
        }
    }
}

/// Scrapes until the telemetry and alert histograms stop moving (the store flushes telemetry
/// in batches), for at most 6 s.
async fn settle(client: &Client, before: Option<&Scrape>, accepted: u64) -> Option<Scrape> {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(6);
    let counts = |s: &Scrape| {
        let n = |name: &str| {
            let now = s.total(&format!("{name}_count")).unwrap_or(0.0);
            let then = before
                .and_then(|b| b.total(&format!("{name}_count")))
                .unwrap_or(0.0);
            now - then
        };
        (
            n("klaxon_telemetry_lag_seconds"),
            n("klaxon_alert_publish_latency_seconds"),
        )
    };
    let mut last: Option<(Scrape, (f64, f64), Instant)> = None;
    loop {
        let Ok(Ok(s)) = tokio::time::timeout_at(give_up, scrape(client)).await else {
            return last.map(|l| l.0);
        };
        let c = counts(&s);
        let stable_since = match &last {
            Some((_, prev, since)) if *prev == c => *since,
            _ => Instant::now(),
        };
        let done = c.0 >= accepted as f64
            || stable_since.elapsed() >= Duration::from_secs(2)
            || tokio::time::Instant::now() >= give_up;
        if done {
            return Some(s);
        }
        last = Some((s, c, stable_since));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn scrape(client: &Client) -> anyhow::Result<Scrape> {
    let reply = client.get("/monitoring/prometheus").await?;
    if !reply.is_success() {
        anyhow::bail!("GET /monitoring/prometheus: {}", reply.error());
    }
    Ok(Scrape::parse(&String::from_utf8_lossy(&reply.body)))
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A parsed `/monitoring/prometheus` answer.
#[derive(Debug, Default)]
struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the text format; lines it cannot read are skipped.
    fn parse(text: &str) -> Scrape {
        Scrape {
            samples: text.lines().filter_map(parse_sample).collect(),
        }
    }

    /// The sum of every series called `name`.
    fn total(&self, name: &str) -> Option<f64> {
        let mut found = None;
        for s in self.samples.iter().filter(|s| s.name == name) {
            *found.get_or_insert(0.0) += s.value;
        }
        found
    }

    /// The histogram `name`, its buckets summed over every other label.
    fn histogram(&self, name: &str) -> Option<Histogram> {
        let bucket = format!("{name}_bucket");
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for s in self.samples.iter().filter(|s| s.name == bucket) {
            let Some(le) = s
                .labels
                .iter()
                .find(|(k, _)| k == "le")
                .and_then(|(_, v)| v.parse::<f64>().ok())
            else {
                continue;
            };
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, n)) => *n += s.value,
                None => buckets.push((le, s.value)),
            }
        }
        if buckets.is_empty() {
            return None;
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(Histogram { buckets })
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let end;
        loop {
            while chars
                .next_if(|(_, c)| *c == ',' || c.is_whitespace())
                .is_some()
            {}
            let (i, c) = chars.next()?;
            if c == '}' {
                end = i + 1;
                break;
            }
            let mut key = String::from(c);
            while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=') {
                key.push(c);
            }
            chars.next()?; // '='
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            labels.push((key.trim().to_owned(), value));
        }
        rest = &after[end..];
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Cumulative buckets `(le, count)`, ascending by `le`.
#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    buckets: Vec<(f64, f64)>,
}

impl Histogram {
    /// What was observed since `earlier`.
    fn since(&self, earlier: &Histogram) -> Histogram {
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, n)| {
                    let then = earlier
                        .buckets
                        .iter()
                        .find(|(b, _)| *b == le)
                        .map_or(0.0, |b| b.1);
                    (le, (n - then).max(0.0))
                })
                .collect(),
        }
    }

    fn count(&self) -> f64 {
        self.buckets.last().map_or(0.0, |b| b.1)
    }

    /// The `q`-quantile, interpolated linearly inside its bucket as Prometheus'
    /// `histogram_quantile` does; in the `+Inf` bucket, the largest finite bound, marked open.
    fn quantile(&self, q: f64) -> Option<Quantile> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut lower = 0.0;
        let mut below = 0.0;
        for &(le, n) in &self.buckets {
            if n >= rank && n > below {
                if le.is_infinite() {
                    break;
                }
                let secs = lower + (le - lower) * (rank - below) / (n - below);
                return Some(Quantile { secs, open: false });
            }
            lower = le;
            below = n;
        }
        Some(Quantile {
            secs: lower,
            open: true,
        })
    }
}

/// A quantile read from histogram buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quantile {
    secs: f64,
    /// It fell in the `+Inf` bucket: the true value is above `secs`, the top finite bound.
    open: bool,
}

impl Quantile {
    fn text(self) -> String {
        let ms = self.secs * 1000.0;
        if self.open {
            format!("> {ms:.1} ms")
        } else {
            format!("{ms:.1} ms")
        }
    }

    fn json(self) -> serde_json::Value {
        json!({"ms": self.secs * 1000.0, "above_top_bucket": self.open})
    }
}

/// Latency figures of one server histogram over the run.
#[derive(Debug, Clone, Copy)]
struct Quantiles {
    p50: Option<Quantile>,
    p99: Option<Quantile>,
    count: f64,
}

impl Quantiles {
    fn of(before: Option<&Scrape>, after: &Scrape, name: &str) -> Option<Quantiles> {
        let mut h = after.histogram(name)?;
        if let Some(b) = before.and_then(|b| b.histogram(name)) {
            h = h.since(&b);
        }
        Some(Quantiles {
            p50: h.quantile(0.5),
            p99: h.quantile(0.99),
            count: h.count(),
        })
    }
}

/// What the server says about the run.
#[derive(Debug)]
struct ServerFigures {
    alert_publish: Option<Quantiles>,
    telemetry_lag: Option<Quantiles>,
    store_commit: Option<Quantiles>,
    alert_commit: Option<Quantiles>,
    /// The parts of the alert publish latency before the commit.
    engine_queue_wait: Option<Quantiles>,
    alert_handoff: Option<Quantiles>,
    alert_in_lifecycle: Option<Quantiles>,
    alerts_fired: Option<f64>,
    alerts_throttled: Option<f64>,
    ingest_throttled: Option<f64>,
    rss: Option<f64>,
    rss_peak: Option<f64>,
}

impl ServerFigures {
    fn from_scrapes(before: Option<&Scrape>, after: &Scrape, rss_peak: Option<f64>) -> Self {
        let delta = |name: &str| {
            let now = after.total(name)?;
            Some(now - before.and_then(|b| b.total(name)).unwrap_or(0.0))
        };
        let rss = after.total("process_resident_memory_bytes");
        ServerFigures {
            alert_publish: Quantiles::of(before, after, "klaxon_alert_publish_latency_seconds"),
            telemetry_lag: Quantiles::of(before, after, "klaxon_telemetry_lag_seconds"),
            store_commit: Quantiles::of(before, after, "klaxon_store_commit_seconds"),
            alert_commit: Quantiles::of(before, after, "klaxon_alert_commit_seconds"),
            engine_queue_wait: Quantiles::of(before, after, "klaxon_engine_queue_wait_seconds"),
            alert_handoff: Quantiles::of(before, after, "klaxon_alert_handoff_seconds"),
            alert_in_lifecycle: Quantiles::of(before, after, "klaxon_alert_lifecycle_seconds"),
            alerts_fired: delta("klaxon_alerts_fired_total"),
            alerts_throttled: delta("klaxon_alerts_throttled_total"),
            ingest_throttled: delta("klaxon_ingest_throttled_total"),
            rss,
            rss_peak: match (rss, rss_peak) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

struct Report {
    rule_set: String,
    elapsed: Duration,
    client: Tally,
    server: Option<ServerFigures>,
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], q: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    Some(sorted_us[rank - 1] as f64 / 1000.0)
}

impl Report {
    fn latencies_ms(&self) -> [Option<f64>; 4] {
        let mut v = self.client.latencies_us.clone();
        v.sort_unstable();
        [
            percentile_ms(&v, 0.5),
            percentile_ms(&v, 0.9),
            percentile_ms(&v, 0.99),
            percentile_ms(&v, 1.0),
        ]
    }

    fn per_second(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn to_json(&self, args: &Args) -> serde_json::Value {
        let [p50, p90, p99, max] = self.latencies_ms();
        let c = &self.client;
        let q = |q: Option<Quantiles>| {
            q.map(|q| {
                json!({
                    "p50": q.p50.map(Quantile::json),
                    "p99": q.p99.map(Quantile::json),
                    "count": q.count as u64,
                })
            })
        };
        let n = |v: Option<f64>| v.map(|v| v as u64);
        let server = self.server.as_ref().map(|s| {
            json!({
                "alert_publish_latency": q(s.alert_publish),
                "telemetry_lag": q(s.telemetry_lag),
                "store_commit": q(s.store_commit),
                "alert_commit": q(s.alert_commit),
                "engine_queue_wait": q(s.engine_queue_wait),
                "alert_handoff": q(s.alert_handoff),
                "alert_in_lifecycle": q(s.alert_in_lifecycle),
                "alerts_fired": n(s.alerts_fired),
                "alerts_throttled": n(s.alerts_throttled),
                "ingest_throttled": n(s.ingest_throttled),
                "rss_bytes": n(s.rss),
                "rss_peak_bytes": n(s.rss_peak),
            })
        });
        json!({
            "url": args.target.url,
            "rule_set": self.rule_set,
            "connections": args.connections,
            "duration_s": args.duration,
            "batch": args.batch,
            "rate": args.rate,
            "processes": args.processes,
            "fire_pct": args.fire_pct,
            "wait_durable": args.wait_durable,
            "otlp": args.otlp,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "requests": c.requests,
            "signals_sent": c.sent,
            "signals_hot": c.hot_sent,
            "signals_accepted": c.accepted,
            "signals_rejected": c.rejected,
            "signals_per_s": self.per_second(c.accepted),
            "requests_per_s": self.per_second(c.requests),
            "latency_ms": {"p50": p50, "p90": p90, "p99": p99, "max": max},
            "throttled_429": c.throttled,
            "errors": c.errors,
            "first_error": c.first_error,
            "server": server,
        })
    }

    fn to_text(&self, args: &Args) -> String {
        let c = &self.client;
        let [p50, p90, p99, max] = self.latencies_ms();
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"));
        let rate = if args.rate == 0 {
            "unpaced".to_owned()
        } else {
            format!("{} signals/s target", thousands(args.rate))
        };
        let mut out = format!(
            "klaxon bench against {}: {} connections, {} s, batch {}, {rate}, {} processes, {}% firing{}\n",
            args.target.url,
            args.connections,
            args.duration,
            args.batch,
            args.processes,
            args.fire_pct,
            if args.wait_durable { ", wait=durable" } else { "" },
        );
        if args.otlp {
            out += &format!(
                "OTLP         protobuf span exports to /v1/traces, {} spans a request ({} signals)\n",
                args.batch / 2,
                args.batch / 2 * 2
            );
        }
        out += &format!("rule set     {} in group {GROUP}\n", self.rule_set);
        out += &format!(
            "sent         {} signals ({} HOT) in {} requests over {:.2} s\n",
            thousands(c.sent),
            thousands(c.hot_sent),
            thousands(c.requests),
            self.elapsed.as_secs_f64()
        );
        out += &format!(
            "accepted     {} signals, {} rejected\n",
            thousands(c.accepted),
            thousands(c.rejected)
        );
        out += &format!(
            "throughput   {} signals/s, {:.1} requests/s\n",
            thousands(self.per_second(c.accepted) as u64),
            self.per_second(c.requests)
        );
        out += &format!(
            "latency      p50 {}  p90 {}  p99 {}  max {}\n",
            ms(p50),
            ms(p90),
            ms(p99),
            ms(max)
        );
        out += &format!("429          {}\n", thousands(c.throttled));
        out += &format!("errors       {}", thousands(c.errors));
        if let Some(e) = &c.first_error {
            out += &format!(" (first: {e})");
        }
        out += "\n";
        let Some(s) = &self.server else {
            out += "server       /monitoring/prometheus could not be read\n";
            return out;
        };
        let hist = |q: Option<Quantiles>| match q {
            None => "not reported".to_owned(),
            Some(q) if q.count == 0.0 => "no observations".to_owned(),
            Some(q) => format!(
                "p50 {}  p99 {}  ({} observations)",
                q.p50.map_or_else(|| "-".to_owned(), Quantile::text),
                q.p99.map_or_else(|| "-".to_owned(), Quantile::text),
                thousands(q.count as u64)
            ),
        };
        let count =
            |v: Option<f64>| v.map_or_else(|| "not reported".to_owned(), |v| thousands(v as u64));
        let mib = |v: Option<f64>| {
            v.map_or_else(
                || "not reported".to_owned(),
                |v| format!("{:.1} MiB", v / 1048576.0),
            )
        };
        out += &format!(
            "server       alert publish latency {}\n",
            hist(s.alert_publish)
        );
        out += &format!(
            "             telemetry lag         {}\n",
            hist(s.telemetry_lag)
        );
        out += &format!(
            "             store commit          {}\n",
            hist(s.store_commit)
        );
        out += &format!(
            "             alert commit          {}\n",
            hist(s.alert_commit)
        );
        out += &format!(
            "             (parts: engine queue  {}\n",
            hist(s.engine_queue_wait)
        );
        out += &format!(
            "              engine → lifecycle   {}\n",
            hist(s.alert_handoff)
        );
        out += &format!(
            "              in the lifecycle     {})\n",
            hist(s.alert_in_lifecycle)
        );
        out += &format!(
            "             alerts fired {}, alerts throttled {}, ingest 429s {}\n",
            count(s.alerts_fired),
            count(s.alerts_throttled),
            count(s.ingest_throttled)
        );
        out += &format!(
            "             resident memory {} (peak sampled {})\n",
            mib(s.rss),
            mib(s.rss_peak)
        );
        out
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_bodies_carry_half_a_batch_of_spans_in_rooted_traces() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use prost::Message;
        let bodies = otlp_bodies(3, 500);
        assert_eq!(bodies.len(), OTLP_BODIES);
        let req = ExportTraceServiceRequest::decode(&bodies[0][..]).expect("protobuf");
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 500);
        let roots = spans.iter().filter(|s| s.parent_span_id.is_empty()).count();
        assert_eq!(roots, 50, "a root for every ten spans");
        let other = ExportTraceServiceRequest::decode(&bodies[1][..]).expect("protobuf");
        assert_ne!(
            spans[0].trace_id, other.resource_spans[0].scope_spans[0].spans[0].trace_id,
            "each body its own traces"
        );
    }

    fn args(connections: usize, batch: usize, processes: usize, fire_pct: f64) -> Args {
        Args {
            target: Target {
                url: crate::client::DEFAULT_URL.to_owned(),
                token: None,
            },
            connections,
            duration: 1.0,
            batch,
            rate: 0,
            processes,
            fire_pct,
            wait_durable: false,
            otlp: false,
            json: false,
        }
    }

    #[test]
    fn bodies_are_whole_lines_of_valid_signals_and_pair_traces() {
        let a = args(4, 7, 10, 0.0);
        let lane = Lane::build(1, &a);
        // Processes 1, 5 and 9, ten keys each, two rounds.
        assert_eq!(lane.cycle, 60);
        let mut open = std::collections::HashSet::new();
        for k in 0..40 {
            let (body, hot) = lane.body(k);
            assert_eq!(hot, 0);
            let text = std::str::from_utf8(&body).expect("utf-8");
            assert_eq!(text.lines().count(), 7);
            assert!(text.ends_with('\n'));
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("json line");
                klaxon_engine::wire::parse_signal(line).expect("a valid signal");
                assert_eq!(v["group"], "bench");
                let key = (
                    v["process"].to_string(),
                    v["action"].to_string(),
                    v["context"].to_string(),
                );
                match v["kind"].as_str() {
                    Some("trace_start") => assert!(open.insert(key), "started twice: {line}"),
                    Some("trace_stop") => assert!(open.remove(&key), "stop without start: {line}"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn the_hot_share_is_the_fire_percentage() {
        let a = args(8, 1000, 1000, 1.0);
        let (mut sent, mut hot) = (0, 0);
        for c in 0..8 {
            let lane = Lane::build(c, &a);
            for k in 0..50 {
                let (body, h) = lane.body(k);
                let n = std::str::from_utf8(&body)
                    .expect("utf-8")
                    .matches("\"HOT\"")
                    .count() as u64;
                assert_eq!(n, h);
                sent += 1000;
                hot += h;
            }
        }
        let pct = hot as f64 * 100.0 / sent as f64;
        assert!((pct - 1.0).abs() < 0.05, "{pct}");
    }

    #[test]
    fn the_rule_set_is_valid_and_only_hot_fires() {
        let quiet = klaxon_engine::event::parse_rule_set(&rule_set(false).to_string())
            .expect("valid rule set");
        assert_eq!(quiet.set.rules.len(), QUIET_RULES);
        let hot = klaxon_engine::event::parse_rule_set(&rule_set(true).to_string())
            .expect("valid rule set");
        assert_eq!(hot.set.rules.len(), QUIET_RULES + 1);
    }

    #[test]
    fn histogram_quantiles_interpolate_like_prometheus() {
        let text = "# HELP x latency\n# TYPE x histogram\n\
            x_bucket{route=\"a\",le=\"0.001\"} 10\n\
            x_bucket{route=\"a\",le=\"0.01\"} 90\n\
            x_bucket{route=\"a\",le=\"+Inf\"} 100\n\
            x_bucket{route=\"b\",le=\"0.001\"} 0\n\
            x_bucket{route=\"b\",le=\"0.01\"} 0\n\
            x_bucket{route=\"b\",le=\"+Inf\"} 0\n\
            x_sum 0.5\nx_count 100\n\
            process_resident_memory_bytes 1.5e+07\n\
            weird{a=\"q\\\"}\"} 3 1700000000000\n";
        let s = Scrape::parse(text);
        assert_eq!(s.total("process_resident_memory_bytes"), Some(1.5e7));
        assert_eq!(s.total("weird"), Some(3.0));
        assert_eq!(
            s.samples.last().map(|x| x.labels.clone()),
            Some(vec![("a".to_owned(), "q\"}".to_owned())])
        );
        let h = s.histogram("x").expect("histogram");
        assert_eq!(h.count(), 100.0);
        let p50 = h.quantile(0.5).expect("p50");
        assert!(!p50.open);
        assert!(
            (p50.secs - (0.001 + 0.009 * 40.0 / 80.0)).abs() < 1e-12,
            "{p50:?}"
        );
        assert_eq!(
            h.quantile(0.99),
            Some(Quantile {
                secs: 0.01,
                open: true
            }),
            "+Inf bucket gives the largest finite bound, open"
        );
        assert_eq!(
            h.quantile(0.99).map(Quantile::text).as_deref(),
            Some("> 10.0 ms")
        );
        let earlier = Histogram {
            buckets: vec![(0.001, 10.0), (0.01, 10.0), (f64::INFINITY, 10.0)],
        };
        let d = h.since(&earlier);
        assert_eq!(d.count(), 90.0);
        assert_eq!(d.quantile(0.0001).map(|v| v.secs > 0.001), Some(true));
        assert_eq!(Histogram { buckets: vec![] }.quantile(0.5), None);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
