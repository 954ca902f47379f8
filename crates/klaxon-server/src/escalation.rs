//! Escalation policies in the server: the checks of a policy made through the API (the
//! engine's `escalation::compile`, which the configuration loader uses too, asked about the
//! users, teams and schedules of the store and the receivers of the configuration), its stored
//! record, the [`Catalog`] the pager follows (every stored policy compiled, every team's
//! members), and the receivers `user:NAME` of the users the policies page that the
//! configuration does not make. [`Paging::refresh`] rebuilds the last two after a change and
//! hands the catalog to the pager. Knows no HTTP and no SQL.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use klaxon_engine::escalation::{self, Policy, PolicyConfig, PolicyError, Target};
use klaxon_notify::Notifier;
use klaxon_store::{Origin, PolicyRecord, Store, StoreError};
use serde_json::json;

use crate::config::Config;
use crate::oncall::OnCall;
use crate::people::{check_name, Problem};

/// Policies in all, declared and made through the API.
pub(crate) const POLICIES: usize = escalation::MAX_POLICIES;

/// What a policy's targets may name: the users, teams and schedules of the store and the
/// receivers of the configuration.
#[derive(Debug, Default)]
pub(crate) struct Known {
    pub users: HashSet<String>,
    pub teams: HashSet<String>,
    pub schedules: HashSet<String>,
    pub receivers: HashSet<String>,
}

impl Known {
    pub(crate) async fn read<S: Store>(store: &S, config: &Config) -> Result<Known, StoreError> {
        Ok(Known {
            users: store
                .list_users()
                .await?
                .into_iter()
                .map(|u| u.name)
                .collect(),
            teams: store
                .list_teams()
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect(),
            schedules: (store.list_schedules().await?.into_iter())
                .map(|s| s.name)
                .collect(),
            receivers: config.receivers.iter().map(|r| r.name.clone()).collect(),
        })
    }

    fn exists(&self, t: &Target) -> Result<(), String> {
        let (set, section) = match t {
            Target::User(_) => (&self.users, "made through the API or declared"),
            Target::Team(_) => (&self.teams, "made through the API or declared"),
            Target::Schedule(_) => (&self.schedules, "made through the API or declared"),
            Target::Receiver(_) => (&self.receivers, "declared under [[receivers]]"),
        };
        if set.contains(t.name()) {
            Ok(())
        } else {
            Err(format!(
                "{t}: no {} named {:?} is {section}",
                t.kind(),
                t.name()
            ))
        }
    }
}

/// The place of one problem of the engine's compilation: `levels[1].notify[0]`, `repeat`.
fn problem(e: PolicyError) -> Problem {
    Problem {
        field: match e.level {
            Some(i) => format!("levels[{i}].{}", e.field),
            None => e.field,
        },
        message: e.message,
    }
}

/// Every problem of a policy made through the API: the checks and limits of the configuration
/// file (the same compilation), and a name URLs can carry.
pub(crate) fn check(c: &PolicyConfig, known: &Known) -> Result<Policy, Vec<Problem>> {
    let mut out: Vec<Problem> = Vec::new();
    let compiled = escalation::compile(c, &|t| known.exists(t));
    if let Err(es) = &compiled {
        out.extend(es.iter().cloned().map(problem));
    }
    if !out.iter().any(|p| p.field == "name") {
        out.extend(check_name("name", &c.name).err());
    }
    match compiled {
        Ok(p) if out.is_empty() => Ok(p),
        _ => Err(out),
    }
}

/// The policy as JSON, in the shape people write it (and the store keeps it).
pub(crate) fn definition_json(c: &PolicyConfig) -> serde_json::Value {
    json!({
        "name": c.name,
        "repeat": c.repeat,
        "ack_timeout": c.ack_timeout,
        "levels": c.levels.iter().map(|l| json!({"wait": l.wait, "notify": l.notify})).collect::<Vec<_>>(),
    })
}

/// The stored record of a policy: its definition whole, and the users, teams and schedules
/// its levels name.
pub(crate) fn record(c: &PolicyConfig, origin: Origin, now: i64) -> PolicyRecord {
    let names: BTreeSet<String> = (c.levels.iter().flat_map(|l| &l.notify))
        .filter_map(|t| Target::parse(t).ok())
        .filter(|t| !matches!(t, Target::Receiver(_)))
        .map(|t| t.to_string())
        .collect();
    PolicyRecord {
        name: c.name.clone(),
        definition: definition_json(c).to_string(),
        names: names.into_iter().collect(),
        origin,
        created_at: now,
        updated_at: now,
    }
}

