//! The dashboard's figures for BENCHMARKS.md, in Debian's Chromium against this build of the
//! server: the first load of the alerts page with 10,000 open alerts (`alerts_page`), and the
//! JS heap of two open pages over a long stream of alerts (`soak`, an hour unless
//! `KLAXON_SOAK_SECONDS` says otherwise).
//!
//! `cargo bench -p klaxon-server --bench dashboard -- NAME...` runs the named measurements;
//! with no name, `alerts_page` only. Without chromium and chromedriver they print why and do
//! nothing.

#[path = "../tests/it/harness/mod.rs"]
mod harness;

#[path = "../tests/it/browser/driver.rs"]
mod driver;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use driver::browser;
use harness::{Running, ADMIN};

/// Posts `n` firing alerts through the Alertmanager API, 1,000 to a request.
async fn fire_many(r: &Running, n: usize) {
    let sev = ["critical", "high", "warning", "low", "info"];
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({
                    "labels": {"alertname": format!("Bench{}", i % 50), "instance": format!("host-{i}"), "severity": sev[i % 5], "team": (["core", "web", "data"][i % 3])},
                    "annotations": {"summary": format!("host-{i} is out of disk space on /var")},
                })
            })
            .collect();
        let (s, v) = r
            .admin("POST", "/api/v2/alerts", &Value::Array(batch).to_string())
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let v = r
        .until("/alerts/summary", |v| v["open"].as_u64() >= Some(n as u64))
        .await;
    assert_eq!(v["open"].as_u64(), Some(n as u64), "{v}");
}

/// BENCHMARKS.md: the first load of the alerts page with 10,000 open alerts, from navigation
/// to the table being interactive (every alert loaded, sorted, drawn, keyboard live).
async fn alerts_page_with_10000_open_alerts() {
    let dir = harness::data_dir("browser-bench-10k");
    let r = harness::serve(&dir, |c| c.lifecycle.resolve_timeout_seconds = 86_400).await;
    let Some(b) = browser("bench").await else {
        return;
    };
    let n: usize = harness::env_or("KLAXON_BENCH_ALERTS", 10_000);
    fire_many(&r, n).await;
    b.sign_in(&r, ADMIN).await;
    let mut runs = Vec::new();
    for run in 0..7 {
        b.goto("about:blank").await;
        b.goto(&format!("http://{}/#/alerts", r.addr())).await;
        let v = b
            .until(
                "the alerts page to be interactive",
                "const m = performance.getEntriesByName('klaxon:alerts-interactive')[0]; return m && [m.startTime, m.detail.rows, document.querySelectorAll('.grid-row:not([hidden])').length]",
                Duration::from_secs(30),
            )
            .await;
        let (ms, rows, drawn) = (
            v[0].as_f64().unwrap_or(0.0),
            v[1].as_u64().unwrap_or(0),
            v[2].as_u64().unwrap_or(0),
        );
        assert_eq!(rows, n as u64, "every open alert is in the table");
        assert!(
            drawn > 0 && drawn < 100,
            "only visible rows are in the DOM: {drawn}"
        );
        // The table answers the keyboard: End jumps to the last of the 10,000.
        let list = b.find(".vlist").await;
        b.cmd(
            "POST",
            &format!("/element/{list}/value"),
            json!({"text": "\u{E010}"}),
        )
        .await;
        b.until(
            "the last row after End",
            &format!(
                "return document.querySelector('.grid-row[aria-rowindex=\"{}\"]:not([hidden])')",
                n + 1
            ),
            Duration::from_secs(5),
        )
        .await;
        let read = b
            .js("const e = performance.getEntriesByType('resource').find(e => e.name.includes('/alerts/open')); return [Math.round(e.startTime), Math.round(e.responseEnd - e.startTime), e.encodedBodySize]", json!([]))
            .await;
        println!("run {run}: interactive after {ms:.0} ms with {rows} alerts ({drawn} rows drawn); /alerts/open asked at {} ms, answered in {} ms, {} bytes", read[0], read[1], read[2]);
        runs.push(ms);
    }
    b.screenshot("bench-10k").await;
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "time to interactive, {} runs: median {:.0} ms, min {:.0} ms, max {:.0} ms",
        runs.len(),
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1]
    );
    r.stop().await;
}

