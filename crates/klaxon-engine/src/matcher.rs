//! Alertmanager label matchers (`name="v"`, `!=`, `=~`, `!~`) and the small regular-expression
//! language `=~`/`!~` accept. Pure: no I/O, no state.
//!
//! Regexes are anchored at both ends, as in Alertmanager, and run on a Pike VM (every thread
//! advances in lockstep), so matching is linear in the value's length times the pattern's size
//! whatever the pattern: no backtracking, no catastrophic cases. Supported: literals, `.`
//! (not newline), `[...]` and `[^...]` with ranges, `\d \w \s \D \W \S`, escaped
//! punctuation, `\n \t`, groups `(...)` and `(?:...)`, `|`, `*`, `+`, `?` (and their lazy forms,
//! which match the same strings), `^` and `$`. Not supported, answered with an error naming
//! it: counted repetition `{n,m}`, flags such as `(?i)`, other escapes, POSIX classes.

use std::collections::BTreeMap;

/// Longest pattern accepted, in characters; bounds the program and the matching cost.
const MAX_PATTERN: usize = 512;
const MAX_DEPTH: usize = 64;

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
            out.push(parse_matcher(part).map_err(|e| format!("filter `{s}`: {e}"))?);
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

fn parse_matcher(s: &str) -> Result<Matcher, String> {
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
    let value = unquote(value)?;
    let op = match op {
        "=" => Op::Eq(value),
        "!=" => Op::Ne(value),
        "=~" => Op::Re(Regex::new(&value)?),
        _ => Op::NotRe(Regex::new(&value)?),
    };
    Ok(Matcher {
        name: name.to_owned(),
        op,
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

/// A compiled anchored regex (see the module documentation for the language): a program for a
/// Pike VM whose jumps are relative, so fragments compose by concatenation.
#[derive(Debug, Clone)]
pub struct Regex(Vec<Inst>);

#[derive(Debug, Clone)]
enum Inst {
    /// Reads one character within the ranges (or, when negated, outside them).
    Class(bool, Vec<(char, char)>),
    /// Continues at both targets (relative).
    Split(isize, isize),
    Jmp(isize),
    Match,
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\n'), ('\x0c', '\r'), (' ', ' ')];

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let err = |e: String| format!("regex `{pattern}`: {e}");
        // Matchers are anchored anyway; a leading `^` and a trailing `$` change nothing.
        let mut body = pattern.strip_prefix('^').unwrap_or(pattern);
        if body.ends_with('$') && !body.ends_with("\\$") {
            body = &body[..body.len() - 1];
        }
        let chars: Vec<char> = body.chars().collect();
        if chars.len() > MAX_PATTERN {
            return Err(err(format!("longer than {MAX_PATTERN} characters")));
        }
        let mut p = Parser {
            s: &chars,
            i: 0,
            depth: 0,
        };
        let mut prog = p.alt().map_err(err)?;
        if p.i < chars.len() {
            return Err(err("unmatched `)`".into()));
        }
        prog.push(Inst::Match);
        Ok(Regex(prog))
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        let (mut cur, mut next) = (Vec::new(), Vec::new());
        let mut seen = vec![usize::MAX; self.0.len()];
        self.add(&mut cur, &mut seen, 0, 0);
        for (i, c) in text.chars().enumerate() {
            next.clear();
            for &pc in &cur {
                if let Inst::Class(negated, r) = &self.0[pc] {
                    if r.iter().any(|&(a, b)| a <= c && c <= b) != *negated {
                        self.add(&mut next, &mut seen, pc + 1, i + 1);
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
            if cur.is_empty() {
                return false;
            }
        }
        cur.iter().any(|&pc| matches!(self.0[pc], Inst::Match))
    }

    /// Adds `pc` and every instruction reachable from it without reading, at position `at`.
    fn add(&self, list: &mut Vec<usize>, seen: &mut [usize], pc: usize, at: usize) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if std::mem::replace(&mut seen[pc], at) == at {
                continue;
            }
            match self.0[pc] {
                Inst::Split(a, b) => {
                    stack.extend([pc.wrapping_add_signed(b), pc.wrapping_add_signed(a)])
                }
                Inst::Jmp(a) => stack.push(pc.wrapping_add_signed(a)),
                Inst::Class(..) | Inst::Match => list.push(pc),
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn eat(&mut self, c: char) -> bool {
        let hit = self.s.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    fn next(&mut self) -> Result<char, String> {
        let c = *self.s.get(self.i).ok_or("unexpected end")?;
        self.i += 1;
        Ok(c)
    }

    fn alt(&mut self) -> Result<Vec<Inst>, String> {
        let mut prog = self.cat()?;
        while self.eat('|') {
            let other = self.cat()?;
            prog.insert(0, Inst::Split(1, len(&prog) + 2));
            prog.push(Inst::Jmp(len(&other) + 1));
            prog.extend(other);
        }
        Ok(prog)
    }

    fn cat(&mut self) -> Result<Vec<Inst>, String> {
        let mut prog = Vec::new();
        while let Some(&c) = self.s.get(self.i).filter(|c| !matches!(c, '|' | ')')) {
            self.i += 1;
            let mut f = self.atom(c)?;
            while let Some(&op) = self.s.get(self.i).filter(|c| matches!(c, '*' | '+' | '?')) {
                self.i += 1;
                let n = len(&f);
                match op {
                    '*' => {
                        f.insert(0, Inst::Split(1, n + 2));
                        f.push(Inst::Jmp(-(n + 1)));
                    }
                    '+' => f.push(Inst::Split(-n, 1)),
                    _ => f.insert(0, Inst::Split(1, n + 1)),
                }
                self.eat('?'); // the lazy forms match the same strings
            }
            prog.extend(f);
        }
        Ok(prog)
    }

    fn atom(&mut self, c: char) -> Result<Vec<Inst>, String> {
        let (negated, ranges) = match c {
            '(' => {
                if self.eat('?') && !self.eat(':') {
                    return Err("flags and groups other than `(?:...)` are not supported".into());
                }
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("more than {MAX_DEPTH} nested groups"));
                }
                let f = self.alt()?;
                self.depth -= 1;
                return if self.eat(')') {
                    Ok(f)
                } else {
                    Err("missing `)`".into())
                };
            }
            '[' => self.class()?,
            '.' => (true, vec![('\n', '\n')]),
            '\\' => self.escape()?,
            '*' | '+' | '?' => return Err(format!("`{c}` has nothing to repeat")),
            '{' => {
                return Err("counted repetition `{n,m}` is not supported (`\\{` is a brace)".into())
            }
            '^' | '$' => return Err(format!("`{c}` is only supported at the start or end")),
            c => (false, vec![(c, c)]),
        };
        Ok(vec![Inst::Class(negated, ranges)])
    }

    fn class(&mut self) -> Result<(bool, Vec<(char, char)>), String> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        loop {
            match self.next().map_err(|_| "missing `]`")? {
                ']' if !ranges.is_empty() => return Ok((negated, ranges)),
                '[' if self.s.get(self.i) == Some(&':') => {
                    return Err("POSIX classes are not supported".into())
                }
                '\\' => match self.escape()? {
                    (false, r) => ranges.extend(r),
                    _ => return Err("`\\D`, `\\W`, `\\S` are not supported inside `[...]`".into()),
                },
                lo if self.s.get(self.i) == Some(&'-')
                    && self.s.get(self.i + 1).is_some_and(|&n| n != ']') =>
                {
                    self.i += 1;
                    let hi = self.next()?;
                    if hi < lo {
                        return Err(format!("range `{lo}-{hi}` is out of order"));
                    }
                    ranges.push((lo, hi));
                }
                c => ranges.push((c, c)),
            }
        }
    }

    fn escape(&mut self) -> Result<(bool, Vec<(char, char)>), String> {
        Ok(match self.next()? {
            c @ ('d' | 'D') => (c == 'D', DIGIT.to_vec()),
            c @ ('w' | 'W') => (c == 'W', WORD.to_vec()),
            c @ ('s' | 'S') => (c == 'S', SPACE.to_vec()),
            'n' => (false, vec![('\n', '\n')]),
            't' => (false, vec![('\t', '\t')]),
            c if c.is_ascii_punctuation() => (false, vec![(c, c)]),
            c => return Err(format!("escape `\\{c}` is not supported")),
        })
    }
}

/// A fragment's length as a relative jump (patterns are bounded, so this cannot wrap).
fn len(f: &[Inst]) -> isize {
    isize::try_from(f.len()).unwrap_or(isize::MAX)
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
            ("crit", "critical", false),
            ("Foo|Bar", "Bar", true),
            ("Foo|Bar", "FooBar", false),
            ("(Foo|Bar)+", "FooBarFoo", true),
            ("a(?:b|c)*d", "abcbd", true),
            ("a(?:b|c)*d", "abxd", false),
            (".*:9100", "host-1:9100", true),
            ("host-\\d+", "host-42", true),
            ("host-\\d+", "host-", false),
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
        ];
        for (p, text, want) in cases {
            assert_eq!(re(p).is_match(text), *want, "{p} on {text:?}");
        }
    }

    #[test]
    fn unsupported_syntax_is_named() {
        for (p, says) in [
            ("a{2}", "counted repetition"),
            ("(?i)abc", "flags"),
            ("*a", "nothing to repeat"),
            ("(ab", "missing `)`"),
            ("ab)", "unmatched"),
            ("a^b", "only supported at the start"),
            ("[ab", "missing `]`"),
            ("\\q", "escape"),
            ("[z-a]", "out of order"),
            ("[[:alpha:]]", "POSIX"),
        ] {
            let e = Regex::new(p).expect_err(p);
            assert!(e.contains(says), "{p}: {e}");
        }
        assert!(Regex::new(&"(".repeat(100)).is_err());
        assert!(Regex::new(&"a".repeat(600)).is_err());
    }

    #[test]
    fn filters_parse_like_alertmanager() {
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
        assert!(all(r#"alertname="Disk \"full\"""#));
        assert!(all(r#"severity=~"crit.*""#));
        assert!(all("severity = critical"));
        assert!(all(r#"{severity!="info", team=""}"#));
        assert!(!all(r#"severity!~"crit.*""#));
        assert!(!all(r#"team!="""#));
        assert!(all(r#"instance=~"a,b|""#));
        assert!(parse_filter("nothing").is_err());
        assert!(parse_filter("=x").is_err());
        assert!(parse_filter(r#"a="x"#).is_err());
        assert!(parse_filter(r#"a=~"x{3}""#).is_err_and(|e| e.contains("counted repetition")));
    }
}
