//! Alertmanager label matchers (`name="v"`, `!=`, `=~`, `!~`) and the regular expressions of
//! `=~`/`!~`, which threshold rules' label matchers use too. Pure: no I/O, no state.
//!
//! Regular expressions are the `regex` crate's, whose syntax is RE2's, as Go's `regexp` that
//! Alertmanager and Prometheus use: flags such as `(?i)`, counted repetition `{n,m}`, Perl
//! classes `\d \w \s`, Unicode classes `\pL` and `\p{Greek}`, escapes, octal escapes (`\141`).
//! Matching is linear in the value's length, whatever the pattern: no backtracking, no
//! catastrophic cases. A pattern is anchored at both ends as Alertmanager anchors it,
//! `^(?:pattern)$`, so it must match the whole value; it is checked on its own first, so a
//! pattern that only balances inside those parentheses (`a)|(b`) is refused. A pattern that
//! compiles to more than [`REGEX_SIZE_LIMIT`] bytes is refused, naming the limit. Errors name the
//! pattern and the character where it goes wrong.
//!
//! Known differences from Go: `\d`, `\w`, `\s` and `\b` follow Unicode (Go's are ASCII:
//! `\d` also matches other scripts' digits here); class set operations (`[a-z&&[^x]]`) are
//! accepted; a `{` that starts no counted repetition must be escaped (`\{`), where Go reads it as
//! a brace.

use std::collections::BTreeMap;
use std::fmt;

/// The largest program a pattern may compile to, in bytes: a pattern beyond it
/// (`(a{1000}){1000}`) is refused with an error naming the limit, before it can take memory or
/// time.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The largest cache the lazy DFA of one pattern may fill while matching, in bytes; past it the
/// regex falls back to slower linear-time engines, never to more memory.
const REGEX_DFA_LIMIT: usize = 1 << 20;

/// How a matcher compares.
#[derive(Debug, Clone)]
pub enum Op {
    Eq(String),
    Ne(String),
    Re(Regex),
    NotRe(Regex),
}

/// One label matcher. A missing label matches as the empty value, as in Alertmanager.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: Op,
}

impl Matcher {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match &self.op {
            Op::Eq(x) => v == x,
            Op::Ne(x) => v != x,
            Op::Re(r) => r.is_match(v),
            Op::NotRe(r) => !r.is_match(v),
        }
    }
}

/// Parses one `filter` value: a matcher (`alertname="x"`, `severity=~"crit.*"`, unquoted values
/// too) or a braced list of them (`{a="1",b!="2"}`).
pub fn parse_filter(s: &str) -> Result<Vec<Matcher>, String> {
    parse_filter_parts(s)?
        .into_iter()
        .map(|p| p.compile().map_err(|e| format!("filter `{s}`: {e}")))
        .collect()
}

/// A matcher as written: name, operator (`=`, `!=`, `=~`, `!~`) and value, not compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub name: String,
    pub op: &'static str,
    pub value: String,
}

impl Written {
    pub fn compile(&self) -> Result<Matcher, String> {
        let op = match self.op {
            "=" => Op::Eq(self.value.clone()),
            "!=" => Op::Ne(self.value.clone()),
            "=~" => Op::Re(Regex::new(&self.value)?),
            _ => Op::NotRe(Regex::new(&self.value)?),
        };
        Ok(Matcher {
            name: self.name.clone(),
            op,
        })
    }
}

impl fmt::Display for Written {
    /// `name="value"`, the value quoted as [`parse_filter_parts`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, quote(&self.value))
    }
}

/// A matcher value in double quotes with Alertmanager's escapes (`\\`, `\"`, `\n`), the only
/// ones [`parse_filter_parts`] undoes: what it writes reads back as the same value.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// As [`parse_filter`], without compiling: the matchers as written.
pub fn parse_filter_parts(s: &str) -> Result<Vec<Written>, String> {
    let t = s.trim();
    let inner = match t.strip_prefix('{') {
        Some(rest) => rest
            .strip_suffix('}')
            .ok_or_else(|| format!("filter `{s}`: missing closing `}}`"))?,
        None => t,
    };
    let mut out = Vec::new();
    for part in split_outside_quotes(inner) {
        if !part.trim().is_empty() {
            out.push(parse_written(part).map_err(|e| format!("filter `{s}`: {e}"))?);
        }
    }
    if out.is_empty() {
        return Err(format!("filter `{s}`: no matcher"));
    }
    Ok(out)
}

