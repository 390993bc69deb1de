//! The IP request workflow over HTTP (issue 4, seed 000): the agent intake
//! `POST /v1/agent/ipam/request` (form-urlencoded or JSON, answered with the seed's exact
//! `{"valid", "message"}` bodies) and the admin review API under `/v1/ipam/requests`.
//!
//! The intake's refusals keep the seed's body shape, with the status that `fault.rs` maps
//! the refusal to (400 malformed, 409 taken, 422 outside every block; the seed's duplicate
//! answer is 200); a store
//! failure stays a 503 fault.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use ipledger_commands::{Command, CommandError, DecideRequest, SubmitRequest};
use ipledger_domain::auth::ANONYMOUS_ACTOR;
use ipledger_domain::block::parse_address;
use ipledger_domain::requests::{RequestRecord, RequestStatus};
use ipledger_domain::Timestamp;
use ipledger_projections::page::{after, PAGE_SCAN_MAX};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::body::{self, string_like};
use crate::kit::wire::collection;
use crate::kit::{meta, parse_id, submit, Answer, Call, Resp};
use crate::request::{PageQuery, Request};
use crate::requests::wire;

/// The seed's answer to an accepted request.
pub const CREATED_MESSAGE: &str = "IP request created";

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct IntakeBody {
    #[serde(default, deserialize_with = "string_like")]
    ip: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    email: Option<String>,
    #[serde(default, rename = "ipRange", deserialize_with = "string_like")]
    ip_range: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    region: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    description: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    #[serde(default, deserialize_with = "string_like")]
    reason: Option<String>,
}

fn verdict(status: StatusCode, valid: bool, message: &str) -> Resp {
    let verdict = wire::Verdict {
        valid,
        message: message.to_string(),
    };
    Resp::new(status, Some(json!(verdict)))
}

/// A refusal in the seed's shape, with the status `fault.rs` gives it — except the seed's
/// own "duplicate pending request" answer, which the seed lists as the endpoint's normal
/// response (`valid: false` carries the refusal), so it comes with 200 as the agent expects.
fn refused(fault: Fault) -> Answer {
    if fault.status.is_server_error() {
        return Err(fault);
    }
    let status = if fault.detail == ipledger_commands::DUPLICATE_MESSAGE {
        StatusCode::OK
    } else {
        fault.status
    };
    Ok(verdict(status, false, &fault.detail))
}

fn is_form(req: &Request) -> bool {
    let mime = req.header("content-type").unwrap_or("");
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

fn intake_body(req: &Request) -> Result<IntakeBody, Fault> {
    if is_form(req) {
        return serde_urlencoded::from_bytes(&req.body)
            .map_err(|e| Fault::bad_request(format!("Invalid request body: {e}")));
    }
    Ok(body::parse(req)?.unwrap_or_default())
}

/// `POST /v1/agent/ipam/request`.
#[utoipa::path(post, path = "/v1/agent/ipam/request", tag = "requests",
    request_body(content((IntakeBody = "application/json"), (IntakeBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Created (`valid: true`), or the seed's duplicate pending request (`valid: false`)", body = wire::Verdict),
        (status = 400, description = "Refused: malformed (before the handler: a fault)", body = wire::Refusal),
        (status = 404, description = "Refused: no block holds the address", body = wire::Verdict),
        (status = 409, description = "Refused: the address is taken", body = wire::Verdict),
        (status = 413, description = "Refused: too large (before the handler: a fault)", body = wire::Refusal),
        (status = 415, description = "Refused: not JSON, XML or a form", body = wire::Verdict),
        (status = 422, description = "Refused by the rules", body = wire::Verdict)))]
pub async fn intake(c: Call<'_>) -> Answer {
    let (app, req) = (c.app, c.req);
    let b = match intake_body(req) {
        Ok(b) => b,
        Err(f) => return refused(f),
    };
    let ip = match b.ip.as_deref().map(str::trim) {
        None | Some("") => return refused(Fault::bad_request("ip is required")),
        Some(text) => match parse_address(text) {
            Some(ip) => ip,
            None => {
                return refused(Fault::bad_request(format!(
                    "{text} is not a valid IP address"
                )))
            }
        },
    };
    let command = Command::SubmitRequest(SubmitRequest {
        ip: Some(ip),
        requested_by: ANONYMOUS_ACTOR.into(),
        agent: req.actor.clone(),
        email: b.email,
        ip_range: b.ip_range,
        region: b.region,
        description: b.description,
    });
    // A bad Idempotency-Key is a refusal like any other: in the seed's shape.
    let meta = match meta(req, &req.actor) {
        Ok(meta) => meta,
        Err(f) => return refused(f),
    };
    match app.writer.submit(command, meta).await {
        Ok(_) => Ok(verdict(StatusCode::OK, true, CREATED_MESSAGE)),
        Err(e @ CommandError::Rejected(_)) => refused(Fault::from(e)),
        Err(e) => Err(Fault::from(e)),
    }
}

/// `GET /v1/ipam/requests/{request}`.
#[utoipa::path(get, path = "/v1/ipam/requests/{request}", tag = "requests",
    responses((status = 200, description = "The request", body = wire::RequestOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("request"), "IpRequest")?;
    let views = c.views();
    let r = views
        .request(id)
        .ok_or_else(|| Fault::not_found("IpRequest Not Found"))?;
    let body = wire::request(r, c.app.deliveries.as_deref());
    Ok(Resp::ok(json!({ "request": body })))
}

/// The list's filters as the OpenAPI document shows them ([`filter`] reads them).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `PENDING`, `APPROVED`, `REJECTED` or `EXPIRED`.
    pub status: Option<String>,
    pub network_id: Option<String>,
    /// An IP address.
    pub ip: Option<String>,
    /// Requested at or after: RFC 3339, or `YYYY-MM-DDTHH:MM:SS` UTC.
    pub since: Option<String>,
}

