//! IP blocks and subnets: validation (melange-semantics.md §1 with decisions 1–6), create,
//! update, delete.

use std::net::IpAddr;

use ipledger_domain::block::{self, parse_address, parse_cidr};
use ipledger_domain::events::*;
use ipledger_domain::records::{BlockRecord, BlockType, Reply};
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{BlockState, State};
use ipnet::IpNet;
use uuid::Uuid;

use crate::command::{CreateBlock, UpdateBlock};
use crate::decide::{Context, Decision};

fn block<'a>(state: &'a State, tenant: &str, id: Uuid) -> Result<&'a BlockState, Rejection> {
    state
        .block_of(tenant, id)
        .ok_or_else(|| Rejection::not_found("IpBlock"))
}

/// Empty strings count as absent, as Melange's `dns1 or Config["dns1"]` did.
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn optional_address(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    message: &str,
) -> Option<IpAddr> {
    let text = value?;
    let parsed = parse_address(text);
    if parsed.is_none() {
        errors.add(field, message);
    }
    parsed
}

fn policy_ref(
    state: &State,
    errors: &mut FieldErrors,
    tenant: &str,
    value: Option<&str>,
) -> Option<Uuid> {
    let text = value?;
    match Uuid::parse_str(text)
        .ok()
        .filter(|id| state.policy_of(tenant, *id).is_some())
    {
        Some(id) => Some(id),
        None => {
            errors.add("policy_id", format!("Policy with id {text} doesn't exist"));
            None
        }
    }
}

/// The rules every block must satisfy against the others (§1 overlap rules, decision 3).
struct Placement<'a> {
    id: Option<Uuid>,
    cidr: IpNet,
    block_type: BlockType,
    network_id: Option<&'a str>,
    parent: Option<&'a BlockRecord>,
}

/// Each rule asks the block index for the blocks it concerns (those overlapping `p.cidr`
/// in one scope), so a check costs O(log n) plus the overlaps found, never a walk over all
/// blocks (issue 8, defect 9).
fn check_placement(state: &State, p: &Placement, errors: &mut FieldErrors) {
    let other = |r: &&BlockRecord| Some(r.id) != p.id;
    if p.parent.is_none() && p.block_type == BlockType::Public {
        for o in state
            .public_roots_overlapping(&p.cidr)
            .into_iter()
            .filter(other)
        {
            errors.add(
                "cidr",
                format!("cidr overlaps with public block {}", o.cidr),
            );
        }
    }
    if let Some(parent) = p.parent {
        for o in state
            .children_overlapping(parent.id, &p.cidr)
            .into_iter()
            .filter(other)
        {
            errors.add("cidr", format!("cidr overlaps with sibling {}", o.cidr));
        }
    }
    if let Some(net) = p
        .network_id
        .filter(|_| is_top_level(p.parent, p.network_id))
    {
        for o in state
            .network_blocks_overlapping(net, &p.cidr)
            .into_iter()
            .filter(other)
        {
            let parent = o
                .parent_id
                .and_then(|id| state.block(id))
                .map(|b| &b.record);
            let other_top = is_top_level(parent, o.network_id.as_deref());
            if other_top && p.parent.map(|x| x.id) != Some(o.id) {
                errors.add(
                    "cidr",
                    format!("cidr overlaps with block {} in same network", o.cidr),
                );
            }
        }
    }
    if let Some(net) = p.network_id {
        let other_type = match p.block_type {
            BlockType::Public => BlockType::Private,
            BlockType::Private => BlockType::Public,
        };
        let itself =
            p.id.and_then(|id| state.block(id))
                .map(|b| &b.record)
                .filter(|r| r.network_id.as_deref() == Some(net) && r.block_type == other_type);
        if state.network_blocks_of_type(net, other_type) > usize::from(itself.is_some()) {
            errors.add("type", "type should be same within a network");
        }
    }
    if let Some(parent) = p.parent {
        if !parent.cidr.contains(&p.cidr) {
            errors.add("cidr", "cidr should be within parent block's cidr");
        }
    }
}

