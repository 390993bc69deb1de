//! Zone and service registrations (issue 10; vitistack ipam-api, seed 001): the original's
//! four routes with its bodies and answers (`handlers.rs`, bodies in `body.rs`), the views
//! it lacks (zones, registrations, a registration's history) and an admin's cluster-wide
//! delete and the admin CLI's routes (`admin.rs`). Secrets are hashed with the deployment's key on arrival (`key.rs`). This file is
//! the surface's router: its rows and nothing else.

pub mod admin;
pub mod body;
pub mod handlers;
pub mod key;
pub mod wire;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("POST", "/", RegistrarOpen, handlers::register),
    row!("POST", "/v2/address", RegistrarOpen, handlers::register_v2),
    row!("DELETE", "/", RegistrarOpen, handlers::expire),
    row!("DELETE", "/v2/service", RegistrarOpen, handlers::expire_v2),
    row!("GET", "/v1/zones", Registrar, handlers::zones),
    row!("GET", "/v1/registrations", Registrar, handlers::list),
    row!("GET", "/v1/registrations/{zone}/{address}/history", Registrar, handlers::history),
    row!("POST", "/v1/registrations/clusters/{cluster}/expire", Admin, handlers::expire_cluster),
    row!("POST", "/v1/registrations/{zone}/{address}/services/expire", Admin, admin::expire_service),
    row!("PUT", "/v1/registrations/{zone}/{address}/secret", Admin, admin::replace_secret),
    row!("POST", "/v1/registrations/{zone}/{address}/check-secret", Admin, admin::check_secret),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::register,
    handlers::register_v2,
    handlers::expire,
    handlers::expire_v2,
    handlers::zones,
    handlers::list,
    handlers::history,
    handlers::expire_cluster,
    admin::expire_service,
    admin::replace_secret,
    admin::check_secret,
))]
pub struct Api;
