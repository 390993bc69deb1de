//! Snapshots of the projections (issue 11 item 5): a start-up from the newest valid snapshot
//! (folding only the log after it) answers exactly as a full replay does, and a snapshot
//! that cannot be trusted — damaged, of another projection schema version, beyond the log's
//! head — is passed over for an older one or a full replay. The server writes one at a
//! graceful shutdown (SIGTERM) and every `snapshot_interval_events` events; `ipledger
//! snapshot` and `ipledger rebuild` write one offline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipledger_commands::SystemClock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{run_cli, Process, TestServer};

const TB: &str = "/v0.1/ipam/tenants/acme/ip_blocks";

async fn server(dir: &Path, interval: u64) -> TestServer {
    TestServer::start_configured(dir, Arc::new(SystemClock), |c| {
        c.snapshot_interval_events = interval;
        c.purge_interval_seconds = 0;
        c.registration_cleanup_interval_seconds = 0;
    })
    .await
}

async fn ok(r: crate::support::Res, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    r.json
}

/// Writes over several surfaces (`round` keeps each round's objects apart) and returns the
/// paths whose answers must survive every start-up.
async fn workload(srv: &TestServer, round: u8) -> Vec<String> {
    let cidr = format!("10.{}.0.0/24", 100 + round);
    let body = json!({"ip_block": {"type": "private", "cidr": cidr, "network_id": format!("net-{round}")}});
    let block = ok(srv.post(TB, body).await, StatusCode::CREATED).await["ip_block"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let addresses = format!("{TB}/{block}/ip_addresses");
    for i in 0..8 {
        let body = json!({"ip_address": {"used_by_device": format!("vm-{i}")}});
        ok(srv.post(&addresses, body).await, StatusCode::CREATED).await;
    }
    let third = format!("10.{}.0.4", 100 + round);
    ok(
        srv.delete(&format!("{addresses}/{third}")).await,
        StatusCode::OK,
    )
    .await;
    let body = json!({"policy": {"name": format!("p{round}")}});
    ok(
        srv.post("/v0.1/ipam/tenants/acme/policies", body).await,
        StatusCode::CREATED,
    )
    .await;
    let pool_block = format!("10.{}.0.0/24", 150 + round);
    let body = json!({"ip_block": {"type": "private", "cidr": pool_block}});
    let resource = ok(srv.post(TB, body).await, StatusCode::CREATED).await["ip_block"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let body = json!({"name": format!("pool-{round}"), "kind": "address", "tenant_id": "acme", "resources": [resource]});
    let pool = ok(srv.post("/v1/pools", body).await, StatusCode::CREATED).await["pool"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    for id in ["a", "b", "c"] {
        let body = json!({"identifier": id});
        let path = format!("/v1/pools/{pool}/allocations");
        ok(srv.post(&path, body).await, StatusCode::CREATED).await;
    }
    let body = json!({"project_id": "acme", "is_ipv6": false, "source": {"private_network_id": format!("net-{round}")}});
    ok(
        srv.post("/ipam/v1/regions/fr-par/ips", body).await,
        StatusCode::OK,
    )
    .await;
    vec![
        TB.to_string(),
        format!("{addresses}?limit=1000"),
        format!("{addresses}/{third}"),
        "/v0.1/ipam/tenants/acme/policies".into(),
        "/v0.1/ipam/allocated_ip_addresses?limit=1000".into(),
        "/v1/pools".into(),
        format!("/v1/pools/{pool}/allocations"),
        format!("/v1/pools/{pool}/utilization"),
        "/ipam/v1/regions/fr-par/ips".into(),
        "/v1/auth/tokens".into(),
    ]
}

async fn answers(srv: &TestServer, paths: &[String]) -> Vec<(String, u16, Value)> {
    let mut out = Vec::new();
    for p in paths {
        let r = srv.get(p).await;
        out.push((p.clone(), r.status.as_u16(), r.json));
    }
    out
}

fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("snapshots"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "snap"));
    files.sort();
    files
}

/// The positions of the snapshots in `dir`'s snapshot directory, oldest first.
fn positions(dir: &Path) -> Vec<u64> {
    let position_of = |file: &PathBuf| -> u64 {
        let stem = file.file_stem().and_then(|s| s.to_str()).expect("name");
        stem.parse().expect("a position")
    };
    snapshot_files(dir).iter().map(position_of).collect()
}

fn cli(args: &[&str]) -> String {
    let (ok, out, err) = run_cli(args);
    assert!(ok, "ipledger {args:?}: {out}{err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_from_a_snapshot_equals_a_full_replay_and_untrusted_ones_are_passed_over() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let dir_s = dir.to_str().expect("utf-8").to_string();

    // Round 1, then a clean stop: the shutdown snapshot is at the head.
    let srv = server(&dir, 100_000).await;
    assert_eq!(srv.snapshot_loaded(), None, "a new log has no snapshot");
    let mut paths = workload(&srv, 1).await;
    let head1 = srv.get("/healthz").await.json["events"]
        .as_u64()
        .expect("events");
    let metrics = srv.get("/metrics").await.text;
    assert!(
        metrics.contains("ipledger_snapshot_age_seconds -1"),
        "no snapshot written yet: {metrics}"
    );
    srv.stop().await;
    assert_eq!(positions(&dir), vec![head1]);

    // Round 2 with snapshots off: the next start folds only round 2 after the snapshot.
    let srv = server(&dir, 0).await;
    assert_eq!(srv.snapshot_loaded(), Some(head1));
    paths.extend(workload(&srv, 2).await);
    let expected = answers(&srv, &paths).await;
    let head2 = srv.get("/healthz").await.json["events"]
        .as_u64()
        .expect("events");
    assert!(head2 > head1);
    srv.stop().await;
    assert_eq!(snapshot_files(&dir).len(), 1, "snapshots off: none written");

    let srv = server(&dir, 0).await;
    assert_eq!(
        srv.snapshot_loaded(),
        Some(head1),
        "the tail folded after it"
    );
    assert_eq!(answers(&srv, &paths).await, expected);
    srv.stop().await;

    // Without any snapshot: a full replay, the same answers.
    let full = tmp.path().join("full");
    crate::old_log::copy_dir(&dir, &full);
    std::fs::remove_dir_all(full.join("snapshots")).expect("remove");
    let srv = server(&full, 0).await;
    assert_eq!(srv.snapshot_loaded(), None);
    assert_eq!(answers(&srv, &paths).await, expected);
    srv.stop().await;

    // `ipledger snapshot` writes one at the head (from the snapshot at head1).
    let out = cli(&["snapshot", "--data-dir", &dir_s]);
    assert!(
        out.contains(&format!("folded from the snapshot at position {head1}")),
        "{out}"
    );
    assert!(out.contains(&format!("position: {head2}")), "{out}");
    let srv = server(&dir, 0).await;
    assert_eq!(srv.snapshot_loaded(), Some(head2));
    assert_eq!(answers(&srv, &paths).await, expected);
    srv.stop().await;

    // A snapshot beyond the log's head (another log's, or a lost tail) is passed over.
    let newest = snapshot_files(&dir).pop().expect("a snapshot");
    let beyond = newest.with_file_name(format!("{:020}.snap", head2 + 1000));
    std::fs::copy(&newest, &beyond).expect("copy");
    let srv = server(&dir, 0).await;
    assert_eq!(srv.snapshot_loaded(), Some(head2));
    assert_eq!(answers(&srv, &paths).await, expected);
    srv.stop().await;
    std::fs::remove_file(&beyond).expect("remove");

    // A damaged newest snapshot (one payload byte): the older one is used.
    let mut bytes = std::fs::read(&newest).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&newest, &bytes).expect("write");
    let srv = server(&dir, 0).await;
    assert_eq!(
        srv.snapshot_loaded(),
        Some(head1),
        "the damaged one is skipped"
    );
    assert_eq!(answers(&srv, &paths).await, expected);
    srv.stop().await;

    // Every snapshot of another projection schema version: a full replay.
    for file in snapshot_files(&dir) {
        let mut bytes = std::fs::read(&file).expect("read");
        let schema = ipledger_projections::SNAPSHOT_SCHEMA_VERSION + 1;
        bytes[8..12].copy_from_slice(&schema.to_le_bytes());
        std::fs::write(&file, &bytes).expect("write");
    }
    let srv = server(&dir, 0).await;
    assert_eq!(srv.snapshot_loaded(), None);
    assert_eq!(answers(&srv, &paths).await, expected);
    srv.stop().await;

    // `ipledger rebuild` drops them all and writes a fresh one at the head.
    let out = cli(&["rebuild", "--data-dir", &dir_s]);
    assert!(out.contains("folded the whole log"), "{out}");
    assert_eq!(positions(&dir), vec![head2]);
    let srv = server(&dir, 0).await;
    assert_eq!(srv.snapshot_loaded(), Some(head2));
    assert_eq!(answers(&srv, &paths).await, expected);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_writes_a_snapshot_at_sigterm_and_every_interval() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let proc = Process::spawn_with_env(&dir, &[("IPLEDGER_SNAPSHOT_INTERVAL_EVENTS", "1000000")]);
    let body = json!({"ip_block": {"type": "private", "cidr": "10.9.0.0/24"}});
    let r = proc.client.post(TB, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let head = proc.client.get("/healthz").await.json["events"]
        .as_u64()
        .expect("events");
    assert!(
        snapshot_files(&dir).is_empty(),
        "the interval is not reached"
    );
    proc.terminate();
    assert_eq!(
        positions(&dir),
        vec![head],
        "the snapshot written at SIGTERM"
    );

    // Every interval: with 5 events between snapshots, writes leave snapshots behind while
    // the server runs (the task looks once a second), at most KEEP of them.
    let srv = server(&dir, 5).await;
    assert_eq!(srv.snapshot_loaded(), Some(head));
    for i in 0..8 {
        let body =
            json!({"ip_block": {"type": "private", "cidr": format!("10.{}.0.0/24", 20 + i)}});
        ok(srv.post(TB, body).await, StatusCode::CREATED).await;
    }
    let mut waited = 0;
    while snapshot_files(&dir).len() < 2 && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert!(snapshot_files(&dir).len() >= 2, "a periodic snapshot");
    let metrics = srv.get("/metrics").await.text;
    assert!(
        !metrics.contains("ipledger_snapshot_age_seconds -1"),
        "the age of the periodic snapshot: {metrics}"
    );
    srv.stop().await;
    assert!(snapshot_files(&dir).len() <= ipledger_api::snapshots::KEEP);
}
