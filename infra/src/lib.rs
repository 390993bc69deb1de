//! Everything that touches the outside world below the API: the backends of the event store
//! port that `commands` owns (the embedded file log, PostgreSQL), the event codec, and the
//! SMTP mailer of the notification outbox.

pub mod chain;
pub mod codec;
pub mod filelog;
pub mod mail;
pub mod postgres;

#[cfg(test)]
mod conformance;

// The store port belongs to `commands`, the crate that uses it; the backends here
// implement it.
pub(crate) use ipledger_commands::store::{
    AppendError, ChainHead, EventStore, RecordRefused, StoreError, StreamAppend,
};
