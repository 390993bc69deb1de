//! `GET /v1/history/{blocks|requests|ips|pools|registrations|interfaces}/{id}?from=&limit=`:
//! one object's events in log order (its stream, from stream version `from`), each with its
//! position, stream version, time, actor, type, a one-line summary and its payload — with
//! every secret digest left out. The owner (the tenant a tenant token must be) is read from
//! the object's first event, so a deleted object's history stays visible to its tenant.

use ipledger_domain::events::block_stream;
use ipledger_domain::interfaces::interface_stream;
use ipledger_domain::limits::EVENTS_PAGE_MAX;
use ipledger_domain::pools::pool_stream;
use ipledger_domain::registrations::registration_stream;
use ipledger_domain::scaleway::scaleway_ip_stream;
use ipledger_domain::{Envelope, Event};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::fault::Fault;
use crate::kit::wire::timestamp;
use crate::kit::{parse_id, Answer, Call, Resp};

/// The end of what this request may see: the events before the `as_of` state's position
/// (every event, for a live read).
pub(crate) fn end_of(c: &Call<'_>) -> u64 {
    c.req.as_of.as_ref().map_or(u64::MAX, |s| s.position())
}

fn store_fault(e: impl std::fmt::Display) -> Fault {
    Fault::unavailable(format!("reading the log: {e}"))
}

/// The first event of `stream`, if it was appended before `end`.
pub(crate) async fn first_event(
    c: &Call<'_>,
    stream: &str,
    end: u64,
) -> Result<Option<Envelope>, Fault> {
    let first = c
        .app
        .store
        .read_stream(stream, 0, 1)
        .await
        .map_err(store_fault)?;
    Ok(first.into_iter().next().filter(|e| e.position < end))
}

/// Every event of `stream` appended before `end`, in order, read a page at a time.
pub(crate) async fn whole_stream(
    c: &Call<'_>,
    stream: &str,
    end: u64,
) -> Result<Vec<Envelope>, Fault> {
    let mut all = Vec::new();
    loop {
        let from = all.len() as u64;
        let page = c
            .app
            .store
            .read_stream(stream, from, EVENTS_PAGE_MAX)
            .await
            .map_err(store_fault)?;
        let full = page.len() == EVENTS_PAGE_MAX;
        let before = page.len();
        all.extend(page.into_iter().filter(|e| e.position < end));
        if !full || all.len() < from as usize + before {
            return Ok(all);
        }
    }
}

/// The payload's fields, with secret digests (and anything named like a secret) removed.
pub(crate) fn payload(event: &Event) -> Value {
    let mut v = serde_json::to_value(event).unwrap_or(Value::Null);
    let inner = v
        .as_object_mut()
        .and_then(|o| o.values_mut().next())
        .map(std::mem::take)
        .unwrap_or(Value::Null);
    scrub(inner)
}

fn scrub(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| !(k.contains("secret") || k.contains("digest")))
                .map(|(k, v)| (k, scrub(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(scrub).collect()),
        other => other,
    }
}

/// "BlockCreated: cidr 10.1.0.0/24, tenant_id acme, ...": the type and the payload's plain
/// fields (ids, addresses, names), without times (the entry has its own) or empty values.
pub(crate) fn summary(event: &Event, data: &Value) -> String {
    let fields: Vec<String> = data
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.ends_with("_at"))
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some(format!("{k} {s}")),
            Value::Number(n) => Some(format!("{k} {n}")),
            Value::Bool(b) => Some(format!("{k} {b}")),
            _ => None,
        })
        .collect();
    if fields.is_empty() {
        event.type_name().to_string()
    } else {
        format!("{}: {}", event.type_name(), fields.join(", "))
    }
}

/// One history entry.
pub(crate) fn entry(e: &Envelope) -> Value {
    let data = payload(&e.event);
    json!({
        "position": e.position,
        "stream": e.stream,
        "version": e.version,
        "time": timestamp(&e.recorded_at),
        "actor": e.actor,
        "type": e.event.type_name(),
        "summary": summary(&e.event, &data),
        "data": data,
    })
}

