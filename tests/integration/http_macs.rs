//! Black-box HTTP tests of MAC address ranges (seed 004 "Mac Ranges", decision 16,
//! melange-semantics.md §4 and §8 scenarios 14–15): create, list, show, delete, validation,
//! and MAC allocation across ranges — creation order, lowest free first, exhaustion (422),
//! immediate reuse of a released MAC, uniqueness across ranges and given MACs.

use serde_json::{json, Value};

use crate::interfaces_support::*;
use crate::support::TestServer;

const RANGES: &str = "/v0.1/ipam/mac_address_ranges";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_14_mac_range_crud_accepts_overlapping_ranges() {
    let srv = TestServer::start().await;
    let first = mac_range(&srv, "ab-bc-cd-12-23-34/2").await;
    assert_eq!(
        first["cidr"], "80:00:00:00:00:00/2",
        "normalised: first MAC, upper case, colons"
    );
    assert!(uuid::Uuid::parse_str(first["id"].as_str().unwrap()).is_ok());
    let id = first["id"].as_str().unwrap();
    let shown = srv.get(&format!("{RANGES}/{id}")).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["mac_address_range"], first);

    let second = mac_range(&srv, "bc-ab-dc-12-23-34/2").await;
    assert_eq!(
        second["cidr"], "80:00:00:00:00:00/2",
        "it overlaps the first"
    );
    let list = srv.get(RANGES).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json, json!({"mac_address_ranges": [first, second]}));

    empty_ok(&srv.delete(&format!("{RANGES}/{id}")).await);
    fault(
        &srv.get(&format!("{RANGES}/{id}")).await,
        404,
        "MacAddressRange Not Found",
    );
    assert_eq!(
        srv.get(RANGES).await.json,
        json!({"mac_address_ranges": [second]})
    );
    fault(
        &srv.delete(&format!("{RANGES}/{id}")).await,
        404,
        "MacAddressRange Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_15_mac_range_with_a_tenant_id_is_accepted_and_shown() {
    let srv = TestServer::start().await;
    let r = srv
        .post(
            RANGES,
            json!({"mac_address_range": {"cidr": "BC:76:4E:20:00:00/27", "tenant_id": "t-15"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json["mac_address_range"].clone();
    assert_eq!(created["tenant_id"], "t-15");
    assert_eq!(created["cidr"], "BC:76:4E:20:00:00/27");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        srv.get(&format!("{RANGES}/{id}")).await.json["mac_address_range"],
        created
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mac_range_requests_are_refused_without_an_event() {
    let srv = TestServer::start().await;
    let before = events(&srv).await;
    for cidr in [
        json!("zz:zz/4"),
        json!("ab-bc-cd-12-23-34/49"),
        json!(""),
        json!("10.0.0.0/24"),
        Value::Null,
    ] {
        let r = srv
            .post(RANGES, json!({"mac_address_range": {"cidr": cidr}}))
            .await;
        invalid(&r, "cidr");
    }
    invalid(
        &srv.post(RANGES, json!({"mac_address_range": {}})).await,
        "cidr",
    );
    assert_fault(
        &srv.post(
            RANGES,
            json!({"mac_address_range": {"cidr": "BC:76:4E:20:00:00/27", "size": 3}}),
        )
        .await,
        400,
    );
    assert_fault(
        &srv.post(RANGES, json!({"cidr": "BC:76:4E:20:00:00/27"}))
            .await,
        400,
    );
    assert_fault(
        &srv.send(reqwest::Method::POST, RANGES, None, &[]).await,
        400,
    );
    assert_fault(&srv.put(RANGES, json!({})).await, 405);
    fault(
        &srv.get(&format!("{RANGES}/not-a-uuid")).await,
        404,
        "MacAddressRange Not Found",
    );
    fault(
        &srv.get(&format!("{RANGES}/0190f6a4-0000-7000-8000-000000000000"))
            .await,
        404,
        "MacAddressRange Not Found",
    );
    assert_eq!(events(&srv).await, before, "refusals appended events");
    assert_eq!(
        srv.get(RANGES).await.json,
        json!({"mac_address_ranges": []})
    );
}

/// An interface of tenant `t-mac` with only a vif; returns its MAC.
async fn nic(srv: &TestServer, vif: &str) -> Value {
    interface(srv, json!({"id": vif, "tenant_id": "t-mac"})).await["mac_address"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macs_come_from_the_ranges_in_order_until_exhausted_and_are_reused_at_once() {
    let srv = TestServer::start().await;
    assert_eq!(nic(&srv, "vif-none").await, Value::Null, "no range: no MAC");
    mac_range(&srv, "bc-76-4e-20-00-00/47").await; // two MACs
    mac_range(&srv, "BC:76:4E:30:00:00/48").await; // one MAC
    assert_eq!(nic(&srv, "vif-a").await, "BC:76:4E:20:00:00");
    assert_eq!(nic(&srv, "vif-b").await, "BC:76:4E:20:00:01");
    assert_eq!(
        nic(&srv, "vif-c").await,
        "BC:76:4E:30:00:00",
        "the next range when one is full"
    );

    let before = events(&srv).await;
    let r = post_interface(&srv, json!({"id": "vif-d", "tenant_id": "t-mac"})).await;
    fault(&r, 422, "No more mac Addresses");
    assert_eq!(events(&srv).await, before, "no half-made interface");
    fault(
        &show_interface(&srv, "t-mac", "vif-d").await,
        404,
        "Interface Not Found",
    );

    empty_ok(&srv.delete(&format!("{IPAM}/interfaces/vif-b")).await);
    assert_eq!(
        nic(&srv, "vif-d").await,
        "BC:76:4E:20:00:01",
        "a released MAC is reused at once"
    );
    let a = show_interface(&srv, "t-mac", "vif-a").await;
    assert_eq!(a.json["interface"]["mac_address"], "BC:76:4E:20:00:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macs_are_unique_across_ranges_and_given_macs() {
    // Guards against a MAC handed out twice: once given explicitly and once from a range
    // (or from two overlapping ranges), which would put two interfaces on one MAC.
    let srv = TestServer::start().await;
    let given = interface(
        &srv,
        json!({"id": "vif-given", "tenant_id": "t-mac", "mac_address": "bc:76:4e:20:00:00"}),
    )
    .await;
    assert_eq!(
        given["mac_address"], "BC:76:4E:20:00:00",
        "printed upper case with colons"
    );
    let r = post_interface(
        &srv,
        json!({"id": "vif-dup", "tenant_id": "t-mac", "mac_address": "BC-76-4E-20-00-00"}),
    )
    .await;
    fault(&r, 409, "MacAddress BC:76:4E:20:00:00 is already allocated");
    let r = post_interface(
        &srv,
        json!({"id": "vif-bad", "tenant_id": "t-mac", "mac_address": "not-a-mac"}),
    )
    .await;
    invalid(&r, "mac_address");

    mac_range(&srv, "BC:76:4E:20:00:00/46").await; // four MACs, the first already given
    mac_range(&srv, "BC:76:4E:20:00:00/47").await; // overlaps the first
    assert_eq!(
        nic(&srv, "vif-1").await,
        "BC:76:4E:20:00:01",
        "the given MAC is skipped"
    );
    assert_eq!(nic(&srv, "vif-2").await, "BC:76:4E:20:00:02");
    assert_eq!(nic(&srv, "vif-3").await, "BC:76:4E:20:00:03");
    fault(
        &post_interface(&srv, json!({"id": "vif-4", "tenant_id": "t-mac"})).await,
        422,
        "No more mac Addresses",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_range_leaves_its_allocated_macs_alone() {
    let srv = TestServer::start().await;
    let range = mac_range(&srv, "02:00:00:00:00:00/48").await;
    assert_eq!(nic(&srv, "vif-keep").await, "02:00:00:00:00:00");
    let id = range["id"].as_str().unwrap();
    empty_ok(&srv.delete(&format!("{RANGES}/{id}")).await);
    let shown = show_interface(&srv, "t-mac", "vif-keep").await;
    assert_eq!(shown.json["interface"]["mac_address"], "02:00:00:00:00:00");
    assert_eq!(
        nic(&srv, "vif-after").await,
        Value::Null,
        "no range left: MAC allocation is off"
    );
    let r = post_interface(
        &srv,
        json!({"id": "vif-clash", "tenant_id": "t-mac", "mac_address": "02:00:00:00:00:00"}),
    )
    .await;
    fault(&r, 409, "MacAddress 02:00:00:00:00:00 is already allocated");
}
