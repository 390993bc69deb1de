//! Everything that touches the outside world below the API: the event store trait and its
//! backends (the embedded file log first), the event codec, and the SMTP mailer of the notification outbox.

pub mod codec;
pub mod filelog;
pub mod mail;
pub mod store;

pub use store::{AppendError, EventStore, StoreError, StreamAppend};
