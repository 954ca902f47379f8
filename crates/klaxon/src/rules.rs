//! `klaxon rules check`: validation of a rule-set file, every error at once.
//! Owns reading the file and printing; the rules themselves are the engine's.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use klaxon_engine::event::parse_rule_set;
use klaxon_engine::threshold::parse_threshold_rules;

/// Reads a file, or stdin for `-`.
pub(crate) fn read_input(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub(crate) fn check(path: &Path, json: bool, threshold: bool) -> anyhow::Result<ExitCode> {
    let text = read_input(path)?;
    let name = path.display();
    let parsed = if threshold {
        parse_threshold_rules(&text).map(|p| (p.set.rules.len(), p.warnings))
    } else {
        parse_rule_set(&text).map(|p| (p.set.rules.len(), p.warnings))
    };
    match parsed {
        Ok((rules, warnings)) => {
            if json {
                let doc = serde_json::json!({
                    "valid": true,
                    "rules": rules,
                    "errors": [],
                    "warnings": warnings,
                });
                println!("{doc}");
            } else {
                for w in &warnings {
                    println!("{name}: warning: {w}");
                }
                println!("{name}: ok, {rules} rules");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            if json {
                let doc = serde_json::json!({ "valid": false, "errors": errors, "warnings": [] });
                println!("{doc}");
            } else {
                for e in &errors {
                    println!("{name}: error: {e}");
                }
                eprintln!("{name}: {} error(s), rule set rejected", errors.len());
            }
            Ok(ExitCode::from(1))
        }
    }
}
