//! `Shape`, the JSON Schema of a request or response body as OpenAPI 3.0 writes it, built in
//! code next to the type or function whose JSON it describes, and `Schema`, the trait of types
//! that know their shape (request bodies and query strings, which serde reads). A named shape
//! is rendered once under `components/schemas` and referred to by `$ref` everywhere else.
//! A leaf: knows no endpoint and no HTTP.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// A type whose JSON form has a shape: written by hand next to the type (no derive, so the
/// build stays light), kept honest by the tests that check real answers against it.
pub(crate) trait Schema {
    fn shape() -> Shape;
}

/// One JSON Schema, with the named shapes it refers to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    json: Value,
    /// Named shapes this one refers to (itself included when named), by name.
    named: BTreeMap<&'static str, Value>,
}

impl Shape {
    fn of(json: Value) -> Shape {
        Shape {
            json,
            named: BTreeMap::new(),
        }
    }

    /// Any JSON value.
    pub(crate) fn any() -> Shape {
        Shape::of(json!({}))
    }

    pub(crate) fn string() -> Shape {
        Shape::of(json!({"type": "string"}))
    }

    /// One of these strings.
    pub(crate) fn one_of_text(values: &[&str]) -> Shape {
        Shape::of(json!({"type": "string", "enum": values}))
    }

    /// An RFC 3339 time, as klaxon writes them (`2023-11-14T22:13:20.000Z`).
    pub(crate) fn time() -> Shape {
        Shape::of(json!({"type": "string", "format": "date-time"}))
    }

    /// A signed 64-bit integer (ids, epoch milliseconds).
    pub(crate) fn integer() -> Shape {
        Shape::of(json!({"type": "integer", "format": "int64"}))
    }

    /// An integer of at least 0 (counts, limits).
    pub(crate) fn count() -> Shape {
        Shape::of(json!({"type": "integer", "minimum": 0}))
    }

    pub(crate) fn number() -> Shape {
        Shape::of(json!({"type": "number"}))
    }

    pub(crate) fn boolean() -> Shape {
        Shape::of(json!({"type": "boolean"}))
    }

    pub(crate) fn array(items: Shape) -> Shape {
        let mut s = Shape::of(Value::Null);
        s.json = json!({"type": "array", "items": s.take(items)});
        s
    }

    /// An object of any keys whose values are `values` (labels: `Shape::map(Shape::string())`).
    pub(crate) fn map(values: Shape) -> Shape {
        let mut s = Shape::of(Value::Null);
        s.json = json!({"type": "object", "additionalProperties": s.take(values)});
        s
    }

    /// An object; add its fields with [`Shape::req`] and [`Shape::opt`].
    pub(crate) fn object() -> Shape {
        Shape::of(json!({"type": "object", "properties": {}}))
    }

    /// Any of these shapes (`anyOf`: a value may fit more than one, as `1` fits an integer
    /// and a number).
    pub(crate) fn any_of(shapes: impl IntoIterator<Item = Shape>) -> Shape {
        let mut s = Shape::of(Value::Null);
        let all: Vec<Value> = shapes.into_iter().map(|x| s.take(x)).collect();
        s.json = json!({ "anyOf": all });
        s
    }

    /// A required field of an object.
    pub(crate) fn req(self, name: &str, field: Shape) -> Shape {
        let mut s = self.opt(name, field);
        if let Some(r) = s.json.as_object_mut().map(|o| {
            o.entry("required")
                .or_insert_with(|| Value::Array(Vec::new()))
        }) {
            if let Some(list) = r.as_array_mut() {
                list.push(Value::from(name));
            }
        }
        s
    }