/// Top level in its network: no parent, or a parent in another network.
fn is_top_level(parent: Option<&BlockRecord>, network: Option<&str>) -> bool {
    parent.is_none_or(|p| p.network_id.as_deref() != network)
}

fn dedup(errors: FieldErrors) -> Result<(), Rejection> {
    match errors.into_result() {
        Err(Rejection::Invalid(mut map)) => {
            for msgs in map.values_mut() {
                msgs.dedup();
            }
            Err(Rejection::Invalid(map))
        }
        other => other,
    }
}

pub fn create(state: &State, c: &CreateBlock, ctx: &mut Context) -> Result<Decision, Rejection> {
    let parent = match c.parent_id {
        Some(id) => Some(&block(state, &c.tenant, id)?.record),
        None => None,
    };
    let mut errors = FieldErrors::default();
    let cidr = match non_empty(&c.cidr) {
        // Melange's IPNetwork(None) fails like any bad cidr: one message for both.
        None => {
            errors.add("cidr", "cidr is invalid");
            None
        }
        Some(text) => parse_cidr(text).or_else(|| {
            errors.add("cidr", "cidr is invalid");
            None
        }),
    };
    let block_type = match (parent, non_empty(&c.block_type)) {
        (Some(p), _) => Some(p.block_type),
        (None, Some(t)) => BlockType::parse(t).or_else(|| {
            errors.add("type", "type should be one among public, private");
            None
        }),
        (None, None) => {
            errors.add("type", "type should be one among public, private");
            None
        }
    };
    let network_id = non_empty(&c.network_id)
        .map(str::to_string)
        .or_else(|| parent.and_then(|p| p.network_id.clone()));
    if let (Some(p), Some(n)) = (parent, &network_id) {
        if p.network_id.as_ref().is_some_and(|pn| pn != n) {
            errors.add("network_id", "network_id should be same as that of parent");
        }
    }
    if let Some(p) = c.parent_id.and_then(|id| state.block(id)) {
        if !p.by_offset.is_empty() {
            errors.add(
                "parent_id",
                "parent is not subnettable since it has allocated ips",
            );
        }
    }
    let tenant = match parent {
        Some(p) => non_empty(&c.subnet_tenant)
            .map(str::to_string)
            .unwrap_or_else(|| p.tenant_id.clone()),
        None => c.tenant.clone(),
    };
    // A subnet's policy is not inherited from the body (Melange ignored it), a root's is checked.
    let policy_id = if parent.is_none() {
        policy_ref(state, &mut errors, &tenant, non_empty(&c.policy_id))
    } else {
        None
    };
    let gateway = optional_address(
        &mut errors,
        "gateway",
        non_empty(&c.gateway),
        "Gateway is not a valid address",
    );
    let dns1 = optional_address(
        &mut errors,
        "dns1",
        non_empty(&c.dns1),
        "dns1 is not a valid address",
    );
    let dns2 = optional_address(
        &mut errors,
        "dns2",
        non_empty(&c.dns2),
        "dns2 is not a valid address",
    );
    let ipv6_generator =
        crate::decide_network::parse_generator(&mut errors, non_empty(&c.ipv6_generator));
    if let (Some(cidr), Some(block_type)) = (cidr, block_type) {
        let placement = Placement {
            id: None,
            cidr,
            block_type,
            network_id: network_id.as_deref(),
            parent,
        };
        check_placement(state, &placement, &mut errors);
    }
    dedup(errors)?;
    let (Some(cidr), Some(block_type)) = (cidr, block_type) else {
        return Err(Rejection::BadRequest("invalid block".into()));
    };
    let e = BlockCreated {
        block_id: ctx.ids.next_id(),
        tenant_id: tenant,
        cidr,
        block_type,
        network_id,
        policy_id,
        gateway: gateway.or_else(|| block::default_gateway(&cidr)),
        dns1: dns1.or(ctx.settings.dns1),
        dns2: dns2.or(ctx.settings.dns2),
        parent_id: parent.map(|p| p.id),
        created_at: ctx.now,
        ipv6_generator,
    };
    let record = BlockRecord {
        id: e.block_id,
        tenant_id: e.tenant_id.clone(),
        cidr,
        block_type,
        network_id: e.network_id.clone(),
        policy_id,
        gateway: e.gateway,
        dns1: e.dns1,
        dns2: e.dns2,
        parent_id: e.parent_id,
        created_at: ctx.now,
        updated_at: ctx.now,
        ipv6_generator,
    };
    // A subnet moves its parent's stream too: on a shared log, that is what makes two
    // nodes deciding about the parent's space at once conflict (see `SubnetAdded`).
    let added = e.parent_id.map(|parent_id| {
        Event::SubnetAdded(SubnetAdded {
            parent_id,
            block_id: e.block_id,
            cidr,
            created_at: ctx.now,
        })
    });
    let claims = claims(&record, parent, ctx);
    let events = std::iter::once(Event::BlockCreated(e))
        .chain(added)
        .chain(claims)
        .collect();
    Ok(Decision::new(events, Reply::Block(record)))
}

