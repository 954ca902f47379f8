//! `klaxon oncall` and `klaxon schedules list|show`: who is on call and the on-call schedules
//! of a running server, through its API (`/v1/oncall`, `/v1/schedules`; a viewer token is
//! enough). Owns the requests and the printing; the schedules' arithmetic is the server's.
//!
//! Exit codes: 0 done, 1 the server said no (no such schedule, a range over 90 days), 2 the
//! server could not be reached.

use std::process::ExitCode;

use hyper::Method;
use serde_json::Value;

use crate::client::{encode, Target};
use crate::people::{send, text, ListArgs, NameArgs};
use crate::print::table;

#[derive(clap::Args, Debug)]
pub(crate) struct OnCallArgs {
    /// One schedule's shifts from --at to --until; without it, every schedule's person at --at.
    #[arg(long)]
    schedule: Option<String>,
    /// An RFC 3339 time (default: now).
    #[arg(long)]
    at: Option<String>,
    /// An RFC 3339 time, with --schedule (default: 14 days after --at; at most 90 days).
    #[arg(long)]
    until: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// `2026-12-08T08:00:00Z` of the API's `2026-12-08T08:00:00.000Z`.
fn time(v: &Value) -> String {
    let t = text(v);
    t.strip_suffix(".000Z")
        .map_or(t.clone(), |s| format!("{s}Z"))
}

pub(crate) fn oncall(args: &OnCallArgs) -> anyhow::Result<ExitCode> {
    let mut query = Vec::new();
    for (k, v) in [
        ("schedule", &args.schedule),
        ("at", &args.at),
        ("until", &args.until),
    ] {
        if let Some(v) = v {
            query.push(format!("{k}={}", encode(v)));
        }
    }
    let path = if query.is_empty() {
        "/v1/oncall".to_owned()
    } else {
        format!("/v1/oncall?{}", query.join("&"))
    };
    let v = match send(
        &args.target,
        Method::GET,
        &path,
        None,
        "asking who is on call",
    )? {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    let out = if args.schedule.is_some() {
        let rows: Vec<[String; 4]> = (v["shifts"].as_array().into_iter().flatten())
            .map(|s| {
                let source = match (&s["layer"], &s["override_id"]) {
                    (Value::Number(l), _) => format!("layer {l}"),
                    (_, Value::Number(id)) => format!("override {id}"),
                    _ => "override".to_owned(),
                };
                [text(&s["user"]), time(&s["start"]), time(&s["end"]), source]
            })
            .collect();
        format!(
            "schedule {} ({}), on call at {}: {}\n{}",
            text(&v["schedule"]),
            text(&v["time_zone"]),
            time(&v["at"]),
            text(&v["on_call"]),
            table(["USER", "START", "END", "SOURCE"], &rows)
        )
    } else {
        let rows: Vec<[String; 3]> = (v["schedules"].as_array().into_iter().flatten())
            .map(|s| [text(&s["schedule"]), text(&s["user"]), time(&s["until"])])
            .collect();
        table(["SCHEDULE", "ON CALL", "UNTIL"], &rows)
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let v = match send(
        args.target(),
        Method::GET,
        "/v1/schedules",
        None,
        "listing schedules",
    )? {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    let rows: Vec<[String; 5]> = (v["schedules"].as_array().into_iter().flatten())
        .map(|s| {
            let layers: Vec<String> = (s["layers"].as_array().into_iter().flatten())
                .map(|l| {
                    let users: Vec<String> = (l["users"].as_array().into_iter().flatten())
                        .map(text)
                        .collect();
                    format!("{} every {}", users.join(","), text(&l["shift"]))
                })
                .collect();
            [
                text(&s["name"]),
                text(&s["time_zone"]),
                text(&s["origin"]),
                text(&s["on_call"]),
                layers.join("; "),
            ]
        })
        .collect();
    print!(
        "{}",
        table(["NAME", "TIME ZONE", "ORIGIN", "ON CALL", "LAYERS"], &rows)
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn show(args: &NameArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/v1/schedules/{}", encode(args.name()));
    let what = format!("reading schedule {:?}", args.name());
    match send(args.target(), Method::GET, &path, None, &what)? {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}
