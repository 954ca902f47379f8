//! `[[escalation_policies]]` and `[sla]` (with the teams' `sla` overrides): compiled at load,
//! every problem at once with its place (`escalation_policies[0]: policy "critical":
//! levels[1].notify[0]: ...`). A level may name only users, teams, schedules and receivers
//! this file declares. A route may name a policy made through the API: routes are checked at
//! start, against the store too (`unknown_route_policies`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use klaxon_engine::escalation::{self, Policy, PolicyConfig, Target};
use klaxon_engine::Severity;
use serde::Deserialize;

use super::Config;

/// `critical = { acknowledge = "5m", resolve = "1h" }`: the targets of one severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTargetConfig {
    /// An alert of this severity should be acknowledged within this.
    #[serde(default)]
    pub acknowledge: Option<String>,
    /// ...and resolved within this.
    #[serde(default)]
    pub resolve: Option<String>,
}

/// `[sla]` (and a team's `sla`): targets per severity name.
pub type SlaConfig = BTreeMap<String, SlaTargetConfig>;

/// The compiled targets of one severity, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SlaTarget {
    pub acknowledge: Option<i64>,
    pub resolve: Option<i64>,
}

/// SLA targets: per severity, and per team (the alert's `team` label) where a team overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sla {
    pub default: HashMap<Severity, SlaTarget>,
    pub teams: HashMap<String, HashMap<Severity, SlaTarget>>,
}

impl Sla {
    /// The targets of an alert of `severity` owned by `team` (a team's own target for a
    /// severity replaces the default one, each of acknowledge and resolve on its own).
    pub(crate) fn target(&self, severity: &str, team: Option<&str>) -> SlaTarget {
        let Some(sev) = Severity::parse(severity) else {
            return SlaTarget::default();
        };
        let base = self.default.get(&sev).copied().unwrap_or_default();
        match team
            .and_then(|t| self.teams.get(t))
            .and_then(|m| m.get(&sev))
        {
            Some(t) => SlaTarget {
                acknowledge: t.acknowledge.or(base.acknowledge),
                resolve: t.resolve.or(base.resolve),
            },
            None => base,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.default.is_empty() && self.teams.is_empty()
    }
}

/// Policies by name, and the SLA targets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Escalations {
    pub policies: HashMap<String, Arc<Policy>>,
    pub sla: Sla,
}

/// A channel's (or receiver's) configuration from the few keys a contact gives; its other
/// keys all have defaults.
fn channel<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("every other key of a channel has a default")
}

/// The receiver `user:NAME` that pages a user's contacts, one channel per contact in order
/// (webhook contacts get the Alertmanager v4 body, e-mail goes through `[smtp]`, PagerDuty
/// gets Events v2, Slack is posted through `slack_url` to the contact's target); and the
/// contacts that cannot be paged, by index (Slack without `slack_url`), left out.
pub(crate) fn contacts_receiver(
    user: &str,
    contacts: &[klaxon_store::Contact],
    slack_url: Option<&str>,
    pagerduty_url: Option<&str>,
) -> (klaxon_notify::ReceiverConfig, Vec<(usize, String)>) {
    use klaxon_notify::channel::email::EmailConfig;
    use klaxon_notify::channel::pagerduty::PagerDutyConfig;
    use klaxon_notify::channel::slack::SlackConfig;
    use klaxon_notify::channel::webhook::WebhookConfig;
    use klaxon_store::Contact;
    let mut r: klaxon_notify::ReceiverConfig =
        channel(serde_json::json!({ "name": format!("user:{user}") }));
    let mut problems = Vec::new();
    for (j, c) in contacts.iter().enumerate() {
        match c {
            Contact::Webhook { url } => r
                .webhook_configs
                .push(channel::<WebhookConfig>(serde_json::json!({ "url": url }))),
            Contact::Email { to } => r
                .email_configs
                .push(channel::<EmailConfig>(serde_json::json!({ "to": [to] }))),
            Contact::Pagerduty { routing_key } => {
                r.pagerduty_configs.push(channel::<PagerDutyConfig>(
                    serde_json::json!({ "routing_key": routing_key, "url": pagerduty_url }),
                ))
            }
            Contact::Slack { target } => match slack_url {
                Some(url) => r.slack_configs.push(channel::<SlackConfig>(
                    serde_json::json!({ "url": url, "channel": target }),
                )),
                None => problems.push((
                    j,
                    "an escalation policy pages this user, and Slack contacts are paged \
                     through [paging] slack_url, which is not set"
                        .to_owned(),
                )),
            },
        }
    }
    (r, problems)
}

