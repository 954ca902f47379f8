//! The publishing side: `Publisher` stores a batch of signals in the stream and returns its
//! sequence once JetStream has acknowledged it (the batch is durable from then on). It needs
//! only a NATS connection, so a node that runs no engine publishes the same way.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use async_nats::jetstream::{self, stream};

use super::codec::{self, SignalBatch};
use crate::config::Cluster;

/// A NATS message takes at most this much when the server has not said yet (its default).
const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

/// The stream and how publishing waits, from `[cluster]`.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub stream: String,
    pub subject: String,
    pub max_age: Duration,
    pub max_bytes: i64,
    pub replicas: usize,
    pub publish_timeout: Duration,
}

impl StreamSettings {
    /// The NATS URL and the stream's settings, when `[cluster] nats` is set.
    pub fn of(c: &Cluster) -> Option<(String, StreamSettings)> {
        let url = c.nats.clone()?;
        Some((
            url,
            StreamSettings {
                stream: c.nats_stream.clone(),
                subject: c.nats_subject.clone(),
                max_age: c.nats_max_age.as_std(),
                max_bytes: c.nats_max_bytes,
                replicas: c.nats_replicas,
                publish_timeout: c.nats_publish_timeout.as_std(),
            },
        ))
    }

    fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: self.stream.clone(),
            subjects: vec![self.subject.clone()],
            max_age: self.max_age,
            max_bytes: self.max_bytes,
            num_replicas: self.replicas,
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            description: Some(
                "klaxon: accepted signals, in the order the engine takes them".into(),
            ),
            ..Default::default()
        }
    }
}

/// Why a batch was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// NATS unreachable, JetStream not answering in time, or refusing: nothing was accepted
    /// (though a batch whose acknowledgement was lost may still be in the stream).
    #[error("JetStream did not acknowledge the batch: {0}")]
    Unavailable(String),
    #[error("the batch takes {bytes} bytes, more than the {max} bytes a NATS message may")]
    TooLarge { bytes: usize, max: usize },
}

/// Publishes batches of signals to the stream.
pub struct Publisher {
    client: async_nats::Client,
    js: jetstream::Context,
    settings: StreamSettings,
    /// The stream is known to exist with these settings.
    ready: AtomicBool,
}

impl Publisher {
    /// A publisher over a connection to `url` made in the background: it returns at once even
    /// when NATS is unreachable (publishing then fails until it is reached).
    pub async fn connect(url: &str, settings: StreamSettings) -> Result<Publisher, PublishError> {
        let client = async_nats::ConnectOptions::new()
            .name("klaxon")
            .retry_on_initial_connect()
            .connect(url)
            .await
            .map_err(|e| PublishError::Unavailable(format!("connecting to {url}: {e}")))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(settings.publish_timeout)
            .build(client.clone());
        Ok(Publisher {
            client,
            js,
            settings,
            ready: AtomicBool::new(false),
        })
    }

    /// Stores `batch` in the stream and returns its sequence once JetStream has acknowledged
    /// it, within the publish timeout.
    pub async fn publish(&self, batch: &SignalBatch) -> Result<u64, PublishError> {
        let (headers, body) = codec::encode(batch);
        let max = self.max_message_bytes();
        if body.len() > max {
            return Err(PublishError::TooLarge {
                bytes: body.len(),
                max,
            });
        }
        let work = async {
            if !self.ready.load(Relaxed) {
                self.stream().await?;
            }
            let ack = self
                .js
                .publish_with_headers(self.settings.subject.clone(), headers, body.into())
                .await
                .map_err(|e| e.to_string())?
                .await;
            match ack {
                Ok(ack) => Ok(ack.sequence),
                Err(e) => {
                    if e.kind() == jetstream::context::PublishErrorKind::StreamNotFound {
                        self.ready.store(false, Relaxed);
                    }
                    Err(e.to_string())
                }
            }
        };
        match tokio::time::timeout(self.settings.publish_timeout, work).await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(e)) => Err(PublishError::Unavailable(e)),
            Err(_) => Err(PublishError::Unavailable(format!(
                "no acknowledgement within {:?} ({})",
                self.settings.publish_timeout,
                self.connection()
            ))),
        }
    }

    /// The stream, made or changed to the configured settings.
    pub(crate) async fn stream(&self) -> Result<stream::Stream, String> {
        let name = &self.settings.stream;
        self.js
            .create_or_update_stream(self.settings.stream_config())
            .await
            .map_err(|e| format!("stream {name}: {e}"))?;
        let s = (self.js.get_stream(name).await).map_err(|e| format!("stream {name}: {e}"))?;
        self.ready.store(true, Relaxed);
        Ok(s)
    }

    /// The largest message the server takes (its `max_payload`).
    pub fn max_message_bytes(&self) -> usize {
        match self.client.server_info().max_payload {
            0 => DEFAULT_MAX_PAYLOAD,
            n => n,
        }
    }

    /// How many bytes of signals (as ingest estimates them) go into one message at most: half
    /// a message, so that the wire form always fits.
    pub fn max_batch_bytes(&self) -> usize {
        self.max_message_bytes() / 2
    }

    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// Sends what is buffered (acknowledgements of consumed messages) to the server.
    pub(crate) async fn flush(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }

    /// The connection's state, for errors.
    fn connection(&self) -> String {
        format!("connection {:?}", self.client.connection_state())
    }
}
