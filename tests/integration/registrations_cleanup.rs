//! Issue 10's remaining gaps: a zone's pool cannot be deleted, moved to another zone or
//! lose the block of a registration while registrations hold addresses in it (409, nothing
//! changed), and the scheduled cleanup task on its own — no
//! admin route — removes a service expired by `DELETE` once the injected clock passes its
//! expiry, releasing the address, which is then registered anew.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ipledger_api::config::Config;
use ipledger_commands::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::registrations::{body, zone};
use crate::support::TestServer;

const CLUSTER: &str = "0f3c7805-6b1d-4387-b8c4-b8c5d0e9b878";

/// Zone `inet` (`registrations::zone`: an IPv4 and an IPv6 address pool); the IPv4
/// pool's id and its block's.
async fn zone_pool(srv: &TestServer, cidr: &str) -> (String, String) {
    let block = zone(srv, cidr).await;
    let r = srv.get("/v1/pools").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pools = r.json["pools"].as_array().expect("pools");
    let v4 = pools
        .iter()
        .find(|p| p["name"] == "inet-v4")
        .unwrap_or_else(|| panic!("{}", r.text));
    (v4["id"].as_str().unwrap().to_string(), block)
}

fn registered(r: &crate::support::Res) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["address"].as_str().expect("address").to_string()
}

async fn expire(srv: &TestServer, address: &str, secret: &str, days: u32) {
    let b = body(Some(address), secret, "ingress_inet", CLUSTER, days);
    let r = srv.send(Method::DELETE, "/", Some(&b), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["message"], "service expiry set", "{}", r.text);
}

async fn listed(srv: &TestServer, address: &str) -> Value {
    let ip = address.trim_end_matches("/32");
    let r = srv
        .get(&format!("/v1/registrations?zone=inet&address={ip}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["registrations"].clone()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
    ))
}

#[tokio::test]
async fn a_zone_pool_holding_registrations_cannot_be_deleted() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    let (pool, block) = zone_pool(&srv, "83.118.168.0/28").await;
    let address = registered(
        &srv.post("/", body(None, "SuperSecret", "ingress_inet", CLUSTER, 0))
            .await,
    );

    // Nor moved to another zone, nor its registrations' block taken out of it; another
    // block may join it.
    let r = srv
        .put(&format!("/v1/pools/{pool}"), json!({"zone": "dmz"}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("its zone cannot change"), "{}", r.text);
    let r = srv
        .post(
            "/v0.1/ipam/tenants/viti/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": "83.118.169.0/28"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let other = r.json["ip_block"]["id"].as_str().unwrap().to_string();
    let r = srv
        .put(&format!("/v1/pools/{pool}"), json!({"resources": [other]}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        r.text.contains("holds the registered address"),
        "{}",
        r.text
    );
    let r = srv
        .put(
            &format!("/v1/pools/{pool}"),
            json!({"resources": [block, other]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = srv.delete(&format!("/v1/pools/{pool}")).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        r.text.contains("registered addresses of zone inet"),
        "{}",
        r.text
    );
    // Nothing changed: the pool, its zone and the registration are all there.
    assert_eq!(srv.get(&format!("/v1/pools/{pool}")).await.status, 200);
    let zones = srv.get("/v1/zones").await;
    assert_eq!(zones.json["zones"][0]["zone"], "inet", "{}", zones.text);
    assert_eq!(listed(&srv, &address).await.as_array().unwrap().len(), 1);

    // Once its last registration is cleaned up, the pool goes.
    expire(&srv, &address, "SuperSecret", 0).await;
    clock.advance(chrono::Duration::minutes(1));
    let r = srv.post("/v1/admin/registrations/cleanup", json!({})).await;
    assert_eq!(r.json["removed"], 1, "{}", r.text);
    let r = srv.delete(&format!("/v1/pools/{pool}")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(srv.get(&format!("/v1/pools/{pool}")).await.status, 404);
}

#[tokio::test]
async fn the_scheduled_cleanup_removes_an_expired_service_by_the_injected_clock() {
    let clock = clock();
    let tmp = tempfile::tempdir().expect("tempdir");
    let srv = TestServer::start_configured(tmp.path(), clock.clone(), |c: &mut Config| {
        c.registration_cleanup_interval_seconds = 1;
    })
    .await;
    let _ = zone_pool(&srv, "83.118.168.0/28").await;
    let address = registered(
        &srv.post("/", body(None, "SuperSecret", "ingress_inet", CLUSTER, 1))
            .await,
    );
    expire(&srv, &address, "SuperSecret", 1).await;

    // Ticks pass, but the injected clock has not reached the expiry: nothing is removed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(listed(&srv, &address).await.as_array().unwrap().len(), 1);

    // Past the expiry: the scheduled task (no admin route is called here) removes the
    // service and releases the address with it.
    clock.advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let mut gone = false;
    for _ in 0..500 {
        if listed(&srv, &address).await == json!([]) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        gone,
        "the scheduled cleanup never removed the expired service"
    );
    let ip = address.trim_end_matches("/32");
    let h = srv
        .get(&format!("/v1/registrations/inet/{ip}/history"))
        .await;
    let steps = h.json["history"].as_array().expect("history").clone();
    let last_two: Vec<(&str, &str)> = steps[steps.len() - 2..]
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        last_two,
        [("service_removed", "retention"), ("released", "retention")],
        "{}",
        h.text
    );

    // Released: the same address is registered again, by another secret.
    let again = srv
        .post(
            "/",
            body(Some(&address), "PlainSecret5555", "next", CLUSTER, 0),
        )
        .await;
    assert_eq!(registered(&again), address);
    assert_eq!(
        again.json["message"], "address registered",
        "{}",
        again.text
    );
}
