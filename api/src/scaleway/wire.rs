//! The IP object as the SDK unmarshals it (`scaleway/ipam/v1/marshalling.py`): every key it
//! reads is present, `address` in CIDR form with the block's prefix length, `zone` null
//! (no zonal source yet), `resource` null when detached.

use ipledger_domain::scaleway::ScalewayIpRecord;
use ipledger_domain::Timestamp;
use ipledger_projections::State;
use serde_json::{json, Map, Value};

/// RFC 3339 in UTC with microseconds, as Scaleway writes it (the SDK parses with isoparse).
pub fn time(t: &Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One IP; the prefix length comes from its block (a host prefix if the block is gone,
/// which cannot happen while the IP lives: a block with live addresses is not deleted).
pub fn ip(views: &State, ip: &ScalewayIpRecord, region: &str) -> Value {
    let host = if ip.address.is_ipv6() { 128 } else { 32 };
    let prefix = views
        .block(ip.block_id)
        .map_or(host, |b| b.record.cidr.prefix_len());
    let mut source = Map::new();
    if let Some(pn) = &ip.source.private_network_id {
        source.insert("private_network_id".into(), json!(pn));
    }
    if let Some(zone) = &ip.source.zonal {
        source.insert("zonal".into(), json!(zone));
    }
    // The block is the IP's subnet whatever the source named, as Scaleway shows a private
    // network's IP with the subnet it took it from.
    source.insert("subnet_id".into(), json!(ip.block_id));
    let resource = ip.resource.as_ref().map(|r| {
        json!({"type": r.resource_type, "id": r.id, "mac_address": r.mac_address, "name": r.name})
    });
    let reverses: Vec<Value> = ip
        .reverses
        .iter()
        .map(|r| json!({"hostname": r.hostname, "address": r.address.map(|a| a.to_string())}))
        .collect();
    json!({
        "id": ip.id,
        "address": format!("{}/{prefix}", ip.address),
        "project_id": ip.project_id,
        "is_ipv6": ip.address.is_ipv6(),
        "created_at": time(&ip.created_at),
        "updated_at": time(&ip.updated_at),
        "source": source,
        "resource": resource,
        "tags": ip.tags,
        "reverses": reverses,
        "region": region,
        "zone": ip.source.zonal,
    })
}

/// `ListIPsResponse`: `total_count` (an integer) and `ips` (always present: the SDK's
/// list-all stops on an empty list).
pub fn list(total: usize, ips: Vec<Value>) -> Value {
    json!({"total_count": total, "ips": ips})
}
