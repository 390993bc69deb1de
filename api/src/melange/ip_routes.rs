//! Static routes of a block (seed 004 "Static Routes"; melange-semantics.md §6):
//! `/v0.1/ipam/tenants/{t}/ip_blocks/{b}/ip_routes[/{id}]`. Unlike Melange, the fields are
//! validated (see `ipledger_domain::routing`); a body `source_block_id` is ignored, as there.

use ipledger_commands::{Command, RouteChange};
use ipledger_projections::State;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body::{self, double, string_like};
use crate::fault::Fault;
use crate::melange::{exec, method_not_allowed, parse_id, Answer, Resp};
use crate::request::Request;
use crate::wire;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteBody {
    #[serde(default, deserialize_with = "string_like")]
    destination: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    gateway: Option<String>,
    #[serde(default, deserialize_with = "double")]
    netmask: Option<Option<String>>,
    /// Ignored: the block comes from the URL.
    #[serde(default)]
    source_block_id: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEnvelope {
    ip_route: RouteBody,
}

pub async fn route(app: &App, req: &Request, tenant: &str, block: &str, rest: &[&str]) -> Answer {
    match (rest, &req.method) {
        ([], &Method::GET) => list(app, req, tenant, block),
        ([], &Method::POST) => change(app, req, tenant, block, None).await,
        ([id], &Method::GET) => show(app, tenant, block, id),
        ([id], &Method::PUT) => change(app, req, tenant, block, Some(id)).await,
        ([id], &Method::DELETE) => {
            let command = Command::DeleteRoute {
                tenant: tenant.to_string(),
                block_id: parse_id(block, "IpBlock")?,
                route_id: parse_id(id, "IpRoute")?,
            };
            exec(app, req, command, "ip_route", StatusCode::OK).await
        }
        ([] | [_], _) => Err(method_not_allowed()),
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

fn block_id(v: &State, tenant: &str, block: &str) -> Result<Uuid, Fault> {
    let id = parse_id(block, "IpBlock")?;
    v.block_of(tenant, id)
        .map(|_| id)
        .ok_or_else(|| Fault::not_found("IpBlock Not Found"))
}

fn list(app: &App, req: &Request, tenant: &str, block: &str) -> Answer {
    let page = req.page()?;
    let v = app.writer.views().read();
    let id = block_id(&v, tenant, block)?;
    Ok(Resp::ok(wire::collection(
        req,
        "ip_routes",
        v.list_routes(id, page),
        |r| wire::route(r),
    )))
}

fn show(app: &App, tenant: &str, block: &str, route: &str) -> Answer {
    let v = app.writer.views().read();
    let id = block_id(&v, tenant, block)?;
    let r = parse_id(route, "IpRoute").and_then(|route_id| {
        v.route_in(id, route_id)
            .ok_or_else(|| Fault::not_found("IpRoute Not Found"))
    })?;
    Ok(Resp::ok(json!({ "ip_route": wire::route(r) })))
}

/// Create (201) when `route` is None, update (200) otherwise.
async fn change(
    app: &App,
    req: &Request,
    tenant: &str,
    block: &str,
    route: Option<&str>,
) -> Answer {
    let block_id = parse_id(block, "IpBlock")?;
    let route_id = route.map(|r| parse_id(r, "IpRoute")).transpose()?;
    let body = body::required::<RouteEnvelope>(req, "ip_route")?.ip_route;
    let _ignored = body.source_block_id;
    let c = RouteChange {
        tenant: tenant.to_string(),
        block_id,
        route_id,
        destination: body.destination,
        gateway: body.gateway,
        netmask: body.netmask,
    };
    let (command, status) = match route_id {
        None => (Command::CreateRoute(c), StatusCode::CREATED),
        Some(_) => (Command::UpdateRoute(c), StatusCode::OK),
    };
    exec(app, req, command, "ip_route", status).await
}
