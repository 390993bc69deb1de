//! Many clients allocating from one block at once: every answer is 201 with a distinct
//! address, and a tiny block runs out exactly once, with 422s that append nothing.

use std::collections::{BTreeSet, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::durability::{addresses_path, block_addresses, create_block, event_count};
use crate::support::TestServer;

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 200;

/// Block stream events of one block, via the audit route.
async fn block_events(s: &TestServer, block: &str) -> Vec<Value> {
    let res = s
        .get(&format!("/v1/events?stream=block-{block}&limit=1000"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json["events"].as_array().expect("events").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_distinct_addresses() {
    // Guards against two concurrent allocations being decided against the same free map
    // (a race between batches, or within one group commit) and handing out one address twice.
    let s = TestServer::start().await;
    let block = create_block(&s, "t1", "10.0.0.0/16").await;
    let path = addresses_path("t1", &block);
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (c, path) = (s.client.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(PER_CLIENT);
            for _ in 0..PER_CLIENT {
                let res = c.send(Method::POST, &path, None, &[]).await;
                assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
                got.push(
                    res.json["ip_address"]["address"]
                        .as_str()
                        .expect("address")
                        .to_string(),
                );
            }
            got
        }));
    }
    let mut all = Vec::with_capacity(CLIENTS * PER_CLIENT);
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), CLIENTS * PER_CLIENT);
    assert_eq!(
        distinct.len(),
        all.len(),
        "{} addresses handed out more than once",
        all.len() - distinct.len()
    );
    for a in &all {
        assert!(a.starts_with("10.0."), "{a} is outside 10.0.0.0/16");
        assert_ne!(a, "10.0.0.0");
        assert_ne!(a, "10.0.0.1", "the gateway was handed out");
        assert_ne!(a, "10.0.255.255", "the broadcast address was handed out");
    }
    // The read side agrees with what the clients were told.
    let listed = block_addresses(&s, "t1", &block).await;
    let listed_set: HashSet<&String> = listed.iter().collect();
    assert_eq!(listed.len(), all.len());
    assert_eq!(listed_set, distinct);
    assert_eq!(event_count(&s).await, 1 + (CLIENTS * PER_CLIENT) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhaustion_answers_422_and_appends_nothing() {
    // Guards against a full block allocating past its end (the broadcast address, or outside
    // the block) under concurrency, and against a rejected allocation appending an event.
    let s = TestServer::start().await;
    let block = create_block(&s, "t1", "10.9.0.0/29").await;
    let path = addresses_path("t1", &block);
    let start = event_count(&s).await;

    let wave = |n: usize| {
        let mut tasks = Vec::new();
        for _ in 0..n {
            let (c, path) = (s.client.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                c.send(Method::POST, &path, None, &[]).await
            }));
        }
        tasks
    };
    let mut won = BTreeSet::new();
    let mut full = 0;
    for t in wave(24) {
        let res = t.await.expect("client task");
        match res.status {
            StatusCode::CREATED => assert!(
                won.insert(
                    res.json["ip_address"]["address"]
                        .as_str()
                        .unwrap()
                        .to_string()
                ),
                "duplicate"
            ),
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(
                    res.json["UnprocessableEntity"]["code"], 422,
                    "fault shape: {}",
                    res.text
                );
                full += 1;
            }
            other => panic!("unexpected {other}: {}", res.text),
        }
    }
    let want: BTreeSet<String> = (2..=6).map(|i| format!("10.9.0.{i}")).collect();
    assert_eq!(
        won, want,
        "exactly .2-.6 are allocatable in a /29 (network .0, gateway .1, broadcast .7)"
    );
    assert_eq!(full, 24 - 5);
    assert_eq!(
        event_count(&s).await,
        start + 5,
        "only the five successes appended events"
    );

    // A second wave on the full block: all 422, nothing appended.
    for t in wave(16) {
        let res = t.await.expect("client task");
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    }
    assert_eq!(event_count(&s).await, start + 5, "422s appended events");
    let events = block_events(&s, &block).await;
    let allocated = events
        .iter()
        .filter(|e| e["event"].get("AddressAllocated").is_some())
        .count();
    assert_eq!(
        events.len(),
        6,
        "BlockCreated and five AddressAllocated: {events:?}"
    );
    assert_eq!(allocated, 5);
    let all = s.get("/v1/events?limit=1000").await;
    assert_eq!(
        all.json["events"].as_array().unwrap().len() as u64,
        start + 5
    );
}
