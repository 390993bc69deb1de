//! Resource pools over HTTP (issue 9 §2, "What must be shown"): the pool and allocation
//! routes with their shapes and faults, idempotency under 32 concurrent callers with one
//! identifier (one allocation, one event), prefix pools carving nested blocks that Melange
//! and other pools use, best fit against first fit, batches all or nothing, utilization
//! against a count, and Melange and pool allocations side by side in one block.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::durability::{addresses_path, allocate, create_block, event_count};
use crate::support::{Client, TestServer};

const T: &str = "pool-t";

pub(crate) async fn create_pool(c: &Client, body: Value) -> String {
    let r = c.post("/v1/pools", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "create pool: {}", r.text);
    r.json["pool"]["id"].as_str().expect("pool id").to_string()
}

async fn address_pool(c: &Client, blocks: &[&str]) -> String {
    create_pool(
        c,
        json!({"name": "addresses", "kind": "address", "tenant_id": T, "resources": blocks}),
    )
    .await
}

/// Allocates and returns (status, allocation).
async fn take(c: &Client, pool: &str, body: Value) -> (u16, Value) {
    let r = c.post(&format!("/v1/pools/{pool}/allocations"), body).await;
    (r.status.as_u16(), r.json["allocation"].clone())
}

async fn subnet(c: &Client, parent: &str, cidr: &str) -> String {
    let r = c
        .post(
            &format!("/v0.1/ipam/tenants/{T}/ip_blocks/{parent}/subnets"),
            json!({"subnet": {"cidr": cidr}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["subnet"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn pool_routes_answer_with_their_shapes_and_faults() {
    let s = TestServer::start().await;
    let block = create_block(&s, T, "10.40.0.0/24").await;
    let r = s
        .post(
            "/v1/pools",
            json!({"name": "mgmt", "kind": "address", "tenant_id": T, "resources": [block],
                   "default_prefix_length": 24, "zone": "fr-par-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pool = r.json["pool"].clone();
    let id = pool["id"].as_str().unwrap().to_string();
    for key in [
        "name",
        "kind",
        "tenant_id",
        "resources",
        "default_prefix_length",
        "zone",
        "strategy",
        "created_at",
        "updated_at",
    ] {
        assert!(pool.get(key).is_some(), "{key} missing from {pool}");
    }
    assert_eq!(pool["strategy"], "first");
    assert_eq!(s.get(&format!("/v1/pools/{id}")).await.json["pool"], pool);
    assert_eq!(s.get("/v1/pools").await.json["pools"][0]["id"], json!(id));
    // Malformed input: 400 in the API's fault shape, listing every field.
    let r = s
        .post("/v1/pools", json!({"name": "", "kind": "subnet", "tenant_id": T, "resources": ["nope"], "zone": "Bad Zone"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let errors = &r.json["BadRequest"]["errors"];
    for field in ["name", "kind", "resources", "zone"] {
        assert!(errors.get(field).is_some(), "{field} not in {}", r.text);
    }
    let r = s
        .post("/v1/pools", json!({"name": "x", "colour": "red"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // One allocation, then the same identifier again, then other parameters.
    let (status, a) = take(
        &s,
        &id,
        json!({"identifier": "vm-1", "data": {"role": "db"}}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(a["address"], "10.40.0.2/24");
    assert_eq!(a["data"], json!({"role": "db"}));
    assert_eq!(a["block_id"], json!(block));
    let (status, again) = take(
        &s,
        &id,
        json!({"identifier": "vm-1", "data": {"role": "db"}}),
    )
    .await;
    assert_eq!((status, &again), (200, &a));
    let (status, _) = take(
        &s,
        &id,
        json!({"identifier": "vm-1", "data": {"role": "web"}}),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = take(&s, &id, json!({"identifier": "a/b"})).await;
    assert_eq!(status, 400);
    let r = s.get(&format!("/v1/pools/{id}/allocations/vm-1")).await;
    assert_eq!(r.json["allocation"], a, "{}", r.text);
    let r = s.get(&format!("/v1/pools/{id}/allocations")).await;
    assert_eq!(r.json["allocations"].as_array().unwrap().len(), 1);
    // The address is in Melange's listing of the block, and Melange may not deallocate it.
    let listed = s.get(&addresses_path(T, &block)).await;
    assert!(listed.text.contains("10.40.0.2"), "{}", listed.text);
    let r = s
        .delete(&format!("{}/10.40.0.2", addresses_path(T, &block)))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(
        r.text
            .contains(&format!("held by pool {id} allocation vm-1")),
        "{}",
        r.text
    );
    // Update, then a delete refused while the allocation stands.
    let r = s
        .put(
            &format!("/v1/pools/{id}"),
            json!({"name": "mgmt-2", "strategy": "last"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["pool"]["name"], "mgmt-2");
    let r = s
        .put(&format!("/v1/pools/{id}"), json!({"kind": "prefix"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = s.delete(&format!("/v1/pools/{id}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = s.delete(&format!("/v1/pools/{id}/allocations/vm-1")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = s.get(&format!("/v1/pools/{id}/allocations/vm-1")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let listed = s.get(&addresses_path(T, &block)).await;
    assert!(
        !listed.text.contains("10.40.0.2"),
        "released at once: {}",
        listed.text
    );
    let r = s.delete(&format!("/v1/pools/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = s.get(&format!("/v1/pools/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(r.json.get("NotFound").is_some(), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_callers_with_one_identifier_get_one_allocation() {
    let s = TestServer::start().await;
    let block = create_block(&s, T, "10.41.0.0/24").await;
    let pool = address_pool(&s, &[&block]).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (c, pool) = (s.client.clone(), pool.clone());
        tasks.push(tokio::spawn(async move {
            take(
                &c,
                &pool,
                json!({"identifier": "the-one", "prefix_length": 24}),
            )
            .await
        }));
    }
    let mut created = 0;
    let mut seen = HashSet::new();
    for t in tasks {
        let (status, a) = t.await.expect("caller");
        assert!(status == 201 || status == 200, "{status} {a}");
        created += usize::from(status == 201);
        seen.insert(a.to_string());
    }
    assert_eq!(created, 1, "exactly one caller made it");
    assert_eq!(
        seen.len(),
        1,
        "every caller got the same allocation: {seen:?}"
    );
    let r = s.get(&format!("/v1/pools/{pool}/allocations")).await;
    assert_eq!(r.json["allocations"].as_array().unwrap().len(), 1);
    let r = s
        .get(&format!("/v1/events?stream=pool-{pool}&limit=1000"))
        .await;
    let events = r.json["events"].as_array().expect("events");
    let allocated = events
        .iter()
        .filter(|e| e.to_string().contains("PoolAllocated"))
        .count();
    assert_eq!(allocated, 1, "{}", r.text);
    let listed = s.get(&addresses_path(T, &block)).await;
    assert_eq!(listed.json["ip_addresses"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn prefix_pools_carve_nested_blocks_that_melange_and_pools_use() {
    let s = TestServer::start().await;
    let root = create_block(&s, T, "10.42.0.0/16").await;
    let outer = create_pool(
        &s,
        json!({"name": "sites", "kind": "prefix", "tenant_id": T, "resources": [root], "default_prefix_length": 24}),
    )
    .await;
    let (status, site) = take(&s, &outer, json!({"identifier": "site-a"})).await;
    assert_eq!(status, 201, "{site}");
    assert_eq!(site["prefix"], "10.42.0.0/24");
    let site_block = site["block_id"].as_str().unwrap().to_string();
    // The new block is a subnet of the resource, owned by the pool's tenant.
    let r = s
        .get(&format!("/v0.1/ipam/tenants/{T}/ip_blocks/{site_block}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["ip_block"]["parent_id"], json!(root));
    assert_eq!(r.json["ip_block"]["cidr"], "10.42.0.0/24");
    // A prefix pool over the carved /24 carves /28s inside it: nested blocks.
    let inner = create_pool(
        &s,
        json!({"name": "racks", "kind": "prefix", "tenant_id": T, "resources": [site_block]}),
    )
    .await;
    let (status, rack) = take(
        &s,
        &inner,
        json!({"identifier": "rack-1", "prefix_length": 28}),
    )
    .await;
    assert_eq!(status, 201, "{rack}");
    assert_eq!(rack["prefix"], "10.42.0.0/28");
    let rack_block = rack["block_id"].as_str().unwrap().to_string();
    // An address pool over the rack, and Melange, both allocate in it.
    let hosts = address_pool(&s, &[&rack_block]).await;
    let (status, host) = take(&s, &hosts, json!({"identifier": "host-1"})).await;
    assert_eq!(
        (status, host["address"].clone()),
        (201, json!("10.42.0.2/28"))
    );
    assert_eq!(allocate(&s, T, &rack_block).await, "10.42.0.3");
    // Releasing the site is refused while its block has subnets; the rack's, while its block
    // is a pool resource.
    let r = s
        .delete(&format!("/v1/pools/{outer}/allocations/site-a"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = s
        .delete(&format!("/v1/pools/{inner}/allocations/rack-1"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = s
        .delete(&format!("/v0.1/ipam/tenants/{T}/ip_blocks/{rack_block}"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // The next site skips the first.
    let (_, next) = take(&s, &outer, json!({"identifier": "site-b"})).await;
    assert_eq!(next["prefix"], "10.42.1.0/24");
    let (_, last) = take(
        &s,
        &outer,
        json!({"identifier": "site-z", "strategy": "last"}),
    )
    .await;
    assert_eq!(last["prefix"], "10.42.255.0/24");
}

#[tokio::test]
async fn best_fit_keeps_large_holes_whole_where_first_fit_splits_them() {
    let s = TestServer::start().await;
    let root = create_block(&s, T, "10.43.0.0/22").await;
    // Taken by Melange: 10.43.2.0/24 and 10.43.3.128/25. Free: the /23 and 10.43.3.0/25.
    subnet(&s, &root, "10.43.2.0/24").await;
    subnet(&s, &root, "10.43.3.128/25").await;
    let pool = create_pool(
        &s,
        json!({"name": "p", "kind": "prefix", "tenant_id": T, "resources": [root], "strategy": "best_fit"}),
    )
    .await;
    let (_, best) = take(&s, &pool, json!({"identifier": "b", "prefix_length": 26})).await;
    assert_eq!(best["prefix"], "10.43.3.0/26");
    let (_, first) = take(
        &s,
        &pool,
        json!({"identifier": "f", "prefix_length": 26, "strategy": "first"}),
    )
    .await;
    assert_eq!(first["prefix"], "10.43.0.0/26");
    // First fit split the /23: its buddy 10.43.0.64/26 is now an exact hole, as is
    // 10.43.3.64/26; best fit takes the lower of the two smallest holes.
    let (_, best) = take(&s, &pool, json!({"identifier": "b2", "prefix_length": 26})).await;
    assert_eq!(best["prefix"], "10.43.0.64/26");
    let (_, best) = take(&s, &pool, json!({"identifier": "b3", "prefix_length": 26})).await;
    assert_eq!(best["prefix"], "10.43.3.64/26");
    let (status, _) = take(&s, &pool, json!({"identifier": "big", "prefix_length": 22})).await;
    assert_eq!(status, 422);
    let r = s
        .post("/v1/pools", json!({"name": "x", "kind": "address", "tenant_id": T, "resources": [root], "strategy": "best_fit"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "best_fit is for prefix pools: {}",
        r.text
    );
}

#[tokio::test]
async fn a_batch_is_all_or_nothing() {
    let s = TestServer::start().await;
    // Five addresses to hand out: .2 to .6 (.1 is the gateway, .7 the broadcast).
    let block = create_block(&s, T, "10.44.0.0/29").await;
    let pool = address_pool(&s, &[&block]).await;
    let batch = |n: usize| json!({"allocations": (0..n).map(|i| json!({"identifier": format!("h{i}")})).collect::<Vec<_>>()});
    let before = event_count(&s).await;
    let r = s
        .post(&format!("/v1/pools/{pool}/allocations/batch"), batch(6))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        event_count(&s).await,
        before,
        "a refused batch appends nothing"
    );
    let r = s.get(&format!("/v1/pools/{pool}/allocations")).await;
    assert_eq!(r.json["allocations"].as_array().unwrap().len(), 0);
    let r = s
        .post(&format!("/v1/pools/{pool}/allocations/batch"), batch(5))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let got: HashSet<String> = r.json["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), 5);
    // The same batch again: the same allocations, nothing new.
    let again = s
        .post(&format!("/v1/pools/{pool}/allocations/batch"), batch(5))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json, r.json);
    let r = s
        .post(&format!("/v1/pools/{pool}/allocations/batch"), batch(257))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

#[tokio::test]
async fn utilization_matches_a_count_of_the_block() {
    let s = TestServer::start().await;
    let a = create_block(&s, T, "10.45.0.0/24").await;
    let b = create_block(&s, T, "10.45.1.0/26").await;
    let pool = address_pool(&s, &[&a, &b]).await;
    for i in 0..37 {
        let (status, _) = take(&s, &pool, json!({"identifier": format!("p{i}")})).await;
        assert_eq!(status, 201);
    }
    for _ in 0..11 {
        allocate(&s, T, &a).await;
    }
    let listed = s
        .get(&format!("{}?limit=1000", addresses_path(T, &a)))
        .await;
    let counted = listed.json["ip_addresses"].as_array().unwrap().len() as u64;
    assert_eq!(counted, 48);
    let r = s.get(&format!("/v1/pools/{pool}/utilization")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let u = &r.json["utilization"];
    assert_eq!(u["total"], 256 + 64);
    assert_eq!(u["allocated"], counted);
    assert_eq!(u["free"], 256 + 64 - counted);
    assert_eq!(
        u["percent"],
        json!(((counted as f64 * 100.0 / 320.0) * 100.0).round() / 100.0)
    );
    assert_eq!(u["resources"][0]["allocated"], counted);
    assert_eq!(u["resources"][1]["allocated"], 0);
    assert_eq!(u["resources"][1]["cidr"], "10.45.1.0/26");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn melange_and_pool_allocations_in_one_block_never_collide() {
    let s = TestServer::start().await;
    let block = create_block(&s, T, "10.46.0.0/22").await;
    let pool = address_pool(&s, &[&block]).await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (c, pool, block) = (s.client.clone(), pool.clone(), block.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..40 {
                if t % 2 == 0 {
                    let (status, a) =
                        take(&c, &pool, json!({"identifier": format!("t{t}-{i}")})).await;
                    assert_eq!(status, 201, "{a}");
                    let text = a["address"].as_str().unwrap();
                    got.push(text.split('/').next().unwrap().to_string());
                } else {
                    let path = addresses_path(T, &block);
                    let r = c.send(Method::POST, &path, None, &[]).await;
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                    got.push(
                        r.json["ip_address"]["address"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    );
                }
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 640);
    assert_eq!(distinct.len(), all.len(), "an address was handed out twice");
    let listed = s
        .get(&format!("{}?limit=1000", addresses_path(T, &block)))
        .await;
    assert_eq!(listed.json["ip_addresses"].as_array().unwrap().len(), 640);
}

#[tokio::test]
async fn a_tenant_token_uses_only_its_own_pools() {
    let s = TestServer::start().await;
    let block = create_block(&s, T, "10.47.0.0/24").await;
    let pool = address_pool(&s, &[&block]).await;
    let token =
        |tenant: &str| json!({"name": format!("tok-{tenant}"), "role": format!("tenant:{tenant}")});
    let r = s.post("/v1/auth/tokens", token(T)).await;
    let own = s.with_token(r.json["token"]["secret"].as_str().unwrap());
    let r = s.post("/v1/auth/tokens", token("someone-else")).await;
    let other = s.with_token(r.json["token"]["secret"].as_str().unwrap());
    let body = json!({"name": "x", "kind": "address", "tenant_id": T, "resources": [block]});
    assert_eq!(
        other.post("/v1/pools", body.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        own.post("/v1/pools", body).await.status,
        StatusCode::CREATED
    );
    let r = other.get(&format!("/v1/pools/{pool}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = other.get("/v1/pools").await;
    assert_eq!(r.json["pools"], json!([]), "{}", r.text);
    assert_eq!(
        own.get("/v1/pools").await.json["pools"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (status, _) = take(&other, &pool, json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = take(&own, &pool, json!({})).await;
    assert_eq!(status, 201);
}

/// What the clients were told: pool allocations by identifier (address or prefix) and
/// Melange addresses.
#[derive(Default)]
struct Acked {
    pooled: std::collections::BTreeMap<String, String>,
    melange: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_mid_burst_of_pool_and_melange_allocations_loses_nothing_acknowledged() {
    // Guards against acknowledging a pool allocation before its events are durable, against
    // a recovery that hands out again an address or prefix a pool holds, and against a lost
    // answer breaking idempotency: the identifier asked again after the restart gets the
    // allocation the log holds.
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use crate::durability::{spawn_with_env, try_send};
    use crate::support::run_cli;

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let proc = spawn_with_env(dir, &[]);
    let c = proc.client.clone();
    let block = create_block(&c, T, "10.48.0.0/20").await;
    let root = create_block(&c, T, "10.49.0.0/16").await;
    let hosts = address_pool(&c, &[&block]).await;
    let nets = create_pool(
        &c,
        json!({"name": "n", "kind": "prefix", "tenant_id": T, "resources": [root], "default_prefix_length": 28}),
    )
    .await;
    let acked = Arc::new(Mutex::new(Acked::default()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..12 {
        let (c, acked, count) = (c.clone(), acked.clone(), count.clone());
        let (block, hosts, nets) = (block.clone(), hosts.clone(), nets.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..400 {
                let (path, body) = match t % 3 {
                    0 => (
                        format!("/v1/pools/{hosts}/allocations"),
                        Some(json!({"identifier": format!("h{t}-{i}")})),
                    ),
                    1 => (
                        format!("/v1/pools/{nets}/allocations"),
                        Some(json!({"identifier": format!("n{t}-{i}")})),
                    ),
                    _ => (addresses_path(T, &block), None),
                };
                let Ok((s, b)) = try_send(&c, Method::POST, &path, body.as_ref()).await else {
                    return;
                };
                assert!(s.is_success(), "{s} {b}");
                let mut a = acked.lock().unwrap();
                match t % 3 {
                    2 => a
                        .melange
                        .push(b["ip_address"]["address"].as_str().unwrap().to_string()),
                    _ => {
                        let got = &b["allocation"];
                        let held = got["address"].as_str().or(got["prefix"].as_str()).unwrap();
                        a.pooled.insert(
                            got["identifier"].as_str().unwrap().to_string(),
                            held.to_string(),
                        );
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < 300 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    proc.kill9();
    for t in tasks {
        t.await.expect("task");
    }
    let seen_at_kill = count.load(Ordering::SeqCst);
    assert!(
        seen_at_kill < 12 * 400,
        "the burst finished before the kill"
    );
    let next = spawn_with_env(dir, &[]);
    let c = next.client.clone();
    // Every task has ended: take the record out of the lock before awaiting anything.
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.pooled.len() + acked.melange.len() >= 300);
    let mut seen = HashSet::new();
    for (identifier, held) in &acked.pooled {
        let pool = if identifier.starts_with('h') {
            &hosts
        } else {
            &nets
        };
        let r = c
            .get(&format!("/v1/pools/{pool}/allocations/{identifier}"))
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "acknowledged {identifier} lost: {}",
            r.text
        );
        let a = &r.json["allocation"];
        assert_eq!(
            a["address"].as_str().or(a["prefix"].as_str()),
            Some(held.as_str())
        );
        // Asked again: the same allocation, nothing new.
        let (status, again) = take(&c, pool, json!({"identifier": identifier})).await;
        assert_eq!((status, &again), (200, a));
        assert!(
            seen.insert(held.split('/').next().unwrap().to_string()),
            "{held} twice"
        );
    }
    let listed = crate::durability::list_all(&c, &addresses_path(T, &block), "ip_addresses").await;
    let in_block: HashSet<String> = listed
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    for address in &acked.melange {
        assert!(in_block.contains(address), "acknowledged {address} lost");
        assert!(seen.insert(address.clone()), "{address} held twice");
    }
    assert_eq!(in_block.len(), listed.len(), "an address listed twice");
    // The recovered maps hand out nothing that survived.
    let (status, fresh) = take(&c, &hosts, json!({"identifier": "after"})).await;
    assert_eq!(status, 201);
    let fresh = fresh["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(!seen.contains(&fresh), "{fresh} handed out twice");
    next.terminate();
    let (ok, out, err) = run_cli(&["verify", "--data-dir", dir.to_str().unwrap()]);
    assert!(ok, "verify after the kill:\n{out}\n{err}");
}
