//! Instance interfaces (seed 004 "Instance Interfaces", "Instance Interface Ips"), admin
//! only: a device's interfaces replaced (PUT), added one at a time (POST), listed, shown and
//! deleted, and an interface's addresses allocated from a network or released.

use ipledger_commands::{Command, InterfaceScope, NetworkAllocation, ReleaseAddresses};
use serde_json::json;
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body;
use crate::body_interfaces::{InstanceEnvelope, InterfaceEnvelope, InterfaceNetworkEnvelope};
use crate::fault::Fault;
use crate::melange::{exec, method_not_allowed, Answer, Resp};
use crate::melange_interfaces::interface_not_found;
use crate::request::Request;
use crate::wire_interfaces;

/// `/ipam/instances/{device}/interfaces[/{vif}[/ip_addresses]]`.
pub async fn route(app: &App, req: &Request, device: &str, rest: &[&str]) -> Answer {
    let m = &req.method;
    match rest {
        [] => match *m {
            Method::GET => list(app, device),
            Method::PUT => replace(app, req, device).await,
            Method::POST => add(app, req, device).await,
            Method::DELETE => {
                let command = Command::DeleteDeviceInterfaces {
                    device: device.to_string(),
                };
                exec(app, req, command, "instance", StatusCode::OK).await
            }
            _ => Err(method_not_allowed()),
        },
        [vif] => match *m {
            Method::GET => show(app, device, vif),
            Method::DELETE => {
                let command = Command::DeleteInterface {
                    vif: vif.to_string(),
                    scope: InterfaceScope::Device(device.to_string()),
                };
                exec(app, req, command, "interface", StatusCode::OK).await
            }
            _ => Err(method_not_allowed()),
        },
        [vif, "ip_addresses"] => match *m {
            Method::POST => allocate(app, req, device, vif).await,
            Method::DELETE => {
                let command = Command::ReleaseAddresses(ReleaseAddresses {
                    vif: vif.to_string(),
                    device_scope: Some(device.to_string()),
                    network: None,
                });
                exec(app, req, command, "ip_addresses", StatusCode::OK).await
            }
            _ => Err(method_not_allowed()),
        },
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

/// The device's interfaces; an empty list, not a 404, when it has none.
fn list(app: &App, device: &str) -> Answer {
    let v = app.writer.views().read();
    let items: Vec<_> = v
        .device_interfaces(device)
        .into_iter()
        .map(|i| wire_interfaces::interface(&v.interface_view(i)))
        .collect();
    Ok(Resp::ok(json!({"instance": {"interfaces": items}})))
}

fn show(app: &App, device: &str, vif: &str) -> Answer {
    let v = app.writer.views().read();
    let i = v
        .interface(vif)
        .filter(|i| i.record.device_id.as_deref() == Some(device))
        .ok_or_else(interface_not_found)?;
    Ok(Resp::ok(
        json!({"interface": wire_interfaces::interface(&v.interface_view(i))}),
    ))
}

/// PUT: 200 with every new interface (the spec's status).
async fn replace(app: &App, req: &Request, device: &str) -> Answer {
    let body = body::required::<InstanceEnvelope>(req, "instance")?.instance;
    let tenant = body.tenant_id;
    let interfaces = body
        .interfaces
        .into_iter()
        .map(|i| i.spec(tenant.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let command = Command::ReplaceDeviceInterfaces {
        device: device.to_string(),
        interfaces,
    };
    exec(app, req, command, "instance", StatusCode::OK).await
}

/// POST one interface on the device: 200, the spec's "Normal Response code".
async fn add(app: &App, req: &Request, device: &str) -> Answer {
    let body = body::required::<InterfaceEnvelope>(req, "interface")?.interface;
    let mut spec = body.spec(None)?;
    spec.device_id = Some(device.to_string());
    exec(
        app,
        req,
        Command::CreateInterface(spec),
        "interface",
        StatusCode::OK,
    )
    .await
}

/// POST `{"network": {id, tenant_id (owner), addresses}}`: 200 with the new addresses.
async fn allocate(app: &App, req: &Request, device: &str, vif: &str) -> Answer {
    let network = body::required::<InterfaceNetworkEnvelope>(req, "network")?.network;
    let command = Command::AllocateFromNetwork(NetworkAllocation {
        vif: vif.to_string(),
        network: network.request()?,
        device_scope: Some(device.to_string()),
        ..NetworkAllocation::default()
    });
    exec(app, req, command, "ip_addresses", StatusCode::OK).await
}
