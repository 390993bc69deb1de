//! The retention purge over HTTP with an injected clock (decision 13; melange-semantics.md
//! §3): a deallocated address is purged `keep_deallocated_ips_for_days` (2) after its
//! deallocation — by `POST /v1/admin/purge` or by the scheduled run — as `AddressPurged`
//! events, and is then allocatable again; its NAT pairs go with it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ipledger_commands::ManualClock;
use serde_json::json;

use crate::http_routes::{allocate, block, blocks, empty_ok, events, fault, not_found, types};
use crate::support::{Client, TestServer};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
    ))
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

const TWO_DAYS: i64 = 2 * 24 * 60;

async fn purge_now(c: &Client) -> u64 {
    let r = c.post("/v1/admin/purge", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["purged"].as_u64().expect("purged count")
}

async fn addresses(c: &Client, tenant: &str, block: &str) -> Vec<String> {
    let r = c
        .get(&format!("{}/{block}/ip_addresses", blocks(tenant)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["ip_addresses"]
        .as_array()
        .expect("ip_addresses")
        .iter()
        .map(|a| a["address"].as_str().expect("address").to_string())
        .collect()
}

#[tokio::test]
async fn an_address_is_purged_only_once_the_retention_has_passed_then_reused() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    allocate(&srv, "t1", &b, "10.0.0.2").await;
    allocate(&srv, "t1", &b, "10.0.0.3").await;
    let one = format!("{}/{b}/ip_addresses/10.0.0.2", blocks("t1"));
    empty_ok(&srv.delete(&one).await);
    clock.advance(minutes(TWO_DAYS - 1));
    assert_eq!(purge_now(&srv).await, 0);
    assert_eq!(addresses(&srv, "t1", &b).await, ["10.0.0.2", "10.0.0.3"]);
    clock.advance(minutes(2));
    assert_eq!(purge_now(&srv).await, 1);
    assert_eq!(purge_now(&srv).await, 0);
    assert_eq!(addresses(&srv, "t1", &b).await, ["10.0.0.3"]);
    not_found(&srv.get(&one).await, "IpAddress Not Found");
    not_found(
        &srv.put(&format!("{one}/restore"), json!({})).await,
        "IpAddress Not Found",
    );
    let stream = events(&srv, &format!("block-{b}")).await;
    let (_, purged, _) = stream
        .iter()
        .find(|e| e.0 == "AddressPurged")
        .expect("an AddressPurged event");
    assert_eq!(purged["address"], "10.0.0.2");
    // Allocatable again: the next free address is the purged one.
    let next = srv
        .post(&format!("{}/{b}/ip_addresses", blocks("t1")), json!({}))
        .await;
    assert_eq!(
        next.json["ip_address"]["address"], "10.0.0.2",
        "{}",
        next.text
    );
}

#[tokio::test]
async fn deallocating_again_restarts_the_retention_clock_and_restore_stops_it() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    allocate(&srv, "t1", &b, "10.0.0.2").await;
    allocate(&srv, "t1", &b, "10.0.0.3").await;
    let path = |a: &str| format!("{}/{b}/ip_addresses/{a}", blocks("t1"));
    empty_ok(&srv.delete(&path("10.0.0.2")).await);
    empty_ok(&srv.delete(&path("10.0.0.3")).await);
    clock.advance(minutes(TWO_DAYS / 2));
    empty_ok(&srv.delete(&path("10.0.0.2")).await);
    empty_ok(
        &srv.put(&format!("{}/restore", path("10.0.0.3")), json!({}))
            .await,
    );
    clock.advance(minutes(TWO_DAYS / 2 + 10));
    assert_eq!(purge_now(&srv).await, 0);
    clock.advance(minutes(TWO_DAYS / 2));
    assert_eq!(purge_now(&srv).await, 1);
    assert_eq!(addresses(&srv, "t1", &b).await, ["10.0.0.3"]);
}

#[tokio::test]
async fn the_scheduled_purge_runs_by_itself_as_the_retention_actor() {
    let clock = clock();
    let tmp = tempfile::tempdir().expect("tempdir");
    let srv =
        TestServer::start_configured(tmp.path(), clock.clone(), |c| c.purge_interval_seconds = 1)
            .await;
    let b = block(&srv, "t1", "private", "10.0.0.0/24").await;
    allocate(&srv, "t1", &b, "10.0.0.2").await;
    empty_ok(
        &srv.delete(&format!("{}/{b}/ip_addresses/10.0.0.2", blocks("t1")))
            .await,
    );
    clock.advance(minutes(TWO_DAYS + 1));
    let mut left = addresses(&srv, "t1", &b).await;
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = addresses(&srv, "t1", &b).await;
    }
    assert!(left.is_empty(), "the scheduled purge did not run: {left:?}");
    let stream = events(&srv, &format!("block-{b}")).await;
    let purged = stream
        .iter()
        .find(|e| e.0 == "AddressPurged")
        .expect("an AddressPurged event");
    assert_eq!(purged.2, "retention");
}

