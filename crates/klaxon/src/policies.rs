//! `klaxon policies list|show|create|replace|delete`: escalation policies on a running server,
//! through its API (`/v1/escalation-policies`; reads need a viewer token, changes an admin's).
//! A policy file is JSON in the shape of `[[escalation_policies]]`. Owns the requests, the
//! printing and the exit codes; checks are the server's.
//!
//! Exit codes: 0 done, 1 the server said no (every problem printed with its field), 2 the
//! server could not be reached.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::client::{encode, runtime, Client, Target};
use crate::people::{text, ListArgs, NameArgs};
use crate::print::{refused, table};

const PATH: &str = "/v1/escalation-policies";

#[derive(clap::Args, Debug)]
pub(crate) struct CreateArgs {
    /// A JSON file: {"name", "repeat", "ack_timeout", "levels": [{"wait", "notify": [...]}]}.
    #[arg(long)]
    file: PathBuf,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ReplaceArgs {
    /// The policy's name.
    name: String,
    /// A JSON file with the new `levels`, `repeat` and `ack_timeout` (a `name`, if any, must
    /// be this one).
    #[arg(long)]
    file: PathBuf,
    #[command(flatten)]
    target: Target,
}

/// Sends one request; the error of a refusal is printed with every problem it lists.
fn send(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Bytes>,
    what: &str,
) -> anyhow::Result<Result<Value, ExitCode>> {
    let client = Client::new(target)?;
    let reply = runtime()?.block_on(async {
        match body {
            Some(b) => client.call(method, path, Some("application/json"), b).await,
            None => client.call(method, path, None, Bytes::new()).await,
        }
    })?;
    if !reply.is_success() {
        let code = refused(what, &reply);
        if let Some(problems) = reply.error().details["problems"].as_array() {
            for p in problems {
                eprintln!("  {}: {}", text(&p["field"]), text(&p["message"]));
            }
        }
        return Ok(Err(code));
    }
    if reply.body.is_empty() {
        return Ok(Ok(Value::Null));
    }
    Ok(Ok(reply.json()?))
}

fn read(file: &PathBuf) -> anyhow::Result<Bytes> {
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_slice::<Value>(&body)
        .with_context(|| format!("{}: not JSON", file.display()))?;
    Ok(Bytes::from(body))
}

/// A level's targets, as `5m: user:alice, team:db`.
fn levels_text(p: &Value) -> String {
    let levels = p["levels"].as_array().cloned().unwrap_or_default();
    levels
        .iter()
        .map(|l| {
            let notify: Vec<String> = (l["notify"].as_array().into_iter().flatten())
                .map(text)
                .collect();
            format!("{}: {}", text(&l["wait"]), notify.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

pub(crate) fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let v = match send(
        args.target(),
        Method::GET,
        PATH,
        None,
        "listing escalation policies",
    )? {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    let rows: Vec<[String; 5]> = (v["policies"].as_array().into_iter().flatten())
        .map(|p| {
            [
                text(&p["name"]),
                text(&p["origin"]),
                text(&p["repeat"]),
                text(&p["ack_timeout"]),
                levels_text(p),
            ]
        })
        .collect();
    print!(
        "{}",
        table(["NAME", "ORIGIN", "REPEAT", "ACK TIMEOUT", "LEVELS"], &rows)
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn show(args: &NameArgs) -> anyhow::Result<ExitCode> {
    let path = format!("{PATH}/{}", encode(args.name()));
    let what = format!("reading escalation policy {:?}", args.name());
    match send(args.target(), Method::GET, &path, None, &what)? {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub(crate) fn create(args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let body = read(&args.file)?;
    match send(
        &args.target,
        Method::POST,
        PATH,
        Some(body),
        "creating the escalation policy",
    )? {
        Ok(v) => {
            println!("created escalation policy {}", text(&v["name"]));
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub(crate) fn replace(args: &ReplaceArgs) -> anyhow::Result<ExitCode> {
    let body = read(&args.file)?;
    let path = format!("{PATH}/{}", encode(&args.name));
    let what = format!("replacing escalation policy {:?}", args.name);
    match send(&args.target, Method::PUT, &path, Some(body), &what)? {
        Ok(_) => {
            println!("replaced escalation policy {}", args.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub(crate) fn delete(args: &NameArgs) -> anyhow::Result<ExitCode> {
    let path = format!("{PATH}/{}", encode(args.name()));
    let what = format!("deleting escalation policy {:?}", args.name());
    match send(args.target(), Method::DELETE, &path, None, &what)? {
        Ok(_) => {
            println!("deleted escalation policy {}", args.name());
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}
