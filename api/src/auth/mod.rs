//! Authentication and access tokens. `admit.rs` checks every request against its route row
//! before any handler runs (called by `server.rs`); `tokens.rs` serves `/v1/auth/tokens`;
//! `secret.rs` draws and digests token secrets.
//! This file is the surface's router: its rows and nothing else.

pub mod admit;
pub mod secret;
pub mod tokens;
pub mod wire;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("POST", "/v1/auth/tokens", Admin, tokens::issue),
    row!("GET", "/v1/auth/tokens", Admin, tokens::list),
    row!("DELETE", "/v1/auth/tokens/{token}", Admin, tokens::revoke),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(tokens::issue, tokens::list, tokens::revoke))]
pub struct Api;
