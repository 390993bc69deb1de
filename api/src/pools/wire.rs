//! The JSON of pools (issue 9 §2): `{"pool": {...}}`, `{"allocation": {...}}` with the
//! address in CIDR form (address pools) or the prefix (prefix pools), and utilization.
//! Counts of addresses are JSON numbers up to 2^64 - 1 and decimal strings beyond (an IPv6
//! resource can hold 2^64 addresses and more: no JSON reader keeps such a number exact).

use ipledger_domain::pools::{PoolAllocationRecord, PoolRecord};
use ipledger_projections::Utilization;
use serde_json::{json, Value};

use crate::kit::wire::{count, timestamp};

pub fn pool(p: &PoolRecord) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "kind": p.kind.as_str(),
        "tenant_id": p.tenant_id,
        "resources": p.resources,
        "default_prefix_length": p.default_prefix_length,
        "zone": p.zone,
        "strategy": p.strategy.as_str(),
        "created_at": timestamp(&p.created_at),
        "updated_at": timestamp(&p.updated_at),
    })
}

pub fn allocation(a: &PoolAllocationRecord) -> Value {
    let data = a
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .unwrap_or(Value::Null);
    let mut out = json!({
        "id": a.id,
        "pool_id": a.pool_id,
        "identifier": a.identifier,
        "block_id": a.block_id,
        "data": data,
        "created_at": timestamp(&a.created_at),
    });
    match (a.address, a.prefix) {
        (Some(ip), _) => out["address"] = json!(format!("{ip}/{}", a.prefix_length)),
        (None, Some(net)) => out["prefix"] = json!(net.to_string()),
        (None, None) => {}
    }
    out
}

/// Allocated over total, in percent with two decimals.
fn percent(allocated: u128, total: u128) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let p = allocated as f64 * 100.0 / total as f64;
    (p * 100.0).round() / 100.0
}

pub fn utilization(u: &Utilization) -> Value {
    let resources: Vec<Value> = u
        .resources
        .iter()
        .map(|r| {
            json!({
                "block_id": r.block_id,
                "cidr": r.cidr.to_string(),
                "total": count(r.total),
                "allocated": count(r.allocated),
                "free": count(r.total.saturating_sub(r.allocated)),
                "percent": percent(r.allocated, r.total),
            })
        })
        .collect();
    json!({
        "total": count(u.total),
        "allocated": count(u.allocated),
        "free": count(u.total.saturating_sub(u.allocated)),
        "percent": percent(u.allocated, u.total),
        "resources": resources,
    })
}