#[tokio::test]
async fn a_purge_removes_the_addresss_nat_pairs_as_events() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    let l = block(&srv, "t1", "private", "10.0.0.0/24").await;
    let g = block(&srv, "t1", "public", "77.1.1.0/24").await;
    allocate(&srv, "t1", &l, "10.0.0.2").await;
    allocate(&srv, "t1", &g, "77.1.1.2").await;
    let globals = format!("/v0.1/ipam/ip_blocks/{l}/ip_addresses/10.0.0.2/inside_globals");
    let body = json!({"ip_addresses": [{"ip_block_id": g, "ip_address": "77.1.1.2"}]});
    empty_ok(&srv.post(&globals, body).await);
    empty_ok(
        &srv.delete(&format!("{}/{g}/ip_addresses/77.1.1.2", blocks("t1")))
            .await,
    );
    // Deallocation alone keeps the pair (as in Melange).
    assert_eq!(
        srv.get(&globals).await.json["ip_addresses"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    clock.advance(minutes(TWO_DAYS));
    assert_eq!(purge_now(&srv).await, 1);
    assert_eq!(srv.get(&globals).await.json, json!({"ip_addresses": []}));
    let local_stream = events(&srv, &format!("block-{l}")).await;
    assert_eq!(types(&local_stream).last(), Some(&"NatRemoved"));
    // The global's number is free again and carries no pair.
    allocate(&srv, "t1", &g, "77.1.1.2").await;
    let locals = format!("/v0.1/ipam/ip_blocks/{g}/ip_addresses/77.1.1.2/inside_locals");
    assert_eq!(srv.get(&locals).await.json, json!({"ip_addresses": []}));
}

#[tokio::test]
async fn the_purge_route_is_post_only_and_for_admins() {
    let srv = TestServer::start().await;
    fault(&srv.get("/v1/admin/purge").await, 405);
    assert_eq!(purge_now(&srv).await, 0);
    let anonymous = srv.anonymous();
    fault(&anonymous.post("/v1/admin/purge", json!({})).await, 401);
}

/// Reads every path as JSON, for comparing answers across a restart.
async fn snapshot(c: &Client, paths: &[String]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for p in paths {
        let r = c.get(p).await;
        assert_eq!(r.status, 200, "GET {p}: {}", r.text);
        out.push(r.json);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_nat_pairs_and_the_retention_clock_survive_a_restart() {
    // Guards against route, NAT or retention state built only on the live write path: the
    // real binary is stopped and started over the same log, and the rebuilt retention index
    // must still find the address deallocated before the restart.
    let tmp = tempfile::tempdir().expect("tempdir");
    let off = [("IPLEDGER_PURGE_INTERVAL_SECONDS", "0")];
    let proc = crate::durability::spawn_with_env(tmp.path(), &off);
    let c = proc.client.clone();
    let l = block(&c, "t1", "private", "10.0.0.0/24").await;
    let g = block(&c, "t1", "public", "77.1.1.0/24").await;
    allocate(&c, "t1", &l, "10.0.0.2").await;
    allocate(&c, "t1", &g, "77.1.1.2").await;
    allocate(&c, "t1", &g, "77.1.1.3").await;
    let routes = format!("{}/{l}/ip_routes", blocks("t1"));
    let body = json!({"ip_route": {"destination": "10.9.0.0/16", "gateway": "10.0.0.1"}});
    assert_eq!(c.post(&routes, body).await.status, 201);
    let globals = format!("/v0.1/ipam/ip_blocks/{l}/ip_addresses/10.0.0.2/inside_globals");
    let pairs = json!({"ip_addresses": [{"ip_block_id": g, "ip_address": "77.1.1.2"}, {"ip_block_id": g, "ip_address": "77.1.1.3"}]});
    empty_ok(&c.post(&globals, pairs).await);
    empty_ok(
        &c.delete(&format!("{}/{g}/ip_addresses/77.1.1.3", blocks("t1")))
            .await,
    );
    let paths = [
        routes.clone(),
        globals.clone(),
        format!("/v0.1/ipam/ip_blocks/{g}/ip_addresses/77.1.1.3/inside_locals"),
        format!("{}/{g}/ip_addresses", blocks("t1")),
    ];
    let before = snapshot(&c, &paths).await;
    proc.terminate();
    // Restarted with a retention of 0 days: what was deallocated before is due at once.
    let proc = crate::durability::spawn_with_env(
        tmp.path(),
        &[off[0], ("IPLEDGER_KEEP_DEALLOCATED_IPS_FOR_DAYS", "0")],
    );
    let c = proc.client.clone();
    assert_eq!(snapshot(&c, &paths).await, before);
    assert_eq!(purge_now(&c).await, 1);
    assert_eq!(listed_addresses(&c, &globals).await, ["77.1.1.2"]);
    assert_eq!(addresses(&c, "t1", &g).await, ["77.1.1.2"]);
    proc.terminate();
}

async fn listed_addresses(c: &Client, path: &str) -> Vec<String> {
    c.get(path).await.json["ip_addresses"]
        .as_array()
        .expect("ip_addresses")
        .iter()
        .map(|a| a["address"].as_str().expect("address").to_string())
        .collect()
}
