//! Users and teams as people write them, in the API or the configuration file: the checks of
//! names, time zones (IANA names, known to jiff), contacts and sizes, each problem named by
//! its field so that the API and the configuration loader can say where it is. Also the audit
//! row of an action a caller takes. Knows no HTTP and no SQL.

use klaxon_store::{AuditEntry, Contact, TeamRecord, UserRecord};

use crate::auth::token::Caller;

/// A user's or team's name, in characters.
pub(crate) const NAME: usize = 64;
/// A display name, in bytes.
pub(crate) const DISPLAY_NAME: usize = 256;
/// An e-mail address, in bytes (RFC 5321's path limit).
pub(crate) const EMAIL: usize = 254;
/// A Slack user or channel, in bytes.
pub(crate) const SLACK: usize = 256;
/// A webhook URL, in bytes.
pub(crate) const URL: usize = 2048;
/// A PagerDuty routing key, in bytes.
pub(crate) const ROUTING_KEY: usize = 64;
/// Contacts of one user.
pub(crate) const CONTACTS: usize = 16;
/// Members of one team.
pub(crate) const MEMBERS: usize = 500;
/// Users, and teams, in all.
pub(crate) const PEOPLE: usize = 10_000;

/// One thing wrong, with the field it is in (`contacts[1].url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

