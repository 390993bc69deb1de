//! Static routes of a block (seed 004 "Static Routes"; melange-semantics.md §6):
//! `/v0.1/ipam/tenants/{t}/ip_blocks/{b}/ip_routes[/{id}]`. Unlike Melange, the fields are
//! validated (see `ipledger_domain::routing`); a body `source_block_id` is ignored, as there.

use ipledger_commands::{Command, RouteChange};
use ipledger_projections::State;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::body::{self, double, string_like};
use crate::kit::{parse_id, Answer, Call, Resp};
use crate::melange::common::exec;
use crate::melange::wire;
use crate::request::PageQuery;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RouteEnvelope {
    ip_route: RouteBody,
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let command = Command::DeleteRoute {
        tenant: c.param("tenant").to_string(),
        block_id: parse_id(c.param("block"), "IpBlock")?,
        route_id: parse_id(c.param("route"), "IpRoute")?,
    };
    exec(c.app, c.req, command, "ip_route", StatusCode::OK).await
}

fn block_id(v: &State, tenant: &str, block: &str) -> Result<Uuid, Fault> {
    let id = parse_id(block, "IpBlock")?;
    v.block_of(tenant, id)
        .map(|_| id)
        .ok_or_else(|| Fault::not_found("IpBlock Not Found"))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The block's static routes", body = wire::IpRoutes)))]
pub async fn list(c: Call<'_>) -> Answer {
    let page = c.req.page()?;
    let v = c.views();
    let id = block_id(&v, c.param("tenant"), c.param("block"))?;
    Ok(Resp::ok(wire::collection(
        c.req,
        "ip_routes",
        v.list_routes(id, page),
        |r| wire::route(r),
    )))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", tag = "melange", 
    responses((status = 200, description = "The route", body = wire::IpRouteOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let v = c.views();
    let id = block_id(&v, c.param("tenant"), c.param("block"))?;
    let r = parse_id(c.param("route"), "IpRoute").and_then(|route_id| {
        v.route_in(id, route_id)
            .ok_or_else(|| Fault::not_found("IpRoute Not Found"))
    })?;
    Ok(Resp::ok(json!({ "ip_route": wire::route(r) })))
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes", tag = "melange", request_body = RouteEnvelope, 
    responses((status = 201, description = "Created", body = wire::IpRouteOne)))]
pub async fn create(c: Call<'_>) -> Answer {
    change(c, None).await
}

#[utoipa::path(put, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", tag = "melange", request_body = RouteEnvelope, 
    responses((status = 200, description = "Updated", body = wire::IpRouteOne),
              (status = 201, description = "Created (PUT of a new id)", body = wire::IpRouteOne)))]
pub async fn update(c: Call<'_>) -> Answer {
    change(c, Some(c.param("route"))).await
}

/// Create (201) when `route` is None, update (200) otherwise.
async fn change(c: Call<'_>, route: Option<&str>) -> Answer {
    let block_id = parse_id(c.param("block"), "IpBlock")?;
    let route_id = route.map(|r| parse_id(r, "IpRoute")).transpose()?;
    let body = body::required::<RouteEnvelope>(c.req, "ip_route")?.ip_route;
    let _ignored = body.source_block_id;
    let change = RouteChange {
        tenant: c.param("tenant").to_string(),
        block_id,
        route_id,
        destination: body.destination,
        gateway: body.gateway,
        netmask: body.netmask,
    };
    let (command, status) = match route_id {
        None => (Command::CreateRoute(change), StatusCode::CREATED),
        Some(_) => (Command::UpdateRoute(change), StatusCode::OK),
    };
    exec(c.app, c.req, command, "ip_route", status).await
}
