//! Several nodes, one truth (issue 12, item 4): two and three ipledger nodes on one
//! PostgreSQL log, 64 clients spread over them allocating from one block, half through
//! Melange and half through an address pool over the same block. Each node decides against
//! its own state; a stale decision conflicts on the block's stream (or the pool's), the node
//! catches up and decides again (503 + Retry-After when that keeps failing: the client
//! retries). Pool identifiers are asked again on another node, and eight of them by eight
//! clients at once on different nodes: the same allocation comes back everywhere, from one
//! `PoolAllocated`. Checked: no address is handed out twice by either surface, every
//! acknowledged allocation is listed on every node once they have applied the head
//! (`min_position`), and `verify` passes on the log.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipledger_api::config::Config;
use ipledger_commands::SystemClock;
use ipledger_infra::postgres::ScratchSchema;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::durability::{addresses_path, block_addresses, create_block, list_all};
use crate::pools::create_pool;
use crate::support::{run_cli, Client, Process, TestServer};

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 8;
/// Identifiers each asked by `CLIENTS / SHARED` clients at once, over every node.
const SHARED: usize = 8;

/// 503 answers the clients retried (this process's tests together).
static UNAVAILABLE: AtomicU64 = AtomicU64::new(0);

async fn node(url: &str, dir: &Path) -> TestServer {
    let url = url.to_string();
    TestServer::start_configured(dir, Arc::new(SystemClock), move |c: &mut Config| {
        c.store = Some(url)
    })
    .await
}

/// Two nodes on the log of `db`, in `dir/a` and `dir/b`.
async fn two_nodes(db: &ScratchSchema, dir: &Path) -> [TestServer; 2] {
    [
        node(db.url(), &dir.join("a")).await,
        node(db.url(), &dir.join("b")).await,
    ]
}

