//! Limits on what one request can make large (issue 7 defect 1 and item 5). An admin
//! instance PUT of 3,000 interfaces with an Idempotency-Key used to answer 503 "event ...
//! is too large" and stop the writer for everyone until a restart; every request kind that
//! a client can make large is now refused whole with a 4xx, changes nothing, and leaves the
//! service serving (`/healthz` 200, the next write succeeds).

use reqwest::Method;
use serde_json::{json, Value};

use crate::interfaces_support::*;
use crate::support::{Res, TestServer, ADMIN_TOKEN};

/// The request was refused with `status`, nothing was appended, and the service still
/// answers health checks and writes.
async fn refused_and_still_serving(srv: &TestServer, r: &Res, status: u16, before: u64) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        events(srv).await,
        before,
        "a refused request appends nothing"
    );
    let health = srv.get("/healthz").await;
    assert_eq!(
        health.status, 200,
        "the writer keeps running: {}",
        health.text
    );
    let next = srv
        .post(
            "/v0.1/ipam/tenants/after/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": format!("192.168.{}.0/24", before % 256)}}),
        )
        .await;
    assert_eq!(next.status, 201, "the next write succeeds: {}", next.text);
}

fn interfaces(n: usize, network: &str) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("vif-{i}"), "network": {"id": network, "tenant_id": "RAX"}}))
        .collect();
    json!({"instance": {"tenant_id": "tnt", "interfaces": items}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_idempotent_instance_put_is_413_and_the_writer_keeps_serving() {
    let srv = TestServer::start().await;
    net_block(&srv, "RAX", "10.0.0.0/16", "big").await;
    let body = interfaces(3000, "big");
    let path = format!("{IPAM}/instances/dev1/interfaces");
    // The retry a client would send must not stop the service either.
    for attempt in ["first", "retry"] {
        let before = events(&srv).await;
        let r = srv
            .client
            .send(
                Method::PUT,
                &path,
                Some(&body),
                &[("idempotency-key", "big-put")],
            )
            .await;
        assert!(
            r.text.contains("at most 256 are allowed"),
            "{attempt}: {}",
            r.text
        );
        refused_and_still_serving(&srv, &r, 413, before).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_allowed_instance_put_succeeds() {
    let srv = TestServer::start().await;
    net_block(&srv, "RAX", "10.0.0.0/16", "big").await;
    let path = format!("{IPAM}/instances/dev1/interfaces");
    let r = srv
        .client
        .send(
            Method::PUT,
            &path,
            Some(&interfaces(256, "big")),
            &[("idempotency-key", "max-put")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(300)]);
    let listed = srv.get(&path).await;
    assert_eq!(
        listed.json["instance"]["interfaces"]
            .as_array()
            .map(Vec::len),
        Some(256)
    );
}

fn many_addresses(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("10.1.{}.{}", i / 250, i % 250 + 2))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_addresses_in_a_network_allocation_or_an_interface_are_413() {
    let srv = TestServer::start().await;
    net_block(&srv, "t-own", "10.1.0.0/16", "net-a").await;
    let before = events(&srv).await;
    let path = format!("{IPAM}/tenants/t-own/networks/net-a/interfaces/vif-x/ip_allocations");
    let r = srv
        .client
        .send(
            Method::POST,
            &path,
            Some(&json!({"network": {"addresses": many_addresses(300)}})),
            &[("idempotency-key", "many-addresses")],
        )
        .await;
    refused_and_still_serving(&srv, &r, 413, before).await;

    let before = events(&srv).await;
    let r = post_interface(
        &srv,
        json!({"id": "vif-y", "tenant_id": "t-own", "network": {"id": "net-a", "tenant_id": "t-own", "addresses": many_addresses(300)}}),
    )
    .await;
    refused_and_still_serving(&srv, &r, 413, before).await;

    let before = events(&srv).await;
    let mut body = interfaces(2, "net-a");
    body["instance"]["interfaces"][0]["network"] =
        json!({"id": "net-a", "tenant_id": "t-own", "addresses": many_addresses(200)});
    body["instance"]["interfaces"][1]["network"] = json!({"id": "net-a", "tenant_id": "t-own", "addresses": many_addresses(400)[200..].to_vec()});
    let r = srv
        .put(&format!("{IPAM}/instances/dev2/interfaces"), body)
        .await;
    refused_and_still_serving(&srv, &r, 413, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_nat_partners_are_413() {
    let srv = TestServer::start().await;
    let local = block(
        &srv,
        "t1",
        json!({"type": "private", "cidr": "10.0.0.0/24"}),
    )
    .await;
    let global = block(&srv, "t1", json!({"type": "public", "cidr": "77.1.0.0/16"})).await;
    let lp = block_path("t1", &local);
    let r = srv
        .post(
            &format!("{lp}/ip_addresses"),
            json!({"ip_address": {"address": "10.0.0.2"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = global["id"].as_str().expect("block id");
    let items: Vec<Value> = (0..300)
        .map(|i| json!({"ip_block_id": gid, "ip_address": format!("77.1.{}.{}", i / 250, i % 250 + 2)}))
        .collect();
    let before = events(&srv).await;
    let r = srv
        .post(
            &format!("{lp}/ip_addresses/10.0.0.2/inside_globals"),
            json!({"ip_addresses": items}),
        )
        .await;
    refused_and_still_serving(&srv, &r, 413, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_byte_limit_is_413_and_the_writer_keeps_serving() {
    let srv = TestServer::start().await;
    let before = events(&srv).await;
    let huge = format!(
        "{{\"ip_block\": {{\"type\": \"private\", \"cidr\": \"10.0.0.0/24\", \"network_id\": \"{}\"}}}}",
        "n".repeat(2 << 20)
    );
    // Its own client: the server answers 413 without reading the rest of the body and closes
    // that connection, which a pooled client could otherwise reuse for the checks below.
    let once = srv.client.with_token(ADMIN_TOKEN);
    let r = once
        .raw(
            Method::POST,
            "/v0.1/ipam/tenants/t1/ip_blocks",
            Some("application/json"),
            &huge,
        )
        .await;
    refused_and_still_serving(&srv, &r, 413, before).await;
}
