//! The pure core of ipledger: value types, the versioned event model, the records the
//! projections hold, and the allocation rules (policies, block geometry, IPv6 generators).
//!
//! Nothing here performs I/O, reads a clock or draws randomness: time and ids are passed in
//! by the caller so that deciding the same command twice from the same state gives the same
//! events. That determinism is what makes replay, tests and simulation cheap.

pub mod auth;
pub mod block;
pub mod carve;
pub mod envelope;
pub mod events;
pub mod ids;
pub mod interfaces;
pub mod ipv6;
pub mod limits;
pub mod mac;
pub mod payload;
pub mod policy;
pub mod pools;
pub mod records;
pub mod registrations;
pub mod rejection;
pub mod requests;
pub mod routing;
pub mod scaleway;
pub mod time_format;
pub mod webhooks;

pub use envelope::{Envelope, ExpectedVersion, NewEvent};
pub use events::Event;
pub use ids::IdSource;
pub use rejection::Rejection;

/// Time as the domain sees it: always UTC, always passed in.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
