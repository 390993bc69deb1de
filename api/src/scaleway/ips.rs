//! The handlers of the Scaleway IPAM v1 routes. Every one checks the region first (another
//! region is 404), takes the caller's project scope from `Call::owner` (a tenant token acts
//! on its own project only; naming another project is 403, another project's IP is 404),
//! and answers the IP object of `wire.rs`. A 404 names what it missed (`resource`,
//! `resource_id`), as the Scaleway shape wants.

use ipledger_commands::{BookScalewayIp, Command, ScalewayCommand, UpdateScalewayIp};
use ipledger_domain::records::Reply;
use serde_json::json;
use uuid::Uuid;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{body as kit_body, submit, Answer, Call, Resp};
use crate::scaleway::body::{self, ListQuery};
use crate::scaleway::wire;

/// 404 unless the path's region is the configured one.
fn region(c: &Call<'_>) -> Result<(), Fault> {
    let asked = c.param("region");
    if asked != &*c.app.region {
        return Err(Fault::not_found(format!(
            "region {asked} is not served here (this deployment serves {})",
            c.app.region
        ))
        .about("region", asked));
    }
    Ok(())
}

/// The IP id of the path: one that is not a UUID names nothing (404).
fn ip_id(c: &Call<'_>) -> Result<Uuid, Fault> {
    let text = c.param("ip");
    Uuid::parse_str(text).map_err(|_| not_found_ip(text))
}

fn not_found_ip(id: &str) -> Fault {
    Fault::not_found(format!("ip {id} not found")).about("ip", id)
}

/// A rejection's 404 names its resource: `decide` says `"<resource> <id> not found"`.
fn located(f: Fault) -> Fault {
    if f.status != StatusCode::NOT_FOUND || f.resource.is_some() {
        return f;
    }
    let words: Vec<&str> = f.detail.split(' ').collect();
    match words.as_slice() {
        [resource, id, "not", "found"] => {
            let (resource, id) = (resource.to_string(), id.to_string());
            f.about(&resource, &id)
        }
        _ => f,
    }
}

/// The project a write acts in: the body's, else the caller's own; a tenant token naming
/// another project is 403.
fn project(c: &Call<'_>, named: Option<String>) -> Result<String, Fault> {
    let named = named.filter(|p| !p.is_empty());
    match (c.owner(), named) {
        (Some(own), Some(p)) if p != own => Err(Fault::new(
            StatusCode::FORBIDDEN,
            format!("project {p} is not this token's project"),
        )),
        (Some(own), _) => Ok(own.to_string()),
        (None, Some(p)) => Ok(p),
        (None, None) => Err(Fault::invalid_field("project_id", "project_id is required")),
    }
}

fn scope(c: &Call<'_>) -> Option<String> {
    c.owner().map(str::to_string)
}

/// Sends a command and answers the IP it replies with.
async fn run(c: &Call<'_>, command: Command) -> Answer {
    let reply = submit(c.app, c.req, command).await.map_err(located)?;
    match reply {
        Reply::Done => Ok(Resp::new(StatusCode::NO_CONTENT, None)),
        other => {
            let ip = other
                .into_scaleway_ip()
                .map_err(|r| Fault::unexpected_reply("a Scaleway IP command", &r))?;
            let views = c.views();
            Ok(Resp::ok(json!(wire::ip(&views, &ip, &c.app.region))))
        }
    }
}

/// `POST /ips`: book an IP.
#[utoipa::path(post, path = "/ipam/v1/regions/{region}/ips", tag = "scaleway", request_body = body::BookBody, 
    responses((status = 200, description = "Booked", body = wire::ScalewayIp)))]
