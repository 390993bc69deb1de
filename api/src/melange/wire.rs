//! Wire rendering of records in Melange's JSON shapes: field names as the spec shows them,
//! computed fields (broadcast, netmask, version), timestamps as `YYYY-MM-DDTHH:MM:SS` UTC
//! (decision 21) and IPv6 in RFC 5952 compressed form (decision 11). Each shape is a type
//! (`Serialize` renders it, `ToSchema` documents it); the envelopes the handlers put them in
//! are declared at the end for the OpenAPI document.

use ipledger_domain::block;
use ipledger_domain::records::{
    AddressRecord, BlockRecord, OctetRecord, PolicyRecord, RangeRecord,
};
use ipledger_projections::heatmap::Heatmap;
use serde::Serialize;
use uuid::Uuid;

/// The shared helpers, so Melange's handlers find every wire function here.
pub use crate::kit::wire::{collection, count, timestamp, Count};
use crate::kit::wire::{collection_schema, envelope_schema};

pub(crate) fn opt_str<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpBlock {
    pub broadcast: String,
    pub cidr: String,
    pub created_at: String,
    pub dns1: Option<String>,
    pub dns2: Option<String>,
    pub gateway: Option<String>,
    pub id: Uuid,
    /// `tenant_based`, `eui64` or `sequential`; null: the deployment's.
    pub ipv6_generator: Option<&'static str>,
    pub netmask: String,
    pub network_id: Option<String>,
    pub parent_id: Option<Uuid>,
    pub policy_id: Option<Uuid>,
    pub tenant_id: String,
    /// `private` or `public`.
    #[serde(rename = "type")]
    pub block_type: &'static str,
    pub updated_at: String,
}

pub fn block(b: &BlockRecord) -> IpBlock {
    IpBlock {
        id: b.id,
        cidr: b.cidr.to_string(),
        network_id: b.network_id.clone(),
        policy_id: b.policy_id,
        tenant_id: b.tenant_id.clone(),
        gateway: opt_str(&b.gateway),
        parent_id: b.parent_id,
        block_type: b.block_type.as_str(),
        dns1: opt_str(&b.dns1),
        dns2: opt_str(&b.dns2),
        broadcast: block::broadcast(&b.cidr).to_string(),
        netmask: block::netmask(&b.cidr),
        ipv6_generator: b.ipv6_generator.map(|g| g.as_str()),
        created_at: timestamp(&b.created_at),
        updated_at: timestamp(&b.updated_at),
    }
}

/// A deallocated address shows null interface fields and when it was deallocated
/// (decision 14); restore brings the interface link back.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpAddress {
    pub address: String,
    pub created_at: String,
    pub deallocated_at: Option<String>,
    pub id: Uuid,
    pub interface_id: Option<String>,
    pub ip_block_id: Uuid,
    pub updated_at: String,
    pub used_by_device: Option<String>,
    pub used_by_tenant: String,
    /// 4 or 6.
    pub version: u8,
}

