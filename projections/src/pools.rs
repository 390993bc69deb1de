//! Resource pools folded from their events (issue 9 §2): pools by id, by tenant, by zone and
//! by resource block; each pool's allocations by id and by identifier; and which pool holds
//! an address or a block, so that Melange's deallocation of a pool's address or deletion of
//! a pool's block is refused, and a block serving as a pool resource is not deleted.
//!
//! Utilization is computed here from the blocks' free maps and child lists (see
//! [`State::pool_utilization`]).

use imbl::{OrdMap, OrdSet};
use std::ops::Bound;

use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::pools::{PoolAllocationRecord, PoolKind, PoolRecord};
use ipledger_domain::records::Holder;
use ipledger_domain::Timestamp;
use uuid::Uuid;

use crate::page::{after, Page, PageRequest};
use crate::State;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolState {
    pub record: PoolRecord,
    /// Allocations by id (the listing's order and marker).
    pub allocations: OrdMap<Uuid, PoolAllocationRecord>,
    /// Allocation ids by identifier: one identifier, one allocation.
    pub by_identifier: OrdMap<String, Uuid>,
    /// How many allocations each resource block holds (a resource holding some cannot be
    /// taken out of the pool).
    pub per_resource: OrdMap<Uuid, usize>,
}

impl PoolState {
    pub fn allocation(&self, identifier: &str) -> Option<&PoolAllocationRecord> {
        self.allocations.get(self.by_identifier.get(identifier)?)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pools {
    pub(crate) by_id: OrdMap<Uuid, PoolState>,
    by_tenant: OrdSet<(String, Uuid)>,
    /// (zone, created at, id): a zone's pools in creation order.
    pub(crate) by_zone: OrdSet<(String, Timestamp, Uuid)>,
    /// (resource block, pool): the pools a block serves.
    by_resource: OrdSet<(Uuid, Uuid)>,
    /// Address id → (pool, allocation) for the addresses address pools hold.
    addresses: OrdMap<Uuid, (Uuid, Uuid)>,
    /// Block id → (pool, allocation) for the blocks prefix pools made.
    blocks: OrdMap<Uuid, (Uuid, Uuid)>,
}

impl Pools {
    pub(crate) fn apply(&mut self, event: &Event) {
        match event {
            Event::PoolCreated(e) => self.created(e),
            Event::PoolUpdated(e) => self.updated(e),
            Event::PoolDeleted(e) => self.deleted(e),
            Event::PoolAllocated(e) => self.allocated(e),
            Event::PoolReleased(e) => self.released(e),
            _ => {}
        }
    }

    fn created(&mut self, e: &PoolCreated) {
        let record = PoolRecord {
            id: e.pool_id,
            name: e.name.clone(),
            kind: e.kind,
            tenant_id: e.tenant_id.clone(),
            resources: e.resources.clone(),
            default_prefix_length: e.default_prefix_length,
            zone: e.zone.clone(),
            strategy: e.strategy,
            created_at: e.created_at,
            updated_at: e.created_at,
        };
        if let Some(old) = self.by_id.remove(&e.pool_id) {
            // A repeated id replaces the pool (the writer never emits one).
            self.unindex(&old.record);
        }
        self.index(&record);
        self.by_id.insert(
            e.pool_id,
            PoolState {
                record,
                allocations: OrdMap::new(),
                by_identifier: OrdMap::new(),
                per_resource: OrdMap::new(),
            },
        );
    }

    fn index(&mut self, r: &PoolRecord) {
        self.by_tenant.insert((r.tenant_id.clone(), r.id));
        if let Some(zone) = &r.zone {
            self.by_zone.insert((zone.clone(), r.created_at, r.id));
        }
        for b in &r.resources {
            self.by_resource.insert((*b, r.id));
        }
    }

    fn unindex(&mut self, r: &PoolRecord) {
        self.by_tenant.remove(&(r.tenant_id.clone(), r.id));
        if let Some(zone) = &r.zone {
            self.by_zone.remove(&(zone.clone(), r.created_at, r.id));
        }
        for b in &r.resources {
            self.by_resource.remove(&(*b, r.id));
        }
    }

    fn updated(&mut self, e: &PoolUpdated) {
        let Some(mut p) = self.by_id.remove(&e.pool_id) else {
            return;
        };
        self.unindex(&p.record);
        let r = &mut p.record;
        r.name = e.name.clone();
        r.resources = e.resources.clone();
        r.default_prefix_length = e.default_prefix_length;
        r.zone = e.zone.clone();
        r.strategy = e.strategy;
        r.updated_at = e.updated_at;
        self.index(&p.record);
        self.by_id.insert(e.pool_id, p);
    }

    fn deleted(&mut self, e: &PoolDeleted) {
        let Some(p) = self.by_id.remove(&e.pool_id) else {
            return;
        };
        self.unindex(&p.record);
        for a in p.allocations.values() {
            self.forget_holding(a);
        }
    }

    fn allocated(&mut self, e: &PoolAllocated) {
        let Some(p) = self.by_id.get_mut(&e.pool_id) else {
            return;
        };
        let record = PoolAllocationRecord {
            id: e.allocation_id,
            pool_id: e.pool_id,
            identifier: e.identifier.clone(),
            block_id: e.block_id,
            resource_id: e.resource_id,
            address_id: e.address_id,
            address: e.address,
            prefix: e.prefix,
            prefix_length: e.prefix_length,
            strategy: e.strategy,
            data: e.data.clone(),
            created_at: e.allocated_at,
        };
        if let Some(old) = p
            .by_identifier
            .insert(e.identifier.clone(), e.allocation_id)
        {
            // The writer never reuses a live identifier; keep the fold total anyway.
            if let Some(old) = p.allocations.remove(&old) {
                Self::uncount(p, old.resource_id);
                self.forget_holding(&old);
            }
        }
        let Some(p) = self.by_id.get_mut(&e.pool_id) else {
            return;
        };
        *p.per_resource.entry(e.resource_id).or_default() += 1;
        p.allocations.insert(e.allocation_id, record);
        match (p.record.kind, e.address_id) {
            (PoolKind::Address, Some(address)) => {
                self.addresses.insert(address, (e.pool_id, e.allocation_id));
            }
            _ => {
                self.blocks.insert(e.block_id, (e.pool_id, e.allocation_id));
            }
        }
    }

    fn uncount(p: &mut PoolState, resource: Uuid) {
        if let Some(n) = p.per_resource.get_mut(&resource) {
            *n -= 1;
            if *n == 0 {
                p.per_resource.remove(&resource);
            }
        }
    }

    fn forget_holding(&mut self, a: &PoolAllocationRecord) {
        match a.address_id {
            Some(address) => {
                self.addresses.remove(&address);
            }
            None => {
                self.blocks.remove(&a.block_id);
            }
        }
    }

    fn released(&mut self, e: &PoolReleased) {
        let Some(p) = self.by_id.get_mut(&e.pool_id) else {
            return;
        };
        let Some(a) = p.allocations.remove(&e.allocation_id) else {
            return;
        };
        if p.by_identifier.get(&a.identifier) == Some(&a.id) {
            p.by_identifier.remove(&a.identifier);
        }
        Self::uncount(p, a.resource_id);
        self.forget_holding(&a);
    }

    /// The holder of one allocation, by (pool, allocation).
    fn holder(&self, (pool, allocation): (Uuid, Uuid)) -> Option<Holder> {
        let a = self.by_id.get(&pool)?.allocations.get(&allocation)?;
        Some(Holder::Pool {
            pool_id: pool,
            identifier: a.identifier.clone(),
        })
    }
}

/// A pool's utilization, over all its resources and per resource (issue 9 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utilization {
    pub total: u128,
    pub allocated: u128,
    pub resources: Vec<ResourceUse>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUse {
    pub block_id: Uuid,
    pub cidr: ipnet::IpNet,
    pub total: u128,
    pub allocated: u128,
}

impl State {
    /// The pool with this id, when `owner` (a tenant token's tenant; `None`: any) may see it.
    pub fn pool_of(&self, owner: Option<&str>, id: Uuid) -> Option<&PoolState> {
        self.pools
            .by_id
            .get(&id)
            .filter(|p| owner.is_none_or(|t| p.record.tenant_id == t))
    }

    /// Pools in id order: `owner`'s (a tenant token), or every tenant's (`None`), optionally
    /// only `tenant`'s.
    pub fn list_pools(
        &self,
        owner: Option<&str>,
        tenant: Option<&str>,
        page: PageRequest,
    ) -> Page<&PoolRecord> {
        let tenant = match (owner, tenant) {
            (Some(o), Some(t)) if o != t => {
                return Page {
                    items: Vec::new(),
                    next_marker: None,
                }
            }
            (Some(o), _) => Some(o),
            (None, t) => t,
        };
        match tenant {
            Some(t) => {
                let low = match page.marker {
                    Some(m) => Bound::Excluded((t.to_string(), m)),
                    None => Bound::Included((t.to_string(), Uuid::nil())),
                };
                let high = Bound::Included((t.to_string(), Uuid::max()));
                page.take(
                    self.pools
                        .by_tenant
                        .range((low, high))
                        .filter_map(|(_, id)| Some((*id, &self.pools.by_id.get(id)?.record))),
                )
            }
            None => page.take(
                self.pools
                    .by_id
                    .range(after(page.marker))
                    .map(|(id, p)| (*id, &p.record)),
            ),
        }
    }

    /// A pool's allocations in id order.
    pub fn pool_allocations<'a>(
        &'a self,
        pool: &'a PoolState,
        page: PageRequest,
    ) -> Page<&'a PoolAllocationRecord> {
        page.take(
            pool.allocations
                .range(after(page.marker))
                .map(|(id, a)| (*id, a)),
        )
    }

