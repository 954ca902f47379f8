//! The checker both rule languages share: strict JSON reading, [`RuleError`] (rule id or index,
//! field, reason; line and column for syntax errors), and the checks every rule document makes
//! the same way: unknown keys with "did you mean" suggestions, types, the header, rule ids and
//! severities. Owns no rule semantics: `event::parse` and `threshold::parse` say what their rules
//! mean and call into this module for the parts they have in common.
//!
//! Every check reports into the [`Checker`] and goes on, so a document's errors all come out at
//! once; a check's return value is `None` when it reported something.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::locate::{locate, steps, Step};
use crate::severity::Severity;

/// One problem found in a rule document (an error or, in a parser's warnings, a warning).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleError {
    /// The rule's id when it has a usable one.
    pub rule: Option<String>,
    /// The rule's 0-based index in `rules`; `None` for header and document errors.
    pub index: Option<usize>,
    /// Dotted path inside the rule or document (`condition.value`, `header.rule_set_version`).
    pub field: String,
    /// Lower-case reason, saying what is accepted.
    pub message: String,
    /// 1-based line of the place in the text: the syntax error, or the field (its key, or the
    /// nearest enclosing part of the document that is written when the field is missing).
    /// `None` when nothing in the text can be pointed at.
    pub line: Option<usize>,
    /// Column on that line (for a field, 1-based and in characters).
    pub column: Option<usize>,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.index) {
            (Some(id), Some(i)) => write!(f, "rule {id} (#{i}): ")?,
            (Some(id), None) => write!(f, "rule {id}: ")?,
            (None, Some(i)) => write!(f, "rule #{i}: ")?,
            (None, None) => {}
        }
        // The place stands for the field only when the field is the whole document (a syntax
        // error); a field's place is for callers that show where it is written.
        match (self.line, self.column) {
            (Some(line), Some(column)) if self.field == "document" || self.field.is_empty() => {
                write!(f, "line {line}, column {column}: ")?;
            }
            _ if !self.field.is_empty() => write!(f, "{}: ", self.field)?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

/// Reads a rule document: a leading byte-order mark is skipped, a key repeated in one object is
/// an error, and a syntax error is the one [`RuleError`] returned, with line and column.
pub(crate) fn read_document(text: &str) -> Result<Value, Vec<RuleError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<StrictValue>(text) {
        Ok(StrictValue(doc)) => Ok(doc),
        Err(e) => Err(vec![syntax_error(&e)]),
    }
}

fn syntax_error(e: &serde_json::Error) -> RuleError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let reason = full
        .strip_suffix(&suffix)
        .unwrap_or(&full)
        .replace("EOF", "end of input");
    RuleError {
        rule: None,
        index: None,
        field: "document".to_owned(),
        message: format!("invalid JSON: {reason}"),
        line: Some(e.line()),
        column: Some(e.column()),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON reading that rejects duplicate keys

/// A `serde_json::Value` whose objects never repeat a key.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?}; each key may appear once in an object"
                )));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// Edit distance, for "did you mean" suggestions on unknown keys.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The accepted key nearest to `key` (case-insensitively), if it is near enough to be a typo.