/// `/healthz` of a node: (events applied, head of the shared log).
async fn health(c: &Client, min_position: u64) -> (u64, u64) {
    let res = c
        .get(&format!("/healthz?min_position={min_position}"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "healthz: {}", res.text);
    let n = |k: &str| {
        res.json[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {}", res.text))
    };
    assert_eq!(n("head") - n("events"), n("lag"));
    (n("events"), n("head"))
}

/// Sends `body` to `path` until the answer is not 503 (the node kept conflicting with the
/// others, or lost the database): that answer, which must be one of `ok`.
async fn send_retrying(c: &Client, path: &str, body: Option<&Value>, ok: &[StatusCode]) -> Value {
    for _ in 0..200 {
        let res = c.send(Method::POST, path, body, &[]).await;
        if res.status == StatusCode::SERVICE_UNAVAILABLE {
            UNAVAILABLE.fetch_add(1, Ordering::Relaxed);
            assert!(res.headers.contains_key("retry-after"), "{}", res.text);
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        assert!(
            ok.contains(&res.status),
            "{path} answered {}: {}",
            res.status,
            res.text
        );
        let mut answer = res.json;
        answer["status"] = json!(res.status.as_u16());
        return answer;
    }
    panic!("{path} kept answering 503");
}

/// Allocates the next free address through Melange, retrying 503s: the address.
async fn allocate_retrying(c: &Client, path: &str) -> String {
    let answer = send_retrying(c, path, None, &[StatusCode::CREATED]).await;
    answer["ip_address"]["address"]
        .as_str()
        .expect("address")
        .to_string()
}

/// Allocates `identifier` from a pool, retrying 503s: (status, allocation). 201 when this
/// request made it, 200 when the identifier already had it (an earlier attempt whose answer
/// was lost counts: its commit may have gone through).
async fn take_retrying(c: &Client, pool: &str, identifier: &str) -> (u16, Value) {
    let answer = send_retrying(
        c,
        &format!("/v1/pools/{pool}/allocations"),
        Some(&json!({ "identifier": identifier })),
        &[StatusCode::CREATED, StatusCode::OK],
    )
    .await;
    (
        answer["status"].as_u64().unwrap() as u16,
        answer["allocation"].clone(),
    )
}

/// A pool allocation's address without its prefix length, as Melange lists it.
fn bare(allocation: &Value) -> String {
    let text = allocation["address"].as_str().expect("pool address");
    text.split('/').next().unwrap().to_string()
}

/// What one client was told.
#[derive(Default)]
struct Told {
    melange: Vec<String>,
    /// (status, allocation) of every pool answer, repeats included.
    pool: Vec<(u16, Value)>,
}

/// What a load over several nodes left: the block, the pool, the acknowledged Melange
/// addresses (sorted), the pool allocations by identifier, and how many answers were 201.
struct Load {
    block: String,
    pool: String,
    melange: Vec<String>,
    allocations: BTreeMap<String, Value>,
    pool_created: usize,
}

impl Load {
    /// Every acknowledged address of both surfaces, sorted.
    fn addresses(&self) -> Vec<String> {
        let mut all = self.melange.clone();
        all.extend(self.allocations.values().map(bare));
        all.sort();
        all
    }
}

/// Client `i` of `nodes`: `PER_CLIENT` allocations on its node, alternately through Melange
/// and from the pool under its own identifiers; its first pool identifiers asked again on
/// the next node; halfway, a shared identifier asked on the node of its group of clients.
async fn client(i: usize, nodes: Vec<Client>, block_path: String, pool: String) -> Told {
    let count = nodes.len();
    let (own, next) = (&nodes[i % count], &nodes[(i + 1) % count]);
    let mut told = Told::default();
    for k in 0..PER_CLIENT {
        if k == PER_CLIENT / 2 {
            let racing = &nodes[(i / SHARED) % count];
            let shared = format!("shared-{}", i % SHARED);
            told.pool.push(take_retrying(racing, &pool, &shared).await);
        }
        if (i + k).is_multiple_of(2) {
            told.melange.push(allocate_retrying(own, &block_path).await);
            continue;
        }
        let identifier = format!("c{i}-{k}");
        let first = take_retrying(own, &pool, &identifier).await;
        if k < 2 {
            let again = take_retrying(next, &pool, &identifier).await;
            assert_eq!(
                again,
                (200, first.1.clone()),
                "{identifier} on another node"
            );
        }
        told.pool.push(first);
    }
    told
}

/// `count` nodes on the log of `db`; a block and an address pool over it made on the first
/// and seen by all; then `CLIENTS` clients spread over the nodes (see [`client`]) while
/// `meanwhile` runs. Asserts that every answer for one identifier is the same allocation
/// and that no address was acknowledged twice, by either surface.
async fn load(
    db: &ScratchSchema,
    dir: &Path,
    count: usize,
    meanwhile: impl std::future::Future<Output = ()>,
) -> (Vec<TestServer>, Load) {
    let mut nodes = Vec::new();
    for i in 0..count {
        nodes.push(node(db.url(), &dir.join(i.to_string())).await);
    }
    let block = create_block(&nodes[0], "t1", "10.60.0.0/20").await;
    let pool = create_pool(
        &nodes[0],
        json!({"name": "shared", "kind": "address", "tenant_id": "t1", "resources": [block]}),
    )
    .await;
    let (created, _) = health(&nodes[0], 0).await;
    // Every node sees the block and the pool: a read with min_position waits until it has
    // applied them.
    for n in &nodes {
        assert!(health(n, created).await.0 >= created);
    }
    let clients: Vec<Client> = nodes.iter().map(|n| n.client.clone()).collect();
    let path = addresses_path("t1", &block);
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let task = client(i, clients.clone(), path.clone(), pool.clone());
        tasks.push(tokio::spawn(task));
    }
    meanwhile.await;
    let mut melange = Vec::new();
    let mut allocations: BTreeMap<String, Value> = BTreeMap::new();
    let mut pool_created = 0;
    for t in tasks {
        let told = t.await.expect("client");
        melange.extend(told.melange);
        for (status, a) in told.pool {
            pool_created += usize::from(status == 201);
            let identifier = a["identifier"].as_str().expect("identifier").to_string();
            let first = allocations.entry(identifier).or_insert_with(|| a.clone());
            assert_eq!(*first, a, "one identifier, two allocations");
        }
    }
    assert_eq!(melange.len(), CLIENTS * PER_CLIENT / 2);
    assert_eq!(allocations.len(), CLIENTS * PER_CLIENT / 2 + SHARED);
    melange.sort();
    let load = Load {
        block,
        pool,
        melange,
        allocations,
        pool_created,
    };
    let all = load.addresses();
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "{} addresses handed out twice",
        all.len() - distinct.len()
    );
    (nodes, load)
}

/// Convergence: each node applies the shared head, then lists the block's addresses.
async fn listed_on_every_node(nodes: &[TestServer], block: &str) -> Vec<Vec<String>> {
    let mut head = 0;
    for n in nodes {
        head = head.max(health(n, 0).await.1);
    }
    let mut lists = Vec::new();
    for n in nodes {
        let (applied, _) = health(n, head).await;
        assert!(applied >= head);
        let mut listed = block_addresses(n, "t1", block).await;
        listed.sort();
        lists.push(listed);
    }
    lists
}

/// Once the nodes have converged (after [`listed_on_every_node`]): every node lists exactly
/// the acknowledged pool allocations, and the pool's stream holds one `PoolAllocated` per
/// identifier, however many nodes and attempts asked for it.
async fn pool_converged(nodes: &[TestServer], load: &Load) {
    for (i, n) in nodes.iter().enumerate() {
        let path = format!("/v1/pools/{}/allocations", load.pool);
        let listed: BTreeMap<String, Value> = list_all(n, &path, "allocations")
            .await
            .into_iter()
            .map(|a| (a["identifier"].as_str().expect("identifier").to_string(), a))
            .collect();
        assert!(
            listed == load.allocations,
            "node {i} lists other pool allocations"
        );
    }
    let mut allocated: BTreeMap<String, usize> = BTreeMap::new();
    let mut from = 0;
    loop {
        let path = format!("/v1/events?stream=pool-{}&from={from}", load.pool);
        let r = nodes[0].get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let events = r.json["events"].as_array().expect("events");
        let Some(last) = events.last() else { break };
        from = last["version"].as_u64().expect("version") + 1;
        for e in events {
            if let Some(identifier) = e["event"]["PoolAllocated"]["identifier"].as_str() {
                *allocated.entry(identifier.to_string()).or_default() += 1;
            }
        }
    }
    let twice: Vec<_> = allocated.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "PoolAllocated more than once: {twice:?}");
    let logged: Vec<&String> = allocated.keys().collect();
    let acknowledged: Vec<&String> = load.allocations.keys().collect();
    assert_eq!(logged, acknowledged);
}

