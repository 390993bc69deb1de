//! Zone registrations over HTTP (issue 10; vitistack ipam-api, peer-systems appendix A) with
//! the original's bodies: the four register cases, address sharing, rotation allowed and
//! refused, a wrong secret answered like a missing address, expiry and the cleanup by an
//! injected clock (the address released with its last service only, then reusable),
//! `deny_external_cleanup` against a cluster-wide delete, the history, `registrations_open`,
//! no secret anywhere in the data directory or the answers, and registrations racing Melange
//! allocations on the same block without a duplicate.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ipledger_commands::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Client, Res, TestServer};

const NS: &str = "467579ae-b8d5-4524-9ce8-bcb66ee02ce0";
const CLUSTER: &str = "0f3c7805-6b1d-4387-b8c4-b8c5d0e9b878";
const OTHER_CLUSTER: &str = "1f3c7805-6b1d-4387-b8c4-b8c5d0e9b878";
/// Every secret these tests send: none may be found in the data directory or an answer.
const SECRETS: &[&str] = &[
    "SuperSecret",
    "AnotherSecret42",
    "RotatedSecret99",
    "GuardedSecret77",
    "PlainSecret5555",
];

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
    ))
}

/// The original README's body, with the given address (None: absent), secret and service.
pub(crate) fn body(
    address: Option<&str>,
    secret: &str,
    service: &str,
    cluster: &str,
    days: u32,
) -> Value {
    let mut b = json!({
        "ip_family": "ipv4",
        "zone": "inet",
        "secret": secret,
        "service": {
            "service_name": service,
            "namespace_id": NS,
            "cluster_id": cluster,
            "retention_period_days": days,
            "deny_external_cleanup": false
        }
    });
    if let Some(a) = address {
        b["address"] = json!(a);
    }
    b
}

async fn delete(c: &Client, path: &str, body: &Value) -> Res {
    c.send(Method::DELETE, path, Some(body), &[]).await
}

