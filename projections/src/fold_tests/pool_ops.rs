//! The fold tests' share of resource pools (issue 9 §2): operations that emit the pool
//! events the writer could have decided (a pool over one block; an address pool's allocation
//! is `AddressAllocated` then `PoolAllocated`, a prefix pool's is a subnet's `BlockCreated`
//! then `PoolAllocated`; a release frees the address at once or deletes the subnet; only a
//! pool without allocations is deleted), the plain model of what they say, and the check
//! that the folded state agrees.

use std::collections::BTreeMap;

use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::pools::{PoolKind, PoolStrategy};
use ipledger_domain::records::{BlockType, Holder};
use ipledger_domain::Event;
use ipnet::IpNet;
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

use super::Model;
use crate::State;

#[derive(Debug, Clone)]
pub(super) enum PoolOp {
    Create {
        block: Index,
        prefix: bool,
        zone: bool,
    },
    Update {
        pool: Index,
        zone: bool,
    },
    Allocate {
        pool: Index,
        seed: u64,
    },
    Release {
        pool: Index,
        pick: Index,
    },
    Delete {
        pool: Index,
    },
}

pub(super) fn op() -> impl Strategy<Value = PoolOp> {
    let idx = any::<Index>;
    prop_oneof![
        2 => (idx(), any::<bool>(), any::<bool>())
            .prop_map(|(block, prefix, zone)| PoolOp::Create { block, prefix, zone }),
        1 => (idx(), any::<bool>()).prop_map(|(pool, zone)| PoolOp::Update { pool, zone }),
        4 => (idx(), any::<u64>()).prop_map(|(pool, seed)| PoolOp::Allocate { pool, seed }),
        2 => (idx(), idx()).prop_map(|(pool, pick)| PoolOp::Release { pool, pick }),
        1 => idx().prop_map(|pool| PoolOp::Delete { pool }),
    ]
}

/// A pool of the model: its resource and its allocations (id → (identifier, address id or
/// None for a prefix, block)).
#[derive(Debug, Clone)]
pub(super) struct ModelPool {
    id: Uuid,
    kind: PoolKind,
    resource: Uuid,
    allocations: BTreeMap<Uuid, (String, Option<Uuid>, Uuid)>,
}

#[derive(Debug, Default)]
pub(super) struct PoolModel {
    pools: Vec<ModelPool>,
}

fn pick<'a>(model: &'a mut Model, i: &Index) -> Option<&'a mut ModelPool> {
    let pools = &mut model.pools.pools;
    if pools.is_empty() {
        return None;
    }
    let n = i.index(pools.len());
    Some(&mut pools[n])
}

pub(super) fn interpret(model: &mut Model, op: &PoolOp) {
    match op {
        PoolOp::Create {
            block,
            prefix,
            zone,
        } => {
            if model.blocks.is_empty() {
                return;
            }
            let resource = model.blocks[block.index(model.blocks.len())].id;
            let pool_id = model.fresh_id();
            let kind = if *prefix {
                PoolKind::Prefix
            } else {
                PoolKind::Address
            };
            model.pools.pools.push(ModelPool {
                id: pool_id,
                kind,
                resource,
                allocations: BTreeMap::new(),
            });
            let e = PoolCreated {
                pool_id,
                name: "p".into(),
                kind,
                tenant_id: "t1".into(),
                resources: vec![resource],
                default_prefix_length: None,
                zone: zone.then(|| "zone-a".to_string()),
                strategy: PoolStrategy::First,
                created_at: model.now(),
            };
            model.emit(Event::PoolCreated(e));
        }
        PoolOp::Update { pool, zone } => {
            let Some(p) = pick(model, pool) else { return };
            let e = PoolUpdated {
                pool_id: p.id,
                name: "renamed".into(),
                resources: vec![p.resource],
                default_prefix_length: Some(24),
                zone: zone.then(|| "zone-b".to_string()),
                strategy: PoolStrategy::Last,
                updated_at: model.now(),
            };
            model.emit(Event::PoolUpdated(e));
        }
        PoolOp::Allocate { pool, seed } => allocate(model, pool, *seed),
        PoolOp::Release { pool, pick: which } => release(model, pool, which),
        PoolOp::Delete { pool } => {
            let Some(p) = pick(model, pool) else { return };
            if !p.allocations.is_empty() {
                return;
            }
            let pool_id = p.id;
            model.pools.pools.retain(|p| p.id != pool_id);
            let e = PoolDeleted {
                pool_id,
                deleted_at: model.now(),
            };
            model.emit(Event::PoolDeleted(e));
        }
    }
}

