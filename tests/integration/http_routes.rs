//! Black-box HTTP tests of a block's static routes (seed 004 "Static Routes";
//! melange-semantics.md §6 and §8 scenario 11), with ipledger's field validation. Also the
//! helpers the NAT and retention tests share.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Client, Res, TestServer};

/// Asserts the status and Melange's fault shape; returns the fault's detail.
pub fn fault(r: &Res, status: u16) -> String {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
    let obj = r.json.as_object().expect("a fault object");
    assert_eq!(obj.len(), 1, "a fault has one root key: {}", r.text);
    let inner = obj.values().next().expect("the fault");
    assert_eq!(inner["code"], status, "{}", r.text);
    inner["detail"].as_str().expect("a detail").to_string()
}

pub fn not_found(r: &Res, detail: &str) {
    assert_eq!(fault(r, 404), detail);
}

/// A 400 whose structured errors are exactly `fields`.
pub fn invalid(r: &Res, fields: Value) {
    fault(r, 400);
    let errors = r.json["BadRequest"]["errors"].clone();
    assert_eq!(errors, fields, "{}", r.text);
}

/// 200 with an empty body.
pub fn empty_ok(r: &Res) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "", "an empty body");
}

pub fn blocks(tenant: &str) -> String {
    format!("/v0.1/ipam/tenants/{tenant}/ip_blocks")
}

