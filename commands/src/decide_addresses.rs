//! Addresses: allocate (next free or a given one), deallocate (soft), restore.

use std::net::IpAddr;

use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::policy::Exclusions;
use ipledger_domain::records::{AddressRecord, Reply};
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

fn exclusions(state: &State, b: &BlockState, automatic: bool) -> Exclusions {
    let policy = b.record.policy_id.and_then(|id| state.policies.get(&id));
    let ranges = policy.map(|p| p.range_rules()).unwrap_or_default();
    let octets = policy.map(|p| p.octet_rules()).unwrap_or_default();
    Exclusions::new(b.record.cidr, b.record.gateway, &ranges, &octets, automatic)
}

/// The offset to allocate: the next allocatable one (decision 7), or the one asked for,
/// checked in Melange's order (decision 10).
fn choose_offset(state: &State, b: &BlockState, wanted: Option<IpAddr>) -> Result<u128, Rejection> {
    let cidr = &b.record.cidr;
    let Some(addr) = wanted else {
        let ex = exclusions(state, b, true);
        return ex
            .next_allocatable(0, |from| b.free.next_free(from))
            .ok_or_else(|| Rejection::Unprocessable("IpBlock is full".into()));
    };
    let offset = block::offset_of(cidr, addr)
        .ok_or_else(|| Rejection::Unprocessable("Address does not belong to IpBlock".into()))?;
    let reserved = b.record.gateway == Some(addr) || offset == block::last_offset(cidr);
    if reserved || b.free.is_used(offset) {
        return Err(Rejection::Conflict("Address is already allocated".into()));
    }
    if exclusions(state, b, false).policy_refuses(offset) {
        return Err(Rejection::Unprocessable(
            "Block policy does not allow this address".into(),
        ));
    }
    Ok(offset)
}

pub fn allocate(
    state: &State,
    c: &AllocateAddress,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let b = block(state, &c.tenant, c.block_id)?;
    if !b.children.is_empty() {
        return Err(Rejection::Unprocessable(
            "Subnetted block cannot allocate IPAddress".into(),
        ));
    }
    let offset = choose_offset(state, b, c.address)?;
    let address = block::address_at(&b.record.cidr, offset);
    let used_by_tenant = c
        .used_by_tenant
        .clone()
        .unwrap_or_else(|| b.record.tenant_id.clone());
    let e = AddressAllocated {
        block_id: c.block_id,
        address_id: ctx.ids.next_id(),
        address,
        interface_id: c.interface_id.clone(),
        used_by_tenant,
        used_by_device: c.used_by_device.clone(),
        mac_address: c.mac_address.clone(),
        allocated_at: ctx.now,
    };
    let record = AddressRecord {
        id: e.address_id,
        block_id: e.block_id,
        address,
        interface_id: e.interface_id.clone(),
        used_by_tenant: e.used_by_tenant.clone(),
        used_by_device: e.used_by_device.clone(),
        mac_address: e.mac_address.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
        deallocated_at: None,
    };
    Ok(Decision::new(
        vec![Event::AddressAllocated(e)],
        Reply::Address(record),
    ))
}

fn existing<'a>(
    state: &'a State,
    b: &BlockState,
    address: IpAddr,
) -> Result<&'a AddressRecord, Rejection> {
    state
        .address_in(b, address)
        .ok_or_else(|| Rejection::not_found("IpAddress"))
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
