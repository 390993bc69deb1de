//! Several nodes, one truth (issue 12, item 4): two and three ipledger nodes on one
//! PostgreSQL log, 64 clients spread over them allocating from one block. Each node decides
//! against its own state; a stale decision conflicts on the block's stream, the node catches
//! up and decides again (503 + Retry-After when that keeps failing: the client retries).
//! Checked: no address is handed out twice, every acknowledged allocation is listed on every
//! node once they have applied the head (`min_position`), and `verify` passes on the log.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipledger_api::config::Config;
use ipledger_commands::SystemClock;
use ipledger_infra::postgres::ScratchSchema;
use reqwest::{Method, StatusCode};

use crate::durability::{addresses_path, block_addresses, create_block};
use crate::support::{run_cli, Client, TestServer};

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 8;

async fn node(url: &str, dir: &Path) -> TestServer {
    let url = url.to_string();
    TestServer::start_configured(dir, Arc::new(SystemClock), move |c: &mut Config| {
        c.store = Some(url)
    })
    .await
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

/// Allocates the next free address, retrying while the answer is 503 (the node kept
/// conflicting with the others): Some(address) once acknowledged.
async fn allocate_retrying(c: &Client, path: &str) -> String {
    for _ in 0..200 {
        let res = c.send(Method::POST, path, None, &[]).await;
        match res.status {
            StatusCode::CREATED => {
                return res.json["ip_address"]["address"]
                    .as_str()
                    .expect("address")
                    .to_string()
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(res.headers.contains_key("retry-after"), "{}", res.text);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("allocation answered {other}: {}", res.text),
        }
    }
    panic!("an allocation kept failing with 503");
}

async fn nodes_share_one_log(count: usize) {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut nodes = Vec::new();
    for i in 0..count {
        nodes.push(node(db.url(), &tmp.path().join(i.to_string())).await);
    }
    let block = create_block(&nodes[0], "t1", "10.60.0.0/20").await;
    let (created, _) = health(&nodes[0], 0).await;
    // Every node sees the block: a read with min_position waits until it has applied it.
    for n in &nodes {
        assert!(health(n, created).await.0 >= created);
    }
    let path = addresses_path("t1", &block);
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (c, path) = (nodes[i % count].client.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..PER_CLIENT {
                got.push(allocate_retrying(&c, &path).await);
            }
            got
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("client"));
    }
    let distinct: HashSet<&String> = acknowledged.iter().collect();
    assert_eq!(acknowledged.len(), CLIENTS * PER_CLIENT);
    assert_eq!(
        distinct.len(),
        acknowledged.len(),
        "{} addresses handed out twice",
        acknowledged.len() - distinct.len()
    );
    // Convergence: each node applies the shared head, then lists every acknowledged
    // allocation (and nothing else: a refused attempt wrote nothing).
    let mut head = 0;
    for n in &nodes {
        head = head.max(health(n, 0).await.1);
    }
    acknowledged.sort();
    for n in &nodes {
        let (applied, _) = health(n, head).await;
        assert!(applied >= head);
        let mut listed = block_addresses(n, "t1", &block).await;
        listed.sort();
        assert_eq!(listed, acknowledged);
    }
    for n in nodes {
        n.stop().await;
    }
    let (ok, out, err) = run_cli(&["verify", "--store", db.url()]);
    assert!(ok, "verify failed:\n{out}\n{err}");
    let held = format!("addresses held: {}", CLIENTS * PER_CLIENT);
    assert!(out.contains(&held) && out.ends_with("ok\n"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_log_hand_out_each_address_once() {
    nodes_share_one_log(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_log_hand_out_each_address_once() {
    nodes_share_one_log(3).await;
}
