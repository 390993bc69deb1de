//! State rebuilt from events: per-block free maps and the query views the API reads.
//!
//! The same [`State`] type serves the single writer (its working copy, against which commands
//! are decided) and the readers (a published copy updated only with durable events). Both are
//! folds of the log with [`State::apply`], which cannot fail: folding events one by one gives
//! exactly what a rebuild from position 0 gives.

mod address_index;
pub mod bitmap;
mod blockindex;
mod footprint;
pub mod heatmap;
pub mod history;
pub mod idempotency;
pub mod interfaces;
pub mod octets;
pub mod page;
pub mod parts;
pub mod pools;
mod receipts;
pub mod registrations;
pub mod requests;
pub mod routing;
pub mod scaleway;
mod slots;
pub mod state;
pub mod tokens;
mod views;
mod webhooks;
pub mod work;

#[cfg(test)]
mod address_page_tests;
#[cfg(test)]
mod fold_tests;

/// The shape of [`State`] as snapshots store it (issue 11 item 5: `State` and every type
/// inside it derive serde, and a snapshot is that serialization). Bump it with any change to
/// a field of `State` or of a type it holds (added, removed, renamed, retyped, or a changed
/// meaning): a snapshot of another version is ignored and the state rebuilt from the log,
/// which is always right, only slower.
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 7;

pub use page::Page;
pub use pools::{PoolState, ResourceUse, Utilization};
pub use state::{BlockState, PolicyState, State};
