//! XML round trips for the resources of the rest of the Melange surface: static routes, MAC
//! address ranges, interfaces (with a nested network and its address list), instance
//! interfaces, network allocations, NAT pairs and allowed IPs. Each is created or changed from
//! an XML body, and its XML answer and `.xml` / `Accept` reads agree with the JSON ones.

use reqwest::Method;

use super::tree::{assert_doc, xml};
use super::{create, read_back, send_xml, tenant};
use crate::support::TestServer;

/// A private block of `t` from XML; returns its id.
async fn xml_block(srv: &TestServer, t: &str, cidr: &str, network: Option<&str>) -> String {
    let net = network.map_or(String::new(), |n| format!("<network_id>{n}</network_id>"));
    let body = format!("<ip_block><cidr>{cidr}</cidr><type>private</type>{net}</ip_block>");
    let block = create(srv, &format!("{}/ip_blocks", tenant(t)), &body, "ip_block").await;
    block["id"].as_str().expect("block id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_routes_round_trip() {
    let srv = TestServer::start().await;
    let b = xml_block(&srv, "x-rt", "77.1.1.0/24", None).await;
    let routes = format!("{}/ip_blocks/{b}/ip_routes", tenant("x-rt"));
    let body = "<ip_route><destination>10.1.1.2</destination><gateway>10.1.1.1</gateway>\
                <netmask>255.255.255.0</netmask></ip_route>";
    let route = create(&srv, &routes, body, "ip_route").await;
    assert_eq!(route["destination"], "10.1.1.2");
    let path = format!("{routes}/{}", route["id"].as_str().unwrap());
    let r = send_xml(
        &srv,
        Method::PUT,
        &path,
        "<ip_route><gateway>10.1.1.9</gateway></ip_route>",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = read_back(&srv, &path).await;
    assert_doc(&updated, &xml(&r));
    assert_eq!(updated["ip_route"]["gateway"], "10.1.1.9");
    let listed = read_back(&srv, &routes).await;
    assert_eq!(listed["ip_routes"].as_array().unwrap().len(), 1);
    // The block's ip_routes appear in every ip-configuration view, in XML too.
    let addresses = format!("{}/ip_blocks/{b}/ip_addresses", tenant("x-rt"));
    let r = send_xml(&srv, Method::POST, &addresses, "<ip_address/>").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let one = xml(&r).child("address").text.clone();
    read_back(&srv, &format!("{addresses}/{one}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_mac_ranges_interfaces_and_allowed_ips_round_trip() {
    let srv = TestServer::start().await;
    let ranges = "/v0.1/ipam/mac_address_ranges";
    let range = create(
        &srv,
        ranges,
        "<mac_address_range><cidr>BC:76:4E:20:00:00/40</cidr></mac_address_range>",
        "mac_address_range",
    )
    .await;
    assert_eq!(range["cidr"], "BC:76:4E:20:00:00/40");
    read_back(&srv, ranges).await;

    xml_block(&srv, "x-if", "20.1.1.0/24", Some("net-x")).await;
    let body = "<interface><id>vif-x</id><tenant_id>x-if</tenant_id><device_id>vm-x</device_id>\
                <network><id>net-x</id><tenant_id>x-if</tenant_id>\
                <addresses><address>20.1.1.5</address></addresses></network></interface>";
    let r = send_xml(&srv, Method::POST, "/v0.1/ipam/interfaces", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = xml(&r);
    assert_eq!(created.child("mac_address").text, "BC:76:4E:20:00:00");
    let shown = read_back(&srv, &format!("{}/interfaces/vif-x", tenant("x-if"))).await;
    assert_doc(&shown, &created);
    assert_eq!(shown["interface"]["ip_addresses"][0]["address"], "20.1.1.5");

    let allowed = format!("{}/interfaces/vif-x/allowed_ips", tenant("x-if"));
    let ips = format!("{}/ip_blocks", tenant("x-if"));
    let block_id = read_back(&srv, &ips).await["ip_blocks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send_xml(
        &srv,
        Method::POST,
        &format!("{ips}/{block_id}/ip_addresses"),
        "<ip_address><address>20.1.1.9</address></ip_address>",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = send_xml(
        &srv,
        Method::POST,
        &allowed,
        "<allowed_ip><network_id>net-x</network_id><ip_address>20.1.1.9</ip_address></allowed_ip>",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let one = read_back(&srv, &format!("{allowed}/20.1.1.9")).await;
    assert_doc(&one, &xml(&r));
    assert_eq!(
        read_back(&srv, &allowed).await["ip_addresses"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_instance_interfaces_and_network_allocations_round_trip() {
    let srv = TestServer::start().await;
    xml_block(&srv, "RAX", "10.0.0.0/24", Some("public_net1")).await;
    xml_block(&srv, "RAX", "10.0.1.0/24", Some("public_net2")).await;
    let body = "<instance><tenant_id>tnt</tenant_id><interfaces>\
                <interface><network><id>public_net1</id><tenant_id>RAX</tenant_id></network></interface>\
                <interface><network><id>public_net2</id><tenant_id>RAX</tenant_id></network></interface>\
                </interfaces></instance>";
    let path = "/v0.1/ipam/instances/vm-x/interfaces";
    let r = send_xml(&srv, Method::PUT, path, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = read_back(&srv, path).await;
    assert_doc(&listed, &xml(&r));
    assert_eq!(
        listed["instance"]["interfaces"].as_array().unwrap().len(),
        2
    );

    let alloc = format!(
        "{}/networks/public_net1/interfaces/vif-n/ip_allocations",
        tenant("RAX")
    );
    let r = send_xml(
        &srv,
        Method::POST,
        &alloc,
        "<network><used_by_device>vm-n</used_by_device></network>",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let answer = xml(&r);
    let listed = read_back(&srv, &alloc).await;
    assert_doc(&listed, &answer);
    assert_eq!(listed["ip_addresses"][0]["address"], "10.0.0.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_nat_round_trip() {
    let srv = TestServer::start().await;
    let local = xml_block(&srv, "x-nat", "10.0.0.0/24", None).await;
    let body = "<ip_block><cidr>77.1.1.0/24</cidr><type>public</type></ip_block>";
    let global = create(
        &srv,
        &format!("{}/ip_blocks", tenant("x-nat")),
        body,
        "ip_block",
    )
    .await;
    let global = global["id"].as_str().unwrap().to_string();
    for (b, a) in [(&local, "10.0.0.2"), (&global, "77.1.1.2")] {
        let r = send_xml(
            &srv,
            Method::POST,
            &format!("{}/ip_blocks/{b}/ip_addresses", tenant("x-nat")),
            &format!("<ip_address><address>{a}</address></ip_address>"),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let globals = format!(
        "{}/ip_blocks/{local}/ip_addresses/10.0.0.2/inside_globals",
        tenant("x-nat")
    );
    let body = format!(
        "<ip_addresses><ip_address><ip_block_id>{global}</ip_block_id>\
         <ip_address>77.1.1.2</ip_address></ip_address></ip_addresses>"
    );
    let r = send_xml(&srv, Method::POST, &globals, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = read_back(&srv, &globals).await;
    assert_eq!(listed["ip_addresses"][0]["address"], "77.1.1.2");
    let locals = format!(
        "{}/ip_blocks/{global}/ip_addresses/77.1.1.2/inside_locals",
        tenant("x-nat")
    );
    assert_eq!(
        read_back(&srv, &locals).await["ip_addresses"][0]["address"],
        "10.0.0.2"
    );
}