/// Stops the nodes and runs `verify` on the log: returns its report.
async fn stop_and_verify(nodes: Vec<TestServer>, db: &ScratchSchema) -> String {
    for n in nodes {
        n.stop().await;
    }
    let (ok, out, err) = run_cli(&["verify", "--store", db.url()]);
    assert!(ok && out.ends_with("ok\n"), "verify failed:\n{out}\n{err}");
    out
}

async fn nodes_share_one_log(count: usize) {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let started = std::time::Instant::now();
    let (nodes, load) = load(&db, tmp.path(), count, async {}).await;
    let took = started.elapsed();
    // Nothing failed, so nothing was committed unanswered: each identifier was made by
    // exactly one 201; every other answer for it (repeats, the racing clients) was 200.
    assert_eq!(load.pool_created, load.allocations.len());
    // Every acknowledged allocation of both surfaces and nothing else (a refused attempt
    // wrote nothing).
    let all = load.addresses();
    for listed in listed_on_every_node(&nodes, &load.block).await {
        assert_eq!(listed, all);
    }
    pool_converged(&nodes, &load).await;
    let out = stop_and_verify(nodes, &db).await;
    let held = format!("addresses held: {}", all.len());
    assert!(out.contains(&held), "{out}");
    eprintln!(
        "{count} nodes: {} addresses ({} Melange, {} pool) in {took:?}; 503 answers retried so far: {}",
        all.len(),
        load.melange.len(),
        load.allocations.len(),
        UNAVAILABLE.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_log_hand_out_each_address_once() {
    nodes_share_one_log(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_log_hand_out_each_address_once() {
    nodes_share_one_log(3).await;
}

/// Issue 12, item 6: the database drops every connection of both nodes several times
/// mid-load (`pg_terminate_backend`, what a restart of PostgreSQL does to them). Writes in
/// flight answer 503 + Retry-After (the clients retry), nothing is acknowledged without its
/// commit, the nodes recover by themselves, and the log verifies. An append whose commit
/// went through but whose answer was lost is in the log without an acknowledgement, so the
/// nodes may list more Melange addresses than the clients were told; never less, never one
/// address twice. A pool allocation whose answer was lost is not lost to its client: the
/// retry with the same identifier answers it (200), so the pool lists exactly what the
/// clients were told, each identifier from one `PoolAllocated`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_recover_by_themselves_when_the_database_drops_their_connections() {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let killer = async {
        let mut ended = 0;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            ended += db.terminate_connections().await.expect("terminate");
        }
        assert!(ended > 0, "no connection was ended");
        eprintln!("connections ended: {ended}");
    };
    let (nodes, load) = load(&db, tmp.path(), 2, killer).await;
    for listed in listed_on_every_node(&nodes, &load.block).await {
        let listed: HashSet<String> = listed.into_iter().collect();
        let lost: Vec<String> = load
            .addresses()
            .into_iter()
            .filter(|a| !listed.contains(a))
            .collect();
        assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    }
    pool_converged(&nodes, &load).await;
    eprintln!(
        "503 answers retried: {}",
        UNAVAILABLE.load(Ordering::Relaxed)
    );
    stop_and_verify(nodes, &db).await;
}

/// Issue 12, item 6: kill -9 of one node of two mid-load while the other goes on. The
/// clients of the killed node lose their connections (nothing they were not told about is
/// counted) and move to the survivor; every acknowledged allocation, from either node, is
/// on the survivor, and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_load_loses_no_acknowledged_allocation() {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let victim = Process::spawn_on_store(db.url());
    let survivor = node(db.url(), tmp.path()).await;
    let block = create_block(&survivor, "t1", "10.70.0.0/20").await;
    let (created, _) = health(&survivor, 0).await;
    health(&victim.client, created).await;
    let path = addresses_path("t1", &block);
    let progress = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let progress = progress.clone();
        let first = if i % 2 == 0 {
            victim.client.clone()
        } else {
            survivor.client.clone()
        };
        let (fallback, path) = (survivor.client.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut c = first;
            while got.len() < PER_CLIENT {
                let sent = c.http.request(Method::POST, c.url(&path)).send().await;
                let Ok(res) = sent else {
                    // No answer: the node is gone; the outcome is unknown, not counted.
                    c = fallback.clone();
                    continue;
                };
                let status = res.status();
                let body: serde_json::Value = res.json().await.unwrap_or_default();
                match status {
                    StatusCode::CREATED => {
                        progress.fetch_add(1, Ordering::Relaxed);
                        got.push(
                            body["ip_address"]["address"]
                                .as_str()
                                .expect("address")
                                .to_string(),
                        )
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        tokio::time::sleep(Duration::from_millis(20)).await
                    }
                    other => panic!("allocation answered {other}: {body}"),
                }
            }
            got
        }));
    }
    // Kill it a third of the way through the load.
    let total = (CLIENTS * PER_CLIENT) as u64;
    while progress.load(Ordering::Relaxed) < total / 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    victim.kill9();
    let at_kill = progress.load(Ordering::Relaxed);
    assert!(at_kill < total, "the load was over before the kill");
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("client"));
    }
    let distinct: HashSet<&String> = acknowledged.iter().collect();
    assert_eq!(
        distinct.len(),
        acknowledged.len(),
        "an address handed out twice"
    );
    let listed: HashSet<String> = listed_on_every_node(std::slice::from_ref(&survivor), &block)
        .await
        .remove(0)
        .into_iter()
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|a| !listed.contains(*a))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    stop_and_verify(vec![survivor], &db).await;
}