/// 404 unless the caller may see an object owned by `tenant`: admins and agents see every
/// tenant's, a tenant token its own only (another's is not confirmed to exist).
fn visible(c: &Call<'_>, tenant: &str, what: &str) -> Result<(), Fault> {
    match c.owner() {
        Some(own) if own != tenant => Err(Fault::not_found(format!("{what} Not Found"))),
        _ => Ok(()),
    }
}

/// The answer for one object: `stream`'s events from `from` (query), up to `limit`, kept by
/// `keep`, after checking the owner.
async fn answer(
    c: Call<'_>,
    kind: &str,
    id: &str,
    stream: String,
    tenant: String,
    keep: impl Fn(&Envelope) -> bool,
) -> Answer {
    visible(&c, &tenant, kind)?;
    let from = c.req.number("from", 0)?;
    let limit = (c.req.number("limit", EVENTS_PAGE_MAX as u64)? as usize).clamp(1, EVENTS_PAGE_MAX);
    let end = end_of(&c);
    let page = c
        .app
        .store
        .read_stream(&stream, from, limit)
        .await
        .map_err(store_fault)?;
    let more = page.len() == limit && page.last().is_some_and(|e| e.position < end);
    let next_from = page.last().filter(|_| more).map(|e| e.version + 1);
    let events: Vec<Value> = page
        .iter()
        .filter(|e| e.position < end && keep(e))
        .map(entry)
        .collect();
    Ok(Resp::ok(json!({
        "kind": kind,
        "id": id,
        "tenant_id": tenant,
        "stream": stream,
        "events": events,
        "next_from": next_from,
    })))
}

fn not_found(what: &str) -> Fault {
    Fault::not_found(format!("{what} Not Found"))
}

/// The tenant of a block, from its `BlockCreated` (deleted blocks too).
async fn block_tenant(c: &Call<'_>, block_id: Uuid, end: u64) -> Result<String, Fault> {
    match first_event(c, &block_stream(block_id), end).await? {
        Some(Envelope {
            event: Event::BlockCreated(e),
            ..
        }) => Ok(e.tenant_id),
        _ => Err(not_found("IpBlock")),
    }
}

/// The tenant of a pool, from its `PoolCreated`.
async fn pool_tenant(c: &Call<'_>, pool_id: Uuid, end: u64) -> Result<String, Fault> {
    match first_event(c, &pool_stream(pool_id), end).await? {
        Some(Envelope {
            event: Event::PoolCreated(e),
            ..
        }) => Ok(e.tenant_id),
        _ => Err(not_found("Pool")),
    }
}

/// `GET /v1/history/blocks/{block}`: the block's stream — its creation, updates, subnets,
/// every allocation, deallocation, purge, route, NAT pair and IP request in it, its deletion.
#[utoipa::path(get, path = "/v1/history/blocks/{block}", tag = "history", params(crate::history::wire::HistoryQuery),
    responses((status = 200, description = "A block's events, oldest first", body = crate::history::wire::ObjectHistory)))]
pub async fn block(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("block"), "IpBlock")?;
    let tenant = block_tenant(&c, id, end_of(&c)).await?;
    answer(
        c,
        "block",
        &id.to_string(),
        block_stream(id),
        tenant,
        |_| true,
    )
    .await
}

/// `GET /v1/history/requests/{request}`: the IP request's events (they live in its block's
/// stream): submission, approval with the allocation it made, rejection or expiry.
#[utoipa::path(get, path = "/v1/history/requests/{request}", tag = "history", params(crate::history::wire::HistoryQuery),
    responses((status = 200, description = "An IP request's events, oldest first", body = crate::history::wire::ObjectHistory)))]
pub async fn request(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("request"), "Request")?;
    let block_id = c
        .views()
        .request_queue()
        .by_id
        .get(&id)
        .map(|r| r.block_id)
        .ok_or_else(|| not_found("Request"))?;
    let tenant = block_tenant(&c, block_id, end_of(&c)).await?;
    let id_text = id.to_string();
    // The allocation an approval made carries the address id the approval names.
    let approved = c
        .views()
        .request_queue()
        .by_id
        .get(&id)
        .and_then(|r| r.address_id);
    let keep = move |e: &Envelope| match &e.event {
        Event::AddressAllocated(a) => Some(a.address_id) == approved,
        other => payload(other)["request_id"] == json!(id_text),
    };
    answer(
        c,
        "request",
        &id.to_string(),
        block_stream(block_id),
        tenant,
        keep,
    )
    .await
}