/// The longest SLA target.
const MAX_SLA_TARGET_MS: i64 = 365 * 86_400_000;

fn sla_table(at: &str, c: &SlaConfig, errors: &mut Vec<String>) -> HashMap<Severity, SlaTarget> {
    let mut out = HashMap::new();
    for (sev_name, t) in c {
        let Some(sev) = Severity::ALL.into_iter().find(|s| s.as_str() == sev_name) else {
            errors.push(format!(
                "{at}.{sev_name}: not a severity; use critical, high, medium, low or info"
            ));
            continue;
        };
        let mut one = |key: &str, v: &Option<String>| -> Option<i64> {
            let text = v.as_deref()?;
            match klaxon_engine::duration::parse_ms(text, None) {
                Ok(ms) if ms <= 0 => {
                    errors.push(format!("{at}.{sev_name}.{key}: must be more than 0"));
                    None
                }
                Ok(ms) if ms > MAX_SLA_TARGET_MS => {
                    errors.push(format!(
                        "{at}.{sev_name}.{key}: {text:?} is longer than the limit of 365d"
                    ));
                    None
                }
                Ok(ms) => Some(ms),
                Err(e) => {
                    errors.push(format!("{at}.{sev_name}.{key}: {e}"));
                    None
                }
            }
        };
        let target = SlaTarget {
            acknowledge: one("acknowledge", &t.acknowledge),
            resolve: one("resolve", &t.resolve),
        };
        out.insert(sev, target);
    }
    out
}

