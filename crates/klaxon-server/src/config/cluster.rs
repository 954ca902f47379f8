//! `[cluster]`: several nodes on one PostgreSQL database (`node`, `advertise` and the election's
//! timings, docs/cluster.md: one leader runs the pipeline, the others forward to it), and
//! signals through NATS JetStream (`nats*`, docs/cluster-signals.md: with `nats` set, every
//! accepted batch of signals is stored in a JetStream stream before ingest answers, and the
//! node that runs the engine consumes the stream). Either part works without the other.

use klaxon_notify::duration::Millis;
use serde::Deserialize;

use super::DEFAULT_PORT;

/// `[cluster]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    /// This node's name, unique among the nodes of the database; empty: this node is the only
    /// one (no election).
    pub node: String,
    /// The URL the other nodes and clients reach this node at (`http://10.0.0.5:7731`).
    pub advertise: String,
    /// How often a node records its heartbeat, and the leader pings its lock.
    pub heartbeat: Millis,
    /// How long the database waits for a silent leader before ending its lock session (and so
    /// its leadership): at least three heartbeats.
    pub lease: Millis,
    /// A follower forwarding a request waits this long to connect to the leader.
    pub forward_connect_timeout: Millis,
    /// … and this long for the head of the leader's answer (its body, a stream say, has no
    /// deadline).
    pub forward_header_timeout: Millis,
    /// Requests a follower forwards at once (streams included); beyond, 503 with Retry-After.
    pub forward_max_in_flight: usize,
    /// The NATS server (`nats://host:port`), with JetStream enabled; `None`: signals go
    /// straight to this node's engine.
    pub nats: Option<String>,
    /// The stream that holds the signals (made, or changed to these settings, at start).
    pub nats_stream: String,
    /// The subject batches are published to; the stream holds this subject only.
    pub nats_subject: String,
    /// Batches older than this are dropped from the stream (JetStream's `max_age`); the
    /// engine's state is rebuilt from what the stream still holds.
    pub nats_max_age: Millis,
    /// The stream's size at most, in bytes; beyond, the oldest batches are dropped.
    pub nats_max_bytes: i64,
    /// Copies of the stream in a clustered JetStream (1 on a single NATS server).
    pub nats_replicas: usize,
    /// How long ingest waits for JetStream's acknowledgement before it answers 503.
    pub nats_publish_timeout: Millis,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            node: String::new(),
            advertise: String::new(),
            heartbeat: Millis(1_000),
            lease: Millis(10_000),
            forward_connect_timeout: Millis(2_000),
            forward_header_timeout: Millis(30_000),
            forward_max_in_flight: 200,
            nats: None,
            nats_stream: "KLAXON_SIGNALS".to_owned(),
            nats_subject: "klaxon.signals".to_owned(),
            nats_max_age: Millis(7 * 24 * 3_600_000),
            nats_max_bytes: 8 << 30,
            nats_replicas: 1,
            nats_publish_timeout: Millis(5_000),
        }
    }
}

impl Cluster {
    /// Whether this node is one of several on one database (`node` or `advertise` set).
    pub fn is_node(&self) -> bool {
        !self.node.is_empty() || !self.advertise.is_empty()
    }

    /// The keys of the election, for a node of several.
    pub(crate) fn validate_nodes(&self, store_url: bool, errors: &mut Vec<String>) {
        if !store_url {
            errors.push(
                "cluster: needs a PostgreSQL database shared by the nodes ([store] url = \"postgres://...\")"
                    .to_owned(),
            );
        }
        if self.node.trim().is_empty() || self.node.len() > 128 {
            errors.push(
                "cluster.node: a name of 1 to 128 characters, unique among the nodes".to_owned(),
            );
        }
        let a = &self.advertise;
        if !(a.starts_with("http://") || a.starts_with("https://"))
            || a.parse::<axum::http::Uri>()
                .map_or(true, |u| u.host().is_none())
        {
            errors.push(format!(
                "cluster.advertise: `{a}` is not a URL like http://10.0.0.5:{DEFAULT_PORT} that the other nodes reach this node at"
            ));
        }
        if self.heartbeat.0 <= 0 || self.lease.0 < 3 * self.heartbeat.0 {
            errors.push(
                "cluster.heartbeat, cluster.lease: the heartbeat must be longer than 0 and the lease at least three heartbeats"
                    .to_owned(),
            );
        }
        if self.forward_connect_timeout.0 <= 0 || self.forward_header_timeout.0 <= 0 {
            errors.push(
                "cluster.forward_connect_timeout, cluster.forward_header_timeout: must be longer than 0"
                    .to_owned(),
            );
        }
        if self.forward_max_in_flight == 0 {
            errors.push("cluster.forward_max_in_flight: must be at least 1".to_owned());
        }
    }

