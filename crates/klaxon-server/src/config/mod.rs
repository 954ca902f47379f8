//! Server configuration: embedded defaults, a TOML file, `KLAXON_SECTION__KEY` environment
//! overrides, then command-line flags. Owns no I/O beyond reading the file it is given; the
//! environment is an argument so loading can be tested. The noise controls (`[[maintenance]]`,
//! `[[inhibit]]`, `[flapping]`, `[silence_notice]`) are compiled in `noise`.

mod cluster;
pub(crate) mod escalation;
mod noise;
mod people;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use cluster::Cluster;
pub use escalation::{EscalationPolicyConfig, SlaConfig, SlaTargetConfig};
pub(crate) use escalation::{Escalations, Sla};
pub(crate) use noise::NoiseControls;
pub use noise::{Flapping, InhibitConfig, MaintenanceConfig, SilenceNotice};
pub use people::{TeamConfig, UserConfig};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Data directory: the SQLite file, the generated admin token.
    pub data_dir: PathBuf,
    /// An admin token to accept (stored hashed); without one the first start generates one.
    pub admin_token: Option<Secret>,
    pub ingest: Ingest,
    pub telemetry: Telemetry,
    pub store: StoreSettings,
    pub engine: Engine,
    pub lifecycle: Lifecycle,
    pub collector: Collector,
    /// Maintenance windows (`[[maintenance]]`), see docs/noise.md.
    pub maintenance: Vec<MaintenanceConfig>,
    /// Inhibition rules (`[[inhibit]]`).
    pub inhibit: Vec<InhibitConfig>,
    pub flapping: Flapping,
    /// Opt-in: a notice before a silence ends (`[silence_notice]`).
    pub silence_notice: SilenceNotice,
    /// The notification outbox and its workers.
    pub notify: klaxon_notify::NotifySettings,
    /// Defaults of every e-mail channel.
    pub smtp: klaxon_notify::SmtpDefaults,
    /// Named receivers, each a list of channels.
    pub receivers: Vec<klaxon_notify::ReceiverConfig>,
    /// The routing tree; without one, only receivers named by rules get notifications.
    pub route: Option<klaxon_notify::RouteConfig>,
    /// Named time intervals (`[[time_intervals]]`, Alertmanager's), which routes name in
    /// `mute_time_intervals` and `active_time_intervals`.
    pub time_intervals: Vec<TimeIntervalsConfig>,
    pub dashboard: Dashboard,
    /// How people reach this server, and its HTTP connections: timeouts and caps (`[server]`).
    pub server: Connections,
    /// HTTPS (`[tls]`); plain HTTP without it.
    pub tls: Option<Tls>,
    /// Alert correlation into incidents (`[correlation]`, see docs/incidents.md): the
    /// correlator's own settings, `enabled` and the `topology` file.
    pub correlation: klaxon_engine::correlate::CorrelationConfig,
    /// Users declared here (`[[users]]`): read-only through the API.
    pub users: Vec<UserConfig>,
    /// Teams declared here (`[[teams]]`), of users declared here.
    pub teams: Vec<TeamConfig>,
    /// On-call schedules declared here (`[[schedules]]`), of users declared here: read-only
    /// through the API.
    pub schedules: Vec<klaxon_engine::oncall::ScheduleConfig>,
    /// Escalation policies (`[[escalation_policies]]`, see docs/escalation.md).
    pub escalation_policies: Vec<EscalationPolicyConfig>,
    /// SLA targets per severity (`[sla]`); a team may override them (`sla` under `[[teams]]`).
    pub sla: SlaConfig,
    /// How pages reach people's contacts (`[paging]`).
    pub paging: Paging,
    /// OpenTelemetry in (`[otlp]`, docs/opentelemetry.md).
    pub otlp: Otlp,
    /// Several nodes (`[cluster]`): on one PostgreSQL database with one leader
    /// (docs/cluster.md), and signals through NATS JetStream (docs/cluster-signals.md).
    pub cluster: Cluster,
}

/// `[[time_intervals]]`: a name and the intervals it stands for (any of them), as in
/// Alertmanager's `time_intervals`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalsConfig {
    pub name: String,
    #[serde(default)]
    pub time_intervals: Vec<klaxon_engine::noise::IntervalSpec>,
}

/// `[paging]`: how escalation pages reach users' contacts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paging {
    /// The Slack incoming-webhook URL that Slack contacts are paged through, each to its own
    /// `target` (a channel or a user). Without it, a paged user may not have a Slack contact.
    pub slack_url: Option<Secret>,
    /// The Events API v2 URL that PagerDuty contacts are paged through (default
    /// `https://events.pagerduty.com/v2/enqueue`; `https://events.eu.pagerduty.com/v2/enqueue`
    /// for an account in the EU service region).
    pub pagerduty_url: Option<String>,
}

