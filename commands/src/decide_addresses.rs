//! Addresses: allocate (next free or a given one; see `decide_network.rs`), deallocate
//! (soft), restore.

use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::policy::Exclusions;
use ipledger_domain::records::{AddressRecord, Holder, Reply};
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{BlockState, State};
use uuid::Uuid;

use crate::command::AllocateAddress;
use crate::decide::{Context, Decision};

fn block<'a>(state: &'a State, tenant: &str, id: Uuid) -> Result<&'a BlockState, Rejection> {
    state
        .block_of(tenant, id)
        .ok_or_else(|| Rejection::not_found("IpBlock"))
}

pub(crate) fn exclusions(state: &State, b: &BlockState, automatic: bool) -> Exclusions {
    let policy = b.record.policy_id.and_then(|id| state.policy(id));
    let ranges = policy.map(|p| p.range_rules()).unwrap_or_default();
    let octets = policy.map(|p| p.octet_rules()).unwrap_or_default();
    Exclusions::new(b.record.cidr, b.record.gateway, &ranges, &octets, automatic)
}

/// Allocation, with or without an interface, lives with the interface family
/// (`decide_network.rs`): the interface is found or created in the same decision, and IPv6
/// blocks use their generator (decision 11).
pub fn allocate(
    state: &State,
    c: &AllocateAddress,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    crate::decide_network::allocate_address(state, c, ctx)
}

fn existing<'a>(
    state: &'a State,
    b: &BlockState,
    address: IpAddr,
) -> Result<&'a AddressRecord, Rejection> {
    let rec = state
        .address_in(b, address)
        .ok_or_else(|| Rejection::not_found("IpAddress"))?;
    // Another surface's address is freed by that surface only (issue 9): Melange freeing
    // it would leave the other surface's object pointing at an address someone else gets.
    match state.holder_of(rec.id) {
        None => Ok(rec),
        Some(Holder::Scaleway { ip_id }) => Err(Rejection::Conflict(format!(
            "Address {} is held by Scaleway IP {ip_id}; release it through the Scaleway API",
            rec.address
        ))),
    }
}

/// Soft deallocation: the address keeps its place until purged; deallocating again restarts
/// the retention clock, as in Melange.
pub fn deallocate(
    state: &State,
    tenant: &str,
    block_id: Uuid,
    address: IpAddr,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let b = block(state, tenant, block_id)?;
    let rec = existing(state, b, address)?;
    let e = AddressDeallocated {
        block_id,
        address: rec.address,
        deallocated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::AddressDeallocated(e)],
        Reply::Done,
    ))
}

/// Restoring an address that is not deallocated is a no-op success.
pub fn restore(
    state: &State,
    tenant: &str,
    block_id: Uuid,
    address: IpAddr,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let b = block(state, tenant, block_id)?;
    let rec = existing(state, b, address)?;
    if rec.deallocated_at.is_none() {
        return Ok(Decision::nothing());
    }
    let e = AddressRestored {
        block_id,
        address: rec.address,
        restored_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::AddressRestored(e)], Reply::Done))
}
