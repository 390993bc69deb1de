//! Allocation onto interfaces: one address from a block (the block route, IPv6 generators),
//! and addresses from a network (melange-semantics.md §1 "Allocation from a network",
//! decisions 7–12). A network is the blocks of one owner tenant with one `network_id`, in
//! creation order. Interfaces are found or created on demand, as Melange's
//! `find_or_configure` did, in the same decision as the allocation.

use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::interfaces::InterfaceRecord;
use ipledger_domain::ipv6::{self, Ipv6Generator, IPV6_GENERATOR_NAMES};
use ipledger_domain::mac::{format_mac, parse_mac};
use ipledger_domain::records::{AddressRecord, Reply};
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::{block, Rejection};
use ipledger_projections::{BlockState, State};

use crate::command::AllocateAddress;
use crate::command_interfaces::{NetworkAllocation, NetworkRequest, ReleaseAddresses};
use crate::decide::{Context, Decision};
use crate::decide_addresses::exclusions;
use crate::decide_macs::give_mac;
use crate::plan::Plan;

/// A generator gives up after this many candidates (or the block's size, if smaller):
/// Melange's loop had no bound and could spin forever on a small block.
pub const GENERATOR_TRIES_MAX: u128 = 10_000;

/// Who an address is for: the interface (if any) and what the address records of it.
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    pub vif: Option<String>,
    pub tenant: String,
    pub device: Option<String>,
    /// As recorded on the address.
    pub mac: Option<String>,
    /// IPv6 in address order, never from the block's generator: for holders without a MAC
    /// (zone registrations), as pools fill IPv6.
    pub sequential: bool,
}

impl Holder {
    pub fn of(rec: &InterfaceRecord) -> Self {
        Holder {
            vif: Some(rec.vif.clone()),
            tenant: rec.tenant_id.clone(),
            device: rec.device_id.clone(),
            mac: rec.mac_address.map(format_mac),
            sequential: false,
        }
    }
}

/// Why one block could not give an address: full moves a network on to its next block,
/// anything else ends the request.
pub(crate) enum Refusal {
    Full,
    Rejected(Rejection),
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal::Rejected(r)
    }
}

impl Refusal {
    fn into_rejection(self) -> Rejection {
        match self {
            Refusal::Full => Rejection::Unprocessable("IpBlock is full".into()),
            Refusal::Rejected(r) => r,
        }
    }
}

/// The `ipv6_generator` field of a block body: 400 for an unknown name.
pub(crate) fn parse_generator(
    errors: &mut FieldErrors,
    text: Option<&str>,
) -> Option<Ipv6Generator> {
    let text = text?;
    let parsed = Ipv6Generator::parse(text);
    if parsed.is_none() {
        errors.add(
            "ipv6_generator",
            format!("ipv6_generator should be one among {IPV6_GENERATOR_NAMES}"),
        );
    }
    parsed
}

/// The offset to allocate in `b`: the one asked for (checked in Melange's order, decision
/// 10), the generator's for IPv6 (decision 11), or the lowest allocatable (decision 7).
fn pick(
    plan: &Plan,
    b: &BlockState,
    want: Option<IpAddr>,
    h: &Holder,
    ctx: &Context,
) -> Result<u128, Refusal> {
    let cidr = &b.record.cidr;
    if let Some(addr) = want {
        let offset = block::offset_of(cidr, addr)
            .ok_or_else(|| Rejection::Unprocessable("Address does not belong to IpBlock".into()))?;
        if b.holds.contains_key(&offset) {
            return Err(
                Rejection::Conflict("Address is held by a pending IP request".into()).into(),
            );
        }
        let reserved = b.record.gateway == Some(addr) || offset == block::last_offset(cidr);
        if reserved || plan.offset_used(b, offset) {
            return Err(Rejection::Conflict("Address is already allocated".into()).into());
        }
        if exclusions(plan.state, b, false).policy_refuses(offset) {
            return Err(Rejection::Unprocessable(
                "Block policy does not allow this address".into(),
            )
            .into());
        }
        return Ok(offset);
    }
    let ex = exclusions(plan.state, b, true);
    let generator = b
        .record
        .ipv6_generator
        .unwrap_or(ctx.settings.ipv6_generator);
    if cidr.network().is_ipv4() || h.sequential || !generator.needs_mac() {
        return ex
            .next_allocatable(0, |from| plan.next_free(b, from, ex.refused_octets()))
            .ok_or(Refusal::Full);
    }
    let mut mac = match h.mac.as_deref() {
        None => {
            return Err(
                Rejection::BadRequest("Required params are missing: mac_address".into()).into(),
            )
        }
        Some(text) => parse_mac(text)
            .ok_or_else(|| Rejection::invalid("mac_address", "mac_address is invalid"))?,
    };
    let host_bits = block::host_bits(cidr);
    for _ in 0..block::size(cidr).min(GENERATOR_TRIES_MAX) {
        let Some(identifier) = generator.identifier(&h.tenant, mac) else {
            break;
        };
        let offset = ipv6::offset_in_block(identifier, host_bits);
        if ex.refused(offset).is_none() && !plan.offset_used(b, offset) {
            return Ok(offset);
        }
        mac = ipv6::next_mac(mac);
    }
    Err(Refusal::Full)
}

