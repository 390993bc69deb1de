//! Histories (issue 11, item 2) under `/v1/history/`: the holder timeline of one address
//! across every block and surface that ever held it (`addresses.rs`), and one object's events
//! in order (`objects.rs`); both read the log through the store and take `as_of` like every
//! GET. Every row is `Owned`: a tenant token sees only its own tenant's holdings and objects
//! (another tenant's object is 404), admin, agent and registrar tokens see all. This file is the surface's
//! router: its rows and nothing else.

pub mod addresses;
pub mod objects;
pub mod wire;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("GET", "/v1/history/addresses/{address}", Owned, addresses::timeline),
    row!("GET", "/v1/history/blocks/{block}", Owned, objects::block),
    row!("GET", "/v1/history/requests/{request}", Owned, objects::request),
    row!("GET", "/v1/history/ips/{ip}", Owned, objects::ip),
    row!("GET", "/v1/history/pools/{pool}", Owned, objects::pool),
    row!("GET", "/v1/history/registrations/{zone}/{address}", Owned, objects::registration),
    row!("GET", "/v1/history/interfaces/{vif}", Owned, objects::interface),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    addresses::timeline,
    objects::block,
    objects::request,
    objects::ip,
    objects::pool,
    objects::registration,
    objects::interface,
))]
pub struct Api;
