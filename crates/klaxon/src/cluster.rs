//! `klaxon cluster status`: the nodes of a cluster (docs/cluster.md) as the node at `--url`
//! sees them, from its `GET /monitoring/health` (public; any node answers it itself).
//!
//! Exit codes: 0 a node leads, 1 no node leads (or the server is not a cluster node), 2 the
//! server could not be reached.

use std::process::ExitCode;

use serde_json::Value;

use crate::client::{runtime, Client, Target};
use crate::print::table;

#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    target: Target,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// Milliseconds as `850ms`, `12.3s`, `4m05s`.
fn age(v: &Value) -> String {
    let Some(ms) = v.as_i64() else {
        return "-".to_owned();
    };
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1_000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1_000) % 60)
    }
}

pub(crate) fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.target)?;
    let reply = runtime()?.block_on(client.get("/monitoring/health"))?;
    // A follower without a leader answers 503 with the same body.
    let health: Value = reply.json()?;
    let Some(c) = health.get("cluster") else {
        eprintln!(
            "{} is not a cluster node (no [cluster] in its configuration): it runs alone",
            args.target.url
        );
        return Ok(ExitCode::from(1));
    };
    println!(
        "node {} ({}) at {}",
        text(&c["node"]),
        text(&c["role"]),
        text(&c["advertise"])
    );
    let leads = match c.get("leader") {
        Some(l) if l.is_object() => {
            println!(
                "leader: {} at {}, epoch {}, since {}",
                text(&l["node"]),
                text(&l["advertise"]),
                text(&l["epoch"]),
                text(&l["since"])
            );
            true
        }
        _ => {
            println!(
                "leader: none (epoch {}): an election is under way",
                text(&c["epoch"])
            );
            false
        }
    };
    if let Some(e) = c.get("view_error").filter(|e| !e.is_null()) {
        println!("the node cannot read the cluster's state: {}", text(e));
    }
    let rows: Vec<[String; 5]> = c["members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            [
                text(&m["node"]),
                text(&m["role"]),
                text(&m["advertise"]),
                age(&m["heartbeat_age_ms"]),
                text(&m["started_at"]),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            ["NODE", "ROLE", "ADVERTISE", "HEARTBEAT AGE", "STARTED"],
            &rows
        )
    );
    Ok(if leads {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