/// `[otlp]`: how OTLP spans, logs and metrics become klaxon's signals (docs/opentelemetry.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Otlp {
    /// A span carrying this attribute is a process, named by the attribute's value, even when it
    /// has a parent; a root span is a process named by it when it carries it, else by its name.
    pub process_attribute: String,
    /// The span (or span event) attribute whose value is the context of its trace (or mark).
    pub context_attribute: String,
    /// The resource attribute (or span or log attribute) that names the rule-set group.
    pub group_attribute: String,
    /// Quantiles of histograms sent as samples `NAME.pQ` (`0.95` is `NAME.p95`), at most 10.
    pub quantiles: Vec<f64>,
    /// Largest body once a `Content-Encoding: gzip` body is inflated, in bytes.
    pub max_inflated_bytes: usize,
    /// Series of cumulative sums whose last point is kept to turn them into rates.
    pub max_rate_series: usize,
    /// How long a trace's spans wait for their root span, in seconds; then they are evaluated
    /// as a run of their own.
    pub hold_seconds: u64,
    /// Signals of spans waiting for their root, at most; beyond, spans go out without it.
    pub hold_signals: usize,
}

impl Default for Otlp {
    fn default() -> Self {
        Otlp {
            process_attribute: "klaxon.process".to_owned(),
            context_attribute: "klaxon.context".to_owned(),
            group_attribute: "klaxon.group".to_owned(),
            quantiles: vec![0.5, 0.9, 0.99],
            max_inflated_bytes: 64 << 20,
            max_rate_series: 100_000,
            hold_seconds: 60,
            hold_signals: 100_000,
        }
    }
}

impl Otlp {
    fn validate(&self, errors: &mut Vec<String>) {
        for (key, name) in [
            ("otlp.process_attribute", &self.process_attribute),
            ("otlp.context_attribute", &self.context_attribute),
            ("otlp.group_attribute", &self.group_attribute),
        ] {
            if name.trim().is_empty() || name.len() > 256 {
                errors.push(format!(
                    "{key}: must be an attribute name of 1 to 256 bytes"
                ));
            }
        }
        if self.quantiles.len() > 10 {
            errors.push("otlp.quantiles: at most 10".to_owned());
        }
        for (i, q) in self.quantiles.iter().enumerate() {
            if !(*q > 0.0 && *q < 1.0) {
                errors.push(format!(
                    "otlp.quantiles[{i}]: `{q}` is not between 0 and 1 (exclusive)"
                ));
            } else if self.quantiles[..i].contains(q) {
                errors.push(format!("otlp.quantiles[{i}]: `{q}` is given twice"));
            }
        }
        if self.max_inflated_bytes < 1024 {
            errors.push("otlp.max_inflated_bytes: must be at least 1024".to_owned());
        }
        if self.max_rate_series == 0 {
            errors.push("otlp.max_rate_series: must be at least 1".to_owned());
        }
        if self.hold_seconds == 0 || self.hold_seconds > 3600 {
            errors.push("otlp.hold_seconds: must be between 1 and 3600".to_owned());
        }
        if self.hold_signals == 0 {
            errors.push("otlp.hold_signals: must be at least 1".to_owned());
        }
    }
}

/// `[server]`: the URL people reach klaxon at, and the listener's connections: a connection
/// that is slow to send a request's head or sits idle is closed, and connections beyond the caps
/// are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Connections {
    /// A request's head must arrive whole within this, counted from its first byte (from the
    /// connection's start for the first request; also the TLS handshake's limit).
    pub header_read_timeout: klaxon_notify::duration::Millis,
    /// A kept-alive connection with no request in flight is closed after this. Streams (server-
    /// sent events, WebSocket) are requests in flight and are never cut by it.
    pub idle_timeout: klaxon_notify::duration::Millis,
    /// Connections open at once; beyond, new ones are answered 503 and closed. Lowered at start
    /// to what the process's descriptor limit allows.
    pub max_connections: usize,
    /// Connections open at once from one IP address; beyond, 503 and closed.
    pub max_connections_per_ip: usize,
    /// The URL people open klaxon at (behind a proxy: the proxy's), e.g.
    /// `https://klaxon.example.com`: links in notifications point at its dashboard. Without
    /// one, it is derived from `listen`.
    pub external_url: Option<String>,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            header_read_timeout: klaxon_notify::duration::Millis(10_000),
            idle_timeout: klaxon_notify::duration::Millis(60_000),
            max_connections: 4096,
            max_connections_per_ip: 256,
            external_url: None,
        }
    }
}

/// HTTPS with certificates from PEM files, reloaded when they change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// A CA (PEM) whose client certificates authenticate as ingest callers; without it no
    /// client certificate is asked for.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// How often the files' modification times are checked for a new certificate.
    #[serde(default = "reload_interval")]
    pub reload_interval: klaxon_notify::duration::Millis,
}

fn reload_interval() -> klaxon_notify::duration::Millis {
    klaxon_notify::duration::Millis(10_000)
}

/// The built-in collector of the host's own metrics (`system.cpu.usage`,
/// `system.memory.usage`, `system.disk.usage`, in percent), sent to the threshold rules like
/// any other sample.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Collector {
    pub enabled: bool,
    /// Seconds between two samples of each metric.
    pub interval_seconds: u64,
    /// The `host` label of the samples; the machine's host name when not set.
    pub host: Option<String>,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            enabled: true,
            interval_seconds: 10,
            host: None,
        }
    }
}

/// The dashboard served at `/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    /// A sign-in lasts this long, then the page asks for the token again.
    pub session_hours: u64,
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard { session_hours: 12 }
    }
}

