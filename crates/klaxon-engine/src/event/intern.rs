//! String interning for actions, contexts, names and scopes, so the hot path compares integers.
//! Owns no rule or process state.

use crate::Map;

/// An interned string; [`NONE`] is the empty string, used for "no context".
pub(crate) type Sym = u32;

/// The symbol of the empty string.
pub(crate) const NONE: Sym = 0;

/// Interned strings, never freed (the vocabulary of actions and contexts is bounded in practice).
#[derive(Debug)]
pub(crate) struct Interner {
    map: Map<Box<str>, Sym>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn new() -> Interner {
        let mut map = Map::default();
        map.insert(Box::from(""), NONE);
        Interner {
            map,
            names: vec![Box::from("")],
        }
    }

    /// The symbol of `s`, creating it on first sight.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = Sym::try_from(self.names.len()).expect("fewer than 2^32 distinct strings");
        self.names.push(Box::from(s));
        self.map.insert(Box::from(s), sym);
        sym
    }

    /// The symbol of an optional string, `NONE` for `None`.
    pub(crate) fn intern_opt(&mut self, s: Option<&str>) -> Sym {
        s.map_or(NONE, |s| self.intern(s))
    }

    pub(crate) fn name(&self, sym: Sym) -> &str {
        &self.names[sym as usize]
    }
}

/// The metric key (action, context) packed into one integer.
pub(crate) fn key(action: Sym, context: Sym) -> u64 {
    (u64::from(action) << 32) | u64::from(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_keeps_none() {
        let mut i = Interner::new();
        let a = i.intern("A");
        assert_eq!(i.intern("A"), a);
        assert_ne!(a, NONE);
        assert_eq!(i.intern(""), NONE);
        assert_eq!(i.name(a), "A");
        assert_eq!(i.intern_opt(None), NONE);
    }
}