    /// The keys of the signal stream.
    pub(crate) fn validate(&self, errors: &mut Vec<String>) {
        let Some(url) = &self.nats else {
            return;
        };
        if !(url.starts_with("nats://") || url.starts_with("tls://")) || url.contains(' ') {
            errors.push(format!(
                "cluster.nats: `{url}` is not a URL like nats://127.0.0.1:4222"
            ));
        }
        let name_ok = !self.nats_stream.is_empty()
            && self.nats_stream.len() <= 64
            && (self.nats_stream.bytes())
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            errors.push(format!(
                "cluster.nats_stream: `{}` must be 1 to 64 letters, digits, `_` or `-`",
                self.nats_stream
            ));
        }
        let subject_ok = !self.nats_subject.is_empty()
            && self
                .nats_subject
                .split('.')
                .all(|t| !t.is_empty() && t != "*" && t != ">" && !t.contains(char::is_whitespace));
        if !subject_ok {
            errors.push(format!(
                "cluster.nats_subject: `{}` must be a subject without wildcards, like klaxon.signals",
                self.nats_subject
            ));
        }
        if self.nats_max_age.0 <= 0 {
            errors.push("cluster.nats_max_age: must be longer than 0".to_owned());
        }
        if self.nats_max_bytes < 1 << 20 {
            errors.push("cluster.nats_max_bytes: must be at least 1048576".to_owned());
        }
        if !(1..=5).contains(&self.nats_replicas) {
            errors.push("cluster.nats_replicas: must be between 1 and 5".to_owned());
        }
        if self.nats_publish_timeout.0 <= 0 {
            errors.push("cluster.nats_publish_timeout: must be longer than 0".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{load_text, Flags};

    fn load(text: &str, env: &[(&str, &str)]) -> Result<crate::config::Config, String> {
        let env: Vec<(String, String)> = (env.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        load_text(Some((Path::new("k.toml"), text)), &env, &Flags::default()).map(|(c, _)| c)
    }

    #[test]
    fn the_stream_is_configured_from_the_file_and_the_environment() {
        let c = load(
            "[cluster]\nnats = \"nats://n1:4222\"\nnats_max_age = \"2d\"\nnats_publish_timeout = 2\n",
            &[("KLAXON_CLUSTER__NATS_STREAM", "SIGNALS_EU")],
        )
        .expect("loads");
        assert_eq!(c.cluster.nats.as_deref(), Some("nats://n1:4222"));
        assert_eq!(c.cluster.nats_stream, "SIGNALS_EU");
        assert_eq!(c.cluster.nats_max_age.0, 2 * 86_400_000);
        assert_eq!(c.cluster.nats_publish_timeout.0, 2_000);
        assert!(load("", &[]).expect("loads").cluster.nats.is_none());
    }

    #[test]
    fn every_mistake_names_its_key() {
        let err = load(
            "[cluster]\nnats = \"http://n1\"\nnats_stream = \"a.b\"\nnats_subject = \"klaxon.*\"\nnats_max_bytes = 10\nnats_replicas = 0\nnats_publish_timeout = \"0s\"\n",
            &[],
        )
        .expect_err("refused");
        for key in [
            "cluster.nats:",
            "cluster.nats_stream:",
            "cluster.nats_subject:",
            "cluster.nats_max_bytes:",
            "cluster.nats_replicas:",
            "cluster.nats_publish_timeout:",
        ] {
            assert!(err.contains(key), "{key} in {err}");
        }
        let err = load("[cluster]\nnat = \"nats://x\"\n", &[]).expect_err("refused");
        assert!(err.contains("nat"), "{err}");
    }
}
