//! Wire rendering of records in Melange's JSON shapes: field names as the spec shows them,
//! computed fields (broadcast, netmask, version), timestamps as `YYYY-MM-DDTHH:MM:SS` UTC
//! (decision 21) and IPv6 in RFC 5952 compressed form (decision 11).

use ipledger_domain::block;
use ipledger_domain::records::{
    AddressRecord, BlockRecord, OctetRecord, PolicyRecord, RangeRecord,
};
use ipledger_domain::Timestamp;
use ipledger_projections::heatmap::Heatmap;
use serde_json::{json, Value};

/// The shared helpers, so Melange's handlers find every wire function here.
pub use crate::kit::wire::{collection, count, timestamp};

fn opt_ts(t: &Option<Timestamp>) -> Value {
    t.as_ref().map_or(Value::Null, |t| json!(timestamp(t)))
}

fn opt_str<T: ToString>(v: &Option<T>) -> Value {
    v.as_ref().map_or(Value::Null, |v| json!(v.to_string()))
}

pub fn block(b: &BlockRecord) -> Value {
    json!({
        "id": b.id,
        "cidr": b.cidr.to_string(),
        "network_id": b.network_id,
        "policy_id": b.policy_id,
        "tenant_id": b.tenant_id,
        "gateway": opt_str(&b.gateway),
        "parent_id": b.parent_id,
        "type": b.block_type.as_str(),
        "dns1": opt_str(&b.dns1),
        "dns2": opt_str(&b.dns2),
        "broadcast": block::broadcast(&b.cidr).to_string(),
        "netmask": block::netmask(&b.cidr),
        "ipv6_generator": b.ipv6_generator.map(|g| g.as_str()),
        "created_at": timestamp(&b.created_at),
        "updated_at": timestamp(&b.updated_at),
    })
}

/// A deallocated address shows null interface fields and when it was deallocated
/// (decision 14); restore brings the interface link back.
pub fn address(a: &AddressRecord) -> Value {
    let live = a.deallocated_at.is_none();
    json!({
        "id": a.id,
        "ip_block_id": a.block_id,
        "address": a.address.to_string(),
        "version": if a.address.is_ipv4() { 4 } else { 6 },
        "created_at": timestamp(&a.created_at),
        "updated_at": timestamp(&a.updated_at),
        "used_by_tenant": a.used_by_tenant,
        "used_by_device": if live { json!(a.used_by_device) } else { Value::Null },
        "interface_id": if live { json!(a.interface_id) } else { Value::Null },
        "deallocated_at": opt_ts(&a.deallocated_at),
    })
}

pub fn policy(p: &PolicyRecord) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "tenant_id": p.tenant_id,
        "created_at": timestamp(&p.created_at),
        "updated_at": timestamp(&p.updated_at),
    })
}

pub fn range(r: &RangeRecord) -> Value {
    json!({
        "id": r.id,
        "offset": r.offset,
        "length": r.length,
        "policy_id": r.policy_id,
        "created_at": timestamp(&r.created_at),
        "updated_at": timestamp(&r.updated_at),
    })
}

pub fn octet(o: &OctetRecord) -> Value {
    json!({
        "id": o.id,
        "octet": o.octet,
        "policy_id": o.policy_id,
        "created_at": timestamp(&o.created_at),
        "updated_at": timestamp(&o.updated_at),
    })
}

/// A static route, as the spec's "Static Routes" examples show it (`block_id` is not shown).
pub fn route(r: &ipledger_domain::routing::RouteRecord) -> Value {
    json!({
        "id": r.id,
        "destination": r.destination,
        "gateway": r.gateway,
        "netmask": r.netmask,
        "created_at": timestamp(&r.created_at),
        "updated_at": timestamp(&r.updated_at),
    })
}

/// A block's heat map: per cell its first address and its counts by state (the rest free).
pub fn heatmap(b: &BlockRecord, map: &Heatmap) -> Value {
    let cell_size = 1u128
        .checked_shl(map.cell_host_bits.into())
        .unwrap_or(u128::MAX);
    let cells: Vec<Value> = map
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let offset = (i as u128)
                .checked_shl(map.cell_host_bits.into())
                .unwrap_or(0);
            let busy = c.allocated + c.deallocated + c.held + c.reserved;
            json!({
                "start": block::address_at(&b.cidr, offset).to_string(),
                "allocated": c.allocated,
                "deallocated": c.deallocated,
                "held": c.held,
                "reserved": c.reserved,
                "free": count(cell_size.saturating_sub(busy.into())),
            })
        })
        .collect();
    json!({
        "ip_block_id": b.id,
        "cidr": b.cidr.to_string(),
        "size": count(block::size(&b.cidr)),
        "cell_prefix": b.cidr.max_prefix_len() - map.cell_host_bits,
        "cell_size": count(cell_size),
        "cells": cells,
    })
}