pub async fn book(c: Call<'_>) -> Answer {
    region(&c)?;
    let b: body::BookBody = kit_body::required(c.req, "source")?;
    let project_id = project(&c, b.project_id)?;
    let source = b
        .source
        .ok_or_else(|| Fault::invalid_field("source", "source is required"))?;
    let is_ipv6 = b
        .is_ipv6
        .ok_or_else(|| Fault::invalid_field("is_ipv6", "is_ipv6 is required"))?;
    let address = b
        .address
        .filter(|a| !a.is_empty())
        .map(|a| body::address(&a, "address"))
        .transpose()?;
    let resource = match b.resource {
        None => None,
        Some(r) => Some(body::resource(Some(r), "resource")?),
    };
    let command = BookScalewayIp {
        project_id,
        source: source.into_request(),
        is_ipv6,
        address,
        tags: b.tags.unwrap_or_default(),
        resource,
    };
    run(&c, Command::Scaleway(ScalewayCommand::Book(command))).await
}

/// `GET /ips/{ip}`.
#[utoipa::path(get, path = "/ipam/v1/regions/{region}/ips/{ip}", tag = "scaleway", 
    responses((status = 200, description = "The IP", body = wire::ScalewayIp)))]
pub async fn show(c: Call<'_>) -> Answer {
    region(&c)?;
    body::nothing(c.req)?;
    let id = ip_id(&c)?;
    let views = c.views();
    let ip = views
        .scaleway_ip(id)
        .filter(|ip| c.owner().is_none_or(|o| o == ip.project_id))
        .ok_or_else(|| not_found_ip(c.param("ip")))?;
    Ok(Resp::ok(json!(wire::ip(&views, ip, &c.app.region))))
}

/// `GET /ips`: the caller's project's IPs (every project's for admins and agents unless
/// `project_id` names one), filtered, ordered, one page with the total count.
#[utoipa::path(get, path = "/ipam/v1/regions/{region}/ips", tag = "scaleway", params(body::ListParams), 
    responses((status = 200, description = "IPs, a page of them", body = wire::ListIpsResponse)))]
pub async fn list(c: Call<'_>) -> Answer {
    region(&c)?;
    body::nothing(c.req)?;
    let q = ListQuery::parse(c.req)?;
    let project = match (c.owner(), q.project_id.as_deref()) {
        (Some(own), Some(p)) if p != own => {
            return Err(Fault::new(
                StatusCode::FORBIDDEN,
                format!("project {p} is not this token's project"),
            ))
        }
        (Some(own), _) => Some(own.to_string()),
        (None, p) => p.map(str::to_string),
    };
    // The matches are copied out of one published version, then sorted.
    let mut matches: Vec<_> = {
        let views = c.views();
        views
            .scaleway_ips(project.as_deref())
            .filter(|ip| q.admits(ip))
            .cloned()
            .collect()
    };
    q.sort(&mut matches);
    let total = matches.len();
    let start = (q.page - 1).saturating_mul(q.page_size);
    let views = c.views();
    let ips: Vec<wire::ScalewayIp> = matches
        .iter()
        .skip(start)
        .take(q.page_size)
        .map(|ip| wire::ip(&views, ip, &c.app.region))
        .collect();
    Ok(Resp::ok(json!(wire::ListIpsResponse {
        total_count: total,
        ips
    })))
}

/// `PATCH /ips/{ip}`: tags and reverses, each replaced whole when given.
#[utoipa::path(patch, path = "/ipam/v1/regions/{region}/ips/{ip}", tag = "scaleway", request_body = body::UpdateBody, 
    responses((status = 200, description = "Updated", body = wire::ScalewayIp)))]
pub async fn update(c: Call<'_>) -> Answer {
    region(&c)?;
    let ip_id = ip_id(&c)?;
    let b: body::UpdateBody = kit_body::parse(c.req)?.unwrap_or_default();
    let reverses = b.reverses.map(body::reverses).transpose()?;
    let command = UpdateScalewayIp {
        scope: scope(&c),
        ip_id,
        tags: b.tags,
        reverses,
    };
    run(&c, Command::Scaleway(ScalewayCommand::Update(command))).await
}

