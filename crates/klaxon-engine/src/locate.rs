//! Where a field of a rule document is written: the line and column of a path such as
//! `rules[2].condition.operator` in the document's text, so that a checker's error points at it.
//! Owns no checks; reads text that has already parsed as JSON, without recursion and without
//! allocating, one pass over the text per lookup.

/// One step of a path: an object's key or an array's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The steps of a dotted field path (`condition.value`, `label_matchers[0]`, `labels.host`).
pub(crate) fn steps(field: &str) -> impl Iterator<Item = Step<'_>> {
    field.split('.').filter(|s| !s.is_empty()).flat_map(|part| {
        let (key, indexes) = match part.find('[') {
            Some(at) => part.split_at(at),
            None => (part, ""),
        };
        let key = (!key.is_empty()).then_some(Step::Key(key));
        let indexes = indexes
            .split('[')
            .filter_map(|i| i.strip_suffix(']'))
            .filter_map(|i| i.parse().ok())
            .map(Step::Index);
        key.into_iter().chain(indexes)
    })
}

/// The 1-based line and column (in characters) of the deepest part of `path` the text holds:
/// the key of an object member, the start of an array element, or the document itself when it
/// holds not even the first step. `None` only for a text with nothing in it.
pub(crate) fn locate<'p>(
    text: &str,
    path: impl IntoIterator<Item = Step<'p>>,
) -> Option<(usize, usize)> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: 0,
    };
    s.ws();
    let mut found = (s.i < s.b.len()).then_some(s.i);
    for step in path {
        let at = match step {
            Step::Key(key) => s.member(key),
            Step::Index(n) => s.element(n),
        };
        match at {
            Some(at) => found = Some(at),
            None => break,
        }
    }
    let at = found?;
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let line = before.matches('\n').count() + 1;
    let column = text[line_start..at].chars().count() + 1;
    Some((line, column))
}

/// A cursor over valid JSON text.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// Skips a string starting at the cursor (at its opening quote); returns its raw content.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let b = self.b;
        loop {
            match b.get(self.i)? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return b.get(start..self.i - 1);
                }
                _ => self.i += 1,
            }
        }
    }

    /// Skips one value of any kind, nested ones included (counting depth, not recursing).
    fn value(&mut self) -> Option<()> {
        self.ws();
        let mut depth = 0usize;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.i += 1;
                }
                b',' | b':' if depth > 0 => self.i += 1,
                c if c.is_ascii_whitespace() => self.i += 1,
                _ => {
                    // A number or a literal: up to the next delimiter.
                    while self.b.get(self.i).is_some_and(|c| {
                        !matches!(c, b',' | b'}' | b']' | b':') && !c.is_ascii_whitespace()
                    }) {
                        self.i += 1;
                    }
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// In the object at the cursor, moves to the value of `key`; returns where the key starts.
    fn member(&mut self, key: &str) -> Option<usize> {
        self.eat(b'{')?;
        loop {
            self.ws();
            let at = self.i;
            let raw = self.string()?;
            self.eat(b':')?;
            if key_is(raw, key) {
                self.ws();
                return Some(at);
            }
            self.value()?;
            self.eat(b',')?;
        }
    }

    /// In the array at the cursor, moves to element `n`; returns where it starts.
    fn element(&mut self, n: usize) -> Option<usize> {
        self.eat(b'[')?;
        for _ in 0..n {
            self.value()?;
            self.eat(b',')?;
        }
        self.ws();
        (!matches!(self.b.get(self.i), None | Some(b']'))).then_some(self.i)
    }
}

/// Whether a raw (still escaped) key is `key`.
fn key_is(raw: &[u8], key: &str) -> bool {
    if !raw.contains(&b'\\') {
        return raw == key.as_bytes();
    }
    let Ok(raw) = std::str::from_utf8(raw) else {
        return false;
    };
    serde_json::from_str::<String>(&format!("\"{raw}\"")).is_ok_and(|k| k == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "{\n  \"header\": {\"rule_set\": \"x\"},\n  \"rules\": [\n    {\"id\": \"A\", \"n\": [1, {\"q\": \"]\"}], \"condition\": {\"operator\": \"ON\"}},\n    {\"id\": \"B\",\n     \"caf\\u00e9\": 2, \"labels\": {\"host\": \"é\", \"zone\": 1}}\n  ]\n}";

    fn at(path: &str) -> Option<(usize, usize)> {
        locate(DOC, steps(path))
    }

    #[test]
    fn paths_point_at_keys_and_elements() {
        assert_eq!(at("header.rule_set"), Some((2, 14)));
        assert_eq!(at("rules[0]"), Some((4, 5)));
        assert_eq!(at("rules[0].condition.operator"), Some((4, 53)));
        assert_eq!(
            at("rules[1].labels.zone"),
            Some((6, 46)),
            "columns count characters"
        );
        assert_eq!(
            at("rules[1].café"),
            Some((6, 6)),
            "escaped keys compare decoded"
        );
        assert_eq!(at("rules[0].n[1].q"), Some((4, 27)));
    }

    #[test]
    fn a_missing_step_stops_at_the_deepest_found() {
        assert_eq!(at("rules[0].alert.handler"), at("rules[0]"));
        assert_eq!(at("rules[9]"), Some((3, 3)));
        assert_eq!(at("nothing"), Some((1, 1)), "the document itself");
        assert_eq!(locate(" \n ", steps("a")), None);
    }

    #[test]
    fn steps_split_dots_and_indexes() {
        let s: Vec<_> = steps("rules[2].label_matchers[0]").collect();
        assert_eq!(
            s,
            [
                Step::Key("rules"),
                Step::Index(2),
                Step::Key("label_matchers"),
                Step::Index(0)
            ]
        );
    }
}
