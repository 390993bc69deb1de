//! Scaleway IPs (issue 9, seed 003): book, update, release (one or a set), attach, detach
//! and move a custom resource.
//!
//! Booking takes its address like any Melange allocation (`allocate_in_block`, the same
//! free maps, policies and reserved addresses) and adds `ScalewayIpBooked` in the IP's own
//! stream in the same decision, so no surface can hand the address out twice. The seed's
//! guarantees: a booked IP never changes its address (no event changes it); an attached IP
//! has exactly one resource (attach to an attached IP is 409; move replaces it in one
//! decision); an attached IP cannot be released (409, and a set holding one is refused
//! whole). Release frees the address at once: `ScalewayIpReleased`, then
//! `AddressDeallocated` and `AddressPurged` in the block's stream.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::mac::{format_mac, parse_mac};
use ipledger_domain::records::Reply;
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::scaleway::*;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{BlockState, State};
use uuid::Uuid;

use crate::command_scaleway::*;
use crate::decide::{Context, Decision};
use crate::decide_network::{allocate_in_block, Holder, Refusal};
use crate::plan::Plan;

/// The 400 for a source this deployment does not serve.
pub const SUPPORTED_SOURCES: &str =
    "supported sources are private_network_id (a network_id of the project's blocks) and \
     subnet_id (a block id of the project)";
/// The start of the 400 for a zone no address pool serves.
pub const ZONAL_SOURCE: &str = "zonal sources are served by pools with that zone";

pub fn decide(
    state: &State,
    c: &ScalewayCommand,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    match c {
        ScalewayCommand::Book(b) => book(state, b, ctx),
        ScalewayCommand::Update(u) => update(state, u, ctx),
        ScalewayCommand::Release { scope, ip_ids } => release(state, scope, ip_ids, ctx),
        ScalewayCommand::Attach {
            scope,
            ip_id,
            resource,
        } => {
            let ip = visible(state, scope, *ip_id)?;
            if let Some(r) = &ip.resource {
                return Err(Rejection::Conflict(format!(
                    "ip {} is already attached to {} resource {}; an IP has one resource",
                    ip.id, r.resource_type, r.id
                )));
            }
            let resource = custom(resource, "resource", ctx)?;
            let mut after = ip.clone();
            let events = vec![attached(&mut after, resource, ctx)];
            Ok(Decision::new(events, Reply::ScalewayIp(after)))
        }
        ScalewayCommand::Detach {
            scope,
            ip_id,
            resource,
        } => {
            let ip = visible(state, scope, *ip_id)?;
            same_resource(ip, resource, "resource")?;
            let mut after = ip.clone();
            let events = vec![detached(&mut after, ctx)];
            Ok(Decision::new(events, Reply::ScalewayIp(after)))
        }
        ScalewayCommand::Move {
            scope,
            ip_id,
            from,
            to,
        } => {
            let ip = visible(state, scope, *ip_id)?;
            same_resource(ip, from, "from_resource")?;
            let to = to
                .as_ref()
                .map(|t| custom(t, "to_resource", ctx))
                .transpose()?;
            let mut after = ip.clone();
            let mut events = vec![detached(&mut after, ctx)];
            if let Some(to) = to {
                events.push(attached(&mut after, to, ctx));
            }
            Ok(Decision::new(events, Reply::ScalewayIp(after)))
        }
    }
}

/// The IP `id` if the caller may see it: another project's IP is not found, as a missing
/// one is (its existence is not confirmed).
fn visible<'a>(
    state: &'a State,
    scope: &Option<String>,
    id: Uuid,
) -> Result<&'a ScalewayIpRecord, Rejection> {
    state
        .scaleway_ip(id)
        .filter(|ip| scope.as_ref().is_none_or(|p| *p == ip.project_id))
        .ok_or_else(|| Rejection::NotFound(format!("ip {id} not found")))
}

fn attached(ip: &mut ScalewayIpRecord, resource: ScalewayResource, ctx: &Context) -> Event {
    ip.resource = Some(resource.clone());
    ip.attached_at = Some(ctx.now);
    ip.updated_at = ctx.now;
    Event::ScalewayIpAttached(ScalewayIpAttached {
        ip_id: ip.id,
        resource,
        attached_at: ctx.now,
    })
}

