//! Helpers shared by the interface-family HTTP tests (`http_interfaces.rs`,
//! `http_networks.rs`, `http_instances.rs`, `http_macs.rs`): fault checks, blocks in a
//! network, interfaces, and the log's event count (to show a refused request appended
//! nothing).

#![allow(dead_code)]

use serde_json::{json, Value};

use crate::support::{Res, TestServer};

pub const IPAM: &str = "/v0.1/ipam";

fn fault_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        422 => "UnprocessableEntity",
        _ => panic!("no fault name for {status}"),
    }
}

/// Asserts the status, Melange's fault shape and the detail; returns the inner object.
pub fn fault(r: &Res, status: u16, detail: &str) -> Value {
    assert_fault(r, status);
    let inner = r.json[fault_name(status)].clone();
    assert_eq!(inner["detail"], detail, "{}", r.text);
    inner
}

/// Asserts the status and the fault shape whatever the detail; returns the inner object.
pub fn assert_fault(r: &Res, status: u16) -> Value {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
    let inner = r.json[fault_name(status)].clone();
    assert_eq!(inner["code"], status, "{}", r.text);
    inner
}

/// A 400 whose structured errors name `field`.
pub fn invalid(r: &Res, field: &str) {
    let inner = assert_fault(r, 400);
    assert!(
        inner["errors"][field].is_array(),
        "errors name {field}: {}",
        r.text
    );
}

/// Asserts 200 with an empty body (deletes and releases).
pub fn empty_ok(r: &Res) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.is_empty(), "empty body: {}", r.text);
}

/// Creates a block of `tenant` with `fields` (cidr, network_id, ...); returns its JSON.
pub async fn block(srv: &TestServer, tenant: &str, fields: Value) -> Value {
    let mut body = json!({"type": "private"});
    for (k, v) in fields.as_object().expect("fields").iter() {
        body[k] = v.clone();
    }
    let r = srv
        .post(
            &format!("{IPAM}/tenants/{tenant}/ip_blocks"),
            json!({ "ip_block": body }),
        )
        .await;
    assert_eq!(r.status, 201, "create block: {}", r.text);
    r.json["ip_block"].clone()
}

/// A block of `tenant` in network `network`.
pub async fn net_block(srv: &TestServer, tenant: &str, cidr: &str, network: &str) -> Value {
    block(srv, tenant, json!({"cidr": cidr, "network_id": network})).await
}

pub fn block_path(tenant: &str, b: &Value) -> String {
    format!(
        "{IPAM}/tenants/{tenant}/ip_blocks/{}",
        b["id"].as_str().expect("block id")
    )
}

/// `POST /ipam/interfaces` with `{"interface": fields}`.
pub async fn post_interface(srv: &TestServer, fields: Value) -> Res {
    srv.post(
        &format!("{IPAM}/interfaces"),
        json!({ "interface": fields }),
    )
    .await
}

/// Creates an interface (201) and returns its JSON.
pub async fn interface(srv: &TestServer, fields: Value) -> Value {
    let r = post_interface(srv, fields).await;
    assert_eq!(r.status, 201, "create interface: {}", r.text);
    r.json["interface"].clone()
}

pub async fn show_interface(srv: &TestServer, tenant: &str, vif: &str) -> Res {
    srv.get(&format!("{IPAM}/tenants/{tenant}/interfaces/{vif}"))
        .await
}

/// The addresses of an interface view, in order.
pub fn addresses_of(view: &Value) -> Vec<String> {
    view["ip_addresses"]
        .as_array()
        .expect("ip_addresses")
        .iter()
        .map(|c| c["address"].as_str().expect("address").to_string())
        .collect()
}

/// The network-allocation path of a vif.
pub fn allocations(owner: &str, network: &str, vif: &str) -> String {
    format!("{IPAM}/tenants/{owner}/networks/{network}/interfaces/{vif}/ip_allocations")
}

/// Events in the log (the health check counts them).
pub async fn events(srv: &TestServer) -> u64 {
    crate::durability::event_count(&srv.client).await
}

/// `POST /ipam/mac_address_ranges`; returns the range's JSON.
pub async fn mac_range(srv: &TestServer, cidr: &str) -> Value {
    let r = srv
        .post(
            &format!("{IPAM}/mac_address_ranges"),
            json!({"mac_address_range": {"cidr": cidr}}),
        )
        .await;
    assert_eq!(r.status, 201, "create MAC range: {}", r.text);
    r.json["mac_address_range"].clone()
}
