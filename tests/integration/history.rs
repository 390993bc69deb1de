//! Audit and time travel over HTTP (issue 11, items 1 and 2): `as_of` reads on every surface
//! equal what the server answered at that position (built fresh from position 0 and through
//! the cache), by position and by time, with 400s for future and malformed values and
//! `X-Ipledger-Position` on every answer; the holder timeline of one address across a pool
//! allocation, a Melange allocation, deallocation and purge, a request hold and approval,
//! block deletion and re-creation for another tenant; per-object histories; tenant isolation
//! of both.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ipledger_commands::{Clock, ManualClock};
use serde_json::{json, Value};

use crate::http_routes::{allocate, block, blocks};
use crate::support::{Client, Res, TestServer};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap(),
    ))
}

/// The event types of a history answer, in order.
fn types(r: &Res) -> Vec<String> {
    r.json["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {}", r.text))
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// An address without its prefix length ("10.0.0.2/24" → "10.0.0.2").
fn bare(v: &Value) -> String {
    v.as_str().unwrap().split('/').next().unwrap().to_string()
}

fn position(r: &Res) -> u64 {
    r.headers
        .get("x-ipledger-position")
        .unwrap_or_else(|| panic!("no X-Ipledger-Position on {}: {}", r.status, r.text))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn tenant_client(c: &Client, tenant: &str) -> Client {
    let r = c
        .post(
            "/v1/auth/tokens",
            json!({"name": format!("tok-{tenant}"), "role": format!("tenant:{tenant}")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    c.with_token(r.json["token"]["secret"].as_str().unwrap())
}

/// A small deterministic generator (xorshift64*): the workload is a function of the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const T: &str = "asof-t";

/// What the live server answered at one point: its position and every view's (status, body).
struct Seen {
    position: u64,
    time: chrono::DateTime<Utc>,
    answers: Vec<(String, u16, String)>,
}

/// The views compared: every surface's listings, and each block's addresses.
fn view_paths(blocks_made: &[String], pools: &[String]) -> Vec<String> {
    let mut paths = vec![
        blocks(T),
        "/v0.1/ipam/allocated_ip_addresses".to_string(),
        format!("/v0.1/ipam/tenants/{T}/policies"),
        "/v1/pools".to_string(),
        "/ipam/v1/regions/fr-par/ips".to_string(),
        "/v1/ipam/requests".to_string(),
        "/v1/auth/tokens".to_string(),
        "/v1/events?limit=1000".to_string(),
    ];
    for b in blocks_made {
        paths.push(format!("{}/{b}/ip_addresses", blocks(T)));
        paths.push(format!("/v1/history/blocks/{b}"));
    }
    for p in pools {
        paths.push(format!("/v1/pools/{p}/allocations"));
    }
    paths
}

/// One random command of any surface; its outcome (even a rejection) is part of the workload.
async fn random_step(
    c: &Client,
    rng: &mut Rng,
    step: usize,
    blocks_made: &mut Vec<String>,
    pools: &mut Vec<String>,
    taken: &mut Vec<(String, String)>,
) {
    let pick = |rng: &mut Rng, v: &Vec<String>| v[rng.below(v.len())].clone();
    match rng.below(10) {
        _ if blocks_made.is_empty() => {
            blocks_made.push(block(c, T, "private", "10.200.0.0/24").await);
        }
        0 => {
            let cidr = format!("10.200.{}.0/24", blocks_made.len());
            blocks_made.push(block(c, T, "private", &cidr).await);
        }
        1 | 2 => {
            let b = pick(rng, blocks_made);
            let r = c
                .post(&format!("{}/{b}/ip_addresses", blocks(T)), json!({}))
                .await;
            if let Some(a) = r.json["ip_address"]["address"].as_str() {
                taken.push((b, a.to_string()));
            }
        }
        3 if !taken.is_empty() => {
            let (b, a) = taken.remove(rng.below(taken.len()));
            c.delete(&format!("{}/{b}/ip_addresses/{a}", blocks(T)))
                .await;
        }
        4 => {
            let b = pick(rng, blocks_made);
            let r = c
                .post(
                    "/v1/pools",
                    json!({"name": format!("p{step}"), "kind": "address", "tenant_id": T, "resources": [b]}),
                )
                .await;
            if let Some(id) = r.json["pool"]["id"].as_str() {
                pools.push(id.to_string());
            }
        }
        5 if !pools.is_empty() => {
            let p = pick(rng, pools);
            c.post(
                &format!("/v1/pools/{p}/allocations"),
                json!({"identifier": format!("i{step}")}),
            )
            .await;
        }
        6 => {
            let b = pick(rng, blocks_made);
            c.post(
                "/ipam/v1/regions/fr-par/ips",
                json!({"source": {"subnet_id": b}, "is_ipv6": false, "project_id": T}),
            )
            .await;
        }
        7 => {
            let n = blocks_made.len();
            let ip = format!("10.200.{}.{}", rng.below(n), 100 + rng.below(50));
            let r = c.post("/v1/agent/ipam/request", json!({"ip": ip})).await;
            let listed = c.get(&format!("/v1/ipam/requests?ip={ip}")).await;
            if r.status.is_success() {
                if let Some(id) = listed.json["requests"][0]["id"].as_str() {
                    let verb = if rng.below(2) == 0 {
                        "approve"
                    } else {
                        "reject"
                    };
                    c.post(&format!("/v1/ipam/requests/{id}/{verb}"), json!({}))
                        .await;
                }
            }
        }
        8 => {
            c.post(
                &format!("/v0.1/ipam/tenants/{T}/policies"),
                json!({"policy": {"name": format!("pol{step}")}}),
            )
            .await;
        }
        _ => {
            c.post("/v1/admin/purge", json!({})).await;
        }
    }
}

async fn answers(c: &Client, paths: &[String], as_of: Option<&str>) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for p in paths {
        let url = match as_of {
            None => p.clone(),
            Some(at) => {
                let sep = if p.contains('?') { '&' } else { '?' };
                format!("{p}{sep}as_of={at}")
            }
        };
        let r = c.get(&url).await;
        out.push((p.clone(), r.status.as_u16(), r.text));
    }
    out
}

/// The property of item 1: for random workloads over every surface, the answer of every view
/// `as_of` a position (and the time of its last event) equals what the server answered live
/// at that position — asked newest first (each state folded fresh from position 0: nothing
/// cached lies below) and then oldest first (each folded from the cached state before it).
#[tokio::test]
async fn as_of_answers_equal_the_live_answers_at_every_position() {
    for seed in [0x9e37_79b9_7f4a_7c15u64, 0x0123_4567_89ab_cdef] {
        let clock = clock();
        let srv = TestServer::start_with_clock(clock.clone()).await;
        let c: &Client = &srv;
        let mut rng = Rng(seed);
        let (mut blocks_made, mut pools, mut taken) = (Vec::new(), Vec::new(), Vec::new());
        let mut seen: Vec<Seen> = Vec::new();
        for step in 0..36 {
            clock.advance(chrono::Duration::seconds(1));
            random_step(c, &mut rng, step, &mut blocks_made, &mut pools, &mut taken).await;
            let paths = view_paths(&blocks_made, &pools);
            let probe = c.get(&blocks(T)).await;
            let answers = answers(c, &paths, None).await;
            assert_eq!(position(&c.get(&blocks(T)).await), position(&probe));
            seen.push(Seen {
                position: position(&probe),
                time: clock.now(),
                answers,
            });
        }
        let check = |s: &Seen, got: Vec<(String, u16, String)>, how: &str| {
            for (want, got) in s.answers.iter().zip(got) {
                assert_eq!(
                    want, &got,
                    "seed {seed:#x}: {} as_of {how} differs from the live answer at {}",
                    want.0, s.position
                );
            }
        };
        let paths_at = |s: &Seen| s.answers.iter().map(|a| a.0.clone()).collect::<Vec<_>>();
        for s in seen.iter().rev().chain(seen.iter()) {
            let at = (s.position - 1).to_string();
            let got = answers(c, &paths_at(s), Some(&at)).await;
            check(s, got, &format!("position {at}"));
            let r = c.get(&format!("{}?as_of={at}", blocks(T))).await;
            assert_eq!(position(&r), s.position, "the header names the state read");
        }
        // By time: the last event at or before each step's time is that step's last.
        for i in [0, seen.len() / 2, seen.len() - 1] {
            let s = &seen[i];
            let at = s.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let got = answers(c, &paths_at(s), Some(&at)).await;
            check(s, got, &format!("time {at}"));
        }
        srv.stop().await;
    }
}

/// `as_of` on a route of each surface, by position and time; 400 in each surface's error
/// shape for a future position, a future time, a malformed value, and a write with as_of;
/// `X-Ipledger-Position` on GETs, writes and faults.
#[tokio::test]
async fn as_of_on_each_surface_and_its_faults() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    let c: &Client = &srv;
    let before_anything = clock.now() - chrono::Duration::days(1);
    let b = block(c, T, "private", "10.201.0.0/24").await;
    let r = c.get(&blocks(T)).await;
    let after_block = position(&r) - 1;
    clock.advance(chrono::Duration::minutes(1));
    let mid_time = clock.now() - chrono::Duration::seconds(30);
    let a = allocate(c, T, &b, "10.201.0.7").await;
    assert_eq!(a["address"], "10.201.0.7");
    let r = c
        .post(
            "/v1/pools",
            json!({"name": "p", "kind": "address", "tenant_id": T, "resources": [b]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pool = r.json["pool"]["id"].as_str().unwrap().to_string();
    let r = c
        .post(
            &format!("/v1/pools/{pool}/allocations"),
            json!({"identifier": "x"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let write_position = position(&r);
    assert!(
        write_position > after_block + 1,
        "a write's answer names its state"
    );
    let r = c
        .post(
            "/ipam/v1/regions/fr-par/ips",
            json!({"source": {"subnet_id": b}, "is_ipv6": false, "project_id": T}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = c
        .post("/v1/agent/ipam/request", json!({"ip": "10.201.0.77"}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);

    // Each surface, as of right after the block's creation: nothing in it yet.
    let at = after_block.to_string();
    let empty_then = [
        (
            format!("{}/{b}/ip_addresses?as_of={at}", blocks(T)),
            "/ip_addresses",
        ),
        (format!("/v1/pools?as_of={at}"), "/pools"),
        (format!("/ipam/v1/regions/fr-par/ips?as_of={at}"), "/ips"),
        (format!("/v1/ipam/requests?as_of={at}"), "/requests"),
        (
            format!("/v0.1/ipam/allocated_ip_addresses?as_of={at}"),
            "/ip_addresses",
        ),
    ];
    for (path, list) in &empty_then {
        let r = c.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.json.pointer(list), Some(&json!([])), "{path}: {}", r.text);
        assert_eq!(position(&r), after_block + 1, "{path}");
        // And live, each holds something.
        let live = c.get(path.split('?').next().unwrap()).await;
        assert_ne!(
            live.json.pointer(list),
            Some(&json!([])),
            "{path}: {}",
            live.text
        );
    }
    // The same by time: half a minute before the allocation.
    let t = mid_time.to_rfc3339();
    let r = c
        .get(&format!(
            "{}/{b}/ip_addresses?as_of={}",
            blocks(T),
            urlencode(&t)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_addresses"], json!([]));
    assert_eq!(position(&r), after_block + 1);
    // Before the first event: the empty state, position 0.
    let t = before_anything.to_rfc3339();
    let r = c
        .get(&format!("{}?as_of={}", blocks(T), urlencode(&t)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_blocks"], json!([]));
    assert_eq!(position(&r), 0);
    // The block as of then, by id; the pool not yet there (404).
    let r = c.get(&format!("{}/{b}?as_of={at}", blocks(T))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c.get(&format!("/v1/pools/{pool}?as_of={at}")).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // Faults: future position, future time, malformed; Melange's shape and Scaleway's.
    let head = position(&c.get(&blocks(T)).await);
    let future_time = urlencode(&(Utc::now() + chrono::Duration::days(3650)).to_rfc3339());
    for bad in [
        head.to_string(),
        (head + 100).to_string(),
        future_time,
        "yesterday".into(),
        "-1".into(),
        "".into(),
    ] {
        let r = c.get(&format!("{}?as_of={bad}", blocks(T))).await;
        assert_eq!(r.status, 400, "as_of={bad}: {}", r.text);
        assert!(r.text.contains("as_of"), "{}", r.text);
        assert!(
            r.json.get("BadRequest").is_some(),
            "Melange's shape: {}",
            r.text
        );
        position(&r);
        let r = c
            .get(&format!("/ipam/v1/regions/fr-par/ips?as_of={bad}"))
            .await;
        assert_eq!(r.status, 400, "as_of={bad}: {}", r.text);
        assert!(
            r.json.get("message").is_some() && r.json.get("BadRequest").is_none(),
            "Scaleway's shape: {}",
            r.text
        );
    }
    // A write with as_of is refused and changes nothing.
    let r = c
        .post(
            &format!("{}/{b}/ip_addresses?as_of={at}", blocks(T)),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(position(&c.get(&blocks(T)).await), head);
    // Every answer carries the position: a 404 too.
    let r = c.get(&format!("{}/{}", blocks(T), uuid::Uuid::nil())).await;
    assert_eq!(r.status, 404);
    assert_eq!(position(&r), head);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// The holder timeline of one address through a pool allocation and its release, a Melange
/// allocation, its deallocation and purge, an IP request's hold and approval, block
/// deletion, and re-creation of the block for another tenant; each tenant sees only its own
/// holdings, and `as_of` shows the timeline as it was.
#[tokio::test]
async fn an_address_holder_timeline_across_surfaces_blocks_and_tenants() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    let c: &Client = &srv;
    let (a, b) = ("hist-a", "hist-b");
    let first = block(c, a, "private", "10.202.0.0/24").await;
    let r = c
        .post(
            "/v1/pools",
            json!({"name": "hp", "kind": "address", "tenant_id": a, "resources": [first]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pool = r.json["pool"]["id"].as_str().unwrap().to_string();
    // 1. A pool allocation takes the first free address: the one this test follows.
    let r = c
        .post(
            &format!("/v1/pools/{pool}/allocations"),
            json!({"identifier": "web-1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ip = bare(&r.json["allocation"]["address"]);
    let r = c
        .delete(&format!("/v1/pools/{pool}/allocations/web-1"))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    // 2. Melange: allocated, deallocated, purged after the retention.
    clock.advance(chrono::Duration::minutes(1));
    allocate(c, a, &first, &ip).await;
    let one = format!("{}/{first}/ip_addresses/{ip}", blocks(a));
    let r = c.delete(&one).await;
    assert!(r.status.is_success(), "{}", r.text);
    clock.advance(chrono::Duration::days(3));
    let r = c.post("/v1/admin/purge", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // 3. An IP request holds it, and its approval allocates it; then deallocated, purged.
    let r = c.post("/v1/agent/ipam/request", json!({"ip": ip})).await;
    assert!(r.status.is_success(), "{}", r.text);
    let listed = c.get(&format!("/v1/ipam/requests?ip={ip}")).await;
    let request = listed.json["requests"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post(&format!("/v1/ipam/requests/{request}/approve"), json!({}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = c.delete(&one).await;
    assert!(r.status.is_success(), "{}", r.text);
    clock.advance(chrono::Duration::days(3));
    let r = c.post("/v1/admin/purge", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // 4. The pool and the block go; the block comes back for another tenant, who takes it.
    let r = c.delete(&format!("/v1/pools/{pool}")).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = c.delete(&format!("{}/{first}", blocks(a))).await;
    assert!(r.status.is_success(), "{}", r.text);
    let before_b = position(&c.get(&blocks(a)).await) - 1;
    let second = block(c, b, "private", "10.202.0.0/24").await;
    assert_ne!(first, second);
    allocate(c, b, &second, &ip).await;

    let r = c.get(&format!("/v1/history/addresses/{ip}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let h = r.json["holdings"].as_array().unwrap().clone();
    let col = |k: &str| -> Vec<Value> { h.iter().map(|x| x[k].clone()).collect() };
    assert_eq!(
        col("via"),
        json!([
            "pool allocation",
            "allocation",
            "request hold",
            "request approval",
            "allocation"
        ])
        .as_array()
        .unwrap()
        .clone(),
        "{}",
        r.text
    );
    assert_eq!(
        col("tenant_id"),
        vec![json!(a), json!(a), json!(a), json!(a), json!(b)]
    );
    assert_eq!(
        col("ended_because"),
        vec![
            json!("released"),
            json!("deallocated"),
            json!("approved"),
            json!("deallocated"),
            Value::Null
        ],
        "{}",
        r.text
    );
    assert_eq!(col("block_id")[..4], vec![json!(first); 4][..]);
    assert_eq!(col("block_id")[4], json!(second));
    assert_eq!(h[0]["holder"]["pool_id"], json!(pool));
    assert_eq!(h[0]["holder"]["identifier"], "web-1");
    assert_eq!(h[2]["holder"]["request_id"], json!(request));
    assert_eq!(h[3]["holder"]["request_id"], json!(request));
    assert!(h[1]["purged"].is_object(), "{}", r.text);
    assert!(h[3]["purged"].is_object(), "{}", r.text);
    for x in &h {
        assert!(x["from"]["position"].is_u64() && x["from"]["time"].is_string());
        assert!(x["from"]["actor"].is_string());
    }
    assert!(h[4]["to"].is_null());
    // Ordered in time.
    let starts: Vec<u64> = h
        .iter()
        .map(|x| x["from"]["position"].as_u64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");

    // Tenants see their own holdings only.
    let (ta, tb, tc) = (
        tenant_client(c, a).await,
        tenant_client(c, b).await,
        tenant_client(c, "hist-c").await,
    );
    let r = ta.get(&format!("/v1/history/addresses/{ip}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["holdings"].as_array().unwrap().len(),
        4,
        "{}",
        r.text
    );
    assert!(!r.text.contains(&second));
    let r = tb.get(&format!("/v1/history/addresses/{ip}")).await;
    assert_eq!(
        r.json["holdings"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    assert!(!r.text.contains(&first) && !r.text.contains(&pool));
    let r = tc.get(&format!("/v1/history/addresses/{ip}")).await;
    assert_eq!(r.json["holdings"], json!([]), "{}", r.text);

    // As of before the re-creation: four holdings, all ended.
    let r = c
        .get(&format!("/v1/history/addresses/{ip}?as_of={before_b}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let then = r.json["holdings"].as_array().unwrap();
    assert_eq!(then.len(), 4, "{}", r.text);
    assert_eq!(position(&r), before_b + 1);
    // The deleted block's own history: its tenant and admins see it, nobody else.
    let r = ta.get(&format!("/v1/history/blocks/{first}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let kinds = types(&r);
    assert_eq!(kinds.first().map(String::as_str), Some("BlockCreated"));
    assert_eq!(kinds.last().map(String::as_str), Some("BlockDeleted"));
    assert!(
        kinds.iter().any(|t| t == "RequestApproved") && kinds.iter().any(|t| t == "AddressPurged")
    );
    let e = &r.json["events"][0];
    assert!(
        e["summary"].as_str().unwrap().contains("10.202.0.0/24"),
        "{e}"
    );
    assert!(e["position"].is_u64() && e["time"].is_string() && e["actor"].is_string());
    assert_eq!(
        tb.get(&format!("/v1/history/blocks/{first}")).await.status,
        404
    );
    assert_eq!(
        ta.get(&format!("/v1/history/blocks/{second}")).await.status,
        404
    );
    // As of before the block's deletion, its history ends earlier.
    let r = c
        .get(&format!(
            "/v1/history/blocks/{first}?as_of={}",
            before_b - 1
        ))
        .await;
    let last = r.json["events"].as_array().unwrap().last().unwrap().clone();
    assert_ne!(last["type"], "BlockDeleted", "{}", r.text);
    // The request's and the pool's histories.
    let r = ta.get(&format!("/v1/history/requests/{request}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let kinds = types(&r);
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("RequestSubmitted"),
        "{}",
        r.text
    );
    assert!(
        kinds.iter().any(|t| t == "RequestApproved")
            && kinds.iter().any(|t| t == "AddressAllocated")
    );
    assert_eq!(kinds.len(), 3, "{}", r.text);
    assert_eq!(
        tb.get(&format!("/v1/history/requests/{request}"))
            .await
            .status,
        404
    );
    let r = ta.get(&format!("/v1/history/pools/{pool}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let kinds = types(&r);
    assert_eq!(
        kinds,
        [
            "PoolCreated",
            "PoolAllocated",
            "PoolReleased",
            "PoolDeleted"
        ]
    );
    assert_eq!(
        tb.get(&format!("/v1/history/pools/{pool}")).await.status,
        404
    );
    // Malformed address: 400.
    assert_eq!(c.get("/v1/history/addresses/not-an-ip").await.status, 400);
}

/// A registration's history names no secret or digest; a Scaleway IP's and an interface's
/// histories are their streams.
#[tokio::test]
async fn object_histories_of_registrations_ips_and_interfaces_carry_no_secrets() {
    let srv = TestServer::start().await;
    let c: &Client = &srv;
    let block_id = crate::registrations::zone(&srv, "10.203.0.0/24").await;
    let before = position(&c.get("/v1/registrations").await) - 1;
    let body = json!({"ip_family": "ipv4", "zone": "inet", "secret": "s3cret-value-1", "service": {"service_name": "svc", "namespace_id": uuid::Uuid::nil(), "cluster_id": uuid::Uuid::nil()}});
    let r = c.post("/", body).await;
    assert!(r.status.is_success(), "{}", r.text);
    let address = bare(&r.json["address"]);
    // The registrations surface as of before the registration: none; live: this one.
    let r = c.get(&format!("/v1/registrations?as_of={before}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["registrations"], json!([]), "{}", r.text);
    assert_eq!(position(&r), before + 1);
    let r = c.get("/v1/registrations").await;
    assert_eq!(
        r.json["registrations"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    let r = c.get(&format!("/v1/zones?as_of={before}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c
        .get(&format!("/v1/history/registrations/inet/{address}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["events"][0]["type"], "RegistrationCreated");
    assert!(
        !r.text.contains("digest") && !r.text.contains("secret"),
        "{}",
        r.text
    );
    let r = c.get(&format!("/v1/history/addresses/{address}")).await;
    assert_eq!(r.json["holdings"][0]["via"], "registration", "{}", r.text);
    let other = tenant_client(c, "reg-other").await;
    assert_eq!(
        other
            .get(&format!("/v1/history/registrations/inet/{address}"))
            .await
            .status,
        404
    );

    let r = c
        .post(
            "/ipam/v1/regions/fr-par/ips",
            json!({"source": {"subnet_id": block_id}, "is_ipv6": false, "project_id": "viti"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let ip_id = r.json["id"].as_str().unwrap().to_string();
    let ip_address = bare(&r.json["address"]);
    let r = c
        .delete(&format!("/ipam/v1/regions/fr-par/ips/{ip_id}"))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = c.get(&format!("/v1/history/ips/{ip_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["events"][0]["type"], "ScalewayIpBooked");
    let r = c.get(&format!("/v1/history/addresses/{ip_address}")).await;
    let h = &r.json["holdings"][0];
    assert_eq!(h["via"], "scaleway booking", "{}", r.text);
    assert_eq!(h["ended_because"], "released", "{}", r.text);
    assert_eq!(
        other.get(&format!("/v1/history/ips/{ip_id}")).await.status,
        404
    );
    assert_eq!(
        c.get("/v1/history/interfaces/no-such-vif").await.status,
        404
    );
}

/// A vif is unique across tenants only while it lives: its stream may hold one tenant's life
/// and then another's. Each tenant sees its own lives; admins see both.
#[tokio::test]
async fn an_interface_history_shows_each_tenant_its_own_lives_of_a_reused_vif() {
    let srv = TestServer::start().await;
    let c: &Client = &srv;
    let mut addresses = Vec::new();
    for (tenant, n) in [("vif-a", 4), ("vif-b", 5)] {
        let net = format!("net-{tenant}");
        let r = c
            .post(
                &blocks(tenant),
                json!({"ip_block": {"type": "private", "cidr": format!("10.20{n}.0.0/24"), "network_id": net}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let body = json!({"interface": {"id": "vif-h", "tenant_id": tenant, "device_id": "vm-h", "network": {"id": net, "tenant_id": tenant}}});
        let r = c.post("/v0.1/ipam/interfaces", body).await;
        assert!(r.status.is_success(), "{}", r.text);
        addresses.push(
            r.json["interface"]["ip_addresses"][0]["address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        let r = c.delete("/v0.1/ipam/interfaces/vif-h").await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let created = |r: &Res| {
        r.json["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "InterfaceCreated")
            .map(|e| e["data"]["tenant_id"].clone())
            .collect::<Vec<_>>()
    };
    let r = c.get("/v1/history/interfaces/vif-h").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(created(&r), [json!("vif-a"), json!("vif-b")], "{}", r.text);
    let (ta, tb, tc) = (
        tenant_client(c, "vif-a").await,
        tenant_client(c, "vif-b").await,
        tenant_client(c, "vif-c").await,
    );
    let r = ta.get("/v1/history/interfaces/vif-h").await;
    assert_eq!(created(&r), [json!("vif-a")], "{}", r.text);
    assert!(!r.text.contains("vif-b"), "{}", r.text);
    let r = tb.get("/v1/history/interfaces/vif-h").await;
    assert_eq!(created(&r), [json!("vif-b")], "{}", r.text);
    assert_eq!(r.json["tenant_id"], "vif-b");
    assert_eq!(tc.get("/v1/history/interfaces/vif-h").await.status, 404);
    // The interface's address: an allocation naming the interface, ended by its deletion.
    let r = c
        .get(&format!("/v1/history/addresses/{}", addresses[0]))
        .await;
    let h = &r.json["holdings"][0];
    assert_eq!(h["via"], "allocation", "{}", r.text);
    assert_eq!(h["tenant_id"], "vif-a");
    assert!(h["holder"]["interface_id"].is_string(), "{}", r.text);
    assert!(!h["ended_because"].is_null(), "{}", r.text);
}

/// A block stream longer than a page (1000 events) is read page by page, and the surface of
/// an allocation made among 256 in one command is still found: the timeline of an address
/// from the first batch and of one past the first page.
#[tokio::test]
async fn a_timeline_reads_long_block_streams_and_large_commands() {
    let srv = TestServer::start().await;
    let c: &Client = &srv;
    let b = block(c, "long-t", "private", "10.206.0.0/21").await;
    let r = c
        .post(
            "/v1/pools",
            json!({"name": "big", "kind": "address", "tenant_id": "long-t", "resources": [b]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pool = r.json["pool"]["id"].as_str().unwrap().to_string();
    for batch in 0..5 {
        let items: Vec<Value> = (0..256)
            .map(|i| json!({"identifier": format!("b{batch}-{i}")}))
            .collect();
        let r = c
            .post(
                &format!("/v1/pools/{pool}/allocations/batch"),
                json!({"allocations": items}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    for identifier in ["b0-100", "b4-255"] {
        let r = c
            .get(&format!("/v1/pools/{pool}/allocations/{identifier}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let ip = bare(&r.json["allocation"]["address"]);
        let r = c
            .delete(&format!("/v1/pools/{pool}/allocations/{identifier}"))
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        let r = c.get(&format!("/v1/history/addresses/{ip}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let h = r.json["holdings"].as_array().unwrap();
        assert_eq!(h.len(), 1, "{}", r.text);
        assert_eq!(h[0]["via"], "pool allocation", "{identifier}: {}", r.text);
        assert_eq!(h[0]["holder"]["identifier"], identifier, "{}", r.text);
        assert_eq!(h[0]["ended_because"], "released", "{}", r.text);
    }
    // The block's own history pages by stream version.
    let r = c.get(&format!("/v1/history/blocks/{b}")).await;
    assert_eq!(r.json["events"].as_array().unwrap().len(), 1000);
    let next = r.json["next_from"].as_u64().expect("a next page");
    let r = c.get(&format!("/v1/history/blocks/{b}?from={next}")).await;
    assert!(
        !r.json["events"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
}
