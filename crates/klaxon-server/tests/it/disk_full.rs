//! A store that cannot write (a full disk): ingest answers 503 with Retry-After before it
//! accepts anything, requests that wait for a commit fail within `[store] commit_wait_seconds`,
//! health says the store is unavailable (the error and since when), and once writes commit
//! again everything resumes by itself with nothing that was accepted lost. Run twice: with the
//! SQLite backend's fault hook (every commit fails as on a full disk), and on a real tmpfs of
//! 16 MiB filled to the last byte (needs root to mount; skipped without it unless
//! `KLAXON_REQUIRE_MOUNT` is set).
#![allow(clippy::unwrap_used)] // tests

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use klaxon_store::Store;
use serde_json::Value;

use crate::harness::{data_dir, start, Running, ADMIN};

/// How a test makes the disk full and gives the space back.
enum Fault {
    /// `SqliteStore::fail_writes`.
    Hook,
    /// A tmpfs mounted on the data directory and a ballast file that takes its last byte.
    Tmpfs { ballast: PathBuf },
}

impl Fault {
    fn fill(&self, r: &Running) {
        match self {
            Fault::Hook => r.store.fail_writes(true),
            Fault::Tmpfs { ballast } => {
                let mut f = std::fs::File::create(ballast).unwrap();
                let block = vec![0u8; 64 << 10];
                while f.write_all(&block).is_ok() {}
                // The last partial block, byte by byte.
                while f.write_all(&[0]).is_ok() {}
            }
        }
    }

    fn free(&self, r: &Running) {
        match self {
            Fault::Hook => r.store.fail_writes(false),
            Fault::Tmpfs { ballast } => std::fs::remove_file(ballast).unwrap(),
        }
    }
}

/// A tmpfs of 16 MiB on `dir`, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path) -> Option<Mount> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("KLAXON_REQUIRE_MOUNT").is_none(),
                "KLAXON_REQUIRE_MOUNT is set but a tmpfs cannot be mounted"
            );
            println!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Mount(dir.to_owned()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("--lazy")
            .arg(&self.0)
            .status();
    }
}

/// `n` marks of process `p` as NDJSON.
fn marks(p: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"kind\":\"mark\",\"process\":\"{p}\",\"action\":\"STEP\",\"context\":\"c{i}\"}}\n"))
        .collect()
}

async fn health(r: &Running) -> (u16, Value) {
    let (s, _, v) = r.call("GET", "/monitoring/health", None, "", "").await;
    (s, v)
}

