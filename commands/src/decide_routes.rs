//! Static routes of a block (seed 004 "Static Routes"; melange-semantics.md §6): create,
//! update, delete, and the deletions that go with a deleted block. Field rules live in
//! `ipledger_domain::routing::validate_route`.

use ipledger_domain::events::{RouteCreated, RouteDeleted, RouteUpdated};
use ipledger_domain::records::Reply;
use ipledger_domain::routing::{validate_route, RouteRecord};
use ipledger_domain::{Event, Rejection, Timestamp};
use ipledger_projections::State;
use uuid::Uuid;

use crate::command_routing::RouteChange;
use crate::decide::{Context, Decision};

fn check_block(state: &State, tenant: &str, id: Uuid) -> Result<(), Rejection> {
    state
        .block_of(tenant, id)
        .map(|_| ())
        .ok_or_else(|| Rejection::not_found("IpBlock"))
}

fn existing<'a>(state: &'a State, c: &RouteChange) -> Result<&'a RouteRecord, Rejection> {
    check_block(state, &c.tenant, c.block_id)?;
    c.route_id
        .and_then(|id| state.route_in(c.block_id, id))
        .ok_or_else(|| Rejection::not_found("IpRoute"))
}

pub fn create(state: &State, c: &RouteChange, ctx: &mut Context) -> Result<Decision, Rejection> {
    check_block(state, &c.tenant, c.block_id)?;
    let netmask = c.netmask.clone().flatten();
    let f = validate_route(
        c.destination.as_deref(),
        c.gateway.as_deref(),
        netmask.as_deref(),
    )?;
    let e = RouteCreated {
        block_id: c.block_id,
        route_id: ctx.ids.next_id(),
        destination: f.destination,
        gateway: f.gateway,
        netmask: f.netmask,
        created_at: ctx.now,
    };
    let record = RouteRecord {
        id: e.route_id,
        block_id: e.block_id,
        destination: e.destination.clone(),
        gateway: e.gateway.clone(),
        netmask: e.netmask.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::RouteCreated(e)],
        Reply::Route(record),
    ))
}

/// Absent fields keep their value; the result is validated as a whole, so a new gateway
/// must still match the kept destination's IP version.
pub fn update(state: &State, c: &RouteChange, ctx: &mut Context) -> Result<Decision, Rejection> {
    let old = existing(state, c)?;
    let destination = c.destination.as_deref().unwrap_or(&old.destination);
    let gateway = c.gateway.as_deref().unwrap_or(&old.gateway);
    let netmask = match &c.netmask {
        None => old.netmask.as_deref(),
        Some(m) => m.as_deref(),
    };
    let f = validate_route(Some(destination), Some(gateway), netmask)?;
    let e = RouteUpdated {
        block_id: c.block_id,
        route_id: old.id,
        destination: f.destination,
        gateway: f.gateway,
        netmask: f.netmask,
        updated_at: ctx.now,
    };
    let record = RouteRecord {
        destination: e.destination.clone(),
        gateway: e.gateway.clone(),
        netmask: e.netmask.clone(),
        updated_at: ctx.now,
        ..old.clone()
    };
    Ok(Decision::new(
        vec![Event::RouteUpdated(e)],
        Reply::Route(record),
    ))
}

pub fn delete(
    state: &State,
    tenant: &str,
    block_id: Uuid,
    route_id: Uuid,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let c = RouteChange {
        tenant: tenant.to_string(),
        block_id,
        route_id: Some(route_id),
        ..RouteChange::default()
    };
    existing(state, &c)?;
    let e = RouteDeleted {
        block_id,
        route_id,
        deleted_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::RouteDeleted(e)], Reply::Done))
}

/// The route deletions that go with deleting `block_id` (the original left them behind).
pub fn with_block_deleted(state: &State, block_id: Uuid, now: Timestamp) -> Vec<Event> {
    state
        .routes_of(block_id)
        .into_iter()
        .map(|r| {
            Event::RouteDeleted(RouteDeleted {
                block_id,
                route_id: r.id,
                deleted_at: now,
            })
        })
        .collect()
}
