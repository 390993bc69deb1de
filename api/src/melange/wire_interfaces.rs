//! Wire rendering of the interface family in Melange's JSON shapes: the interface view, the
//! ip-configuration view (an address with its block and the block's static routes), MAC
//! ranges. MACs are printed upper-case and colon-separated (decision 16).

use ipledger_domain::block;
use ipledger_domain::interfaces::{InterfaceView, IpConfiguration, MacRangeRecord};
use ipledger_domain::mac::{format_mac, MacRange};
use serde::Serialize;
use uuid::Uuid;

use crate::kit::wire::{envelope_schema, timestamp};
use crate::melange::wire::{opt_str, route, IpRoute};

pub fn mac(m: Option<u64>) -> Option<String> {
    m.map(format_mac)
}

/// `{id, interface_id, address, version, ip_block: {..., ip_routes}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpConfigurationOut {
    pub id: Uuid,
    pub interface_id: Option<String>,
    pub address: String,
    /// 4 or 6.
    pub version: u8,
    pub ip_block: IpConfigurationBlock,
}

/// The block of an ip configuration, with its static routes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpConfigurationBlock {
    pub id: Uuid,
    pub cidr: String,
    pub broadcast: String,
    pub gateway: Option<String>,
    pub network_id: Option<String>,
    pub netmask: String,
    pub dns1: Option<String>,
    pub dns2: Option<String>,
    pub tenant_id: String,
    pub ip_routes: Vec<IpRoute>,
}

pub fn ip_configuration(c: &IpConfiguration) -> IpConfigurationOut {
    let (a, b) = (&c.address, &c.block);
    IpConfigurationOut {
        id: a.id,
        interface_id: a.interface_id.clone(),
        address: a.address.to_string(),
        version: if a.address.is_ipv4() { 4 } else { 6 },
        ip_block: IpConfigurationBlock {
            id: b.id,
            cidr: b.cidr.to_string(),
            broadcast: block::broadcast(&b.cidr).to_string(),
            gateway: opt_str(&b.gateway),
            network_id: b.network_id.clone(),
            netmask: block::netmask(&b.cidr),
            dns1: opt_str(&b.dns1),
            dns2: opt_str(&b.dns2),
            tenant_id: b.tenant_id.clone(),
            ip_routes: c.routes.iter().map(route).collect(),
        },
    }
}

pub fn ip_configurations(cs: &[IpConfiguration]) -> Vec<IpConfigurationOut> {
    cs.iter().map(ip_configuration).collect()
}

/// `{id (the vif), device_id, tenant_id, mac_address, created_at, updated_at, ip_addresses}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Interface {
    /// The virtual interface id.
    pub id: String,
    pub device_id: Option<String>,
    pub tenant_id: String,
    pub mac_address: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub ip_addresses: Vec<IpConfigurationOut>,
}

pub fn interface(v: &InterfaceView) -> Interface {
    let i = &v.interface;
    Interface {
        id: i.vif.clone(),
        device_id: i.device_id.clone(),
        tenant_id: i.tenant_id.clone(),
        mac_address: mac(i.mac_address),
        created_at: timestamp(&i.created_at),
        updated_at: timestamp(&i.updated_at),
        ip_addresses: ip_configurations(&v.ip_addresses),
    }
}

/// `{id, cidr, tenant_id, created_at, updated_at}`; the cidr normalised like a block's
/// (first MAC of the range, upper case, colons).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MacAddressRange {
    pub id: Uuid,
    pub cidr: String,
    pub tenant_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn mac_range(r: &MacRangeRecord) -> MacAddressRange {
    let cidr =
        MacRange::new(r.first, r.prefix_len).map_or_else(|| format_mac(r.first), |m| m.to_string());
    MacAddressRange {
        id: r.id,
        cidr,
        tenant_id: r.tenant_id.clone(),
        created_at: timestamp(&r.created_at),
        updated_at: timestamp(&r.updated_at),
    }
}

envelope_schema!(InterfaceOne, interface, Interface);
/// `{"interfaces": [...]}`: a device's interfaces.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what the instance routes render
pub struct Interfaces {
    pub interfaces: Vec<Interface>,
}
envelope_schema!(InstanceOne, instance, Interfaces);
/// `{"ip_addresses": [...]}`: ip configurations (an address with its block and routes).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what the allocation routes render
pub struct IpConfigurations {
    pub ip_addresses: Vec<IpConfigurationOut>,
}
/// `{"ip_addresses": [...]}`: addresses, unpaged.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what the allowed-ips list renders
pub struct IpAddressList {
    pub ip_addresses: Vec<crate::melange::wire::IpAddress>,
}
envelope_schema!(MacAddressRangeOne, mac_address_range, MacAddressRange);
/// `{"mac_address_ranges": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what `macs::list` renders
pub struct MacAddressRanges {
    pub mac_address_ranges: Vec<MacAddressRange>,
}
