//! Interfaces (`POST /ipam/interfaces`, the two delete doors), instance interfaces (a
//! device's interfaces replaced, created, deleted) and allowed IPs (melange-semantics.md §4,
//! decisions 15 and 19). Each request is one plan: everything is validated and decided
//! before any event is emitted, so a failure leaves no half-made interface.

use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::interfaces::{InterfaceRecord, InterfaceView};
use ipledger_domain::records::{AddressRecord, Reply};
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::{block, Event, Rejection, Timestamp};
use ipledger_projections::State;
use uuid::Uuid;

use crate::command_interfaces::{AllowIp, InterfaceScope, InterfaceSpec};
use crate::decide::{Context, Decision};
use crate::decide_macs::give_mac;
use crate::decide_network::{allocate_from_network, network_of, non_empty, Holder};
use crate::plan::Plan;

fn not_found() -> Rejection {
    Rejection::not_found("Interface")
}

/// Creates one interface with its MAC and, if asked, its addresses from a network.
fn create_in(
    plan: &mut Plan,
    spec: &InterfaceSpec,
    ctx: &mut Context,
) -> Result<InterfaceView, Rejection> {
    let tenant = non_empty(spec.tenant_id.as_deref());
    let mut errors = FieldErrors::default();
    if tenant.is_none() {
        errors.add("tenant_id", "tenant_id should be present");
    }
    let network = match &spec.network {
        None => None,
        Some(n) => match network_of(n) {
            Ok((id, owner)) => Some((id, owner, &n.addresses)),
            Err(Rejection::Invalid(map)) => {
                for (field, messages) in map {
                    for m in messages {
                        errors.add(&field, m);
                    }
                }
                None
            }
            Err(other) => return Err(other),
        },
    };
    errors.into_result()?;
    let tenant = tenant.unwrap_or_default();
    let device = non_empty(spec.device_id.as_deref());
    let rec = plan.create_interface(non_empty(spec.vif.as_deref()), tenant, device, ctx)?;
    let mac = give_mac(plan, &rec.vif, spec.mac_address.as_deref(), ctx)?;
    let rec = InterfaceRecord {
        mac_address: mac,
        ..rec
    };
    if let Some((id, owner, addresses)) = network {
        allocate_from_network(plan, owner, id, addresses, &Holder::of(&rec), ctx)?;
    }
    plan.view(&rec.vif).ok_or_else(not_found)
}

/// `POST /ipam/interfaces` and `POST /ipam/instances/{device}/interfaces`.
pub fn create(
    state: &State,
    spec: &InterfaceSpec,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let mut plan = Plan::new(state);
    let view = create_in(&mut plan, spec, ctx)?;
    Ok(Decision::new(plan.events, Reply::Interface(view)))
}

/// The interface behind a delete, as the door it came through may see it.
fn scoped(state: &State, vif: &str, scope: &InterfaceScope) -> Result<InterfaceRecord, Rejection> {
    let i = state.interface(vif).ok_or_else(not_found)?;
    let visible = match scope {
        InterfaceScope::Admin => true,
        InterfaceScope::Device(device) => i.record.device_id.as_deref() == Some(device.as_str()),
        InterfaceScope::Tenant { tenant, network_id } => {
            i.record.tenant_id == *tenant
                || state.interface_addresses(vif).iter().any(|a| {
                    state.block(a.block_id).is_some_and(|b| {
                        b.record.tenant_id == *tenant
                            && b.record.network_id.as_deref() == Some(network_id.as_str())
                    })
                })
        }
    };
    if visible {
        Ok(i.record.clone())
    } else {
        Err(not_found())
    }
}

/// Releases the MAC at once, soft-deallocates the addresses, deletes the interface.
pub fn delete(
    state: &State,
    vif: &str,
    scope: &InterfaceScope,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let rec = scoped(state, vif, scope)?;
    let mut plan = Plan::new(state);
    plan.delete_interface(&rec, ctx);
    Ok(Decision::new(plan.events, Reply::Done))
}

/// Instance PUT: every interface of the device goes (addresses soft-deallocated, so the new
/// ones get new addresses), then one interface per entry is created.
pub fn replace_device(
    state: &State,
    device: &str,
    specs: &[InterfaceSpec],
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let mut plan = Plan::new(state);
    for i in state.device_interfaces(device) {
        plan.delete_interface(&i.record, ctx);
    }
    let mut views = Vec::with_capacity(specs.len());
    for spec in specs {
        let spec = InterfaceSpec {
            device_id: Some(device.to_string()),
            ..spec.clone()
        };
        views.push(create_in(&mut plan, &spec, ctx)?);
    }
    Ok(Decision::new(plan.events, Reply::Interfaces(views)))
}