pub(crate) fn suggestion(key: &str, accepted: &[&'static str]) -> Option<&'static str> {
    let lower = key.to_lowercase();
    accepted
        .iter()
        .map(|k| (distance(&lower, k), *k))
        .filter(|(d, k)| *d <= 2 && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// "a string", "an object", ... for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value of `key`, treating JSON `null` as absent.
pub(crate) fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// The severities accepted, for messages.
const SEVERITIES: &str = "critical, high, medium, low, info (any case; WARN and WARNING mean \
                          medium, ERROR means high)";

// ---------------------------------------------------------------------------------------------
// The checker

/// Where an error belongs.
#[derive(Clone)]
pub(crate) struct At {
    pub(crate) rule: Option<String>,
    pub(crate) index: Option<usize>,
}

/// The document itself, its header and its `rules` key: no rule.
pub(crate) const DOCUMENT: At = At {
    rule: None,
    index: None,
};

/// The header's fields, common to both kinds of rule set.
pub(crate) struct Header {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<Number>,
    pub(crate) description: Option<String>,
}

/// The keys of a rule-set document, either kind.
pub(crate) const DOC_KEYS: &[&str] = &["header", "rules"];
const HEADER_KEYS: &[&str] = &["rule_set", "rule_set_version", "description"];

/// A keyword field (an operator, a trigger type, an aggregation, a severity) and its messages.
pub(crate) struct Keyword<'a> {
    /// The field in messages (`condition.operator`).
    pub(crate) field: &'a str,
    /// What a value is called in "unknown ... " (`operator`).
    pub(crate) what: &'static str,
    /// The accepted values as "unknown" and "is required" list them.
    pub(crate) accepted: String,
    /// The accepted values as a wrong type lists them.
    pub(crate) typed: String,
}

impl<'a> Keyword<'a> {
    /// Names matched in any case, which messages about a missing or unknown value say.
    pub(crate) fn any_case(field: &'a str, what: &'static str, names: String) -> Keyword<'a> {
        Keyword {
            field,
            what,
            accepted: format!("{names} (any case)"),
            typed: names,
        }
    }
}

/// A rule document that passed its checks, with the warnings they produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<S> {
    pub set: S,
    pub warnings: Vec<RuleError>,
}

/// Reads and checks a rule document: `document` is the rule language's check of the whole
/// document. `Err` holds every error found.
pub(crate) fn parse<L, S>(
    text: &str,
    document: impl FnOnce(&mut Checker<L>, &Value) -> S,
) -> Result<Parsed<S>, Vec<RuleError>> {
    let doc = read_document(text)?;
    let mut checker = Checker {
        errors: Vec::new(),
        warnings: Vec::new(),
        language: PhantomData,
    };
    let set = document(&mut checker, &doc);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut budget = MAX_LOCATED;
    for e in checker.errors.iter_mut().chain(checker.warnings.iter_mut()) {
        if budget == 0 {
            break;
        }
        budget -= 1;
        place(text, &doc, e);
    }
    if checker.errors.is_empty() {
        Ok(Parsed {
            set,
            warnings: checker.warnings,
        })
    } else {
        Err(checker.errors)
    }
}

/// How many errors and warnings of one document get a line and column: each costs a pass over
/// the text, so a document with very many errors gets the first ones placed and the rest named
/// by rule and field only.
pub(crate) const MAX_LOCATED: usize = 200;

/// Gives `e` the line and column of its field in `text` (`doc` is the text, parsed). The fields
/// of a rule are found under the rule: `rules[i]` of a set, element `i` of a bare array of
/// rules, or the document itself when it is one bare rule.
fn place(text: &str, doc: &Value, e: &mut RuleError) {
    if e.line.is_some() {
        return;
    }
    let base = match (e.index, doc) {
        (None, _) => vec![],
        (Some(i), Value::Array(_)) => vec![Step::Index(i)],
        (Some(_), Value::Object(o)) if !o.contains_key("rules") && !o.contains_key("header") => {
            vec![]
        }
        (Some(i), _) => vec![Step::Key("rules"), Step::Index(i)],
    };
    let field = if e.index.is_none() && e.field == "document" {
        ""
    } else {
        e.field.as_str()
    };
    if let Some((line, column)) = locate(text, base.iter().copied().chain(steps(field))) {
        e.line = Some(line);
        e.column = Some(column);
    }
}

/// Errors and warnings found so far in one document. `L` names the rule language: each parser
/// adds the checks of its own language in an `impl Checker<ItsLanguage>` beside the shared
/// checks here.
pub(crate) struct Checker<L> {
    pub(crate) errors: Vec<RuleError>,
    pub(crate) warnings: Vec<RuleError>,
    language: PhantomData<fn() -> L>,
}

fn report(at: &At, field: &str, message: String) -> RuleError {
    RuleError {
        rule: at.rule.clone(),
        index: at.index,
        field: field.to_owned(),
        message,
        line: None,
        column: None,
    }
}

impl<L> Checker<L> {
    pub(crate) fn error(&mut self, at: &At, field: &str, message: impl Into<String>) {
        self.errors.push(report(at, field, message.into()));
    }

    pub(crate) fn warn(&mut self, at: &At, field: &str, message: impl Into<String>) {
        self.warnings.push(report(at, field, message.into()));
    }

    /// Reports every key of `obj` not in `accepted` (keys starting with `_` are ignored). At rule
    /// level, a key that belongs one level down (a `nested` pair of prefix and keys) says so.
    pub(crate) fn unknown_keys(
        &mut self,
        at: &At,
        obj: &Map<String, Value>,
        prefix: &str,
        accepted: &[&'static str],
        nested: &[(&str, &[&str])],
    ) {
        for key in obj
            .keys()
            .filter(|k| !k.starts_with('_') && !accepted.contains(&k.as_str()))
        {
            let down = nested
                .iter()
                .find(|(_, keys)| keys.contains(&key.as_str()))
                .filter(|_| prefix.is_empty() && at.index.is_some());
            let hint = match down {
                Some((parent, _)) => Some(format!("{parent}.{key}")),
                None => suggestion(key, accepted).map(|s| format!("{prefix}{s}")),
            };
            let hint = hint
                .map(|h| format!(" (did you mean {h}?)"))
                .unwrap_or_default();
            self.error(
                at,
                &format!("{prefix}{key}"),
                format!(
                    "unknown key{hint}; accepted keys here: {} (keys starting with _ are ignored)",
                    accepted.join(", ")
                ),
            );
        }
    }

    /// An optional string; `None` when absent or wrong (reported). `non_empty` rejects blanks.
    pub(crate) fn opt_string(
        &mut self,
        at: &At,
        obj: &Map<String, Value>,
        key: &str,
        field: &str,
        non_empty: bool,
    ) -> Option<String> {
        match get(obj, key)? {
            Value::String(s) if non_empty && s.trim().is_empty() => {
                self.error(at, field, "must be a non-empty string");
                None
            }
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(at, field, format!("must be a string, got {}", kind(other)));
                None
            }
        }
    }

    /// Warns about names that will never match because of stray whitespace.
    pub(crate) fn check_spaces(&mut self, at: &At, field: &str, what: &str, name: &str) {
        if name.trim() != name {
            self.warn(
                at,
                field,
                format!(
                    "{what} {name:?} has leading or trailing whitespace, which is matched exactly"
                ),
            );
        }
    }

    /// A name matched exactly (an action, a context, a metric): a non-empty string, warned about
    /// when it has leading or trailing whitespace. `blank` is the message for an empty one,
    /// `wrong` what a value of another type is told before ", got ...".
    pub(crate) fn name(
        &mut self,
        at: &At,
        field: &str,
        v: &Value,
        blank: &str,
        wrong: &str,
    ) -> Option<String> {
        match v {
            Value::String(s) if s.trim().is_empty() => {
                self.error(at, field, blank);
                None
            }
            Value::String(s) => {
                self.check_spaces(at, field, field, s);
                Some(s.clone())
            }
            other => {
                self.error(at, field, format!("{wrong}, got {}", kind(other)));
                None
            }
        }
    }

    /// The optional `header` of a rule set: name, version (a JSON number, kept as written) and
    /// description.
    pub(crate) fn header(&mut self, doc: &Map<String, Value>) -> Header {
        let mut header = Header {
            name: None,
            version: None,
            description: None,
        };
        match get(doc, "header") {
            None => {}
            Some(Value::Object(h)) => {
                header.name = self.opt_string(&DOCUMENT, h, "rule_set", "header.rule_set", false);
                header.description =
                    self.opt_string(&DOCUMENT, h, "description", "header.description", false);
                header.version = match get(h, "rule_set_version") {
                    None => None,
                    Some(Value::Number(n)) => Some(n.clone()),
                    Some(other) => {
                        self.error(
                            &DOCUMENT,
                            "header.rule_set_version",
                            format!("must be a number, got {}", kind(other)),
                        );
                        None
                    }
                };
                self.unknown_keys(&DOCUMENT, h, "header.", HEADER_KEYS, &[]);
            }
            Some(other) => self.error(
                &DOCUMENT,
                "header",
                format!(
                    "must be an object with rule_set, rule_set_version and description, got {}",
                    kind(other)
                ),
            ),
        }
        header
    }

    /// The start of every rule: it must be an object, and its id comes first so that every later
    /// error carries it. `seen` maps the ids so far to their rules' indexes. `None` when the rule
    /// is not an object (reported); otherwise the object and where its errors belong, whose
    /// `rule` is the id when it is usable.
    pub(crate) fn rule_start<'v>(
        &mut self,
        index: usize,
        v: &'v Value,
        seen: &mut HashMap<String, usize>,
    ) -> Option<(&'v Map<String, Value>, At)> {
        let Some(obj) = v.as_object() else {
            let at = At {
                rule: None,
                index: Some(index),
            };
            self.error(&at, "rule", format!("must be an object, got {}", kind(v)));
            return None;
        };
        let (id, id_error) = match get(obj, "id") {
            None => (
                None,
                Some("is required: a non-empty string, unique in the set".to_owned()),
            ),
            Some(Value::String(s)) if s.trim().is_empty() => {
                (None, Some("must be a non-empty string".to_owned()))
            }
            Some(Value::String(s)) => (Some(s.clone()), None),
            Some(other) => (
                None,
                Some(format!("must be a non-empty string, got {}", kind(other))),
            ),
        };
        let at = At {
            rule: id,
            index: Some(index),
        };
        if let Some(message) = id_error {
            self.error(&at, "id", message);
        }
        if let Some(id) = &at.rule {
            if let Some(first) = seen.get(id) {
                self.error(
                    &at,
                    "id",
                    format!(
                        "duplicate id {id:?}: rule #{first} already uses it; ids must be unique \
                         in the set"
                    ),
                );
            } else {
                seen.insert(id.clone(), index);
            }
        }
        Some((obj, at))
    }

    /// A keyword: `default` when absent (`None`: required), else one of the accepted values as
    /// `parse` reads them.
    pub(crate) fn keyword<T>(
        &mut self,
        at: &At,
        value: Option<&Value>,
        k: Keyword<'_>,
        default: Option<T>,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        match value {
            None => {
                if default.is_none() {
                    self.error(at, k.field, format!("is required: one of {}", k.accepted));
                }
                default
            }
            Some(Value::String(s)) => {
                let parsed = parse(s);
                if parsed.is_none() {
                    self.error(
                        at,
                        k.field,
                        format!("unknown {} {s:?}; accepted: {}", k.what, k.accepted),
                    );
                }
                parsed
            }
            Some(other) => {
                self.error(
                    at,
                    k.field,
                    format!("must be a string, one of {}, got {}", k.typed, kind(other)),
                );
                None
            }
        }
    }

    /// A severity, medium when absent.
    pub(crate) fn severity(
        &mut self,
        at: &At,
        obj: &Map<String, Value>,
        field: &str,
    ) -> Option<Severity> {
        let k = Keyword {
            field,
            what: "severity",
            accepted: SEVERITIES.to_owned(),
            typed: SEVERITIES.to_owned(),
        };
        let severity = get(obj, "severity");
        self.keyword(at, severity, k, Some(Severity::Medium), Severity::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_near_and_case_insensitive() {
        let keys = &["handler", "severity", "throttle_seconds"];
        assert_eq!(suggestion("Handlr", keys), Some("handler"));
        assert_eq!(suggestion("severty", keys), Some("severity"));
        assert_eq!(suggestion("colour", keys), None);
        // A key no longer than the distance suggests nothing.
        assert_eq!(suggestion("ab", &["cd"]), None);
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_carry_line_and_column() {
        let e = read_document("{\"a\": 1,\n \"a\": 2}").expect_err("duplicate key");
        assert_eq!((e[0].line, e[0].column), (Some(2), Some(4)));
        assert!(e[0].message.contains("duplicate key \"a\""), "{}", e[0]);
        let e = read_document("{").expect_err("truncated");
        assert!(e[0].message.contains("end of input"), "{}", e[0]);
        assert!(read_document("\u{feff}{}").is_ok());
    }

    #[test]
    fn field_errors_carry_the_place_of_their_field_in_every_document_shape() {
        use crate::threshold::parse_threshold_rules;
        let rule =
            "{\"id\": \"r\", \"metric\": \"m\", \"threshold\": 1,\n \"operator\": \"bigger\"}";
        let place = |text: &str| {
            let e = parse_threshold_rules(text).expect_err("bad operator");
            assert_eq!(e[0].field, "operator", "{e:?}");
            (e[0].line, e[0].column)
        };
        assert_eq!(place(rule), (Some(2), Some(2)), "one bare rule");
        assert_eq!(
            place(&format!(
                "[{},\n{rule}]",
                rule.replace("bigger", "gt").replace("\"r\"", "\"q\"")
            )),
            (Some(4), Some(2)),
            "an array"
        );
        assert_eq!(
            place(&format!("\u{feff}{{\"rules\": [\n\n{rule}]}}")),
            (Some(4), Some(2)),
            "a set, after a byte-order mark"
        );
        let e = crate::event::parse_rule_set(
            "{\"header\": {\"rule_set_version\": \"1\"}, \"rules\": []}",
        )
        .expect_err("a string version");
        assert_eq!((e[0].line, e[0].column), (Some(1), Some(13)), "{e:?}");
        assert_eq!(
            e[0].to_string(),
            "header.rule_set_version: must be a number, got a string",
            "the field, not its place, in the message"
        );
    }

    #[test]
    fn only_the_first_errors_of_a_document_are_placed() {
        let rules: Vec<String> = (0..MAX_LOCATED + 5)
            .map(|i| format!("{{\"id\": \"r{i}\", \"metric\": \"m\", \"threshold\": \"x\", \"operator\": \"gt\"}}"))
            .collect();
        let text = format!("[{}]", rules.join(",\n"));
        let e = crate::threshold::parse_threshold_rules(&text).expect_err("bad thresholds");
        assert!(e.len() > MAX_LOCATED, "{}", e.len());
        assert_eq!(e.iter().filter(|e| e.line.is_some()).count(), MAX_LOCATED);
        assert_eq!(e[MAX_LOCATED - 1].line, Some(MAX_LOCATED));
        assert_eq!(e[MAX_LOCATED].line, None);
    }
}
