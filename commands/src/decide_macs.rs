//! MAC address ranges (create, delete) and taking a MAC for an interface: from the ranges in
//! creation order, lowest free first, or the one the caller gave (decision 16,
//! melange-semantics.md §4). MAC allocation is on as soon as one range exists; uniqueness
//! holds across ranges and given MACs (one registry of MACs in use). A range never hands out
//! a group (multicast, broadcast) or the all-zero MAC (issue 8, defect 8): those are skipped,
//! and a range made only of them is kept (Melange's own examples create such ranges) but gives
//! nothing; a MAC given by the caller is the caller's choice.

use ipledger_domain::events::*;
use ipledger_domain::interfaces::MacRangeRecord;
use ipledger_domain::mac::{format_mac, next_allocatable, parse_mac, MacRange};
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::State;
use uuid::Uuid;

use crate::decide::{Context, Decision};
use crate::plan::Plan;

pub fn create_range(
    _state: &State,
    cidr: &Option<String>,
    tenant_id: &Option<String>,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let range = cidr
        .as_deref()
        .and_then(MacRange::parse)
        .ok_or_else(|| Rejection::invalid("cidr", "cidr is invalid"))?;
    let tenant_id = tenant_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let e = MacRangeCreated {
        range_id: ctx.ids.next_id(),
        first: range.first(),
        prefix_len: range.prefix_len(),
        tenant_id,
        created_at: ctx.now,
    };
    let record = MacRangeRecord {
        id: e.range_id,
        first: e.first,
        prefix_len: e.prefix_len,
        tenant_id: e.tenant_id.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::MacRangeCreated(e)],
        Reply::MacRange(record),
    ))
}

/// The MACs already allocated from the range stay with their interfaces.
pub fn delete_range(state: &State, id: Uuid, ctx: &mut Context) -> Result<Decision, Rejection> {
    if state.mac_range(id).is_none() {
        return Err(Rejection::not_found("MacAddressRange"));
    }
    let e = MacRangeDeleted {
        range_id: id,
        deleted_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::MacRangeDeleted(e)], Reply::Done))
}

/// A MAC from the ranges for `vif`: None when no range exists (MAC allocation is off),
/// 422 when every range is exhausted.
pub(crate) fn allocate_mac(
    plan: &mut Plan,
    vif: &str,
    ctx: &Context,
) -> Result<Option<u64>, Rejection> {
    let ranges: Vec<(Uuid, u64, u8)> = plan
        .state
        .mac_ranges()
        .into_iter()
        .map(|r| (r.id, r.first, r.prefix_len))
        .collect();
    if ranges.is_empty() {
        return Ok(None);
    }
    for (id, first, prefix_len) in ranges {
        let Some(range) = MacRange::new(first, prefix_len) else {
            continue;
        };
        let mut from = range.first();
        while let Some(free) = plan.next_free_mac(from, range.last()) {
            match next_allocatable(free) {
                Some(mac) if mac == free => {
                    plan.take_mac(mac, vif, Some(id), ctx);
                    return Ok(Some(mac));
                }
                Some(next) => from = next,
                None => break,
            }
        }
    }
    Err(Rejection::Unprocessable("No more mac Addresses".into()))
}

/// The caller's MAC for `vif`: 400 if it does not parse, 409 if another interface holds it.
pub(crate) fn use_given_mac(
    plan: &mut Plan,
    text: &str,
    vif: &str,
    ctx: &Context,
) -> Result<u64, Rejection> {
    let mac = parse_mac(text)
        .ok_or_else(|| Rejection::invalid("mac_address", "mac_address is invalid"))?;
    if plan.mac_used(mac) {
        return Err(Rejection::Conflict(format!(
            "MacAddress {} is already allocated",
            format_mac(mac)
        )));
    }
    plan.take_mac(mac, vif, None, ctx);
    Ok(mac)
}

/// Gives a new interface its MAC: the one asked for, else one from the ranges if any.
pub(crate) fn give_mac(
    plan: &mut Plan,
    vif: &str,
    given: Option<&str>,
    ctx: &Context,
) -> Result<Option<u64>, Rejection> {
    // The spec's own example sends `"mac_address": "null"`: that means no MAC.
    let given = given
        .map(str::trim)
        .filter(|m| !m.is_empty() && !m.eq_ignore_ascii_case("null"));
    match given {
        Some(text) => use_given_mac(plan, text, vif, ctx).map(Some),
        None => allocate_mac(plan, vif, ctx),
    }
}
