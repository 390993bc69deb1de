//! NAT (seed 004 "NAT'ing"; decision 17; melange-semantics.md §5): the inside globals and
//! inside locals of an address, at the spec's admin paths `/ipam/ip_blocks/{b}/...` (any
//! tenant's blocks) and the original's tenant-scoped `/ipam/tenants/{t}/ip_blocks/{b}/...`
//! (every block named, in the URL or the body, must be the tenant's).
//!
//! POST and DELETE answer 200 with an empty body. Lists honour limit/marker and, unlike
//! Melange, carry an `ip_addresses_links` next link when more remain (decision 23).

use std::net::IpAddr;

use ipledger_commands::{AssignNat, Command, NatAt, RemoveNat};
use ipledger_domain::block::parse_address;
use ipledger_domain::rejection::FieldErrors;
use ipledger_projections::page::PAGE_LIMIT_MAX;
use ipledger_projections::routing::NatSide;
use serde::Deserialize;
use uuid::Uuid;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::body::{self, string_like};
use crate::kit::{parse_id, Answer, Call, Resp};
use crate::melange::common::exec;
use crate::melange::wire;
use crate::request::PageQuery;
use crate::request::Request;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NatItem {
    #[serde(default, deserialize_with = "string_like")]
    ip_block_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    ip_address: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NatEnvelope {
    #[serde(default)]
    /// Items are checked one by one: serde would read a list item by position.
    #[schema(value_type = Option<Vec<NatItem>>)]
    ip_addresses: Option<Vec<serde_json::Value>>,
}

fn address_param(text: &str, field: &str) -> Result<IpAddr, Fault> {
    parse_address(text)
        .ok_or_else(|| Fault::invalid_field(field, format!("{text} is not a valid IP address")))
}

/// The address whose partners a row names: `{block}` and `{address}` of the path, `{tenant}`
/// on the tenant-scoped paths (None on the admin ones), and the side.
fn at(c: Call<'_>, side: NatSide) -> Result<NatAt, Fault> {
    Ok(NatAt {
        tenant: c.param_opt("tenant").map(str::to_string),
        block_id: parse_id(c.param("block"), "IpBlock")?,
        address: address_param(c.param("address"), "address")?,
        side,
    })
}

#[utoipa::path(get, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The address's inside globals", body = wire::IpAddresses)))]
pub async fn list_globals(c: Call<'_>) -> Answer {
    list(c, &at(c, NatSide::Globals)?)
}

#[utoipa::path(get, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The address's inside locals", body = wire::IpAddresses)))]
pub async fn list_locals(c: Call<'_>) -> Answer {
    list(c, &at(c, NatSide::Locals)?)
}

#[utoipa::path(post, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", tag = "melange", request_body = NatEnvelope, 
    responses((status = 200, description = "Assigned")))]
pub async fn assign_globals(c: Call<'_>) -> Answer {
    assign(c, at(c, NatSide::Globals)?).await
}

#[utoipa::path(post, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", tag = "melange", request_body = NatEnvelope, 
    responses((status = 200, description = "Assigned")))]
pub async fn assign_locals(c: Call<'_>) -> Answer {
    assign(c, at(c, NatSide::Locals)?).await
}

/// `DELETE .../inside_globals`: every partner.
#[utoipa::path(delete, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_globals(c: Call<'_>) -> Answer {
    remove(c, at(c, NatSide::Globals)?, None).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_locals(c: Call<'_>) -> Answer {
    remove(c, at(c, NatSide::Locals)?, None).await
}

/// `DELETE .../inside_globals/{global}`: one partner.
#[utoipa::path(delete, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_global(c: Call<'_>) -> Answer {
    let at = at(c, NatSide::Globals)?;
    let partner = address_param(c.param("global"), "inside_global")?;
    remove(c, at, Some(partner)).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_local(c: Call<'_>) -> Answer {
    let at = at(c, NatSide::Locals)?;
    let partner = address_param(c.param("local"), "inside_local")?;
    remove(c, at, Some(partner)).await
}