fn detached(ip: &mut ScalewayIpRecord, ctx: &Context) -> Event {
    ip.resource = None;
    ip.attached_at = None;
    ip.updated_at = ctx.now;
    Event::ScalewayIpDetached(ScalewayIpDetached {
        ip_id: ip.id,
        detached_at: ctx.now,
    })
}

/// A MAC in the stored form (lower case, colons), or the field's 400.
fn mac_of(text: &str, field: &str) -> Result<String, Rejection> {
    parse_mac(text)
        .map(|m| format_mac(m).to_ascii_lowercase())
        .ok_or_else(|| {
            Rejection::invalid(
                &format!("{field}.mac_address"),
                format!("{text:?} is not a MAC address"),
            )
        })
}

/// A custom resource from the request, with a fresh id.
fn custom(
    r: &CustomResource,
    field: &str,
    ctx: &mut Context,
) -> Result<ScalewayResource, Rejection> {
    let mac_address = mac_of(&r.mac_address, field)?;
    let name = r.name.as_deref().filter(|n| !n.is_empty());
    if let Some(n) = name {
        if n.len() > RESOURCE_NAME_BYTES_MAX || !valid_hostname(n) {
            return Err(Rejection::invalid(
                &format!("{field}.name"),
                format!(
                    "name should be a DNS name of at most {RESOURCE_NAME_BYTES_MAX} bytes \
                     (letters, digits, - and .)"
                ),
            ));
        }
    }
    Ok(ScalewayResource {
        resource_type: RESOURCE_TYPE_CUSTOM.into(),
        id: ctx.ids.next_id(),
        mac_address,
        name: name.map(str::to_string),
    })
}

/// Detach and move name the resource the IP is attached to: its MAC, and its name when
/// one is given. Anything else is 409 and changes nothing.
fn same_resource(
    ip: &ScalewayIpRecord,
    given: &CustomResource,
    field: &str,
) -> Result<(), Rejection> {
    let Some(current) = &ip.resource else {
        return Err(Rejection::Conflict(format!(
            "ip {} is not attached to any resource",
            ip.id
        )));
    };
    let mac = mac_of(&given.mac_address, field)?;
    let name = given.name.as_deref().filter(|n| !n.is_empty());
    if mac != current.mac_address || name.is_some_and(|n| Some(n) != current.name.as_deref()) {
        return Err(Rejection::Conflict(format!(
            "ip {} is attached to another resource ({} {}); name the resource it is attached to",
            ip.id, current.resource_type, current.mac_address
        )));
    }
    Ok(())
}

fn check_tags(errors: &mut FieldErrors, tags: &[String]) {
    if tags.len() > TAGS_MAX {
        errors.add("tags", format!("at most {TAGS_MAX} tags"));
    }
    if let Some(problem) = tags.iter().find_map(|t| tag_problem(t)) {
        errors.add("tags", problem);
    }
}

