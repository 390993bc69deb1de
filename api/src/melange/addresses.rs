//! Addresses of a block (seed 004 "IP Addresses"): allocate (a given or the next free one),
//! list, show, deallocate, restore; and the allocated addresses of a tenant or of everyone.

use ipledger_commands::{AllocateAddress, Command};
use serde_json::json;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{body, parse_id, Answer, Call, Resp};
use crate::melange::body::AddressEnvelope;
use crate::melange::common::{address_param, block_in, exec};
use crate::melange::wire;
use crate::request::PageQuery;

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The block's addresses", body = wire::IpAddresses)))]
pub async fn list(c: Call<'_>) -> Answer {
    let page = c.req.page()?;
    // The page is copied out of the published version (a seek and at most `limit` rows).
    let listed = {
        let v = c.views();
        let b = block_in(&v, c.param("tenant"), c.param("block"))?;
        v.block_addresses(b, page).owned()
    };
    Ok(Resp::ok(wire::collection(
        c.req,
        "ip_addresses",
        listed,
        wire::address,
    )))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}", tag = "melange", 
    responses((status = 200, description = "The address", body = wire::IpAddressOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let v = c.views();
    let b = block_in(&v, c.param("tenant"), c.param("block"))?;
    let addr = address_param(c.param("address"))?;
    let a = v
        .address_in(b, addr)
        .ok_or_else(|| Fault::not_found("IpAddress Not Found"))?;
    Ok(Resp::ok(json!({"ip_address": wire::address(a)})))
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses", tag = "melange", request_body = Option<AddressEnvelope>, 
    responses((status = 201, description = "Allocated", body = wire::IpAddressOne)))]
pub async fn allocate(c: Call<'_>) -> Answer {
    let block_id = parse_id(c.param("block"), "IpBlock")?;
    let body = body::parse::<AddressEnvelope>(c.req)?
        .and_then(|e| e.ip_address)
        .unwrap_or_default();
    let address = body
        .address
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .map(address_param)
        .transpose()?;
    let command = Command::AllocateAddress(AllocateAddress {
        tenant: c.param("tenant").to_string(),
        block_id,
        address,
        interface_id: body.interface_id,
        used_by_tenant: body.tenant_id,
        used_by_device: body.used_by_device,
        mac_address: body.mac_address,
    });
    exec(c.app, c.req, command, "ip_address", StatusCode::CREATED).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}", tag = "melange", 
    responses((status = 200, description = "Deallocated (restorable until purged)")))]
pub async fn deallocate(c: Call<'_>) -> Answer {
    address_command(c, false).await
}

#[utoipa::path(put, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/restore", tag = "melange", 
    responses((status = 200, description = "Restored (or already live): no body")))]
pub async fn restore(c: Call<'_>) -> Answer {
    address_command(c, true).await
}

async fn address_command(c: Call<'_>, restore: bool) -> Answer {
    let block_id = parse_id(c.param("block"), "IpBlock")?;
    let address = address_param(c.param("address"))?;
    let tenant = c.param("tenant").to_string();
    let command = if restore {
        Command::RestoreAddress {
            tenant,
            block_id,
            address,
        }
    } else {
        Command::DeallocateAddress {
            tenant,
            block_id,
            address,
        }
    };
    exec(c.app, c.req, command, "ip_address", StatusCode::OK).await
}

/// `/ipam/tenants/{tenant}/allocated_ip_addresses` and, for admins, every tenant's.
#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/allocated_ip_addresses", tag = "melange", params(PageQuery, ("used_by_device" = Option<String>, Query)), 
    responses((status = 200, description = "The tenant's live addresses", body = wire::IpAddresses)))]
pub async fn allocated(c: Call<'_>) -> Answer {
    let page = c.req.page()?;
    let device = c.req.query.get("used_by_device").map(String::as_str);
    let listed = {
        let v = c.views();
        v.allocated_addresses(c.param_opt("tenant"), device, page)
            .cloned()
    };
    Ok(Resp::ok(wire::collection(
        c.req,
        "ip_addresses",
        listed,
        wire::address,
    )))
}

/// `GET /v0.1/ipam/allocated_ip_addresses`: every tenant's (admins).
#[utoipa::path(get, path = "/v0.1/ipam/allocated_ip_addresses", tag = "melange", params(PageQuery, ("used_by_device" = Option<String>, Query)),
    responses((status = 200, description = "Live addresses", body = wire::IpAddresses)))]
pub async fn allocated_all(c: Call<'_>) -> Answer {
    allocated(c).await
}
