//! Black-box HTTP tests of NAT (seed 004 "NAT'ing"; decision 17; melange-semantics.md §5):
//! inside globals and inside locals at the spec's admin paths and at the tenant-scoped
//! paths, the pair's symmetry, idempotent assignment, and every documented error.

use serde_json::{json, Value};

use crate::http_routes::{
    allocate, block, blocks, empty_ok, events, fault, invalid, not_found, types,
};
use crate::support::{Client, TestServer};

/// `/v0.1/ipam[/tenants/{t}]/ip_blocks/{b}/ip_addresses/{a}/{side}`.
fn nat(tenant: Option<&str>, block: &str, address: &str, side: &str) -> String {
    let scope = tenant.map_or(String::new(), |t| format!("/tenants/{t}"));
    format!("/v0.1/ipam{scope}/ip_blocks/{block}/ip_addresses/{address}/{side}")
}

fn partners(list: &[(&str, &str)]) -> Value {
    let items: Vec<Value> = list
        .iter()
        .map(|(b, a)| json!({"ip_block_id": b, "ip_address": a}))
        .collect();
    json!({ "ip_addresses": items })
}

/// The addresses a NAT list answers, in order.
async fn listed(c: &Client, path: &str) -> Vec<String> {
    let r = c.get(path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["ip_addresses"]
        .as_array()
        .expect("ip_addresses")
        .iter()
        .map(|a| a["address"].as_str().expect("address").to_string())
        .collect()
}

/// Tenant t1: a private block 10.0.0.0/24 with .2 and .3 (locals) and a public block
/// 77.1.1.0/24 with .2 and .3 (globals). Returns (srv, local block, global block).
async fn setup() -> (TestServer, String, String) {
    let srv = TestServer::start().await;
    let local = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let global = block(&srv, "t1", "public", "77.1.1.0/24").await;
    for a in ["10.0.0.2", "10.0.0.3"] {
        allocate(&srv, "t1", &local, a).await;
    }
    for a in ["77.1.1.2", "77.1.1.3"] {
        allocate(&srv, "t1", &global, a).await;
    }
    (srv, local, global)
}

#[tokio::test]
async fn globals_assigned_to_a_local_are_its_globals_and_it_is_their_local() {
    let (srv, l, g) = setup().await;
    let globals = nat(Some("t1"), &l, "10.0.0.2", "inside_globals");
    empty_ok(
        &srv.post(&globals, partners(&[(&g, "77.1.1.2"), (&g, "77.1.1.3")]))
            .await,
    );
    let r = srv.get(&globals).await;
    assert_eq!(
        r.json["ip_addresses"][0],
        srv.get(&format!("{}/{g}/ip_addresses/77.1.1.2", blocks("t1")))
            .await
            .json["ip_address"]
    );
    assert_eq!(listed(&srv, &globals).await, ["77.1.1.2", "77.1.1.3"]);
    for path in [
        nat(Some("t1"), &g, "77.1.1.3", "inside_locals"),
        nat(None, &g, "77.1.1.3", "inside_locals"),
    ] {
        assert_eq!(listed(&srv, &path).await, ["10.0.0.2"]);
    }
    assert!(
        listed(&srv, &nat(Some("t1"), &g, "77.1.1.3", "inside_globals"))
            .await
            .is_empty()
    );
    let stream = events(&srv, &format!("block-{l}")).await;
    let assigned: Vec<&Value> = stream
        .iter()
        .filter(|e| e.0 == "NatAssigned")
        .map(|e| &e.1)
        .collect();
    assert_eq!(assigned.len(), 2);
    assert_eq!(
        (
            assigned[0]["local_address"].as_str(),
            assigned[0]["global_address"].as_str()
        ),
        (Some("10.0.0.2"), Some("77.1.1.2"))
    );
}

#[tokio::test]
async fn locals_assigned_to_a_global_mirror_and_a_pair_is_stored_once() {
    let (srv, l, g) = setup().await;
    let locals = nat(None, &g, "77.1.1.2", "inside_locals");
    empty_ok(
        &srv.post(
            &locals,
            partners(&[(&l, "10.0.0.2"), (&l, "10.0.0.3"), (&l, "10.0.0.2")]),
        )
        .await,
    );
    let before = events(&srv, &format!("block-{l}")).await.len();
    // The same pair again, from the other side: nothing new.
    empty_ok(
        &srv.post(
            &nat(None, &l, "10.0.0.2", "inside_globals"),
            partners(&[(&g, "77.1.1.2")]),
        )
        .await,
    );
    empty_ok(&srv.post(&locals, partners(&[(&l, "10.0.0.3")])).await);
    assert_eq!(events(&srv, &format!("block-{l}")).await.len(), before);
    assert_eq!(listed(&srv, &locals).await, ["10.0.0.2", "10.0.0.3"]);
    assert_eq!(
        listed(&srv, &nat(None, &l, "10.0.0.3", "inside_globals")).await,
        ["77.1.1.2"]
    );
    // An empty list is a no-op success.
    empty_ok(&srv.post(&locals, json!({"ip_addresses": []})).await);
}

#[tokio::test]
async fn removing_one_compares_addresses_in_any_form_and_removing_all_clears_a_side() {
    let srv = TestServer::start().await;
    let l = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let g = block(&srv, "t1", "public", "fe::/64").await;
    allocate(&srv, "t1", &l, "10.0.0.2").await;
    allocate(&srv, "t1", &l, "10.0.0.3").await;
    allocate(&srv, "t1", &g, "fe::5").await;
    allocate(&srv, "t1", &g, "fe::6").await;
    let globals = nat(Some("t1"), &l, "10.0.0.2", "inside_globals");
    empty_ok(
        &srv.post(&globals, partners(&[(&g, "fe::5"), (&g, "fe::6")]))
            .await,
    );
    empty_ok(
        &srv.post(
            &nat(Some("t1"), &l, "10.0.0.3", "inside_globals"),
            partners(&[(&g, "fe::5")]),
        )
        .await,
    );
    // Melange compared raw strings; the verbose form names the same address here.
    empty_ok(
        &srv.delete(&format!(
            "{globals}/00fe:0000:0000:0000:0000:0000:0000:0005"
        ))
        .await,
    );
    assert_eq!(listed(&srv, &globals).await, ["fe::6"]);
    // Nothing matches: still 200.
    empty_ok(&srv.delete(&format!("{globals}/fe::99")).await);
    let locals_of_5 = nat(Some("t1"), &g, "fe::5", "inside_locals");
    assert_eq!(listed(&srv, &locals_of_5).await, ["10.0.0.3"]);
    empty_ok(&srv.delete(&format!("{locals_of_5}/10.0.0.3")).await);
    assert!(listed(&srv, &locals_of_5).await.is_empty());
    empty_ok(&srv.delete(&globals).await);
    assert!(listed(&srv, &globals).await.is_empty());
    assert!(listed(&srv, &nat(None, &g, "fe::6", "inside_locals"))
        .await
        .is_empty());
    let stream = events(&srv, &format!("block-{l}")).await;
    assert_eq!(
        types(&stream)
            .iter()
            .filter(|t| **t == "NatRemoved")
            .count(),
        3
    );
}

#[tokio::test]
async fn nat_lists_are_paginated() {
    let (srv, l, g) = setup().await;
    let locals = nat(None, &g, "77.1.1.2", "inside_locals");
    empty_ok(
        &srv.post(&locals, partners(&[(&l, "10.0.0.2"), (&l, "10.0.0.3")]))
            .await,
    );
    let first = srv.get(&format!("{locals}?limit=1")).await;
    assert_eq!(first.json["ip_addresses"].as_array().unwrap().len(), 1);
    let marker = first.json["ip_addresses"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.json["ip_addresses_links"][0]["href"]
        .as_str()
        .unwrap()
        .contains(&marker));
    let rest = srv.get(&format!("{locals}?limit=1&marker={marker}")).await;
    assert_eq!(rest.json["ip_addresses"][0]["address"], "10.0.0.3");
    assert!(
        rest.json.get("ip_addresses_links").is_none(),
        "{}",
        rest.text
    );
    fault(&srv.get(&format!("{locals}?limit=0")).await, 400);
}

#[tokio::test]
async fn the_admin_paths_may_pair_blocks_of_different_tenants_a_tenant_path_may_not() {
    let (srv, l, _) = setup().await;
    let foreign = block(&srv, "t2", "public", "88.0.0.0/24").await;
    allocate(&srv, "t2", &foreign, "88.0.0.2").await;
    let body = partners(&[(&foreign, "88.0.0.2")]);
    not_found(
        &srv.post(
            &nat(Some("t1"), &l, "10.0.0.2", "inside_globals"),
            body.clone(),
        )
        .await,
        "IpBlock Not Found",
    );
    not_found(
        &srv.get(&nat(Some("t2"), &l, "10.0.0.2", "inside_globals"))
            .await,
        "IpBlock Not Found",
    );
    empty_ok(
        &srv.post(&nat(None, &l, "10.0.0.2", "inside_globals"), body)
            .await,
    );
    assert_eq!(
        listed(
            &srv,
            &nat(Some("t2"), &foreign, "88.0.0.2", "inside_locals")
        )
        .await,
        ["10.0.0.2"]
    );
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let (srv, l, g) = setup().await;
    let path = nat(Some("t1"), &l, "10.0.0.2", "inside_globals");
    assert_eq!(
        fault(&srv.post(&path, json!({})).await, 400),
        "Required params are missing: ip_addresses"
    );
    assert_eq!(
        fault(
            &srv.raw(reqwest::Method::POST, &path, Some("application/json"), "")
                .await,
            400
        ),
        "Required params are missing: ip_addresses"
    );
    invalid(
        &srv.post(
            &path,
            json!({"ip_addresses": [{"ip_block_id": g}, {"ip_address": "77.1.1.2"}]}),
        )
        .await,
        json!({"ip_address": ["ip_address should be present"], "ip_block_id": ["ip_block_id should be present"]}),
    );
    invalid(
        &srv.post(&path, partners(&[(&g, "77.1.1.999")])).await,
        json!({"ip_address": ["77.1.1.999 is not a valid IP address"]}),
    );
    fault(
        &srv.post(
            &path,
            json!({"ip_addresses": [{"ip_block_id": g, "ip_address": "77.1.1.2", "x": 1}]}),
        )
        .await,
        400,
    );
    fault(
        &srv.post(&path, json!({"ip_addresses": {"ip_block_id": g}}))
            .await,
        400,
    );
    fault(
        &srv.raw(reqwest::Method::POST, &path, Some("text/plain"), "{}")
            .await,
        415,
    );
    assert!(listed(&srv, &path).await.is_empty());
}

#[tokio::test]
async fn missing_blocks_and_addresses_are_404_locked_addresses_422() {
    let (srv, l, g) = setup().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for side in ["inside_globals", "inside_locals"] {
        for tenant in [Some("t1"), None] {
            for (b, a, detail) in [
                (unknown.as_str(), "10.0.0.2", "IpBlock Not Found"),
                ("x", "10.0.0.2", "IpBlock Not Found"),
                (l.as_str(), "10.0.0.9", "IpAddress Not Found"),
            ] {
                let path = nat(tenant, b, a, side);
                not_found(&srv.get(&path).await, detail);
                not_found(
                    &srv.post(&path, partners(&[(&g, "77.1.1.2")])).await,
                    detail,
                );
                not_found(&srv.delete(&path).await, detail);
                not_found(&srv.delete(&format!("{path}/77.1.1.2")).await, detail);
            }
            let path = nat(tenant, &l, "10.0.0.2", side);
            not_found(
                &srv.post(&path, partners(&[(&unknown, "77.1.1.2")])).await,
                "IpBlock Not Found",
            );
            not_found(
                &srv.post(&path, partners(&[(&g, "77.1.1.9")])).await,
                "IpAddress Not Found",
            );
            fault(&srv.get(&nat(tenant, &l, "10.0.0.300", side)).await, 400);
            fault(&srv.delete(&format!("{path}/not-an-ip")).await, 400);
            assert_eq!(
                fault(&srv.post(&path, partners(&[(&l, "10.0.0.2")])).await, 422),
                "An address cannot be NAT'ed to itself"
            );
        }
    }
    // A soft-deallocated address is locked, on either side, but may still be read.
    let r = srv
        .delete(&format!("{}/{g}/ip_addresses/77.1.1.3", blocks("t1")))
        .await;
    empty_ok(&r);
    let path = nat(Some("t1"), &l, "10.0.0.2", "inside_globals");
    assert_eq!(
        fault(&srv.post(&path, partners(&[(&g, "77.1.1.3")])).await, 422),
        "Address is locked"
    );
    let locked = nat(Some("t1"), &g, "77.1.1.3", "inside_locals");
    assert_eq!(
        fault(&srv.post(&locked, partners(&[(&l, "10.0.0.2")])).await, 422),
        "Address is locked"
    );
    assert!(listed(&srv, &locked).await.is_empty());
    empty_ok(&srv.delete(&locked).await);
}

#[tokio::test]
async fn wrong_methods_and_extra_segments_are_405_and_404() {
    let (srv, l, _) = setup().await;
    let path = nat(None, &l, "10.0.0.2", "inside_globals");
    fault(&srv.put(&path, json!({})).await, 405);
    fault(&srv.get(&format!("{path}/77.1.1.2")).await, 405);
    fault(&srv.get(&format!("{path}/77.1.1.2/more")).await, 404);
}

/// Malformed bodies; `{K}` is the root key and `{F}` a field of the route under test.
const GARBAGE: &[&str] = &[
    "{",
    "[]",
    "null",
    "42",
    "\"text\"",
    "{\"{K}\": 5}",
    "{\"{K}\": \"x\"}",
    "{\"{K}\": [1, 2]}",
    "{\"{K}\": [{\"{F}\": [1]}]}",
    "{\"{K}\": {\"{F}\": {\"deep\": 1}}}",
    "{\"{K}\": [[]]}",
    "{\"{K}\": [[\"b\", \"10.0.0.3\"]]}",
    "{\"{K}\": {\"{F}\": 1e999}}",
    "{\"{K}\": {}} {}",
    "\u{0}",
];

#[tokio::test]
async fn garbage_bodies_on_the_route_and_nat_bodies_are_4xx_faults() {
    // Guards against a malformed body reaching a 5xx (or a success) on the body routes this
    // family added.
    let (srv, l, g) = setup().await;
    let routes = format!("{}/{l}/ip_routes", blocks("t1"));
    let r = srv
        .post(
            &routes,
            json!({"ip_route": {"destination": "10.9.0.0", "gateway": "10.0.0.1"}}),
        )
        .await;
    let route = format!(
        "{routes}/{}",
        r.json["ip_route"]["id"].as_str().expect("id")
    );
    let nat_post = nat(Some("t1"), &l, "10.0.0.2", "inside_globals");
    let targets = [
        (
            reqwest::Method::POST,
            routes.clone(),
            "ip_route",
            "destination",
        ),
        (reqwest::Method::PUT, route, "ip_route", "gateway"),
        (
            reqwest::Method::POST,
            nat_post.clone(),
            "ip_addresses",
            "ip_address",
        ),
        (
            reqwest::Method::POST,
            nat(None, &g, "77.1.1.2", "inside_locals"),
            "ip_addresses",
            "ip_block_id",
        ),
    ];
    for (method, path, key, field) in &targets {
        for g in GARBAGE {
            let body = g.replace("{K}", key).replace("{F}", field);
            let r = srv
                .raw(method.clone(), path, Some("application/json"), &body)
                .await;
            assert!(
                r.status.is_client_error(),
                "{method} {path} {body}: {} {}",
                r.status,
                r.text
            );
            fault(&r, r.status.as_u16());
        }
    }
    assert_eq!(
        srv.get(&routes).await.json["ip_routes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(listed(&srv, &nat_post).await.is_empty());
}
