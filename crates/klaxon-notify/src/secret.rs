//! Secrets in configuration: a string whose `Debug` never shows it. A leaf: channels and
//! configuration both use it, it uses nothing of theirs.

use std::fmt;

use serde::Deserialize;

/// A secret string whose `Debug` never shows it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