/// BENCHMARKS.md: a long stream at 50 new alerts a second (each resolved ten seconds later,
/// closed a minute after that) into an open overview and an open alerts page; the JS heap of
/// both pages, after a garbage collection, sampled every minute. `KLAXON_SOAK_SECONDS` sets
/// the length (default one hour).
async fn soak_pages_memory_while_streaming_50_alerts_per_second() {
    let seconds: u64 = harness::env_or("KLAXON_SOAK_SECONDS", 3600);
    let dir = harness::data_dir("browser-soak");
    let r =
        std::sync::Arc::new(harness::serve(&dir, |c| c.lifecycle.close_after_seconds = 60).await);
    let Some(b) = browser("soak").await else {
        return;
    };
    b.sign_in(&r, ADMIN).await;
    let overview = b.window().await;
    b.goto(&format!("http://{}/#/", r.addr())).await;
    let alerts = b.new_window().await;
    b.switch(&alerts).await;
    b.goto(&format!("http://{}/#/alerts", r.addr())).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let created = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let load = {
        let (r, stop, created) = (r.clone(), stop.clone(), created.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut ids: std::collections::VecDeque<(Instant, i64)> = Default::default();
            let mut i = 0u64;
            let mut last_resolve = Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                i += 1;
                let body = json!({"name": format!("Soak{}", i % 40), "severity": (["critical", "high", "medium", "low", "info"][(i % 5) as usize]),
                    "labels": {"seq": i.to_string(), "service": (["checkout", "search", "auth"][(i % 3) as usize])}, "summary": format!("soak alert {i}")});
                let (s, v) = r.admin("POST", "/alerts/create", &body.to_string()).await;
                if s == 201 {
                    created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    ids.push_back((Instant::now(), v["id"].as_i64().unwrap_or(0)));
                }
                if last_resolve.elapsed() >= Duration::from_secs(1) {
                    last_resolve = Instant::now();
                    let due: Vec<i64> = std::iter::from_fn(|| {
                        (ids.front()
                            .is_some_and(|(t, _)| t.elapsed() > Duration::from_secs(10)))
                        .then(|| ids.pop_front().map(|(_, id)| id))
                        .flatten()
                    })
                    .collect();
                    if !due.is_empty() {
                        r.admin(
                            "POST",
                            "/alerts/bulk/resolve",
                            &json!({ "ids": due }).to_string(),
                        )
                        .await;
                    }
                }
            }
        })
    };

    let sample = "if (window.gc) gc(); return [performance.memory.usedJSHeapSize, document.getElementsByTagName('*').length, document.querySelectorAll('.feed li').length, document.querySelectorAll('.grid-row').length]";
    let t0 = Instant::now();
    let mut samples: Vec<(u64, f64, f64)> = Vec::new();
    println!("minute, overview heap MiB, overview DOM nodes, feed items, alerts heap MiB, alerts DOM nodes, rows in DOM, alerts created");
    loop {
        let minute = t0.elapsed().as_secs() / 60;
        b.switch(&overview).await;
        let o = b.js(sample, json!([])).await;
        b.switch(&alerts).await;
        let a = b.js(sample, json!([])).await;
        let mib = |v: &Value| v.as_f64().unwrap_or(0.0) / 1048576.0;
        println!(
            "{minute}, {:.2}, {}, {}, {:.2}, {}, {}, {}",
            mib(&o[0]),
            o[1],
            o[2],
            mib(&a[0]),
            a[1],
            a[3],
            created.load(std::sync::atomic::Ordering::Relaxed)
        );
        samples.push((minute, mib(&o[0]), mib(&a[0])));
        if t0.elapsed() >= Duration::from_secs(seconds) {
            break;
        }
        let next = Duration::from_secs((minute + 1) * 60).min(Duration::from_secs(seconds));
        tokio::time::sleep(next.saturating_sub(t0.elapsed())).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = load.await;
    let n = created.load(std::sync::atomic::Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{n} alerts created in {secs:.0} s ({:.1}/s)",
        n as f64 / secs
    );
    // Flat: after the first minutes, neither page grows beyond a small margin.
    if samples.len() >= 6 {
        let warm = &samples[2..];
        let first = warm[0];
        let peak_o = warm.iter().map(|s| s.1).fold(0.0, f64::max);
        let peak_a = warm.iter().map(|s| s.2).fold(0.0, f64::max);
        println!("overview heap {:.2} MiB at minute 2, peak {peak_o:.2}; alerts page {:.2} MiB at minute 2, peak {peak_a:.2}", first.1, first.2);
        assert!(peak_o < first.1 * 1.5 + 2.0, "the overview's heap grew");
        assert!(peak_a < first.2 * 1.5 + 2.0, "the alerts page's heap grew");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    if harness::bench_selected("alerts_page", false) {
        rt.block_on(alerts_page_with_10000_open_alerts());
    }
    if harness::bench_selected("soak", true) {
        rt.block_on(soak_pages_memory_while_streaming_50_alerts_per_second());
    }
}
