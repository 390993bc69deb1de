//! Resource pools (issue 9 §2): create, update, delete, release. Allocation is in
//! `decide_pool_allocations.rs`.
//!
//! A pool's resources are blocks of the pool's tenant, all of one family. Releasing an
//! address frees it at once (`AddressDeallocated` then `AddressPurged`: no soft delete on
//! this surface); releasing a prefix deletes its block with Melange's rules (409 while the
//! block has allocations or subnets of its own, or serves as a pool's resource).

use ipledger_domain::events::*;
use ipledger_domain::limits::POOL_RESOURCES_MAX;
use ipledger_domain::pools::{self, PoolKind, PoolRecord, PoolStrategy};
use ipledger_domain::records::Reply;
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{PoolState, State};
use uuid::Uuid;

use crate::command_pools::{CreatePool, UpdatePool};
use crate::decide::{Context, Decision};

pub(crate) fn pool<'a>(
    state: &'a State,
    owner: Option<&str>,
    id: Uuid,
) -> Result<&'a PoolState, Rejection> {
    state
        .pool_of(owner, id)
        .ok_or_else(|| Rejection::not_found("Pool"))
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// The checked values of a pool's fields.
struct Fields {
    resources: Vec<Uuid>,
    default_prefix_length: Option<u8>,
    zone: Option<String>,
    strategy: PoolStrategy,
}

/// The fields as the client sent them (or as they stand, for an update).
struct Given<'a> {
    kind: Option<PoolKind>,
    tenant: &'a str,
    resources: &'a [String],
    default_prefix_length: Option<i64>,
    zone: Option<&'a str>,
    strategy: Option<&'a str>,
}

/// Checks resources, default length, zone and strategy against the tenant's blocks; every
/// problem goes to `errors`.
fn check_fields(state: &State, errors: &mut FieldErrors, g: Given) -> Fields {
    let Given {
        kind,
        tenant,
        resources,
        default_prefix_length,
        zone,
        strategy,
    } = g;
    let mut ids: Vec<Uuid> = Vec::new();
    let mut v6 = None;
    if resources.is_empty() {
        errors.add("resources", "resources should name at least one block");
    }
    if resources.len() > POOL_RESOURCES_MAX {
        errors.add(
            "resources",
            format!("a pool has at most {POOL_RESOURCES_MAX} resources"),
        );
    }
    for text in resources.iter().take(POOL_RESOURCES_MAX) {
        let block = Uuid::parse_str(text.trim())
            .ok()
            .and_then(|id| state.block_of(tenant, id));
        let Some(b) = block else {
            errors.add(
                "resources",
                format!("IpBlock {text} does not exist for tenant {tenant}"),
            );
            continue;
        };
        if ids.contains(&b.record.id) {
            errors.add("resources", format!("IpBlock {text} is named twice"));
            continue;
        }
        let family = b.record.cidr.network().is_ipv6();
        if v6.is_some_and(|f| f != family) {
            errors.add("resources", "resources should all be IPv4 or all IPv6");
        }
        v6 = Some(family);
        ids.push(b.record.id);
    }
    let width: i64 = if v6 == Some(true) { 128 } else { 32 };
    let default_prefix_length = default_prefix_length.and_then(|l| {
        let ok = (0..=width).contains(&l);
        if !ok {
            errors.add(
                "default_prefix_length",
                format!("default_prefix_length should be between 0 and {width}"),
            );
        }
        ok.then_some(l as u8)
    });
    let zone = zone.map(|z| {
        if !pools::valid_zone(z) {
            errors.add(
                "zone",
                "zone should be 1 to 63 of a-z, 0-9 and -, not starting or ending with -",
            );
        }
        z.to_string()
    });
    let strategy =
        parse_strategy(errors, "strategy", strategy, kind).unwrap_or(PoolStrategy::First);
    Fields {
        resources: ids,
        default_prefix_length,
        zone,
        strategy,
    }
}

