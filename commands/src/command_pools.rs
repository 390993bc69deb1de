//! The commands of resource pools (issue 9 §2), decided in `decide_pools.rs`. Fields are kept
//! as the client sent them so that a 400 lists every invalid one at once. `owner` is the
//! caller's tenant when a tenant token calls (it sees and changes only its own pools), None
//! for admins and agents.

use uuid::Uuid;

/// `POST /v1/pools`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatePool {
    pub owner: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub tenant_id: Option<String>,
    /// Block ids, in the order allocation tries them.
    pub resources: Option<Vec<String>>,
    pub default_prefix_length: Option<i64>,
    pub zone: Option<String>,
    pub strategy: Option<String>,
}

/// `PUT /v1/pools/{pool}`: absent fields are left unchanged; `Some(None)` clears an
/// optional one. `kind` and `tenant_id` may be sent back but not changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdatePool {
    pub owner: Option<String>,
    pub pool_id: Uuid,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub tenant_id: Option<String>,
    pub resources: Option<Vec<String>>,
    pub default_prefix_length: Option<Option<i64>>,
    pub zone: Option<Option<String>>,
    pub strategy: Option<String>,
}

/// One allocation asked of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolRequest {
    /// None: a new allocation every time, named by its id.
    pub identifier: Option<String>,
    pub prefix_length: Option<i64>,
    /// The client's `data` as compact JSON text.
    pub data: Option<String>,
    /// Overrides the pool's strategy for this request.
    pub strategy: Option<String>,
}

/// `POST /v1/pools/{pool}/allocations` (one request) and `.../allocations/batch` (all or
/// nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocateFromPool {
    pub owner: Option<String>,
    pub pool_id: Uuid,
    pub requests: Vec<PoolRequest>,
}
