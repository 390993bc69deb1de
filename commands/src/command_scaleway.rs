//! The commands of the Scaleway IPAM v1 surface (issue 9), kept beside `command.rs` so that
//! file stays a plain list of variants. `scope` is the caller's project when a tenant token
//! limits it to its own (`Call::owner`), `None` for admins and agents: an IP of another
//! project is not found.

use std::net::IpAddr;

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScalewayCommand {
    Book(BookScalewayIp),
    Update(UpdateScalewayIp),
    /// Release one IP (`DELETE /ips/{id}`) or a set (`POST /ip-sets/release`): all or
    /// nothing.
    Release {
        scope: Option<String>,
        ip_ids: Vec<Uuid>,
    },
    Attach {
        scope: Option<String>,
        ip_id: Uuid,
        resource: CustomResource,
    },
    Detach {
        scope: Option<String>,
        ip_id: Uuid,
        resource: CustomResource,
    },
    Move {
        scope: Option<String>,
        ip_id: Uuid,
        from: CustomResource,
        to: Option<CustomResource>,
    },
}

/// The SDK's `Source` one-of, as sent: the first set field wins (the SDK sends one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRequest {
    pub zonal: Option<String>,
    pub private_network_id: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub regional: Option<bool>,
}

/// The SDK's `CustomResource`: a MAC (required) and an optional DNS name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomResource {
    pub mac_address: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookScalewayIp {
    pub project_id: String,
    pub source: SourceRequest,
    pub is_ipv6: bool,
    pub address: Option<IpAddr>,
    pub tags: Vec<String>,
    pub resource: Option<CustomResource>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseRequest {
    pub hostname: String,
    pub address: Option<IpAddr>,
}

/// Each given list replaces the IP's; an absent one is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateScalewayIp {
    pub scope: Option<String>,
    pub ip_id: Uuid,
    pub tags: Option<Vec<String>>,
    pub reverses: Option<Vec<ReverseRequest>>,
}
