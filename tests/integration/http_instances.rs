//! Black-box HTTP tests of instance interfaces (seed 004 "Instance Interfaces" and "Instance
//! Interface Ips", melange-semantics.md §4): PUT replaces a device's interfaces (a re-PUT gets
//! new addresses, the old ones soft-deallocated), POST adds one, GET lists and shows, DELETE
//! removes one or all, and an interface's addresses are allocated from a network and released.

use serde_json::{json, Value};

use crate::interfaces_support::*;
use crate::support::TestServer;

fn instance_path(device: &str) -> String {
    format!("{IPAM}/instances/{device}/interfaces")
}

fn interfaces_of(v: &Value) -> Vec<Value> {
    v["instance"]["interfaces"]
        .as_array()
        .expect("instance.interfaces")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_creates_every_interface_and_a_re_put_replaces_them() {
    let srv = TestServer::start().await;
    let b1 = net_block(&srv, "RAX", "10.0.0.0/24", "public_net1").await;
    net_block(&srv, "RAX", "10.0.1.0/24", "public_net2").await;
    let body = json!({"instance": {"tenant_id": "tnt", "interfaces": [
        {"network": {"id": "public_net1", "tenant_id": "RAX"}, "mac_address": null},
        {"network": {"id": "public_net2", "tenant_id": "RAX"}, "mac_address": null},
    ]}});
    let r = srv.put(&instance_path("vm-1"), body.clone()).await;
    assert_eq!(r.status, 200, "the spec's status: {}", r.text);
    let first = interfaces_of(&r.json);
    assert_eq!(first.len(), 2);
    for i in &first {
        assert_eq!(i["device_id"], "vm-1");
        assert_eq!(i["tenant_id"], "tnt", "the lessee of the body");
        assert_eq!(i["ip_addresses"].as_array().map(Vec::len), Some(1), "{i}");
    }
    assert_eq!(addresses_of(&first[0]), ["10.0.0.2"]);
    assert_eq!(addresses_of(&first[1]), ["10.0.1.2"]);

    let listed = srv.get(&instance_path("vm-1")).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(interfaces_of(&listed.json), first);

    // A re-PUT deletes the device's interfaces first: the old addresses are soft-deallocated
    // (still occupied), so the new interfaces get the next ones.
    let r = srv.put(&instance_path("vm-1"), body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let second = interfaces_of(&r.json);
    assert_eq!(addresses_of(&second[0]), ["10.0.0.3"]);
    assert_eq!(addresses_of(&second[1]), ["10.0.1.3"]);
    let old = srv
        .get(&format!("{}/ip_addresses/10.0.0.2", block_path("RAX", &b1)))
        .await;
    assert!(
        old.json["ip_address"]["deallocated_at"].is_string(),
        "the replaced interface's address is soft-deallocated: {}",
        old.text
    );
    assert_eq!(
        interfaces_of(&srv.get(&instance_path("vm-1")).await.json).len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_refusals_append_nothing_and_leave_the_old_interfaces() {
    let srv = TestServer::start().await;
    net_block(&srv, "RAX", "10.2.0.0/30", "tiny").await;
    let one = json!({"instance": {"tenant_id": "tnt", "interfaces": [
        {"network": {"id": "tiny", "tenant_id": "RAX"}}]}});
    let r = srv.put(&instance_path("vm-2"), one).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let before_list = srv.get(&instance_path("vm-2")).await.json;
    let before = events(&srv).await;

    // The /30 has one allocatable address (.2), held by the interface being replaced; the
    // replacement's own delete soft-deallocates it, so two new interfaces cannot both fit.
    let two = json!({"instance": {"tenant_id": "tnt", "interfaces": [
        {"network": {"id": "tiny", "tenant_id": "RAX"}},
        {"network": {"id": "tiny", "tenant_id": "RAX"}}]}});
    let r = srv.put(&instance_path("vm-2"), two).await;
    assert_fault(&r, 422);
    let missing = json!({"instance": {"tenant_id": "tnt", "interfaces": [
        {"network": {"id": "no-such-net", "tenant_id": "RAX"}}]}});
    fault(
        &srv.put(&instance_path("vm-2"), missing).await,
        404,
        "Network no-such-net not found",
    );
    let r = srv
        .put(
            &instance_path("vm-2"),
            json!({"instance": {"interfaces": [{"network": {"id": "tiny", "tenant_id": "RAX"}}]}}),
        )
        .await;
    assert_fault(&r, 400);
    let r = srv.put(&instance_path("vm-2"), json!({"wrong": {}})).await;
    assert_fault(&r, 400);
    assert_eq!(events(&srv).await, before, "refused PUTs append nothing");
    assert_eq!(srv.get(&instance_path("vm-2")).await.json, before_list);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_adds_one_interface_and_get_shows_it() {
    let srv = TestServer::start().await;
    net_block(&srv, "RAX", "10.3.0.0/24", "public_net1").await;
    let r = srv
        .post(
            &instance_path("vm-3"),
            json!({"interface": {"id": "vif-3", "tenant_id": "tnt",
                   "network": {"id": "public_net1", "tenant_id": "RAX"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "the spec's status: {}", r.text);
    let created = r.json["interface"].clone();
    assert_eq!(created["id"], "vif-3");
    assert_eq!(created["device_id"], "vm-3", "the device of the path");
    assert_eq!(addresses_of(&created), ["10.3.0.2"]);

    let shown = srv.get(&format!("{}/vif-3", instance_path("vm-3"))).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["interface"], created);
    fault(
        &srv.get(&format!("{}/vif-3", instance_path("vm-other")))
            .await,
        404,
        "Interface Not Found",
    );
    fault(
        &srv.get(&format!("{}/vif-none", instance_path("vm-3")))
            .await,
        404,
        "Interface Not Found",
    );
    let listed = srv.get(&instance_path("vm-3")).await;
    assert_eq!(interfaces_of(&listed.json), [created]);
    let none = srv.get(&instance_path("vm-without")).await;
    assert_eq!(none.status, 200, "an empty list, not a 404: {}", none.text);
    assert_eq!(interfaces_of(&none.json), Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_one_and_delete_all() {
    let srv = TestServer::start().await;
    let b = net_block(&srv, "RAX", "10.4.0.0/24", "n4").await;
    for vif in ["vif-a", "vif-b", "vif-c"] {
        let r = srv
            .post(
                &instance_path("vm-4"),
                json!({"interface": {"id": vif, "tenant_id": "tnt",
                       "network": {"id": "n4", "tenant_id": "RAX"}}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    empty_ok(
        &srv.delete(&format!("{}/vif-a", instance_path("vm-4")))
            .await,
    );
    fault(
        &srv.delete(&format!("{}/vif-a", instance_path("vm-4")))
            .await,
        404,
        "Interface Not Found",
    );
    fault(
        &srv.delete(&format!("{}/vif-b", instance_path("vm-other")))
            .await,
        404,
        "Interface Not Found",
    );
    let left: Vec<Value> = interfaces_of(&srv.get(&instance_path("vm-4")).await.json)
        .into_iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(left, [json!("vif-b"), json!("vif-c")]);

    empty_ok(&srv.delete(&instance_path("vm-4")).await);
    assert_eq!(
        interfaces_of(&srv.get(&instance_path("vm-4")).await.json),
        Vec::<Value>::new()
    );
    empty_ok(&srv.delete(&instance_path("vm-4")).await);
    let a = srv
        .get(&format!("{}/ip_addresses/10.4.0.4", block_path("RAX", &b)))
        .await;
    assert!(
        a.json["ip_address"]["deallocated_at"].is_string(),
        "deleting the device soft-deallocates its addresses: {}",
        a.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_ip_addresses_allocate_and_release() {
    let srv = TestServer::start().await;
    let b = net_block(&srv, "RAX", "192.168.1.0/24", "public_net1").await;
    net_block(&srv, "RAX", "fd00::/64", "public_net1").await;
    let r = srv
        .post(
            &instance_path("vm-5"),
            json!({"interface": {"id": "vif-5", "tenant_id": "tnt", "mac_address": "02:00:00:00:00:05"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ips = format!("{}/vif-5/ip_addresses", instance_path("vm-5"));

    let r = srv
        .post(
            &ips,
            json!({"network": {"id": "public_net1", "tenant_id": "RAX", "addresses": ["192.168.1.9"]}}),
        )
        .await;
    assert_eq!(r.status, 200, "the spec's status: {}", r.text);
    let got: Vec<&str> = r.json["ip_addresses"]
        .as_array()
        .expect("ip_addresses")
        .iter()
        .map(|a| a["address"].as_str().expect("address"))
        .collect();
    assert_eq!(got, ["192.168.1.9"]);
    assert_eq!(r.json["ip_addresses"][0]["interface_id"], "vif-5");

    let before = events(&srv).await;
    fault(
        &srv.post(&ips, json!({"network": {"id": "public_net1", "tenant_id": "RAX", "addresses": ["192.168.1.9"]}}))
            .await,
        409,
        "Address is already allocated",
    );
    fault(
        &srv.post(
            &ips,
            json!({"network": {"id": "nowhere", "tenant_id": "RAX"}}),
        )
        .await,
        404,
        "Network nowhere not found",
    );
    assert_fault(
        &srv.post(&ips, json!({"network": {"id": "public_net1", "tenant_id": "RAX", "addresses": ["not-an-ip"]}}))
            .await,
        400,
    );
    assert_fault(&srv.post(&ips, json!({})).await, 400);
    fault(
        &srv.post(
            &format!("{}/vif-none/ip_addresses", instance_path("vm-5")),
            json!({"network": {"id": "public_net1", "tenant_id": "RAX"}}),
        )
        .await,
        404,
        "Interface Not Found",
    );
    assert_eq!(events(&srv).await, before, "refusals append nothing");

    let r = srv
        .post(
            &ips,
            json!({"network": {"id": "public_net1", "tenant_id": "RAX"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shown = srv.get(&format!("{}/vif-5", instance_path("vm-5"))).await;
    assert_eq!(
        addresses_of(&shown.json["interface"]).len(),
        3,
        "{}",
        shown.text
    );

    // The spec's singular `instance` spelling releases too; only its DELETE is served.
    let singular = format!("{IPAM}/instance/vm-5/interfaces/vif-5/ip_addresses");
    assert_fault(
        &srv.post(
            &singular,
            json!({"network": {"id": "public_net1", "tenant_id": "RAX"}}),
        )
        .await,
        405,
    );
    empty_ok(&srv.delete(&singular).await);
    let shown = srv.get(&format!("{}/vif-5", instance_path("vm-5"))).await;
    assert_eq!(
        shown.json["interface"]["ip_addresses"],
        json!([]),
        "{}",
        shown.text
    );
    let a = srv
        .get(&format!(
            "{}/ip_addresses/192.168.1.9",
            block_path("RAX", &b)
        ))
        .await;
    assert!(
        a.json["ip_address"]["deallocated_at"].is_string(),
        "{}",
        a.text
    );
}