/// The scopes whose rules `check_placement` read for `block` beyond its parent, each as a
/// `BlockClaimed` in the scope's stream: a top-level block of a network moves the network's
/// stream (rule 4 and the network's type), a public root the public space's (rule 1). On a
/// shared log, two nodes placing blocks in one scope at once then conflict there and the
/// later decides again; a block inside its parent's network needs none (its parent's stream
/// guards it, see `SubnetAdded`), nor a private block outside any network (rule 5).
fn claims(block: &BlockRecord, parent: Option<&BlockRecord>, ctx: &Context) -> Vec<Event> {
    let network = block
        .network_id
        .as_deref()
        .filter(|net| is_top_level(parent, Some(net)))
        .map(|net| ClaimScope::Network(net.to_string()));
    let public =
        (parent.is_none() && block.block_type == BlockType::Public).then_some(ClaimScope::Public);
    network
        .into_iter()
        .chain(public)
        .map(|scope| {
            Event::BlockClaimed(BlockClaimed {
                block_id: block.id,
                cidr: block.cidr,
                scope,
                claimed_at: ctx.now,
            })
        })
        .collect()
}

pub fn update(state: &State, c: &UpdateBlock, ctx: &mut Context) -> Result<Decision, Rejection> {
    let current = &block(state, &c.tenant, c.block_id)?.record;
    let mut errors = FieldErrors::default();
    let block_type = match non_empty(&c.block_type) {
        Some(t) => BlockType::parse(t).unwrap_or_else(|| {
            errors.add("type", "type should be one among public, private");
            current.block_type
        }),
        None => current.block_type,
    };
    let network_id = match &c.network_id {
        Some(v) => non_empty(v).map(str::to_string),
        None => current.network_id.clone(),
    };
    let policy_id = match &c.policy_id {
        Some(v) => policy_ref(state, &mut errors, &current.tenant_id, non_empty(v)),
        None => current.policy_id,
    };
    let ipv6_generator = match &c.ipv6_generator {
        Some(v) => crate::decide_network::parse_generator(&mut errors, non_empty(v)),
        None => current.ipv6_generator,
    };
    let cidr = current.cidr;
    let pick = |errors: &mut FieldErrors,
                field: &str,
                v: &Option<Option<String>>,
                cur: Option<IpAddr>,
                default: Option<IpAddr>,
                msg: &str| match v {
        Some(v) => optional_address(errors, field, non_empty(v), msg).or(default),
        None => cur,
    };
    let gateway = pick(
        &mut errors,
        "gateway",
        &c.gateway,
        current.gateway,
        block::default_gateway(&cidr),
        "Gateway is not a valid address",
    );
    let dns1 = pick(
        &mut errors,
        "dns1",
        &c.dns1,
        current.dns1,
        ctx.settings.dns1,
        "dns1 is not a valid address",
    );
    let dns2 = pick(
        &mut errors,
        "dns2",
        &c.dns2,
        current.dns2,
        ctx.settings.dns2,
        "dns2 is not a valid address",
    );
    let parent = current
        .parent_id
        .and_then(|id| state.block(id))
        .map(|b| &b.record);
    if let Some(parent_network) = parent.and_then(|p| p.network_id.as_deref()) {
        if network_id.as_deref() != Some(parent_network) {
            errors.add("network_id", "network_id should be same as that of parent");
        }
    }
    let placement = Placement {
        id: Some(current.id),
        cidr,
        block_type,
        network_id: network_id.as_deref(),
        parent,
    };
    check_placement(state, &placement, &mut errors);
    dedup(errors)?;
    let mut record = current.clone();
    record.block_type = block_type;
    record.network_id = network_id.clone();
    record.policy_id = policy_id;
    record.gateway = gateway;
    record.dns1 = dns1;
    record.dns2 = dns2;
    record.ipv6_generator = ipv6_generator;
    record.updated_at = ctx.now;
    let e = BlockUpdated {
        block_id: current.id,
        block_type,
        network_id,
        policy_id,
        gateway,
        dns1,
        dns2,
        updated_at: ctx.now,
        ipv6_generator,
    };
    // Only a move into a network or a change of type can break a scope's rules; the other
    // fields are the block's own (its stream guards them).
    let moved = record.network_id != current.network_id || block_type != current.block_type;
    let claims = if moved {
        claims(&record, parent, ctx)
    } else {
        Vec::new()
    };
    let events = std::iter::once(Event::BlockUpdated(e))
        .chain(claims)
        .collect();
    Ok(Decision::new(events, Reply::Block(record)))
}

