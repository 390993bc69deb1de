//! What the Melange handlers share: `exec` (send a command, answer with Melange's shape of
//! its reply), the lookups of a tenant's block and policy with Melange's 404s, and the
//! parsing of address and integer fields with Melange's messages; the interface family's
//! 404.

use std::net::IpAddr;

use ipledger_commands::Command;
use ipledger_domain::block::parse_address;
use ipledger_projections::{BlockState, PolicyState, State};
use serde_json::Value;
use warp::http::StatusCode;

use crate::app::App;
use crate::fault::Fault;
use crate::kit::body::integer;
use crate::kit::{parse_id, submit, Answer, Resp};
use crate::melange::wire;
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
    Ok(Resp::new(status, wire::reply(key, &reply)?))
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
