//! The TOML text `klaxon config import-alertmanager` prints: tables in order, each with the
//! comments above it and its keys, written by hand so comments and order are kept. Pure.

/// A TOML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TVal {
    Str(String),
    Int(i64),
    Bool(bool),
    Arr(Vec<TVal>),
    /// An inline table (`{ a = "b" }`).
    Inline(Vec<(String, TVal)>),
}

impl TVal {
    pub(crate) fn strs<S: AsRef<str>>(v: &[S]) -> TVal {
        TVal::Arr(v.iter().map(|s| TVal::Str(s.as_ref().to_owned())).collect())
    }
}

/// One table: `[name]` or `[[name]]`, the comments above its keys, its keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub(crate) header: String,
    pub(crate) comments: Vec<String>,
    pub(crate) keys: Vec<(String, TVal)>,
    /// Comments after its keys (what could not be converted, kept as written).
    pub(crate) trailer: Vec<String>,
}

impl Table {
    pub(crate) fn new(header: impl Into<String>) -> Table {
        Table {
            header: header.into(),
            ..Table::default()
        }
    }

    pub(crate) fn set(&mut self, key: &str, v: TVal) {
        self.keys.push((key.to_owned(), v));
    }
}

/// The document: comments at its top, then its tables.
pub(crate) fn write(top: &[String], tables: &[Table]) -> String {
    let mut out = String::new();
    for c in top {
        comment(&mut out, c);
    }
    for t in tables {
        out.push('\n');
        for c in &t.comments {
            comment(&mut out, c);
        }
        out.push_str(&t.header);
        out.push('\n');
        for (k, v) in &t.keys {
            out.push_str(&key(k));
            out.push_str(" = ");
            value(&mut out, v);
            out.push('\n');
        }
        for c in &t.trailer {
            comment(&mut out, c);
        }
    }
    out
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        out.push('#');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
    if text.is_empty() {
        out.push_str("#\n");
    }
}

/// A bare key when it can be one, else a quoted one.
pub(crate) fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_owned()
    } else {
        string(k)
    }
}

/// A TOML basic string (JSON's escapes are TOML's).
pub(crate) fn string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn value(out: &mut String, v: &TVal) {
    match v {
        TVal::Str(s) => out.push_str(&string(s)),
        TVal::Int(i) => out.push_str(&i.to_string()),
        TVal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        TVal::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value(out, x);
            }
            out.push(']');
        }
        TVal::Inline(kv) => {
            out.push_str("{ ");
            for (i, (k, x)) in kv.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&key(k));
                out.push_str(" = ");
                value(out, x);
            }
            out.push_str(" }");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_keys_and_comments_read_back_as_toml() {
        let mut t = Table::new("[[receivers]]");
        t.comments.push("a receiver".into());
        t.set("name", TVal::Str("team \"a\"".into()));
        t.set("to", TVal::strs(&["a@x", "b@x"]));
        t.set(
            "headers",
            TVal::Inline(vec![("X-Key".into(), TVal::Str("v".into()))]),
        );
        t.set("max", TVal::Int(3));
        t.trailer.push("opsgenie_configs:\n- api_key: k".into());
        let text = write(&["top".into()], &[t]);
        let parsed: toml::Table = toml::from_str(&text).expect(&text);
        let r = &parsed["receivers"][0];
        assert_eq!(r["name"].as_str(), Some("team \"a\""));
        assert_eq!(r["headers"]["X-Key"].as_str(), Some("v"));
        assert!(text.contains("# - api_key: k\n"), "{text}");
    }
}