/// A name other objects refer to and URLs carry: 1 to 64 of ASCII letters, digits, `.`, `_`,
/// `-`, `@`, starting with a letter or digit.
pub(crate) fn check_name(field: &str, name: &str) -> Result<(), Problem> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok_first || !ok_rest || name.len() > NAME {
        return Err(problem(
            field,
            format!(
                "{name:?} is not a name: 1 to {NAME} ASCII letters, digits, '.', '_', '-' or \
                 '@', starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// An IANA time zone name jiff knows.
pub(crate) fn check_time_zone(field: &str, tz: &str) -> Result<(), Problem> {
    if tz.len() > NAME || jiff::tz::TimeZone::get(tz).is_err() {
        return Err(problem(
            field,
            format!("{tz:?} is not a known time zone (an IANA name such as \"Europe/Berlin\")"),
        ));
    }
    Ok(())
}

fn check_text(out: &mut Vec<Problem>, field: String, v: &str, limit: usize) {
    if v.trim().is_empty() {
        out.push(problem(field, "must not be empty"));
    } else if v.len() > limit {
        out.push(problem(
            field,
            format!("{} bytes, over the limit of {limit}", v.len()),
        ));
    } else if v.chars().any(char::is_control) {
        out.push(problem(field, "must not hold control characters"));
    }
}

fn check_email(out: &mut Vec<Problem>, field: String, v: &str) {
    let len = out.len();
    check_text(out, field.clone(), v, EMAIL);
    let shaped = v
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if out.len() == len && (!shaped || v.contains(char::is_whitespace)) {
        out.push(problem(field, format!("{v:?} is not an e-mail address")));
    }
}

fn check_contact(out: &mut Vec<Problem>, i: usize, c: &Contact) {
    let at = |f: &str| format!("contacts[{i}].{f}");
    match c {
        Contact::Email { to } => check_email(out, at("to"), to),
        Contact::Slack { target } => {
            let len = out.len();
            check_text(out, at("target"), target, SLACK);
            if out.len() == len
                && !(target.starts_with('#') || target.starts_with('@'))
                && !target.chars().all(|c| c.is_ascii_alphanumeric())
            {
                out.push(problem(
                    at("target"),
                    "a channel (\"#ops\"), a user (\"@alice\") or a member id (\"U024BE7LH\")",
                ));
            }
        }
        Contact::Webhook { url } => {
            let len = out.len();
            check_text(out, at("url"), url, URL);
            let scheme = url.starts_with("https://") || url.starts_with("http://");
            if out.len() == len && (!scheme || url.contains(char::is_whitespace)) {
                out.push(problem(at("url"), "an http:// or https:// URL"));
            }
        }
        Contact::Pagerduty { routing_key } => {
            if routing_key.is_empty()
                || routing_key.len() > ROUTING_KEY
                || !routing_key.chars().all(|c| c.is_ascii_alphanumeric())
            {
                out.push(problem(
                    at("routing_key"),
                    format!("1 to {ROUTING_KEY} ASCII letters and digits"),
                ));
            }
        }
    }
}

/// Every problem of a user.
pub(crate) fn check_user(u: &UserRecord) -> Vec<Problem> {
    let mut out = Vec::new();
    out.extend(check_name("name", &u.name).err());
    if let Some(d) = &u.display_name {
        check_text(&mut out, "display_name".into(), d, DISPLAY_NAME);
    }
    if let Some(e) = &u.email {
        check_email(&mut out, "email".into(), e);
    }
    out.extend(check_time_zone("time_zone", &u.time_zone).err());
    if u.contacts.len() > CONTACTS {
        out.push(problem(
            "contacts",
            format!("{} entries, over the limit of {CONTACTS}", u.contacts.len()),
        ));
    } else {
        for (i, c) in u.contacts.iter().enumerate() {
            check_contact(&mut out, i, c);
        }
    }
    out
}

/// Every problem of a team but members that do not exist (the store checks those).
pub(crate) fn check_team(t: &TeamRecord) -> Vec<Problem> {
    let mut out = Vec::new();
    out.extend(check_name("name", &t.name).err());
    if t.members.len() > MEMBERS {
        out.push(problem(
            "members",
            format!("{} entries, over the limit of {MEMBERS}", t.members.len()),
        ));
        return out;
    }
    for (i, m) in t.members.iter().enumerate() {
        out.extend(check_name(&format!("members[{i}]"), m).err());
        if t.members[..i].contains(m) {
            out.push(problem(format!("members[{i}]"), format!("{m:?} twice")));
        }
    }
    out
}

/// Who the caller is in the audit log: its user, or the token's name for a service token.
pub(crate) fn actor(caller: &Caller) -> &str {
    caller.user.as_deref().unwrap_or(&caller.name)
}

/// The audit row of an action `caller` takes at `at`.
pub(crate) fn audit(
    caller: &Caller,
    at: i64,
    action: &str,
    target: String,
    detail: Option<String>,
) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor(caller).to_owned(),
        role: caller.role.as_str().to_owned(),
        action: action.to_owned(),
        target,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use klaxon_store::Origin;

    use super::*;

    fn user() -> UserRecord {
        UserRecord {
            name: "alice".into(),
            display_name: Some("Alice".into()),
            email: Some("alice@example.com".into()),
            time_zone: "Europe/Berlin".into(),
            contacts: vec![
                Contact::Slack {
                    target: "#ops".into(),
                },
                Contact::Pagerduty {
                    routing_key: "abc123".into(),
                },
            ],
            origin: Origin::Api,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn fields(p: Vec<Problem>) -> Vec<String> {
        p.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_good_user_passes_and_every_bad_field_is_named() {
        assert_eq!(check_user(&user()), []);
        let bad = UserRecord {
            name: "-alice".into(),
            display_name: Some("x".repeat(DISPLAY_NAME + 1)),
            email: Some("alice".into()),
            time_zone: "Mars/Olympus".into(),
            contacts: vec![
                Contact::Webhook {
                    url: "ftp://x".into(),
                },
                Contact::Email { to: "a@b".into() },
                Contact::Slack {
                    target: "ops team".into(),
                },
                Contact::Pagerduty {
                    routing_key: "k".repeat(ROUTING_KEY + 1),
                },
            ],
            ..user()
        };
        assert_eq!(
            fields(check_user(&bad)),
            [
                "name",
                "display_name",
                "email",
                "time_zone",
                "contacts[0].url",
                "contacts[1].to",
                "contacts[2].target",
                "contacts[3].routing_key"
            ]
        );
        let many = UserRecord {
            contacts: vec![
                Contact::Slack {
                    target: "#a".into()
                };
                CONTACTS + 1
            ],
            ..user()
        };
        assert_eq!(fields(check_user(&many)), ["contacts"]);
        let at_limit = UserRecord {
            contacts: vec![
                Contact::Slack {
                    target: "#a".into()
                };
                CONTACTS
            ],
            name: "a".repeat(NAME),
            ..user()
        };
        assert_eq!(check_user(&at_limit), []);
        let over = UserRecord {
            name: "a".repeat(NAME + 1),
            ..user()
        };
        assert_eq!(fields(check_user(&over)), ["name"]);
    }

    #[test]
    fn teams_name_members_once_and_within_the_limit() {
        let team = |members: Vec<String>| TeamRecord {
            name: "db".into(),
            members,
            origin: Origin::Api,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(check_team(&team(vec!["a".into(), "b".into()])), []);
        assert_eq!(
            fields(check_team(&team(vec![
                "a".into(),
                "a".into(),
                "b c".into()
            ]))),
            ["members[1]", "members[2]"]
        );
        let many = (0..=MEMBERS).map(|i| format!("u{i}")).collect();
        assert_eq!(fields(check_team(&team(many))), ["members"]);
    }
}
