//! Allocation from a pool (issue 9 §2): one request or a batch, all or nothing.
//!
//! An address pool takes the next address of its resources in order (`first`: the lowest of
//! the first block with one; `last`: the highest, resources in reverse), skipping blocks with
//! subnets, the reserved addresses and policy exclusions exactly as Melange's automatic
//! allocation does; IPv6 resources are filled sequentially (no generator: a pool has no MAC).
//! A prefix pool carves the next free aligned child prefix of the asked length out of a
//! resource without addresses of its own (Melange's subnet rule) and creates it as a block of
//! the pool's tenant through Melange's own block creation, so it is an ordinary subnet.
//!
//! The identifier is guarded in the pool's stream: a request naming an identifier already
//! allocated gets that allocation back when its parameters are the same (no event), 409
//! otherwise. The search is bounded by the structures, never by the addresses: the free map
//! answers "next/previous free" in O(levels), and prefixes are found from the parent's
//! subnets in address order (`carve.rs`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use ipledger_domain::block;
use ipledger_domain::carve;
use ipledger_domain::events::*;
use ipledger_domain::limits::{POOL_BATCH_MAX, STRING_BYTES_MAX};
use ipledger_domain::pools::{self, PoolAllocationRecord, PoolKind, PoolStrategy};
use ipledger_domain::records::Reply;
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{BlockState, PoolState, State};
use ipnet::IpNet;
use uuid::Uuid;

use crate::command::CreateBlock;
use crate::command_pools::{AllocateFromPool, PoolRequest};
use crate::decide::{Context, Decision};
use crate::decide_addresses::exclusions;
use crate::decide_pools::{parse_strategy, pool};

/// A request's checked parameters.
struct Asked {
    identifier: Option<String>,
    prefix_length: Option<u8>,
    data: Option<String>,
    strategy: Option<PoolStrategy>,
}

/// One request's decisions so far, laid over the state: later requests of a batch see the
/// addresses, prefixes and identifiers earlier ones took.
struct Batch<'s> {
    state: &'s State,
    pool: &'s PoolState,
    events: Vec<Event>,
    taken: HashSet<(Uuid, u128)>,
    /// Spans carved by this batch, by resource, as absolute addresses.
    carved: BTreeMap<Uuid, BTreeSet<(u128, u128)>>,
    made: BTreeMap<String, PoolAllocationRecord>,
}

pub fn allocate(
    state: &State,
    c: &AllocateFromPool,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = pool(state, c.owner.as_deref(), c.pool_id)?;
    if c.requests.is_empty() || c.requests.len() > POOL_BATCH_MAX {
        return Err(Rejection::invalid(
            "allocations",
            format!("a batch has 1 to {POOL_BATCH_MAX} allocations"),
        ));
    }
    let mut batch = Batch {
        state,
        pool: p,
        events: Vec::new(),
        taken: HashSet::new(),
        carved: BTreeMap::new(),
        made: BTreeMap::new(),
    };
    let prefix = |i: usize| {
        if c.requests.len() > 1 {
            format!("allocations.{i}.")
        } else {
            String::new()
        }
    };
    let asked: Vec<Asked> = c
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| batch.check(r, &prefix(i)))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(asked.len());
    for a in asked {
        out.push(batch.one(a, ctx)?);
    }
    Ok(Decision::new(batch.events, Reply::PoolAllocations(out)))
}

