//! The envelope every stored event travels in, and the optimistic-concurrency type.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Timestamp};

/// A stored event: its place in the global log and in its stream, plus who and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// 0-based position in the global log.
    pub position: u64,
    pub stream: String,
    /// 0-based version within the stream.
    pub version: u64,
    /// UUID v7.
    pub event_id: Uuid,
    pub recorded_at: Timestamp,
    /// Who asked: a token name, a tenant, or `anonymous`.
    pub actor: String,
    pub correlation_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub event: Event,
}

/// An event about to be appended; the store assigns position and stream version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub recorded_at: Timestamp,
    pub actor: String,
    pub correlation_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub event: Event,
}

/// What the writer believes a stream's version to be when it appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `current` (None: no stream) satisfies this.
    pub fn matches(self, current: Option<u64>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current.is_none(),
            ExpectedVersion::Exact(v) => current == Some(v),
        }
    }
}
