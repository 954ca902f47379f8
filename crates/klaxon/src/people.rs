//! `klaxon users create|list|show|delete` and `klaxon teams create|list|show|delete`: users
//! and teams on a running server, through its admin API (`/v1/users`, `/v1/teams`). Owns the
//! requests, the printing and the exit codes; checks are the server's.
//!
//! Exit codes: 0 done, 1 the server said no (a bad field, a name taken, declared in the
//! configuration file), 2 the server could not be reached.

use std::process::ExitCode;

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::{encode, runtime, Client, Target};
use crate::print::{refused, table};

#[derive(clap::Args, Debug)]
pub(crate) struct CreateUserArgs {
    /// The user's name, its id: letters, digits, `.`, `_`, `-`, `@`.
    name: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    #[arg(long)]
    display_name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// A contact, `KIND:VALUE`, repeatable: `email:a@example.com`, `slack:#ops`,
    /// `webhook:https://...`, `pagerduty:ROUTING_KEY`.
    #[arg(long = "contact", value_name = "KIND:VALUE")]
    contacts: Vec<String>,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct CreateTeamArgs {
    /// The team's name.
    name: String,
    /// A member, by user name, repeatable (in order).
    #[arg(long = "member", value_name = "USER")]
    members: Vec<String>,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct NameArgs {
    name: String,
    #[command(flatten)]
    target: Target,
}

impl ListArgs {
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }
}

impl NameArgs {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }
}

/// Users or teams: the API's path and words.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    User,
    Team,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::User => "/v1/users",
            Kind::Team => "/v1/teams",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Team => "team",
        }
    }
}

/// `KIND:VALUE` → the API's contact object.
fn contact(text: &str) -> anyhow::Result<Value> {
    let Some((kind, value)) = text.split_once(':') else {
        anyhow::bail!("contact {text:?}: expected KIND:VALUE, e.g. slack:#ops");
    };
    let field = match kind {
        "email" => "to",
        "slack" => "target",
        "webhook" => "url",
        "pagerduty" => "routing_key",
        _ => anyhow::bail!("contact {text:?}: the kind is one of email, slack, webhook, pagerduty"),
    };
    Ok(json!({"kind": kind, field: value}))
}

pub(crate) fn send(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Value>,
    what: &str,
) -> anyhow::Result<Result<Value, ExitCode>> {
    let client = Client::new(target)?;
    let reply = runtime()?.block_on(async {
        match body {
            Some(b) => client.post_json(path, b.to_string()).await,
            None => client.call(method, path, None, Bytes::new()).await,
        }
    })?;
    if !reply.is_success() {
        return Ok(Err(refused(what, &reply)));
    }
    if reply.body.is_empty() {
        return Ok(Ok(Value::Null));
    }
    Ok(Ok(reply.json()?))
}

pub(crate) fn create_user(args: &CreateUserArgs) -> anyhow::Result<ExitCode> {
    let contacts = args
        .contacts
        .iter()
        .map(|c| contact(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let body = json!({
        "name": args.name,
        "time_zone": args.time_zone,
        "display_name": args.display_name,
        "email": args.email,
        "contacts": contacts,
    });
    match send(
        &args.target,
        Method::POST,
        "/v1/users",
        Some(body),
        "creating the user",
    )? {
        Ok(v) => {
            println!("created user {}", v["name"].as_str().unwrap_or(&args.name));
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub(crate) fn create_team(args: &CreateTeamArgs) -> anyhow::Result<ExitCode> {
    let body = json!({"name": args.name, "members": args.members});
    match send(
        &args.target,
        Method::POST,
        "/v1/teams",
        Some(body),
        "creating the team",
    )? {
        Ok(_) => {
            println!("created team {}", args.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A contact as the CLI writes it: `KIND:VALUE`.
fn contact_text(c: &Value) -> String {
    let kind = c["kind"].as_str().unwrap_or("?");
    let value = ["to", "target", "url", "routing_key"]
        .iter()
        .find_map(|k| c[*k].as_str())
        .unwrap_or("");
    format!("{kind}:{value}")
}

pub(crate) fn list(kind: Kind, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let what = format!("listing {}s", kind.word());
    let v = match send(&args.target, Method::GET, kind.path(), None, &what)? {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    let items = v[format!("{}s", kind.word())]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let out = match kind {
        Kind::User => {
            let rows: Vec<[String; 5]> = items
                .iter()
                .map(|u| {
                    let contacts: Vec<String> = u["contacts"]
                        .as_array()
                        .map(|a| a.iter().map(contact_text).collect())
                        .unwrap_or_default();
                    [
                        text(&u["name"]),
                        text(&u["display_name"]),
                        text(&u["time_zone"]),
                        text(&u["origin"]),
                        contacts.join(" "),
                    ]
                })
                .collect();
            table(
                ["NAME", "DISPLAY NAME", "TIME ZONE", "ORIGIN", "CONTACTS"],
                &rows,
            )
        }
        Kind::Team => {
            let rows: Vec<[String; 3]> = items
                .iter()
                .map(|t| {
                    let members: Vec<String> = t["members"]
                        .as_array()
                        .map(|a| a.iter().map(text).collect())
                        .unwrap_or_default();
                    [text(&t["name"]), text(&t["origin"]), members.join(", ")]
                })
                .collect();
            table(["NAME", "ORIGIN", "MEMBERS"], &rows)
        }
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn show(kind: Kind, args: &NameArgs) -> anyhow::Result<ExitCode> {
    let path = format!("{}/{}", kind.path(), encode(&args.name));
    let what = format!("reading {} {:?}", kind.word(), args.name);
    match send(&args.target, Method::GET, &path, None, &what)? {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub(crate) fn delete(kind: Kind, args: &NameArgs) -> anyhow::Result<ExitCode> {
    let path = format!("{}/{}", kind.path(), encode(&args.name));
    let what = format!("deleting {} {:?}", kind.word(), args.name);
    match send(&args.target, Method::DELETE, &path, None, &what)? {
        Ok(_) => {
            println!("deleted {} {}", kind.word(), args.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}