impl Config {
    /// The users an escalation policy can page (named, members of a named team, or in the
    /// rotation or overrides of a named schedule), each as a
    /// receiver `user:NAME` with one channel per contact, with the place of the user
    /// (`users[0] (alice)`); and the problems of their contacts.
    pub(crate) fn paged_users(
        &self,
    ) -> (Vec<(String, klaxon_notify::ReceiverConfig)>, Vec<String>) {
        let mut named = std::collections::BTreeSet::new();
        for p in &self.escalation_policies {
            for t in p.levels.iter().flat_map(|l| &l.notify) {
                match Target::parse(t) {
                    Ok(Target::User(u)) => {
                        named.insert(u);
                    }
                    Ok(Target::Team(team)) => {
                        for t in self.teams.iter().filter(|x| x.name == team) {
                            named.extend(t.members.iter().cloned());
                        }
                    }
                    Ok(Target::Schedule(s)) => {
                        for s in self.schedules.iter().filter(|x| x.name == s) {
                            named.extend(crate::oncall::users_of(s));
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let slack_url = self.paging.slack_url.as_ref().map(|u| u.0.as_str());
        let pagerduty_url = self.paging.pagerduty_url.as_deref();
        for (i, u) in self.users.iter().enumerate() {
            if !named.contains(&u.name) {
                continue;
            }
            let at = format!("users[{i}] ({})", u.name);
            let (r, problems) = contacts_receiver(&u.name, &u.contacts, slack_url, pagerduty_url);
            errors.extend(
                problems
                    .into_iter()
                    .map(|(j, m)| format!("{at}.contacts[{j}]: {m}")),
            );
            out.push((at, r));
        }
        (out, errors)
    }

    /// The routes that name an escalation policy neither this file declares nor `made` knows
    /// (the policies made through the API), as errors with their key. Checked at start, when
    /// the store is open: a route may name a policy made through the API.
    pub(crate) fn unknown_route_policies(&self, made: &dyn Fn(&str) -> bool) -> Vec<String> {
        let declared = |name: &str| self.escalation_policies.iter().any(|p| p.name == name);
        let Some(route) = &self.route else {
            return Vec::new();
        };
        klaxon_notify::route::Route::escalation_policies(route)
            .into_iter()
            .filter(|(_, name)| !declared(name) && !made(name))
            .map(|(key, name)| {
                format!(
                    "{key}: no escalation policy named {name:?} is declared under \
                     [[escalation_policies]] or made through the API"
                )
            })
            .collect()
    }

    /// The routes that name each policy (`route.routes[0].escalation_policy`).
    pub(crate) fn routes_naming(&self, policy: &str) -> Vec<String> {
        let Some(route) = &self.route else {
            return Vec::new();
        };
        klaxon_notify::route::Route::escalation_policies(route)
            .into_iter()
            .filter(|(_, name)| name == policy)
            .map(|(key, _)| key)
            .collect()
    }

    /// Compiles the escalation policies and SLA targets, or every error with its place.
    pub(crate) fn escalations(&self) -> Result<Escalations, Vec<String>> {
        let mut errors = Vec::new();
        if self.escalation_policies.len() > escalation::MAX_POLICIES {
            errors.push(format!(
                "escalation_policies: {} entries, over the limit of {}",
                self.escalation_policies.len(),
                escalation::MAX_POLICIES
            ));
            return Err(errors);
        }
        let exists = |t: &Target| -> Result<(), String> {
            let (known, section) = match t {
                Target::User(n) => (self.users.iter().any(|u| &u.name == n), "[[users]]"),
                Target::Team(n) => (self.teams.iter().any(|u| &u.name == n), "[[teams]]"),
                Target::Receiver(n) => {
                    (self.receivers.iter().any(|r| &r.name == n), "[[receivers]]")
                }
                Target::Schedule(n) => {
                    (self.schedules.iter().any(|s| &s.name == n), "[[schedules]]")
                }
            };
            if known {
                Ok(())
            } else {
                Err(format!(
                    "{t}: no {} named {:?} is declared under {section}",
                    t.kind(),
                    t.name()
                ))
            }
        };
        let mut policies = HashMap::new();
        for (i, c) in self.escalation_policies.iter().enumerate() {
            match escalation::compile(c, &exists) {
                Ok(p) => {
                    if policies.insert(p.name.clone(), Arc::new(p)).is_some() {
                        errors.push(format!(
                            "escalation_policies[{i}]: policy {:?}: name: declared twice",
                            c.name
                        ));
                    }
                }
                Err(es) => {
                    errors.extend(es.iter().map(|e| format!("escalation_policies[{i}]: {e}")))
                }
            }
        }
        let mut sla = Sla {
            default: sla_table("sla", &self.sla, &mut errors),
            teams: HashMap::new(),
        };
        for (i, t) in self.teams.iter().enumerate() {
            if let Some(c) = &t.sla {
                let at = format!("teams[{i}] ({}).sla", t.name);
                sla.teams
                    .insert(t.name.clone(), sla_table(&at, c, &mut errors));
            }
        }
        if errors.is_empty() {
            Ok(Escalations { policies, sla })
        } else {
            Err(errors)
        }
    }
}

/// The declared policy for `[[escalation_policies]]`.
pub type EscalationPolicyConfig = PolicyConfig;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::{load_text, Flags};
    use std::path::Path;

    fn load(text: &str) -> Result<super::Escalations, String> {
        let (c, _) = load_text(Some((Path::new("k.toml"), text)), &[], &Flags::default())?;
        Ok(c.escalations().expect("validated at load"))
    }

    const PEOPLE: &str = r#"
[[users]]
name = "alice"
contacts = [{ kind = "webhook", url = "https://hooks.example.com/alice" }]
[[users]]
name = "bob"
[[teams]]
name = "db"
members = ["alice", "bob"]
sla = { critical = { acknowledge = "2m" } }
[[receivers]]
name = "ops"
[[receivers.webhook_configs]]
url = "https://hooks.example.com/ops"
"#;

    #[test]
    fn policies_and_sla_load_with_team_overrides() {
        let text = format!(
            "{PEOPLE}
[route]
receiver = \"ops\"
[[route.routes]]
matchers = ['team=\"db\"']
escalation_policy = \"critical\"
[[escalation_policies]]
name = \"critical\"
repeat = 1
ack_timeout = \"30m\"
[[escalation_policies.levels]]
notify = [\"user:alice\"]
[[escalation_policies.levels]]
wait = \"5m\"
notify = [\"user:bob\", \"team:db\", \"receiver:ops\"]
[sla]
critical = {{ acknowledge = \"5m\", resolve = \"1h\" }}
high = {{ acknowledge = \"30m\" }}
"
        );
        let e = load(&text).unwrap();
        let p = &e.policies["critical"];
        assert_eq!(
            (p.levels.len(), p.repeat, p.ack_timeout_ms),
            (2, 1, Some(1_800_000))
        );
        let t = e.sla.target("critical", Some("db"));
        assert_eq!((t.acknowledge, t.resolve), (Some(120_000), Some(3_600_000)));
        let t = e.sla.target("critical", Some("web"));
        assert_eq!((t.acknowledge, t.resolve), (Some(300_000), Some(3_600_000)));
        assert_eq!(e.sla.target("low", None), super::SlaTarget::default());
    }

    #[test]
    fn unknown_names_are_refused_with_policy_and_level() {
        let text = format!(
            "{PEOPLE}
[route]
receiver = \"ops\"
escalation_policy = \"nope\"
[[escalation_policies]]
name = \"critical\"
[[escalation_policies.levels]]
notify = [\"user:carol\", \"team:web\", \"receiver:pager\", \"schedule:db-primary\"]
[sla]
urgent = {{ acknowledge = \"5m\" }}
high = {{ resolve = \"soon\" }}
"
        );
        let e = load(&text).unwrap_err();
        for part in [
            "escalation_policies[0]: policy \"critical\": levels[0].notify[0]: user:carol: no user named \"carol\" is declared under [[users]]",
            "levels[0].notify[1]: team:web: no team named \"web\" is declared under [[teams]]",
            "levels[0].notify[2]: receiver:pager: no receiver named \"pager\" is declared under [[receivers]]",
            "levels[0].notify[3]: schedule:db-primary: no schedule named \"db-primary\" is declared under [[schedules]]",
            "sla.urgent: not a severity; use critical, high, medium, low or info",
            "sla.high.resolve: \"soon\" is not a duration",
        ] {
            assert!(e.contains(part), "{part}\nnot in\n{e}");
        }
    }

    #[test]
    fn a_route_may_name_a_policy_made_through_the_api() {
        let text = format!(
            "{PEOPLE}
[route]
receiver = \"ops\"
[[route.routes]]
matchers = ['team=\"db\"']
escalation_policy = \"made-later\"
"
        );
        let (c, _) = load_text(Some((Path::new("k.toml"), &text)), &[], &Flags::default()).unwrap();
        assert_eq!(
            c.unknown_route_policies(&|_| false),
            ["route.routes[0].escalation_policy: no escalation policy named \"made-later\" is declared under [[escalation_policies]] or made through the API"]
        );
        assert!(c.unknown_route_policies(&|n| n == "made-later").is_empty());
        assert_eq!(
            c.routes_naming("made-later"),
            ["route.routes[0].escalation_policy"]
        );
    }

    #[test]
    fn paged_users_contacts_become_receivers_and_their_problems_name_the_user() {
        let policy = "[[escalation_policies]]\nname = \"p\"\n\
                      [[escalation_policies.levels]]\nnotify = [\"team:db\"]\n";
        let people = r##"
[[users]]
name = "alice"
contacts = [
  { kind = "webhook", url = "https://hooks.example.com/alice" },
  { kind = "slack", target = "@alice" },
  { kind = "email", to = "alice@example.com" },
]
[[users]]
name = "bob"
contacts = [{ kind = "slack", target = "#db" }]
[[users]]
name = "carol"
contacts = [{ kind = "slack", target = "#elsewhere" }]
[[teams]]
name = "db"
members = ["alice", "bob"]
"##;
        let e = load(&format!("{people}{policy}")).unwrap_err();
        for part in [
            "users[0] (alice).contacts[1]: an escalation policy pages this user, and Slack contacts are paged through [paging] slack_url, which is not set",
            "users[1] (bob).contacts[0]: an escalation policy pages this user",
            "users[0] (alice): paging it.email_configs[0].smarthost",
        ] {
            assert!(e.contains(part), "{part}\nnot in\n{e}");
        }
        assert!(!e.contains("carol"), "carol is paged by no policy: {e}");
        let ok = format!(
            "{people}{policy}[paging]\nslack_url = \"https://hooks.slack.com/services/T/B/X\"\n\
             [smtp]\nsmarthost = \"127.0.0.1:25\"\nfrom = \"klaxon@example.com\"\n"
        );
        let (c, _) = load_text(Some((Path::new("k.toml"), &ok)), &[], &Flags::default()).unwrap();
        let n = c.notifier().unwrap();
        let kinds = |name: &str| -> Vec<&str> {
            n.receiver(name)
                .map(|r| r.channels.iter().map(|c| c.kind()).collect())
                .unwrap_or_default()
        };
        assert_eq!(kinds("user:alice"), ["webhook", "slack", "email"]);
        assert_eq!(kinds("user:bob"), ["slack"]);
        assert!(n.receiver("user:carol").is_none());
    }

    #[test]
    fn the_number_of_policies_is_bounded() {
        let one = "[[escalation_policies]]\nname = \"pN\"\n\
                   [[escalation_policies.levels]]\nnotify = [\"receiver:ops\"]\n";
        let text: String = (0..=klaxon_engine::escalation::MAX_POLICIES)
            .map(|i| one.replace("pN", &format!("p{i}")))
            .collect();
        let e = load(&format!("{PEOPLE}{text}")).unwrap_err();
        assert!(
            e.contains("escalation_policies: 257 entries, over the limit of 256"),
            "{e}"
        );
    }
}