async fn disk_full_then_space_again(fault: &Fault, dir: &Path) {
    let r = start(dir, |c| {
        c.store.commit_wait_seconds = 1;
        c.collector.enabled = false;
    })
    .await;
    let mut accepted = 0u64;
    let (s, v) = r
        .ndjson("/v1/signals?wait=durable", &marks("before", 50))
        .await;
    assert_eq!((s, v["accepted"].as_u64()), (200, Some(50)), "{v}");
    accepted += 50;
    let alert = r#"[{"labels":{"alertname":"BeforeFull","host":"db-1"}}]"#;
    let (s, v) = r.admin("POST", "/api/v2/alerts", alert).await;
    assert_eq!(s, 200, "{v}");
    let id = r
        .until("/alerts/history?rule=BeforeFull", |v| {
            v["alerts"][0]["id"].is_i64()
        })
        .await["alerts"][0]["id"]
        .as_i64()
        .unwrap();

    fault.fill(&r);
    let mut acked_while_full = false;
    if matches!(fault, Fault::Hook) {
        // Nothing has failed yet, so the action is accepted; its commit fails and is retried,
        // and the request gives up after the bound instead of hanging.
        let t0 = Instant::now();
        let (s, _, v) = r
            .call(
                "POST",
                &format!("/alerts/{id}/acknowledge"),
                Some(ADMIN),
                "application/json",
                "",
            )
            .await;
        assert_eq!(s, 503, "{v}");
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "answered within the bound: {:?}",
            t0.elapsed()
        );
        acked_while_full = v["error"]["message"].as_str().unwrap().contains("queued");
    }

    // Ingest goes on until a write fails, then refuses before accepting anything.
    let t0 = Instant::now();
    let refused = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "ingest never refused"
        );
        let (s, head, v) = r
            .call(
                "POST",
                "/v1/signals",
                Some(ADMIN),
                "application/x-ndjson",
                &marks("during", 2000),
            )
            .await;
        match s {
            200 => accepted += v["accepted"].as_u64().unwrap(),
            503 => break (head, v),
            other => panic!("ingest answered {other}: {v}"),
        }
    };
    let (head, v) = refused;
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert_eq!(v["error"]["code"], "store_unavailable", "{v}");
    assert_eq!(v["error"]["details"]["accepted"], 0, "{v}");
    assert!(
        v["error"]["details"]["error"]
            .as_str()
            .unwrap()
            .contains("full"),
        "{v}"
    );

    let body = r#"{"name":"WhileFull","labels":{"host":"db-2"},"severity":"critical"}"#;
    if let Fault::Tmpfs { .. } = fault {
        // A full file system still takes the writes that fit in space SQLite holds already (a
        // log restarted from its beginning), so health and durable requests flicker between
        // refusing and committing while it stays full; the write hook's run pins their answers.
    } else {
        // Nothing commits until the hook is lifted: every answer below is exact.
        let (s, h) = health(&r).await;
        assert_eq!((s, h["store"].as_str()), (503, Some("unavailable")), "{h}");
        assert!(
            h["store_error"]["error"].as_str().unwrap().contains("full"),
            "{h}"
        );
        assert!(h["store_error"]["since"].is_string(), "{h}");

        // Reads go on, and do not wait for a manager that retries its commit.
        let t0 = Instant::now();
        let (s, v) = r.admin("GET", &format!("/alerts/{id}"), "").await;
        assert_eq!(s, 200, "{v}");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());

        // Requests that need a commit fail fast and say why.
        let t0 = Instant::now();
        let (s, head, v) = r
            .call(
                "POST",
                "/alerts/create",
                Some(ADMIN),
                "application/json",
                body,
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (503, Some("store_unavailable")),
            "{v}"
        );
        assert!(head.to_ascii_lowercase().contains("retry-after"), "{head}");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        let (s, v) = r
            .ndjson("/v1/signals?wait=durable", &marks("refused", 3))
            .await;
        assert_eq!(s, 503, "{v}");
        let (s, v) = r
            .admin(
                "POST",
                "/api/v2/alerts",
                r#"[{"labels":{"alertname":"AmWhileFull"}}]"#,
            )
            .await;
        assert_eq!(s, 503, "{v}");
    }

    fault.free(&r);
    let t0 = Instant::now();
    loop {
        let (s, v) = r
            .ndjson("/v1/signals?wait=durable", &marks("after", 10))
            .await;
        if s == 200 {
            accepted += v["accepted"].as_u64().unwrap();
            break;
        }
        assert_eq!(s, 503, "{v}");
        // Refused before accepting (0), or accepted and not yet durable: those are kept.
        accepted += v["error"]["details"]["accepted"].as_u64().unwrap_or(0);
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "ingest never resumed: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, h) = health(&r).await;
    assert_eq!(
        (s, h["store"].as_str(), &h["store_error"]),
        (200, Some("ok"), &Value::Null),
        "{h}"
    );
    let (s, v) = r.admin("POST", "/alerts/create", body).await;
    assert_eq!(s, 201, "{v}");

    // Nothing that was accepted is lost: every mark is stored, the action taken while the
    // disk was full is committed.
    let t0 = Instant::now();
    let marks_stored = loop {
        let n = r.store.telemetry_counts().await.unwrap().marks;
        if n >= accepted || t0.elapsed() > Duration::from_secs(20) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(marks_stored, accepted);
    if acked_while_full {
        let a = r
            .until(&format!("/alerts/{id}"), |v| v["state"] == "acknowledged")
            .await;
        assert_eq!(a["state"], "acknowledged", "{a}");
    }
    // Closed before the tmpfs under it is unmounted.
    r.stop().await.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_write_refuses_ingest_fails_waits_fast_and_recovers() {
    let dir = data_dir("disk-full-hook");
    disk_full_then_space_again(&Fault::Hook, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_tmpfs_refuses_ingest_and_recovers_when_space_returns() {
    let dir = data_dir("disk-full-tmpfs");
    let Some(_mount) = Mount::new(&dir) else {
        return;
    };
    let fault = Fault::Tmpfs {
        ballast: dir.join("ballast"),
    };
    disk_full_then_space_again(&fault, &dir).await;
}
