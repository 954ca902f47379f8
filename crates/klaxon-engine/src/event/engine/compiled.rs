//! The compiled form of the active rule sets: rules with interned keys and stable uids, and the
//! indexes that let a signal touch only its own rules. Built on activation, read-only after.

use std::sync::Arc;

use crate::event::intern::{Interner, Sym, NONE};
use crate::event::rule::{Condition, KeyPattern, Rule, RuleSet};
use crate::signal::Trigger;
use crate::Map;

/// One active rule set and where it is active.
#[derive(Debug)]
pub(crate) struct SetMeta {
    pub group: Arc<str>,
    pub group_sym: Sym,
    pub name: Arc<str>,
    pub version: Option<serde_json::Number>,
    pub set: Arc<RuleSet>,
}

/// A rule ready for evaluation.
#[derive(Debug)]
pub(crate) struct RuleRt {
    /// Stable across activations while the rule's definition is unchanged.
    pub uid: u32,
    pub meta: Arc<SetMeta>,
    pub id: Arc<str>,
    pub id_sym: Sym,
    pub operator: Arc<str>,
    pub handler: Arc<str>,
    pub action: Sym,
    /// The expected key of PRECEDED_BY* and FOLLOWED_BY: (action, context, any context).
    pub expect: (Sym, Sym, bool),
    pub def: Rule,
}

/// Indexes over the rules of every active set, in group order then document order.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    pub rules: Vec<RuleRt>,
    by_uid: Map<u32, u32>,
    by_action: Map<(Trigger, Sym), Vec<u32>>,
    by_context: Map<(Trigger, Sym, Sym), Vec<u32>>,
    pub logging: Vec<u32>,
    on_open: Map<Sym, Vec<u32>>,
}

impl Compiled {
    /// Builds the indexes for `active`, reusing the uids of `old` rules that are unchanged.
    pub(crate) fn build(
        active: &[Arc<SetMeta>],
        old: &Compiled,
        interner: &mut Interner,
        next_uid: &mut u32,
    ) -> Compiled {
        let previous: Map<(Sym, Sym), &RuleRt> = old
            .rules
            .iter()
            .map(|r| ((r.meta.group_sym, r.id_sym), r))
            .collect();
        let mut c = Compiled::default();
        for meta in active {
            for def in &meta.set.rules {
                let id_sym = interner.intern(&def.id);
                let uid = match previous.get(&(meta.group_sym, id_sym)) {
                    Some(prev) if prev.def == *def => prev.uid,
                    _ => {
                        *next_uid += 1;
                        *next_uid
                    }
                };
                let expect = match &def.condition {
                    Condition::PrecededBy { expect }
                    | Condition::PrecededByWithin { expect, .. }
                    | Condition::FollowedByWithinMs { expect, .. } => pattern(interner, expect),
                    _ => (NONE, NONE, true),
                };
                let action = interner.intern_opt(def.action.as_deref());
                let ix = u32::try_from(c.rules.len()).expect("fewer than 2^32 rules");
                let context_free = def.context.is_none();
                match def.trigger {
                    Trigger::Logging => {
                        if context_free {
                            c.logging.push(ix);
                        }
                    }
                    t if t.is_process() => {
                        if context_free {
                            c.by_action.entry((t, action)).or_default().push(ix);
                            if matches!(
                                def.condition,
                                Condition::RuntimeExceeded { .. }
                                    | Condition::SilenceSeconds { .. }
                            ) {
                                c.on_open.entry(action).or_default().push(ix);
                            }
                        }
                    }
                    t => match def.context.as_deref() {
                        None => c.by_action.entry((t, action)).or_default().push(ix),
                        Some(ctx) => {
                            let ctx = interner.intern(ctx);
                            c.by_context.entry((t, action, ctx)).or_default().push(ix);
                        }
                    },
                }
                c.by_uid.insert(uid, ix);
                c.rules.push(RuleRt {
                    uid,
                    meta: Arc::clone(meta),
                    id: Arc::from(def.id.as_str()),
                    id_sym,
                    operator: Arc::from(def.operator.as_str()),
                    handler: Arc::from(def.handler.as_str()),
                    action,
                    expect,
                    def: def.clone(),
                });
            }
        }
        c
    }

    pub(crate) fn rule(&self, uid: u32) -> Option<&RuleRt> {
        self.by_uid.get(&uid).map(|&ix| &self.rules[ix as usize])
    }

    /// Context-free rules of a trigger and action (for process triggers: the process name).
    pub(crate) fn by_action(&self, t: Trigger, action: Sym) -> &[u32] {
        self.by_action.get(&(t, action)).map_or(&[], Vec::as_slice)
    }

    /// Rules of a trigger, action and named context.
    pub(crate) fn by_context(&self, t: Trigger, action: Sym, context: Sym) -> &[u32] {
        self.by_context
            .get(&(t, action, context))
            .map_or(&[], Vec::as_slice)
    }

    /// Timer rules armed when a run of this process name opens.
    pub(crate) fn on_open(&self, name: Sym) -> &[u32] {
        self.on_open.get(&name).map_or(&[], Vec::as_slice)
    }
}

fn pattern(interner: &mut Interner, p: &KeyPattern) -> (Sym, Sym, bool) {
    (
        interner.intern(&p.action),
        interner.intern_opt(p.context.as_deref()),
        p.context.is_none(),
    )
}
