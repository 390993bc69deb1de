//! One address space, four surfaces (issues 9 and 10): Melange allocations, Scaleway
//! bookings, pool allocations and zone registrations drawn concurrently from one block, with a kill -9 in the middle of the
//! burst. After the restart every acknowledged address is still held by the surface that
//! acknowledged it, no address is held twice, the block's Melange listing shows every one of
//! them whatever surface holds it, the surfaces refuse each other's addresses, and
//! `ipledger verify` passes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::durability::{list_all, spawn_with_env, try_send};
use crate::support::{run_cli, Client};

const TASKS_PER_SURFACE: usize = 5;
const PER_TASK: usize = 400;
const KILL_AFTER_ACKS: usize = 300;
const T: &str = "/v0.1/ipam/tenants/t1";
const SCW: &str = "/ipam/v1/regions/fr-par";
const NS: &str = "467579ae-b8d5-4524-9ce8-bcb66ee02ce0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Melange,
    Scaleway,
    Pool,
    Registration,
}

/// What a client was told it holds: the address (no prefix length) and how to find it again.
#[derive(Debug, Clone)]
struct Held {
    surface: Surface,
    /// Melange: the address; Scaleway: the IP id; pool: the identifier; registration: the
    /// service name.
    key: String,
}

struct World {
    block: String,
    pool: String,
}

fn bare(address: &str) -> String {
    address.split('/').next().unwrap_or(address).to_string()
}