/// Decision 6: a block with live allocations or subnets is refused with 409; its
/// soft-deallocated addresses are purged with it, each as an event of its own.
pub fn delete(
    state: &State,
    tenant: &str,
    id: Uuid,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let b = block(state, tenant, id)?;
    if let Some(holder) = state.block_holder(id) {
        return Err(Rejection::Conflict(format!(
            "IpBlock is {holder}; release it through the pool"
        )));
    }
    remove(state, b, ctx)
}

/// Deletes a block under decision 6 (a pool's release of its prefix comes here directly):
/// refused while it has subnets, live allocations or holds, or serves as a pool's resource.
pub(crate) fn remove(
    state: &State,
    b: &BlockState,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let id = b.record.id;
    if let Some(pool) = state.pools_using(id).first() {
        return Err(Rejection::Conflict(format!(
            "IpBlock is a resource of pool {pool}; take it out of the pool first"
        )));
    }
    if !b.children.is_empty() {
        return Err(Rejection::Conflict(format!(
            "IpBlock has {} subnet(s); delete them first",
            b.children.len()
        )));
    }
    let live = b.live_allocations();
    if live > 0 {
        return Err(Rejection::Conflict(format!(
            "IpBlock has {live} allocated address(es); deallocate them first"
        )));
    }
    if !b.holds.is_empty() {
        return Err(Rejection::Conflict(format!(
            "IpBlock has {} pending IP request(s); approve or reject them first",
            b.holds.len()
        )));
    }
    let mut events: Vec<Event> = b
        .by_offset
        .keys()
        .map(|offset| {
            let address = block::address_at(&b.record.cidr, *offset);
            Event::AddressPurged(AddressPurged {
                block_id: id,
                address,
                purged_at: ctx.now,
            })
        })
        .collect();
    // The NAT pairs of the purged addresses and the block's routes go with it, as events.
    let ids: Vec<Uuid> = b.by_offset.values().copied().collect();
    events.splice(0..0, crate::decide_nat::with_purged(state, &ids, ctx.now));
    events.splice(
        0..0,
        crate::decide_interfaces::allowances_purged(state, &ids, ctx.now),
    );
    events.extend(crate::decide_routes::with_block_deleted(state, id, ctx.now));
    events.push(Event::BlockDeleted(BlockDeleted {
        block_id: id,
        deleted_at: ctx.now,
    }));
    Ok(Decision::new(events, Reply::Done))
}
