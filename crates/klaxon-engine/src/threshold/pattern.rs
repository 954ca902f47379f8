//! The regex subset of `=~` and `!~` label matchers, with no dependency: literals, escapes,
//! `.`, classes (`[a-z0-9_]`, `[^-]`, `\d`, `\w`, `\s`), `*`, `+`, `?` on one atom, and `|`
//! between whole alternatives; a pattern matches the whole value, as in Prometheus.
//! Groups, counted repetition and flags are rejected at validation, never misread.
//! Owns no rule state; matching runs only when a series is first seen or rules change.

/// A compiled pattern: alternatives of items.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    alts: Vec<Vec<Item>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    atom: Atom,
    rep: Rep,
}

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Char(char),
    Any,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rep {
    One,
    Opt,
    Star,
}

const SUPPORTED: &str = "supported: literal text, escapes such as \\., `.`, classes such as \
                         [a-z] and [^0-9], \\d \\w \\s, the repetitions * + ? after one \
                         character or class, and | between whole alternatives";

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(x) => *x == c,
            Atom::Any => true,
            Atom::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

fn digits() -> Vec<(char, char)> {
    vec![('0', '9')]
}

fn word() -> Vec<(char, char)> {
    vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]
}

fn space() -> Vec<(char, char)> {
    vec![('\t', '\n'), ('\u{b}', '\u{c}'), ('\r', '\r'), (' ', ' ')]
}

/// The atom of an escape `\c`, outside or inside a class.
fn escape(c: char) -> Result<Atom, String> {
    let class = |negated, ranges| Atom::Class { negated, ranges };
    Ok(match c {
        'd' => class(false, digits()),
        'D' => class(true, digits()),
        'w' => class(false, word()),
        'W' => class(true, word()),
        's' => class(false, space()),
        'S' => class(true, space()),
        'n' => Atom::Char('\n'),
        't' => Atom::Char('\t'),
        'r' => Atom::Char('\r'),
        c if c.is_ascii_punctuation() || c == ' ' => Atom::Char(c),
        c => return Err(format!("unsupported escape \\{c}; {SUPPORTED}")),
    })
}

impl Pattern {
    /// Compiles a pattern; `Err` says what is not supported.
    pub(crate) fn parse(src: &str) -> Result<Pattern, String> {
        let mut alts = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        let mut chars = src.chars().peekable();
        let mut at_start = true;
        while let Some(c) = chars.next() {
            let atom = match c {
                '|' => {
                    alts.push(std::mem::take(&mut items));
                    at_start = true;
                    continue;
                }
                '^' if at_start => continue,
                '$' if matches!(chars.peek(), None | Some('|')) => continue,
                '*' | '+' | '?' => {
                    let Some(last) = items.last_mut().filter(|i| i.rep == Rep::One) else {
                        // `*?`, `+?` and `??` are lazy forms: the same for a whole-value match.
                        if c == '?' && items.last().is_some() && !at_start {
                            continue;
                        }
                        return Err(format!("`{c}` has nothing to repeat; {SUPPORTED}"));
                    };
                    match c {
                        '*' => last.rep = Rep::Star,
                        '?' => last.rep = Rep::Opt,
                        _ => {
                            let atom = last.atom.clone();
                            items.push(Item {
                                atom,
                                rep: Rep::Star,
                            });
                            // `a+?` is lazy too.
                            if chars.peek() == Some(&'?') {
                                chars.next();
                            }
                        }
                    }
                    continue;
                }
                '(' | ')' => return Err(format!("groups are not supported; {SUPPORTED}")),
                '{' | '}' => {
                    return Err(format!("counted repetition is not supported; {SUPPORTED}"))
                }
                '^' | '$' => {
                    return Err(format!(
                        "`{c}` is only allowed at the start (^) or end ($) of an alternative; \
                         patterns always match the whole value"
                    ))
                }
                '\\' => match chars.next() {
                    Some(e) => escape(e)?,
                    None => return Err("the pattern ends with a lone \\".to_owned()),
                },
                '.' => Atom::Any,
                '[' => class(&mut chars)?,
                c => Atom::Char(c),
            };
            at_start = false;
            items.push(Item {
                atom,
                rep: Rep::One,
            });
        }
        alts.push(items);
        Ok(Pattern { alts })
    }

    /// Whether the whole of `s` matches one alternative.
    pub(crate) fn is_match(&self, s: &str) -> bool {
        self.alts.iter().any(|items| run(items, s))
    }
}

