//! `Doc`, what one row of the endpoint table says of its operation beyond method, path and
//! access: its path and query parameters, its request body, and its answers with their
//! statuses and shapes. Built next to the row with a chain of calls; rendered by the document.

use super::shape::{Schema, Shape};

/// Where a parameter is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
    Header,
}

impl In {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
            In::Header => "header",
        }
    }
}

/// One parameter.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub at: In,
    pub required: bool,
    pub shape: Shape,
    pub description: String,
}

/// A request body: its media types, each with its shape.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// `false` when an empty body is taken (as `{}`).
    pub required: bool,
    pub content: Vec<(&'static str, Shape)>,
}

/// One answer: a status, what it means, and its media types (none for an empty body).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub description: String,
    pub content: Vec<(&'static str, Shape)>,
}

/// The documentation of one endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Doc {
    pub params: Vec<Param>,
    pub request: Option<Request>,
    /// Said on purpose: this endpoint reads no body (a POST that only acts).
    pub bodyless: bool,
    pub replies: Vec<Reply>,
    /// Error statuses answered with the `Error` shape.
    pub errors: Vec<u16>,
}

/// JSON's media type.
pub(crate) const JSON: &str = "application/json";

impl Doc {
    pub(crate) fn new() -> Doc {
        Doc::default()
    }

    /// A path parameter: every `{name}` of the path needs one.
    pub(crate) fn path(mut self, name: &str, shape: Shape, description: &str) -> Doc {
        self.params.push(Param {
            name: name.to_owned(),
            at: In::Path,
            required: true,
            shape,
            description: description.to_owned(),
        });
        self
    }

    /// One query parameter.
    pub(crate) fn param(mut self, name: &str, shape: Shape, description: &str) -> Doc {
        self.params.push(Param {
            name: name.to_owned(),
            at: In::Query,
            required: false,
            shape,
            description: description.to_owned(),
        });
        self
    }

    /// An optional request header.
    pub(crate) fn header(mut self, name: &str, shape: Shape, description: &str) -> Doc {
        self.params.push(Param {
            name: name.to_owned(),
            at: In::Header,
            required: false,
            shape,
            description: description.to_owned(),
        });
        self
    }

    /// The query string of a type serde reads it into: one parameter per field.
    pub(crate) fn query<T: Schema>(self) -> Doc {
        self.query_of(T::shape())
    }

    /// The query string of this object shape: one parameter per field.
    pub(crate) fn query_of(mut self, object: Shape) -> Doc {
        for (name, required, shape) in object.fields() {
            let description = shape.json()["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            self.params.push(Param {
                name,
                at: In::Query,
                required,
                shape,
                description,
            });
        }
        self
    }

    /// A JSON request body of this type.
    pub(crate) fn json<T: Schema>(self) -> Doc {
        self.body(JSON, T::shape())
    }

    /// A request body of this media type (call again for another).
    pub(crate) fn body(mut self, media: &'static str, shape: Shape) -> Doc {
        let r = self.request.get_or_insert(Request {
            required: true,
            content: Vec::new(),
        });
        r.content.push((media, shape));
        self
    }

    /// The body may be left out (an empty body is `{}`).
    pub(crate) fn body_optional(mut self) -> Doc {
        if let Some(r) = &mut self.request {
            r.required = false;
        }
        self
    }

    /// A POST that reads no body.
    pub(crate) fn no_body(mut self) -> Doc {
        self.bodyless = true;
        self
    }

    /// 200 with this JSON.
    pub(crate) fn ok(self, shape: Shape) -> Doc {
        self.reply(200, "success", JSON, shape)
    }

    /// 201 with this JSON: something was made.
    pub(crate) fn created(self, shape: Shape) -> Doc {
        self.reply(201, "created", JSON, shape)
    }

    /// An answer of this status and media type (call again for another media type).
    pub(crate) fn reply(
        mut self,
        status: u16,
        description: &str,
        media: &'static str,
        shape: Shape,
    ) -> Doc {
        match self.replies.iter_mut().find(|r| r.status == status) {
            Some(r) => r.content.push((media, shape)),
            None => self.replies.push(Reply {
                status,
                description: description.to_owned(),
                content: vec![(media, shape)],
            }),
        }
        self
    }

    /// An answer of this status with no body.
    pub(crate) fn empty(mut self, status: u16, description: &str) -> Doc {
        self.replies.push(Reply {
            status,
            description: description.to_owned(),
            content: Vec::new(),
        });
        self
    }

    /// Error statuses this endpoint answers with the `Error` shape (401 and 403 of a token,
    /// 413 of a body, 400 of parameters are added by the document).
    pub(crate) fn errors(mut self, statuses: &[u16]) -> Doc {
        self.errors.extend_from_slice(statuses);
        self
    }

    /// Whether it documents a success: a 1xx, 2xx or 3xx answer.
    #[cfg(test)]
    /// Whether some answer is a success; an endpoint that is gone (410: a removed API answered
    /// as its old server answers) has none by design.
    pub(crate) fn succeeds(&self) -> bool {
        self.replies
            .iter()
            .any(|r| r.status < 400 || r.status == 410)
    }
}
