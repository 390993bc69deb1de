//! Interfaces (seed 004 "Interfaces") and their allowed IPs (the original's
//! `/ipam/tenants/{t}/interfaces/{vif}/allowed_ips`, decision 19): create and delete at the
//! admin paths, show at the tenant path. The spec's tenant delete door
//! (`/tenants/{t}/networks/{n}/interfaces/{vif}`) lives with the network routes.

use ipledger_commands::{AllowIp, Command, InterfaceScope};
use ipledger_domain::block::parse_address;
use ipledger_projections::interfaces::InterfaceState;
use ipledger_projections::State;
use serde_json::json;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{body, Answer, Call, Resp};
use crate::melange::body_interfaces::{AllowedIpEnvelope, InterfaceEnvelope};
use crate::melange::common::{exec, interface_not_found};
use crate::melange::{wire, wire_interfaces};

/// `POST /ipam/interfaces` (admin).
#[utoipa::path(post, path = "/v0.1/ipam/interfaces", tag = "melange", request_body = InterfaceEnvelope, 
    responses((status = 201, description = "Created", body = crate::melange::wire_interfaces::InterfaceOne)))]
pub async fn create(c: Call<'_>) -> Answer {
    let body = body::required::<InterfaceEnvelope>(c.req, "interface")?.interface;
    let command = Command::CreateInterface(body.spec(None)?);
    exec(c.app, c.req, command, "interface", StatusCode::CREATED).await
}

/// `DELETE /ipam/interfaces/{vif}` (admin).
#[utoipa::path(delete, path = "/v0.1/ipam/interfaces/{vif}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let command = Command::DeleteInterface {
        vif: c.param("vif").to_string(),
        scope: InterfaceScope::Admin,
    };
    exec(c.app, c.req, command, "interface", StatusCode::OK).await
}

/// `GET /ipam/tenants/{tenant}/interfaces/{vif}` (the lessee's).
#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}", tag = "melange", 
    responses((status = 200, description = "The interface", body = crate::melange::wire_interfaces::InterfaceOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let v = c.views();
    let i = v
        .interface_of(c.param("tenant"), c.param("vif"))
        .ok_or_else(interface_not_found)?;
    Ok(Resp::ok(
        json!({"interface": wire_interfaces::interface(&v.interface_view(i))}),
    ))
}

fn lessee_interface<'a>(
    v: &'a State,
    tenant: &str,
    vif: &str,
) -> Result<&'a InterfaceState, Fault> {
    v.interface_of(tenant, vif).ok_or_else(interface_not_found)
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips", tag = "melange", 
    responses((status = 200, description = "The interface's allowed IPs", body = crate::melange::wire_interfaces::IpAddressList)))]
pub async fn list_allowed(c: Call<'_>) -> Answer {
    let v = c.views();
    let i = lessee_interface(&v, c.param("tenant"), c.param("vif"))?;
    let items: Vec<_> = v.allowed_ips(i).into_iter().map(wire::address).collect();
    Ok(Resp::ok(json!({ "ip_addresses": items })))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}", tag = "melange", 
    responses((status = 200, description = "The allowed IP", body = wire::IpAddressOne)))]
pub async fn show_allowed(c: Call<'_>) -> Answer {
    let (vif, address) = (c.param("vif"), c.param("address"));
    let v = c.views();
    let i = lessee_interface(&v, c.param("tenant"), vif)?;
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

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips", tag = "melange", request_body = AllowedIpEnvelope, 
    responses((status = 201, description = "Allowed", body = wire::IpAddressOne)))]
pub async fn allow(c: Call<'_>) -> Answer {
    let body = body::required::<AllowedIpEnvelope>(c.req, "allowed_ip")?.allowed_ip;
    let command = Command::AllowIp(AllowIp {
        tenant: c.param("tenant").to_string(),
        vif: c.param("vif").to_string(),
        network_id: body.network_id,
        ip_address: body.ip_address,
    });
    exec(c.app, c.req, command, "ip_address", StatusCode::CREATED).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}", tag = "melange", 
    responses((status = 200, description = "No longer allowed")))]
pub async fn disallow(c: Call<'_>) -> Answer {
    let address = c.param("address");
    let address = parse_address(address).ok_or_else(|| {
        Fault::invalid_field("address", format!("{address} is not a valid IP address"))
    })?;
    let command = Command::DisallowIp {
        tenant: c.param("tenant").to_string(),
        vif: c.param("vif").to_string(),
        address,
    };
    exec(c.app, c.req, command, "ip_address", StatusCode::OK).await
}
