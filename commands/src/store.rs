//! The event store port. It belongs here, to the crate that uses it (the writer), and the
//! backends implement it: the embedded file log (`infra`) for one node; a PostgreSQL or an
//! EventStoreDB backend implements the same trait so that several nodes can share one log.
//!
//! Its errors keep three kinds apart, because the writer treats them differently: a
//! [`RecordRefused`] turns down one command's event before anything is written (the writer
//! rejects that command and goes on), an [`AppendError::Conflict`] says another writer got
//! there first (the writer catches up and decides again), and a [`StoreError`] puts
//! durability in doubt (the writer stops, and reopens the store through
//! [`EventStore::recover`] with backoff).

use async_trait::async_trait;
use std::collections::HashMap;

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
    /// The database behind a shared log failed or could not be reached; for an append, its
    /// outcome is unknown (the commit may or may not have happened).
    #[error("event store database: {0}")]
    Database(String),
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

/// One event this store will not take, whatever the state of the log: it is too large for a
/// record, or its payload cannot be encoded. Nothing was written; only the command that made
/// the event is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordRefused {
    #[error(
        "a {event_type} record would be {bytes} bytes; records are limited to {max_bytes} bytes"
    )]
    TooLarge {
        event_type: &'static str,
        bytes: usize,
        max_bytes: usize,
    },
    #[error("a {event_type} record cannot be encoded: {reason}")]
    Unencodable {
        event_type: &'static str,
        reason: String,
    },
}

/// Where a tamper-evident log's hash chain stands (issue 11 item 6; the hashing itself is the
/// backends' business, `infra/src/chain.rs`): each chained record carries SHA-256 of the
/// previous record's hash and its own stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The first chained record: the records before it were written before the chain
    /// existed (the head, while nothing is chained yet).
    pub chained_from: u64,
    /// The last chained record's position and hash; `None` while no record is chained.
    pub last: Option<(u64, [u8; 32])>,
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Whether `event` can be stored as one record (encodable, within the record size limit).
    /// The writer asks before it applies a command's events, so that an event the store
    /// would refuse costs that command only, never the batch or the writer. An event that
    /// passes here must never make [`EventStore::append`] fail for its own sake.
    fn check_record(&self, event: &NewEvent) -> Result<(), RecordRefused>;

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

    /// Reopens the store for appends after a [`StoreError`] stopped them, by the same
    /// recovery as at start-up (for the file log: what was written but not proven durable
    /// is cut off, the log is scanned again and reopened). `Ok` when appends may resume.
    /// The events of the append that failed may or may not be in the store afterwards (it
    /// was never acknowledged): the caller catches up from the last position it knew. A
    /// store that cannot recover in place keeps this default and stays stopped.
    async fn recover(&self) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }

    /// Where the log's hash chain stands; `None` for a store that keeps no chain (the
    /// memory store, and decorators that forget to forward: `MeteredStore` forwards).
    async fn chain_head(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(None)
    }
}

/// The numbering every backend shares: checks expected versions and turns the batch into
/// envelopes with positions from `head` and stream versions after `version_of` (a stream's
/// last version in the log, `None` if it has none). Call it holding the backend's append
/// lock. Nothing is written when a stream conflicts. A stream may appear more than once
/// in a batch: later entries see the versions the earlier ones assign.
pub fn number(
    head: u64,
    version_of: impl Fn(&str) -> Option<u64>,
    batch: Vec<StreamAppend>,
) -> Result<Vec<Envelope>, AppendError> {
    let mut current: HashMap<&str, Option<u64>> = HashMap::new();
    let mut bases = Vec::with_capacity(batch.len());
    for sa in &batch {
        let now = match current.get(sa.stream.as_str()) {
            Some(v) => *v,
            None => version_of(&sa.stream),
        };
        check(sa, now)?;
        let base = now.map_or(0, |v| v + 1);
        let n = sa.events.len() as u64;
        bases.push(base);
        current.insert(&sa.stream, if n == 0 { now } else { Some(base + n - 1) });
    }
    drop(current);
    let mut position = head;
    let mut out = Vec::with_capacity(batch.iter().map(|sa| sa.events.len()).sum());
    for (sa, base) in batch.into_iter().zip(bases) {
        for (version, e) in (base..).zip(sa.events) {
            out.push(Envelope {
                position,
                stream: sa.stream.clone(),
                version,
                event_id: e.event_id,
                // Stored with microsecond precision; return what a read will return.
                recorded_at: chrono::DateTime::from_timestamp_micros(
                    e.recorded_at.timestamp_micros(),
                )
                .unwrap_or(e.recorded_at),
                actor: e.actor,
                correlation_id: e.correlation_id,
                idempotency_key: e.idempotency_key,
                event: e.event,
            });
            position += 1;
        }
    }
    Ok(out)
}

fn check(sa: &StreamAppend, actual: Option<u64>) -> Result<(), AppendError> {
    if sa.expected.matches(actual) {
        return Ok(());
    }
    Err(AppendError::Conflict {
        stream: sa.stream.clone(),
        expected: sa.expected,
        actual,
    })
}
