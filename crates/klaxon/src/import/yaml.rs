//! A YAML document as a tree whose every node knows its line, read with yaml-rust2's event
//! parser: what the conversion of `alertmanager.yml` walks, so each construct it cannot convert
//! is reported at its place. Scalars stay text (the conversion reads them as the types
//! Alertmanager expects); anchors are expanded where their aliases stand. Pure: text in.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The deepest nesting of lists and maps read: far beyond any Alertmanager configuration, and
/// a bound on the recursion of everything that walks the tree.
pub(crate) const MAX_DEPTH: usize = 128;

/// One node of the document.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) value: Value,
    /// The line it starts on (1-based).
    pub(crate) line: usize,
    /// The line its last event is on: for a collection, where the next construct starts.
    pub(crate) end: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A scalar as written; `quoted` when it was in quotes (so never null or a number).
    Text {
        text: String,
        quoted: bool,
    },
    List(Vec<Node>),
    /// Keys in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar.
    pub(crate) fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Text { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this is YAML's null (`~`, `null`, or nothing), which Alertmanager reads as unset.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Text { text, quoted: false } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub(crate) fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

/// Why a text is not a YAML document.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

/// The first document of `text` (an empty document is an empty map).
pub(crate) fn parse(text: &str) -> Result<Node, YamlError> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, false).map_err(|e| {
        let m = e.marker();
        YamlError {
            line: m.line(),
            column: m.col() + 1,
            message: e.info().to_owned(),
        }
    })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or(Node {
        value: Value::Map(Vec::new()),
        line: 1,
        end: 1,
    }))
}

/// A collection being read: its node so far and, for a map, a key waiting for its value.
struct Open {
    node: Node,
    anchor: usize,
    key: Option<Node>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<YamlError>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(open) => match &mut open.node.value {
                Value::List(items) => items.push(node),
                Value::Map(entries) => match open.key.take() {
                    None => {
                        // As Alertmanager's strict reading: a key twice in one map is an error.
                        if let Some(text) = node.text() {
                            if entries.iter().any(|(k, _)| k.text() == Some(text)) {
                                self.error.get_or_insert(YamlError {
                                    line: node.line,
                                    column: 1,
                                    message: format!("key `{text}` appears twice in one map"),
                                });
                            }
                        }
                        open.key = Some(node);
                    }
                    Some(k) => entries.push((k, node)),
                },
                Value::Text { .. } => {}
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                self.push_value(
                    Node {
                        value: Value::Text { text, quoted },
                        line,
                        end: line,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.error.get_or_insert(YamlError {
                    line,
                    column: mark.col() + 1,
                    message: format!("nested deeper than {MAX_DEPTH} levels"),
                });
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let value = if matches!(ev, Event::SequenceStart(..)) {
                    Value::List(Vec::new())
                } else {
                    Value::Map(Vec::new())
                };
                self.stack.push(Open {
                    node: Node {
                        value,
                        line,
                        end: line,
                    },
                    anchor,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd if self.error.is_some() => {}
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(mut open) = self.stack.pop() {
                    open.node.end = line;
                    self.push_value(open.node, open.anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    node.line = line;
                    node.end = line;
                    self.push_value(node, 0);
                }
                None => {
                    self.error.get_or_insert(YamlError {
                        line,
                        column: mark.col() + 1,
                        message: "an alias of an unknown anchor".to_owned(),
                    });
                }
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_lines_and_aliases_expand() {
        let doc = parse("a: &x\n  b: 1\nc:\n- d\n- 'e'\nf: *x\ng: ~\n").expect("parses");
        let m = doc.entries().expect("map");
        assert_eq!(m[0].0.text(), Some("a"));
        assert_eq!(m[0].1.line, 2);
        let list = m[1].1.items().expect("list");
        assert_eq!((list[1].text(), list[1].line), (Some("e"), 5));
        assert!(matches!(&list[1].value, Value::Text { quoted: true, .. }));
        let alias = &m[2].1;
        assert_eq!(alias.entries().expect("map")[0].1.text(), Some("1"));
        assert!(m[3].1.is_null());
        let e = parse("a: [1,\n").expect_err("unclosed");
        assert!(e.line >= 1, "{e:?}");
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = parse(&deep).expect_err("too deep");
        assert!(e.message.contains("nested deeper than 128"), "{e:?}");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let e = parse("a: 1\nb: 2\na: 3\n").expect_err("a key twice");
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "key `a` appears twice in one map")
        );
    }
}
