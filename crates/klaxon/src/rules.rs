//! `klaxon rules check`: validation of a rule file, every error at once. The file is an event
//! rule set or threshold rules, told apart by its content; with a configuration, the names its
//! rules give that the configuration does not define are warned about.
//! Owns reading the files and printing; the rules themselves are the engine's.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use klaxon_engine::event::{self, parse_rule_set};
use klaxon_engine::threshold::{self, parse_threshold_rules};
use klaxon_engine::RuleError;
use serde_json::Value;

use crate::print::rule_problem;

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

/// The arguments of `klaxon rules check`.
#[derive(clap::Args, Debug)]
pub(crate) struct CheckArgs {
    /// The rule file (`-` for stdin): an event rule set or threshold rules, told apart by
    /// their keys.
    file: PathBuf,
    /// Print errors and warnings as one JSON document.
    #[arg(long)]
    json: bool,
    /// Check the file as threshold rules on metrics, whatever its content looks like.
    #[arg(long)]
    threshold: bool,
    /// A server configuration (klaxon.toml): warn about receivers and maintenance windows the
    /// rules name that it does not define.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The two kinds of rule file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    Threshold,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Event => "event rule set",
            Kind::Threshold => "threshold rules",
        }
    }

    fn with_article(self) -> &'static str {
        match self {
            Kind::Event => "an event rule set",
            Kind::Threshold => "threshold rules",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Threshold => "threshold",
        }
    }

    fn parse(self, text: &str) -> Result<Checked, Vec<RuleError>> {
        match self {
            Kind::Event => parse_rule_set(text).map(|p| Checked {
                rules: p.set.rules.len(),
                warnings: p.warnings,
                names: p
                    .set
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Named {
                        rule: r.id.clone(),
                        index: i,
                        field: "alert.handler".to_owned(),
                        name: r.handler.clone(),
                        of: Names::Receiver,
                    })
                    .collect(),
            }),
            Kind::Threshold => parse_threshold_rules(text).map(|p| {
                let mut names = Vec::new();
                for (i, r) in p.set.rules.iter().enumerate() {
                    let lists = [
                        (
                            "notification_channels",
                            &r.notification_channels,
                            Names::Receiver,
                        ),
                        ("suppression_rules", &r.suppression_rules, Names::Window),
                    ];
                    for (key, list, of) in lists {
                        names.extend(list.iter().enumerate().map(|(n, name)| Named {
                            rule: r.id.clone(),
                            index: i,
                            field: format!("{key}[{n}]"),
                            name: name.clone(),
                            of,
                        }));
                    }
                    if let Some(p) = &r.escalation_policy {
                        names.push(Named {
                            rule: r.id.clone(),
                            index: i,
                            field: "escalation_policy".to_owned(),
                            name: p.clone(),
                            of: Names::Policy,
                        });
                    }
                }
                Checked {
                    rules: p.set.rules.len(),
                    warnings: p.warnings,
                    names,
                }
            }),
        }
    }
}

/// A file that passed its checks: how many rules, the warnings, what its rules name.
struct Checked {
    rules: usize,
    warnings: Vec<RuleError>,
    names: Vec<Named>,
}

/// What a name in a rule refers to in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// `[[receivers]]`: an event rule's handler, a threshold rule's notification channels.
    Receiver,
    /// `[[maintenance]]`: a threshold rule's suppression rules.
    Window,
    /// `[[escalation_policies]]`: a threshold rule's escalation policy.
    Policy,
}

/// A name a rule gives to something the configuration defines.
struct Named {
    rule: String,
    index: usize,
    field: String,
    name: String,
    of: Names,
}

/// The kind the content says the file is, from the keys of its rules: only threshold rules may
/// be a bare array or one bare rule, and each kind has rule keys the other lacks. `None` when
/// the file is not JSON, or its rules have keys of both kinds or of neither.
fn detect(text: &str) -> Option<Kind> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc: Value = serde_json::from_str(text).ok()?;
    let rules: Vec<&serde_json::Map<String, Value>> = match &doc {
        Value::Array(_) => return Some(Kind::Threshold),
        Value::Object(o) if o.contains_key("rules") || o.contains_key("header") => {
            match o.get("rules") {
                Some(Value::Array(rules)) => rules.iter().filter_map(Value::as_object).collect(),
                _ => return None,
            }
        }
        Value::Object(o) => vec![o],
        _ => return None,
    };
    let only = |k: &str, own: &[&str], other: &[&str]| own.contains(&k) && !other.contains(&k);
    let keys = || rules.iter().flat_map(|r| r.keys().map(String::as_str));
    let event = keys().any(|k| only(k, event::RULE_KEYS, threshold::RULE_KEYS));
    let thresholds = keys().any(|k| only(k, threshold::RULE_KEYS, event::RULE_KEYS));
    match (event, thresholds) {
        (true, false) => Some(Kind::Event),
        (false, true) => Some(Kind::Threshold),
        _ => None,
    }
}

/// The names a configuration defines.
struct Defined {
    /// The configuration file as it is named in warnings.
    file: String,
    receivers: Vec<String>,
    windows: Vec<String>,
    policies: Vec<String>,
}

