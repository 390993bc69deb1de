//! IP requests (issue 4): intake with network resolution and the soft hold, approval into an
//! allocation, rejection, expiry, and delivery records.
//!
//! A hold takes an address from the block's owner until someone decides, so holds are bounded
//! (issue 8): an agent (the token's name) may have at most `request_holds_per_agent_max`
//! pending requests at once, over every tenant (an agent is not a tenant's, and a limit per
//! tenant would let one agent fill as many blocks as there are tenants); and a request pending
//! longer than `request_pending_expiry_hours` is expired by the retention run, which frees
//! its address and records why.
//!
//! The network is the most specific block containing the address, over every tenant's blocks
//! (ties: the oldest block). A request is refused without an event when the address is
//! allocated, reserved (gateway, broadcast), refused by the block's policy, or already held by
//! a pending request (the seed's "Failed to create request").

use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::records::Reply;
use ipledger_domain::requests::{self, RequestRecord, RequestStatus, ASSIGN_TYPE_USER};
use ipledger_domain::{block, Event, Rejection};
use ipledger_projections::{BlockState, State};

use crate::command_requests::{DecideRequest, RecordDelivery, SubmitRequest};
use crate::decide::{Context, Decision};
use crate::decide_addresses::exclusions;

/// The seed's answer to a second request for an address a pending request holds.
pub const DUPLICATE_MESSAGE: &str = "Failed to create request";

/// The most specific block containing `ip` (longest prefix; the oldest on a tie), found in
/// the block index in O(prefix length × log n).
pub fn resolve_block(state: &State, ip: IpAddr) -> Option<&BlockState> {
    state.most_specific_block(ip)
}

fn text_field(name: &str, value: &Option<String>) -> Result<Option<String>, Rejection> {
    let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.len() > requests::REQUEST_TEXT_BYTES_MAX || v.chars().any(char::is_control) {
        return Err(Rejection::BadRequest(format!(
            "{name} should be at most {} bytes without control characters",
            requests::REQUEST_TEXT_BYTES_MAX
        )));
    }
    Ok(Some(v.to_string()))
}

/// Why `ip` cannot be held in `b`, if it cannot.
fn unavailable(state: &State, b: &BlockState, ip: IpAddr) -> Option<Rejection> {
    if !b.children.is_empty() {
        return Some(Rejection::Unprocessable(format!(
            "IP address {ip} lies in a subnetted block outside its subnets"
        )));
    }
    let offset = block::offset_of(&b.record.cidr, ip)?;
    if b.holds.contains_key(&offset) {
        return Some(Rejection::Conflict(DUPLICATE_MESSAGE.into()));
    }
    if b.by_offset.contains_key(&offset) {
        return Some(Rejection::Conflict(format!(
            "IP address {ip} is already allocated"
        )));
    }
    if b.record.gateway == Some(ip) || offset == block::last_offset(&b.record.cidr) {
        return Some(Rejection::Unprocessable(format!(
            "IP address {ip} is reserved (gateway or broadcast address)"
        )));
    }
    if exclusions(state, b, false).policy_refuses(offset) {
        return Some(Rejection::Unprocessable(format!(
            "IP address {ip} is not allowed by its block's policy"
        )));
    }
    None
}

pub fn submit(state: &State, c: &SubmitRequest, ctx: &mut Context) -> Result<Decision, Rejection> {
    let ip =
        c.ip.ok_or_else(|| Rejection::BadRequest("ip is required".into()))?;
    let email = text_field("email", &c.email)?;
    if let Some(e) = email.as_deref().filter(|e| !requests::valid_email(e)) {
        return Err(Rejection::BadRequest(format!(
            "email {e:?} is not a valid e-mail address"
        )));
    }
    let ip_range = text_field("ipRange", &c.ip_range)?;
    let region = text_field("region", &c.region)?;
    let description = text_field("description", &c.description)?;
    let b = resolve_block(state, ip).ok_or_else(|| {
        Rejection::Unprocessable(format!("IP address {ip} is not in any configured network"))
    })?;
    if let Some(refusal) = unavailable(state, b, ip) {
        return Err(refusal);
    }
    within_hold_limit(state, &c.agent, ctx)?;
    let e = RequestSubmitted {
        request_id: ctx.ids.next_id(),
        block_id: b.record.id,
        ip,
        network_id: b.record.network_id.clone(),
        assign_type: ASSIGN_TYPE_USER.into(),
        assigned_to: email.clone().unwrap_or_else(|| c.requested_by.clone()),
        requested_by: c.requested_by.clone(),
        agent: Some(c.agent.clone()),
        email,
        ip_range,
        region,
        description,
        submitted_at: ctx.now,
    };
    let mut after = ipledger_projections::requests::Requests::default();
    after.submitted(&e);
    let record = after.by_id.remove(&e.request_id).expect("just submitted");
    Ok(Decision::new(
        vec![Event::RequestSubmitted(e)],
        Reply::Request(record),
    ))
}

