//! `klaxon rules load|activate|list`: rule sets on a running server, through its HTTP API.
//! Owns the requests, the printing and the exit codes; validation is the server's.
//!
//! Exit codes: 0 done, 1 the server said no (invalid set, unknown version, bad token),
//! 2 the server could not be reached (or a local file could not be read).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hyper::StatusCode;
use klaxon_engine::RuleError;
use serde::Deserialize;

use crate::client::{encode, query, runtime, Client, Reply, Target};
use crate::print::{refused, rule_problem, table};
use crate::rules::read_input;

#[derive(clap::Args, Debug)]
pub(crate) struct LoadArgs {
    /// The rule-set JSON file (`-` for stdin).
    file: PathBuf,
    /// The group to store (and activate) the set in; the server's default when absent.
    #[arg(long)]
    group: Option<String>,
    /// Who stores this version.
    #[arg(long)]
    author: Option<String>,
    /// Store under this name instead of the header's `rule_set`.
    #[arg(long)]
    name: Option<String>,
    /// Activate the stored version right away.
    #[arg(long)]
    activate: bool,
    /// Threshold rules on metrics instead of an event rule set.
    #[arg(long)]
    threshold: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ActivateArgs {
    /// The rule set's name.
    name: String,
    /// The stored version to activate.
    version: u64,
    /// The group it was stored in; the server's default when absent.
    #[arg(long)]
    group: Option<String>,
    /// Threshold rules on metrics instead of an event rule set.
    #[arg(long)]
    threshold: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    /// Threshold rules on metrics instead of an event rule set.
    #[arg(long)]
    threshold: bool,
    #[command(flatten)]
    target: Target,
}

/// A stored rule-set version as the API describes it.
#[derive(Debug, Deserialize)]
struct Record {
    #[serde(default)]
    kind: String,
    group: String,
    name: String,
    version: i64,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    created_at: serde_json::Value,
    #[serde(default)]
    active: bool,
    /// Only in the answer to a store.
    #[serde(default)]
    warnings: Vec<serde_json::Value>,
}

impl Record {
    fn describe(&self) -> String {
        let what = if self.kind == "threshold" {
            "threshold rule set"
        } else {
            "rule set"
        };
        format!(
            "{what} {:?} version {} in group {:?}",
            self.name, self.version, self.group
        )
    }
}

/// Where rule sets of the chosen kind live on the server.
fn base(threshold: bool) -> &'static str {
    if threshold {
        "/v1/threshold-rules"
    } else {
        "/v1/rulesets"
    }
}

pub(crate) fn load(args: &LoadArgs) -> anyhow::Result<ExitCode> {
    let text = read_input(&args.file)?;
    let client = Client::new(&args.target)?;
    runtime()?.block_on(async {
        let path = format!(
            "{}{}",
            base(args.threshold),
            query(&[
                ("group", args.group.as_deref()),
                ("author", args.author.as_deref()),
                ("name", args.name.as_deref()),
            ])
        );
        let reply = client.post_json(&path, text).await?;
        if reply.status == StatusCode::UNPROCESSABLE_ENTITY {
            return Ok(print_invalid(&args.file.display().to_string(), &reply));
        }
        if !reply.is_success() {
            return Ok(refused("storing the rule set", &reply));
        }
        let stored: Record = reply.json()?;
        let file = args.file.display();
        for w in &stored.warnings {
            println!("{file}: warning: {}", rule_problem(&rule_error(w)));
        }
        println!("stored {}", stored.describe());
        if !args.activate {
            return Ok(ExitCode::SUCCESS);
        }
        activate_version(
            &client,
            base(args.threshold),
            &stored.name,
            stored.version,
            Some(&stored.group),
        )
        .await
    })
}

pub(crate) fn activate(args: &ActivateArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.target)?;
    let version = i64::try_from(args.version).context("version out of range")?;
    runtime()?.block_on(activate_version(
        &client,
        base(args.threshold),
        &args.name,
        version,
        args.group.as_deref(),
    ))
}

async fn activate_version(
    client: &Client,
    base: &str,
    name: &str,
    version: i64,
    group: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let path = format!(
        "{base}/{}/{version}/activate{}",
        encode(name),
        query(&[("group", group)])
    );
    let reply = client.post_json(&path, "").await?;
    if !reply.is_success() {
        return Ok(refused(
            &format!("activating rule set {name:?} version {version}"),
            &reply,
        ));
    }
    let rec: Record = reply.json()?;
    if !rec.active {
        eprintln!(
            "warning: the server answered {} but does not report the version active",
            reply.status
        );
    }
    println!("activated {}", rec.describe());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    #[derive(Deserialize)]
    struct Listing {
        rule_sets: Vec<Record>,
    }
    let client = Client::new(&args.target)?;
    let reply = runtime()?.block_on(client.get(base(args.threshold)))?;
    if !reply.is_success() {
        return Ok(refused("listing rule sets", &reply));
    }
    let mut sets = reply.json::<Listing>()?.rule_sets;
    if sets.is_empty() {
        println!("no rule sets stored");
        return Ok(ExitCode::SUCCESS);
    }
    sets.sort_by(|a, b| (&a.group, &a.name, a.version).cmp(&(&b.group, &b.name, b.version)));
    let rows: Vec<[String; 6]> = sets
        .iter()
        .map(|r| {
            [
                r.group.clone(),
                r.name.clone(),
                r.version.to_string(),
                if r.active { "*" } else { "" }.to_owned(),
                r.author.clone().unwrap_or_else(|| "-".to_owned()),
                match &r.created_at {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".to_owned(),
                    other => other.to_string(),
                },
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            ["GROUP", "NAME", "VERSION", "ACTIVE", "AUTHOR", "CREATED"],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints every validation error of a 422 as `klaxon rules check` does; exit code 1.
fn print_invalid(file: &str, reply: &Reply) -> ExitCode {
    let err = reply.error();
    let errors: Vec<RuleError> = match &err.details {
        serde_json::Value::Array(items) => items.iter().map(rule_error).collect(),
        _ => Vec::new(),
    };
    if errors.is_empty() {
        println!("{file}: error: {}", err.message);
    }
    for e in &errors {
        println!("{file}: error: {}", rule_problem(e));
    }
    eprintln!(
        "{file}: {} error(s), rule set rejected by the server",
        errors.len().max(1)
    );
    ExitCode::from(1)
}

/// One item of a 422's `details`, read leniently: a missing key is absent.
fn rule_error(v: &serde_json::Value) -> RuleError {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let n = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_u64)
            .and_then(|x| usize::try_from(x).ok())
    };
    RuleError {
        rule: s("rule"),
        index: n("index"),
        field: s("field").unwrap_or_default(),
        message: s("message").unwrap_or_else(|| v.to_string()),
        line: n("line"),
        column: n("column"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_become_rule_errors_printed_like_rules_check() {
        let v = serde_json::json!({
            "rule": "B", "index": 1, "field": "condition.operator",
            "message": "MAX_GAP_SECONDS does not apply to TRACE_STOP", "line": null, "column": null
        });
        assert_eq!(
            rule_error(&v).to_string(),
            "rule B (#1): condition.operator: MAX_GAP_SECONDS does not apply to TRACE_STOP"
        );
        let v = serde_json::json!({"field": "document", "message": "expected value", "line": 3, "column": 7});
        assert_eq!(
            rule_error(&v).to_string(),
            "line 3, column 7: expected value"
        );
    }
}