fn split_outside_quotes(s: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_written(s: &str) -> Result<Written, String> {
    let at = s
        .find(['=', '!'])
        .ok_or("expected name=\"value\", name!=, name=~ or name!~")?;
    let name = s[..at].trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '.')
    {
        return Err(format!("`{name}` is not a label name"));
    }
    let rest = &s[at..];
    let (op, value) = ["=~", "!~", "!=", "="]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v.trim())))
        .ok_or("expected =, !=, =~ or !~ after the label name")?;
    Ok(Written {
        name: name.to_owned(),
        op,
        value: unquote(value)?,
    })
}

fn unquote(v: &str) -> Result<String, String> {
    let body = match v.strip_prefix('"') {
        Some(b) => b
            .strip_suffix('"')
            .ok_or_else(|| format!("value {v}: missing closing quote"))?,
        None => v,
    };
    // Alertmanager's unescaping: `\n`, `\"` and `\\`; any other backslash stays (for regexes).
    let (mut out, mut chars) = (String::with_capacity(body.len()), body.chars().peekable());
    while let Some(c) = chars.next() {
        if c == '"' {
            return Err(format!("value {v}: unescaped quote"));
        }
        let escaped = if c == '\\' {
            chars.next_if(|n| matches!(n, 'n' | '"' | '\\'))
        } else {
            None
        };
        out.push(match escaped {
            Some('n') => '\n',
            Some(e) => e,
            None => c,
        });
    }
    Ok(out)
}

/// A compiled regular expression, anchored at both ends (see the module documentation).
#[derive(Debug, Clone)]
pub struct Regex {
    /// The pattern as written.
    pattern: Box<str>,
    re: regex::Regex,
    /// Text every match starts with (possibly empty): indexes file the pattern under it, and a
    /// value without it fails before the regex runs.
    prefix: String,
    /// Every value the pattern matches, when they are a few literals (`warning|info`):
    /// matching is then a comparison with each.
    literals: Option<Box<[Box<str>]>>,
}

/// The most literals a pattern may stand for to be matched by comparing with each.
const MAX_LITERALS: usize = 16;

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let err = |e: String| format!("regex `{pattern}`: {e}");
        let hir = regex_syntax::ParserBuilder::new()
            .octal(true)
            .build()
            .parse(pattern)
            .map_err(|e| err(syntax_error(pattern, &e)))?;
        let re = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .octal(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_LIMIT)
            .build()
            .map_err(|e| {
                err(match e {
                    regex::Error::CompiledTooBig(limit) => format!(
                        "compiles to more than the limit of {limit} bytes; use a simpler pattern \
                         (fewer or smaller counted repetitions)"
                    ),
                    other => other.to_string(),
                })
            })?;
        let (prefix, literals) = literals(&hir);
        Ok(Regex {
            pattern: pattern.into(),
            re,
            prefix,
            literals,
        })
    }

    /// The pattern as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The text every match starts with (possibly empty).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        match &self.literals {
            Some(literals) => literals.iter().any(|l| **l == *text),
            None => text.starts_with(self.prefix.as_str()) && self.re.is_match(text),
        }
    }
}

/// Two regexes are equal when written alike.
impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

/// What is wrong with a pattern and where: "unclosed group at character 3".
fn syntax_error(pattern: &str, e: &regex_syntax::Error) -> String {
    let (kind, span) = match e {
        regex_syntax::Error::Parse(e) => (e.kind().to_string(), e.span()),
        regex_syntax::Error::Translate(e) => (e.kind().to_string(), e.span()),
        other => return other.to_string(),
    };
    let at = pattern
        .get(..span.start.offset)
        .map_or(0, |before| before.chars().count());
    format!("{kind} at character {}", at + 1)
}

