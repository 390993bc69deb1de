//! Interfaces (seed 004 "Interfaces") and their allowed IPs (the original's
//! `/ipam/tenants/{t}/interfaces/{vif}/allowed_ips`, decision 19): create and delete at the
//! admin paths, show at the tenant path. The spec's tenant delete door
//! (`/tenants/{t}/networks/{n}/interfaces/{vif}`) lives with the network routes.

use ipledger_commands::{AllowIp, Command, InterfaceScope};
use ipledger_domain::block::parse_address;
use ipledger_projections::interfaces::InterfaceState;
use ipledger_projections::State;
use serde_json::json;
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body;
use crate::body_interfaces::{AllowedIpEnvelope, InterfaceEnvelope};
use crate::fault::Fault;
use crate::melange::{exec, method_not_allowed, Answer, Resp};
use crate::request::Request;
use crate::{wire, wire_interfaces};

pub fn interface_not_found() -> Fault {
    Fault::not_found("Interface Not Found")
}

fn unknown_route() -> Fault {
    Fault::not_found("The resource could not be found.")
}

/// `/ipam/interfaces[/{vif}]` (admin).
pub async fn admin(app: &App, req: &Request, rest: &[&str]) -> Answer {
    match (rest, &req.method) {
        ([], &Method::POST) => create(app, req).await,
        ([vif], &Method::DELETE) => {
            let command = Command::DeleteInterface {
                vif: vif.to_string(),
                scope: InterfaceScope::Admin,
            };
            exec(app, req, command, "interface", StatusCode::OK).await
        }
        ([] | [_], _) => Err(method_not_allowed()),
        _ => Err(unknown_route()),
    }
}

async fn create(app: &App, req: &Request) -> Answer {
    let body = body::required::<InterfaceEnvelope>(req, "interface")?.interface;
    let command = Command::CreateInterface(body.spec(None)?);
    exec(app, req, command, "interface", StatusCode::CREATED).await
}

/// `/ipam/tenants/{t}/interfaces/{vif}[/allowed_ips[/{address}]]` (the lessee's).
pub async fn tenant(app: &App, req: &Request, tenant: &str, rest: &[&str]) -> Answer {
    match (rest, &req.method) {
        ([vif], &Method::GET) => {
            let v = app.writer.views().read();
            let i = v
                .interface_of(tenant, vif)
                .ok_or_else(interface_not_found)?;
            Ok(Resp::ok(
                json!({"interface": wire_interfaces::interface(&v.interface_view(i))}),
            ))
        }
        ([vif, "allowed_ips"], &Method::GET) => list_allowed(app, tenant, vif),
        ([vif, "allowed_ips"], &Method::POST) => allow(app, req, tenant, vif).await,
        ([vif, "allowed_ips", address], &Method::GET) => show_allowed(app, tenant, vif, address),
        ([vif, "allowed_ips", address], &Method::DELETE) => {
            let address = parse_address(address).ok_or_else(|| {
                Fault::invalid_field("address", format!("{address} is not a valid IP address"))
            })?;
            let command = Command::DisallowIp {
                tenant: tenant.to_string(),
                vif: vif.to_string(),
                address,
            };
            exec(app, req, command, "ip_address", StatusCode::OK).await
        }
        ([_] | [_, "allowed_ips"] | [_, "allowed_ips", _], _) => Err(method_not_allowed()),
        _ => Err(unknown_route()),
    }
}

fn lessee_interface<'a>(
    v: &'a State,
    tenant: &str,
    vif: &str,
) -> Result<&'a InterfaceState, Fault> {
    v.interface_of(tenant, vif).ok_or_else(interface_not_found)
}

fn list_allowed(app: &App, tenant: &str, vif: &str) -> Answer {
    let v = app.writer.views().read();
    let i = lessee_interface(&v, tenant, vif)?;
    let items: Vec<_> = v.allowed_ips(i).into_iter().map(wire::address).collect();
    Ok(Resp::ok(json!({ "ip_addresses": items })))
}

fn show_allowed(app: &App, tenant: &str, vif: &str, address: &str) -> Answer {
    let v = app.writer.views().read();
    let i = lessee_interface(&v, tenant, vif)?;
    let not_allowed = || {
        Fault::not_found(format!(
            "Ip Address {address} hasnt been allowed on interface {vif}"
        ))
    };
    let wanted = parse_address(address).ok_or_else(not_allowed)?;
    let a = v
        .allowed_ips(i)
        .into_iter()
        .find(|a| a.address == wanted)
        .ok_or_else(not_allowed)?;
    Ok(Resp::ok(json!({ "ip_address": wire::address(a) })))
}

async fn allow(app: &App, req: &Request, tenant: &str, vif: &str) -> Answer {
    let body = body::required::<AllowedIpEnvelope>(req, "allowed_ip")?.allowed_ip;
    let command = Command::AllowIp(AllowIp {
        tenant: tenant.to_string(),
        vif: vif.to_string(),
        network_id: body.network_id,
        ip_address: body.ip_address,
    });
    exec(app, req, command, "ip_address", StatusCode::CREATED).await
}
