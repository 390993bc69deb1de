//! The IP request workflow over HTTP (issue 4, seed 000): the agent intake with the seed's
//! exact bodies, network resolution over nested blocks, the soft hold against allocation and
//! against a second request, approval into an allocation, rejection, 409 on a decided
//! request, the filters of the review list, and who may call what.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Client, TestServer};

const FORM: &str = "application/x-www-form-urlencoded";
const SEED_FORM: &str = "ip=192.168.1.50&email=user@example.com&description=Required+for+new+server+deployment&region=datacenter-1";

/// A block of tenant `acme` (its id).
pub(crate) async fn block(c: &Client, cidr: &str, network: &str) -> String {
    let r = c
        .post(
            "/v0.1/ipam/tenants/acme/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": cidr, "network_id": network}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["ip_block"]["id"].as_str().unwrap().to_string()
}

async fn subnet(c: &Client, parent: &str, cidr: &str) -> String {
    let r = c
        .post(
            &format!("/v0.1/ipam/tenants/acme/ip_blocks/{parent}/subnets"),
            json!({"subnet": {"cidr": cidr}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["subnet"]["id"].as_str().unwrap().to_string()
}

/// An agent token's client.
pub(crate) async fn agent(c: &Client, name: &str) -> Client {
    let r = c
        .post("/v1/auth/tokens", json!({"name": name, "role": "agent"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    c.with_token(r.json["token"]["secret"].as_str().unwrap())
}

pub(crate) async fn submit_form(c: &Client, form: &str) -> (u16, Value) {
    let r = c
        .raw(Method::POST, "/v1/agent/ipam/request", Some(FORM), form)
        .await;
    (r.status.as_u16(), r.json)
}

/// The one request listed for `ip`.
pub(crate) async fn request_of(c: &Client, ip: &str) -> Value {
    let r = c.get(&format!("/v1/ipam/requests?ip={ip}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.json["requests"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.text);
    list[0].clone()
}

#[tokio::test]
async fn the_seed_example_is_answered_with_the_seed_bodies() {
    let s = TestServer::start().await;
    block(&s, "192.168.1.0/24", "net-1").await;
    let agent = agent(&s, "ipammgr").await;
    let (status, body) = submit_form(&agent, SEED_FORM).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"valid": true, "message": "IP request created"})
    );
    let (status, body) = submit_form(&agent, SEED_FORM).await;
    assert_eq!(
        status, 200,
        "the seed's answer; valid: false carries the refusal"
    );
    assert_eq!(
        body,
        json!({"valid": false, "message": "Failed to create request"})
    );
    let r = request_of(&s, "192.168.1.50").await;
    assert_eq!(r["status"], "PENDING");
    assert_eq!(r["network_id"], "net-1");
    assert_eq!(r["assignType"], "USER");
    assert_eq!(r["requestedBy"], "anonymous");
    assert_eq!(r["assignedTo"], "user@example.com");
    assert_eq!(r["email"], "user@example.com");
    assert_eq!(r["description"], "Required for new server deployment");
    assert_eq!(r["region"], "datacenter-1");
    assert_eq!(r["ipRange"], Value::Null);
    assert_eq!(r["decidedAt"], Value::Null);
    assert!(r["requestedAt"].as_str().is_some());
    let events = s.get("/v1/events").await;
    let submitted = events.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"].get("RequestSubmitted").is_some())
        .count();
    assert_eq!(submitted, 1, "the refused duplicate appended nothing");
}

#[tokio::test]
async fn json_bodies_are_accepted_and_bad_input_is_a_clear_4xx() {
    let s = TestServer::start().await;
    block(&s, "10.1.0.0/24", "net-a").await;
    let r = s
        .post(
            "/v1/agent/ipam/request",
            json!({"ip": "10.1.0.9", "ipRange": "10.1.0.0/24"}),
        )
        .await;
    assert_eq!(
        r.json,
        json!({"valid": true, "message": "IP request created"})
    );
    assert_eq!(request_of(&s, "10.1.0.9").await["ipRange"], "10.1.0.0/24");
    let cases = [
        ("ip=not-an-ip", 400, "not-an-ip is not a valid IP address"),
        ("email=a@b", 400, "ip is required"),
        (
            "ip=172.16.0.1",
            422,
            "IP address 172.16.0.1 is not in any configured network",
        ),
        (
            "ip=10.1.0.255",
            422,
            "IP address 10.1.0.255 is reserved (gateway or broadcast address)",
        ),
        (
            "ip=10.1.0.7&email=nope",
            400,
            "email \"nope\" is not a valid e-mail address",
        ),
        ("ip=10.1.0.7&colour=blue", 400, ""),
    ];
    for (form, status, message) in cases {
        let (got, body) = submit_form(&s, form).await;
        assert_eq!(got, status, "{form}: {body}");
        assert_eq!(body["valid"], false, "{form}");
        if !message.is_empty() {
            assert_eq!(body["message"], message, "{form}");
        }
    }
    let r = s
        .raw(
            Method::POST,
            "/v1/agent/ipam/request",
            Some("application/json"),
            "{oops",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["valid"], false);
    assert_eq!(
        s.get("/v1/ipam/requests").await.json["requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_most_specific_block_wins() {
    let s = TestServer::start().await;
    let root = block(&s, "10.0.0.0/16", "net-outer").await;
    let inner = subnet(&s, &root, "10.0.1.0/24").await;
    let other = block(&s, "10.2.0.0/24", "net-other").await;
    for ip in ["10.0.1.50", "10.2.0.9"] {
        let (status, _) = submit_form(&s, &format!("ip={ip}")).await;
        assert_eq!(status, 200, "{ip}");
    }
    assert_eq!(request_of(&s, "10.0.1.50").await["block_id"], inner);
    assert_eq!(request_of(&s, "10.2.0.9").await["block_id"], other);
    assert_eq!(request_of(&s, "10.2.0.9").await["network_id"], "net-other");
    // Inside the subnetted block but outside its subnet: it cannot allocate there.
    let (status, body) = submit_form(&s, "ip=10.0.5.5").await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn a_pending_request_holds_its_address() {
    let s = TestServer::start().await;
    let b = block(&s, "10.3.0.0/30", "net-h").await;
    let (status, _) = submit_form(&s, "ip=10.3.0.2").await;
    assert_eq!(status, 200);
    let addresses = format!("/v0.1/ipam/tenants/acme/ip_blocks/{b}/ip_addresses");
    let r = s
        .post(&addresses, json!({"ip_address": {"address": "10.3.0.2"}}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        r.json["Conflict"]["detail"],
        "Address is held by a pending IP request"
    );
    // .1 is the gateway, .3 the broadcast: the held .2 was the only allocatable address.
    let r = s.post(&addresses, json!({"ip_address": {}})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let (status, body) = submit_form(&s, "ip=10.3.0.2&email=other@example.com").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"valid": false, "message": "Failed to create request"})
        )
    );
    let r = s
        .delete(&format!("/v0.1/ipam/tenants/acme/ip_blocks/{b}"))
        .await;
    assert_eq!(
        r.status, 409,
        "a block with a hold is not deleted: {}",
        r.text
    );
}

#[tokio::test]
async fn approval_allocates_and_rejection_frees() {
    let s = TestServer::start().await;
    let b = block(&s, "10.4.0.0/24", "net-d").await;
    submit_form(&s, "ip=10.4.0.10&email=user@example.com").await;
    submit_form(&s, "ip=10.4.0.11").await;
    let approve = request_of(&s, "10.4.0.10").await;
    let reject = request_of(&s, "10.4.0.11").await;
    let r = s
        .post(
            &format!(
                "/v1/ipam/requests/{}/approve",
                approve["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["request"]["status"], "APPROVED");
    assert_eq!(r.json["request"]["decidedBy"], "admin-bootstrap");
    assert!(r.json["request"]["decidedAt"].as_str().is_some());
    let shown = s
        .get(&format!(
            "/v0.1/ipam/tenants/acme/ip_blocks/{b}/ip_addresses/10.4.0.10"
        ))
        .await;
    assert_eq!(
        shown.status, 200,
        "the approved address is allocated: {}",
        shown.text
    );
    assert_eq!(
        shown.json["ip_address"]["used_by_device"],
        "user@example.com"
    );
    let leased = s
        .get("/v0.1/ipam/tenants/acme/allocated_ip_addresses")
        .await;
    assert!(leased.text.contains("10.4.0.10"), "{}", leased.text);

    let reject_path = format!(
        "/v1/ipam/requests/{}/reject",
        reject["id"].as_str().unwrap()
    );
    let r = s
        .post(&reject_path, json!({"reason": "reserved for the router"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["request"]["status"], "REJECTED");
    assert_eq!(r.json["request"]["reason"], "reserved for the router");
    let addresses = format!("/v0.1/ipam/tenants/acme/ip_blocks/{b}/ip_addresses");
    let r = s
        .post(&addresses, json!({"ip_address": {"address": "10.4.0.11"}}))
        .await;
    assert_eq!(
        r.status, 201,
        "the rejected address is free again: {}",
        r.text
    );

    // Deciding a decided request: 409, and nothing appended.
    let before = s.get("/healthz").await.json["events"].clone();
    for path in [
        format!(
            "/v1/ipam/requests/{}/approve",
            approve["id"].as_str().unwrap()
        ),
        reject_path.clone(),
    ] {
        let r = s.post(&path, json!({})).await;
        assert_eq!(r.status, 409, "{path}: {}", r.text);
    }
    assert_eq!(s.get("/healthz").await.json["events"], before);
    let r = s
        .post(
            &reject_path.replace(
                reject["id"].as_str().unwrap(),
                "0190e2a0-0000-7000-8000-000000000000",
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = s
        .raw(
            Method::POST,
            &reject_path,
            Some("application/json"),
            r#"{"why": 1}"#,
        )
        .await;
    assert_eq!(r.status, 400, "unknown fields are refused: {}", r.text);
}

#[tokio::test]
async fn the_review_list_filters_and_pages() {
    let s = TestServer::start().await;
    block(&s, "10.5.0.0/24", "net-x").await;
    block(&s, "10.6.0.0/24", "net-y").await;
    for ip in ["10.5.0.5", "10.5.0.6", "10.6.0.5"] {
        submit_form(&s, &format!("ip={ip}")).await;
    }
    let id = request_of(&s, "10.5.0.6").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(&format!("/v1/ipam/requests/{id}/reject"), json!({}))
        .await;
    let count = |path: String| {
        let c = s.client.clone();
        async move {
            let r = c.get(&path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            r.json["requests"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("/v1/ipam/requests".into()).await, 3);
    assert_eq!(count("/v1/ipam/requests?status=PENDING".into()).await, 2);
    assert_eq!(count("/v1/ipam/requests?status=rejected".into()).await, 1);
    assert_eq!(count("/v1/ipam/requests?network_id=net-x".into()).await, 2);
    assert_eq!(
        count("/v1/ipam/requests?since=2000-01-01T00:00:00Z".into()).await,
        3
    );
    assert_eq!(
        count("/v1/ipam/requests?since=2999-01-01T00:00:00".into()).await,
        0
    );
    let page = s.get("/v1/ipam/requests?limit=2").await;
    assert_eq!(page.json["requests"].as_array().unwrap().len(), 2);
    let next = page.json["requests_links"][0]["href"].as_str().unwrap();
    let marker = next.split("marker=").nth(1).unwrap();
    assert_eq!(
        count(format!("/v1/ipam/requests?limit=2&marker={marker}")).await,
        1
    );
    for bad in ["status=DONE", "ip=x", "since=yesterday", "limit=0"] {
        let r = s.get(&format!("/v1/ipam/requests?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = s.get(&format!("/v1/ipam/requests/{id}")).await;
    assert_eq!(r.json["request"]["status"], "REJECTED");
    assert_eq!(s.get("/v1/ipam/requests/nope").await.status, 404);
}

#[tokio::test]
async fn agents_may_only_submit_and_tenants_may_not_submit() {
    let s = TestServer::start().await;
    block(&s, "10.7.0.0/24", "net-t").await;
    let agent = agent(&s, "ipammgr-2").await;
    let r = s
        .post(
            "/v1/auth/tokens",
            json!({"name": "acme-ci", "role": "tenant:acme"}),
        )
        .await;
    let tenant = s.with_token(r.json["token"]["secret"].as_str().unwrap());
    assert_eq!(submit_form(&tenant, "ip=10.7.0.5").await.0, 403);
    assert_eq!(submit_form(&s.anonymous(), "ip=10.7.0.5").await.0, 401);
    assert_eq!(submit_form(&agent, "ip=10.7.0.5").await.0, 200);
    assert_eq!(
        submit_form(&s, "ip=10.7.0.6").await.0,
        200,
        "admins may submit too"
    );
    let id = request_of(&s, "10.7.0.5").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for c in [&agent, &tenant] {
        assert_eq!(c.get("/v1/ipam/requests").await.status, 403);
        let r = c
            .post(&format!("/v1/ipam/requests/{id}/approve"), json!({}))
            .await;
        assert_eq!(r.status, 403);
    }
    assert_eq!(request_of(&s, "10.7.0.5").await["requestedBy"], "anonymous");
}