    /// The address pools of a zone, in creation order (issue 10's zones and Scaleway's
    /// `zonal` source).
    pub fn pools_in_zone(&self, zone: &str) -> Vec<&PoolRecord> {
        let low = (zone.to_string(), Timestamp::MIN_UTC, Uuid::nil());
        let high = (zone.to_string(), Timestamp::MAX_UTC, Uuid::max());
        self.pools
            .by_zone
            .range(low..=high)
            .filter_map(|(_, _, id)| self.pools.by_id.get(id))
            .map(|p| &p.record)
            .filter(|r| r.kind == PoolKind::Address)
            .collect()
    }

    /// The pools that use `block` as a resource, in id order.
    pub fn pools_using(&self, block: Uuid) -> Vec<Uuid> {
        self.pools
            .by_resource
            .range((block, Uuid::nil())..=(block, Uuid::max()))
            .map(|(_, p)| *p)
            .collect()
    }

    /// Whether a pool holds the address (part of `State::holder_of`).
    pub(crate) fn pool_holder_of(&self, address_id: Uuid) -> Option<Holder> {
        let held = *self.pools.addresses.get(&address_id)?;
        self.pools.holder(held)
    }

    /// Which pool allocation made the block, if one did.
    pub fn block_holder(&self, block_id: Uuid) -> Option<Holder> {
        let held = *self.pools.blocks.get(&block_id)?;
        self.pools.holder(held)
    }

    /// Every address of each resource block, and how many are in use: held by any surface
    /// (Melange, pools, pending requests; soft-deallocated ones keep their place) or covered
    /// by a child block. Counting a child costs a lookup per child, never a walk of addresses.
    pub fn pool_utilization(&self, pool: &PoolState) -> Utilization {
        let mut resources = Vec::new();
        for id in &pool.record.resources {
            let Some(b) = self.blocks.get(id) else {
                continue;
            };
            let covered = b
                .children
                .iter()
                .filter_map(|c| self.blocks.get(c))
                .fold(0u128, |n, c| n.saturating_add(block::size(&c.record.cidr)));
            resources.push(ResourceUse {
                block_id: *id,
                cidr: b.record.cidr,
                total: block::size(&b.record.cidr),
                allocated: b.free.used_count().saturating_add(covered),
            });
        }
        Utilization {
            total: resources.iter().fold(0, |n, r| n.saturating_add(r.total)),
            allocated: resources
                .iter()
                .fold(0, |n, r| n.saturating_add(r.allocated)),
            resources,
        }
    }
}
