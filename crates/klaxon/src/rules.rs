//! `klaxon rules check`: validation of a rule-set file, every error at once.
//! Owns reading the file and printing; the rules themselves are the engine's.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use klaxon_engine::parse::parse_rule_set;

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

pub(crate) fn check(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let text = read_input(path)?;
    let name = path.display();
    match parse_rule_set(&text) {
        Ok(parsed) => {
            if json {
                let doc = serde_json::json!({
                    "valid": true,
                    "rules": parsed.set.rules.len(),
                    "errors": [],
                    "warnings": parsed.warnings,
                });
                println!("{doc}");
            } else {
                for w in &parsed.warnings {
                    println!("{name}: warning: {w}");
                }
                println!("{name}: ok, {} rules", parsed.set.rules.len());
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
