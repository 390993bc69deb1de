//! The commands of static routes, NAT and the retention purge. Kept beside `command.rs` so
//! that file stays a plain list of variants.

use std::net::IpAddr;

use ipledger_projections::routing::NatSide;
use uuid::Uuid;

/// Create a route (`route_id: None`) or update one. Strings are kept as sent: `decide`
/// validates them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteChange {
    pub tenant: String,
    pub block_id: Uuid,
    pub route_id: Option<Uuid>,
    /// Absent: unchanged on update, missing on create.
    pub destination: Option<String>,
    pub gateway: Option<String>,
    /// Absent: unchanged; `Some(None)`: cleared.
    pub netmask: Option<Option<String>>,
}

/// The address in a NAT URL and which side of its pairs the request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatAt {
    /// The tenant of a tenant-scoped path; `None` on the admin paths (any tenant's blocks).
    pub tenant: Option<String>,
    pub block_id: Uuid,
    pub address: IpAddr,
    pub side: NatSide,
}

/// Pair the address with each partner (block id, address) on `at.side`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignNat {
    pub at: NatAt,
    pub partners: Vec<(Uuid, IpAddr)>,
}

/// Remove the address's pairs on `at.side`: all of them, or those whose partner has this
/// address (in any block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveNat {
    pub at: NatAt,
    pub partner: Option<IpAddr>,
}
