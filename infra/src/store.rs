//! The event store seam. The embedded file log implements it for one node; EventStoreDB and
//! PostgreSQL backends implement the same trait so that several nodes can share one log.

use async_trait::async_trait;
use ipledger_domain::{Envelope, ExpectedVersion, NewEvent};

/// Events for one stream, appended only if the stream is at `expected`.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// The store could not read or write: the disk, the network or the data is at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("i/o error on the event log: {0}")]
    Io(#[from] std::io::Error),
    #[error("event log corrupt in segment {segment} at offset {offset}: {reason}")]
    Corrupt {
        segment: String,
        offset: u64,
        reason: String,
    },
    #[error("cannot decode event at position {position}: {reason}")]
    Decode { position: u64, reason: String },
    #[error("event log is closed after an earlier write failure")]
    Closed,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Optimistic concurrency: a stream was not at the expected version. Nothing was written.
    #[error("stream {stream} expected {expected:?} but is at {actual:?}")]
    Conflict {
        stream: String,
        expected: ExpectedVersion,
        actual: Option<u64>,
    },
    /// Durability is in doubt: the caller must stop accepting writes (fail-stop).
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends every stream's events atomically (all or none) and durably: when this returns
    /// Ok, the events are on disk (fdatasync returned). One call is one write and one sync.
    /// Returns the stored envelopes in log order.
    async fn append(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError>;

    /// Up to `max` events with `position >= from`, in log order.
    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<Envelope>, StoreError>;

    /// Up to `max` events of one stream with `version >= from_version`, in order.
    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<Envelope>, StoreError>;

    /// The position the next appended event will get (= number of events in the log).
    fn head(&self) -> u64;

    /// Follows new events: the receiver sees the head advance after each durable append.
    /// Read the new events with [`EventStore::read_all`].
    fn follow(&self) -> tokio::sync::watch::Receiver<u64>;
}
