//! The service on PostgreSQL (issue 12): `serve --store postgres://...` keeps its state
//! across a restart, `verify` checks a database log, and `migrate` moves a log from the
//! file log to PostgreSQL and back with every event, envelope and position equal. Each test
//! has a schema of its own on the machine's PostgreSQL (`ScratchSchema`), dropped after.

use std::path::Path;
use std::sync::Arc;

use ipledger_api::config::Config;
use ipledger_commands::SystemClock;
use ipledger_infra::postgres::{connect, PostgresLocation, ScratchSchema};

use crate::durability::{allocate, block_addresses, create_block, event_count};
use crate::support::{run_cli, TestServer};

/// A server over the log at `store` (a PostgreSQL URL or `file:DIR`).
async fn serve(store: &str, dir: &Path) -> TestServer {
    let store = store.to_string();
    TestServer::start_configured(dir, Arc::new(SystemClock), move |c: &mut Config| {
        c.store = Some(store)
    })
    .await
}

/// A block with `n` addresses allocated; returns (block id, addresses).
async fn fill(s: &TestServer, n: usize) -> (String, Vec<String>) {
    let block = create_block(s, "t1", "10.20.0.0/24").await;
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(allocate(s, "t1", &block).await);
    }
    (block, got)
}

fn cli_ok(args: &[&str]) -> String {
    let (ok, out, err) = run_cli(args);
    assert!(ok, "ipledger {args:?} failed:\n{out}\n{err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_keeps_state_across_a_restart_and_verifies() {
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    let s = serve(db.url(), tmp.path()).await;
    let (block, allocated) = fill(&s, 40).await;
    let events = event_count(&s).await;
    s.stop().await;
    // Nothing went to the data directory: the log is in the database.
    assert!(std::fs::read_dir(tmp.path()).expect("dir").next().is_none());
    let s = serve(db.url(), tmp.path()).await;
    assert_eq!(event_count(&s).await, events);
    let mut listed = block_addresses(&s, "t1", &block).await;
    listed.sort();
    let mut want = allocated.clone();
    want.sort();
    assert_eq!(listed, want);
    // The next allocation goes on from the restored free map.
    let next = allocate(&s, "t1", &block).await;
    assert!(!allocated.contains(&next));
    s.stop().await;
    let out = cli_ok(&["verify", "--store", db.url()]);
    assert!(out.contains(&format!("records: {}", events + 1)), "{out}");
    assert!(
        out.contains("addresses held: 41") && out.ends_with("ok\n"),
        "{out}"
    );
    // The hash chain over the rows (issue 11 item 6): whole from the first row, then broken
    // exactly at the row an UPDATE changed behind the service's back.
    assert!(
        out.contains(&format!("chain: positions 0 to {events}, head ")),
        "{out}"
    );
    let location: PostgresLocation = db.url().parse().expect("the scratch URL");
    let client = connect(&location).await.expect("connect");
    let sql = format!(
        "UPDATE \"{}\".events SET actor = 'mallory' WHERE position = 5",
        location.schema
    );
    assert_eq!(client.execute(&sql, &[]).await.expect("update"), 1);
    let (ok, out, _) = run_cli(&["verify", "--store", db.url()]);
    assert!(!ok, "a changed row fails verify: {out}");
    assert!(
        out.contains("chain: BROKEN at position 5: ")
            && out.contains("hash chain broken at position 5"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_moves_a_log_to_postgres_and_back_with_every_event_equal() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (first, back) = (tmp.path().join("first"), tmp.path().join("back"));
    let s = TestServer::start_in(&first, Arc::new(SystemClock)).await;
    let (block, allocated) = fill(&s, 30).await;
    s.stop().await;
    let db = ScratchSchema::new();
    let file_first = format!("file:{}", first.display());
    let file_back = format!("file:{}", back.display());

    let out = cli_ok(&["migrate", "--from", &file_first, "--to", db.url()]);
    assert!(out.contains("both ends equal"), "{out}");
    cli_ok(&["verify", "--store", db.url()]);
    // Into a store that is not empty: refused, nothing changed.
    let (ok, _, err) = run_cli(&["migrate", "--from", &file_first, "--to", db.url()]);
    assert!(!ok && err.contains("empty"), "{err}");

    let out = cli_ok(&["migrate", "--from", db.url(), "--to", &file_back]);
    assert!(out.contains("both ends equal"), "{out}");
    cli_ok(&["verify", "--data-dir", back.to_str().expect("utf-8 path")]);
    let export = |dir: &Path| cli_ok(&["events", "--data-dir", dir.to_str().expect("utf-8")]);
    let (a, b) = (export(&first), export(&back));
    assert!(a.lines().count() > 30);
    assert_eq!(a, b, "the round trip changed the log");
    // The database's copy reads out the same, and replays to the same counts.
    assert_eq!(cli_ok(&["events", "--store", db.url()]), a);
    let counts = |out: String| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("seconds") && !l.starts_with("events_per"))
            .map(String::from)
            .collect()
    };
    let on_file = counts(cli_ok(&[
        "replay",
        "--data-dir",
        back.to_str().expect("utf-8"),
    ]));
    assert_eq!(counts(cli_ok(&["replay", "--store", db.url()])), on_file);
    assert!(
        on_file.contains(&"addresses: 30 (30 live)".to_string()),
        "{on_file:?}"
    );

    // The copy on PostgreSQL serves the same state.
    let s = serve(db.url(), &tmp.path().join("unused")).await;
    let mut listed = block_addresses(&s, "t1", &block).await;
    listed.sort();
    let mut want = allocated;
    want.sort();
    assert_eq!(listed, want);
    s.stop().await;
}

/// Read-your-writes on any node: every 2xx carries `x-ipledger-position`; `min_position`
/// that is not a number is a 400, one the node has not reached within the wait is a 503
/// with Retry-After. (On the file log: the header and the parameter do not depend on the
/// backend.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_in_answers_and_min_position_in_reads() {
    let s = TestServer::start().await;
    let block = create_block(&s, "t1", "10.30.0.0/24").await;
    let res = s
        .send(
            reqwest::Method::POST,
            &crate::durability::addresses_path("t1", &block),
            None,
            &[],
        )
        .await;
    let position: u64 = res.headers["x-ipledger-position"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number");
    assert_eq!(position, event_count(&s).await);
    let ok = s.get(&format!("/healthz?min_position={position}")).await;
    assert_eq!(ok.status, reqwest::StatusCode::OK);
    let bad = s.get("/healthz?min_position=soon").await;
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST, "{}", bad.text);
    let ahead = s
        .get(&format!("/healthz?min_position={}", position + 1))
        .await;
    assert_eq!(ahead.status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(ahead.headers.contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_on_a_shared_log_need_one_configured_key() {
    use crate::registrations::{body, zone};
    let db = ScratchSchema::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    // Without a configured key a node of a shared log cannot hash secrets as the others do:
    // registrations answer 503 and say why, and nothing is appended.
    let keyless = serve(db.url(), &tmp.path().join("keyless")).await;
    zone(&keyless, "83.118.168.0/28").await;
    let before = event_count(&keyless).await;
    let r = keyless
        .post("/v2/address", body(None, "SuperSecret", "a", CLUSTER, 0))
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.text.contains("registration_secret_key"), "{}", r.text);
    assert_eq!(event_count(&keyless).await, before);
    keyless.stop().await;
    // Two nodes with the same key: a secret registered through one opens it on the other.
    let key = "ab".repeat(32);
    let node = |name: &str| {
        let (store, key, dir) = (db.url().to_string(), key.clone(), tmp.path().join(name));
        async move {
            TestServer::start_configured(&dir, Arc::new(SystemClock), move |c: &mut Config| {
                c.store = Some(store);
                c.registration_secret_key = Some(
                    ipledger_api::registrations::key::RegistrationKey::from_hex(&key).expect("key"),
                );
            })
            .await
        }
    };
    let (a, b) = (node("a").await, node("b").await);
    let r = a
        .post("/v2/address", body(None, "SuperSecret", "a", CLUSTER, 0))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let address = r.json["address"].as_str().expect("address").to_string();
    // Node b may not have applied a's registration yet: its decision then conflicts on the
    // registration's stream and is made again on the caught-up state.
    let shared = body(Some(&address), "SuperSecret", "b", CLUSTER, 0);
    let r = b.post("/v2/address", shared).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["message"], "address updated", "{}", r.text);
    a.stop().await;
    b.stop().await;
}

const CLUSTER: &str = "3f9c8a52-4a8e-4a1e-9b1a-2f6d1c3e8b70";
