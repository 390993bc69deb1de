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