/// A TCP forwarder between a node and PostgreSQL that a test can unplug: while down it
/// drops every forwarded connection and refuses new ones, as a database that went away.
struct Plug {
    addr: std::net::SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
}

impl Plug {
    async fn to(target: &str) -> Plug {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (up, _) = tokio::sync::watch::channel(true);
        let watch = up.clone();
        let target = target.to_string();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut rx = watch.subscribe();
                if !*rx.borrow() {
                    continue; // dropped: refused
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = rx.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Plug { addr, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

/// Issue 12, item 6: the database goes away for a while under a node (its connections cut,
/// new ones refused). Reads go on answering from the last applied state, every write
/// answers 503 with Retry-After (never an acknowledgement without a commit), and once the
/// database is back the node recovers by itself: nothing acknowledged is lost, and the
/// log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_away_reads_go_on_writes_are_503_and_the_node_recovers() {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let direct = "127.0.0.1:5432";
    assert!(
        db.url().contains(direct),
        "the plug expects the default test database"
    );
    let plug = Plug::to(direct).await;
    let url = db.url().replace(direct, &plug.addr.to_string());
    let s = node(&url, tmp.path()).await;
    let block = create_block(&s, "t1", "10.80.0.0/24").await;
    let path = addresses_path("t1", &block);
    let mut acknowledged = Vec::new();
    for _ in 0..10 {
        acknowledged.push(allocate_retrying(&s, &path).await);
    }

    plug.set(false);
    for _ in 0..20 {
        let res = s.send(Method::POST, &path, None, &[]).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
        assert!(res.headers.contains_key("retry-after"));
        let mut listed = block_addresses(&s, "t1", &block).await;
        listed.sort();
        let mut want = acknowledged.clone();
        want.sort();
        assert_eq!(listed, want, "reads serve the last applied state");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        s.get("/healthz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    plug.set(true);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let next = loop {
        let res = s.send(Method::POST, &path, None, &[]).await;
        if res.status == StatusCode::CREATED {
            break res.json["ip_address"]["address"]
                .as_str()
                .expect("address")
                .to_string();
        }
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
        assert!(
            std::time::Instant::now() < deadline,
            "the node never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!acknowledged.contains(&next));
    let listed: HashSet<String> = block_addresses(&s, "t1", &block)
        .await
        .into_iter()
        .collect();
    assert!(acknowledged.iter().all(|a| listed.contains(a)));
    s.stop().await;
    let (ok, out, err) = run_cli(&["verify", "--store", db.url()]);
    assert!(ok && out.ends_with("ok\n"), "verify failed:\n{out}\n{err}");
}

/// Two nodes writing to different blocks never conflict, so each node's appends land past
/// the other's events it has not folded yet; each must still fold the whole log, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_writing_to_different_blocks_fold_each_others_events() {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let nodes = two_nodes(&db, tmp.path()).await;
    let blocks = [
        create_block(&nodes[0], "t1", "10.90.0.0/22").await,
        create_block(&nodes[1], "t1", "10.91.0.0/22").await,
    ];
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (c, path) = (
            nodes[i % 2].client.clone(),
            addresses_path("t1", &blocks[i % 2]),
        );
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..PER_CLIENT {
                got.push(allocate_retrying(&c, &path).await);
            }
            (i % 2, got)
        }));
    }
    let mut acknowledged = [Vec::new(), Vec::new()];
    for t in tasks {
        let (b, got) = t.await.expect("client");
        acknowledged[b].extend(got);
    }
    for (b, block) in blocks.iter().enumerate() {
        acknowledged[b].sort();
        for listed in listed_on_every_node(&nodes, block).await {
            assert_eq!(listed, acknowledged[b], "block {b}");
        }
    }
    let [a, b] = nodes;
    let out = stop_and_verify(vec![a, b], &db).await;
    let held = format!("addresses held: {}", CLIENTS * PER_CLIENT);
    assert!(out.contains(&held), "{out}");
}

/// POSTs `body` to `path` on every node at once, each retrying its 503s: the statuses.
async fn at_once(nodes: &[TestServer], path: &str, body: Value) -> Vec<(u16, Value)> {
    let asks = nodes.iter().map(|_| (path.to_string(), body.clone()));
    at_once_each(nodes, asks.collect()).await
}

/// POSTs `asks[i]` (path, body) to node `i`, all at once, each retrying its 503s: the
/// statuses (201 or 400).
async fn at_once_each(nodes: &[TestServer], asks: Vec<(String, Value)>) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = nodes
        .iter()
        .zip(asks)
        .map(|(n, (path, body))| {
            let c = n.client.clone();
            tokio::spawn(async move {
                let ok = [StatusCode::CREATED, StatusCode::BAD_REQUEST];
                let answer = send_retrying(&c, &path, Some(&body), &ok).await;
                (answer["status"].as_u64().unwrap() as u16, answer)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("request"));
    }
    out
}

/// A subnet is decided against its parent's subnets, so creating one must move the
/// parent's stream: two nodes carving one parent at once then conflict there, and the
/// later one decides again against the other's subnet. Asked for the same /24 on both
/// nodes at once, one is created and the other refused (overlap); two prefix pools over
/// one resource, one allocating on each node, never carve the same prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_carve_overlapping_subnets_of_one_block() {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let nodes = two_nodes(&db, tmp.path()).await;
    let parent = create_block(&nodes[0], "t1", "10.100.0.0/16").await;
    let pools = [
        create_pool(
            &nodes[0],
            json!({"name": "a", "kind": "prefix", "tenant_id": "t1", "resources": [parent],
                   "default_prefix_length": 26}),
        )
        .await,
        create_pool(
            &nodes[0],
            json!({"name": "b", "kind": "prefix", "tenant_id": "t1", "resources": [parent],
                   "default_prefix_length": 26}),
        )
        .await,
    ];
    let (made, _) = health(&nodes[0], 0).await;
    health(&nodes[1], made).await;
    let subnets = format!("/v0.1/ipam/tenants/t1/ip_blocks/{parent}/subnets");
    for round in 0..16 {
        let body = json!({"subnet": {"cidr": format!("10.100.{round}.0/24")}});
        let answers = at_once(&nodes, &subnets, body).await;
        let created = answers.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(created, 1, "round {round}: {answers:?}");
    }
    let mut prefixes = Vec::new();
    for round in 0..16 {
        let tasks: Vec<_> = (0..2)
            .map(|i| {
                let (c, pool) = (nodes[i].client.clone(), pools[i].clone());
                let identifier = format!("r{round}");
                tokio::spawn(async move { take_retrying(&c, &pool, &identifier).await })
            })
            .collect();
        for t in tasks {
            let (status, a) = t.await.expect("pool request");
            assert_eq!(status, 201, "{a}");
            prefixes.push(a["prefix"].as_str().expect("prefix").to_string());
        }
    }
    let distinct: HashSet<&String> = prefixes.iter().collect();
    assert_eq!(
        distinct.len(),
        prefixes.len(),
        "one prefix carved twice: {prefixes:?}"
    );
    let [a, b] = nodes;
    stop_and_verify(vec![a, b], &db).await;
}

/// The overlap rules that read other blocks' streams (melange-semantics.md §1): top-level
/// blocks of one network (across tenants) and public root blocks (globally) must not
/// overlap. Each such creation claims its scope's stream (`BlockClaimed`), so two nodes
/// placing overlapping blocks there at once conflict and the later decides again: asked on
/// both nodes at once, by two tenants, one block is created and the other refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_place_overlapping_blocks_in_one_network_or_the_public_space() {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let nodes = two_nodes(&db, tmp.path()).await;
    let blocks = |tenant: &str| format!("/v0.1/ipam/tenants/{tenant}/ip_blocks");
    for round in 0..16 {
        let network = format!("net-{round}");
        let asks = vec![
            (
                blocks("t1"),
                json!({"ip_block": {"type": "private", "cidr": format!("10.{round}.0.0/16"),
                                    "network_id": network}}),
            ),
            (
                blocks("t2"),
                json!({"ip_block": {"type": "private", "cidr": format!("10.{round}.1.0/24"),
                                    "network_id": network}}),
            ),
        ];
        let answers = at_once_each(&nodes, asks).await;
        let created = answers.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(created, 1, "network round {round}: {answers:?}");
        let refused = format!("{answers:?}");
        assert!(refused.contains("in same network"), "{refused}");
    }
    for round in 0..16 {
        let asks = vec![
            (
                blocks("t1"),
                json!({"ip_block": {"type": "public", "cidr": format!("100.{round}.0.0/16")}}),
            ),
            (
                blocks("t2"),
                json!({"ip_block": {"type": "public", "cidr": format!("100.{round}.7.0/24")}}),
            ),
        ];
        let answers = at_once_each(&nodes, asks).await;
        let created = answers.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(created, 1, "public round {round}: {answers:?}");
        let refused = format!("{answers:?}");
        assert!(refused.contains("overlaps with public block"), "{refused}");
    }
    let [a, b] = nodes;
    stop_and_verify(vec![a, b], &db).await;
}
