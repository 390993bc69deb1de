//! The JSON of pools (issue 9 §2): `{"pool": {...}}`, `{"allocation": {...}}` with the
//! address in CIDR form (address pools) or the prefix (prefix pools), and utilization.
//! Counts of addresses are JSON numbers up to 2^64 - 1 and decimal strings beyond (an IPv6
//! resource can hold 2^64 addresses and more: no JSON reader keeps such a number exact).

use ipledger_domain::pools::{PoolAllocationRecord, PoolRecord};
use ipledger_projections::Utilization;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::kit::wire::{collection_schema, count, envelope_schema, timestamp, Count};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pool {
    pub created_at: String,
    pub default_prefix_length: Option<u8>,
    pub id: Uuid,
    /// `address` or `prefix`.
    pub kind: &'static str,
    pub name: String,
    /// The tenant's block ids the pool takes from, in the order it tries them.
    pub resources: Vec<Uuid>,
    /// `first`, `last`, `best_fit`, ...
    pub strategy: &'static str,
    pub tenant_id: String,
    pub updated_at: String,
    pub zone: Option<String>,
}

pub fn pool(p: &PoolRecord) -> Pool {
    Pool {
        id: p.id,
        name: p.name.clone(),
        kind: p.kind.as_str(),
        tenant_id: p.tenant_id.clone(),
        resources: p.resources.clone(),
        default_prefix_length: p.default_prefix_length,
        zone: p.zone.clone(),
        strategy: p.strategy.as_str(),
        created_at: timestamp(&p.created_at),
        updated_at: timestamp(&p.updated_at),
    }
}

/// An allocation: `address` (address pools, CIDR form) or `prefix` (prefix pools).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Allocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub block_id: Uuid,
    pub created_at: String,
    /// The client's `data`, as given (null: none).
    pub data: Value,
    pub id: Uuid,
    pub identifier: String,
    pub pool_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

pub fn allocation(a: &PoolAllocationRecord) -> Allocation {
    let data = a
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .unwrap_or(Value::Null);
    let (address, prefix) = match (a.address, a.prefix) {
        (Some(ip), _) => (Some(format!("{ip}/{}", a.prefix_length)), None),
        (None, Some(net)) => (None, Some(net.to_string())),
        (None, None) => (None, None),
    };
    Allocation {
        id: a.id,
        pool_id: a.pool_id,
        identifier: a.identifier.clone(),
        block_id: a.block_id,
        data,
        created_at: timestamp(&a.created_at),
        address,
        prefix,
    }
}

/// Allocated over total, in percent with two decimals.
fn percent(allocated: u128, total: u128) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let p = allocated as f64 * 100.0 / total as f64;
    (p * 100.0).round() / 100.0
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceUse {
    pub block_id: Uuid,
    pub cidr: String,
    pub total: Count,
    pub allocated: Count,
    pub free: Count,
    pub percent: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoolUse {
    pub total: Count,
    pub allocated: Count,
    pub free: Count,
    pub percent: f64,
    pub resources: Vec<ResourceUse>,
}

pub fn utilization(u: &Utilization) -> PoolUse {
    let resources = u
        .resources
        .iter()
        .map(|r| ResourceUse {
            block_id: r.block_id,
            cidr: r.cidr.to_string(),
            total: count(r.total),
            allocated: count(r.allocated),
            free: count(r.total.saturating_sub(r.allocated)),
            percent: percent(r.allocated, r.total),
        })
        .collect();
    PoolUse {
        total: count(u.total),
        allocated: count(u.allocated),
        free: count(u.total.saturating_sub(u.allocated)),
        percent: percent(u.allocated, u.total),
        resources,
    }
}

envelope_schema!(PoolOne, pool, Pool);
collection_schema!(Pools, pools, pools_links, Pool);
envelope_schema!(AllocationOne, allocation, Allocation);
collection_schema!(Allocations, allocations, allocations_links, Allocation);
/// `{"allocations": [...]}`: a batch's allocations, in the request's order.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what `allocations::batch` renders
pub struct AllocationBatch {
    pub allocations: Vec<Allocation>,
}
envelope_schema!(PoolUseOne, utilization, PoolUse);