/// The list's filters, parsed up front so that a bad one is a 400.
struct Filter {
    status: Option<RequestStatus>,
    network_id: Option<String>,
    ip: Option<IpAddr>,
    since: Option<Timestamp>,
}

fn parse_since(text: &str) -> Option<Timestamp> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

fn filter(req: &Request) -> Result<Filter, Fault> {
    let q = |name: &str| {
        req.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let status = q("status")
        .map(|s| {
            RequestStatus::parse(s).ok_or_else(|| {
                Fault::invalid_field(
                    "status",
                    "status should be PENDING, APPROVED, REJECTED or EXPIRED",
                )
            })
        })
        .transpose()?;
    let ip = q("ip")
        .map(|s| {
            parse_address(s)
                .ok_or_else(|| Fault::invalid_field("ip", format!("{s} is not a valid IP address")))
        })
        .transpose()?;
    let since = q("since")
        .map(|s| {
            parse_since(s).ok_or_else(|| {
                Fault::invalid_field("since", "since should be a time like 2024-05-01T12:00:00Z")
            })
        })
        .transpose()?;
    Ok(Filter {
        status,
        network_id: q("network_id").map(str::to_string),
        ip,
        since,
    })
}

impl Filter {
    fn admits(&self, r: &RequestRecord) -> bool {
        self.status.is_none_or(|s| s == r.status)
            && self
                .network_id
                .as_ref()
                .is_none_or(|n| r.network_id.as_ref() == Some(n))
            && self.ip.is_none_or(|ip| ip == r.ip)
            && self.since.is_none_or(|t| r.requested_at >= t)
    }
}

/// `GET /v1/ipam/requests`, filtered by `status`, `network_id`, `ip` and `since`.
#[utoipa::path(get, path = "/v1/ipam/requests", tag = "requests", params(PageQuery, ListQuery),
    responses((status = 200, description = "Requests in id order", body = wire::Requests)))]
pub async fn list(c: Call<'_>) -> Answer {
    let (app, req) = (c.app, c.req);
    let page = req.page()?;
    let filter = filter(req)?;
    // A seek by status (indexed) or id, the other filters over at most `PAGE_SCAN_MAX`
    // requests; the page is copied out of the published version before rendering.
    let listed = {
        let views = c.views();
        let q = views.request_queue();
        let ids: Box<dyn Iterator<Item = Uuid>> = match filter.status {
            Some(s) => Box::new(q.ids_with_status(s, page.marker)),
            None => Box::new(q.by_id.range(after(page.marker)).map(|(id, _)| *id)),
        };
        let candidates = ids.filter_map(|id| {
            let r = q.by_id.get(&id)?;
            Some((id, filter.admits(r).then(|| r.clone())))
        });
        page.take_scanning(candidates, PAGE_SCAN_MAX)
    };
    let deliveries = app.deliveries.as_deref();
    Ok(Resp::ok(collection(req, "requests", listed, |r| {
        wire::request(r, deliveries)
    })))
}

/// `POST /v1/ipam/requests/{request}/approve`.
#[utoipa::path(post, path = "/v1/ipam/requests/{request}/approve", tag = "requests",
    responses((status = 200, description = "Approved: the address is allocated", body = wire::RequestOne)))]
pub async fn approve(c: Call<'_>) -> Answer {
    decide(c, None).await
}

/// `POST /v1/ipam/requests/{request}/reject`, with an optional `reason`.
#[utoipa::path(post, path = "/v1/ipam/requests/{request}/reject", tag = "requests", request_body = Option<RejectBody>,
    responses((status = 200, description = "Rejected: the hold is released", body = wire::RequestOne)))]
pub async fn reject(c: Call<'_>) -> Answer {
    let body: RejectBody = body::parse(c.req)?.unwrap_or_default();
    decide(c, Some(body.reason)).await
}

async fn decide(c: Call<'_>, reject: Option<Option<String>>) -> Answer {
    let (app, req) = (c.app, c.req);
    let request_id = parse_id(c.param("request"), "IpRequest")?;
    let command = Command::DecideRequest(DecideRequest {
        request_id,
        decided_by: req.actor.clone(),
        reject,
    });
    let reply = submit(app, req, command).await?;
    let r = reply
        .into_request()
        .map_err(|other| Fault::unexpected_reply("deciding a request", &other))?;
    Ok(Resp::ok(json!({
        "request": wire::request(&r, app.deliveries.as_deref())
    })))
}
