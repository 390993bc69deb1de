//! Webhooks (issue 11 §4) under `/v1/webhooks`: admins register endpoints (`handlers.rs`);
//! the deliverer (`deliver.rs`) follows the log and posts each matching event to each
//! endpoint, in order, signed per Standard Webhooks; `seal.rs` keeps the signing secrets
//! sealed under the deployment's key. This file is the surface's router: its rows and
//! nothing else.

pub mod deliver;
pub mod handlers;
pub mod seal;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("POST", "/v1/webhooks", Admin, handlers::create),
    row!("GET", "/v1/webhooks", Admin, handlers::list),
    row!("GET", "/v1/webhooks/{webhook}", Admin, handlers::show),
    row!("DELETE", "/v1/webhooks/{webhook}", Admin, handlers::delete),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(handlers::create, handlers::list, handlers::show, handlers::delete))]
pub struct Api;
