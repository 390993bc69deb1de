//! Webhooks (issue 11 §4): a local receiver checks the Standard Webhooks signatures and that
//! it sees every event of its filter, in log order, after failed attempts and across a
//! kill -9 of the server (at least once: repeats carry the same `webhook-id`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::Mac;
use http_body_util::BodyExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::durability::spawn_with_env;
use crate::support::{Client, TestServer};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    accepted: bool,
}

/// An HTTP endpoint on 127.0.0.1 that answers 500 to its first `fail_first` requests and
/// 200 afterwards, keeping every request.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
}

async fn receiver(fail_first: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/ipledger", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let failures_left = Arc::new(AtomicUsize::new(fail_first));
    let kept = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (got, failures_left) = (kept.clone(), failures_left.clone());
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (got, failures_left) = (got.clone(), failures_left.clone());
                    async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string()
                        };
                        let (id, timestamp, signature) = (
                            header("webhook-id"),
                            header("webhook-timestamp"),
                            header("webhook-signature"),
                        );
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let accepted = failures_left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_err();
                        got.lock().unwrap().push(Delivery {
                            id,
                            timestamp,
                            signature,
                            body: String::from_utf8_lossy(&body).into_owned(),
                            accepted,
                        });
                        let status = if accepted { 200 } else { 500 };
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(http_body_util::Full::new(bytes::Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Receiver { url, got }
}

impl Receiver {
    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// The accepted deliveries' ids, each once, in the order first accepted.
    fn accepted_ids(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.deliveries()
            .into_iter()
            .filter(|d| d.accepted && seen.insert(d.id.clone()))
            .map(|d| d.id)
            .collect()
    }

    async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ids = self.accepted_ids();
            if ids.len() >= count || Instant::now() > deadline {
                return ids;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Standard Webhooks `v1` verification, written from the specification (not with the
/// library the server signs with): HMAC-SHA256 keyed with the base64-decoded secret over
/// `{id}.{timestamp}.{body}`, any entry of the space-separated list.
fn verifies(secret: &str, d: &Delivery) -> bool {
    let key = B64
        .decode(secret.strip_prefix("whsec_").expect("whsec_ form"))
        .expect("base64 secret");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", d.id, d.timestamp, d.body).as_bytes());
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    d.signature.split(' ').any(|s| s == expected)
}

#[test]
fn the_verifier_passes_the_specifications_test_vector() {
    let d = |signature: &str| Delivery {
        id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".into(),
        timestamp: "1649367553".into(),
        signature: signature.into(),
        body: r#"{"email":"test@example.com","username":"test_user"}"#.into(),
        accepted: true,
    };
    let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    assert!(verifies(
        secret,
        &d("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
    ));
    assert!(!verifies(
        secret,
        &d("v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=")
    ));
}

/// The events of the log from `from` whose type the filter takes (None: all but the
/// webhooks' own), as (event id, type).
async fn expected_events(c: &Client, from: u64, types: Option<&[&str]>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut at = from;
    loop {
        let page = c.get(&format!("/v1/events?from={at}&limit=1000")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let events = page.json["events"].as_array().unwrap().clone();
        if events.is_empty() {
            return out;
        }
        for e in &events {
            let kind = e["event"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone();
            let wanted = match types {
                Some(types) => types.contains(&kind.as_str()),
                None => !kind.starts_with("Webhook"),
            };
            if wanted {
                out.push((e["event_id"].as_str().unwrap().to_string(), kind));
            }
        }
        at = events.last().unwrap()["position"].as_u64().unwrap() + 1;
    }
}

async fn create_block(c: &Client, cidr: &str) -> String {
    let r = c
        .post(
            "/v0.1/ipam/tenants/acme/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": cidr}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["ip_block"]["id"].as_str().unwrap().to_string()
}

async fn allocate(c: &Client, block: &str) -> String {
    let r = c
        .post(
            &format!("/v0.1/ipam/tenants/acme/ip_blocks/{block}/ip_addresses"),
            json!({"ip_address": {}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["ip_address"]["address"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_filtered_in_log_order_and_retried() {
    let server = TestServer::start().await;
    let hook = receiver(2).await;
    let types = ["BlockCreated", "AddressAllocated", "AddressDeallocated"];

    // Bad registrations change nothing.
    for bad in [
        json!({"url": "ftp://example.com/x"}),
        json!({"url": "http://user:pw@127.0.0.1/x"}),
        json!({"url": hook.url, "event_types": ["NoSuchEvent"]}),
        json!({"url": hook.url, "event_types": ["WebhookDelivered"]}),
        json!({"url": hook.url, "event_types": []}),
        json!({"url": hook.url, "secret": "not-a-secret"}),
        json!({"url": hook.url, "colour": "red"}),
        json!({}),
    ] {
        let r = server.post("/v1/webhooks", bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    assert_eq!(
        server.get("/v1/webhooks").await.json,
        json!({"webhooks": []})
    );

    let r = server
        .post(
            "/v1/webhooks",
            json!({"url": hook.url, "event_types": types}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json["webhook"]["secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = r.json["webhook"]["id"].as_str().unwrap().to_string();
    let from = r.json["webhook"]["delivery"]["follow_from"]
        .as_u64()
        .unwrap();
    let shown = server.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.json["webhook"].get("secret").is_none(),
        "{}",
        shown.text
    );
    assert_eq!(shown.json["webhook"]["event_types"], json!(types));

    let block = create_block(&server, "10.40.0.0/24").await;
    let mut addresses = Vec::new();
    for _ in 0..5 {
        addresses.push(allocate(&server, &block).await);
    }
    let r = server
        .delete(&format!(
            "/v0.1/ipam/tenants/acme/ip_blocks/{block}/ip_addresses/{}",
            addresses[0]
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Not in the filter: a policy.
    let r = server
        .post(
            "/v0.1/ipam/tenants/acme/policies",
            json!({"policy": {"name": "p"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let expected = expected_events(&server, from, Some(&types)).await;
    assert_eq!(expected.len(), 7, "{expected:?}");
    let ids = hook.wait_for(expected.len()).await;
    let expected_ids: Vec<String> = expected.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, expected_ids, "every event of the filter, in log order");

    let all = hook.deliveries();
    // The first event failed twice before it was taken, and nothing after it went first.
    assert_eq!(all.iter().filter(|d| !d.accepted).count(), 2);
    assert!(all[..3].iter().all(|d| d.id == expected_ids[0]), "{all:?}");
    for d in &all {
        assert!(verifies(&secret, d), "bad signature on {d:?}");
        let body: Value = serde_json::from_str(&d.body).unwrap();
        let (event_id, kind) = expected.iter().find(|(id, _)| *id == d.id).unwrap();
        assert_eq!(body["type"], json!(kind));
        assert_eq!(body["data"]["event_id"], json!(event_id));
        assert!(body["timestamp"].as_str().is_some());
        let ts: i64 = d.timestamp.parse().expect("integer timestamp");
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 300);
    }
    // The secret is in no answer and nowhere in the data directory.
    let listed = server.get("/v1/webhooks").await;
    assert!(!listed.text.contains(&secret[6..]));
    let events = server.get("/v1/events?limit=1000").await;
    assert!(!events.text.contains(&secret[6..]));
    for entry in walk(&server.dir) {
        let bytes = std::fs::read(&entry).unwrap();
        let key = B64.decode(&secret[6..]).unwrap();
        assert!(
            !contains(&bytes, secret[6..].as_bytes()) && !contains(&bytes, &key),
            "{}",
            entry.display()
        );
    }

    // The progress is recorded in the log, and the state says it is not failing.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = server.get(&format!("/v1/webhooks/{id}")).await.json;
        if s["webhook"]["delivery"]["delivered_count"] == json!(7) {
            assert_eq!(s["webhook"]["delivery"]["state"], json!("ok"));
            break;
        }
        assert!(Instant::now() < deadline, "progress never recorded: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Deleted: nothing more is sent.
    assert_eq!(
        server.delete(&format!("/v1/webhooks/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.get(&format!("/v1/webhooks/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.delete(&format!("/v1/webhooks/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    allocate(&server, &block).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hook.deliveries().len(),
        all.len(),
        "a deleted endpoint got more"
    );
    server.stop().await;
}

/// A given secret is used (and not shown back); an idempotent retry shows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_secret_signs_and_is_never_shown() {
    let server = TestServer::start().await;
    let hook = receiver(0).await;
    let secret = format!("whsec_{}", B64.encode([42u8; 24]));
    let body = json!({"url": hook.url, "secret": secret, "event_types": ["BlockCreated"]});
    let r = server
        .send(
            reqwest::Method::POST,
            "/v1/webhooks",
            Some(&body),
            &[("Idempotency-Key", "hook-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.json["webhook"].get("secret").is_none(), "{}", r.text);
    let again = server
        .send(
            reqwest::Method::POST,
            "/v1/webhooks",
            Some(&body),
            &[("Idempotency-Key", "hook-1")],
        )
        .await;
    assert_eq!(again.json["webhook"]["id"], r.json["webhook"]["id"]);
    assert_eq!(
        server.get("/v1/webhooks").await.json["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    create_block(&server, "10.41.0.0/24").await;
    let ids = hook.wait_for(1).await;
    assert_eq!(ids.len(), 1);
    assert!(verifies(&secret, &hook.deliveries()[0]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_in_order_across_a_kill9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let proc = spawn_with_env(tmp.path(), &[]);
    let hook = receiver(0).await;
    let r = proc
        .client
        .post("/v1/webhooks", json!({"url": hook.url}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json["webhook"]["secret"].as_str().unwrap().to_string();
    let from = r.json["webhook"]["delivery"]["follow_from"]
        .as_u64()
        .unwrap();
    let block = create_block(&proc.client, "10.42.0.0/20").await;
    for _ in 0..40 {
        allocate(&proc.client, &block).await;
    }
    // Killed while deliveries may be in flight and progress unrecorded.
    proc.kill9();
    let next = spawn_with_env(tmp.path(), &[]);
    for _ in 0..20 {
        allocate(&next.client, &block).await;
    }
    let expected = expected_events(&next.client, from, None).await;
    assert!(expected.len() >= 61, "{}", expected.len());
    let ids = hook.wait_for(expected.len()).await;
    let expected_ids: Vec<String> = expected.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(
        ids, expected_ids,
        "every event, each first seen in log order"
    );
    for d in hook.deliveries() {
        assert!(verifies(&secret, &d), "bad signature on {d:?}");
        let body: Value = serde_json::from_str(&d.body).unwrap();
        assert!(!body["type"].as_str().unwrap().starts_with("Webhook"));
    }
    // A repeat after the restart is the same message (same id, same body), never a new one.
    let mut bodies = std::collections::HashMap::new();
    for d in hook.deliveries() {
        let first = bodies.entry(d.id.clone()).or_insert(d.body.clone());
        assert_eq!(*first, d.body);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
