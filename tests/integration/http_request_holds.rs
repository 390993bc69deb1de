//! Issue 8, defect 7: an agent could hold a tenant's whole block with pending IP requests
//! (five requests filled a /29; the tenant's allocations got 422 and the block could not be
//! deleted). Over HTTP: the agent's holds stop at `request_holds_per_agent_max` with a clear
//! 422 in the intake's shape, the owner can still allocate, and after
//! `request_pending_expiry_hours` the retention run expires the requests — the review API
//! shows `EXPIRED` with the reason and `expiredAt` — and their addresses are free again.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ipledger_commands::ManualClock;
use serde_json::json;

use crate::http_requests::{agent, block, request_of, submit_form};
use crate::support::TestServer;

#[tokio::test]
async fn an_agent_cannot_hold_a_whole_block_and_pending_requests_expire() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
    ));
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = TestServer::start_configured(tmp.path(), clock.clone(), |c| {
        c.purge_interval_seconds = 0;
        c.request_holds_per_agent_max = 3;
        c.request_pending_expiry_hours = 24;
    })
    .await;
    // 10.0.0.1 is the gateway and .7 the broadcast: five addresses can be held or allocated.
    let b = block(&s, "10.0.0.0/29", "net-h").await;
    let greedy = agent(&s, "greedy").await;
    for i in 2..=4 {
        let (status, body) = submit_form(&greedy, &format!("ip=10.0.0.{i}")).await;
        assert_eq!(
            (status, body["valid"].clone()),
            (200, json!(true)),
            "{body}"
        );
    }
    let (status, body) = submit_form(&greedy, "ip=10.0.0.5").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["valid"], false);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("greedy") && message.contains("request_holds_per_agent_max = 3"),
        "{message}"
    );
    assert_eq!(
        s.get("/v1/ipam/requests?ip=10.0.0.5").await.json["requests"],
        json!([]),
        "the refused request left nothing"
    );

    // The owner still allocates what the agent could not hold.
    let addresses = format!("/v0.1/ipam/tenants/acme/ip_blocks/{b}/ip_addresses");
    for expected in ["10.0.0.5", "10.0.0.6"] {
        let r = s.post(&addresses, json!({"ip_address": {}})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json["ip_address"]["address"], expected);
    }

    // A day and an hour later the retention run expires the three requests.
    clock.advance(chrono::Duration::hours(25));
    let r = s.post("/v1/admin/purge", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let expired = request_of(&s, "10.0.0.2").await;
    assert_eq!(expired["status"], "EXPIRED");
    assert_eq!(expired["agent"], "greedy");
    assert!(
        expired["reason"]
            .as_str()
            .is_some_and(|r| r.contains("24 hours") && r.contains("request_pending_expiry_hours")),
        "{expired}"
    );
    assert_eq!(expired["expiredAt"], "2024-03-02T13:00:00", "{expired}");
    let listed = s.get("/v1/ipam/requests?status=expired").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json["requests"].as_array().map(Vec::len), Some(3));

    // Their addresses are the owner's again, and the agent may ask anew.
    for expected in ["10.0.0.2", "10.0.0.3"] {
        let r = s.post(&addresses, json!({"ip_address": {}})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json["ip_address"]["address"], expected);
    }
    let (status, body) = submit_form(&greedy, "ip=10.0.0.4").await;
    assert_eq!(
        (status, body["valid"].clone()),
        (200, json!(true)),
        "{body}"
    );
}

/// Issue 9: a block's Melange listing shows every address held in it, whatever surface
/// holds it — a pending IP request's hold included (under the request's id), gone from the
/// listing once the request is rejected, and shown as the allocation once approved.
#[tokio::test]
async fn the_melange_listing_shows_pending_request_holds() {
    let s = TestServer::start().await;
    let b = block(&s, "10.0.0.0/29", "net-l").await;
    let addresses = format!("/v0.1/ipam/tenants/acme/ip_blocks/{b}/ip_addresses");
    let r = s.post(&addresses, json!({"ip_address": {}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let a = agent(&s, "lister").await;
    for ip in ["10.0.0.4", "10.0.0.5"] {
        let (status, body) = submit_form(&a, &format!("ip={ip}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let listed = |s: &TestServer| {
        let path = addresses.clone();
        let s = s.client.clone();
        async move {
            let r = s.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let mut out: Vec<(String, String)> = r.json["ip_addresses"]
                .as_array()
                .expect("list")
                .iter()
                .map(|x| {
                    (
                        x["address"].as_str().unwrap().to_string(),
                        x["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            out.sort();
            out
        }
    };
    let now = listed(&s).await;
    let shown: Vec<&str> = now.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(shown, ["10.0.0.2", "10.0.0.4", "10.0.0.5"]);
    let held = request_of(&s, "10.0.0.4").await;
    assert_eq!(
        now[1].1,
        held["id"].as_str().unwrap(),
        "listed under the request's id"
    );
    // One per page: the marker walks across allocations and holds alike.
    let mut paged = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(m) => format!("{addresses}?limit=1&marker={m}"),
            None => format!("{addresses}?limit=1"),
        };
        let r = s.get(&path).await;
        let items = r.json["ip_addresses"].as_array().expect("list").clone();
        paged.extend(
            items
                .iter()
                .map(|x| x["address"].as_str().unwrap().to_string()),
        );
        match items.last() {
            Some(last) if r.json.get("ip_addresses_links").is_some() => {
                marker = Some(last["id"].as_str().unwrap().to_string())
            }
            _ => break,
        }
    }
    paged.sort();
    assert_eq!(paged, ["10.0.0.2", "10.0.0.4", "10.0.0.5"]);
    // Rejected: the hold leaves the listing.
    let id = held["id"].as_str().unwrap();
    let r = s
        .post(
            &format!("/v1/ipam/requests/{id}/reject"),
            json!({"reason": "no"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let after: Vec<String> = listed(&s).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(after, ["10.0.0.2", "10.0.0.5"]);
}
