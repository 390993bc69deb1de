//! The operator's surface: the health and readiness checks (`health.rs`), the event log for
//! auditors (`events.rs`), followed live or exported (`stream.rs`), and the retention purge (`retention.rs`: the scheduled task `ops::start`
//! spawns, and the purge on demand). This file is the surface's router: its rows and nothing
//! else.

pub mod events;
pub mod health;
pub mod metrics;
pub mod retention;
pub mod stream;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("GET", "/healthz", Public, health::health),
    row!("GET", "/readyz", Public, health::ready),
    row!("GET", "/metrics", Admin, metrics::scrape),
    row!("GET", "/v1/events", Admin, events::list),
    row!("GET", "/v1/events/stream", Admin, stream::stream),
    row!("GET", "/v1/events/export", Admin, stream::export),
    row!("POST", "/v1/admin/purge", Admin, retention::purge),
    row!("POST", "/v1/admin/registrations/cleanup", Admin, retention::cleanup),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    health::health,
    health::ready,
    metrics::scrape,
    events::list,
    stream::stream,
    stream::export,
    retention::purge,
    retention::cleanup,
))]
pub struct Api;
