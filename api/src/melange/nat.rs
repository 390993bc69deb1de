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
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body::{self, string_like};
use crate::fault::Fault;
use crate::melange::{exec, method_not_allowed, parse_id, Answer, Resp};
use crate::request::Request;
use crate::wire;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NatItem {
    #[serde(default, deserialize_with = "string_like")]
    ip_block_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    ip_address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NatEnvelope {
    #[serde(default)]
    /// Items are checked one by one: serde would read a list item by position.
    ip_addresses: Option<Vec<serde_json::Value>>,
}

fn address_param(text: &str, field: &str) -> Result<IpAddr, Fault> {
    parse_address(text)
        .ok_or_else(|| Fault::invalid_field(field, format!("{text} is not a valid IP address")))
}

/// `path` is `[block, address, "inside_globals" | "inside_locals"]`; `tenant` is None on
/// the admin paths.
pub async fn route(
    app: &App,
    req: &Request,
    tenant: Option<&str>,
    path: [&str; 3],
    rest: &[&str],
) -> Answer {
    let [block, address, side] = path;
    let at = NatAt {
        tenant: tenant.map(str::to_string),
        block_id: parse_id(block, "IpBlock")?,
        address: address_param(address, "address")?,
        side: if side == "inside_globals" {
            NatSide::Globals
        } else {
            NatSide::Locals
        },
    };
    match (rest, &req.method) {
        ([], &Method::GET) => list(app, req, &at),
        ([], &Method::POST) => assign(app, req, at).await,
        ([], &Method::DELETE) => remove(app, req, at, None).await,
        ([partner], &Method::DELETE) => {
            let field = if side == "inside_globals" {
                "inside_global"
            } else {
                "inside_local"
            };
            let partner = address_param(partner, field)?;
            remove(app, req, at, Some(partner)).await
        }
        ([] | [_], _) => Err(method_not_allowed()),
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

fn list(app: &App, req: &Request, at: &NatAt) -> Answer {
    let page = req.page()?;
    let v = app.writer.views().read();
    let me = ipledger_commands::nat_address(&v, at)?;
    let partners = v.nat_partners(me.id, at.side, page);
    Ok(Resp::ok(wire::collection(
        req,
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

async fn assign(app: &App, req: &Request, at: NatAt) -> Answer {
    let partners = partners(req)?;
    let command = Command::AssignNat(AssignNat { at, partners });
    exec(app, req, command, "ip_addresses", StatusCode::OK).await
}

async fn remove(app: &App, req: &Request, at: NatAt, partner: Option<IpAddr>) -> Answer {
    let command = Command::RemoveNat(RemoveNat { at, partner });
    exec(app, req, command, "ip_addresses", StatusCode::OK).await
}