fn allocate(model: &mut Model, pool: &Index, seed: u64) {
    let Some(p) = pick(model, pool) else { return };
    let (pool_id, kind, resource) = (p.id, p.kind, p.resource);
    let Some(b) = model.block(resource) else {
        return;
    };
    let cidr = b.cidr;
    let (block_id, address_id, address, prefix) = match kind {
        PoolKind::Address => {
            if !b.children.is_empty() {
                return;
            }
            let window = block::size(&cidr).min(1 << 12);
            let start = seed as u128 % window;
            let Some(offset) = (0..window)
                .map(|i| (start + i) % window)
                .find(|o| !b.used.contains_key(o) && !b.held.contains(o))
            else {
                return;
            };
            let address_id = model.fresh_id();
            let address = block::address_at(&cidr, offset);
            model.emit(Event::AddressAllocated(AddressAllocated {
                block_id: resource,
                address_id,
                address,
                interface_id: None,
                used_by_tenant: "t1".into(),
                used_by_device: None,
                mac_address: None,
                allocated_at: model.now(),
            }));
            (resource, Some(address_id), Some(address), None)
        }
        PoolKind::Prefix => {
            if !b.used.is_empty() || !b.held.is_empty() || block::host_bits(&cidr) < 2 {
                return;
            }
            let quarter = |q: u128| {
                let start = block::address_at(&cidr, block::size(&cidr) / 4 * q);
                IpNet::new(start, cidr.prefix_len() + 2).unwrap()
            };
            let free = (0..4).map(quarter).find(|net| {
                b.children.iter().all(|c| {
                    model
                        .block(*c)
                        .is_none_or(|c| !block::overlaps(&c.cidr, net))
                })
            });
            let Some(net) = free else { return };
            let block_id = model.fresh_id();
            model.emit(Event::BlockCreated(BlockCreated {
                block_id,
                tenant_id: "t1".into(),
                cidr: net,
                block_type: BlockType::Private,
                network_id: None,
                policy_id: None,
                gateway: None,
                dns1: None,
                dns2: None,
                parent_id: Some(resource),
                created_at: model.now(),
                ipv6_generator: None,
            }));
            (block_id, None, None, Some(net))
        }
    };
    let allocation_id = model.fresh_id();
    let identifier = format!("id-{}", seed % 1000);
    let taken = pick(model, pool)
        .expect("the pool")
        .allocations
        .values()
        .any(|(i, _, _)| *i == identifier);
    let identifier = if taken {
        allocation_id.to_string()
    } else {
        identifier
    };
    pick(model, pool)
        .expect("the pool")
        .allocations
        .insert(allocation_id, (identifier.clone(), address_id, block_id));
    model.emit(Event::PoolAllocated(PoolAllocated {
        pool_id,
        allocation_id,
        identifier,
        block_id,
        resource_id: resource,
        address_id,
        address,
        prefix,
        prefix_length: prefix.map_or(cidr.prefix_len(), |p| p.prefix_len()),
        strategy: None,
        data: Some("{\"k\":1}".into()),
        allocated_at: model.now(),
    }));
}

fn release(model: &mut Model, pool: &Index, which: &Index) {
    let Some(p) = pick(model, pool) else { return };
    if p.allocations.is_empty() {
        return;
    }
    let pool_id = p.id;
    let allocation_id = *p
        .allocations
        .keys()
        .nth(which.index(p.allocations.len()))
        .expect("in range");
    let (identifier, address_id, block_id) = p.allocations.remove(&allocation_id).expect("present");
    let now = model.now();
    model.emit(Event::PoolReleased(PoolReleased {
        pool_id,
        allocation_id,
        identifier,
        released_at: now,
    }));
    // Other operations of the log may have taken the address or the block away already.
    match address_id {
        Some(id) => {
            let Some(b) = model.block(block_id) else {
                return;
            };
            let Some(offset) = model
                .events
                .iter()
                .find_map(|e| match e {
                    Event::AddressAllocated(a) if a.address_id == id => Some(a.address),
                    _ => None,
                })
                .and_then(|a| block::offset_of(&b.cidr, a))
                .filter(|o| b.used.contains_key(o))
            else {
                return;
            };
            let address = block::address_at(&b.cidr, offset);
            model.emit(Event::AddressDeallocated(AddressDeallocated {
                block_id,
                address,
                deallocated_at: now,
            }));
            model.emit(Event::AddressPurged(AddressPurged {
                block_id,
                address,
                purged_at: now,
            }));
        }
        None => {
            let Some(b) = model.block(block_id) else {
                return;
            };
            if !b.children.is_empty() || !b.used.is_empty() || !b.held.is_empty() {
                return;
            }
            model.emit(Event::BlockDeleted(BlockDeleted {
                block_id,
                deleted_at: now,
            }));
        }
    }
}

/// The folded pools agree with the model: the pools, their allocations by identifier, and
/// the holder of each allocated address still in its block.
pub(super) fn check(state: &State, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(state.pools.by_id.len(), model.pools.pools.len());
    for m in &model.pools.pools {
        let p = state.pool_of(None, m.id).expect("the pool is folded");
        prop_assert_eq!(p.allocations.len(), m.allocations.len());
        prop_assert_eq!(p.by_identifier.len(), m.allocations.len());
        for (id, (identifier, address, _)) in &m.allocations {
            prop_assert_eq!(p.allocation(identifier).map(|a| a.id), Some(*id));
            if let Some(address) = address.filter(|a| state.address(*a).is_some()) {
                let want = Holder::Pool {
                    pool_id: m.id,
                    identifier: identifier.clone(),
                };
                prop_assert_eq!(state.holder_of(address), Some(want));
            }
        }
    }
    Ok(())
}
