//! `Idempotency-Key`: a retry is answered from the recorded outcome (same status, same
//! bytes, nothing appended), also after a restart and when the retries race the original;
//! the key is bound to the request's method, path and body.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::durability::{addresses_path, create_block, event_count};
use crate::support::{Client, Res, TestServer};

async fn post_with_key(c: &Client, path: &str, body: &Value, key: &str) -> Res {
    c.send(Method::POST, path, Some(body), &[("Idempotency-Key", key)])
        .await
}

/// The AddressAllocated events of a block's stream.
async fn allocations(c: &Client, block: &str) -> Vec<Value> {
    let res = c
        .get(&format!("/v1/events?stream=block-{block}&limit=1000"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"].get("AddressAllocated").is_some())
        .cloned()
        .collect()
}

fn address(res: &Res) -> String {
    res.json["ip_address"]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("no address in {}", res.text))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_key_returns_the_recorded_answer_once() {
    // Guards against a client retry (after a timeout or a lost answer) allocating a second
    // address, or answering with a different body, before or after a restart.
    let s = TestServer::start().await;
    let block = create_block(&s, "t1", "10.7.0.0/24").await;
    let other = create_block(&s, "t1", "10.8.0.0/24").await;
    let path = addresses_path("t1", &block);
    let body = json!({"ip_address": {"used_by_device": "vm-1", "interface_id": "eth0"}});

    let first = post_with_key(&s, &path, &body, "alloc-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let events = event_count(&s).await;
    for _ in 0..3 {
        let again = post_with_key(&s, &path, &body, "alloc-1").await;
        assert_eq!(again.status, first.status);
        assert_eq!(again.text, first.text, "a retry answered differently");
    }
    assert_eq!(event_count(&s).await, events, "a retry appended events");
    assert_eq!(allocations(&s, &block).await.len(), 1);
    // Keys are scoped by actor; the test client is the bootstrap admin.
    let recorded = s
        .get(&format!(
            "/v1/events?stream={}",
            urlencode("idempotency-admin-bootstrap:alloc-1")
        ))
        .await;
    let recorded = recorded.json["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        recorded.len(),
        1,
        "one CommandRecorded for the key: {recorded:?}"
    );
    assert!(
        recorded[0]["event"].get("CommandRecorded").is_some(),
        "{recorded:?}"
    );

    // The same key with another body, or the same body on another path, is a different
    // request: 422, and nothing is appended.
    let changed = json!({"ip_address": {"used_by_device": "vm-2", "interface_id": "eth0"}});
    let res = post_with_key(&s, &path, &changed, "alloc-1").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let res = post_with_key(&s, &addresses_path("t1", &other), &body, "alloc-1").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let res = s
        .send(Method::POST, &path, None, &[("Idempotency-Key", "alloc-1")])
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty body is another request: {}",
        res.text
    );
    assert_eq!(
        event_count(&s).await,
        events,
        "a refused key reuse appended events"
    );
    assert!(
        allocations(&s, &other).await.is_empty(),
        "the other block allocated under a used key"
    );

    // A different key is a different request: a new address.
    let second = post_with_key(&s, &path, &body, "alloc-2").await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    assert_ne!(address(&second), address(&first));
    assert_eq!(allocations(&s, &block).await.len(), 2);

    // After a restart the recorded answers come back from the log, byte for byte.
    let s = s.restart().await;
    let events = event_count(&s).await;
    let again = post_with_key(&s, &path, &body, "alloc-1").await;
    assert_eq!(
        (again.status, &again.text),
        (first.status, &first.text),
        "retry after restart"
    );
    let again = post_with_key(&s, &path, &body, "alloc-2").await;
    assert_eq!(
        (again.status, &again.text),
        (second.status, &second.text),
        "retry after restart"
    );
    let res = post_with_key(&s, &path, &changed, "alloc-1").await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "after restart: {}",
        res.text
    );
    assert_eq!(
        event_count(&s).await,
        events,
        "retries after a restart appended events"
    );
    assert_eq!(allocations(&s, &block).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_one_key_allocate_once() {
    // Guards against retries that race the original (same group commit, or the next batch
    // before the first is durable) each being decided as new.
    let s = TestServer::start().await;
    let block = create_block(&s, "t1", "10.7.0.0/24").await;
    let path = addresses_path("t1", &block);
    let body = json!({"ip_address": {"used_by_device": "vm-9"}});
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (c, path, body) = (s.client.clone(), path.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            post_with_key(&c, &path, &body, "race").await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    for a in &answers {
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        assert_eq!(
            a.text, answers[0].text,
            "racing retries answered differently"
        );
    }
    assert_eq!(
        allocations(&s, &block).await.len(),
        1,
        "racing retries allocated more than once"
    );
    assert_eq!(
        event_count(&s).await,
        3,
        "BlockCreated, AddressAllocated, CommandRecorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_are_not_recorded() {
    // Guards against recording a rejection under its key, which would make the client's
    // corrected retry impossible (ARCHITECTURE.md: a rejected request can be retried).
    let s = TestServer::start().await;
    let block = create_block(&s, "t1", "10.7.0.0/29").await;
    let path = addresses_path("t1", &block);
    let taken = json!({"ip_address": {"address": "10.7.0.2"}});
    let res = s.post(&path, taken.clone()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let events = event_count(&s).await;
    for _ in 0..2 {
        let res = post_with_key(&s, &path, &taken, "fix-me").await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    }
    assert_eq!(event_count(&s).await, events, "a rejection appended events");
    // The same key with a corrected body is not a reuse: nothing was recorded under it.
    let fixed = json!({"ip_address": {"address": "10.7.0.3"}});
    let res = post_with_key(&s, &path, &fixed, "fix-me").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(address(&res), "10.7.0.3");
    let again = post_with_key(&s, &path, &fixed, "fix-me").await;
    assert_eq!((again.status, &again.text), (res.status, &res.text));
    assert_eq!(
        event_count(&s).await,
        events + 2,
        "AddressAllocated and CommandRecorded"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
