//! Signals through NATS JetStream (`[cluster] nats`, docs/cluster-signals.md).
//!
//! Ingest publishes each accepted batch to one stream and answers once JetStream has
//! acknowledged it (`publish.rs`: `Publisher`, which needs nothing but a connection, so a node
//! that runs no engine publishes too). The node that runs the engine consumes the stream
//! (`consume.rs`): at start it rebuilds the engine's state by replaying the stream's window up to
//! its durable consumer's acknowledged position, outputs discarded, then feeds the engine every
//! later batch in stream order at the time the batch was accepted, and acknowledges a batch only
//! once what the engine emitted up to it is committed. `codec.rs` is the message format.

mod codec;
pub(crate) mod consume;
mod publish;

pub use codec::SignalBatch;
pub use publish::{PublishError, Publisher, StreamSettings};
