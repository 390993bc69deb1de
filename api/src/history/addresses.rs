//! `GET /v1/history/addresses/{address}`: the holder timeline of one address — every holding
//! of it in every block that ever contained it (deleted blocks and their re-creations
//! included), oldest first: who held it (tenant, and the holder: interface/device, IP
//! request, Scaleway IP, pool allocation, registration), from when to when (time and
//! position), by which actor, through which command, and why it ended.
//!
//! How it is found: the projection keeps every block ever created by CIDR
//! (`State::blocks_ever_containing`, a cost per block, none per address); each such block's
//! stream is read through the store and the events naming the address are folded into
//! holdings. Which surface an allocation belongs to is read from the events of the same
//! command (contiguous in the log, sharing actor, correlation id and time): a
//! `ScalewayIpBooked`, `PoolAllocated`, `RegistrationCreated` or `RequestApproved` naming the
//! allocation's address id. The cost is a read of those blocks' streams per request — fine
//! for an auditor's question, not for a hot path (see ARCHITECTURE.md).

use std::net::IpAddr;

use ipledger_domain::events::block_stream;
use ipledger_domain::limits::EVENTS_PAGE_MAX;
use ipledger_domain::{Envelope, Event};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::fault::Fault;
use crate::history::objects::end_of;
use crate::kit::wire::timestamp;
use crate::kit::{Answer, Call, Resp};

/// The most events of one command read on either side of an allocation or a deallocation to
/// find which surface made it (a command's events are contiguous in the log).
const COMMAND_EVENTS_MAX: usize = 4096;

/// Events read per store call while collecting a command's events.
const COMMAND_CHUNK: usize = 64;

/// A moment in the timeline: an event's time, position and actor.
fn mark(e: &Envelope) -> Value {
    json!({"time": timestamp(&e.recorded_at), "position": e.position, "actor": e.actor})
}

struct Holding {
    tenant: String,
    block_id: Uuid,
    cidr: Option<String>,
    via: &'static str,
    holder: Value,
    from: Value,
    /// Set by an allocation: what its end is matched against.
    address_id: Option<Uuid>,
    request_id: Option<Uuid>,
    pool_allocation: Option<Uuid>,
    deallocated: Option<Value>,
    purged: Option<Value>,
    ended: Option<(&'static str, Value)>,
}

impl Holding {
    fn render(&self) -> Value {
        let (reason, to) = match &self.ended {
            Some((reason, at)) => (json!(reason), at.clone()),
            None => (Value::Null, Value::Null),
        };
        json!({
            "tenant_id": self.tenant,
            "block_id": self.block_id,
            "block_cidr": self.cidr,
            "via": self.via,
            "holder": self.holder,
            "from": self.from,
            "to": to,
            "ended_because": reason,
            "purged": self.purged,
        })
    }

    fn open(&self) -> bool {
        self.ended.is_none()
    }
}

/// `address` as the path gives it (`10.1.1.6`, or with `/32` / `/128`).
fn address_param(text: &str) -> Result<IpAddr, Fault> {
    crate::registrations::handlers::address_of(text)
}

#[utoipa::path(get, path = "/v1/history/addresses/{address}", tag = "history",
    responses((status = 200, description = "The address's holder timeline", body = crate::history::wire::AddressTimeline)))]
pub async fn timeline(c: Call<'_>) -> Answer {
    let address = address_param(c.param("address"))?;
    let end = end_of(&c);
    let blocks = c.views().blocks_ever_containing(address);
    let mut holdings: Vec<Holding> = Vec::new();
    for block_id in blocks {
        // A page at a time: a block's stream may be millions of events.
        let stream = block_stream(block_id);
        let mut fold = BlockFold {
            block_id,
            first: holdings.len(),
            tenant: String::new(),
            cidr: None,
        };
        let mut from = 0;
        loop {
            let page = c
                .app
                .store
                .read_stream(&stream, from, EVENTS_PAGE_MAX)
                .await
                .map_err(|e| Fault::unavailable(format!("reading the log: {e}")))?;
            let full = page.len() == EVENTS_PAGE_MAX;
            let page: Vec<Envelope> = page.into_iter().filter(|e| e.position < end).collect();
            fold_block(&c, address, &mut fold, &page, end, &mut holdings).await?;
            match page.last() {
                Some(last) if full && page.len() == EVENTS_PAGE_MAX => from = last.version + 1,
                _ => break,
            }
        }
    }
    holdings.sort_by_key(|h| h.from["position"].as_u64());
    let shown: Vec<Value> = holdings
        .iter()
        .filter(|h| c.owner().is_none_or(|own| own == h.tenant))
        .map(Holding::render)
        .collect();
    Ok(Resp::ok(
        json!({"address": address.to_string(), "holdings": shown}),
    ))
}