async fn setup(c: &Client) -> World {
    let r = c
        .post(
            &format!("{T}/ip_blocks"),
            json!({"ip_block": {"type": "private", "cidr": "10.20.0.0/20", "network_id": "net-x"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let block = r.json["ip_block"]["id"].as_str().unwrap().to_string();
    let r = c
        .post(
            "/v1/pools",
            json!({"name": "mixed", "kind": "address", "tenant_id": "t1", "resources": [block], "zone": "inet"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pool = r.json["pool"]["id"].as_str().unwrap().to_string();
    World { block, pool }
}

/// One allocation through `surface`; None when the server is gone.
async fn take(c: &Client, w: &World, surface: Surface, n: &str) -> Option<Result<Held, String>> {
    let (path, body) = match surface {
        Surface::Melange => (format!("{T}/ip_blocks/{}/ip_addresses", w.block), None),
        Surface::Scaleway => (
            format!("{SCW}/ips"),
            Some(json!({"project_id": "t1", "source": {"subnet_id": w.block}, "is_ipv6": false})),
        ),
        Surface::Pool => (
            format!("/v1/pools/{}/allocations", w.pool),
            Some(json!({"identifier": n})),
        ),
        Surface::Registration => (
            "/v2/address".to_string(),
            Some(
                json!({"ip_family": "ipv4", "zone": "inet", "secret": format!("secret-{n}"),
                        "service": {"service_name": n, "namespace_id": NS, "cluster_id": NS}}),
            ),
        ),
    };
    let (s, b) = try_send(c, Method::POST, &path, body.as_ref()).await.ok()?;
    if !s.is_success() {
        return Some(Err(format!("{surface:?}: {s} {b}")));
    }
    let (address, key) = match surface {
        Surface::Melange => {
            let a = b["ip_address"]["address"].as_str().unwrap_or_default();
            (a.to_string(), a.to_string())
        }
        Surface::Scaleway => (
            b["address"].as_str().unwrap_or_default().to_string(),
            b["id"].as_str().unwrap_or_default().to_string(),
        ),
        Surface::Pool => (
            b["allocation"]["address"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            n.to_string(),
        ),
        Surface::Registration => (
            b["address"].as_str().unwrap_or_default().to_string(),
            n.to_string(),
        ),
    };
    Some(Ok(Held {
        surface,
        key: format!("{}|{}", bare(&address), key),
    }))
}

async fn worker(
    c: Client,
    w: Arc<World>,
    surface: Surface,
    task: usize,
    acked: Arc<Mutex<Vec<Held>>>,
    count: Arc<AtomicUsize>,
    odd: Arc<Mutex<Vec<String>>>,
) {
    for i in 0..PER_TASK {
        match take(&c, &w, surface, &format!("id-{task}-{i}")).await {
            None => return,
            Some(Ok(h)) => {
                acked.lock().unwrap().push(h);
                count.fetch_add(1, Ordering::SeqCst);
            }
            Some(Err(e)) => odd.lock().unwrap().push(e),
        }
    }
}

/// Every acknowledged allocation, found again through its own surface and in the block's
/// Melange listing; no address twice.
async fn check(c: &Client, w: &World, acked: &[Held]) {
    let mut by_address: HashMap<String, &Held> = HashMap::new();
    for h in acked {
        let (address, key) = h.key.split_once('|').unwrap();
        if let Some(other) = by_address.insert(address.to_string(), h) {
            panic!("{address} acknowledged twice: {other:?} and {h:?}");
        }
        let (path, field) = match h.surface {
            Surface::Melange => (
                format!("{T}/ip_blocks/{}/ip_addresses/{key}", w.block),
                "/ip_address/address",
            ),
            Surface::Scaleway => (format!("{SCW}/ips/{key}"), "/address"),
            Surface::Pool => (
                format!("/v1/pools/{}/allocations/{key}", w.pool),
                "/allocation/address",
            ),
            Surface::Registration => (
                format!("/v1/registrations?zone=inet&address={address}"),
                "/registrations/0/address",
            ),
        };
        let r = c.get(&path).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "acknowledged {h:?} lost: {}",
            r.text
        );
        let shown = r.json.pointer(field).and_then(Value::as_str).unwrap_or("");
        assert_eq!(bare(shown), address, "{h:?} changed its address");
        if h.surface == Surface::Registration {
            let service = r.json.pointer("/registrations/0/services/0/service_name");
            assert_eq!(service, Some(&json!(key)), "{h:?}: {}", r.text);
        }
    }
    let listed = list_all(
        c,
        &format!("{T}/ip_blocks/{}/ip_addresses", w.block),
        "ip_addresses",
    )
    .await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for a in &listed {
        *seen
            .entry(a["address"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "listed twice: {twice:?}");
    let missing: Vec<_> = by_address
        .keys()
        .filter(|a| !seen.contains_key(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "held but not in the block's Melange listing: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_surfaces_share_one_block_without_duplicates_across_a_kill9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let env = [("IPLEDGER_SEGMENT_BYTES_MAX", "65536")];
    let proc = spawn_with_env(dir, &env);
    let world = Arc::new(setup(&proc.client).await);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let odd = Arc::new(Mutex::new(Vec::new()));
    let pid = proc.child.id() as libc::pid_t;
    let mut workers = Vec::new();
    let surfaces = [
        Surface::Melange,
        Surface::Scaleway,
        Surface::Pool,
        Surface::Registration,
    ];
    for surface in surfaces {
        for task in 0..TASKS_PER_SURFACE {
            workers.push(tokio::spawn(worker(
                proc.client.clone(),
                world.clone(),
                surface,
                task,
                acked.clone(),
                count.clone(),
                odd.clone(),
            )));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < KILL_AFTER_ACKS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // SAFETY: kill(2) on our own child's pid; the child is not reaped before this.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    for w in workers {
        w.await.expect("worker");
    }
    proc.kill9();
    let seen = count.load(Ordering::SeqCst);
    assert!(seen >= KILL_AFTER_ACKS, "only {seen} acknowledged");
    let odd = odd.lock().unwrap().clone();
    assert!(odd.is_empty(), "refusals before the kill: {odd:?}");
    let acked = acked.lock().unwrap().clone();
    for s in surfaces {
        assert!(
            acked.iter().any(|h| h.surface == s),
            "no {s:?} allocation acknowledged before the kill"
        );
    }

    let next = spawn_with_env(dir, &env);
    check(&next.client, &world, &acked).await;
    // Each surface refuses an address another holds: Melange asked for a Scaleway-held or
    // pool-held address is a conflict, and so is a Scaleway booking of a Melange address.
    for h in &acked {
        let address = h.key.split_once('|').unwrap().0;
        match h.surface {
            Surface::Melange => {
                let body = json!({"project_id": "t1", "source": {"subnet_id": world.block},
                                  "is_ipv6": false, "address": address});
                let r = next.client.post(&format!("{SCW}/ips"), body).await;
                assert_eq!(r.status, StatusCode::CONFLICT, "{address}: {}", r.text);
            }
            Surface::Scaleway | Surface::Pool | Surface::Registration => {
                let path = format!("{T}/ip_blocks/{}/ip_addresses", world.block);
                let body = json!({"ip_address": {"address": address}});
                let r = next.client.post(&path, body).await;
                assert_eq!(r.status, StatusCode::CONFLICT, "{address}: {}", r.text);
            }
        }
    }
    next.terminate();
    let (ok, out, err) = run_cli(&["verify", "--data-dir", dir.to_str().unwrap()]);
    assert!(ok, "verify after the kill:\n{out}\n{err}");
}