/// Allocates one address of `b` for `h` into the plan.
pub(crate) fn allocate_in_block(
    plan: &mut Plan,
    b: &BlockState,
    want: Option<IpAddr>,
    h: &Holder,
    ctx: &mut Context,
) -> Result<AddressRecord, Refusal> {
    if !b.children.is_empty() {
        return Err(
            Rejection::Unprocessable("Subnetted block cannot allocate IPAddress".into()).into(),
        );
    }
    if let Some(vif) = &h.vif {
        let plugged = plan.plugged_network(vif);
        if plugged.is_some() && plugged != b.record.network_id {
            return Err(Rejection::Unprocessable(format!(
                "Interface {vif} is configured on another network"
            ))
            .into());
        }
    }
    let offset = pick(plan, b, want, h, ctx)?;
    let e = AddressAllocated {
        block_id: b.record.id,
        address_id: ctx.ids.next_id(),
        address: block::address_at(&b.record.cidr, offset),
        interface_id: h.vif.clone(),
        used_by_tenant: h.tenant.clone(),
        used_by_device: h.device.clone(),
        mac_address: h.mac.clone(),
        allocated_at: ctx.now,
    };
    let record = AddressRecord {
        id: e.address_id,
        block_id: e.block_id,
        address: e.address,
        interface_id: e.interface_id.clone(),
        used_by_tenant: e.used_by_tenant.clone(),
        used_by_device: e.used_by_device.clone(),
        mac_address: e.mac_address.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
        deallocated_at: None,
    };
    plan.record_allocation(offset, record.clone(), e);
    Ok(record)
}

fn network_not_found(id: &str) -> Rejection {
    Rejection::NotFound(format!("Network {id} not found"))
}

/// Addresses from `owner`'s network `id` for `h`: the ones asked for, all or nothing
/// (decision 12), or at most one IPv4 and one IPv6, blocks tried in creation order.
/// Subnetted blocks cannot allocate and are passed over (Melange failed the request).
pub(crate) fn allocate_from_network(
    plan: &mut Plan,
    owner: &str,
    id: &str,
    addresses: &[IpAddr],
    h: &Holder,
    ctx: &mut Context,
) -> Result<Vec<AddressRecord>, Rejection> {
    let state = plan.state;
    let blocks = state.network_blocks(owner, id);
    if blocks.is_empty() {
        return Err(network_not_found(id));
    }
    let usable: Vec<&BlockState> = blocks
        .into_iter()
        .filter(|b| b.children.is_empty())
        .collect();
    let mut out = Vec::new();
    for address in addresses {
        let b = usable
            .iter()
            .find(|b| b.record.cidr.contains(address))
            .ok_or_else(|| {
                Rejection::Unprocessable(format!(
                    "Address {address} does not belong to network {id}"
                ))
            })?;
        out.push(
            allocate_in_block(plan, b, Some(*address), h, ctx).map_err(Refusal::into_rejection)?,
        );
    }
    if !addresses.is_empty() {
        return Ok(out);
    }
    for v4 in [true, false] {
        for b in usable
            .iter()
            .filter(|b| b.record.cidr.network().is_ipv4() == v4)
        {
            match allocate_in_block(plan, b, None, h, ctx) {
                Ok(record) => {
                    out.push(record);
                    break;
                }
                Err(Refusal::Full) => continue,
                Err(Refusal::Rejected(r)) => return Err(r),
            }
        }
    }
    if out.is_empty() {
        return Err(Rejection::Unprocessable(
            "ip blocks in this network are full".into(),
        ));
    }
    Ok(out)
}

/// The network's id and owner from a request body: 400 naming what is missing.
pub(crate) fn network_of(n: &NetworkRequest) -> Result<(&str, &str), Rejection> {
    let mut errors = FieldErrors::default();
    let id = non_empty(n.id.as_deref());
    let owner = non_empty(n.tenant_id.as_deref());
    if id.is_none() {
        errors.add("network.id", "network id should be present");
    }
    if owner.is_none() {
        errors.add("network.tenant_id", "network tenant_id should be present");
    }
    errors.into_result()?;
    Ok((id.unwrap_or_default(), owner.unwrap_or_default()))
}