/// The policies the configuration file declares, as the store keeps them, made at `now`.
pub(crate) fn declared(config: &Config, now: i64) -> Vec<PolicyRecord> {
    (config.escalation_policies.iter())
        .map(|c| record(c, Origin::Config, now))
        .collect()
}

/// A stored policy as people wrote it.
pub(crate) fn definition(r: &PolicyRecord) -> Result<PolicyConfig, String> {
    serde_json::from_str(&r.definition).map_err(|e| format!("policy {:?}: {e}", r.name))
}

/// What the pager follows: every stored policy compiled, and every team's members.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub policies: HashMap<String, Arc<Policy>>,
    pub teams: HashMap<String, Vec<String>>,
}

impl Catalog {
    /// Every stored policy compiled (a policy naming a receiver the configuration no longer
    /// declares keeps it: that part of its page reaches nobody, with a warning in the log);
    /// one that does not read back is left out, with an error in the log.
    pub(crate) async fn read<S: Store>(store: &S, config: &Config) -> Result<Catalog, StoreError> {
        let receivers: HashSet<&str> = config.receivers.iter().map(|r| r.name.as_str()).collect();
        let mut policies = HashMap::new();
        for r in store.list_policies().await? {
            let compiled = definition(&r).and_then(|c| {
                escalation::compile(&c, &|_| Ok(())).map_err(|es| {
                    es.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            });
            match compiled {
                Ok(p) => {
                    for t in p.levels.iter().flat_map(|l| &l.notify) {
                        if let Target::Receiver(n) = t {
                            if !receivers.contains(n.as_str()) {
                                tracing::warn!(policy = %p.name, receiver = %n, "an escalation policy names a receiver the configuration no longer declares; that part of its pages reaches nobody");
                            }
                        }
                    }
                    policies.insert(r.name.clone(), Arc::new(p));
                }
                Err(e) => {
                    tracing::error!(policy = %r.name, error = %e, "a stored escalation policy no longer compiles; left out");
                }
            }
        }
        let teams = (store.list_teams().await?.into_iter())
            .map(|t| (t.name, t.members))
            .collect();
        Ok(Catalog { policies, teams })
    }

    /// The users the policies can page: named, members of a named team, or in the rotation or
    /// overrides of a named schedule.
    fn paged_users(&self, oncall: &OnCall) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for t in (self.policies.values()).flat_map(|p| p.levels.iter().flat_map(|l| &l.notify)) {
            match t {
                Target::User(u) => {
                    out.insert(u.clone());
                }
                Target::Team(t) => out.extend(self.teams.get(t).into_iter().flatten().cloned()),
                Target::Schedule(s) => {
                    if let Some(e) = oncall.get(s) {
                        out.extend(crate::oncall::users_of(&e.config));
                        out.extend(e.record.overrides.iter().map(|o| o.user.clone()));
                    }
                }
                Target::Receiver(_) => {}
            }
        }
        out
    }
}

/// The receivers made while the server runs, kept with the contacts they were made from (a
/// user whose contacts did not change keeps its receiver: its templates are compiled once).
#[derive(Default)]
pub(crate) struct Paging {
    made: tokio::sync::Mutex<HashMap<String, (String, Arc<Notifier>)>>,
}

/// What the pager needs after a change.
pub(crate) struct Refreshed {
    pub catalog: Catalog,
}

impl Paging {
    /// Reads the policies, teams and users again: makes the receiver `user:NAME` of each user
    /// a policy can page that the configuration does not make, and answers the catalog for
    /// the pager. One at a time: the last change wins.
    pub(crate) async fn refresh<S: Store>(
        &self,
        store: &S,
        config: &Config,
        notifier: &Notifier,
        oncall: &OnCall,
    ) -> Result<Refreshed, StoreError> {
        let mut made = self.made.lock().await;
        let catalog = Catalog::read(store, config).await?;
        let wanted = catalog.paged_users(oncall);
        let slack_url = config.paging.slack_url.as_ref().map(|u| u.0.as_str());
        let mut next = HashMap::new();
        for u in store.list_users().await? {
            let name = format!("user:{}", u.name);
            if !wanted.contains(&u.name) || notifier.receiver(&name).is_some() {
                continue;
            }
            let contacts = serde_json::to_string(&u.contacts).unwrap_or_default();
            if let Some((c, n)) = made.get(&name) {
                if *c == contacts {
                    next.insert(name, (contacts, Arc::clone(n)));
                    continue;
                }
            }
            let (r, problems) = crate::config::escalation::contacts_receiver(
                &u.name,
                &u.contacts,
                slack_url,
                config.paging.pagerduty_url.as_deref(),
            );
            for (j, m) in problems {
                tracing::warn!(user = %u.name, contact = j, "{m}; this contact is not paged");
            }
            match compile_receiver(r, config) {
                Some(n) => {
                    next.insert(name, (contacts, Arc::new(n)));
                }
                None => continue,
            }
        }
        notifier.set_paged(
            next.iter()
                .map(|(k, (_, n))| (k.clone(), Arc::clone(n)))
                .collect(),
        );
        *made = next;
        Ok(Refreshed { catalog })
    }
}

/// A user's receiver compiled on its own; the channels that do not compile (an e-mail contact
/// without `[smtp]`) are left out with a warning.
fn compile_receiver(mut r: klaxon_notify::ReceiverConfig, config: &Config) -> Option<Notifier> {
    let compile = |r: &klaxon_notify::ReceiverConfig| {
        klaxon_notify::compile(
            std::slice::from_ref(r),
            None,
            &config.smtp,
            &Default::default(),
        )
    };
    if let Err(errors) = compile(&r) {
        tracing::warn!(receiver = %r.name, errors = %errors.join("; "), "some contacts of a paged user cannot be paged; they are left out");
        let alone = |r: &klaxon_notify::ReceiverConfig| compile(r).is_ok();
        let empty = klaxon_notify::ReceiverConfig {
            webhook_configs: Vec::new(),
            slack_configs: Vec::new(),
            email_configs: Vec::new(),
            pagerduty_configs: Vec::new(),
            ..r.clone()
        };
        r.webhook_configs.retain(|c| {
            alone(&klaxon_notify::ReceiverConfig {
                webhook_configs: vec![c.clone()],
                ..empty.clone()
            })
        });
        r.slack_configs.retain(|c| {
            alone(&klaxon_notify::ReceiverConfig {
                slack_configs: vec![c.clone()],
                ..empty.clone()
            })
        });
        r.email_configs.retain(|c| {
            alone(&klaxon_notify::ReceiverConfig {
                email_configs: vec![c.clone()],
                ..empty.clone()
            })
        });
        r.pagerduty_configs.retain(|c| {
            alone(&klaxon_notify::ReceiverConfig {
                pagerduty_configs: vec![c.clone()],
                ..empty.clone()
            })
        });
    }
    match compile(&r) {
        Ok(mut n) => {
            n.templates.set_max_bytes(config.notify.template_max_bytes);
            Some(n)
        }
        Err(errors) => {
            tracing::warn!(receiver = %r.name, errors = %errors.join("; "), "a paged user's contacts cannot be paged");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use klaxon_store::Contact;

    use super::*;

    fn kinds(n: &Notifier, name: &str) -> Vec<&'static str> {
        n.receiver(name)
            .map(|r| r.channels.iter().map(|c| c.kind()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_user_made_through_the_api_is_paged_on_every_contact_that_can_be() {
        let contacts = [
            Contact::Webhook {
                url: "https://hooks.example.com/erin".to_owned(),
            },
            Contact::Email {
                to: "erin@example.com".to_owned(),
            },
            Contact::Pagerduty {
                routing_key: "R0UT1NG".to_owned(),
            },
            Contact::Slack {
                target: "@erin".to_owned(),
            },
        ];
        // No [smtp], no [paging] slack_url: those contacts are left out, the rest is paged.
        let mut config = Config::default();
        let (r, problems) =
            crate::config::escalation::contacts_receiver("erin", &contacts, None, None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let n = compile_receiver(r, &config).expect("the rest compiles");
        assert_eq!(kinds(&n, "user:erin"), ["webhook", "pagerduty"]);

        config.smtp.smarthost = Some("127.0.0.1:25".to_owned());
        config.smtp.from = Some("klaxon@example.com".to_owned());
        let (r, problems) = crate::config::escalation::contacts_receiver(
            "erin",
            &contacts,
            Some("https://hooks.slack.com/services/T/B/X"),
            None,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let n = compile_receiver(r, &config).expect("every contact compiles");
        assert_eq!(
            kinds(&n, "user:erin"),
            ["webhook", "slack", "email", "pagerduty"]
        );
    }

    #[test]
    fn problems_of_a_policy_name_their_field_and_the_limits_are_the_files() {
        let known = Known {
            users: ["alice".to_owned()].into(),
            ..Known::default()
        };
        let c: PolicyConfig = serde_json::from_value(json!({
            "name": "a b", "repeat": 21,
            "levels": [{"notify": ["user:alice"]}, {"wait": "8d", "notify": ["team:db"]}]
        }))
        .unwrap();
        let fields: Vec<String> = check(&c, &known)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            ["repeat", "levels[1].wait", "levels[1].notify[0]", "name"]
        );
    }
}