/// A bracket class; the `[` is consumed.
fn class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Atom, String> {
    let negated = chars.peek() == Some(&'^');
    if negated {
        chars.next();
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = chars
            .next()
            .ok_or_else(|| "a class [ is not closed with ]".to_owned())?;
        let lo = match c {
            ']' if !first => break,
            '[' => {
                return Err(format!(
                    "nested or POSIX classes are not supported; {SUPPORTED}"
                ))
            }
            '\\' => {
                let e = chars
                    .next()
                    .ok_or_else(|| "the pattern ends with a lone \\".to_owned())?;
                match escape(e)? {
                    Atom::Char(c) => c,
                    Atom::Class {
                        negated: false,
                        ranges: r,
                    } => {
                        ranges.extend(r);
                        first = false;
                        continue;
                    }
                    _ => {
                        return Err(format!(
                            "negated escapes (\\D, \\W, \\S) inside a class are not supported; \
                             {SUPPORTED}"
                        ))
                    }
                }
            }
            c => c,
        };
        first = false;
        let is_range = chars.peek() == Some(&'-') && {
            let mut ahead = chars.clone();
            ahead.next();
            !matches!(ahead.peek(), Some(']') | None)
        };
        if is_range {
            chars.next();
            let hi = match chars.next() {
                Some('\\') => match chars.next().map(escape) {
                    Some(Ok(Atom::Char(c))) => c,
                    _ => return Err("a range must end with one character".to_owned()),
                },
                Some(c) => c,
                None => return Err("a class [ is not closed with ]".to_owned()),
            };
            if hi < lo {
                return Err(format!("the range {lo}-{hi} is out of order"));
            }
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
    Ok(Atom::Class { negated, ranges })
}

/// Simulates the items as a non-deterministic automaton: linear in `s`, no backtracking.
fn run(items: &[Item], s: &str) -> bool {
    let n = items.len();
    let mut cur = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    cur[0] = true;
    close(items, &mut cur);
    for c in s.chars() {
        next.fill(false);
        let mut alive = false;
        for (i, item) in items.iter().enumerate() {
            if cur[i] && item.atom.matches(c) {
                alive = true;
                match item.rep {
                    Rep::One | Rep::Opt => next[i + 1] = true,
                    Rep::Star => next[i] = true,
                }
            }
        }
        if !alive {
            return false;
        }
        close(items, &mut next);
        std::mem::swap(&mut cur, &mut next);
    }
    cur[n]
}

/// Optional and starred items may be skipped.
fn close(items: &[Item], states: &mut [bool]) {
    for (i, item) in items.iter().enumerate() {
        if states[i] && item.rep != Rep::One {
            states[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::parse(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(s)
    }

    #[test]
    fn anchored_literals_and_wildcards() {
        assert!(m("web-1", "web-1"));
        assert!(!m("web", "web-1"), "the whole value must match");
        assert!(m("web-.*", "web-1"));
        assert!(m("web-.*", "web-"));
        assert!(!m("web-.+", "web-"));
        assert!(m("web-.+", "web-12"));
        assert!(m("web-.", "web-x"));
        assert!(!m("web-.", "web-xy"));
        assert!(m("^web-1$", "web-1"));
        assert!(m("a?b", "b") && m("a?b", "ab") && !m("a?b", "aab"));
        assert!(m("a*", "") && m("a*", "aaa") && !m("a*", "ab"));
        assert!(m("", "") && !m("", "x"));
        assert!(m(".*", "") && m(".*", "anything at all"));
        assert!(
            m("a.*?b", "axxb"),
            "lazy repetition is the same for a whole match"
        );
    }

    #[test]
    fn alternatives_classes_and_escapes() {
        assert!(m("web-1|web-2", "web-2"));
        assert!(!m("web-1|web-2", "web-3"));
        assert!(m("^web-1$|^db-.*$", "db-7"));
        assert!(m("web-[0-9]+", "web-42"));
        assert!(!m("web-[0-9]+", "web-4a"));
        assert!(m("[^-]+", "abc") && !m("[^-]+", "a-c"));
        assert!(m("[a-c-]", "-") && m("[-a]", "-"));
        assert!(m("[]a]", "]"));
        assert!(m(r"\d+\.\d+", "10.25") && !m(r"\d+\.\d+", "10x25"));
        assert!(m(r"[\w.]+", "node_1.eu"));
        assert!(m(r"\s", " ") && m(r"\S+", "x"));
        assert!(m(r"a\|b", "a|b"));
        assert!(m("é+", "ééé"));
    }

    #[test]
    fn unsupported_syntax_is_rejected() {
        for p in [
            "(web|db)-1",
            "a{2}",
            "*a",
            "a**",
            "a^b",
            "[a",
            r"\b",
            "a\\",
            "[z-a]",
            "[[:alpha:]]",
        ] {
            assert!(Pattern::parse(p).is_err(), "{p} must be rejected");
        }
        let e = Pattern::parse("(a)").expect_err("groups");
        assert!(e.starts_with("groups are not supported; supported:"), "{e}");
    }
}