/// A strategy name; `best_fit` only for prefix pools.
pub(crate) fn parse_strategy(
    errors: &mut FieldErrors,
    field: &str,
    text: Option<&str>,
    kind: Option<PoolKind>,
) -> Option<PoolStrategy> {
    let text = non_empty(text)?;
    match PoolStrategy::parse(text) {
        None => {
            errors.add(
                field,
                format!("{field} should be one among {}", PoolStrategy::NAMES),
            );
            None
        }
        Some(PoolStrategy::BestFit) if kind == Some(PoolKind::Address) => {
            errors.add(field, "best_fit is for prefix pools only");
            None
        }
        Some(s) => Some(s),
    }
}

pub fn create(state: &State, c: &CreatePool, ctx: &mut Context) -> Result<Decision, Rejection> {
    let mut errors = FieldErrors::default();
    let name = pools::check_name(&mut errors, c.name.as_deref());
    let kind = match non_empty(c.kind.as_deref()) {
        Some(k) => PoolKind::parse(k).or_else(|| {
            errors.add("kind", "kind should be one among address, prefix");
            None
        }),
        None => {
            errors.add("kind", "kind should be one among address, prefix");
            None
        }
    };
    let tenant = non_empty(c.tenant_id.as_deref());
    if tenant.is_none() {
        errors.add("tenant_id", "tenant_id is required");
    }
    let tenant = tenant.unwrap_or_default();
    if c.owner.as_deref().is_some_and(|o| o != tenant) {
        // The API answers 403 before this; a command naming another tenant is refused here too.
        return Err(Rejection::not_found("Pool"));
    }
    let resources = c.resources.clone().unwrap_or_default();
    let given = Given {
        kind,
        tenant,
        resources: &resources,
        default_prefix_length: c.default_prefix_length,
        zone: non_empty(c.zone.as_deref()),
        strategy: c.strategy.as_deref(),
    };
    let f = check_fields(state, &mut errors, given);
    errors.into_result()?;
    let (Some(name), Some(kind)) = (name, kind) else {
        return Err(Rejection::BadRequest("invalid pool".into()));
    };
    let e = PoolCreated {
        pool_id: ctx.ids.next_id(),
        name,
        kind,
        tenant_id: tenant.to_string(),
        resources: f.resources,
        default_prefix_length: f.default_prefix_length,
        zone: f.zone,
        strategy: f.strategy,
        created_at: ctx.now,
    };
    let record = PoolRecord {
        id: e.pool_id,
        name: e.name.clone(),
        kind,
        tenant_id: e.tenant_id.clone(),
        resources: e.resources.clone(),
        default_prefix_length: e.default_prefix_length,
        zone: e.zone.clone(),
        strategy: e.strategy,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::PoolCreated(e)],
        Reply::Pool(record),
    ))
}