/// The alert lifecycle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifecycle {
    /// A resolved alert that fires again within this reopens instead of opening a new one.
    pub reopen_window_seconds: u64,
    /// Resolved alerts close after this.
    pub close_after_seconds: u64,
    /// Event-rule alerts resolve after this long without a new firing; 0: resolved by hand.
    pub rule_auto_resolve_seconds: u64,
    /// Alertmanager-API alerts without `endsAt` resolve after this long without a resend.
    pub resolve_timeout_seconds: u64,
    /// Commands (actions, labelled alerts, silences) waiting for the lifecycle manager; beyond
    /// this, requests get 429 with Retry-After.
    pub queue_commands: usize,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            reopen_window_seconds: 300,
            close_after_seconds: 3600,
            rule_auto_resolve_seconds: 0,
            resolve_timeout_seconds: 300,
            queue_commands: 65_536,
        }
    }
}

/// Limits of the ingest path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ingest {
    /// Signals accepted but not yet evaluated; beyond this, requests get 429.
    pub queue_signals: usize,
    /// The same queue in bytes (what its signals take in memory, estimated from their JSON);
    /// beyond this, requests get 429 too.
    pub queue_bytes: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest NDJSON line, in bytes.
    pub max_line_bytes: usize,
    /// The Retry-After a 429 carries, in seconds.
    pub retry_after_seconds: u64,
}

/// The telemetry buffer and its retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// Persist telemetry (processes, marks, traces, logs) at all.
    pub enabled: bool,
    /// Longest time rows wait in the buffer before a write, in milliseconds.
    pub flush_interval_ms: u64,
    /// Rows buffered between the engine and the disk; when full, ingest is pushed back.
    pub buffer_rows: usize,
    /// The same buffer in bytes (what its rows take in memory); when full, the engine waits
    /// and ingest is pushed back.
    pub buffer_bytes: usize,
    /// Telemetry older than this is deleted (0 keeps everything).
    pub retention_hours: u64,
}

/// Where the store is and how requests wait for it (`[store]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// A request that waits for a commit (`?wait=durable`, creating an alert, an action)
    /// answers 503 after this many seconds without one; what it asked for stays queued.
    pub commit_wait_seconds: u64,
    /// A PostgreSQL database to keep everything in (`postgres://user:password@host:port/db`,
    /// `?options=-c%20search_path%3Dschema` for a schema of its own; one server per database,
    /// or several with `[cluster]`);
    /// none keeps it in SQLite files in the data directory.
    pub url: Option<Secret>,
    /// PostgreSQL: the longest a statement waits for a lock, the store's write lock included
    /// (`lock_timeout`; 0 waits forever). A write that times out fails and is retried.
    pub lock_timeout_seconds: u64,
    /// PostgreSQL: the longest one statement may run (`statement_timeout`; 0 is no limit).
    pub statement_timeout_seconds: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            commit_wait_seconds: 5,
            url: None,
            lock_timeout_seconds: 10,
            statement_timeout_seconds: 60,
        }
    }
}

/// The engine driver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Engine {
    /// How often EWMA baselines are persisted, in seconds.
    pub baseline_save_seconds: u64,
}

pub use klaxon_notify::Secret;

/// The default port: clear of 8080, 9090, 9093 and other common ones.
pub const DEFAULT_PORT: u16 = 7731;

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: format!("127.0.0.1:{DEFAULT_PORT}"),
            data_dir: PathBuf::from("klaxon-data"),
            admin_token: None,
            ingest: Ingest::default(),
            telemetry: Telemetry::default(),
            store: StoreSettings::default(),
            engine: Engine::default(),
            lifecycle: Lifecycle::default(),
            collector: Collector::default(),
            maintenance: Vec::new(),
            inhibit: Vec::new(),
            flapping: Flapping::default(),
            silence_notice: SilenceNotice::default(),
            notify: klaxon_notify::NotifySettings::default(),
            smtp: klaxon_notify::SmtpDefaults::default(),
            receivers: Vec::new(),
            route: None,
            time_intervals: Vec::new(),
            dashboard: Dashboard::default(),
            server: Connections::default(),
            tls: None,
            correlation: klaxon_engine::correlate::CorrelationConfig::default(),
            users: Vec::new(),
            teams: Vec::new(),
            schedules: Vec::new(),
            escalation_policies: Vec::new(),
            sla: SlaConfig::new(),
            paging: Paging::default(),
            otlp: Otlp::default(),
            cluster: Cluster::default(),
        }
    }
}

impl Default for Ingest {
    fn default() -> Self {
        Ingest {
            queue_signals: 1_000_000,
            queue_bytes: 256 << 20,
            max_body_bytes: 64 << 20,
            max_line_bytes: 1 << 20,
            retry_after_seconds: 1,
        }
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            enabled: true,
            flush_interval_ms: 200,
            buffer_rows: 2_000_000,
            buffer_bytes: 256 << 20,
            retention_hours: 24 * 7,
        }
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            baseline_save_seconds: 30,
        }
    }
}

/// Overrides from the command line, applied last.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub admin_token: Option<String>,
}

