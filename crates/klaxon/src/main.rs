//! The klaxon binary: the command-line interface over the engine and the server.
//! Owns argument parsing, files and exit codes; no rule semantics live here.

mod bench;
mod client;
mod cluster;
mod correlate;
mod import;
mod oncall;
mod people;
mod policies;
mod print;
mod remote;
mod replay;
mod rules;
mod tokens;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// klaxon: a self-hosted alerting server.
#[derive(Parser, Debug)]
#[command(name = "klaxon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Work with rule-set files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Create, list and revoke access tokens on a running server (needs an admin token).
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Create, list, show and delete users on a running server (needs an admin token).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Create, list, show and delete teams on a running server (needs an admin token).
    Teams {
        #[command(subcommand)]
        command: TeamsCommand,
    },
    /// Who is on call: every schedule's person now, or one schedule's shifts over a range.
    Oncall(oncall::OnCallArgs),
    /// List and show the on-call schedules of a running server.
    Schedules {
        #[command(subcommand)]
        command: SchedulesCommand,
    },
    /// List, show, create, replace and delete the escalation policies of a running server
    /// (changes need an admin token).
    Policies {
        #[command(subcommand)]
        command: PoliciesCommand,
    },
    /// Evaluate a rule set against recorded signals and print each alert as one JSON line.
    ///
    /// Engine time is event time: the largest `ts` seen so far.
    Replay(replay::Args),
    /// Group Alertmanager alerts (NDJSON, one postable alert per line) into incidents and
    /// recurring groups, and print them with the evidence of every link as one JSON document.
    ///
    /// Time is the alerts' own: the same input always gives the same output.
    Correlate(correlate::Args),
    /// The nodes of a cluster as one of them sees them: roles, leader, epoch, heartbeat ages;
    /// exits 1 when no node leads.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Run the klaxon server.
    Serve(klaxon_server::ServeArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Drive a running server's signal ingest with load and report throughput and latency.
    ///
    /// Needs an admin token: it first stores and activates its own rule set in group `bench`.
    Bench(bench::Args),
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Validate a rule file (an event rule set or threshold rules, told apart by its content)
    /// and print every error; exits non-zero if there is any. With --config, also warn about
    /// receivers and maintenance windows the rules name that the configuration does not define.
    Check(rules::CheckArgs),
    /// Store a rule-set file on a running server as a new version (optionally activating it).
    Load(remote::LoadArgs),
    /// Activate a stored rule-set version on a running server.
    Activate(remote::ActivateArgs),
    /// List the rule sets stored on a running server, with what is active per group.
    List(remote::ListArgs),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Convert an Alertmanager configuration (alertmanager.yml) into klaxon's and print it
    /// (TOML); every construct not converted, or converted only approximately, is listed on
    /// standard error with its place.
    ImportAlertmanager(import::Args),
}

#[derive(Subcommand, Debug)]
enum TokensCommand {
    /// Create a token and print its secret (shown only this once) on stdout.
    Create(tokens::CreateArgs),
    /// List every token with its role, state and last use (never a secret).
    List(tokens::ListArgs),
    /// Revoke a token (by id or name); it and its dashboard sessions stop working at once.
    Revoke(tokens::RevokeArgs),
}

#[derive(Subcommand, Debug)]
enum UsersCommand {
    /// Create a user with a time zone and contacts.
    Create(people::CreateUserArgs),
    /// List every user with their contacts.
    List(people::ListArgs),
    /// Print one user as JSON.
    Show(people::NameArgs),
    /// Delete a user (refused while in a team, on a schedule or owning a token in force).
    Delete(people::NameArgs),
}

#[derive(Subcommand, Debug)]
enum TeamsCommand {
    /// Create a team of users.
    Create(people::CreateTeamArgs),
    /// List every team with its members.
    List(people::ListArgs),
    /// Print one team as JSON.
    Show(people::NameArgs),
    /// Delete a team.
    Delete(people::NameArgs),
}

#[derive(Subcommand, Debug)]
enum SchedulesCommand {
    /// List every schedule: time zone, origin, who is on call now, layers.
    List(people::ListArgs),
    /// Print one schedule as JSON.
    Show(people::NameArgs),
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// Print the members, their roles and heartbeat ages, the leader and its epoch.
    Status(cluster::StatusArgs),
}

#[derive(Subcommand, Debug)]
enum PoliciesCommand {
    /// List every escalation policy: origin, repeat, acknowledgement timeout, levels.
    List(people::ListArgs),
    /// Print one escalation policy as JSON.
    Show(people::NameArgs),
    /// Create an escalation policy from a JSON file.
    Create(policies::CreateArgs),
    /// Replace an escalation policy's levels, repeat and ack_timeout from a JSON file.
    Replace(policies::ReplaceArgs),
    /// Delete an escalation policy.
    Delete(people::NameArgs),
}

/// The server allocates and frees small strings on every worker thread (JSON in, JSON out);
/// mimalloc's per-thread heaps do that at a fraction of glibc malloc's cost (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rules {
            command: RulesCommand::Check(args),
        } => rules::check(&args),
        Command::Rules {
            command: RulesCommand::Load(args),
        } => remote::load(&args),
        Command::Rules {
            command: RulesCommand::Activate(args),
        } => remote::activate(&args),
        Command::Rules {
            command: RulesCommand::List(args),
        } => remote::list(&args),
        Command::Tokens {
            command: TokensCommand::Create(args),
        } => tokens::create(&args),
        Command::Tokens {
            command: TokensCommand::List(args),
        } => tokens::list(&args),
        Command::Tokens {
            command: TokensCommand::Revoke(args),
        } => tokens::revoke(&args),
        Command::Users { command } => match command {
            UsersCommand::Create(args) => people::create_user(&args),
            UsersCommand::List(args) => people::list(people::Kind::User, &args),
            UsersCommand::Show(args) => people::show(people::Kind::User, &args),
            UsersCommand::Delete(args) => people::delete(people::Kind::User, &args),
        },
        Command::Teams { command } => match command {
            TeamsCommand::Create(args) => people::create_team(&args),
            TeamsCommand::List(args) => people::list(people::Kind::Team, &args),
            TeamsCommand::Show(args) => people::show(people::Kind::Team, &args),
            TeamsCommand::Delete(args) => people::delete(people::Kind::Team, &args),
        },
        Command::Oncall(args) => oncall::oncall(&args),
        Command::Schedules { command } => match command {
            SchedulesCommand::List(args) => oncall::list(&args),
            SchedulesCommand::Show(args) => oncall::show(&args),
        },
        Command::Policies { command } => match command {
            PoliciesCommand::List(args) => policies::list(&args),
            PoliciesCommand::Show(args) => policies::show(&args),
            PoliciesCommand::Create(args) => policies::create(&args),
            PoliciesCommand::Replace(args) => policies::replace(&args),
            PoliciesCommand::Delete(args) => policies::delete(&args),
        },
        Command::Cluster {
            command: ClusterCommand::Status(args),
        } => cluster::status(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Correlate(args) => correlate::run(&args),
        Command::Config {
            command: ConfigCommand::ImportAlertmanager(args),
        } => import::run(&args),
        Command::Serve(args) => klaxon_server::serve(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
