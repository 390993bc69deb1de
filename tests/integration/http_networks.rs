//! Black-box HTTP tests of network allocations (seed 004 "IP allocations in a Network",
//! melange-semantics.md §1 "Allocation from a network", decisions 11 and 12) and of the IPv6
//! generators over HTTP: blocks tried in creation order, at most one IPv4 and one IPv6
//! address, all-or-nothing explicit addresses, the block's `ipv6_generator` override.

use serde_json::{json, Value};

use crate::interfaces_support::*;
use crate::support::TestServer;

fn addresses(r: &crate::support::Res) -> Vec<String> {
    r.json["ip_addresses"]
        .as_array()
        .unwrap_or_else(|| panic!("no ip_addresses in {}", r.text))
        .iter()
        .map(|c| c["address"].as_str().expect("address").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_tried_in_creation_order_and_a_full_one_is_passed_over() {
    let srv = TestServer::start().await;
    // A /30 gives one address: .0 (network), .1 (gateway) and .3 (broadcast) are held back.
    net_block(&srv, "t-own", "10.0.0.0/30", "net-a").await;
    net_block(&srv, "t-own", "10.0.0.4/30", "net-a").await;
    net_block(&srv, "t-own", "10.9.0.0/24", "net-b").await;
    net_block(&srv, "t-other", "10.1.0.0/24", "net-a").await;
    let r = srv
        .post(
            &allocations("t-own", "net-a", "vif-1"),
            json!({"network": {"used_by_device": "vm-1"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(addresses(&r), ["10.0.0.2"]);
    let config = &r.json["ip_addresses"][0];
    assert_eq!(config["interface_id"], "vif-1");
    assert_eq!(config["ip_block"]["network_id"], "net-a");
    assert_eq!(config["ip_block"]["tenant_id"], "t-own");
    let nic = show_interface(&srv, "t-own", "vif-1").await;
    assert_eq!(
        nic.json["interface"]["device_id"], "vm-1",
        "made on demand: {}",
        nic.text
    );
    // An empty body is accepted; the first block is full, the next one gives.
    let r = srv
        .send(
            reqwest::Method::POST,
            &allocations("t-own", "net-a", "vif-2"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(addresses(&r), ["10.0.0.6"]);
    let before = events(&srv).await;
    let r = srv
        .post(&allocations("t-own", "net-a", "vif-3"), json!({}))
        .await;
    fault(&r, 422, "ip blocks in this network are full");
    assert_eq!(
        events(&srv).await,
        before,
        "nothing made for a full network"
    );
    fault(
        &show_interface(&srv, "t-own", "vif-3").await,
        404,
        "Interface Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_release_the_interfaces_addresses_in_the_network() {
    let srv = TestServer::start().await;
    let b = net_block(&srv, "t-own", "10.2.0.0/24", "net-a").await;
    let path = allocations("t-own", "net-a", "vif-l");
    let first = srv
        .post(
            &path,
            json!({"network": {"addresses": ["10.2.0.20", "10.2.0.21"], "tenant_id": "t-lessee"}}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(addresses(&first), ["10.2.0.20", "10.2.0.21"]);
    let listed = srv.get(&path).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json, first.json);
    let nic = show_interface(&srv, "t-lessee", "vif-l").await;
    assert_eq!(
        nic.status, 200,
        "the lessee owns the interface: {}",
        nic.text
    );

    empty_ok(&srv.delete(&path).await);
    assert_eq!(srv.get(&path).await.json, json!({"ip_addresses": []}));
    let a = srv
        .get(&format!(
            "{}/ip_addresses/10.2.0.20",
            block_path("t-own", &b)
        ))
        .await;
    assert!(
        a.json["ip_address"]["deallocated_at"].is_string(),
        "soft: {}",
        a.text
    );
    assert_eq!(
        show_interface(&srv, "t-lessee", "vif-l").await.status,
        200,
        "the interface stays"
    );
    // The lessee defaults to the URL's tenant (the network owner), for whom t-lessee's vif
    // does not exist (melange-semantics.md §4, find_or_configure): it must be named.
    let unnamed = srv.post(&path, json!({})).await;
    assert_eq!(unnamed.status, 409, "{}", unnamed.text);
    let again = srv
        .post(&path, json!({"network": {"tenant_id": "t-lessee"}}))
        .await;
    assert_eq!(
        addresses(&again),
        ["10.2.0.2"],
        "the deallocated addresses keep their place"
    );
    empty_ok(&srv.delete(&path).await);
    empty_ok(&srv.delete(&path).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_allocation_refusals() {
    let srv = TestServer::start().await;
    net_block(&srv, "t-own", "10.3.0.0/24", "net-a").await;
    net_block(&srv, "t-own", "10.4.0.0/24", "net-b").await;
    let r = srv
        .post(&allocations("t-own", "net-b", "vif-b"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let before = events(&srv).await;
    let path = allocations("t-own", "net-a", "vif-a");
    fault(
        &srv.post(&allocations("t-own", "net-zz", "vif-a"), json!({}))
            .await,
        404,
        "Network net-zz not found",
    );
    fault(
        &srv.post(&allocations("t-stranger", "net-a", "vif-a"), json!({}))
            .await,
        404,
        "Network net-a not found",
    );
    fault(
        &srv.get(&allocations("t-own", "net-zz", "vif-b")).await,
        404,
        "Network net-zz not found",
    );
    fault(&srv.get(&path).await, 404, "Interface Not Found");
    fault(&srv.delete(&path).await, 404, "Interface Not Found");
    fault(
        &srv.delete(&allocations("t-own", "net-zz", "vif-b")).await,
        404,
        "Network net-zz not found",
    );
    let r = srv
        .post(&allocations("t-own", "net-a", "vif-b"), json!({}))
        .await;
    fault(&r, 422, "Interface vif-b is configured on another network");
    let r = srv
        .post(
            &allocations("t-own", "net-b", "vif-b"),
            json!({"network": {"tenant_id": "t-not-its-lessee"}}),
        )
        .await;
    fault(&r, 409, "Virtual Interface vif-b already exists");
    invalid(
        &srv.post(&path, json!({"network": {"addresses": ["10.3.0.x"]}}))
            .await,
        "addresses",
    );
    invalid(
        &srv.post(&path, json!({"network": {"addresses": "10.3.0.5"}}))
            .await,
        "addresses",
    );
    assert_fault(
        &srv.post(&path, json!({"network": {"cidr": "10.3.0.0/24"}}))
            .await,
        400,
    );
    assert_fault(&srv.put(&path, json!({})).await, 405);
    assert_eq!(events(&srv).await, before, "a refusal appended events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_addresses_are_all_or_nothing() {
    // Guards decision 12: Melange skipped taken or foreign addresses and kept the rest, so a
    // caller could not tell which of its addresses it got.
    let srv = TestServer::start().await;
    let b = net_block(&srv, "t-own", "10.0.0.0/24", "net-a").await;
    net_block(&srv, "t-own", "fe::/64", "net-a").await;
    let path = allocations("t-own", "net-a", "vif-x");
    let r = srv
        .post(
            &path,
            json!({"network": {"addresses": ["10.0.0.5", "fe::5"]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        addresses(&r),
        ["10.0.0.5", "fe::5"],
        "explicit addresses need no MAC"
    );
    let before = events(&srv).await;
    let other = allocations("t-own", "net-a", "vif-y");
    let taken = "Address is already allocated";
    for (second, status, detail) in [
        ("10.0.0.5", 409, taken),
        ("10.0.0.7", 409, taken),
        ("10.0.0.1", 409, taken),
        (
            "192.168.0.1",
            422,
            "Address 192.168.0.1 does not belong to network net-a",
        ),
    ] {
        let body = json!({"network": {"addresses": ["10.0.0.7", second]}});
        fault(&srv.post(&other, body).await, status, detail);
    }
    assert_eq!(
        events(&srv).await,
        before,
        "a refused request appended events"
    );
    let listed = srv
        .get(&format!("{}/ip_addresses", block_path("t-own", &b)))
        .await;
    assert_eq!(
        listed.json["ip_addresses"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    fault(
        &show_interface(&srv, "t-own", "vif-y").await,
        404,
        "Interface Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_based_ipv6_follows_melanges_vectors_with_one_address_per_family() {
    let srv = TestServer::start().await;
    net_block(&srv, "t-own", "10.0.0.0/24", "net-6").await;
    let v6 = net_block(&srv, "t-own", "fe::/64", "net-6").await;
    net_block(&srv, "t-own", "fe:1::/72", "net-6").await;
    // Taken first, so the generator's first candidate collides and the MAC is incremented.
    let r = srv
        .post(
            &format!("{}/ip_addresses", block_path("t-own", &v6)),
            json!({"ip_address": {"address": "fe::7110:eda4:ff89:6734"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let before = events(&srv).await;
    let path = allocations("t-own", "net-6", "vif-6");
    let r = srv
        .post(&path, json!({"network": {"tenant_id": "1234"}}))
        .await;
    fault(&r, 400, "Required params are missing: mac_address");
    assert_eq!(
        events(&srv).await,
        before,
        "no IPv4 address without the IPv6 one"
    );
    let r = srv
        .post(
            &path,
            json!({"network": {"tenant_id": "1234", "mac_address": "00:ff:12:89:67:34"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        addresses(&r),
        ["10.0.0.2", "fe::7110:eda4:ff89:6735"],
        "one per family, MAC + 1 on collision"
    );
    assert_eq!(r.json["ip_addresses"][1]["version"], 6);
    assert_eq!(r.json["ip_addresses"][1]["ip_block"]["netmask"], "64");

    // The /72 vector, in a network of its own.
    net_block(&srv, "t-own", "fe::/72", "net-72").await;
    let r = srv
        .post(
            &allocations("t-own", "net-72", "vif-72"),
            json!({"network": {"tenant_id": "1234", "mac_address": "00:ff:12:89:67:34"}}),
        )
        .await;
    fault(&r, 409, "MacAddress 00:FF:12:89:67:34 is already allocated");
    let r = srv.post(&format!("{IPAM}/interfaces"), json!({"interface": {"id": "vif-72", "tenant_id": "1234", "mac_address": "00:ff:12:89:67:34"}})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    empty_ok(&srv.delete(&format!("{IPAM}/interfaces/vif-6")).await);
    let r = srv
        .post(
            &allocations("t-own", "net-72", "vif-72"),
            json!({"network": {"tenant_id": "1234", "mac_address": "00:ff:12:89:67:34"}}),
        )
        .await;
    assert_eq!(addresses(&r), ["fe::10:eda4:ff89:6734"], "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocks_generator_overrides_the_deployments() {
    let srv = TestServer::start().await;
    let b = block(
        &srv,
        "t-gen",
        json!({"cidr": "fe::/64", "ipv6_generator": "eui64"}),
    )
    .await;
    assert_eq!(b["ipv6_generator"], "eui64");
    let path = format!("{}/ip_addresses", block_path("t-gen", &b));
    let r = srv
        .post(
            &path,
            json!({"ip_address": {"interface_id": "vif-e", "mac_address": "12:ff:12:89:67:34"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json["ip_address"]["address"], "fe::10ff:12ff:fe89:6734",
        "RFC 2462"
    );
    let r = srv.post(&path, json!({"ip_address": {}})).await;
    fault(&r, 400, "Required params are missing: mac_address");

    let bpath = block_path("t-gen", &b);
    let update = |g: Value| srv.put(&bpath, json!({"ip_block": {"ipv6_generator": g}}));
    let r = update(json!("sequential")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_block"]["ipv6_generator"], "sequential");
    let r = srv.post(&path, json!({"ip_address": {}})).await;
    assert_eq!(
        r.json["ip_address"]["address"], "fe::",
        "sequential: the lowest free address"
    );
    let r = update(Value::Null).await;
    assert_eq!(
        r.json["ip_block"]["ipv6_generator"],
        Value::Null,
        "back to the deployment's"
    );
    fault(
        &srv.post(&path, json!({"ip_address": {}})).await,
        400,
        "Required params are missing: mac_address",
    );
    invalid(&update(json!("rfc2462")).await, "ipv6_generator");
    let r = srv
        .post(
            &format!("{IPAM}/tenants/t-gen/ip_blocks"),
            json!({"ip_block": {"type": "private", "cidr": "fd::/64", "ipv6_generator": "random"}}),
        )
        .await;
    invalid(&r, "ipv6_generator");
    let shown = srv.get(&block_path("t-gen", &b)).await;
    assert_eq!(shown.json["ip_block"]["ipv6_generator"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generator_gives_up_on_a_full_small_block_instead_of_looping() {
    // Guards against Melange's unbounded "MAC + 1" loop: on a block with fewer free
    // addresses than candidates, the generator must end with "full", not spin.
    let srv = TestServer::start().await;
    let b = net_block(&srv, "t-small", "fe::/126", "net-s").await;
    let path = format!("{}/ip_addresses", block_path("t-small", &b));
    let mut got = Vec::new();
    for i in 0..2 {
        let body = json!({"ip_address": {"mac_address": format!("02:00:00:00:00:0{i}")}});
        let r = srv.post(&path, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        got.push(
            r.json["ip_address"]["address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    got.sort();
    assert_eq!(
        got,
        ["fe::", "fe::2"],
        "the gateway fe::1 and the last address are held back"
    );
    let r = srv
        .post(
            &path,
            json!({"ip_address": {"mac_address": "02:00:00:00:00:07"}}),
        )
        .await;
    fault(&r, 422, "IpBlock is full");
    let r = srv
        .post(
            &allocations("t-small", "net-s", "vif-s"),
            json!({"network": {"mac_address": "02:00:00:00:00:09"}}),
        )
        .await;
    fault(&r, 422, "ip blocks in this network are full");
}