fn list(c: Call<'_>, at: &NatAt) -> Answer {
    let page = c.req.page()?;
    let v = c.views();
    let me = ipledger_commands::nat_address(&v, at)?;
    let partners = v.nat_partners(me.id, at.side, page);
    Ok(Resp::ok(wire::collection(
        c.req,
        "ip_addresses",
        partners,
        |a| wire::address(a),
    )))
}

/// The body's partners: every item needs both fields (400 otherwise); a block id that is
/// not an id names no block (404).
fn partners(req: &Request) -> Result<Vec<(Uuid, IpAddr)>, Fault> {
    let items = body::parse::<NatEnvelope>(req)?
        .and_then(|e| e.ip_addresses)
        .ok_or_else(|| body::missing("ip_addresses"))?;
    let items = items
        .into_iter()
        .map(|v| {
            if !v.is_object() {
                return Err(Fault::bad_request(
                    "Invalid request body: every item of ip_addresses must be an object",
                ));
            }
            serde_json::from_value::<NatItem>(v)
                .map_err(|e| Fault::bad_request(format!("Invalid request body: {e}")))
        })
        .collect::<Result<Vec<NatItem>, Fault>>()?;
    if items.len() > PAGE_LIMIT_MAX {
        return Err(Fault::invalid_field(
            "ip_addresses",
            format!("at most {PAGE_LIMIT_MAX} addresses per request"),
        ));
    }
    let absent = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let mut errors = FieldErrors::default();
    if items.iter().any(|i| absent(&i.ip_block_id)) {
        errors.add("ip_block_id", "ip_block_id should be present");
    }
    if items.iter().any(|i| absent(&i.ip_address)) {
        errors.add("ip_address", "ip_address should be present");
    }
    errors.into_result()?;
    items
        .iter()
        .map(|item| {
            let block = parse_id(item.ip_block_id.as_deref().unwrap_or_default(), "IpBlock")?;
            let address =
                address_param(item.ip_address.as_deref().unwrap_or_default(), "ip_address")?;
            Ok((block, address))
        })
        .collect()
}

async fn assign(c: Call<'_>, at: NatAt) -> Answer {
    let partners = partners(c.req)?;
    let command = Command::AssignNat(AssignNat { at, partners });
    exec(c.app, c.req, command, "ip_addresses", StatusCode::OK).await
}

async fn remove(c: Call<'_>, at: NatAt, partner: Option<IpAddr>) -> Answer {
    let command = Command::RemoveNat(RemoveNat { at, partner });
    exec(c.app, c.req, command, "ip_addresses", StatusCode::OK).await
}

// The original's tenant-scoped doors to the same handlers, one operation each.

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The address's inside globals", body = wire::IpAddresses)))]
pub async fn list_globals_of_tenant(c: Call<'_>) -> Answer {
    list_globals(c).await
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", tag = "melange", request_body = NatEnvelope, 
    responses((status = 200, description = "Assigned")))]
pub async fn assign_globals_of_tenant(c: Call<'_>) -> Answer {
    assign_globals(c).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_globals_of_tenant(c: Call<'_>) -> Answer {
    remove_globals(c).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_global_of_tenant(c: Call<'_>) -> Answer {
    remove_global(c).await
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The address's inside locals", body = wire::IpAddresses)))]
pub async fn list_locals_of_tenant(c: Call<'_>) -> Answer {
    list_locals(c).await
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", tag = "melange", request_body = NatEnvelope, 
    responses((status = 200, description = "Assigned")))]
pub async fn assign_locals_of_tenant(c: Call<'_>) -> Answer {
    assign_locals(c).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_locals_of_tenant(c: Call<'_>) -> Answer {
    remove_locals(c).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}", tag = "melange", 
    responses((status = 200, description = "Removed")))]
pub async fn remove_local_of_tenant(c: Call<'_>) -> Answer {
    remove_local(c).await
}