/// The blocks the source names, or why it names none: a private network is the project's
/// blocks with that `network_id` (creation order), a subnet one block of the project, a
/// zone the resource blocks of the address pools with that zone (pools in creation order,
/// each pool's resources in its order). A zone is shared by every project, as Scaleway's
/// zonal source is: the address is lent to the project (`used_by_tenant`) from blocks the
/// pool's tenant owns.
fn source_blocks<'a>(
    state: &'a State,
    c: &BookScalewayIp,
) -> Result<(ScalewaySource, Vec<&'a BlockState>), Rejection> {
    let s = &c.source;
    if let Some(zone) = s.zonal.as_deref() {
        if c.address.is_some() {
            return Err(Rejection::invalid(
                "address",
                "a given address can be booked in a private network or a subnet only",
            ));
        }
        let blocks: Vec<&BlockState> = state
            .pools_in_zone(zone)
            .into_iter()
            .flat_map(|p| p.resources.iter())
            .filter_map(|id| state.block(*id))
            .collect();
        if blocks.is_empty() {
            return Err(Rejection::invalid(
                "source",
                format!("{ZONAL_SOURCE}; no address pool serves zone {zone:?}"),
            ));
        }
        let source = ScalewaySource {
            private_network_id: None,
            subnet_id: None,
            zonal: Some(zone.to_string()),
        };
        return Ok((source, blocks));
    }
    if let Some(pn) = s.private_network_id.as_deref() {
        let blocks = state.network_blocks(&c.project_id, pn);
        if blocks.is_empty() {
            return Err(Rejection::NotFound(format!(
                "private_network {pn} not found"
            )));
        }
        let source = ScalewaySource {
            private_network_id: Some(pn.to_string()),
            subnet_id: None,
            zonal: None,
        };
        return Ok((source, blocks));
    }
    if let Some(subnet) = s.subnet_id.as_deref() {
        let not_found = || Rejection::NotFound(format!("subnet {subnet} not found"));
        let id = Uuid::parse_str(subnet).map_err(|_| not_found())?;
        let b = state.block_of(&c.project_id, id).ok_or_else(not_found)?;
        let source = ScalewaySource {
            private_network_id: None,
            subnet_id: Some(id),
            zonal: None,
        };
        return Ok((source, vec![b]));
    }
    let which = if s.vpc_id.is_some() {
        "vpc_id sources are not served; "
    } else if s.regional == Some(true) {
        "regional sources are not served; "
    } else {
        "a source is required; "
    };
    Err(Rejection::invalid(
        "source",
        format!("{which}{SUPPORTED_SOURCES}"),
    ))
}

