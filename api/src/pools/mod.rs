//! Resource pools (issue 9 §2, Infrahub's Resource Manager) under `/v1/pools`: the pools
//! (`pool.rs`), their allocations and utilization (`allocations.rs`), shapes in `wire.rs`.
//! Every row is `Owned`: a tenant token sees and uses only its tenant's pools (another's is
//! 404; creating one for another tenant is 403). This file is the surface's router: its rows
//! and nothing else.

pub mod allocations;
pub mod pool;
pub mod wire;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("POST", "/v1/pools", Owned, pool::create),
    row!("GET", "/v1/pools", Owned, pool::list),
    row!("GET", "/v1/pools/{pool}", Owned, pool::show),
    row!("PUT", "/v1/pools/{pool}", Owned, pool::update),
    row!("DELETE", "/v1/pools/{pool}", Owned, pool::delete),
    row!("POST", "/v1/pools/{pool}/allocations", Owned, allocations::allocate),
    row!("GET", "/v1/pools/{pool}/allocations", Owned, allocations::list),
    row!("POST", "/v1/pools/{pool}/allocations/batch", Owned, allocations::batch),
    row!("GET", "/v1/pools/{pool}/allocations/{identifier}", Owned, allocations::show),
    row!("DELETE", "/v1/pools/{pool}/allocations/{identifier}", Owned, allocations::release),
    row!("GET", "/v1/pools/{pool}/utilization", Owned, allocations::utilization),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    pool::create,
    pool::list,
    pool::show,
    pool::update,
    pool::delete,
    allocations::allocate,
    allocations::list,
    allocations::batch,
    allocations::show,
    allocations::release,
    allocations::utilization,
))]
pub struct Api;
