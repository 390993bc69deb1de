//! A tenant's networks (seed 004 "IP allocations in a Network"): allocate from the network
//! onto an interface (found or created on demand), list the interface's addresses in the
//! network, release them; and the spec's tenant door for deleting an interface
//! (`DELETE /ipam/tenants/{t}/networks/{n}/interfaces/{vif}`, decision 15). The `{tenant}`
//! of these paths is the network's owner.

use std::collections::HashSet;

use ipledger_commands::{
    Command, InterfaceScope, NetworkAllocation, NetworkRequest, ReleaseAddresses,
};
use serde_json::json;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{body, Answer, Call, Resp};
use crate::melange::body_interfaces::{addresses, AllocationEnvelope};
use crate::melange::common::{exec, interface_not_found};
use crate::melange::wire_interfaces;

/// `DELETE /ipam/tenants/{owner}/networks/{network}/interfaces/{vif}`.
#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete_interface(c: Call<'_>) -> Answer {
    let command = Command::DeleteInterface {
        vif: c.param("vif").to_string(),
        scope: InterfaceScope::Tenant {
            tenant: c.param("tenant").to_string(),
            network_id: c.param("network").to_string(),
        },
    };
    exec(c.app, c.req, command, "interface", StatusCode::OK).await
}

/// The interface's live addresses in the owner's network, as ip-configuration views.
#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", tag = "melange", 
    responses((status = 200, description = "The interface's addresses in the network", body = wire_interfaces::IpConfigurations)))]
pub async fn list(c: Call<'_>) -> Answer {
    let (owner, network, vif) = (c.param("tenant"), c.param("network"), c.param("vif"));
    let v = c.views();
    let blocks: HashSet<_> = v
        .network_blocks(owner, network)
        .iter()
        .map(|b| b.record.id)
        .collect();
    if blocks.is_empty() {
        return Err(Fault::not_found(format!("Network {network} not found")));
    }
    if v.interface(vif).is_none() {
        return Err(interface_not_found());
    }
    let items: Vec<wire_interfaces::IpConfigurationOut> = v
        .interface_addresses(vif)
        .into_iter()
        .filter(|a| blocks.contains(&a.block_id))
        .filter_map(|a| v.ip_configuration(a))
        .map(|c| wire_interfaces::ip_configuration(&c))
        .collect();
    Ok(Resp::ok(json!({ "ip_addresses": items })))
}

/// POST: every body field optional, an empty body accepted; 201.
#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", tag = "melange", request_body = Option<AllocationEnvelope>, 
    responses((status = 201, description = "Allocated", body = wire_interfaces::IpConfigurations)))]
pub async fn allocate(c: Call<'_>) -> Answer {
    let body = body::parse::<AllocationEnvelope>(c.req)?
        .and_then(|e| e.network)
        .unwrap_or_default();
    let command = Command::AllocateFromNetwork(NetworkAllocation {
        vif: c.param("vif").to_string(),
        network: NetworkRequest {
            id: Some(c.param("network").to_string()),
            tenant_id: Some(c.param("tenant").to_string()),
            addresses: addresses(body.addresses)?,
        },
        device_scope: None,
        lessee: body.tenant_id,
        used_by_device: body.used_by_device,
        mac_address: body.mac_address,
    });
    exec(c.app, c.req, command, "ip_addresses", StatusCode::CREATED).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", tag = "melange", 
    responses((status = 200, description = "Released")))]
pub async fn release(c: Call<'_>) -> Answer {
    let command = Command::ReleaseAddresses(ReleaseAddresses {
        vif: c.param("vif").to_string(),
        device_scope: None,
        network: Some((
            c.param("tenant").to_string(),
            c.param("network").to_string(),
        )),
    });
    exec(c.app, c.req, command, "ip_addresses", StatusCode::OK).await
}
