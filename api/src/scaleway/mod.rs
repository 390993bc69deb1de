//! The Scaleway IPAM v1 API (issue 9, seed 003), wire-compatible with the official SDKs
//! (`scaleway` on PyPI, `IpamV1API`): IPs booked in a private network (a Melange
//! `network_id` of the project's blocks) or a subnet (a block), tagged, given reverses,
//! attached to a custom resource, released. `project_id` is the Melange tenant; a tenant
//! token sees and changes its own project's IPs only (`Owned` rows). Handlers in `ips.rs`,
//! request bodies and the list query in `body.rs`, the IP object in `wire.rs`; errors take
//! Scaleway's shape in `fault.rs` (`Dialect::Scaleway`). This file is the surface's router:
//! its rows and nothing else.

pub mod body;
pub mod ips;
pub mod wire;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("POST", "/ipam/v1/regions/{region}/ips", Owned, ips::book),
    row!("GET", "/ipam/v1/regions/{region}/ips", Owned, ips::list),
    row!("GET", "/ipam/v1/regions/{region}/ips/{ip}", Owned, ips::show),
    row!("PATCH", "/ipam/v1/regions/{region}/ips/{ip}", Owned, ips::update),
    row!("DELETE", "/ipam/v1/regions/{region}/ips/{ip}", Owned, ips::release),
    row!("POST", "/ipam/v1/regions/{region}/ip-sets/release", Owned, ips::release_set),
    row!("POST", "/ipam/v1/regions/{region}/ips/{ip}/attach", Owned, ips::attach),
    row!("POST", "/ipam/v1/regions/{region}/ips/{ip}/detach", Owned, ips::detach),
    row!("POST", "/ipam/v1/regions/{region}/ips/{ip}/move", Owned, ips::move_ip),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    ips::book,
    ips::list,
    ips::show,
    ips::update,
    ips::release,
    ips::release_set,
    ips::attach,
    ips::detach,
    ips::move_ip,
))]
pub struct Api;