/// Creates a block (201); returns its id.
pub async fn block(c: &Client, tenant: &str, kind: &str, cidr: &str) -> String {
    let r = c
        .post(
            &blocks(tenant),
            json!({"ip_block": {"type": kind, "cidr": cidr}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["ip_block"]["id"].as_str().expect("id").to_string()
}

/// Allocates `address` in the block (201); returns the address JSON.
pub async fn allocate(c: &Client, tenant: &str, block: &str, address: &str) -> Value {
    let path = format!("{}/{block}/ip_addresses", blocks(tenant));
    let r = c
        .post(&path, json!({"ip_address": {"address": address}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["ip_address"].clone()
}

/// The events of a stream as (type, payload, actor).
pub async fn events(c: &Client, stream: &str) -> Vec<(String, Value, String)> {
    let r = c.get(&format!("/v1/events?stream={stream}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let (name, payload) = e["event"]
                .as_object()
                .expect("event")
                .iter()
                .next()
                .expect("one");
            (
                name.clone(),
                payload.clone(),
                e["actor"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub fn types(events: &[(String, Value, String)]) -> Vec<&str> {
    events.iter().map(|(t, _, _)| t.as_str()).collect()
}

fn routes(tenant: &str, block: &str) -> String {
    format!("{}/{block}/ip_routes", blocks(tenant))
}

fn route_body(destination: &str, gateway: &str, netmask: Option<&str>) -> Value {
    json!({"ip_route": {"destination": destination, "gateway": gateway, "netmask": netmask}})
}

async fn create_route(c: &Client, path: &str, body: Value) -> Value {
    let r = c.post(path, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["ip_route"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn is_timestamp(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 19 && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
    })
}

#[tokio::test]
async fn scenario_11_routes_crud() {
    let srv = TestServer::start().await;
    let b = block(&srv, "t11", "private", "77.1.1.0/24").await;
    let path = routes("t11", &b);
    let first = create_route(
        &srv,
        &path,
        route_body("10.1.1.2", "10.1.1.1", Some("255.255.255.0")),
    )
    .await;
    let shown = srv.get(&format!("{path}/{}", id(&first))).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json["ip_route"], first);
    let second = create_route(&srv, &path, route_body("10.1.2.0/24", "10.1.1.1", None)).await;
    let listed = srv.get(&path).await;
    assert_eq!(listed.json, json!({"ip_routes": [first.clone(), second]}));
    empty_ok(&srv.delete(&format!("{path}/{}", id(&first))).await);
    not_found(
        &srv.get(&format!("{path}/{}", id(&first))).await,
        "IpRoute Not Found",
    );
    assert_eq!(
        srv.get(&path).await.json["ip_routes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_route_has_the_specs_fields_a_v7_id_and_normalised_values() {
    let srv = TestServer::start().await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let r = create_route(
        &srv,
        &routes("t1", &b),
        route_body("2001:0db8:0:0::/48", "2001:db8::0001", Some("48")),
    )
    .await;
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "destination",
            "gateway",
            "id",
            "netmask",
            "updated_at"
        ]
    );
    assert_eq!(uuid::Uuid::parse_str(&id(&r)).unwrap().get_version_num(), 7);
    assert_eq!(
        (r["destination"].as_str(), r["gateway"].as_str()),
        (Some("2001:db8::/48"), Some("2001:db8::1"))
    );
    assert_eq!(r["netmask"], "48");
    assert!(
        is_timestamp(&r["created_at"]) && is_timestamp(&r["updated_at"]),
        "{r}"
    );
}

#[tokio::test]
async fn a_route_is_updated_absent_fields_kept_and_the_netmask_cleared() {
    let srv = TestServer::start().await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let path = routes("t1", &b);
    let r = create_route(
        &srv,
        &path,
        route_body("10.1.1.0", "10.0.0.1", Some("255.255.255.0")),
    )
    .await;
    let one = format!("{path}/{}", id(&r));
    let updated = srv
        .put(
            &one,
            json!({"ip_route": {"gateway": "10.0.0.254", "netmask": null}}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let u = &updated.json["ip_route"];
    assert_eq!(
        (u["destination"].as_str(), u["gateway"].as_str()),
        (Some("10.1.1.0"), Some("10.0.0.254"))
    );
    assert_eq!(u["netmask"], Value::Null);
    assert_eq!(
        (u["id"].clone(), u["created_at"].clone()),
        (r["id"].clone(), r["created_at"].clone())
    );
    assert_eq!(srv.get(&one).await.json["ip_route"], *u);
    // Melange ignored a body source_block_id; so does ipledger.
    let moved = srv
        .put(&one, json!({"ip_route": {"source_block_id": "elsewhere"}}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
}

#[tokio::test]
async fn route_fields_are_validated_all_at_once() {
    let srv = TestServer::start().await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let path = routes("t1", &b);
    invalid(
        &srv.post(&path, json!({"ip_route": {}})).await,
        json!({"destination": ["destination should be present"], "gateway": ["gateway should be present"]}),
    );
    invalid(
        &srv.post(&path, route_body("10.1.1", "gw", Some("255.0.255.0")))
            .await,
        json!({
            "destination": ["destination should be an IP address or CIDR"],
            "gateway": ["gateway is not a valid address"],
            "netmask": ["netmask should be a contiguous mask (e.g. 255.255.255.0) or a prefix length"],
        }),
    );
    invalid(
        &srv.post(
            &path,
            route_body("10.1.0.0/16", "fe::1", Some("255.255.255.0")),
        )
        .await,
        json!({
            "gateway": ["gateway should be of the same IP version as destination"],
            "netmask": ["netmask does not match the destination's prefix length"],
        }),
    );
    let r = create_route(&srv, &path, route_body("10.1.1.0", "10.0.0.1", None)).await;
    invalid(
        &srv.put(
            &format!("{path}/{}", id(&r)),
            json!({"ip_route": {"gateway": "::1"}}),
        )
        .await,
        json!({"gateway": ["gateway should be of the same IP version as destination"]}),
    );
    assert_eq!(
        fault(
            &srv.raw(Method::POST, &path, Some("application/json"), "")
                .await,
            400
        ),
        "Required params are missing: ip_route"
    );
    fault(
        &srv.post(
            &path,
            json!({"ip_route": {"destination": "10.0.0.0", "gateway": "10.0.0.1", "metric": 1}}),
        )
        .await,
        400,
    );
    fault(
        &srv.post(&path, json!({"ip_route": ["10.0.0.0", "10.0.0.1"]}))
            .await,
        400,
    );
    assert_eq!(
        srv.get(&path).await.json["ip_routes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn unknown_or_foreign_blocks_and_routes_are_404() {
    let srv = TestServer::start().await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let other = block(&srv, "t1", "private", "10.0.1.0/24").await;
    let r = create_route(
        &srv,
        &routes("t1", &b),
        route_body("10.9.0.0", "10.0.0.1", None),
    )
    .await;
    let body = route_body("10.8.0.0", "10.0.0.1", None);
    for base in [
        routes("t2", &b),
        routes("t1", "not-an-id"),
        routes("t1", &uuid::Uuid::now_v7().to_string()),
    ] {
        not_found(&srv.get(&base).await, "IpBlock Not Found");
        not_found(&srv.post(&base, body.clone()).await, "IpBlock Not Found");
        let one = format!("{base}/{}", id(&r));
        not_found(&srv.get(&one).await, "IpBlock Not Found");
        not_found(&srv.put(&one, body.clone()).await, "IpBlock Not Found");
        not_found(&srv.delete(&one).await, "IpBlock Not Found");
    }
    for missing in [
        format!("{}/{}", routes("t1", &other), id(&r)),
        format!("{}/nope", routes("t1", &b)),
        format!("{}/{}", routes("t1", &b), uuid::Uuid::now_v7()),
    ] {
        not_found(&srv.get(&missing).await, "IpRoute Not Found");
        not_found(&srv.put(&missing, body.clone()).await, "IpRoute Not Found");
        not_found(&srv.delete(&missing).await, "IpRoute Not Found");
    }
    fault(
        &srv.send(Method::PATCH, &routes("t1", &b), None, &[]).await,
        405,
    );
    fault(
        &srv.send(
            Method::POST,
            &format!("{}/{}", routes("t1", &b), id(&r)),
            Some(&body),
            &[],
        )
        .await,
        405,
    );
}

#[tokio::test]
async fn routes_are_paginated_in_creation_order() {
    let srv = TestServer::start().await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let path = routes("t1", &b);
    let mut created = Vec::new();
    for n in 1..=3 {
        let r = create_route(
            &srv,
            &path,
            route_body(&format!("10.{n}.0.0/16"), "10.0.0.1", None),
        )
        .await;
        created.push(id(&r));
    }
    let first = srv.get(&format!("{path}?limit=2")).await;
    let ids: Vec<String> = first.json["ip_routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(ids, created[..2]);
    let next = first.json["ip_routes_links"][0]["href"]
        .as_str()
        .expect("a next link")
        .to_string();
    assert!(next.contains(&format!("marker={}", created[1])), "{next}");
    let rest = srv
        .get(&format!("{path}?limit=2&marker={}", created[1]))
        .await;
    assert_eq!(
        rest.json,
        json!({"ip_routes": [srv.get(&format!("{path}/{}", created[2])).await.json["ip_route"]]})
    );
}

#[tokio::test]
async fn route_changes_are_events_and_a_deleted_block_takes_its_routes() {
    let srv = TestServer::start().await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let path = routes("t1", &b);
    let r = create_route(&srv, &path, route_body("10.9.0.0", "10.0.0.1", None)).await;
    srv.put(
        &format!("{path}/{}", id(&r)),
        route_body("10.9.0.0", "10.0.0.2", None),
    )
    .await;
    create_route(&srv, &path, route_body("10.8.0.0", "10.0.0.1", None)).await;
    empty_ok(&srv.delete(&format!("{}/{b}", blocks("t1"))).await);
    let stream = events(&srv, &format!("block-{b}")).await;
    assert_eq!(
        types(&stream),
        [
            "BlockCreated",
            "RouteCreated",
            "RouteUpdated",
            "RouteCreated",
            "RouteDeleted",
            "RouteDeleted",
            "BlockDeleted"
        ]
    );
    assert_eq!(stream[4].1["route_id"], r["id"]);
    not_found(&srv.get(&path).await, "IpBlock Not Found");
}