/// `GET /v1/history/ips/{ip}`: a Scaleway IP's stream (booking, updates, attach, detach,
/// release).
#[utoipa::path(get, path = "/v1/history/ips/{ip}", tag = "history", params(crate::history::wire::HistoryQuery),
    responses((status = 200, description = "A Scaleway IP's events, oldest first", body = crate::history::wire::ObjectHistory)))]
pub async fn ip(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("ip"), "ip")?;
    let stream = scaleway_ip_stream(id);
    let tenant = match first_event(&c, &stream, end_of(&c)).await? {
        Some(Envelope {
            event: Event::ScalewayIpBooked(e),
            ..
        }) => e.project_id,
        _ => return Err(not_found("ip")),
    };
    answer(c, "ip", &id.to_string(), stream, tenant, |_| true).await
}

/// `GET /v1/history/pools/{pool}`: a pool's stream (creation, updates, every allocation and
/// release, deletion).
#[utoipa::path(get, path = "/v1/history/pools/{pool}", tag = "history", params(crate::history::wire::HistoryQuery),
    responses((status = 200, description = "A pool's events, oldest first", body = crate::history::wire::ObjectHistory)))]
pub async fn pool(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("pool"), "Pool")?;
    let tenant = pool_tenant(&c, id, end_of(&c)).await?;
    answer(c, "pool", &id.to_string(), pool_stream(id), tenant, |_| {
        true
    })
    .await
}

/// `GET /v1/history/registrations/{zone}/{address}`: a zone registration's stream (its whole
/// history across releases and re-registrations); its tenant is its pool's.
#[utoipa::path(get, path = "/v1/history/registrations/{zone}/{address}", tag = "history", params(crate::history::wire::HistoryQuery),
    responses((status = 200, description = "A registration's events, oldest first", body = crate::history::wire::ObjectHistory)))]
pub async fn registration(c: Call<'_>) -> Answer {
    let zone = c.param("zone");
    let address = crate::registrations::handlers::address_of(c.param("address"))?;
    let stream = registration_stream(zone, address);
    let end = end_of(&c);
    let pool_id = match first_event(&c, &stream, end).await? {
        Some(Envelope {
            event: Event::RegistrationCreated(e),
            ..
        }) => e.pool_id,
        _ => return Err(not_found("Registration")),
    };
    let tenant = pool_tenant(&c, pool_id, end).await?;
    let id = format!("{zone}/{address}");
    answer(c, "registration", &id, stream, tenant, |_| true).await
}

/// `GET /v1/history/interfaces/{vif}`: an interface's stream (creation, allowed IPs,
/// deletion). A vif is unique across tenants only while it lives, so its stream may hold
/// several lives of different tenants: a tenant token sees its own lives only, and the
/// answer names the tenant of the latest life it may see.
#[utoipa::path(get, path = "/v1/history/interfaces/{vif}", tag = "history", params(crate::history::wire::HistoryQuery),
    responses((status = 200, description = "An interface's events, oldest first", body = crate::history::wire::ObjectHistory)))]
pub async fn interface(c: Call<'_>) -> Answer {
    let vif = c.param("vif");
    let stream = interface_stream(vif);
    // Interface streams are short (creation, allowed IPs, deletion per life).
    let events = whole_stream(&c, &stream, end_of(&c)).await?;
    let mut life = String::new();
    let mut visible = std::collections::BTreeSet::new();
    let mut tenant = None;
    for e in &events {
        if let Event::InterfaceCreated(created) = &e.event {
            life = created.tenant_id.clone();
        }
        if c.owner().is_none_or(|own| own == life) {
            visible.insert(e.position);
            tenant = Some(life.clone());
        }
    }
    let tenant = tenant.ok_or_else(|| not_found("Interface"))?;
    let shown = tenant.clone();
    answer(c, "interface", vif, stream, shown, move |e| {
        visible.contains(&e.position)
    })
    .await
}
