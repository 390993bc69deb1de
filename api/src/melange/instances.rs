//! Instance interfaces (seed 004 "Instance Interfaces", "Instance Interface Ips"), admin
//! only: a device's interfaces replaced (PUT), added one at a time (POST), listed, shown and
//! deleted, and an interface's addresses allocated from a network or released.

use ipledger_commands::{Command, InterfaceScope, NetworkAllocation, ReleaseAddresses};
use serde_json::json;
use warp::http::StatusCode;

use crate::kit::{body, Answer, Call, Resp};
use crate::melange::body_interfaces::{
    InstanceEnvelope, InterfaceEnvelope, InterfaceNetworkEnvelope,
};
use crate::melange::common::{exec, interface_not_found};
use crate::melange::wire_interfaces;

/// The device's interfaces; an empty list, not a 404, when it has none.
#[utoipa::path(get, path = "/v0.1/ipam/instances/{device}/interfaces", tag = "melange", 
    responses((status = 200, description = "The device's interfaces", body = wire_interfaces::InstanceOne)))]
pub async fn list(c: Call<'_>) -> Answer {
    let v = c.views();
    let items: Vec<_> = v
        .device_interfaces(c.param("device"))
        .into_iter()
        .map(|i| wire_interfaces::interface(&v.interface_view(i)))
        .collect();
    Ok(Resp::ok(json!({"instance": {"interfaces": items}})))
}

#[utoipa::path(get, path = "/v0.1/ipam/instances/{device}/interfaces/{vif}", tag = "melange", 
    responses((status = 200, description = "The interface", body = wire_interfaces::InterfaceOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let device = c.param("device");
    let v = c.views();
    let i = v
        .interface(c.param("vif"))
        .filter(|i| i.record.device_id.as_deref() == Some(device))
        .ok_or_else(interface_not_found)?;
    Ok(Resp::ok(
        json!({"interface": wire_interfaces::interface(&v.interface_view(i))}),
    ))
}

/// PUT: 200 with every new interface (the spec's status).
#[utoipa::path(put, path = "/v0.1/ipam/instances/{device}/interfaces", tag = "melange", request_body = InstanceEnvelope, 
    responses((status = 200, description = "Replaced")))]
pub async fn replace(c: Call<'_>) -> Answer {
    let body = body::required::<InstanceEnvelope>(c.req, "instance")?.instance;
    let tenant = body.tenant_id;
    let interfaces = body
        .interfaces
        .into_iter()
        .map(|i| i.spec(tenant.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let command = Command::ReplaceDeviceInterfaces {
        device: c.param("device").to_string(),
        interfaces,
    };
    exec(c.app, c.req, command, "instance", StatusCode::OK).await
}

/// POST one interface on the device: 200, the spec's "Normal Response code".
#[utoipa::path(post, path = "/v0.1/ipam/instances/{device}/interfaces", tag = "melange", request_body = InterfaceEnvelope, 
    responses((status = 200, description = "Added", body = wire_interfaces::InterfaceOne)))]
pub async fn add(c: Call<'_>) -> Answer {
    let body = body::required::<InterfaceEnvelope>(c.req, "interface")?.interface;
    let mut spec = body.spec(None)?;
    spec.device_id = Some(c.param("device").to_string());
    exec(
        c.app,
        c.req,
        Command::CreateInterface(spec),
        "interface",
        StatusCode::OK,
    )
    .await
}

/// DELETE every interface of the device.
#[utoipa::path(delete, path = "/v0.1/ipam/instances/{device}/interfaces", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete_all(c: Call<'_>) -> Answer {
    let command = Command::DeleteDeviceInterfaces {
        device: c.param("device").to_string(),
    };
    exec(c.app, c.req, command, "instance", StatusCode::OK).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/instances/{device}/interfaces/{vif}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let command = Command::DeleteInterface {
        vif: c.param("vif").to_string(),
        scope: InterfaceScope::Device(c.param("device").to_string()),
    };
    exec(c.app, c.req, command, "interface", StatusCode::OK).await
}

/// POST `{"network": {id, tenant_id (owner), addresses}}`: 200 with the new addresses.
#[utoipa::path(post, path = "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses", tag = "melange", request_body = InterfaceNetworkEnvelope, 
    responses((status = 200, description = "Allocated", body = wire_interfaces::IpConfigurations)))]
pub async fn allocate(c: Call<'_>) -> Answer {
    let network = body::required::<InterfaceNetworkEnvelope>(c.req, "network")?.network;
    let command = Command::AllocateFromNetwork(NetworkAllocation {
        vif: c.param("vif").to_string(),
        network: network.request()?,
        device_scope: Some(c.param("device").to_string()),
        ..NetworkAllocation::default()
    });
    exec(c.app, c.req, command, "ip_addresses", StatusCode::OK).await
}

/// DELETE the interface's addresses; also served at the spec's singular `instance` path.
#[utoipa::path(delete, path = "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses", tag = "melange", 
    responses((status = 200, description = "Released")))]
pub async fn release(c: Call<'_>) -> Answer {
    let command = Command::ReleaseAddresses(ReleaseAddresses {
        vif: c.param("vif").to_string(),
        device_scope: Some(c.param("device").to_string()),
        network: None,
    });
    exec(c.app, c.req, command, "ip_addresses", StatusCode::OK).await
}

/// The spec's own spelling of the release route (singular `instance`), served as written.
#[utoipa::path(delete, path = "/v0.1/ipam/instance/{device}/interfaces/{vif}/ip_addresses", tag = "melange",
    responses((status = 200, description = "Released")))]
pub async fn release_singular(c: Call<'_>) -> Answer {
    release(c).await
}