/// Refuses a new hold when the agent already has as many pending requests as allowed.
fn within_hold_limit(state: &State, agent: &str, ctx: &Context) -> Result<(), Rejection> {
    let Some(max) = ctx.settings.request_holds_per_agent_max else {
        return Ok(());
    };
    let held = state.request_queue().pending_holds_of(agent);
    if held < max {
        return Ok(());
    }
    Err(Rejection::Unprocessable(format!(
        "agent {agent} already has {held} pending IP requests, the most allowed \
         (request_holds_per_agent_max = {max}); wait until some are approved, rejected or expired"
    )))
}

/// At most this many requests expire per command; the retention run repeats it.
pub const EXPIRE_BATCH_MAX: usize = 10_000;

/// Expires up to `max` requests pending longer than `request_pending_expiry_hours`, oldest
/// first: each `RequestExpired` frees its hold and says why. The reply counts them.
pub fn expire(state: &State, max: usize, ctx: &mut Context) -> Result<Decision, Rejection> {
    let nothing = || Decision::new(Vec::new(), Reply::Purged(0));
    let Some(hours) = ctx.settings.request_pending_expiry_hours else {
        return Ok(nothing());
    };
    let Some(cutoff) = ctx
        .now
        .checked_sub_signed(chrono::Duration::hours(i64::from(hours)))
    else {
        return Ok(nothing());
    };
    let due = state
        .request_queue()
        .pending_before(cutoff, max.clamp(1, EXPIRE_BATCH_MAX));
    let events: Vec<Event> = due
        .iter()
        .map(|r| {
            Event::RequestExpired(RequestExpired {
                request_id: r.id,
                block_id: r.block_id,
                reason: format!(
                    "pending for more than {hours} hours (request_pending_expiry_hours) \
                     without a decision; the held address was released"
                ),
                expired_at: ctx.now,
            })
        })
        .collect();
    let n = events.len() as u64;
    Ok(Decision::new(events, Reply::Purged(n)))
}

fn pending<'a>(state: &'a State, c: &DecideRequest) -> Result<&'a RequestRecord, Rejection> {
    let r = state
        .request(c.request_id)
        .ok_or_else(|| Rejection::not_found("IpRequest"))?;
    if r.status != RequestStatus::Pending {
        return Err(Rejection::Conflict(format!(
            "IpRequest is already {}; only PENDING requests can be decided",
            r.status.as_str()
        )));
    }
    Ok(r)
}

/// Approval allocates the held address to the requester (the block's tenant is the lessee,
/// so the address shows in that tenant's Melange views); rejection frees it.
pub fn decide(state: &State, c: &DecideRequest, ctx: &mut Context) -> Result<Decision, Rejection> {
    let r = pending(state, c)?;
    let mut record = r.clone();
    record.decided_at = Some(ctx.now);
    record.decided_by = Some(c.decided_by.clone());
    let events = match &c.reject {
        Some(reason) => {
            let reason = text_field("reason", reason)?;
            record.status = RequestStatus::Rejected;
            record.reason = reason.clone();
            vec![Event::RequestRejected(RequestRejected {
                request_id: r.id,
                block_id: r.block_id,
                rejected_by: c.decided_by.clone(),
                reason,
                rejected_at: ctx.now,
            })]
        }
        None => {
            let b = state
                .block(r.block_id)
                .ok_or_else(|| Rejection::not_found("IpBlock"))?;
            let address_id = ctx.ids.next_id();
            record.status = RequestStatus::Approved;
            record.address_id = Some(address_id);
            let approved = RequestApproved {
                request_id: r.id,
                block_id: r.block_id,
                address_id,
                approved_by: c.decided_by.clone(),
                approved_at: ctx.now,
            };
            let allocated = AddressAllocated {
                block_id: r.block_id,
                address_id,
                address: r.ip,
                interface_id: None,
                used_by_tenant: b.record.tenant_id.clone(),
                used_by_device: Some(r.assigned_to.clone()),
                mac_address: None,
                allocated_at: ctx.now,
            };
            vec![
                Event::RequestApproved(approved),
                Event::AddressAllocated(allocated),
            ]
        }
    };
    Ok(Decision::new(events, Reply::Request(record)))
}

/// Recording a delivery twice appends nothing (the outbox may retry after a lost answer).
pub fn record_delivery(
    state: &State,
    c: &RecordDelivery,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let r = state
        .request(c.request_id)
        .ok_or_else(|| Rejection::not_found("IpRequest"))?;
    if r.delivered.contains(&c.kind) {
        return Ok(Decision::nothing());
    }
    let e = NotificationDelivered {
        request_id: c.request_id,
        kind: c.kind,
        recipient: c.recipient.clone(),
        delivered_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::NotificationDelivered(e)],
        Reply::Done,
    ))
}