/// Two sorted span streams as one (ascending, or descending with `desc`).
fn merge(
    a: impl Iterator<Item = (u128, u128)>,
    b: impl Iterator<Item = (u128, u128)>,
    desc: bool,
) -> impl Iterator<Item = (u128, u128)> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) => {
            if (x.0 < y.0) != desc {
                a.next()
            } else {
                b.next()
            }
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

impl<'s> Batch<'s> {
    fn width(&self) -> u8 {
        let v6 = self
            .pool
            .record
            .resources
            .iter()
            .find_map(|id| self.state.block(*id))
            .is_some_and(|b| b.record.cidr.network().is_ipv6());
        if v6 {
            128
        } else {
            32
        }
    }

    fn check(&self, r: &PoolRequest, at: &str) -> Result<Asked, Rejection> {
        let mut errors = FieldErrors::default();
        let field = |name: &str| format!("{at}{name}");
        if let Some(id) = r
            .identifier
            .as_deref()
            .filter(|i| !pools::valid_identifier(i))
        {
            errors.add(
                &field("identifier"),
                format!(
                    "identifier {id:?} should be 1 to {} letters, digits and . _ ~ : - \
                     (not . or ..)",
                    pools::IDENTIFIER_BYTES_MAX
                ),
            );
        }
        let width = self.width();
        let prefix_length = r.prefix_length.and_then(|l| {
            let ok = (0..=i64::from(width)).contains(&l);
            if !ok {
                errors.add(
                    &field("prefix_length"),
                    format!("prefix_length should be between 0 and {width}"),
                );
            }
            ok.then_some(l as u8)
        });
        let kind = self.pool.record.kind;
        if kind == PoolKind::Prefix
            && prefix_length.is_none()
            && r.prefix_length.is_none()
            && self.pool.record.default_prefix_length.is_none()
        {
            errors.add(
                &field("prefix_length"),
                "prefix_length is required: the pool has no default_prefix_length",
            );
        }
        if r.data.as_ref().is_some_and(|d| d.len() > STRING_BYTES_MAX) {
            errors.add(
                &field("data"),
                format!("data is longer than {STRING_BYTES_MAX} bytes"),
            );
        }
        let strategy = parse_strategy(
            &mut errors,
            &field("strategy"),
            r.strategy.as_deref(),
            Some(kind),
        );
        errors.into_result()?;
        Ok(Asked {
            identifier: r.identifier.clone(),
            prefix_length,
            data: r.data.clone(),
            strategy,
        })
    }

    fn existing(&self, identifier: &str) -> Option<&PoolAllocationRecord> {
        self.made
            .get(identifier)
            .or_else(|| self.pool.allocation(identifier))
    }

    /// One request: the allocation its identifier already has, or a new one.
    fn one(
        &mut self,
        a: Asked,
        ctx: &mut Context,
    ) -> Result<(PoolAllocationRecord, bool), Rejection> {
        let record = &self.pool.record;
        let length = a.prefix_length.or(record.default_prefix_length);
        if let Some(existing) = a.identifier.as_deref().and_then(|i| self.existing(i)) {
            let asked = length.unwrap_or(existing.prefix_length);
            if existing.same_request(asked, a.strategy, a.data.as_deref()) {
                return Ok((existing.clone(), false));
            }
            return Err(Rejection::Conflict(format!(
                "Allocation {} of pool {} exists with other parameters",
                existing.identifier, record.id
            )));
        }
        let strategy = a.strategy.unwrap_or(record.strategy);
        let id = ctx.ids.next_id();
        let mut made = match record.kind {
            PoolKind::Address => self.address(strategy, length, ctx)?,
            PoolKind::Prefix => self.prefix(strategy, length.unwrap_or_default(), ctx)?,
        };
        made.id = id;
        made.identifier = a.identifier.unwrap_or_else(|| id.to_string());
        made.strategy = a.strategy;
        made.data = a.data;
        self.events.push(Event::PoolAllocated(PoolAllocated {
            pool_id: record.id,
            allocation_id: id,
            identifier: made.identifier.clone(),
            block_id: made.block_id,
            resource_id: made.resource_id,
            address_id: made.address_id,
            address: made.address,
            prefix: made.prefix,
            prefix_length: made.prefix_length,
            strategy: made.strategy,
            data: made.data.clone(),
            allocated_at: ctx.now,
        }));
        self.made.insert(made.identifier.clone(), made.clone());
        Ok((made, true))
    }

    /// The resources in the order the strategy tries them.
    fn order(&self, strategy: PoolStrategy) -> Vec<&'s BlockState> {
        let blocks = self
            .pool
            .record
            .resources
            .iter()
            .filter_map(|id| self.state.block(*id));
        if strategy == PoolStrategy::Last {
            blocks.rev().collect()
        } else {
            blocks.collect()
        }
    }

    fn next_free(&self, b: &BlockState, mut from: u128, octets: Option<&[u64; 4]>) -> Option<u128> {
        loop {
            let o = b.free.next_free_allowed(from, octets)?;
            if !self.taken.contains(&(b.record.id, o)) {
                return Some(o);
            }
            from = o.checked_add(1)?;
        }
    }

    fn prev_free(&self, b: &BlockState, mut at: u128, octets: Option<&[u64; 4]>) -> Option<u128> {
        loop {
            let o = b.free.prev_free_allowed(at, octets)?;
            if !self.taken.contains(&(b.record.id, o)) {
                return Some(o);
            }
            at = o.checked_sub(1)?;
        }
    }

    fn address(
        &mut self,
        strategy: PoolStrategy,
        length: Option<u8>,
        ctx: &mut Context,
    ) -> Result<PoolAllocationRecord, Rejection> {
        for b in self.order(strategy) {
            if !b.children.is_empty() {
                continue;
            }
            let cidr = b.record.cidr;
            let ex = exclusions(self.state, b, true);
            let offset = if strategy == PoolStrategy::Last {
                ex.prev_allocatable(block::last_offset(&cidr), |at| {
                    self.prev_free(b, at, ex.refused_octets())
                })
            } else {
                ex.next_allocatable(0, |from| self.next_free(b, from, ex.refused_octets()))
            };
            let Some(offset) = offset else {
                continue;
            };
            let e = AddressAllocated {
                block_id: b.record.id,
                address_id: ctx.ids.next_id(),
                address: block::address_at(&cidr, offset),
                interface_id: None,
                used_by_tenant: self.pool.record.tenant_id.clone(),
                used_by_device: None,
                mac_address: None,
                allocated_at: ctx.now,
            };
            self.taken.insert((b.record.id, offset));
            let record = PoolAllocationRecord {
                id: Uuid::nil(),
                pool_id: self.pool.record.id,
                identifier: String::new(),
                block_id: b.record.id,
                resource_id: b.record.id,
                address_id: Some(e.address_id),
                address: Some(e.address),
                prefix: None,
                prefix_length: length.unwrap_or(cidr.prefix_len()),
                strategy: None,
                data: None,
                created_at: ctx.now,
            };
            self.events.push(Event::AddressAllocated(e));
            return Ok(record);
        }
        Err(Rejection::Unprocessable(
            "Pool is exhausted: its resources have no free address".into(),
        ))
    }

    /// Where a `/length` fits in resource `b`, if anywhere: (start, host bits of the hole).
    fn fit(&self, b: &BlockState, length: u8, strategy: PoolStrategy) -> Option<(u128, u32)> {
        let cidr = b.record.cidr;
        let width = cidr.max_prefix_len();
        if length < cidr.prefix_len() || length > width {
            return None;
        }
        // Melange's rule: a block holding addresses (or holds) cannot be subnetted.
        if !b.by_offset.is_empty() || !b.holds.is_empty() {
            return None;
        }
        let host = u32::from(width - length);
        if host >= 128 {
            return None;
        }
        let lo = block::to_u128(cidr.network());
        let hi = block::to_u128(cidr.broadcast());
        let id = b.record.id;
        let planned = self.carved.get(&id).into_iter().flatten().copied();
        let spans = self.state.subnet_spans(id);
        match strategy {
            PoolStrategy::First => {
                carve::first_fit(lo, hi, host, merge(spans, planned, false)).map(|s| (s, host))
            }
            PoolStrategy::Last => {
                carve::last_fit(lo, hi, host, merge(spans.rev(), planned.rev(), true))
                    .map(|s| (s, host))
            }
            PoolStrategy::BestFit => carve::best_fit(lo, hi, host, merge(spans, planned, false)),
        }
    }

    fn prefix(
        &mut self,
        strategy: PoolStrategy,
        length: u8,
        ctx: &mut Context,
    ) -> Result<PoolAllocationRecord, Rejection> {
        let mut best: Option<(&BlockState, u128, u32)> = None;
        for b in self.order(strategy) {
            let Some((start, hole)) = self.fit(b, length, strategy) else {
                continue;
            };
            if strategy != PoolStrategy::BestFit {
                best = Some((b, start, hole));
                break;
            }
            if best.is_none_or(|(_, _, h)| hole < h) {
                best = Some((b, start, hole));
                if hole == u32::from(b.record.cidr.max_prefix_len() - length) {
                    break;
                }
            }
        }
        let Some((b, start, _)) = best else {
            return Err(Rejection::Unprocessable(format!(
                "Pool is exhausted: its resources have no free /{length}"
            )));
        };
        self.carve(b, start, length, ctx)
    }

    /// Creates the child block at absolute address `start` through Melange's block creation.
    fn carve(
        &mut self,
        b: &BlockState,
        start: u128,
        length: u8,
        ctx: &mut Context,
    ) -> Result<PoolAllocationRecord, Rejection> {
        let cidr = b.record.cidr;
        let offset = start - block::to_u128(cidr.network());
        let net = IpNet::new(block::address_at(&cidr, offset), length)
            .map_err(|_| Rejection::BadRequest("invalid prefix length".into()))?;
        let tenant = self.pool.record.tenant_id.clone();
        let command = CreateBlock {
            tenant: tenant.clone(),
            parent_id: Some(b.record.id),
            cidr: Some(net.to_string()),
            subnet_tenant: Some(tenant),
            ..CreateBlock::default()
        };
        let d = crate::decide_blocks::create(self.state, &command, ctx)?;
        let Reply::Block(made) = d.reply else {
            return Err(Rejection::BadRequest("block creation gave no block".into()));
        };
        self.events.extend(d.events);
        let host = u32::from(cidr.max_prefix_len() - length);
        self.carved
            .entry(b.record.id)
            .or_default()
            .insert((start, start + ((1u128 << host) - 1)));
        Ok(PoolAllocationRecord {
            id: Uuid::nil(),
            pool_id: self.pool.record.id,
            identifier: String::new(),
            block_id: made.id,
            resource_id: b.record.id,
            address_id: None,
            address: None,
            prefix: Some(net),
            prefix_length: length,
            strategy: None,
            data: None,
            created_at: ctx.now,
        })
    }
}