impl Defined {
    /// Loads the configuration as `klaxon serve` would (the file, then `KLAXON_*` variables).
    fn load(path: &Path) -> anyhow::Result<Defined> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let config =
            klaxon_server::config::load(Some(path), &env, &klaxon_server::config::Flags::default())
                .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        Ok(Defined {
            file: path.display().to_string(),
            receivers: config.receivers.into_iter().map(|r| r.name).collect(),
            windows: config.maintenance.into_iter().map(|m| m.name).collect(),
            policies: config
                .escalation_policies
                .into_iter()
                .map(|p| p.name)
                .collect(),
        })
    }

    /// A warning for each name no `[[receivers]]`, `[[maintenance]]` or
    /// `[[escalation_policies]]` entry defines (an event rule's handler may name a receiver or
    /// a policy).
    fn undefined(&self, names: &[Named]) -> Vec<RuleError> {
        names
            .iter()
            .filter_map(|n| {
                let (defined, what, section) = match n.of {
                    Names::Receiver => (&self.receivers, "receiver", "[[receivers]]"),
                    Names::Window => (&self.windows, "maintenance window", "[[maintenance]]"),
                    Names::Policy => (
                        &self.policies,
                        "escalation policy",
                        "[[escalation_policies]]",
                    ),
                };
                if defined.contains(&n.name)
                    || (n.field == "alert.handler" && self.policies.contains(&n.name))
                {
                    return None;
                }
                let mut message = format!(
                    "{:?} names no {what} of {} (no {section} entry has that name)",
                    n.name, self.file
                );
                if n.field == "alert.handler" {
                    message.push_str("; the routing tree alone decides where its alerts go");
                }
                Some(RuleError {
                    rule: Some(n.rule.clone()),
                    index: Some(n.index),
                    field: n.field.clone(),
                    message,
                    line: None,
                    column: None,
                })
            })
            .collect()
    }
}

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let text = read_input(&args.file)?;
    let defined = args.config.as_deref().map(Defined::load).transpose()?;
    let name = args.file.display().to_string();
    let kind = if args.threshold {
        Some(Kind::Threshold)
    } else {
        detect(&text)
    };
    let (kind, parsed) = match kind {
        Some(kind) => (kind, kind.parse(&text)),
        // The content does not say: the file is whichever kind it passes as.
        None => match (Kind::Event.parse(&text), Kind::Threshold.parse(&text)) {
            (Ok(checked), _) => (Kind::Event, Ok(checked)),
            (Err(_), Ok(checked)) => (Kind::Threshold, Ok(checked)),
            (Err(event), Err(threshold)) => {
                return Ok(neither(&name, args.json, &event, &threshold));
            }
        },
    };
    match parsed {
        Ok(checked) => {
            let mut warnings = checked.warnings;
            if let Some(defined) = &defined {
                warnings.extend(defined.undefined(&checked.names));
            }
            if args.json {
                let doc = serde_json::json!({
                    "valid": true,
                    "kind": kind.tag(),
                    "rules": checked.rules,
                    "errors": [],
                    "warnings": warnings,
                });
                println!("{doc}");
            } else {
                for w in &warnings {
                    println!("{name}: warning: {}", rule_problem(w));
                }
                println!("{name}: ok, {} rules ({})", checked.rules, kind.noun());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            if args.json {
                let doc = serde_json::json!({
                    "valid": false,
                    "kind": kind.tag(),
                    "errors": errors,
                    "warnings": [],
                });
                println!("{doc}");
            } else {
                for e in &errors {
                    println!("{name}: error: {}", rule_problem(e));
                }
                eprintln!(
                    "{name}: {} error(s), {} rejected",
                    errors.len(),
                    kind.noun()
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// A file that is neither kind: the first error of each, and how to choose.
fn neither(name: &str, json: bool, event: &[RuleError], threshold: &[RuleError]) -> ExitCode {
    let tried = [(Kind::Event, event), (Kind::Threshold, threshold)];
    if json {
        let tried: Vec<Value> = tried
            .iter()
            .map(|(kind, errors)| {
                serde_json::json!({
                    "kind": kind.tag(),
                    "first_error": errors.first(),
                    "errors": errors.len(),
                })
            })
            .collect();
        let errors: Vec<&RuleError> = [event.first(), threshold.first()]
            .into_iter()
            .flatten()
            .collect();
        let doc = serde_json::json!({
            "valid": false,
            "kind": null,
            "tried": tried,
            "errors": errors,
            "warnings": [],
        });
        println!("{doc}");
    } else {
        println!(
            "{name}: error: the content is neither an event rule set nor threshold rules; \
             tried both"
        );
        for (kind, errors) in tried {
            if let Some(first) = errors.first() {
                println!(
                    "{name}: error: as {} (first of {} error(s)): {}",
                    kind.with_article(),
                    errors.len(),
                    rule_problem(first)
                );
            }
        }
        eprintln!(
            "{name}: rejected (an event rule set has rules with trigger_type, condition and \
             alert; threshold rules have metric, threshold and operator; --threshold checks \
             the file as threshold rules)"
        );
    }
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_of_the_rules_tell_the_kind() {
        let event = r#"{"rules": [{"id": "A", "trigger_type": "MARK_EVENT"}]}"#;
        assert_eq!(detect(event), Some(Kind::Event));
        let set = r#"{"header": {}, "rules": [{"id": "a", "metric": "m"}]}"#;
        assert_eq!(detect(set), Some(Kind::Threshold));
        assert_eq!(detect(r#"[{"id": "a"}]"#), Some(Kind::Threshold));
        assert_eq!(
            detect(r#"{"id": "a", "threshold": 1}"#),
            Some(Kind::Threshold)
        );
        assert_eq!(
            detect("\u{feff}{\"rules\": [{\"alert\": {}}]}"),
            Some(Kind::Event)
        );
        let mixed = r#"{"rules": [{"trigger_type": "X"}, {"metric": "m"}]}"#;
        assert_eq!(detect(mixed), None, "both kinds");
        assert_eq!(detect(r#"{"rules": [{"id": "a"}]}"#), None, "neither");
        assert_eq!(detect(r#"{"rules": []}"#), None);
        assert_eq!(detect("{\"rules\": ["), None, "not JSON");
        assert_eq!(detect("3"), None);
    }
}
