//! `klaxon tokens create|list|revoke`: access tokens on a running server, through its admin
//! API (`/v1/tokens`). Owns the requests, the printing and the exit codes; checks are the
//! server's. A created token's secret goes alone to stdout (so `$(klaxon tokens create ...)`
//! captures it) and is shown only then; nothing else ever prints it.
//!
//! Exit codes: 0 done, 1 the server said no (bad name or role, unknown token, bad token),
//! 2 the server could not be reached.

use std::process::ExitCode;

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{runtime, Client, Target};
use crate::print::{refused, table};

#[derive(clap::Args, Debug)]
pub(crate) struct CreateArgs {
    /// What the token may do: ingest (send signals and alerts, e.g. Prometheus), viewer (read),
    /// responder (read and act on alerts), admin (everything, tokens too).
    #[arg(long, value_parser = ["ingest", "viewer", "responder", "admin"])]
    role: String,
    /// A name no other token in force has; recorded as the actor of what the token does.
    #[arg(long)]
    name: String,
    /// When it expires: a duration from now (`30d`, `12h`) or an RFC 3339 time; never when
    /// absent.
    #[arg(long)]
    expires: Option<String>,
    /// The user the token belongs to.
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RevokeArgs {
    /// The token's id, or the name of a token in force.
    #[arg(value_name = "ID|NAME")]
    which: String,
    #[command(flatten)]
    target: Target,
}

/// A token as the API describes it.
#[derive(Debug, Deserialize)]
struct Token {
    id: i64,
    name: String,
    role: String,
    state: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    last_used_at: Option<String>,
}

impl Token {
    fn describe(&self) -> String {
        format!("{} token {:?} (id {})", self.role, self.name, self.id)
    }
}

pub(crate) fn create(args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.target)?;
    let body = json!({
        "name": args.name,
        "role": args.role,
        "expires": args.expires,
        "user": args.user,
    });
    let reply = runtime()?.block_on(client.post_json("/v1/tokens", body.to_string()))?;
    if !reply.is_success() {
        return Ok(refused("creating the token", &reply));
    }
    let v: Value = reply.json()?;
    let token: Token = serde_json::from_value(v.clone())?;
    let Some(secret) = v["token"].as_str() else {
        anyhow::bail!("the server answered without the token's secret");
    };
    println!("{secret}");
    let expires = token
        .expires_at
        .as_deref()
        .map_or(String::new(), |e| format!(", expires {e}"));
    eprintln!(
        "created {}{expires}; the secret above is shown only this once",
        token.describe()
    );
    Ok(ExitCode::SUCCESS)
}

async fn tokens(client: &Client) -> anyhow::Result<Result<Vec<Token>, ExitCode>> {
    #[derive(Deserialize)]
    struct Listing {
        tokens: Vec<Token>,
    }
    let reply = client.get("/v1/tokens").await?;
    if !reply.is_success() {
        return Ok(Err(refused("listing tokens", &reply)));
    }
    Ok(Ok(reply.json::<Listing>()?.tokens))
}

pub(crate) fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.target)?;
    let list = match runtime()?.block_on(tokens(&client))? {
        Ok(list) => list,
        Err(code) => return Ok(code),
    };
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let rows: Vec<[String; 9]> = list
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                t.name.clone(),
                t.role.clone(),
                t.state.clone(),
                dash(&t.user),
                dash(&t.created_at),
                dash(&t.created_by),
                dash(&t.expires_at),
                dash(&t.last_used_at),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            [
                "ID",
                "NAME",
                "ROLE",
                "STATE",
                "USER",
                "CREATED",
                "CREATED BY",
                "EXPIRES",
                "LAST USED"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn revoke(args: &RevokeArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.target)?;
    runtime()?.block_on(async {
        let wanted = args.which.trim();
        let id = if !wanted.is_empty() && wanted.bytes().all(|b| b.is_ascii_digit()) {
            wanted.to_owned()
        } else {
            let list = match tokens(&client).await? {
                Ok(list) => list,
                Err(code) => return Ok(code),
            };
            match list
                .iter()
                .find(|t| t.name == wanted && t.state != "revoked")
            {
                Some(t) => t.id.to_string(),
                None => {
                    eprintln!("error: no token in force is named {wanted:?}");
                    return Ok(ExitCode::from(1));
                }
            }
        };
        let reply = client
            .call(
                Method::DELETE,
                &format!("/v1/tokens/{id}"),
                None,
                Bytes::new(),
            )
            .await?;
        if !reply.is_success() {
            return Ok(refused(&format!("revoking token {wanted:?}"), &reply));
        }
        let token: Token = reply.json()?;
        println!("revoked {}; its dashboard sessions ended", token.describe());
        Ok(ExitCode::SUCCESS)
    })
}