fn book(state: &State, c: &BookScalewayIp, ctx: &mut Context) -> Result<Decision, Rejection> {
    let mut errors = FieldErrors::default();
    if c.project_id.trim().is_empty() {
        errors.add("project_id", "project_id is required");
    }
    check_tags(&mut errors, &c.tags);
    if c.address.is_some_and(|a| a.is_ipv6() != c.is_ipv6) {
        errors.add("address", "the address's family does not match is_ipv6");
    }
    errors.into_result()?;
    let (source, blocks) = source_blocks(state, c)?;
    let resource = c
        .resource
        .as_ref()
        .map(|r| custom(r, "resource", ctx))
        .transpose()?;
    let family: Vec<&BlockState> = blocks
        .into_iter()
        .filter(|b| b.record.cidr.network().is_ipv6() == c.is_ipv6)
        .collect();
    if family.is_empty() {
        let v = if c.is_ipv6 { "IPv6" } else { "IPv4" };
        return Err(Rejection::invalid(
            "is_ipv6",
            format!("the source has no {v} block"),
        ));
    }
    let holder = Holder {
        vif: None,
        tenant: c.project_id.clone(),
        device: None,
        mac: resource.as_ref().map(|r| r.mac_address.clone()),
        sequential: false,
    };
    let mut plan = Plan::new(state);
    let address = allocate(&mut plan, &family, c.address, &holder, "the source", ctx)?;
    let booked = ScalewayIpBooked {
        ip_id: address.0,
        project_id: c.project_id.clone(),
        block_id: address.1,
        address: address.2,
        source,
        tags: c.tags.clone(),
        resource,
        booked_at: ctx.now,
    };
    let record = ScalewayIpRecord {
        id: booked.ip_id,
        project_id: booked.project_id.clone(),
        block_id: booked.block_id,
        address: booked.address,
        source: booked.source.clone(),
        tags: booked.tags.clone(),
        reverses: Vec::new(),
        attached_at: booked.resource.as_ref().map(|_| ctx.now),
        resource: booked.resource.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut events = plan.events;
    events.push(Event::ScalewayIpBooked(booked));
    Ok(Decision::new(events, Reply::ScalewayIp(record)))
}

/// The address for a booking (or a zone registration): the one asked for in the block
/// holding it, or the next free one of the first block that has one. Returns (address id,
/// block id, address). `from` names the blocks in the refusals ("the source", "zone z").
pub(crate) fn allocate(
    plan: &mut Plan,
    blocks: &[&BlockState],
    want: Option<IpAddr>,
    holder: &Holder,
    from: &str,
    ctx: &mut Context,
) -> Result<(Uuid, Uuid, IpAddr), Rejection> {
    let usable = blocks.iter().filter(|b| b.children.is_empty());
    if let Some(addr) = want {
        let b = usable
            .clone()
            .find(|b| b.record.cidr.contains(&addr))
            .ok_or_else(|| {
                Rejection::invalid("address", format!("{addr} is not in {from}'s blocks"))
            })?;
        return match allocate_in_block(plan, b, Some(addr), holder, ctx) {
            Ok(a) => Ok((a.id, a.block_id, a.address)),
            Err(Refusal::Full) => Err(Rejection::Conflict(format!("{addr} is taken"))),
            Err(Refusal::Rejected(r)) => Err(r),
        };
    }
    for b in usable {
        match allocate_in_block(plan, b, None, holder, ctx) {
            Ok(a) => return Ok((a.id, a.block_id, a.address)),
            Err(Refusal::Full) => continue,
            Err(Refusal::Rejected(r)) => return Err(r),
        }
    }
    Err(Rejection::Unprocessable(format!(
        "{from} has no free address"
    )))
}

fn update(state: &State, c: &UpdateScalewayIp, ctx: &mut Context) -> Result<Decision, Rejection> {
    let ip = visible(state, &c.scope, c.ip_id)?;
    let mut errors = FieldErrors::default();
    if let Some(tags) = &c.tags {
        check_tags(&mut errors, tags);
    }
    let mut reverses = Vec::new();
    for r in c.reverses.iter().flatten() {
        if !valid_hostname(&r.hostname) {
            errors.add(
                "reverses.hostname",
                format!("{:?} is not a DNS name", r.hostname),
            );
        }
        if r.address.is_some_and(|a| a != ip.address) {
            errors.add(
                "reverses.address",
                "a reverse's address is the IP's address",
            );
        }
        reverses.push(ScalewayReverse {
            hostname: r.hostname.clone(),
            address: r.address,
        });
    }
    if reverses.len() > REVERSES_MAX {
        errors.add("reverses", format!("at most {REVERSES_MAX} reverses"));
    }
    errors.into_result()?;
    if c.tags.is_none() && c.reverses.is_none() {
        return Ok(Decision::new(Vec::new(), Reply::ScalewayIp(ip.clone())));
    }
    let mut after = ip.clone();
    if let Some(tags) = &c.tags {
        after.tags = tags.clone();
    }
    if c.reverses.is_some() {
        after.reverses = reverses;
    }
    after.updated_at = ctx.now;
    let e = ScalewayIpUpdated {
        ip_id: ip.id,
        tags: after.tags.clone(),
        reverses: after.reverses.clone(),
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::ScalewayIpUpdated(e)],
        Reply::ScalewayIp(after),
    ))
}

/// All or nothing: every IP must be visible and detached, else nothing is released.
fn release(
    state: &State,
    scope: &Option<String>,
    ip_ids: &[Uuid],
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let ids: BTreeSet<Uuid> = ip_ids.iter().copied().collect();
    let mut ips = Vec::with_capacity(ids.len());
    for id in &ids {
        let ip = visible(state, scope, *id)?;
        if let Some(r) = &ip.resource {
            return Err(Rejection::Conflict(format!(
                "ip {} is attached to {} resource {}; detach it before releasing it",
                ip.id, r.resource_type, r.id
            )));
        }
        ips.push(ip);
    }
    let mut events = Vec::with_capacity(ips.len() * 3);
    for ip in ips {
        events.push(Event::ScalewayIpReleased(ScalewayIpReleased {
            ip_id: ip.id,
            block_id: ip.block_id,
            released_at: ctx.now,
        }));
        // A Scaleway IP's id is its address's id.
        if let Some(rec) = state.address(ip.id) {
            events.extend(crate::decide_addresses::freed_at_once(
                state,
                &[rec],
                ctx.now,
            ));
        }
    }
    Ok(Decision::new(events, Reply::Done))
}