/// Tenant `viti`'s blocks in zone `inet` (an IPv4 and an IPv6 address pool).
pub(crate) async fn zone(srv: &TestServer, v4: &str) -> String {
    let mut v4_block = String::new();
    for (cidr, name) in [(v4, "inet-v4"), ("2001:db8:77::/120", "inet-v6")] {
        let r = srv
            .post(
                "/v0.1/ipam/tenants/viti/ip_blocks",
                json!({"ip_block": {"type": "private", "cidr": cidr}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let block = r.json["ip_block"]["id"].as_str().unwrap().to_string();
        let r = srv
            .post(
                "/v1/pools",
                json!({"name": name, "kind": "address", "tenant_id": "viti", "resources": [block], "zone": "inet"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        if v4_block.is_empty() {
            v4_block = block;
        }
    }
    v4_block
}

fn ok(r: &Res, message: &str) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["message"], message, "{}", r.text);
    r.json["address"].as_str().expect("address").to_string()
}

async fn cleanup(srv: &TestServer) -> u64 {
    let r = srv.post("/v1/admin/registrations/cleanup", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["removed"].as_u64().expect("count")
}

/// Every file under `dir`, as bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).expect("readable")));
        }
    }
    out
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for s in SECRETS {
        assert!(
            !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
            "secret {s:?} found in {what}"
        );
    }
}

#[tokio::test]
async fn the_originals_cases_over_http() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    let block = zone(&srv, "83.118.168.0/28").await;
    let mut answers: Vec<String> = Vec::new();
    let mut keep = |r: &Res| answers.push(r.text.clone());

    // Case 3: the README's request, a given free address of the zone.
    let r = srv
        .post(
            "/",
            body(
                Some("83.118.168.10/32"),
                "SuperSecret",
                "ingress_inet",
                CLUSTER,
                0,
            ),
        )
        .await;
    keep(&r);
    assert_eq!(ok(&r, "address registered"), "83.118.168.10/32");
    assert_eq!(r.json["cluster_id"], CLUSTER);
    // Case 4: same address and secret, another service: shared.
    let r = srv
        .post(
            "/v2/address",
            body(
                Some("83.118.168.10/32"),
                "SuperSecret",
                "ingress_b",
                CLUSTER,
                1,
            ),
        )
        .await;
    keep(&r);
    assert_eq!(ok(&r, "address updated"), "83.118.168.10/32");
    // Case 1: no address: the next free one of the zone; IPv6 from the IPv6 pool.
    let r = srv
        .post(
            "/v2/address",
            body(None, "AnotherSecret42", "api", OTHER_CLUSTER, 0),
        )
        .await;
    keep(&r);
    let first = ok(&r, "address registered");
    assert!(
        first.starts_with("83.118.168.") && first != "83.118.168.10/32",
        "{first}"
    );
    let mut v6 = body(None, "AnotherSecret42", "api6", OTHER_CLUSTER, 0);
    v6["ip_family"] = json!("ipv6");
    let r = srv.post("/v2/address", v6).await;
    keep(&r);
    assert!(
        ok(&r, "address registered").starts_with("2001:db8:77::"),
        "{}",
        r.text
    );
    // Case 2: the same service again without an address: the same address.
    let r = srv
        .post("/", body(None, "AnotherSecret42", "api", OTHER_CLUSTER, 0))
        .await;
    keep(&r);
    assert_eq!(ok(&r, "address updated"), first);

    // A wrong secret: the same answer as an address another surface holds.
    let wrong = srv
        .post(
            "/",
            body(Some("83.118.168.10/32"), "AnotherSecret42", "x", CLUSTER, 0),
        )
        .await;
    keep(&wrong);
    let r = srv
        .post(
            &format!("/v0.1/ipam/tenants/viti/ip_blocks/{block}/ip_addresses"),
            json!({"ip_address": {"address": "83.118.168.12"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let held = srv
        .post(
            "/",
            body(Some("83.118.168.12/32"), "AnotherSecret42", "x", CLUSTER, 0),
        )
        .await;
    assert_eq!(wrong.status, 409, "{}", wrong.text);
    assert_eq!(
        wrong.text.replace(".10", ".N"),
        held.text.replace(".12", ".N")
    );
    // A delete with a wrong secret is the 404 of an address never registered.
    let d1 = delete(
        &srv,
        "/",
        &body(
            Some("83.118.168.10/32"),
            "AnotherSecret42",
            "ingress_b",
            CLUSTER,
            0,
        ),
    )
    .await;
    let d2 = delete(
        &srv,
        "/",
        &body(
            Some("83.118.168.13/32"),
            "AnotherSecret42",
            "ingress_b",
            CLUSTER,
            0,
        ),
    )
    .await;
    keep(&d1);
    assert_eq!(d1.status, 404, "{}", d1.text);
    assert_eq!(d1.text.replace(".10", ".N"), d2.text.replace(".13", ".N"));

    // Rotation: refused with two services, allowed for the only one (and then the old
    // secret no longer opens it).
    let mut rot = body(
        Some("83.118.168.10/32"),
        "SuperSecret",
        "ingress_inet",
        CLUSTER,
        0,
    );
    rot["new_secret"] = json!("RotatedSecret99");
    let r = srv.post("/", rot).await;
    keep(&r);
    assert_eq!(r.status, 409, "{}", r.text);
    let mut rot = body(Some(&first), "AnotherSecret42", "api", OTHER_CLUSTER, 0);
    rot["new_secret"] = json!("RotatedSecret99");
    let r = srv.post("/", rot).await;
    keep(&r);
    ok(&r, "address updated");
    let r = srv
        .post(
            "/",
            body(Some(&first), "AnotherSecret42", "api", OTHER_CLUSTER, 0),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = srv
        .post(
            "/",
            body(Some(&first), "RotatedSecret99", "api", OTHER_CLUSTER, 0),
        )
        .await;
    ok(&r, "address updated");

    // Melange cannot free a registration's address.
    let r = srv
        .delete(&format!(
            "/v0.1/ipam/tenants/viti/ip_blocks/{block}/ip_addresses/83.118.168.10"
        ))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);

    // Expiry: one service now (retention 0), the other after one day.
    let r = delete(
        &srv,
        "/",
        &body(
            Some("83.118.168.10/32"),
            "SuperSecret",
            "ingress_inet",
            CLUSTER,
            0,
        ),
    )
    .await;
    keep(&r);
    ok(&r, "service expiry set");
    let r = delete(
        &srv,
        "/v2/service",
        &body(
            Some("83.118.168.10/32"),
            "SuperSecret",
            "ingress_b",
            CLUSTER,
            1,
        ),
    )
    .await;
    ok(&r, "service expiry set");
    clock.advance(chrono::Duration::minutes(1));
    assert_eq!(cleanup(&srv).await, 1);
    let listed = srv
        .get("/v1/registrations?zone=inet&address=83.118.168.10")
        .await;
    keep(&listed);
    assert_eq!(
        listed.json["registrations"][0]["services"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    clock.advance(chrono::Duration::days(1));
    assert_eq!(cleanup(&srv).await, 1);
    let listed = srv
        .get("/v1/registrations?zone=inet&address=83.118.168.10")
        .await;
    assert_eq!(listed.json["registrations"], json!([]), "{}", listed.text);
    // Released: another secret registers it anew.
    let r = srv
        .post(
            "/",
            body(
                Some("83.118.168.10/32"),
                "PlainSecret5555",
                "next",
                CLUSTER,
                0,
            ),
        )
        .await;
    assert_eq!(ok(&r, "address registered"), "83.118.168.10/32");

    // The history keeps every step with its actor, and no digest.
    let h = srv
        .get("/v1/registrations/inet/83.118.168.10/history")
        .await;
    keep(&h);
    let kinds: Vec<&str> = h.json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "registered",
            "service_set",
            "expiry_set",
            "expiry_set",
            "service_removed",
            "service_removed",
            "released",
            "registered"
        ],
        "{}",
        h.text
    );
    // Every step names who took it (here the admin token, also for the cleanup route; the
    // scheduled cleanup records `retention`).
    for e in h.json["history"].as_array().unwrap() {
        assert_eq!(e["actor"], "admin-bootstrap", "{}", h.text);
        assert!(e["at"].is_string(), "{}", h.text);
    }
    assert!(!h.text.contains("digest"), "{}", h.text);

    // Zones with their families; Melange's version list still answers GET /.
    let z = srv.get("/v1/zones").await;
    assert_eq!(z.json["zones"][0]["zone"], "inet", "{}", z.text);
    assert_eq!(
        z.json["zones"][0]["families"].as_array().unwrap().len(),
        2,
        "{}",
        z.text
    );
    let v = srv.get("/").await;
    assert_eq!(v.json["versions"][0]["name"], "v0.1", "{}", v.text);

    // No secret in any answer, nor anywhere in the data directory (log, key file).
    let srv_logs = srv.log_dir.clone();
    for text in &answers {
        assert_no_secret("an answer", text.as_bytes());
    }
    for (path, bytes) in files(&srv.dir) {
        assert_no_secret(&path.display().to_string(), &bytes);
    }
    // Nor in the logs (`log_dir`: ipledger.log, http.log), which did record the requests
    // (written by a background thread: waited for).
    let _kept = srv.log_dir_guard();
    srv.stop().await;
    let mut logged = files(&srv_logs);
    for _ in 0..250 {
        if logged
            .iter()
            .any(|(p, b)| p.ends_with("http.log") && !b.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        logged = files(&srv_logs);
    }
    assert!(
        logged
            .iter()
            .any(|(p, b)| p.ends_with("http.log") && !b.is_empty()),
        "http.log holds the requests"
    );
    for (path, bytes) in logged {
        assert_no_secret(&path.display().to_string(), &bytes);
    }
}

#[tokio::test]
async fn a_cluster_delete_never_removes_deny_external_cleanup_services() {
    let clock = clock();
    let srv = TestServer::start_with_clock(clock.clone()).await;
    zone(&srv, "10.77.0.0/28").await;
    let mut guarded = body(None, "GuardedSecret77", "guarded", CLUSTER, 0);
    guarded["service"]["deny_external_cleanup"] = json!(true);
    let g = ok(&srv.post("/", guarded.clone()).await, "address registered");
    let p = ok(
        &srv.post("/", body(None, "PlainSecret5555", "plain", CLUSTER, 3))
            .await,
        "address registered",
    );
    let r = srv
        .post(
            &format!("/v1/registrations/clusters/{CLUSTER}/expire"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["skipped"][0]["address"], g.as_str(), "{}", r.text);
    assert_eq!(r.json["expired"][0]["address"], p.as_str(), "{}", r.text);
    assert_eq!(
        cleanup(&srv).await,
        1,
        "a cluster delete expires now, whatever the retention"
    );
    let left = srv
        .get(&format!("/v1/registrations?cluster_id={CLUSTER}"))
        .await;
    let addresses: Vec<&str> = left.json["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, [g.as_str()], "{}", left.text);
    // Its own secret can still expire it.
    guarded["address"] = json!(g);
    ok(&delete(&srv, "/", &guarded).await, "service expiry set");
    assert_eq!(cleanup(&srv).await, 1);
}

#[tokio::test]
async fn tokens_and_registrations_open() {
    let srv = TestServer::start().await;
    zone(&srv, "10.78.0.0/28").await;
    let anonymous = srv.anonymous();
    let r = anonymous
        .post("/", body(None, "PlainSecret5555", "a", CLUSTER, 0))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let make = |role: &str| json!({"name": format!("viti-{role}"), "role": role});
    let registrar = srv.post("/v1/auth/tokens", make("registrar")).await;
    let registrar = srv.with_token(registrar.json["token"]["secret"].as_str().unwrap());
    let agent = srv.post("/v1/auth/tokens", make("agent")).await;
    let agent = srv.with_token(agent.json["token"]["secret"].as_str().unwrap());
    ok(
        &registrar
            .post("/", body(None, "PlainSecret5555", "a", CLUSTER, 0))
            .await,
        "address registered",
    );
    assert_eq!(
        agent
            .post("/", body(None, "PlainSecret5555", "b", CLUSTER, 0))
            .await
            .status,
        403
    );
    assert_eq!(registrar.get("/v1/registrations").await.status, 200);

    let tmp = tempfile::tempdir().expect("tempdir");
    let open =
        TestServer::start_configured(tmp.path(), Arc::new(ipledger_commands::SystemClock), |c| {
            c.registrations_open = true
        })
        .await;
    zone(&open, "10.79.0.0/28").await;
    let anonymous = open.anonymous();
    ok(
        &anonymous
            .post("/", body(None, "PlainSecret5555", "a", CLUSTER, 0))
            .await,
        "address registered",
    );
    // Only the original's routes are open: the views still want a token.
    assert_eq!(anonymous.get("/v1/registrations").await.status, 401);
    // Malformed input is a 400 that never echoes a secret.
    let mut short = body(None, "short", "a", CLUSTER, 0);
    short["service"]["namespace_id"] = json!("not-a-uuid");
    let r = anonymous.post("/", short).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("secret") && r.text.contains("namespace_id"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("short\""), "{}", r.text);
}

#[tokio::test]
async fn registrations_and_melange_allocations_race_without_a_duplicate() {
    let srv = TestServer::start().await;
    let block = zone(&srv, "10.80.0.0/24").await;
    let melange = format!("/v0.1/ipam/tenants/viti/ip_blocks/{block}/ip_addresses");
    let regs = futures::future::join_all((0..60).map(|i| {
        let c = srv.client.clone();
        async move {
            let r = c
                .post(
                    "/v2/address",
                    body(None, &format!("RaceSecret{i:04}"), "svc", CLUSTER, 0),
                )
                .await;
            ok(&r, "address registered")
                .trim_end_matches("/32")
                .to_string()
        }
    }));
    let allocs = futures::future::join_all((0..60).map(|_| {
        let (c, path) = (srv.client.clone(), melange.clone());
        async move {
            let r = c.post(&path, json!({})).await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.json["ip_address"]["address"]
                .as_str()
                .unwrap()
                .to_string()
        }
    }));
    let (a, b) = futures::join!(regs, allocs);
    let all: Vec<String> = a.into_iter().chain(b).collect();
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a duplicate address: {all:?}");
    let listed = srv.get(&format!("{melange}?limit=1000")).await;
    let shown = listed.json["ip_addresses"].as_array().unwrap().len();
    assert_eq!(shown, 120, "every address is one allocation of the block");
}

#[tokio::test]
async fn an_idempotency_key_records_no_fingerprint_of_a_body_holding_a_secret() {
    // The fingerprint of a keyed request is a plain SHA-256 of its body; for a registration
    // that body holds the secret, which a guess could then be checked against offline.
    let srv = TestServer::start().await;
    zone(&srv, "10.81.0.0/28").await;
    let b = body(None, "PlainSecret5555", "a", CLUSTER, 0);
    let r = srv
        .send(Method::POST, "/", Some(&b), &[("idempotency-key", "k-1")])
        .await;
    ok(&r, "address registered");
    let events = srv.get("/v1/events").await;
    assert!(!events.text.contains("CommandRecorded"), "{}", events.text);
    assert!(!events.text.contains("k-1"), "{}", events.text);
}

#[tokio::test]
async fn admin_routes_delete_a_service_replace_and_check_a_secret() {
    let srv = TestServer::start().await;
    zone(&srv, "10.82.0.0/28").await;
    let mut guarded = body(None, "GuardedSecret77", "guarded", CLUSTER, 0);
    guarded["service"]["deny_external_cleanup"] = json!(true);
    let a = ok(&srv.post("/", guarded).await, "address registered");
    let a = a.trim_end_matches("/32").to_string();
    ok(
        &srv.post(
            "/",
            body(
                Some(&format!("{a}/32")),
                "GuardedSecret77",
                "plain",
                CLUSTER,
                0,
            ),
        )
        .await,
        "address updated",
    );
    let base = format!("/v1/registrations/inet/{a}");
    let named =
        |name: &str| json!({"service_name": name, "namespace_id": NS, "cluster_id": CLUSTER});
    let r = srv
        .post(&format!("{base}/services/expire"), named("guarded"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["skipped"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = srv
        .post(&format!("{base}/services/expire"), named("plain"))
        .await;
    assert_eq!(r.json["expired"].as_array().unwrap().len(), 1, "{}", r.text);
    let check = |secret: &str| json!({"secret": secret});
    let r = srv
        .post(&format!("{base}/check-secret"), check("GuardedSecret77"))
        .await;
    assert_eq!(r.json["opens"], true, "{}", r.text);
    let r = srv
        .put(
            &format!("{base}/secret"),
            json!({"new_secret": "RotatedSecret99"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = srv
        .post(&format!("{base}/check-secret"), check("GuardedSecret77"))
        .await;
    assert_eq!(r.json["opens"], false, "{}", r.text);
    let r = srv
        .post(&format!("{base}/check-secret"), check("RotatedSecret99"))
        .await;
    assert_eq!(r.json["opens"], true, "{}", r.text);
    assert_no_secret("a check answer", r.text.as_bytes());
    let r = srv
        .post(
            "/v1/registrations/inet/10.82.0.9/check-secret",
            check("RotatedSecret99"),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

/// Runs `ipledger registrations ...` against the server, off the async runtime.
async fn cli(srv: &TestServer, args: &[&str]) -> (bool, String, String) {
    let mut all: Vec<String> = vec![
        "registrations".into(),
        "--url".into(),
        srv.client.base.clone(),
        "--token".into(),
        crate::support::ADMIN_TOKEN.into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        crate::support::run_cli(&refs)
    })
    .await
    .expect("cli ran")
}

#[test]
fn version_prints_the_crate_version() {
    let (okay, out, err) = crate::support::run_cli(&["version"]);
    assert!(okay, "{err}");
    assert!(
        out.starts_with("ipledger ") && out.trim().len() > "ipledger ".len(),
        "{out}"
    );
}

#[tokio::test]
async fn the_admin_cli_against_a_running_server() {
    let srv = TestServer::start().await;
    zone(&srv, "10.83.0.0/28").await;
    let mut guarded = body(None, "GuardedSecret77", "guarded", CLUSTER, 0);
    guarded["service"]["deny_external_cleanup"] = json!(true);
    let g = ok(&srv.post("/", guarded).await, "address registered");
    let p = ok(
        &srv.post("/", body(None, "PlainSecret5555", "plain", CLUSTER, 0))
            .await,
        "address registered",
    );
    let (okay, out, err) = cli(&srv, &["show-services", "--zone", "inet"]).await;
    assert!(okay, "{err}");
    assert!(out.starts_with("ZONE"), "{out}");
    assert!(
        out.contains("guarded") && out.contains("plain") && out.contains(&g),
        "{out}"
    );
    let (okay, out, err) = cli(
        &srv,
        &["--json", "show-services", "--zone", "inet", "--address", &p],
    )
    .await;
    assert!(okay, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["registrations"].as_array().unwrap().len(), 1, "{out}");
    let (okay, out, err) = cli(
        &srv,
        &[
            "check-secret",
            "--zone",
            "inet",
            "--address",
            &g,
            "--secret",
            "GuardedSecret77",
        ],
    )
    .await;
    assert!(okay, "{out} {err}");
    let (okay, ..) = cli(
        &srv,
        &[
            "check-secret",
            "--zone",
            "inet",
            "--address",
            &g,
            "--secret",
            "PlainSecret5555",
        ],
    )
    .await;
    assert!(!okay, "a secret that does not open it fails the command");
    let (okay, _, err) = cli(
        &srv,
        &[
            "replace-secret",
            "--zone",
            "inet",
            "--address",
            &g,
            "--new-secret",
            "RotatedSecret99",
        ],
    )
    .await;
    assert!(okay, "{err}");
    let (okay, ..) = cli(
        &srv,
        &[
            "check-secret",
            "--zone",
            "inet",
            "--address",
            &g,
            "--secret",
            "RotatedSecret99",
        ],
    )
    .await;
    assert!(okay);
    let (okay, out, err) = cli(
        &srv,
        &[
            "delete-service",
            "--zone",
            "inet",
            "--address",
            &p,
            "--service-name",
            "plain",
            "--namespace-id",
            NS,
            "--cluster-id",
            CLUSTER,
        ],
    )
    .await;
    assert!(okay, "{err}");
    assert!(out.contains("expired"), "{out}");
    let (okay, out, err) = cli(&srv, &["delete-cluster", "--cluster-id", CLUSTER]).await;
    assert!(okay, "{err}");
    assert!(
        out.contains("skipped (deny_external_cleanup)") && out.contains(&g),
        "{out}"
    );
}
