//! Black-box HTTP tests of interfaces (seed 004 "Interfaces", decisions 15 and 19,
//! melange-semantics.md §4 and §8 scenarios 12, 13 and 16): create with a MAC and addresses
//! from a network, show at the tenant path, delete at both doors, vif uniqueness across
//! tenants, all-or-nothing creation, interfaces made on demand by a block allocation, and the
//! allowed-IPs endpoints.

use serde_json::{json, Value};

use crate::interfaces_support::*;
use crate::support::TestServer;

const INTERFACE_FIELDS: [&str; 7] = [
    "created_at",
    "device_id",
    "id",
    "ip_addresses",
    "mac_address",
    "tenant_id",
    "updated_at",
];

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_12_interface_crud_on_a_network() {
    let srv = TestServer::start().await;
    let b = net_block(&srv, "t12", "20.1.1.0/24", "net-12").await;
    let created = interface(
        &srv,
        json!({"id": "vif-12", "tenant_id": "t12", "device_id": "vm-12", "network": {"id": "net-12", "tenant_id": "t12"}}),
    )
    .await;
    assert_eq!(sorted_keys(&created), INTERFACE_FIELDS);
    assert_eq!(created["id"], "vif-12");
    assert_eq!(created["device_id"], "vm-12");
    assert_eq!(created["tenant_id"], "t12");
    assert_eq!(
        created["mac_address"],
        Value::Null,
        "no MAC range, none given"
    );
    let ip = &created["ip_addresses"][0];
    assert_eq!(ip["address"], "20.1.1.2", "the lowest allocatable address");
    assert_eq!(ip["interface_id"], "vif-12");
    assert_eq!(ip["version"], 4);
    assert_eq!(
        ip["ip_block"],
        json!({"id": b["id"], "cidr": "20.1.1.0/24", "broadcast": "20.1.1.255", "gateway": "20.1.1.1",
               "network_id": "net-12", "netmask": "255.255.255.0", "dns1": "8.8.8.8", "dns2": "8.8.4.4",
               "tenant_id": "t12", "ip_routes": []})
    );
    let shown = show_interface(&srv, "t12", "vif-12").await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["interface"], created);

    empty_ok(&srv.delete(&format!("{IPAM}/interfaces/vif-12")).await);
    fault(
        &show_interface(&srv, "t12", "vif-12").await,
        404,
        "Interface Not Found",
    );
    let a = srv
        .get(&format!("{}/ip_addresses/20.1.1.2", block_path("t12", &b)))
        .await;
    assert!(
        a.json["ip_address"]["deallocated_at"].is_string(),
        "soft-deallocated: {}",
        a.text
    );
    fault(
        &srv.delete(&format!("{IPAM}/interfaces/vif-12")).await,
        404,
        "Interface Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_13_interface_with_a_tenant_in_the_body_shows() {
    let srv = TestServer::start().await;
    let created = interface(
        &srv,
        json!({"id": "vif-13", "tenant_id": "t13", "device_id": "vm-13"}),
    )
    .await;
    assert_eq!(created["ip_addresses"], json!([]));
    assert_eq!(
        show_interface(&srv, "t13", "vif-13").await.json["interface"],
        created
    );
    fault(
        &show_interface(&srv, "t-other", "vif-13").await,
        404,
        "Interface Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_create_refusals_append_nothing() {
    let srv = TestServer::start().await;
    net_block(&srv, "t-owner", "10.0.0.0/24", "net-a").await;
    interface(&srv, json!({"id": "vif-taken", "tenant_id": "t-one"})).await;
    let before = events(&srv).await;
    invalid(
        &post_interface(&srv, json!({"id": "vif-x", "device_id": "vm"})).await,
        "tenant_id",
    );
    invalid(
        &post_interface(
            &srv,
            json!({"id": "vif-x", "tenant_id": "t", "network": {"id": "net-a"}}),
        )
        .await,
        "network.tenant_id",
    );
    invalid(
        &post_interface(
            &srv,
            json!({"id": "vif-x", "tenant_id": "t", "network": {"tenant_id": "t-owner"}}),
        )
        .await,
        "network.id",
    );
    invalid(
        &post_interface(
            &srv,
            json!({"id": "vif-x", "tenant_id": "t", "mac_address": "12:34"}),
        )
        .await,
        "mac_address",
    );
    invalid(&post_interface(&srv, json!({"id": "vif-x", "tenant_id": "t", "network": {"id": "net-a", "tenant_id": "t-owner", "addresses": ["10.0.0.300"]}})).await, "addresses");
    assert_fault(
        &post_interface(
            &srv,
            json!({"id": "vif-x", "tenant_id": "t", "colour": "red"}),
        )
        .await,
        400,
    );
    assert_fault(
        &post_interface(
            &srv,
            json!({"id": "vif-x", "tenant_id": "t", "network": ["net-a"]}),
        )
        .await,
        400,
    );
    assert_fault(
        &srv.post(&format!("{IPAM}/interfaces"), json!({"vif": {}}))
            .await,
        400,
    );
    assert_fault(
        &srv.send(
            reqwest::Method::POST,
            &format!("{IPAM}/interfaces"),
            None,
            &[],
        )
        .await,
        400,
    );
    assert_fault(&srv.get(&format!("{IPAM}/interfaces")).await, 405);
    let r = post_interface(&srv, json!({"id": "vif-x", "tenant_id": "t", "network": {"id": "net-zz", "tenant_id": "t-owner"}})).await;
    fault(&r, 404, "Network net-zz not found");
    let r = post_interface(&srv, json!({"id": "vif-x", "tenant_id": "t", "network": {"id": "net-a", "tenant_id": "t-not-owner"}})).await;
    fault(&r, 404, "Network net-a not found");
    // Decision 15: vif ids are unique across tenants.
    let r = post_interface(&srv, json!({"id": "vif-taken", "tenant_id": "t-two"})).await;
    fault(&r, 409, "Virtual Interface vif-taken already exists");
    assert_eq!(
        events(&srv).await,
        before,
        "a refused create appended events"
    );
    fault(
        &show_interface(&srv, "t", "vif-x").await,
        404,
        "Interface Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_network_allocation_leaves_no_interface_no_mac_and_no_address() {
    // Guards decision 12 and "no half-made interface": Melange created the interface and its
    // MAC before allocating, and kept them when the allocation failed.
    let srv = TestServer::start().await;
    let b = net_block(&srv, "t-own", "10.5.0.0/24", "net-5").await;
    mac_range(&srv, "02:00:00:00:00:00/47").await;
    let taken = srv
        .post(
            &format!("{}/ip_addresses", block_path("t-own", &b)),
            json!({"ip_address": {"address": "10.5.0.9"}}),
        )
        .await;
    assert_eq!(taken.status, 201, "{}", taken.text);
    let before = events(&srv).await;
    let net = |addresses: Value| json!({"id": "vif-half", "tenant_id": "t", "network": {"id": "net-5", "tenant_id": "t-own", "addresses": addresses}});
    let r = post_interface(&srv, net(json!(["10.5.0.8", "10.5.0.9"]))).await;
    fault(&r, 409, "Address is already allocated");
    let r = post_interface(&srv, net(json!(["10.5.0.8", "192.168.1.1"]))).await;
    fault(
        &r,
        422,
        "Address 192.168.1.1 does not belong to network net-5",
    );
    assert_eq!(events(&srv).await, before, "events were appended");
    fault(
        &show_interface(&srv, "t", "vif-half").await,
        404,
        "Interface Not Found",
    );
    let list = srv
        .get(&format!("{}/ip_addresses", block_path("t-own", &b)))
        .await;
    assert_eq!(
        list.json["ip_addresses"].as_array().map(Vec::len),
        Some(1),
        "only 10.5.0.9: {}",
        list.text
    );
    let whole = interface(&srv, net(json!(["10.5.0.8", "10.5.0.10"]))).await;
    assert_eq!(
        whole["mac_address"], "02:00:00:00:00:00",
        "the first MAC was never taken"
    );
    assert_eq!(addresses_of(&whole), ["10.5.0.8", "10.5.0.10"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_delete_door_serves_the_lessee_and_the_network_owner() {
    let srv = TestServer::start().await;
    net_block(&srv, "t-owner", "10.6.0.0/24", "net-6").await;
    let nic = |vif: &str| json!({"id": vif, "tenant_id": "t-lessee", "network": {"id": "net-6", "tenant_id": "t-owner"}});
    interface(&srv, nic("vif-l")).await;
    interface(&srv, nic("vif-o")).await;
    let door = |tenant: &str, vif: &str| {
        format!("{IPAM}/tenants/{tenant}/networks/net-6/interfaces/{vif}")
    };
    fault(
        &srv.delete(&door("t-stranger", "vif-l")).await,
        404,
        "Interface Not Found",
    );
    fault(
        &srv.delete(&door("t-lessee", "vif-none")).await,
        404,
        "Interface Not Found",
    );
    assert_fault(&srv.get(&door("t-lessee", "vif-l")).await, 405);
    empty_ok(&srv.delete(&door("t-lessee", "vif-l")).await);
    fault(
        &show_interface(&srv, "t-lessee", "vif-l").await,
        404,
        "Interface Not Found",
    );
    empty_ok(&srv.delete(&door("t-owner", "vif-o")).await);
    fault(
        &show_interface(&srv, "t-lessee", "vif-o").await,
        404,
        "Interface Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_allocation_with_an_interface_id_makes_and_links_the_interface() {
    let srv = TestServer::start().await;
    let a = net_block(&srv, "t-b", "10.7.0.0/24", "net-a").await;
    let other = net_block(&srv, "t-b", "10.8.0.0/24", "net-b").await;
    let post = |b: &Value, body: Value| {
        let path = format!("{}/ip_addresses", block_path("t-b", b));
        let srv = &srv;
        async move { srv.post(&path, json!({ "ip_address": body })).await }
    };
    let r = post(&a, json!({"interface_id": "vif-b", "used_by_device": "vm-b", "mac_address": "02:00:00:00:00:0a"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let shown = show_interface(&srv, "t-b", "vif-b").await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    let nic = &shown.json["interface"];
    assert_eq!(
        (nic["device_id"].as_str(), nic["mac_address"].as_str()),
        (Some("vm-b"), Some("02:00:00:00:00:0A"))
    );
    assert_eq!(addresses_of(nic), ["10.7.0.2"]);
    let r = post(&a, json!({"interface_id": "vif-b"})).await;
    assert_eq!(
        r.status, 201,
        "the same interface, same network: {}",
        r.text
    );
    assert_eq!(
        r.json["ip_address"]["used_by_device"], "vm-b",
        "the interface's device"
    );
    let r = post(&other, json!({"interface_id": "vif-b"})).await;
    fault(&r, 422, "Interface vif-b is configured on another network");
    let r = post(
        &a,
        json!({"interface_id": "vif-b", "tenant_id": "t-someone-else"}),
    )
    .await;
    fault(&r, 409, "Virtual Interface vif-b already exists");
    let r = post(
        &a,
        json!({"interface_id": "vif-c", "mac_address": "02:00:00:00:00:0A"}),
    )
    .await;
    fault(&r, 409, "MacAddress 02:00:00:00:00:0A is already allocated");
    let r = post(&a, json!({"address": "10.7.0.50"})).await;
    assert_eq!(
        r.json["ip_address"]["interface_id"],
        Value::Null,
        "no interface_id: no interface"
    );
}

/// Scenario 16's world: block 20.1.1.0/24 in network N of tenant t16, an interface on N,
/// and two more addresses of the tenant in N.
async fn allowed_world(srv: &TestServer) -> (String, Value) {
    let b = net_block(srv, "t16", "20.1.1.0/24", "net-16").await;
    interface(srv, json!({"id": "vif-16", "tenant_id": "t16", "network": {"id": "net-16", "tenant_id": "t16"}})).await;
    for address in ["20.1.1.10", "20.1.1.11"] {
        let r = srv
            .post(
                &format!("{}/ip_addresses", block_path("t16", &b)),
                json!({"ip_address": {"address": address}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    (
        format!("{IPAM}/tenants/t16/interfaces/vif-16/allowed_ips"),
        b,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_16_allowed_ips() {
    let srv = TestServer::start().await;
    let (path, _) = allowed_world(&srv).await;
    let mut allowed = Vec::new();
    for address in ["20.1.1.10", "20.1.1.11"] {
        let r = srv
            .post(
                &path,
                json!({"allowed_ip": {"network_id": "net-16", "ip_address": address}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json["ip_address"]["address"], address);
        let shown = srv.get(&format!("{path}/{address}")).await;
        assert_eq!(shown.status, 200, "{}", shown.text);
        assert_eq!(shown.json["ip_address"], r.json["ip_address"]);
        allowed.push(r.json["ip_address"].clone());
    }
    let list = srv.get(&path).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let listed: Vec<&str> = list.json["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ["20.1.1.2", "20.1.1.10", "20.1.1.11"],
        "its own address plus the allowed ones"
    );
    empty_ok(&srv.delete(&format!("{path}/20.1.1.10")).await);
    let r = srv.get(&format!("{path}/20.1.1.10")).await;
    fault(
        &r,
        404,
        "Ip Address 20.1.1.10 hasnt been allowed on interface vif-16",
    );
    fault(
        &srv.delete(&format!("{path}/20.1.1.10")).await,
        404,
        "Ip Address 20.1.1.10 hasnt been allowed on interface vif-16",
    );
    let r = srv
        .post(
            &path,
            json!({"allowed_ip": {"network_id": "net-16", "ip_address": "20.1.1.11"}}),
        )
        .await;
    assert_eq!(r.status, 201, "allowing twice is harmless: {}", r.text);
    assert_eq!(r.json["ip_address"], allowed[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_ip_refusals() {
    let srv = TestServer::start().await;
    let (path, _) = allowed_world(&srv).await;
    let other = net_block(&srv, "t16", "20.2.0.0/24", "net-other").await;
    let r = srv
        .post(
            &format!("{}/ip_addresses", block_path("t16", &other)),
            json!({"ip_address": {"address": "20.2.0.5"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let allow = |network: &str, address: &str| json!({"allowed_ip": {"network_id": network, "ip_address": address}});
    let r = srv.post(&path, allow("net-other", "20.2.0.5")).await;
    fault(&r, 422, "Ip Address 20.2.0.5 cannot be allowed on interface vif-16 as interface is not configured for ip's network");
    fault(
        &srv.post(&path, allow("net-none", "20.1.1.10")).await,
        404,
        "Network net-none not found",
    );
    fault(
        &srv.post(&path, allow("net-16", "20.1.1.99")).await,
        404,
        "IpAddress Not Found",
    );
    invalid(
        &srv.post(&path, json!({"allowed_ip": {"ip_address": "20.1.1.10"}}))
            .await,
        "network_id",
    );
    invalid(
        &srv.post(&path, allow("net-16", "20.1.1.x")).await,
        "ip_address",
    );
    assert_fault(&srv.post(&path, json!({"allowed": {}})).await, 400);
    let foreign = "/v0.1/ipam/tenants/t-other/interfaces/vif-16/allowed_ips";
    fault(&srv.get(foreign).await, 404, "Interface Not Found");
    fault(
        &srv.post(foreign, allow("net-16", "20.1.1.10")).await,
        404,
        "Interface Not Found",
    );
    fault(
        &srv.get(&format!("{foreign}/20.1.1.2")).await,
        404,
        "Interface Not Found",
    );
    assert_fault(&srv.put(&path, json!({})).await, 405);
    fault(
        &srv.get(&format!("{path}/abc")).await,
        404,
        "Ip Address abc hasnt been allowed on interface vif-16",
    );
    assert_fault(&srv.delete(&format!("{path}/abc")).await, 400);
}
