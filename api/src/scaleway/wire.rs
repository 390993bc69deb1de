//! The IP object as the SDK unmarshals it (`scaleway/ipam/v1/marshalling.py`): every key it
//! reads is present, `address` in CIDR form with the block's prefix length, `zone` null
//! (no zonal source yet), `resource` null when detached.

use ipledger_domain::scaleway::ScalewayIpRecord;
use ipledger_domain::Timestamp;
use ipledger_projections::State;
use serde::Serialize;
use uuid::Uuid;

/// RFC 3339 in UTC with microseconds, as Scaleway writes it (the SDK parses with isoparse).
pub fn time(t: &Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The IP object (`scaleway.ipam.v1.IP`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScalewayIp {
    pub id: Uuid,
    /// CIDR form, with the block's prefix length.
    pub address: String,
    pub project_id: String,
    pub is_ipv6: bool,
    pub created_at: String,
    pub updated_at: String,
    pub source: ScalewaySource,
    /// Null when detached.
    pub resource: Option<ScalewayResource>,
    pub tags: Vec<String>,
    pub reverses: Vec<ScalewayReverse>,
    pub region: String,
    pub zone: Option<String>,
}

/// Where the IP comes from: its subnet (the block) always, with the private network or
/// zone the booking named.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScalewaySource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_network_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zonal: Option<String>,
    pub subnet_id: Uuid,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScalewayResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
    pub mac_address: String,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScalewayReverse {
    pub hostname: String,
    pub address: Option<String>,
}

/// One IP; the prefix length comes from its block (a host prefix if the block is gone,
/// which cannot happen while the IP lives: a block with live addresses is not deleted).
pub fn ip(views: &State, ip: &ScalewayIpRecord, region: &str) -> ScalewayIp {
    let host = if ip.address.is_ipv6() { 128 } else { 32 };
    let prefix = views
        .block(ip.block_id)
        .map_or(host, |b| b.record.cidr.prefix_len());
    // The block is the IP's subnet whatever the source named, as Scaleway shows a private
    // network's IP with the subnet it took it from.
    let source = ScalewaySource {
        private_network_id: ip.source.private_network_id.clone(),
        zonal: ip.source.zonal.clone(),
        subnet_id: ip.block_id,
    };
    let resource = ip.resource.as_ref().map(|r| ScalewayResource {
        kind: r.resource_type.clone(),
        id: r.id,
        mac_address: r.mac_address.clone(),
        name: r.name.clone(),
    });
    let reverses = ip
        .reverses
        .iter()
        .map(|r| ScalewayReverse {
            hostname: r.hostname.clone(),
            address: r.address.map(|a| a.to_string()),
        })
        .collect();
    ScalewayIp {
        id: ip.id,
        address: format!("{}/{prefix}", ip.address),
        project_id: ip.project_id.clone(),
        is_ipv6: ip.address.is_ipv6(),
        created_at: time(&ip.created_at),
        updated_at: time(&ip.updated_at),
        source,
        resource,
        tags: ip.tags.clone(),
        reverses,
        region: region.to_string(),
        zone: ip.source.zonal.clone(),
    }
}

/// `ListIPsResponse`: `total_count` (an integer) and `ips` (always present: the SDK's
/// list-all stops on an empty list).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListIpsResponse {
    pub total_count: usize,
    pub ips: Vec<ScalewayIp>,
}