    /// An optional field of an object.
    pub(crate) fn opt(mut self, name: &str, field: Shape) -> Shape {
        let field = self.take(field);
        if let Some(props) = self
            .json
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            props.insert(name.to_owned(), field);
        }
        self
    }

    /// An object that refuses fields it does not name (`deny_unknown_fields`).
    pub(crate) fn closed(self) -> Shape {
        self.with("additionalProperties", Value::Bool(false))
    }

    /// `null` is a value too.
    pub(crate) fn nullable(self) -> Shape {
        if self.json.get("$ref").is_some() {
            // OpenAPI 3.0 ignores the siblings of `$ref`.
            let mut s = Shape::of(Value::Null);
            s.json = json!({"allOf": [s.take(self)], "nullable": true});
            return s;
        }
        self.with("nullable", Value::Bool(true))
    }

    pub(crate) fn describe(self, text: &str) -> Shape {
        self.with("description", Value::from(text))
    }

    /// Any other keyword of JSON Schema (`minimum`, `maxLength`, `format`, ...).
    pub(crate) fn with(mut self, keyword: &str, value: Value) -> Shape {
        if let Some(o) = self.json.as_object_mut() {
            o.insert(keyword.to_owned(), value);
        }
        self
    }

    /// This shape under a name in `components/schemas`, referred to by `$ref`.
    pub(crate) fn named(mut self, name: &'static str) -> Shape {
        let body = std::mem::replace(
            &mut self.json,
            json!({ "$ref": format!("#/components/schemas/{name}") }),
        );
        self.named.insert(name, body);
        self
    }

    /// The shape of a field or element: its JSON, its named shapes kept in `self`.
    fn take(&mut self, child: Shape) -> Value {
        for (name, body) in child.named {
            let kept = self.named.entry(name).or_insert_with(|| body.clone());
            debug_assert_eq!(*kept, body, "two shapes named {name}");
        }
        child.json
    }

    /// The JSON Schema; named shapes are moved into `components`.
    pub(crate) fn render(self, components: &mut Map<String, Value>) -> Value {
        for (name, body) in self.named {
            components.entry(name.to_owned()).or_insert(body);
        }
        self.json
    }

    /// The fields of an object shape, each with whether it is required (query strings).
    pub(crate) fn fields(&self) -> Vec<(String, bool, Shape)> {
        let required: Vec<&str> = self.json["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        self.json["properties"]
            .as_object()
            .map(|props| {
                props
                    .iter()
                    .map(|(k, v)| {
                        let field = Shape {
                            json: v.clone(),
                            named: self.named.clone(),
                        };
                        (k.clone(), required.contains(&k.as_str()), field)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The JSON, without the named shapes (tests and descriptions).
    pub(crate) fn json(&self) -> &Value {
        &self.json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_shapes_are_referred_to_and_rendered_once() {
        let label = Shape::map(Shape::string()).named("Labels");
        let alert = Shape::object()
            .req("id", Shape::integer())
            .req("labels", label.clone())
            .opt("annotations", label)
            .opt("ends_at", Shape::time().nullable())
            .closed()
            .named("Alert");
        let list = Shape::object().req("alerts", Shape::array(alert));
        let mut components = Map::new();
        let json = list.render(&mut components);
        assert_eq!(
            json["properties"]["alerts"]["items"]["$ref"],
            "#/components/schemas/Alert"
        );
        let a = &components["Alert"];
        assert_eq!(a["required"], json!(["id", "labels"]));
        assert_eq!(
            a["properties"]["labels"]["$ref"],
            "#/components/schemas/Labels"
        );
        assert_eq!(a["properties"]["ends_at"]["nullable"], true);
        assert_eq!(a["additionalProperties"], false);
        assert_eq!(
            components["Labels"],
            json!({"type": "object", "additionalProperties": {"type": "string"}})
        );
        assert_eq!(components.len(), 2);
    }

    #[test]
    fn a_nullable_reference_keeps_its_reference() {
        let s = Shape::object().named("X").nullable();
        assert_eq!(s.json["allOf"][0]["$ref"], "#/components/schemas/X");
        assert_eq!(s.json["nullable"], true);
    }

    #[test]
    fn fields_say_which_are_required() {
        let q = Shape::object()
            .req("a", Shape::string())
            .opt("b", Shape::integer());
        let f: Vec<(String, bool)> = q.fields().into_iter().map(|(n, r, _)| (n, r)).collect();
        assert_eq!(f, [("a".to_owned(), true), ("b".to_owned(), false)]);
    }
}
