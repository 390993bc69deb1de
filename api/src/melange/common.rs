//! What the Melange handlers share: `exec` (send a command, answer with `reply`, Melange's
//! shape of its reply), the lookups of a tenant's block and policy with Melange's 404s, the
//! interface family's 404, and the parsing of address and integer fields with Melange's
//! messages.

use std::net::IpAddr;

use ipledger_commands::Command;
use ipledger_domain::block::parse_address;
use ipledger_domain::records::Reply;
use ipledger_projections::{BlockState, PolicyState, State};
use serde_json::{json, Value};
use warp::http::StatusCode;

use crate::app::App;
use crate::fault::Fault;
use crate::kit::body::integer;
use crate::kit::{parse_id, submit, Answer, Resp};
use crate::melange::{wire, wire_interfaces};
use crate::request::Request;

/// Sends a command and renders its reply under `key` with `status`.
pub async fn exec(
    app: &App,
    req: &Request,
    command: Command,
    key: &str,
    status: StatusCode,
) -> Answer {
    let reply = submit(app, req, command).await?;
    Ok(Resp::new(status, self::reply(key, &reply)?))
}

/// `{"<key>": <rendered reply>}`, or None for an empty-body success. A Melange command
/// answers with one of Melange's records; any other reply is a programmer error (500).
pub fn reply(key: &str, reply: &Reply) -> Result<Option<Value>, Fault> {
    let v = match reply {
        Reply::Done => return Ok(None),
        Reply::Block(b) => json!(wire::block(b)),
        Reply::Address(a) => json!(wire::address(a)),
        Reply::Policy(p) => json!(wire::policy(p)),
        Reply::Range(r) => json!(wire::range(r)),
        Reply::Octet(o) => json!(wire::octet(o)),
        Reply::Route(r) => json!(wire::route(r)),
        Reply::Interface(v) => json!(wire_interfaces::interface(v)),
        Reply::Interfaces(vs) => json!({
            "interfaces": vs.iter().map(wire_interfaces::interface).collect::<Vec<_>>()
        }),
        Reply::IpConfigurations(cs) => json!(wire_interfaces::ip_configurations(cs)),
        Reply::MacRange(r) => json!(wire_interfaces::mac_range(r)),
        Reply::Token(_)
        | Reply::Purged(_)
        | Reply::Request(_)
        | Reply::ScalewayIp(_)
        | Reply::Pool(_)
        | Reply::PoolAllocations(_)
        | Reply::Registration { .. }
        | Reply::ClusterExpired { .. }
        | Reply::Webhook(_) => return Err(Fault::unexpected_reply("a Melange command", reply)),
    };
    Ok(Some(json!({ key: v })))
}

pub fn address_param(text: &str) -> Result<IpAddr, Fault> {
    parse_address(text)
        .ok_or_else(|| Fault::invalid_field("address", format!("{text} is not a valid IP address")))
}

pub fn block_in<'a>(v: &'a State, tenant: &str, id: &str) -> Result<&'a BlockState, Fault> {
    let id = parse_id(id, "IpBlock")?;
    v.block_of(tenant, id)
        .ok_or_else(|| Fault::not_found("IpBlock Not Found"))
}

/// Shared by every handler that answers with a policy-scoped record.
pub fn policy_scope<'a>(v: &'a State, tenant: &str, id: &str) -> Result<&'a PolicyState, Fault> {
    let id = parse_id(id, "Policy")?;
    v.policy_of(tenant, id)
        .ok_or_else(|| Fault::not_found("Policy Not Found"))
}

pub fn interface_not_found() -> Fault {
    Fault::not_found("Interface Not Found")
}

/// An integer field of a range or octet body, with Melange's messages.
pub fn int_field(v: &Option<Value>, field: &str, message: &str) -> Result<Option<i64>, Fault> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => integer(v)
            .map(Some)
            .ok_or_else(|| Fault::invalid_field(field, message)),
    }
}
