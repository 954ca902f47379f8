//! `klaxon correlate`: offline correlation of Alertmanager alerts (one postable alert per
//! line), deterministic because time is the alerts' own. Owns reading lines, naming alerts by
//! their keys, and writing the groups and incidents as one JSON document; no correlation
//! semantics live here.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use klaxon_engine::correlate::{
    parse_topology, CorrelationConfig, Correlator, Decision, Event, Firing, Link, NoiseKind,
};
use klaxon_engine::timestamp::parse_ts_str;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::rules::read_input;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The topology document (services, clusters, dependencies) as JSON.
    #[arg(long, value_name = "FILE.json")]
    topology: Option<PathBuf>,
    /// A klaxon TOML file whose `[correlation]` table configures the correlator (other tables
    /// are ignored here).
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Alertmanager postable alerts as NDJSON, one per line, in time order (`-` for stdin).
    alerts: PathBuf,
}

/// One line: an Alertmanager API v2 postable alert, optionally named by `key`.
#[derive(Debug, Deserialize)]
struct Line {
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(rename = "endsAt")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    #[allow(dead_code)]
    generator_url: Option<String>,
    key: Option<String>,
}

/// A line, once read: a new alert, its resolution or a resend (the caller tells which).
struct Parsed {
    key: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: i64,
    ends_at: Option<i64>,
}

/// Go's zero time, which Alertmanager clients send for "no end".
const GO_ZERO_MS: i64 = -62_135_596_800_000;

fn time(field: &str, s: Option<&str>) -> Result<Option<i64>, String> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    match parse_ts_str(s).map_err(|e| format!("{field}: {e}"))? {
        GO_ZERO_MS => Ok(None),
        ms => Ok(Some(ms)),
    }
}

fn parse_line(line: &str, n: usize) -> Result<Parsed, String> {
    let l: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let labels = l.labels.ok_or("labels: required")?;
    if labels.is_empty() {
        return Err("labels: must not be empty".into());
    }
    let starts_at = time("startsAt", l.starts_at.as_deref())?
        .ok_or("startsAt: required (time comes from the alerts)")?;
    let ends_at = time("endsAt", l.ends_at.as_deref())?;
    if ends_at.is_some_and(|e| e < starts_at) {
        return Err("endsAt: must not be before startsAt".into());
    }
    Ok(Parsed {
        key: l.key.unwrap_or_else(|| n.to_string()),
        labels,
        annotations: l.annotations,
        starts_at,
        ends_at,
    })
}

fn load_config(path: &Path) -> anyhow::Result<CorrelationConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
    match table.remove("correlation") {
        None => Ok(CorrelationConfig::default()),
        Some(v) => v.try_into().map_err(|e: toml::de::Error| {
            anyhow::anyhow!("{}: [correlation]: {}", path.display(), e.message())
        }),
    }
}

/// The output being built from the decisions.
#[derive(Default)]
struct Outcome {
    incidents: BTreeMap<u64, IncidentOut>,
    recurring: BTreeMap<u64, RecurringOut>,
}

struct IncidentOut {
    title: String,
    alerts: Vec<u64>,
    links: Vec<Link>,
}

struct RecurringOut {
    kind: NoiseKind,
    alerts: Vec<u64>,
}

impl Outcome {
    fn apply(&mut self, d: Decision) {
        match d {
            Decision::Opened {
                incident,
                alert,
                title,
            } => {
                self.incidents.insert(
                    incident,
                    IncidentOut {
                        title,
                        alerts: vec![alert],
                        links: Vec::new(),
                    },
                );
            }
            Decision::Joined { incident, link, .. } => {
                if let Some(i) = self.incidents.get_mut(&incident) {
                    i.alerts.push(link.alert);
                    i.links.push(link);
                }
            }
            Decision::Merged { from, into, link } => {
                if let Some(f) = self.incidents.remove(&from) {
                    if let Some(i) = self.incidents.get_mut(&into) {
                        i.alerts.extend(f.alerts);
                        i.links.extend(f.links);
                        i.links.push(link);
                    }
                }
            }
            Decision::Recurring {
                group,
                alert,
                kind,
                moved_from,
            } => {
                if let Some(from) = moved_from {
                    if let Some(i) = self.incidents.get_mut(&from) {
                        i.alerts.retain(|&a| a != alert);
                        i.links.retain(|l| l.alert != alert);
                        if i.alerts.is_empty() {
                            self.incidents.remove(&from);
                        }
                    }
                }
                self.recurring
                    .entry(group)
                    .or_insert(RecurringOut {
                        kind,
                        alerts: Vec::new(),
                    })
                    .alerts
                    .push(alert);
            }
            Decision::Resolved { .. }
            | Decision::Closed { .. }
            | Decision::RecurringEnded { .. }
            | Decision::Ignored { .. } => {}
        }
    }