/// Environment variables that are not configuration keys.
const NOT_KEYS: [&str; 3] = ["KLAXON_CONFIG", "KLAXON_URL", "KLAXON_TOKEN"];

/// Loads the configuration: defaults, then `file`, then `KLAXON_*` variables of `env`, then
/// `flags`. Every error names the file or variable, the key and the reason. A variable that
/// names no configuration key is ignored with a warning (people and scripts set `KLAXON_*`
/// variables for other reasons); an unknown key in the file is an error.
pub fn load(
    file: Option<&Path>,
    env: &[(String, String)],
    flags: &Flags,
) -> Result<Config, String> {
    let (config, ignored) = load_reporting(file, env, flags)?;
    for name in ignored {
        tracing::warn!(
            variable = %name,
            "environment variable {name} names no configuration key; ignored"
        );
    }
    Ok(config)
}

/// As [`load`], returning the names of the ignored environment variables instead of logging
/// them.
fn load_reporting(
    file: Option<&Path>,
    env: &[(String, String)],
    flags: &Flags,
) -> Result<(Config, Vec<String>), String> {
    let text = match file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?,
        ),
        None => None,
    };
    load_text(file.zip(text.as_deref()), env, flags)
}

/// As [`load_reporting`], with the file's path and text already read.
pub(crate) fn load_text(
    file: Option<(&Path, &str)>,
    env: &[(String, String)],
    flags: &Flags,
) -> Result<(Config, Vec<String>), String> {
    let file_table = match file {
        Some((path, text)) => {
            toml::from_str::<toml::Table>(text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => toml::Table::new(),
    };
    let file = file.map(|(path, _)| path);
    // What the file alone says, so that an unknown key of the file is not blamed on a variable.
    let file_error = Config::deserialize(toml::Value::Table(file_table.clone()))
        .err()
        .map(|e| e.to_string());
    let mut table = file_table.clone();
    let mut ignored = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("KLAXON_") else {
            continue;
        };
        if NOT_KEYS.contains(&name.as_str()) || rest.is_empty() {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let value = parse_env_value(value);
        let mut alone = file_table.clone();
        let known = set_path(&mut alone, &path, value.clone()).is_ok()
            && match Config::deserialize(toml::Value::Table(alone)) {
                Ok(_) => true,
                Err(e) => {
                    let e = e.to_string();
                    !e.contains("unknown field") || file_error.as_deref() == Some(e.as_str())
                }
            };
        if !known {
            ignored.push(name.clone());
            continue;
        }
        set_path(&mut table, &path, value)
            .map_err(|e| format!("environment variable {name}: {e}"))?;
    }
    let mut config: Config = Config::deserialize(toml::Value::Table(table)).map_err(|e| {
        let origin = file.map_or_else(|| "configuration".to_owned(), |p| p.display().to_string());
        format!("{origin}: {}", e.to_string().trim())
    })?;
    if let Some(l) = &flags.listen {
        config.listen = l.clone();
    }
    if let Some(d) = &flags.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(t) = &flags.admin_token {
        config.admin_token = Some(Secret(t.clone()));
    }
    config.validate().map_err(|e| match file {
        Some(p) => format!("{}: {e}", p.display()),
        None => e,
    })?;
    Ok((config, ignored))
}

impl Config {
    /// The declared users, teams and schedules as the store keeps them, made at `now`.
    pub(crate) fn declared_people(&self, now: i64) -> klaxon_store::PeopleChange {
        klaxon_store::PeopleChange::Declare {
            users: self.users.iter().map(|u| u.record(now)).collect(),
            teams: self.teams.iter().map(|t| t.record(now)).collect(),
            schedules: (self.schedules.iter())
                .map(|s| crate::oncall::record(s, klaxon_store::Origin::Config, now))
                .collect(),
        }
    }

    fn validate(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            errors.push(format!(
                "listen: `{}` is not an address like 127.0.0.1:{DEFAULT_PORT}",
                self.listen
            ));
        }
        if self.ingest.queue_signals == 0 {
            errors.push("ingest.queue_signals: must be at least 1".to_owned());
        }
        if self.ingest.queue_bytes < 1 << 16 {
            errors.push("ingest.queue_bytes: must be at least 65536".to_owned());
        }
        if self.telemetry.buffer_bytes < 1 << 16 {
            errors.push("telemetry.buffer_bytes: must be at least 65536".to_owned());
        }
        if self.ingest.max_line_bytes == 0
            || self.ingest.max_line_bytes > self.ingest.max_body_bytes
        {
            errors.push(
                "ingest.max_line_bytes: must be between 1 and ingest.max_body_bytes".to_owned(),
            );
        }
        if self.lifecycle.queue_commands == 0 {
            errors.push("lifecycle.queue_commands: must be at least 1".to_owned());
        }
        if self.telemetry.buffer_rows == 0 {
            errors.push("telemetry.buffer_rows: must be at least 1".to_owned());
        }
        if self.telemetry.flush_interval_ms == 0 || self.telemetry.flush_interval_ms > 1_500 {
            errors.push("telemetry.flush_interval_ms: must be between 1 and 1500 (rows are stored within 1.8 s)".to_owned());
        }
        if self.store.commit_wait_seconds == 0 {
            errors.push("store.commit_wait_seconds: must be at least 1".to_owned());
        }
        if let Some(url) = &self.store.url {
            if !(url.0.starts_with("postgres://") || url.0.starts_with("postgresql://")) {
                errors.push("store.url: must be a postgres:// or postgresql:// URL".to_owned());
            }
            if ["sslmode=require", "sslmode=verify"]
                .iter()
                .any(|m| url.0.contains(m))
            {
                errors.push(
                    "store.url: TLS to PostgreSQL is not supported yet (sslmode=require, verify-ca, verify-full)"
                        .to_owned(),
                );
            }
        }
        if let Some(c) = Some(&self.cluster).filter(|c| c.is_node()) {
            c.validate_nodes(self.store.url.is_some(), &mut errors);
            if self.tls.is_some() {
                errors.push("cluster: [tls] is not supported on cluster nodes yet (terminate TLS in a proxy in front of them)".to_owned());
            }
        }
        if self.collector.interval_seconds == 0 {
            errors.push("collector.interval_seconds: must be at least 1".to_owned());
        }
        if let Err(e) = self.noise() {
            errors.extend(e);
        }
        if self.dashboard.session_hours == 0 || self.dashboard.session_hours > 24 * 30 {
            errors.push("dashboard.session_hours: must be between 1 and 720".to_owned());
        }
        let c = &self.server;
        if c.header_read_timeout.0 <= 0 || c.idle_timeout.0 <= 0 {
            errors.push(
                "server.header_read_timeout, server.idle_timeout: must be longer than 0".to_owned(),
            );
        }
        if c.max_connections == 0 || c.max_connections_per_ip == 0 {
            errors.push(
                "server.max_connections, server.max_connections_per_ip: must be at least 1"
                    .to_owned(),
            );
        }
        if self.tls.as_ref().is_some_and(|t| t.reload_interval.0 <= 0) {
            errors.push("tls.reload_interval: must be longer than 0".to_owned());
        }
        if self.admin_token.as_ref().is_some_and(|t| t.0.len() < 16) {
            errors.push("admin_token: must be at least 16 characters".to_owned());
        }
        self.otlp.validate(&mut errors);
        self.cluster.validate(&mut errors);
        self.check_external_url(&mut errors);
        people::validate(&self.users, &self.teams, &mut errors);
        people::validate_schedules(&self.users, &self.schedules, &mut errors);
        self.notify.validate(&mut errors);
        if let Err(e) = self.notifier() {
            errors.extend(e);
        }
        if let Err(e) = self.escalations() {
            errors.extend(e);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// The URL people reach klaxon at, without a trailing `/`: `[server] external_url`, else
    /// `[notify] external_url` (its older place), else `http://` and the `listen` address, with
    /// a loopback address in place of an unspecified one (`0.0.0.0` is nobody's address).
    pub fn external_url(&self) -> String {
        if let Some(u) = self
            .server
            .external_url
            .as_deref()
            .or(self.notify.external_url.as_deref())
        {
            return u.trim().trim_end_matches('/').to_owned();
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match self.listen.parse::<std::net::SocketAddr>() {
            Ok(mut a) => {
                if a.ip().is_unspecified() {
                    a.set_ip(if a.is_ipv4() {
                        std::net::Ipv4Addr::LOCALHOST.into()
                    } else {
                        std::net::Ipv6Addr::LOCALHOST.into()
                    });
                }
                format!("{scheme}://{a}")
            }
            Err(_) => format!("{scheme}://{}", self.listen),
        }
    }

    fn check_external_url(&self, errors: &mut Vec<String>) {
        if self.server.external_url.is_some() && self.notify.external_url.is_some() {
            errors.push(
                "notify.external_url: set only server.external_url (the older notify.external_url is read when it is not set)"
                    .to_owned(),
            );
        }
        for (key, url) in [
            ("server.external_url", &self.server.external_url),
            ("notify.external_url", &self.notify.external_url),
        ] {
            let Some(url) = url.as_deref().map(str::trim) else {
                continue;
            };
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
                || url.contains(['?', '#', ' '])
            {
                errors.push(format!(
                    "{key}: `{url}` is not a URL like https://klaxon.example.com (http or https, a host, an optional path, no query or fragment)"
                ));
            }
        }
    }

    /// Compiles receivers, routes and templates; every error with its key. Each user an
    /// escalation policy can page (named, or a member of a named team) is also a receiver,
    /// `user:NAME`, with one channel per contact.
    pub fn notifier(&self) -> Result<klaxon_notify::Notifier, Vec<String>> {
        let (paged, mut errors) = self.paged_users();
        let declared = self.receivers.len();
        let mut all = self.receivers.clone();
        all.extend(paged.iter().map(|(_, r)| r.clone()));
        let intervals = self.time_intervals(&mut errors);
        let compiled = klaxon_notify::compile(&all, self.route.as_ref(), &self.smtp, &intervals)
            .map_err(|es| {
                es.into_iter()
                    .map(|e| {
                        // A user's receiver is named by the user it pages.
                        for (j, (at, _)) in paged.iter().enumerate() {
                            let key = format!("receivers[{}]", declared + j);
                            if let Some(rest) = e.strip_prefix(key.as_str()) {
                                return format!("{at}: paging it{rest}");
                            }
                        }
                        e
                    })
                    .collect::<Vec<_>>()
            });
        match compiled {
            Ok(mut n) if errors.is_empty() => {
                n.templates.set_max_bytes(self.notify.template_max_bytes);
                Ok(n)
            }
            Ok(_) => Err(errors),
            Err(es) => {
                errors.extend(es);
                Err(errors)
            }
        }
    }

    /// Compiles `[[time_intervals]]` (loading their time zones); errors go to `errors`.
    fn time_intervals(&self, errors: &mut Vec<String>) -> klaxon_notify::route::TimeIntervals {
        let mut out = klaxon_notify::route::TimeIntervals::new();
        for (i, named) in self.time_intervals.iter().enumerate() {
            let key = format!("time_intervals[{i}]");
            if named.name.is_empty() {
                errors.push(format!("{key}.name: a time interval needs a name"));
            } else if out.contains_key(&named.name) {
                errors.push(format!(
                    "{key}.name: a time interval is named `{}` twice",
                    named.name
                ));
            }
            let mut compiled = Vec::new();
            for (j, spec) in named.time_intervals.iter().enumerate() {
                let load = |name: &str| match name {
                    "UTC" => Ok(jiff::tz::TimeZone::UTC),
                    "Local" => jiff::tz::TimeZone::try_system().map_err(|e| e.to_string()),
                    _ => jiff::tz::TimeZone::get(name)
                        .map_err(|e| format!("`{name}` is not a known time zone ({e})")),
                };
                match klaxon_engine::noise::TimeInterval::compile(spec, load) {
                    Ok(t) => compiled.push(t),
                    Err(es) => errors.extend(
                        es.into_iter()
                            .map(|e| format!("{key}.time_intervals[{j}].{e}")),
                    ),
                }
            }
            out.insert(named.name.clone(), compiled.into());
        }
        out
    }

    /// Compiles the noise controls (loading time zones), or every error.
    pub(crate) fn noise(&self) -> Result<NoiseControls, Vec<String>> {
        noise::compile(
            &self.maintenance,
            &self.inhibit,
            &self.flapping,
            &self.silence_notice,
            &self.receivers,
        )
    }

    /// The correlator of `[correlation]` with its topology document read and checked
    /// (`None` when correlation is off); every error at once, each naming its key or path.
    pub(crate) fn correlator(
        &self,
    ) -> Result<Option<klaxon_engine::correlate::Correlator>, Vec<String>> {
        use klaxon_engine::correlate::{parse_topology, Correlator};
        let c = &self.correlation;
        if !c.enabled {
            return Ok(None);
        }
        let mut errors = Vec::new();
        let topology = match &c.topology {
            None => None,
            Some(path) => match std::fs::read_to_string(path) {
                Err(e) => {
                    errors.push(format!("correlation.topology: reading {path}: {e}"));
                    None
                }
                Ok(text) => match parse_topology(&text) {
                    Ok(t) => Some(t),
                    Err(es) => {
                        errors.extend(
                            es.iter()
                                .map(|e| format!("correlation.topology: {path}: {e}")),
                        );
                        None
                    }
                },
            },
        };
        match Correlator::new(c.clone(), topology) {
            Ok(corr) if errors.is_empty() => Ok(Some(corr)),
            Ok(_) => Err(errors),
            Err(es) => {
                errors.extend(es);
                Err(errors)
            }
        }
    }

    /// The SQLite file (unused when `[store] url` names a PostgreSQL database).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("klaxon.sqlite")
    }
}

/// An environment value as TOML when it reads as a number or boolean, else as a string.
fn parse_env_value(v: &str) -> toml::Value {
    if let Ok(i) = v.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(b) = v.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    if let Ok(f) = v.parse::<f64>() {
        if f.is_finite() && v.contains('.') {
            return toml::Value::Float(f);
        }
    }
    toml::Value::String(v.to_owned())
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is not a section"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("klaxon-config-{}-{name}", std::process::id()));
        std::fs::write(&p, text).expect("write temp config");
        p
    }

    #[test]
    fn a_cluster_needs_postgresql_a_name_and_a_reachable_address() {
        let flags = Flags::default();
        let load = |text: &str| load_text(Some((Path::new("k.toml"), text)), &[], &flags);
        let err = load("[cluster]\nnode = \"n1\"\nadvertise = \"http://10.0.0.5:7731\"\n")
            .expect_err("no database");
        assert!(
            err.contains("cluster: needs a PostgreSQL database"),
            "{err}"
        );
        let err = load(
            "[store]\nurl = \"postgres://db/k\"\n[cluster]\nnode = \"\"\nadvertise = \"10.0.0.5:7731\"\nheartbeat = \"5s\"\n",
        )
        .expect_err("bad cluster");
        for want in [
            "cluster.node: a name of 1 to 128 characters",
            "cluster.advertise: `10.0.0.5:7731` is not a URL",
            "cluster.heartbeat, cluster.lease: ",
        ] {
            assert!(err.contains(want), "{want:?} not in {err}");
        }
        let (c, _) = load(
            "[store]\nurl = \"postgres://db/k\"\n[cluster]\nnode = \"n1\"\nadvertise = \"http://10.0.0.5:7731\"\n",
        )
        .expect("a good cluster");
        let c = Some(c.cluster).filter(|c| c.is_node()).expect("[cluster]");
        assert_eq!((c.heartbeat.0, c.lease.0), (1_000, 10_000));
        assert!(!load("").expect("no cluster").0.cluster.is_node());
    }

    #[test]
    fn routes_mute_by_named_time_intervals_and_every_mistake_is_named() {
        let text = r#"
[route]
receiver = "a"
[[route.routes]]
matchers = ['team="db"']
mute_time_intervals = ["nights"]
active_time_intervals = ["nope"]
[[receivers]]
name = "a"
[[time_intervals]]
name = "nights"
[[time_intervals.time_intervals]]
weekdays = ["monday:friday"]
location = "Europe/Berlin"
[[time_intervals.time_intervals.times]]
start_time = "22:00"
end_time = "24:00"
[[time_intervals]]
name = "bad"
[[time_intervals.time_intervals]]
months = ["march:january"]
location = "Mars/Olympus"
"#;
        let c: Config = toml::from_str(text).expect("parses");
        let errors = c.notifier().expect_err("refused");
        for want in [
            "route.routes[0].active_time_intervals[0]: no time interval is named `nope`",
            "time_intervals[1].time_intervals[0].months[0]:",
            "time_intervals[1].time_intervals[0].location: `Mars/Olympus` is not a known time zone",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(want)),
                "{want:?} not in {errors:?}"
            );
        }
        let good = text
            .replace(", \"nope\"", "")
            .replace("active_time_intervals = [\"nope\"]\n", "");
        let good = &good[..good
            .find("[[time_intervals]]\nname = \"bad\"")
            .expect("bad")];
        let c: Config = toml::from_str(good).expect("parses");
        let n = c.notifier().expect("compiles");
        let route = n.route.as_ref().expect("a route");
        let labels = [("team".to_owned(), "db".to_owned())].into_iter().collect();
        let t = route.targets(&labels);
        // Monday 2024-01-15 21:30 UTC is 22:30 in Berlin.
        let at = |s: &str| klaxon_engine::timestamp::parse_ts_str(s).expect("instant");
        assert_eq!(
            t[0].time_mute
                .muted_at(at("2024-01-15T21:30:00Z"))
                .as_deref(),
            Some("nights")
        );
        assert_eq!(t[0].time_mute.muted_at(at("2024-01-15T20:30:00Z")), None);
    }

    #[test]
    fn defaults_are_loopback_on_an_uncommon_port() {
        let c = load(None, &[], &Flags::default()).expect("defaults load");
        assert_eq!(c.listen, "127.0.0.1:7731");
        assert_eq!(
            c.database_path(),
            PathBuf::from("klaxon-data/klaxon.sqlite")
        );
    }

    #[test]
    fn the_external_url_is_the_configured_one_or_derived_from_listen() {
        for (file, want) in [
            ("", "http://127.0.0.1:7731"),
            ("listen = \"0.0.0.0:8000\"\n", "http://127.0.0.1:8000"),
            ("listen = \"[::]:8000\"\n", "http://[::1]:8000"),
            ("listen = \"10.0.0.5:8000\"\n", "http://10.0.0.5:8000"),
            (
                "[server]\nexternal_url = \"https://klaxon.example.com/ops/\"\n",
                "https://klaxon.example.com/ops",
            ),
            (
                "[notify]\nexternal_url = \"https://old.example.com\"\n",
                "https://old.example.com",
            ),
        ] {
            let f = temp_file("external-url.toml", file);
            let c = load(Some(&f), &[], &Flags::default()).expect(file);
            assert_eq!(c.external_url(), want, "{file}");
        }
        let e = env(&[("KLAXON_SERVER__EXTERNAL_URL", "https://k.example")]);
        let c = load(None, &e, &Flags::default()).expect("from the environment");
        assert_eq!(c.external_url(), "https://k.example");
        for (file, key) in [
            (
                "[server]\nexternal_url = \"klaxon.example.com\"\n",
                "server.external_url",
            ),
            (
                "[server]\nexternal_url = \"https://k/#/\"\n",
                "server.external_url",
            ),
            (
                "[server]\nexternal_url = \"https://a\"\n[notify]\nexternal_url = \"https://b\"\n",
                "notify.external_url",
            ),
        ] {
            let f = temp_file("external-url-bad.toml", file);
            let err = load(Some(&f), &[], &Flags::default()).expect_err(file);
            assert!(err.contains(key), "{file}: {err}");
        }
    }

    #[test]
    fn file_then_environment_then_flags() {
        let f = temp_file(
            "layers.toml",
            "listen = \"127.0.0.1:9000\"\n[ingest]\nqueue_signals = 5\n",
        );
        let e = env(&[
            ("KLAXON_INGEST__QUEUE_SIGNALS", "7"),
            ("KLAXON_TELEMETRY__ENABLED", "false"),
            ("KLAXON_URL", "x"),
        ]);
        let flags = Flags {
            listen: Some("127.0.0.1:9001".into()),
            ..Flags::default()
        };
        let c = load(Some(&f), &e, &flags).expect("loads");
        assert_eq!(c.ingest.queue_signals, 7);
        assert!(!c.telemetry.enabled);
        assert_eq!(c.listen, "127.0.0.1:9001");
    }

    #[test]
    fn the_otlp_table_is_checked_at_load_with_every_error() {
        let f = temp_file(
            "otlp.toml",
            "[otlp]\nprocess_attribute = \"app.job\"\nquantiles = [0.95, 0.999]\n",
        );
        let c = load(Some(&f), &[], &Flags::default()).expect("loads");
        assert_eq!(c.otlp.process_attribute, "app.job");
        assert_eq!(c.otlp.context_attribute, "klaxon.context");
        let f = temp_file(
            "otlp-bad.toml",
            "[otlp]\ncontext_attribute = \" \"\nquantiles = [0.5, 1.5, 0.5]\nmax_inflated_bytes = 10\nmax_rate_series = 0\nhold_seconds = 0\n",
        );
        let err = load(Some(&f), &[], &Flags::default()).expect_err("refused");
        for part in [
            "otlp.context_attribute",
            "otlp.quantiles[1]: `1.5`",
            "otlp.quantiles[2]: `0.5` is given twice",
            "otlp.max_inflated_bytes",
            "otlp.max_rate_series",
            "otlp.hold_seconds",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        let many = format!("[otlp]\nquantiles = [{}]\n", ["0.5"; 11].join(", "));
        let f = temp_file("otlp-many.toml", &many);
        let err = load(Some(&f), &[], &Flags::default()).expect_err("refused");
        assert!(err.contains("otlp.quantiles: at most 10"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let f = temp_file("typo.toml", "[ingest]\nqueue_signal = 5\n");
        let err = load(Some(&f), &[], &Flags::default()).expect_err("typo rejected");
        assert!(err.contains("queue_signal"), "{err}");
        assert!(err.contains("typo.toml"), "{err}");
    }

    #[test]
    fn unknown_variables_are_ignored_with_their_names() {
        let e = env(&[
            ("KLAXON_BIN", "/usr/local/bin/klaxon"),
            ("KLAXON_TELEMETRY__FLUSH", "1"),
            ("KLAXON_INGEST__QUEUE", "1"),
            ("KLAXON_INGEST__QUEUE_SIGNALS", "7"),
        ]);
        let (c, ignored) = load_reporting(None, &e, &Flags::default()).expect("loads");
        assert_eq!(c.ingest.queue_signals, 7);
        assert_eq!(c.listen, "127.0.0.1:7731");
        assert_eq!(
            ignored,
            [
                "KLAXON_BIN",
                "KLAXON_TELEMETRY__FLUSH",
                "KLAXON_INGEST__QUEUE"
            ]
        );
        // A known key with a bad value is still an error, and so is the file's unknown key.
        let err = load(
            None,
            &env(&[
                ("KLAXON_BIN", "x"),
                ("KLAXON_INGEST__QUEUE_SIGNALS", "many"),
            ]),
            &Flags::default(),
        )
        .expect_err("bad value");
        assert!(err.contains("queue_signals"), "{err}");
        let f = temp_file("typo-env.toml", "[ingest]\nqueue_signal = 5\n");
        let err = load(Some(&f), &env(&[("KLAXON_BIN", "x")]), &Flags::default())
            .expect_err("the file's typo");
        assert!(err.contains("queue_signal"), "{err}");
    }

    #[test]
    fn invalid_values_are_reported_together() {
        let e = env(&[
            ("KLAXON_LISTEN", "nowhere"),
            ("KLAXON_INGEST__QUEUE_SIGNALS", "0"),
        ]);
        let err = load(None, &e, &Flags::default()).expect_err("invalid");
        assert!(
            err.contains("listen") && err.contains("queue_signals"),
            "{err}"
        );
    }

    #[test]
    fn the_store_url_names_postgresql_and_stays_out_of_debug() {
        let url = "postgres://klaxon:hunter2-secret@db.example:5432/klaxon";
        let c = load(None, &env(&[("KLAXON_STORE__URL", url)]), &Flags::default()).expect("loads");
        assert_eq!(c.store.url.as_ref().map(|u| u.0.as_str()), Some(url));
        assert!(!format!("{c:?}").contains("hunter2"));
        let err = load(
            None,
            &env(&[("KLAXON_STORE__URL", "mysql://db.example/klaxon")]),
            &Flags::default(),
        )
        .expect_err("not postgresql");
        assert!(err.contains("store.url"), "{err}");
        let err = load(
            None,
            &env(&[(
                "KLAXON_STORE__URL",
                "postgres://db.example/klaxon?sslmode=require",
            )]),
            &Flags::default(),
        )
        .expect_err("no tls yet");
        assert!(err.contains("TLS to PostgreSQL is not supported"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = load(
            None,
            &env(&[("KLAXON_ADMIN_TOKEN", "a-very-secret-admin-token")]),
            &Flags::default(),
        )
        .expect("loads");
        assert!(!format!("{c:?}").contains("a-very-secret"));
        assert_eq!(
            c.admin_token.map(|s| s.0).as_deref(),
            Some("a-very-secret-admin-token")
        );
    }
}
