//! The IP request workflow (issue 4): the agent intake and the admin review API (`ipam.rs`,
//! shapes in `wire.rs`), the review console's static files (`console.rs`), and the outbox
//! task that mails the notifications the log says are owed (`outbox.rs`, started by
//! `ops::start`). This file is the surface's router: its rows and nothing else.

pub mod console;
pub mod ipam;
pub mod outbox;
pub mod wire;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    // The agent intake and the admin review API (ipam.rs).
    row!("POST", "/v1/agent/ipam/request", Agent, ipam::intake),
    row!("GET", "/v1/ipam/requests", Admin, ipam::list),
    row!("GET", "/v1/ipam/requests/{request}", Admin, ipam::show),
    row!("POST", "/v1/ipam/requests/{request}/approve", Admin, ipam::approve),
    row!("POST", "/v1/ipam/requests/{request}/reject", Admin, ipam::reject),
    // The review console's static files (console.rs): public, the page signs in itself.
    row!("GET", "/console", Public, console::index),
    row!("GET", "/console/{asset}", Public, console::asset),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    ipam::intake,
    ipam::list,
    ipam::show,
    ipam::approve,
    ipam::reject,
    console::index,
    console::asset,
))]
pub struct Api;