pub(crate) fn non_empty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// Melange's `find_or_configure`: the interface with this vif, or a new one for `lessee`
/// (default `default_lessee`) with its MAC. A vif held by another lessee is 409.
pub(crate) fn find_or_configure(
    plan: &mut Plan,
    vif: &str,
    lessee: Option<&str>,
    default_lessee: &str,
    device: Option<&str>,
    mac: Option<&str>,
    ctx: &mut Context,
) -> Result<InterfaceRecord, Rejection> {
    if let Some(rec) = plan.interface(vif) {
        // Melange looked the vif up for (vif, lessee) with the lessee defaulting to the
        // URL's tenant: another tenant's vif is never found, so it is never taken over.
        if lessee.unwrap_or(default_lessee) != rec.tenant_id {
            return Err(Rejection::Conflict(format!(
                "Virtual Interface {vif} already exists"
            )));
        }
        return Ok(rec);
    }
    let rec = plan.create_interface(Some(vif), lessee.unwrap_or(default_lessee), device, ctx)?;
    let mac = give_mac(plan, &rec.vif, non_empty(mac), ctx)?;
    Ok(InterfaceRecord {
        mac_address: mac,
        ..rec
    })
}

/// `POST .../ip_blocks/{b}/ip_addresses`: with an `interface_id`, the interface is found or
/// created and the address linked to it; without, the address stands alone as before.
pub fn allocate_address(
    state: &State,
    c: &AllocateAddress,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let b = state
        .block_of(&c.tenant, c.block_id)
        .ok_or_else(|| Rejection::not_found("IpBlock"))?;
    let mut plan = Plan::new(state);
    let lessee = non_empty(c.used_by_tenant.as_deref());
    let holder = match non_empty(c.interface_id.as_deref()) {
        Some(vif) => {
            let device = non_empty(c.used_by_device.as_deref());
            let rec = find_or_configure(
                &mut plan,
                vif,
                lessee,
                &b.record.tenant_id,
                device,
                c.mac_address.as_deref(),
                ctx,
            )?;
            Holder::of(&rec)
        }
        None => Holder {
            vif: None,
            tenant: lessee.unwrap_or(&b.record.tenant_id).to_string(),
            device: c.used_by_device.clone(),
            mac: c.mac_address.clone(),
            sequential: false,
        },
    };
    let record = allocate_in_block(&mut plan, b, c.address, &holder, ctx)
        .map_err(Refusal::into_rejection)?;
    Ok(Decision::new(plan.events, Reply::Address(record)))
}

/// The interface a network-allocation command works on.
fn target(
    plan: &mut Plan,
    c: &NetworkAllocation,
    owner: &str,
    ctx: &mut Context,
) -> Result<InterfaceRecord, Rejection> {
    match &c.device_scope {
        Some(device) => plan
            .interface(&c.vif)
            .filter(|i| i.device_id.as_deref() == Some(device.as_str()))
            .ok_or_else(|| Rejection::not_found("Interface")),
        None => find_or_configure(
            plan,
            &c.vif,
            non_empty(c.lessee.as_deref()),
            owner,
            non_empty(c.used_by_device.as_deref()),
            c.mac_address.as_deref(),
            ctx,
        ),
    }
}

/// `POST .../networks/{n}/interfaces/{vif}/ip_allocations` and
/// `POST /ipam/instances/{d}/interfaces/{vif}/ip_addresses`.
pub fn allocate(
    state: &State,
    c: &NetworkAllocation,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let (id, owner) = network_of(&c.network)?;
    if state.network_blocks(owner, id).is_empty() {
        return Err(network_not_found(id));
    }
    let mut plan = Plan::new(state);
    let rec = target(&mut plan, c, owner, ctx)?;
    let records = allocate_from_network(
        &mut plan,
        owner,
        id,
        &c.network.addresses,
        &Holder::of(&rec),
        ctx,
    )?;
    let views = records
        .iter()
        .filter_map(|a| plan.configuration(a))
        .collect();
    Ok(Decision::new(plan.events, Reply::IpConfigurations(views)))
}

/// Soft-deallocates an interface's live addresses, all of them or those in one network;
/// the interface stays.
pub fn release(
    state: &State,
    c: &ReleaseAddresses,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let blocks = match &c.network {
        Some((owner, id)) => {
            let blocks = state.network_blocks(owner, id);
            if blocks.is_empty() {
                return Err(network_not_found(id));
            }
            Some(blocks.iter().map(|b| b.record.id).collect::<Vec<_>>())
        }
        None => None,
    };
    let mut plan = Plan::new(state);
    let rec = plan
        .interface(&c.vif)
        .filter(|i| c.device_scope.is_none() || i.device_id == c.device_scope)
        .ok_or_else(|| Rejection::not_found("Interface"))?;
    for a in plan.live_addresses(&rec.vif) {
        if blocks.as_ref().is_none_or(|ids| ids.contains(&a.block_id)) {
            plan.release_address(&a, ctx);
        }
    }
    Ok(Decision::new(plan.events, Reply::Done))
}