    fn to_json(&self, keys: &[String], starts: &[i64]) -> Value {
        let k = |id: u64| Value::String(keys[id as usize].clone());
        let names = |ids: &[u64]| Value::Array(ids.iter().map(|&a| k(a)).collect());
        let mut groups: Vec<Value> = self.incidents.values().map(|i| names(&i.alerts)).collect();
        groups.extend(self.recurring.values().map(|r| names(&r.alerts)));
        let incidents: Vec<Value> = self
            .incidents
            .iter()
            .map(|(id, i)| {
                json!({
                    "id": id,
                    "title": i.title,
                    "alerts": names(&i.alerts),
                    "links": i.links.iter().map(|l| link_json(l, &k)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let recurring: Vec<Value> = self
            .recurring
            .iter()
            .map(|(id, r)| {
                let times: Vec<i64> = r.alerts.iter().map(|&a| starts[a as usize]).collect();
                let span = times.iter().max().unwrap_or(&0) - times.iter().min().unwrap_or(&0);
                json!({
                    "id": id,
                    "kind": r.kind.as_str(),
                    "title": format!("{}: {} firings in {}", r.kind.as_str(), r.alerts.len(), span_text(span)),
                    "alerts": names(&r.alerts),
                })
            })
            .collect();
        json!({"groups": groups, "incidents": incidents, "recurring": recurring})
    }
}

fn span_text(ms: i64) -> String {
    let minutes = ms / 60_000;
    if minutes >= 120 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

fn link_json(l: &Link, k: &impl Fn(u64) -> Value) -> Value {
    l.json(k)
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(p) => load_config(p)?,
        None => CorrelationConfig::default(),
    };
    let topology_path = args
        .topology
        .clone()
        .or_else(|| config.topology.as_ref().map(PathBuf::from));
    let topology = match &topology_path {
        None => {
            eprintln!(
                "note: no topology document: correlating from labels, text, time and history"
            );
            None
        }
        Some(p) => {
            let text = read_input(p)?;
            match parse_topology(&text) {
                Ok(t) => Some(t),
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: error: {e}", p.display());
                    }
                    anyhow::bail!(
                        "{}: {} error(s), topology rejected",
                        p.display(),
                        errors.len()
                    );
                }
            }
        }
    };
    let mut correlator = match Correlator::new(config, topology) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            anyhow::bail!("{} configuration error(s)", errors.len());
        }
    };

    let input: Box<dyn BufRead> = if args.alerts.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(&args.alerts)
            .with_context(|| format!("opening {}", args.alerts.display()))?;
        Box::new(BufReader::with_capacity(1 << 16, f))
    };
    let name = args.alerts.display();
    // (labels, startsAt) → alert id; ids index `keys`.
    let mut known: HashMap<(BTreeMap<String, String>, i64), u64> = HashMap::new();
    let mut key_ids: HashMap<String, u64> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut starts: Vec<i64> = Vec::new();
    let mut outcome = Outcome::default();
    let mut decisions = Vec::new();
    let mut bad = 0usize;
    for (n, line) in input.lines().enumerate() {
        let n = n + 1;
        let line = line.with_context(|| format!("reading line {n}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let Parsed {
            key,
            labels,
            annotations,
            starts_at,
            ends_at,
        } = match parse_line(&line, n) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{name}:{n}: {e}");
                bad += 1;
                continue;
            }
        };
        let identity = (labels, starts_at);
        if let Some(&id) = known.get(&identity) {
            // A repeat of a known alert: its resolution if it carries an end, else a resend.
            if let Some(at) = ends_at {
                correlator.observe(&Event::Resolved { alert: id, at }, &mut decisions);
            }
        } else {
            if key_ids.contains_key(&key) {
                eprintln!("{name}:{n}: key `{key}` already names another alert");
                bad += 1;
                continue;
            }
            let id = keys.len() as u64;
            keys.push(key.clone());
            starts.push(starts_at);
            key_ids.insert(key, id);
            let firing = Firing {
                alert: id,
                labels: &identity.0,
                annotations: &annotations,
                starts_at,
                ends_at,
            };
            correlator.observe(&Event::Firing(firing), &mut decisions);
            known.insert(identity, id);
        }
        for d in decisions.drain(..) {
            outcome.apply(d);
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer(&mut out, &outcome.to_json(&keys, &starts))
        .context("writing the result")?;
    out.write_all(b"\n").context("writing the result")?;
    out.flush().context("writing the result")?;
    if bad > 0 {
        eprintln!("{name}: {bad} bad line(s) skipped");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