/// Where the fold of one block's stream stands between pages.
struct BlockFold {
    block_id: Uuid,
    /// Where this block's holdings start in the list.
    first: usize,
    tenant: String,
    cidr: Option<String>,
}

/// Folds one page of a block stream's events naming `address` into holdings.
async fn fold_block(
    c: &Call<'_>,
    address: IpAddr,
    f: &mut BlockFold,
    events: &[Envelope],
    end: u64,
    holdings: &mut Vec<Holding>,
) -> Result<(), Fault> {
    let (block_id, first) = (f.block_id, f.first);
    for e in events {
        // The holdings of this block only.
        let mine = &mut holdings[first..];
        match &e.event {
            Event::BlockCreated(b) => {
                f.tenant = b.tenant_id.clone();
                f.cidr = Some(b.cidr.to_string());
            }
            Event::BlockDeleted(_) => {
                for h in mine.iter_mut().filter(|h| h.open()) {
                    h.ended = Some(("block deleted", mark(e)));
                }
            }
            Event::RequestSubmitted(r) if r.ip == address => holdings.push(Holding {
                tenant: f.tenant.clone(),
                block_id,
                cidr: f.cidr.clone(),
                via: "request hold",
                holder: json!({"request_id": r.request_id, "assign_type": r.assign_type, "assigned_to": r.assigned_to, "requested_by": r.requested_by}),
                from: mark(e),
                address_id: None,
                request_id: Some(r.request_id),
                pool_allocation: None,
                deallocated: None,
                purged: None,
                ended: None,
            }),
            Event::RequestApproved(r) => {
                for h in mine.iter_mut() {
                    if h.open() && h.request_id == Some(r.request_id) && h.address_id.is_none() {
                        h.ended = Some(("approved", mark(e)));
                    }
                    // The allocation came first in the same command.
                    if h.address_id == Some(r.address_id) {
                        h.via = "request approval";
                        h.holder["request_id"] = json!(r.request_id);
                    }
                }
            }
            Event::RequestRejected(r) => end_hold(mine, r.request_id, "rejected", e),
            Event::RequestExpired(r) => end_hold(mine, r.request_id, "expired", e),
            Event::AddressAllocated(a) if a.address == address => {
                let mut h = Holding {
                    tenant: a.used_by_tenant.clone(),
                    block_id,
                    cidr: f.cidr.clone(),
                    via: "allocation",
                    holder: json!({"address_id": a.address_id, "interface_id": a.interface_id, "device_id": a.used_by_device, "mac_address": a.mac_address}),
                    from: mark(e),
                    address_id: Some(a.address_id),
                    request_id: None,
                    pool_allocation: None,
                    deallocated: None,
                    purged: None,
                    ended: None,
                };
                surface_of(&command_events(c, e, end).await?, a.address_id, &mut h);
                holdings.push(h);
            }
            Event::AddressDeallocated(d) if d.address == address => {
                if let Some(i) = last_open(mine) {
                    let why = release_of(&command_events(c, e, end).await?, &mine[i]);
                    let h = &mut mine[i];
                    h.deallocated = Some(mark(e));
                    h.ended = Some((why, mark(e)));
                }
            }
            Event::AddressRestored(r) if r.address == address => {
                if let Some(h) = mine
                    .iter_mut()
                    .rev()
                    .find(|h| h.address_id.is_some() && h.purged.is_none())
                {
                    h.deallocated = None;
                    h.ended = None;
                }
            }
            Event::AddressPurged(p) if p.address == address => {
                if let Some(h) = mine
                    .iter_mut()
                    .rev()
                    .find(|h| h.address_id.is_some() && h.purged.is_none())
                {
                    h.purged = Some(mark(e));
                    if h.open() {
                        h.ended = Some(("purged", mark(e)));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn end_hold(holdings: &mut [Holding], request_id: Uuid, why: &'static str, e: &Envelope) {
    for h in holdings
        .iter_mut()
        .filter(|h| h.open() && h.request_id == Some(request_id) && h.address_id.is_none())
    {
        h.ended = Some((why, mark(e)));
    }
}

fn last_open(holdings: &[Holding]) -> Option<usize> {
    holdings
        .iter()
        .rposition(|h| h.open() && h.address_id.is_some())
}

/// Names the surface that made an allocation from its command's other events.
fn surface_of(command: &[Envelope], address_id: Uuid, h: &mut Holding) {
    for e in command {
        match &e.event {
            Event::ScalewayIpBooked(b) if b.ip_id == address_id => {
                h.via = "scaleway booking";
                h.holder = json!({"ip_id": b.ip_id, "project_id": b.project_id});
            }
            Event::PoolAllocated(p) if p.address_id == Some(address_id) => {
                h.via = "pool allocation";
                h.holder = json!({"pool_id": p.pool_id, "allocation_id": p.allocation_id, "identifier": p.identifier});
                h.pool_allocation = Some(p.allocation_id);
            }
            Event::RegistrationCreated(r) if r.address_id == address_id => {
                h.via = "registration";
                h.holder = json!({"zone": r.zone, "pool_id": r.pool_id, "service_name": r.service.service_name});
            }
            Event::RequestApproved(r) if r.address_id == address_id => {
                h.via = "request approval";
                h.holder["request_id"] = json!(r.request_id);
            }
            _ => {}
        }
    }
}

/// Why a deallocation ended a holding: the surface's release (a registration's when its last
/// service expired), else a Melange deallocation.
fn release_of(command: &[Envelope], h: &Holding) -> &'static str {
    let mut why = "deallocated";
    for e in command {
        match &e.event {
            Event::ScalewayIpReleased(r) if Some(r.ip_id) == h.address_id => why = "released",
            Event::PoolReleased(r) if Some(r.allocation_id) == h.pool_allocation => {
                why = "released"
            }
            Event::RegistrationReleased(r) if Some(r.address_id) == h.address_id => {
                let expired = command
                    .iter()
                    .any(|x| matches!(x.event, Event::RegistrationServiceRemoved(_)));
                why = if expired { "expired" } else { "released" };
            }
            _ => {}
        }
    }
    why
}

/// The events of the command that appended `e`: the run of contiguous events around it with
/// its actor, correlation id and time (one command's events are appended together, stamped
/// with one clock read), at most [`COMMAND_EVENTS_MAX`] on either side, none at or past `end`.
async fn command_events(c: &Call<'_>, e: &Envelope, end: u64) -> Result<Vec<Envelope>, Fault> {
    let same = |x: &Envelope| {
        x.actor == e.actor && x.correlation_id == e.correlation_id && x.recorded_at == e.recorded_at
    };
    let read = |from: u64, n: usize| async move {
        c.app
            .store
            .read_all(from, n)
            .await
            .map_err(|err| Fault::unavailable(format!("reading the log: {err}")))
    };
    let mut before: Vec<Envelope> = Vec::new();
    let mut at = e.position;
    'back: while at > 0 && before.len() < COMMAND_EVENTS_MAX {
        let from = at.saturating_sub(COMMAND_CHUNK as u64);
        let chunk = read(from, (at - from) as usize).await?;
        for x in chunk.into_iter().rev() {
            if !same(&x) {
                break 'back;
            }
            before.push(x);
        }
        at = from;
    }
    before.reverse();
    let mut after: Vec<Envelope> = Vec::new();
    let mut at = e.position + 1;
    'forward: while at < end && after.len() < COMMAND_EVENTS_MAX {
        let chunk = read(at, COMMAND_CHUNK).await?;
        if chunk.is_empty() {
            break;
        }
        for x in chunk {
            if x.position >= end || !same(&x) {
                break 'forward;
            }
            at = x.position + 1;
            after.push(x);
        }
    }
    before.push(e.clone());
    before.extend(after);
    Ok(before)
}
