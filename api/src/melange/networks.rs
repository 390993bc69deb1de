//! A tenant's networks (seed 004 "IP allocations in a Network"): allocate from the network
//! onto an interface (found or created on demand), list the interface's addresses in the
//! network, release them; and the spec's tenant door for deleting an interface
//! (`DELETE /ipam/tenants/{t}/networks/{n}/interfaces/{vif}`, decision 15).

use std::collections::HashSet;

use ipledger_commands::{
    Command, InterfaceScope, NetworkAllocation, NetworkRequest, ReleaseAddresses,
};
use serde_json::{json, Value};
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body;
use crate::body_interfaces::{addresses, AllocationEnvelope};
use crate::fault::Fault;
use crate::melange::{exec, method_not_allowed, Answer, Resp};
use crate::melange_interfaces::interface_not_found;
use crate::request::Request;
use crate::wire_interfaces;

/// `/ipam/tenants/{owner}/networks/{network}/interfaces/{vif}[/ip_allocations]`.
pub async fn route(app: &App, req: &Request, owner: &str, network: &str, rest: &[&str]) -> Answer {
    let m = &req.method;
    match rest {
        [vif] => match *m {
            Method::DELETE => {
                let command = Command::DeleteInterface {
                    vif: vif.to_string(),
                    scope: InterfaceScope::Tenant {
                        tenant: owner.to_string(),
                        network_id: network.to_string(),
                    },
                };
                exec(app, req, command, "interface", StatusCode::OK).await
            }
            _ => Err(method_not_allowed()),
        },
        [vif, "ip_allocations"] => match *m {
            Method::GET => list(app, owner, network, vif),
            Method::POST => allocate(app, req, owner, network, vif).await,
            Method::DELETE => {
                let command = Command::ReleaseAddresses(ReleaseAddresses {
                    vif: vif.to_string(),
                    device_scope: None,
                    network: Some((owner.to_string(), network.to_string())),
                });
                exec(app, req, command, "ip_addresses", StatusCode::OK).await
            }
            _ => Err(method_not_allowed()),
        },
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

/// The interface's live addresses in the owner's network, as ip-configuration views.
fn list(app: &App, owner: &str, network: &str, vif: &str) -> Answer {
    let v = app.writer.views().read();
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
    let items: Vec<Value> = v
        .interface_addresses(vif)
        .into_iter()
        .filter(|a| blocks.contains(&a.block_id))
        .filter_map(|a| v.ip_configuration(a))
        .map(|c| wire_interfaces::ip_configuration(&c))
        .collect();
    Ok(Resp::ok(json!({ "ip_addresses": items })))
}

/// POST: every body field optional, an empty body accepted; 201.
async fn allocate(app: &App, req: &Request, owner: &str, network: &str, vif: &str) -> Answer {
    let body = body::parse::<AllocationEnvelope>(req)?
        .and_then(|e| e.network)
        .unwrap_or_default();
    let command = Command::AllocateFromNetwork(NetworkAllocation {
        vif: vif.to_string(),
        network: NetworkRequest {
            id: Some(network.to_string()),
            tenant_id: Some(owner.to_string()),
            addresses: addresses(body.addresses)?,
        },
        device_scope: None,
        lessee: body.tenant_id,
        used_by_device: body.used_by_device,
        mac_address: body.mac_address,
    });
    exec(app, req, command, "ip_addresses", StatusCode::CREATED).await
}
