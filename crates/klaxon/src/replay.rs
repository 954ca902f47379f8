//! `klaxon replay`: offline evaluation of recorded signals, deterministic because engine time
//! is event time. Owns reading NDJSON and writing alert lines; no rule semantics live here.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use klaxon_engine::event::parse_rule_set;
use klaxon_engine::timestamp::parse_ts_str;
use klaxon_engine::wire::parse_signal;
use klaxon_engine::{Body, Engine};

use crate::print::rule_problem;
use crate::rules::read_input;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The rule-set JSON file.
    #[arg(long)]
    rules: PathBuf,
    /// At the end, advance engine time to TS (epoch ms or RFC 3339) so pending timers fire.
    #[arg(long, value_name = "TS")]
    until: Option<String>,
    /// The rule-set group the set is active in (a process naming another group is not evaluated).
    #[arg(long, default_value = "default")]
    group: String,
    /// Signals as NDJSON, one signal per line (`-` for stdin).
    signals: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let until = args
        .until
        .as_deref()
        .map(|u| parse_ts_str(u).map_err(|e| anyhow::anyhow!("--until: {e}")))
        .transpose()?;
    let text = read_input(&args.rules)?;
    let parsed = match parse_rule_set(&text) {
        Ok(p) => p,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: error: {}", args.rules.display(), rule_problem(e));
            }
            anyhow::bail!(
                "{}: {} error(s), rule set rejected",
                args.rules.display(),
                errors.len()
            );
        }
    };
    for w in &parsed.warnings {
        eprintln!("{}: warning: {w}", args.rules.display());
    }
    let name = parsed
        .set
        .name
        .clone()
        .unwrap_or_else(|| file_stem(&args.rules));
    let mut engine = Engine::new();
    engine.activate(&args.group, &name, parsed.set.version.clone(), &parsed.set);

    let input: Box<dyn BufRead> = if args.signals.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(&args.signals)
            .with_context(|| format!("opening {}", args.signals.display()))?;
        Box::new(BufReader::with_capacity(1 << 16, f))
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut alerts = Vec::new();
    let mut now: Option<i64> = None;
    let mut bad = 0usize;
    for (n, line) in input.lines().enumerate() {
        let n = n + 1;
        let line = line.with_context(|| format!("reading line {n}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut signal = match parse_signal(&line) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}:{n}: {e}", args.signals.display());
                bad += 1;
                continue;
            }
        };
        if signal.process.is_empty() && matches!(signal.body, Body::ProcessStart(_)) {
            signal.process = format!("auto-{n}");
        }
        let t = match (signal.ts, now) {
            (Some(ts), Some(now)) => ts.max(now),
            (Some(ts), None) => ts,
            (None, Some(now)) => now,
            (None, None) => 0,
        };
        now = Some(t);
        engine.process(t, &signal, &mut alerts);
        write_alerts(&mut out, &mut alerts)?;
    }
    if let Some(until) = until {
        engine.advance(until, &mut alerts);
        write_alerts(&mut out, &mut alerts)?;
    }
    out.flush().context("writing alerts")?;
    if bad > 0 {
        eprintln!("{}: {bad} bad line(s) skipped", args.signals.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_alerts(
    out: &mut impl Write,
    alerts: &mut Vec<klaxon_engine::Alert>,
) -> anyhow::Result<()> {
    for a in alerts.drain(..) {
        serde_json::to_writer(&mut *out, &a).context("writing alerts")?;
        out.write_all(b"\n").context("writing alerts")?;
    }
    Ok(())
}

fn file_stem(p: &std::path::Path) -> String {
    p.file_stem()
        .map_or_else(|| "rules".to_owned(), |s| s.to_string_lossy().into_owned())
}