/// Deletes every interface of the device; none is not an error.
pub fn delete_device(
    state: &State,
    device: &str,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let mut plan = Plan::new(state);
    for i in state.device_interfaces(device) {
        plan.delete_interface(&i.record, ctx);
    }
    Ok(Decision::new(plan.events, Reply::Done))
}

/// The live address `address` of network `network_id` leased to `tenant`.
fn leased_in_network<'a>(
    state: &'a State,
    tenant: &str,
    network_id: &str,
    address: IpAddr,
) -> Option<&'a AddressRecord> {
    state
        .network_blocks_containing(network_id, address)
        .into_iter()
        .filter_map(|b| state.address_in(b, address))
        .find(|a| a.deallocated_at.is_none() && a.used_by_tenant == tenant)
}

/// Allows an address of the tenant's on the interface (decision 19): the interface must be
/// plugged into the address's network (422). Allowing it again changes nothing.
pub fn allow_ip(state: &State, c: &AllowIp, ctx: &mut Context) -> Result<Decision, Rejection> {
    let i = state
        .interface_of(&c.tenant, &c.vif)
        .ok_or_else(not_found)?;
    let network_id = non_empty(c.network_id.as_deref());
    let text = non_empty(c.ip_address.as_deref());
    let mut errors = FieldErrors::default();
    if network_id.is_none() {
        errors.add("network_id", "network_id should be present");
    }
    let address = match text {
        None => {
            errors.add("ip_address", "ip_address should be present");
            None
        }
        Some(t) => block::parse_address(t).or_else(|| {
            errors.add("ip_address", format!("{t} is not a valid IP address"));
            None
        }),
    };
    errors.into_result()?;
    let (Some(network_id), Some(address)) = (network_id, address) else {
        return Err(Rejection::BadRequest("invalid allowed ip".into()));
    };
    if !state.network_exists(network_id) {
        return Err(Rejection::NotFound(format!(
            "Network {network_id} not found"
        )));
    }
    let a = leased_in_network(state, &c.tenant, network_id, address)
        .ok_or_else(|| Rejection::not_found("IpAddress"))?;
    if state.plugged_network(&c.vif) != Some(network_id) {
        return Err(Rejection::Unprocessable(format!(
            "Ip Address {address} cannot be allowed on interface {} as interface is not configured for ip's network",
            c.vif
        )));
    }
    let reply = Reply::Address(a.clone());
    if i.allowed.contains(&(a.block_id, a.address)) {
        return Ok(Decision::new(Vec::new(), reply));
    }
    let e = AllowedIpAdded {
        vif: c.vif.clone(),
        block_id: a.block_id,
        address: a.address,
        added_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::AllowedIpAdded(e)], reply))
}

/// Withdraws an explicit allowance; an address that is only allocated on the interface
/// stays allowed (nothing to withdraw), as in Melange.
pub fn disallow_ip(
    state: &State,
    tenant: &str,
    vif: &str,
    address: IpAddr,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let i = state.interface_of(tenant, vif).ok_or_else(not_found)?;
    let a = state
        .allowed_ips(i)
        .into_iter()
        .find(|a| a.address == address)
        .ok_or_else(|| {
            Rejection::NotFound(format!(
                "Ip Address {address} hasnt been allowed on interface {vif}"
            ))
        })?;
    if !i.allowed.contains(&(a.block_id, a.address)) {
        return Ok(Decision::nothing());
    }
    let e = AllowedIpRemoved {
        vif: vif.to_string(),
        block_id: a.block_id,
        address: a.address,
        removed_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::AllowedIpRemoved(e)], Reply::Done))
}

/// The allowances of addresses about to be purged, withdrawn as events before the purge: an
/// allowance names (block, address), so one left behind would attach to the address's next
/// lease, possibly another tenant's. (Melange kept an allowed address alive instead; ipledger
/// purges it and withdraws its allowances, see the README.)
pub fn allowances_purged(state: &State, ids: &[Uuid], now: Timestamp) -> Vec<Event> {
    ids.iter()
        .filter_map(|id| state.address(*id))
        .flat_map(|a| {
            state.allowances_of(a.block_id, a.address).map(move |vif| {
                Event::AllowedIpRemoved(AllowedIpRemoved {
                    vif: vif.to_string(),
                    block_id: a.block_id,
                    address: a.address,
                    removed_at: now,
                })
            })
        })
        .collect()
}
