//! A minimal WebDriver client: Debian's Chromium driven by chromedriver (plain JSON over
//! HTTP). Used by the browser tests and by the dashboard's measurements (`benches/`).
#![allow(dead_code)] // the test binary and the benches each use part of it

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{self, Running};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session.
pub(crate) struct Browser {
    port: u16,
    session: String,
    driver: Child,
    profile: PathBuf,
}

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The browser, or `None` after printing why the test is skipped (a failure under CI).
pub(crate) async fn browser(tag: &str) -> Option<Browser> {
    let driver = chromedriver();
    if driver.is_none() || !std::path::Path::new(CHROMIUM).exists() {
        let why = "skipped: chromium or chromedriver is not installed (apt-get install chromium chromium-driver)";
        assert!(
            std::env::var("KLAXON_REQUIRE_PEERS").as_deref() != Ok("1"),
            "KLAXON_REQUIRE_PEERS=1 but {why}"
        );
        println!("{why}");
        return None;
    }
    let port = harness::free_port();
    let child = Command::new(driver.expect("checked"))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile =
        std::env::temp_dir().join(format!("klaxon-chromium-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut b = Browser {
        port,
        session: String::new(),
        driver: child,
        profile,
    };
    let t0 = Instant::now();
    while b.call("GET", "/status", None).await.is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-dev-shm-usage", "--enable-precise-memory-info", "--js-flags=--expose-gc",
            "--window-size=1280,900", format!("--user-data-dir={}", b.profile.display()),
        ]},
    }}});
    let v = b
        .call("POST", "/session", Some(caps))
        .await
        .expect("a new session");
    b.session = v["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {v}"))
        .to_owned();
    Some(b)
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the browser (chromedriver closes it with the session), then the driver.
        if !self.session.is_empty() {
            let port = self.port;
            let path = format!("/session/{}", self.session);
            let _ = std::thread::spawn(move || {
                use std::io::{Read, Write};
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    let _ = write!(s, "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    // The driver answers once the browser has quit; it keeps the connection open.
                    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    let _ = s.read(&mut [0u8; 4096]);
                }
            })
            .join();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// One WebDriver call; `None` when the driver does not answer.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Option<Value> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).await.ok()?;
        // chromedriver keeps the connection open: read the head, then Content-Length bytes.
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        let (head_len, length) = loop {
            let n = s.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())?;
                break (end + 4, length);
            }
        };
        while raw.len() < head_len + length {
            let n = s.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let body = String::from_utf8_lossy(&raw[head_len..head_len + length]).into_owned();
        serde_json::from_str(&body).ok()
    }

    pub(crate) async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let full = format!("/session/{}{path}", self.session);
        let body = (method == "POST").then_some(body);
        let v = self
            .call(method, &full, body)
            .await
            .unwrap_or_else(|| panic!("chromedriver did not answer {method} {path}"));
        if v["value"]["error"].is_string() {
            panic!("{method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub(crate) async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Polls `script` until it returns something truthy (bounded); returns that value.
    pub(crate) async fn until(&self, what: &str, script: &str, limit: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.js(script, json!([])).await;
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            if t0.elapsed() > limit {
                let page = self
                    .js("return document.querySelector('main')?.innerText?.slice(0, 600) ?? document.body.innerText.slice(0, 600)", json!([]))
                    .await;
                panic!("waited {limit:?} for {what}; the page shows: {page}");
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    pub(crate) async fn click(&self, css: &str) {
        self.on_element(css, "click", json!({})).await;
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "value", json!({ "text": text })).await;
    }

    /// Finds `css` and sends it `action`. A live page may redraw between the two, replacing
    /// the element (WebDriver's "stale element reference"): then it finds the new one and tries
    /// again, as a person clicks the button where it now is (a few times, then it fails).
    async fn on_element(&self, css: &str, action: &str, body: Value) {
        for _ in 0..5 {
            let e = self.find(css).await;
            let full = format!("/session/{}/element/{e}/{action}", self.session);
            let v = self
                .call("POST", &full, Some(body.clone()))
                .await
                .unwrap_or_else(|| panic!("chromedriver did not answer {action} on {css}"));
            match v["value"]["error"].as_str() {
                None => return,
                Some("stale element reference") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Some(_) => panic!("{action} on {css}: {}", v["value"]),
            }
        }
        panic!("{action} on {css}: the element was replaced by a redraw five times in a row");
    }

    pub(crate) async fn new_window(&self) -> String {
        let v = self
            .cmd("POST", "/window/new", json!({"type": "window"}))
            .await;
        v["handle"].as_str().expect("a window handle").to_owned()
    }

    pub(crate) async fn window(&self) -> String {
        self.cmd("GET", "/window", json!({}))
            .await
            .as_str()
            .expect("a handle")
            .to_owned()
    }

    pub(crate) async fn switch(&self, handle: &str) {
        self.cmd("POST", "/window", json!({ "handle": handle }))
            .await;
    }

    pub(crate) async fn size(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Saves a screenshot under `$KLAXON_SCREENSHOTS`, when set.
    pub(crate) async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("KLAXON_SCREENSHOTS") else {
            return;
        };
        let v = self.cmd("GET", "/screenshot", json!({})).await;
        let png = base64(v.as_str().expect("base64 PNG"));
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(PathBuf::from(dir).join(file_name(name)), png).expect("write screenshot");
    }

    /// Saves a screenshot of the whole page under `$KLAXON_SCREENSHOTS`, when set: the window
    /// is made as tall as the page for it, then given its size back.
    pub(crate) async fn screenshot_page(&self, name: &str) {
        if std::env::var_os("KLAXON_SCREENSHOTS").is_none() {
            return;
        }
        let rect = self.cmd("GET", "/window/rect", json!({})).await;
        let (width, height) = (rect["width"].as_u64(), rect["height"].as_u64());
        let (Some(width), Some(height)) = (width, height) else {
            panic!("no window size: {rect}");
        };
        let tall = self
            .js("return document.documentElement.scrollHeight", json!([]))
            .await
            .as_u64()
            .unwrap_or(height);
        let (width, height) = (width as u32, height as u32);
        self.size(width, (tall as u32 + 120).clamp(height, 8000))
            .await;
        self.screenshot(name).await;
        self.size(width, height).await;
    }

    /// Signs in on the page with `token` and waits for the overview.
    pub(crate) async fn sign_in(&self, r: &Running, token: &str) {
        self.goto(&format!("http://{}/", r.addr())).await;
        self.until(
            "the sign-in form",
            "return !document.getElementById('signin').hidden",
            Duration::from_secs(10),
        )
        .await;
        self.type_into("#token", token).await;
        self.click("#signin-form button[type=submit]").await;
        self.until(
            "the overview after sign-in",
            "return !document.getElementById('shell').hidden && document.querySelectorAll('.card').length >= 5",
            Duration::from_secs(10),
        )
        .await;
    }
}

/// A screenshot's file: its name with what is not a letter, a digit or `-` as `-`.
fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{safe}.png")
}

fn base64(text: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