/// `DELETE /ips/{ip}`: 204; 409 while attached.
#[utoipa::path(delete, path = "/ipam/v1/regions/{region}/ips/{ip}", tag = "scaleway", 
    responses((status = 204, description = "Released")))]
pub async fn release(c: Call<'_>) -> Answer {
    region(&c)?;
    body::nothing(c.req)?;
    let ip_id = ip_id(&c)?;
    let command = ScalewayCommand::Release {
        scope: scope(&c),
        ip_ids: vec![ip_id],
    };
    run(&c, Command::Scaleway(command)).await
}

/// `POST /ip-sets/release`: all or nothing (one unknown or attached IP refuses the set).
#[utoipa::path(post, path = "/ipam/v1/regions/{region}/ip-sets/release", tag = "scaleway", request_body = body::ReleaseSetBody, 
    responses((status = 204, description = "Released, all or none")))]
pub async fn release_set(c: Call<'_>) -> Answer {
    region(&c)?;
    let b: body::ReleaseSetBody = kit_body::parse(c.req)?.unwrap_or_default();
    let ip_ids = b
        .ip_ids
        .unwrap_or_default()
        .iter()
        .map(|id| Uuid::parse_str(id).map_err(|_| not_found_ip(id)))
        .collect::<Result<Vec<_>, _>>()?;
    let command = ScalewayCommand::Release {
        scope: scope(&c),
        ip_ids,
    };
    run(&c, Command::Scaleway(command)).await
}

/// `POST /ips/{ip}/attach` `{resource}`: 409 if it has one already.
#[utoipa::path(post, path = "/ipam/v1/regions/{region}/ips/{ip}/attach", tag = "scaleway", request_body = body::AttachBody, 
    responses((status = 200, description = "Attached", body = wire::ScalewayIp)))]
pub async fn attach(c: Call<'_>) -> Answer {
    region(&c)?;
    let ip_id = ip_id(&c)?;
    let b: body::AttachBody = kit_body::required(c.req, "resource")?;
    let command = ScalewayCommand::Attach {
        scope: scope(&c),
        ip_id,
        resource: body::resource(b.resource, "resource")?,
    };
    run(&c, Command::Scaleway(command)).await
}

/// `POST /ips/{ip}/detach` `{resource}`: the resource it is attached to.
#[utoipa::path(post, path = "/ipam/v1/regions/{region}/ips/{ip}/detach", tag = "scaleway", request_body = body::AttachBody, 
    responses((status = 200, description = "Detached", body = wire::ScalewayIp)))]
pub async fn detach(c: Call<'_>) -> Answer {
    region(&c)?;
    let ip_id = ip_id(&c)?;
    let b: body::AttachBody = kit_body::required(c.req, "resource")?;
    let command = ScalewayCommand::Detach {
        scope: scope(&c),
        ip_id,
        resource: body::resource(b.resource, "resource")?,
    };
    run(&c, Command::Scaleway(command)).await
}

/// `POST /ips/{ip}/move` `{from_resource, to_resource?}`: detached from the first and
/// attached to the second in one decision (no `to_resource`: just detached).
#[utoipa::path(post, path = "/ipam/v1/regions/{region}/ips/{ip}/move", tag = "scaleway", request_body = body::MoveBody, 
    responses((status = 200, description = "Moved", body = wire::ScalewayIp)))]
pub async fn move_ip(c: Call<'_>) -> Answer {
    region(&c)?;
    let ip_id = ip_id(&c)?;
    let b: body::MoveBody = kit_body::required(c.req, "from_resource")?;
    let to = match b.to_resource {
        None => None,
        Some(r) => Some(body::resource(Some(r), "to_resource")?),
    };
    let command = ScalewayCommand::Move {
        scope: scope(&c),
        ip_id,
        from: body::resource(b.from_resource, "from_resource")?,
        to,
    };
    run(&c, Command::Scaleway(command)).await
}
