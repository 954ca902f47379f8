//! The binary's integration tests, one test binary: the command line (`cli`, and
//! `rules_check` for what `klaxon rules check` tells of a file, `import_alertmanager` for
//! `klaxon config import-alertmanager`, `migrate_alertmanager` for the move from Alertmanager end
//! to end), `klaxon rules`
//! against a running server (`remote`), kill -9 during a burst of alerts (`crash`) and between
//! escalation levels (`escalation`), three nodes on one PostgreSQL database losing their
//! leader (`cluster`), and real
//! Prometheus as a client (`prometheus`). `harness` starts `klaxon serve` and other programs.

// The CLI's HTTP client, the same source the binary compiles (its unit tests run here too).
#[allow(dead_code)]
#[path = "../../src/client.rs"]
mod client;
mod harness;

mod cli;
mod cluster;
mod correlate;
mod crash;
mod escalation;
mod holds;
mod import_alertmanager;
mod incidents;
mod migrate_alertmanager;
mod oncall;
mod policies;
mod prometheus;
mod remote;
mod rules_check;
mod signal_stream;
mod tokens;