pub fn address(a: &AddressRecord) -> IpAddress {
    let live = a.deallocated_at.is_none();
    IpAddress {
        id: a.id,
        ip_block_id: a.block_id,
        address: a.address.to_string(),
        version: if a.address.is_ipv4() { 4 } else { 6 },
        created_at: timestamp(&a.created_at),
        updated_at: timestamp(&a.updated_at),
        used_by_tenant: a.used_by_tenant.clone(),
        used_by_device: a.used_by_device.clone().filter(|_| live),
        interface_id: a.interface_id.clone().filter(|_| live),
        deallocated_at: a.deallocated_at.as_ref().map(timestamp),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Policy {
    pub created_at: String,
    pub description: Option<String>,
    pub id: Uuid,
    pub name: String,
    pub tenant_id: String,
    pub updated_at: String,
}

pub fn policy(p: &PolicyRecord) -> Policy {
    Policy {
        id: p.id,
        name: p.name.clone(),
        description: p.description.clone(),
        tenant_id: p.tenant_id.clone(),
        created_at: timestamp(&p.created_at),
        updated_at: timestamp(&p.updated_at),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpRange {
    pub created_at: String,
    pub id: Uuid,
    pub length: u64,
    pub offset: i64,
    pub policy_id: Uuid,
    pub updated_at: String,
}

pub fn range(r: &RangeRecord) -> IpRange {
    IpRange {
        id: r.id,
        offset: r.offset,
        length: r.length,
        policy_id: r.policy_id,
        created_at: timestamp(&r.created_at),
        updated_at: timestamp(&r.updated_at),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpOctet {
    pub created_at: String,
    pub id: Uuid,
    pub octet: u8,
    pub policy_id: Uuid,
    pub updated_at: String,
}

pub fn octet(o: &OctetRecord) -> IpOctet {
    IpOctet {
        id: o.id,
        octet: o.octet,
        policy_id: o.policy_id,
        created_at: timestamp(&o.created_at),
        updated_at: timestamp(&o.updated_at),
    }
}

/// A static route, as the spec's "Static Routes" examples show it (`block_id` is not shown).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpRoute {
    pub created_at: String,
    pub destination: String,
    pub gateway: String,
    pub id: Uuid,
    pub netmask: Option<String>,
    pub updated_at: String,
}

/// One cell of a block's heat map: its first address and its addresses by state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeatmapCell {
    pub start: String,
    pub allocated: u64,
    pub deallocated: u64,
    pub held: u64,
    pub reserved: u64,
    pub free: Count,
}

/// A block's heat map (`.../ip_blocks/{block}/heatmap`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BlockHeatmap {
    pub ip_block_id: Uuid,
    pub cidr: String,
    pub size: Count,
    pub cell_prefix: u8,
    pub cell_size: Count,
    pub cells: Vec<HeatmapCell>,
}

/// A block's heat map: per cell its first address and its counts by state (the rest free).
pub fn heatmap(b: &BlockRecord, map: &Heatmap) -> BlockHeatmap {
    let cell_size = 1u128
        .checked_shl(map.cell_host_bits.into())
        .unwrap_or(u128::MAX);
    let cells = map
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let offset = (i as u128)
                .checked_shl(map.cell_host_bits.into())
                .unwrap_or(0);
            let busy = c.allocated + c.deallocated + c.held + c.reserved;
            HeatmapCell {
                start: block::address_at(&b.cidr, offset).to_string(),
                allocated: c.allocated,
                deallocated: c.deallocated,
                held: c.held,
                reserved: c.reserved,
                free: count(cell_size.saturating_sub(busy.into())),
            }
        })
        .collect();
    BlockHeatmap {
        ip_block_id: b.id,
        cidr: b.cidr.to_string(),
        size: count(block::size(&b.cidr)),
        cell_prefix: b.cidr.max_prefix_len() - map.cell_host_bits,
        cell_size: count(cell_size),
        cells,
    }
}

envelope_schema!(BlockHeatmapOne, heatmap, BlockHeatmap);

pub fn route(r: &ipledger_domain::routing::RouteRecord) -> IpRoute {
    IpRoute {
        id: r.id,
        destination: r.destination.clone(),
        gateway: r.gateway.clone(),
        netmask: r.netmask.clone(),
        created_at: timestamp(&r.created_at),
        updated_at: timestamp(&r.updated_at),
    }
}

envelope_schema!(IpBlockOne, ip_block, IpBlock);
collection_schema!(IpBlocks, ip_blocks, ip_blocks_links, IpBlock);
/// `{"subnets": [...]}`: a block's subnets.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what `blocks::list_subnets` renders
pub struct Subnets {
    pub subnets: Vec<IpBlock>,
}
/// A created subnet: under `subnet` or `ip_block`, as the request named it (decision 4).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what `blocks::create_subnet` renders
pub struct SubnetOne {
    pub subnet: Option<IpBlock>,
    pub ip_block: Option<IpBlock>,
}
envelope_schema!(IpAddressOne, ip_address, IpAddress);
collection_schema!(IpAddresses, ip_addresses, ip_addresses_links, IpAddress);
envelope_schema!(PolicyOne, policy, Policy);
collection_schema!(Policies, policies, policies_links, Policy);
envelope_schema!(IpRangeOne, ip_range, IpRange);
collection_schema!(IpRanges, ip_ranges, ip_ranges_links, IpRange);
envelope_schema!(IpOctetOne, ip_octet, IpOctet);
collection_schema!(IpOctets, ip_octets, ip_octets_links, IpOctet);
envelope_schema!(IpRouteOne, ip_route, IpRoute);
collection_schema!(IpRoutes, ip_routes, ip_routes_links, IpRoute);