pub fn update(state: &State, c: &UpdatePool, ctx: &mut Context) -> Result<Decision, Rejection> {
    let p = pool(state, c.owner.as_deref(), c.pool_id)?;
    let current = &p.record;
    let mut errors = FieldErrors::default();
    if non_empty(c.kind.as_deref()).is_some_and(|k| k != current.kind.as_str()) {
        errors.add("kind", "a pool's kind cannot change");
    }
    if non_empty(c.tenant_id.as_deref()).is_some_and(|t| t != current.tenant_id) {
        errors.add("tenant_id", "a pool's tenant cannot change");
    }
    let name = match &c.name {
        Some(n) => pools::check_name(&mut errors, Some(n)),
        None => Some(current.name.clone()),
    };
    let resources: Vec<String> = match &c.resources {
        Some(r) => r.clone(),
        None => current.resources.iter().map(Uuid::to_string).collect(),
    };
    let default_prefix_length = match c.default_prefix_length {
        Some(v) => v,
        None => current.default_prefix_length.map(i64::from),
    };
    let zone = match &c.zone {
        Some(z) => non_empty(z.as_deref()).map(str::to_string),
        None => current.zone.clone(),
    };
    let strategy = c
        .strategy
        .clone()
        .unwrap_or_else(|| current.strategy.as_str().to_string());
    let given = Given {
        kind: Some(current.kind),
        tenant: &current.tenant_id,
        resources: &resources,
        default_prefix_length,
        zone: zone.as_deref(),
        strategy: Some(&strategy),
    };
    let f = check_fields(state, &mut errors, given);
    errors.into_result()?;
    for (resource, count) in &p.per_resource {
        if !f.resources.contains(resource) {
            return Err(Rejection::Conflict(format!(
                "IpBlock {resource} holds {count} allocation(s) of this pool; release them \
                 before removing it from the pool"
            )));
        }
    }
    // A zone's registrations must stay in their zone and in the pool's blocks (read only
    // when the update would move either: a zone may hold many registrations).
    let zone_changes = f.zone != current.zone;
    let drops_a_block = current.resources.iter().any(|b| !f.resources.contains(b));
    if zone_changes || drops_a_block {
        let registered = state.registrations_in_pool(current.id, usize::MAX);
        if let (true, Some(r)) = (zone_changes, registered.first()) {
            return Err(Rejection::Conflict(format!(
                "Pool holds registered addresses of zone {} (such as {}); its zone cannot change",
                r.zone, r.address
            )));
        }
        if let Some(r) = registered
            .iter()
            .find(|r| !f.resources.contains(&r.block_id))
        {
            return Err(Rejection::Conflict(format!(
                "IpBlock {} holds the registered address {} of zone {}; expire and clean up \
                 its registrations before removing it from the pool",
                r.block_id, r.address, r.zone
            )));
        }
    }
    let mut record = current.clone();
    record.name = name.unwrap_or_default();
    record.resources = f.resources;
    record.default_prefix_length = f.default_prefix_length;
    record.zone = f.zone;
    record.strategy = f.strategy;
    record.updated_at = ctx.now;
    let e = PoolUpdated {
        pool_id: record.id,
        name: record.name.clone(),
        resources: record.resources.clone(),
        default_prefix_length: record.default_prefix_length,
        zone: record.zone.clone(),
        strategy: record.strategy,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::PoolUpdated(e)],
        Reply::Pool(record),
    ))
}

/// 409 while the pool has allocations.
pub fn delete(
    state: &State,
    owner: Option<&str>,
    pool_id: Uuid,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = pool(state, owner, pool_id)?;
    if !p.allocations.is_empty() {
        return Err(Rejection::Conflict(format!(
            "Pool has {} allocation(s); release them first",
            p.allocations.len()
        )));
    }
    // A zone's registrations hold addresses of its pool without being pool allocations:
    // deleting the pool would leave them in a zone that no longer exists.
    if let Some(r) = state.registrations_in_pool(pool_id, 1).first() {
        return Err(Rejection::Conflict(format!(
            "Pool holds registered addresses of zone {} (such as {}); expire and clean up those registrations first",
            r.zone, r.address
        )));
    }
    let e = PoolDeleted {
        pool_id,
        deleted_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::PoolDeleted(e)], Reply::Done))
}

/// Releases an allocation by identifier: its address is freed at once, or its block deleted.
pub fn release(
    state: &State,
    owner: Option<&str>,
    pool_id: Uuid,
    identifier: &str,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = pool(state, owner, pool_id)?;
    let a = p
        .allocation(identifier)
        .ok_or_else(|| Rejection::not_found("PoolAllocation"))?;
    let mut events = vec![Event::PoolReleased(PoolReleased {
        pool_id,
        allocation_id: a.id,
        identifier: a.identifier.clone(),
        released_at: ctx.now,
    })];
    match a.address_id.and_then(|id| state.address(id)) {
        Some(rec) => events.extend(crate::decide_addresses::freed_at_once(
            state,
            &[rec],
            ctx.now,
        )),
        None => {
            let b = state
                .block(a.block_id)
                .ok_or_else(|| Rejection::not_found("IpBlock"))?;
            events.extend(crate::decide_blocks::remove(state, b, ctx)?.events);
        }
    }
    Ok(Decision::new(events, Reply::Done))
}
