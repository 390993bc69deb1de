//! NAT (decision 17; melange-semantics.md §5): pairing an address with inside globals or
//! inside locals, and removing pairs. A pair is (local, global); assigning globals to L and
//! assigning locals to G write the same kind of row, seen from either side.
//!
//! Every NAT event lives in the local address's block stream, so that stream's version
//! guards both the pair's uniqueness and the local address's state. Assigning a pair that
//! exists appends nothing (Melange stored duplicates). A tenant-scoped request may only name
//! that tenant's blocks; the admin paths may name any block.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipledger_domain::events::{NatAssigned, NatRemoved};
use ipledger_domain::records::{AddressRecord, Reply};
use ipledger_domain::{Event, Rejection, Timestamp};
use ipledger_projections::routing::NatSide;
use ipledger_projections::{BlockState, State};
use uuid::Uuid;

use crate::command_routing::{AssignNat, NatAt, RemoveNat};
use crate::decide::{Context, Decision};

fn block_for<'a>(
    state: &'a State,
    tenant: Option<&str>,
    id: Uuid,
) -> Result<&'a BlockState, Rejection> {
    match tenant {
        Some(t) => state.block_of(t, id),
        None => state.block(id),
    }
    .ok_or_else(|| Rejection::not_found("IpBlock"))
}

/// The address `address` of block `block_id`; a soft-deallocated one is "locked" (422)
/// unless `locked_ok`.
fn find<'a>(
    state: &'a State,
    tenant: Option<&str>,
    block_id: Uuid,
    address: IpAddr,
    locked_ok: bool,
) -> Result<&'a AddressRecord, Rejection> {
    let b = block_for(state, tenant, block_id)?;
    let rec = state
        .address_in(b, address)
        .ok_or_else(|| Rejection::not_found("IpAddress"))?;
    if !locked_ok && rec.deallocated_at.is_some() {
        return Err(Rejection::Unprocessable("Address is locked".into()));
    }
    Ok(rec)
}

/// The address a NAT URL names, for reading or removing (a locked one is fine there).
pub fn address_at<'a>(state: &'a State, at: &NatAt) -> Result<&'a AddressRecord, Rejection> {
    find(state, at.tenant.as_deref(), at.block_id, at.address, true)
}

fn assigned(local: &AddressRecord, global: &AddressRecord, now: Timestamp) -> Event {
    Event::NatAssigned(NatAssigned {
        local_block_id: local.block_id,
        local_address_id: local.id,
        local_address: local.address,
        global_block_id: global.block_id,
        global_address_id: global.id,
        global_address: global.address,
        assigned_at: now,
    })
}

fn removed(local: &AddressRecord, global: &AddressRecord, now: Timestamp) -> Event {
    Event::NatRemoved(NatRemoved {
        local_block_id: local.block_id,
        local_address_id: local.id,
        local_address: local.address,
        global_block_id: global.block_id,
        global_address_id: global.id,
        global_address: global.address,
        removed_at: now,
    })
}

pub fn assign(state: &State, c: &AssignNat, ctx: &mut Context) -> Result<Decision, Rejection> {
    let tenant = c.at.tenant.as_deref();
    let me = find(state, tenant, c.at.block_id, c.at.address, false)?;
    let mut seen = BTreeSet::new();
    let mut events = Vec::new();
    for (block_id, address) in &c.partners {
        let partner = find(state, tenant, *block_id, *address, false)?;
        if partner.id == me.id {
            return Err(Rejection::Unprocessable(
                "An address cannot be NAT'ed to itself".into(),
            ));
        }
        let (local, global) = match c.at.side {
            NatSide::Globals => (me, partner),
            NatSide::Locals => (partner, me),
        };
        if state.nat_pair_exists(local.id, global.id) || !seen.insert((local.id, global.id)) {
            continue;
        }
        events.push(assigned(local, global, ctx.now));
    }
    Ok(Decision::new(events, Reply::Done))
}

pub fn remove(state: &State, c: &RemoveNat, ctx: &mut Context) -> Result<Decision, Rejection> {
    let me = address_at(state, &c.at)?;
    let events = state
        .nat_pairs_of(me.id)
        .into_iter()
        .filter_map(|(l, g)| Some((state.address(l)?, state.address(g)?)))
        .filter(|(l, g)| match c.at.side {
            NatSide::Globals => l.id == me.id && c.partner.is_none_or(|p| g.address == p),
            NatSide::Locals => g.id == me.id && c.partner.is_none_or(|p| l.address == p),
        })
        .map(|(l, g)| removed(l, g, ctx.now))
        .collect();
    Ok(Decision::new(events, Reply::Done))
}

/// `NatRemoved` for every pair of the addresses that are about to be purged, each pair
/// once even when both of its addresses go.
pub fn with_purged(state: &State, ids: &[Uuid], now: Timestamp) -> Vec<Event> {
    let mut pairs = BTreeSet::new();
    for id in ids {
        pairs.extend(state.nat_pairs_of(*id));
    }
    pairs
        .into_iter()
        .filter_map(|(l, g)| Some(removed(state.address(l)?, state.address(g)?, now)))
        .collect()
}