/// What `hir`'s literals say about its matches: the longest text every match starts with (the
/// common prefix of the prefix literals, one of which every match starts with; nothing when
/// there are too many to list), and, when the pattern stands for a few whole values and nothing
/// else (every literal exact, no look-around such as `\b` that could veto one), those values.
fn literals(hir: &regex_syntax::hir::Hir) -> (String, Option<Box<[Box<str>]>>) {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let Some(literals) = seq.literals() else {
        return (String::new(), None);
    };
    let mut common: &[u8] = literals.first().map_or(&[], |l| l.as_bytes());
    for l in literals {
        let same = common
            .iter()
            .zip(l.as_bytes())
            .take_while(|(a, b)| a == b)
            .count();
        common = &common[..same];
    }
    // A common byte prefix may end inside a character: keep the whole characters.
    let prefix = match std::str::from_utf8(common) {
        Ok(s) => s.to_owned(),
        Err(e) => String::from_utf8_lossy(&common[..e.valid_up_to()]).into_owned(),
    };
    let whole =
        seq.is_exact() && literals.len() <= MAX_LITERALS && hir.properties().look_set().is_empty();
    let values = whole
        .then(|| {
            literals
                .iter()
                .map(|l| std::str::from_utf8(l.as_bytes()).ok().map(Box::from))
                .collect::<Option<Box<[Box<str>]>>>()
        })
        .flatten();
    (prefix, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> Regex {
        Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn anchored_matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("crit.*", "critical", true),
            ("crit.*", "subcritical", false),
            // A pattern found inside the value is not a match: it must match all of it.
            ("crit", "critical", false),
            ("web", "a-web-b", false),
            ("Foo|Bar", "Bar", true),
            ("Foo|Bar", "FooBar", false),
            ("(Foo|Bar)+", "FooBarFoo", true),
            ("a(?:b|c)*d", "abcbd", true),
            ("a(?:b|c)*d", "abxd", false),
            (".*:9100", "host-1:9100", true),
            ("[a-c]+x?", "abcab", true),
            ("[^a-c]+", "xyz", true),
            ("[^a-c]+", "xaz", false),
            ("[\\w.-]+", "api.v2-x", true),
            ("colou?r", "color", true),
            ("^web$", "web", true),
            ("a\\$", "a$", true),
            ("", "", true),
            ("", "x", false),
            (".", "\n", false),
            ("a.*?b", "axxb", true),
            (
                "(a*)*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac",
                false,
            ),
            ("ünï.ode", "ünïcode", true),
            // What Alertmanager and Prometheus configurations use and the former matcher
            // refused: flags, counted repetition, escapes, Unicode classes.
            ("(?i)critical", "CRITICAL", true),
            ("(?i)crit", "CRITICAL", false),
            ("(?i:prod)-eu", "PROD-eu", true),
            ("(?i:prod)-eu", "PROD-EU", false),
            ("a{2,3}", "a", false),
            ("a{2,3}", "aa", true),
            ("a{2,3}", "aaa", true),
            ("a{2,3}", "aaaa", false),
            ("[0-9a-f]{4}", "beef", true),
            ("host-\\d+", "host-42", true),
            ("host-\\d+", "host-", false),
            ("\\d+\\.\\d+", "10.25", true),
            ("\\d+\\.\\d+", "10x25", false),
            ("10\\.0\\.0\\.\\d{1,3}", "10.0.0.255", true),
            ("\\S+\\s\\S+", "two words", true),
            ("\\pL+", "Zürich", true),
            ("\\pL+", "Zürich1", false),
            ("\\p{Greek}+", "αβγ", true),
            ("\\p{Greek}+", "abc", false),
            ("\\P{Lu}*", "lower", true),
            ("(?i)straße", "STRAßE", true),
            ("\\x41\\u{42}\\141", "ABa", true),
            ("(?s)a.b", "a\nb", true),
            ("[[:alpha:]]+", "abc", true),
        ];
        for (p, text, want) in cases {
            assert_eq!(re(p).is_match(text), *want, "{p} on {text:?}");
        }
    }

    #[test]
    fn refusals_name_the_pattern_and_the_place() {
        for (p, says) in [
            ("(ab", "unclosed group at character 1"),
            ("ab)", "unopened group at character 3"),
            ("*a", "at character 1"),
            ("[ab", "unclosed character class at character 1"),
            ("a\\qb", "at character 2"),
            ("[z-a]", "at character 2"),
            ("x{3", "at character 2"),
            ("\\p{Klingon}", "at character 1"),
            // Balanced only inside the anchors Alertmanager adds: refused, not half-anchored.
            ("a)|(b", "unopened group at character 2"),
        ] {
            let e = Regex::new(p).expect_err(p);
            assert!(e.starts_with(&format!("regex `{p}`: ")), "{p}: {e}");
            assert!(e.contains(says), "{p}: {e}");
        }
    }

    #[test]
    fn a_pattern_over_the_size_limit_is_refused_naming_it() {
        let e = Regex::new("(a{1000}){1000}").expect_err("about a million states");
        assert!(
            e.contains(&format!("more than the limit of {REGEX_SIZE_LIMIT} bytes")),
            "{e}"
        );
        // A large but reasonable pattern stays within it.
        assert!(re("[a-z]{1,100}").is_match(&"x".repeat(100)));
        // Deep nesting is refused too, before anything is compiled.
        assert!(Regex::new(&format!("{}a{}", "(".repeat(1000), ")".repeat(1000))).is_err());
    }

    #[test]
    fn prefixes_are_what_every_match_starts_with() {
        for (p, prefix) in [
            ("web-.*", "web-"),
            ("web-1", "web-1"),
            ("foo|foobar", "foo"),
            ("a{2}b.*", "aab"),
            ("^db-\\d+$", "db-"),
            ("ü.*", "ü"),
            ("[ab]c", ""),
            ("(?i)web", ""),
            (".*x", ""),
            ("", ""),
        ] {
            assert_eq!(re(p).prefix(), prefix, "{p}");
        }
        // Whatever the prefix says, it never contradicts matching.
        for (p, text) in [("foo|foobar", "foobar"), ("ü+", "üü"), ("a{2}b.*", "aabz")] {
            let r = re(p);
            assert!(r.is_match(text) && text.starts_with(r.prefix()), "{p}");
        }
    }

    #[test]
    fn shortcuts_agree_with_the_regex() {
        // Patterns that stand for a few values are matched by comparison, others only after
        // their prefix: both must answer as the regex itself does.
        let patterns = [
            "warning|info",
            "(?i)ok|fine",
            "colou?r",
            "a{2}",
            "[ab]c",
            "",
            "\\bweb\\b",
            "a\\bb",
            "^db$",
            "host-1:[0-9]+",
            "host-1:.*",
            "x*",
            "[^\\s\\S]",
        ];
        let texts = [
            "",
            "warning",
            "info",
            "Info",
            "OK",
            "Fine",
            "color",
            "colour",
            "aa",
            "a",
            "ac",
            "bc",
            "web",
            "ab",
            "a b",
            "db",
            "host-1:9100",
            "host-1:",
            "host-12:1",
            "xxx",
        ];
        for p in patterns {
            let r = re(p);
            for t in texts {
                assert_eq!(r.is_match(t), r.re.is_match(t), "{p} on {t:?}");
            }
        }
        assert!(re("warning|info").literals.is_some());
        assert!(
            re("\\bweb\\b").literals.is_none(),
            "a look-around could veto a literal"
        );
        assert!(re("host-1:[0-9]+").literals.is_none());
    }

    #[test]
    fn every_operator_and_filters_parse_like_alertmanager() {
        let labels: BTreeMap<String, String> =
            [("alertname", "Disk \"full\""), ("severity", "critical")]
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect();
        let all = |f: &str| {
            parse_filter(f)
                .unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .all(|m| m.matches(&labels))
        };
        // `=` and `!=`, a missing label matching as the empty value.
        assert!(all(r#"alertname="Disk \"full\"""#));
        assert!(all("severity = critical"));
        assert!(!all("severity = crit"));
        assert!(all(r#"{severity!="info", team=""}"#));
        assert!(!all(r#"severity!="critical""#));
        assert!(!all(r#"team!="""#));
        // `=~` and `!~`, anchored.
        assert!(all(r#"severity=~"crit.*""#));
        assert!(!all(r#"severity=~"crit""#));
        assert!(all(r#"severity=~"(?i)CRITICAL|warning""#));
        assert!(all(r#"severity!~"crit""#));
        assert!(!all(r#"severity!~"crit.*""#));
        assert!(all(r#"team!~".+""#));
        assert!(all(r#"instance=~"a,b|""#));
        assert!(all(r#"severity=~"[a-z]{8}""#));
        assert!(parse_filter("nothing").is_err());
        assert!(parse_filter("=x").is_err());
        assert!(parse_filter(r#"a="x"#).is_err());
        let e = parse_filter(r#"a=~"x{3""#).expect_err("unclosed repetition");
        assert!(e.starts_with(r#"filter `a=~"x{3"`: regex `x{3`: "#), "{e}");
    }
}
