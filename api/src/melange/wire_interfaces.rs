//! Wire rendering of the interface family in Melange's JSON shapes: the interface view, the
//! ip-configuration view (an address with its block and the block's static routes), MAC
//! ranges. MACs are printed upper-case and colon-separated (decision 16).

use ipledger_domain::block;
use ipledger_domain::interfaces::{InterfaceView, IpConfiguration, MacRangeRecord};
use ipledger_domain::mac::{format_mac, MacRange};
use serde_json::{json, Value};

use crate::kit::wire::timestamp;
use crate::melange::wire::route;

fn opt_str<T: ToString>(v: &Option<T>) -> Value {
    v.as_ref().map_or(Value::Null, |v| json!(v.to_string()))
}

pub fn mac(m: Option<u64>) -> Value {
    m.map_or(Value::Null, |m| json!(format_mac(m)))
}

/// `{id, interface_id, address, version, ip_block: {..., ip_routes}}`.
pub fn ip_configuration(c: &IpConfiguration) -> Value {
    let (a, b) = (&c.address, &c.block);
    let routes: Vec<Value> = c.routes.iter().map(route).collect();
    json!({
        "id": a.id,
        "interface_id": a.interface_id,
        "address": a.address.to_string(),
        "version": if a.address.is_ipv4() { 4 } else { 6 },
        "ip_block": {
            "id": b.id,
            "cidr": b.cidr.to_string(),
            "broadcast": block::broadcast(&b.cidr).to_string(),
            "gateway": opt_str(&b.gateway),
            "network_id": b.network_id,
            "netmask": block::netmask(&b.cidr),
            "dns1": opt_str(&b.dns1),
            "dns2": opt_str(&b.dns2),
            "tenant_id": b.tenant_id,
            "ip_routes": routes,
        },
    })
}

pub fn ip_configurations(cs: &[IpConfiguration]) -> Value {
    Value::Array(cs.iter().map(ip_configuration).collect())
}

/// `{id (the vif), device_id, tenant_id, mac_address, created_at, updated_at, ip_addresses}`.
pub fn interface(v: &InterfaceView) -> Value {
    let i = &v.interface;
    json!({
        "id": i.vif,
        "device_id": i.device_id,
        "tenant_id": i.tenant_id,
        "mac_address": mac(i.mac_address),
        "created_at": timestamp(&i.created_at),
        "updated_at": timestamp(&i.updated_at),
        "ip_addresses": ip_configurations(&v.ip_addresses),
    })
}

/// `{id, cidr, tenant_id, created_at, updated_at}`; the cidr normalised like a block's
/// (first MAC of the range, upper case, colons).
pub fn mac_range(r: &MacRangeRecord) -> Value {
    let cidr =
        MacRange::new(r.first, r.prefix_len).map_or_else(|| format_mac(r.first), |m| m.to_string());
    json!({
        "id": r.id,
        "cidr": cidr,
        "tenant_id": r.tenant_id,
        "created_at": timestamp(&r.created_at),
        "updated_at": timestamp(&r.updated_at),
    })
}
