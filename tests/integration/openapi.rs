//! The API described (issue 14 items 1 and 2): the OpenAPI 3.1 document the server serves
//! at `/openapi.json`, Swagger UI over it in headless Chromium with every host but the
//! server's unresolvable, and Schemathesis (PyPI `schemathesis`, in the venv
//! `scripts/install-test-deps` makes) generating requests from the document against a
//! running server with the admin token: no 5xx, every answer conforming to the document.

use std::process::Command;

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::console::{browser_with, Driver, WAIT};
use crate::scaleway::venv_python;
use crate::support::{TestServer, ADMIN_TOKEN};

/// The operations of a document: (METHOD, path).
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_served_with_every_surface_and_swagger_ui_renders_it_offline() {
    let s = TestServer::start().await;
    let doc = s.get("/openapi.json").await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert_eq!(doc.json["openapi"], "3.1.0");
    let ops = operations(&doc.json);
    for (method, path) in [
        ("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks"),
        ("POST", "/v1/agent/ipam/request"),
        ("PATCH", "/ipam/v1/regions/{region}/ips/{ip}"),
        ("POST", "/v1/pools/{pool}/allocations/batch"),
        ("POST", "/v2/address"),
        ("DELETE", "/v1/auth/tokens/{token}"),
        ("GET", "/v1/events"),
        ("GET", "/docs"),
    ] {
        assert!(
            ops.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is not in the document"
        );
    }
    let schemes = &doc.json["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["token"]["name"], "X-Auth-Token");

    // Every host but the server's fails to resolve: the page must need nothing else.
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let b = browser_with(
        &driver,
        profile.path(),
        &["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
    )
    .await;
    b.goto(&format!("{}/docs", s.base))
        .await
        .expect("open /docs");
    b.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(".opblock"))
        .await
        .expect("Swagger UI renders the operations");
    let rendered = b
        .find_all(Locator::Css(".opblock"))
        .await
        .expect("operations");
    assert_eq!(
        rendered.len(),
        ops.len(),
        "one rendered operation per operation of the document"
    );
    let paths = b
        .find_all(Locator::Css(".opblock-summary-path"))
        .await
        .expect("paths");
    let mut shown = Vec::new();
    for p in &paths {
        shown.push(p.text().await.unwrap_or_default().replace('\u{200b}', ""));
    }
    assert!(
        shown.iter().any(|p| p == "/v1/pools/{pool}/utilization"),
        "{shown:?}"
    );
    // Everything the page loaded came from the server.
    let loaded = b
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .expect("resource timing");
    let loaded: Vec<String> = serde_json::from_value(loaded).expect("names");
    assert!(
        loaded.iter().any(|u| u.ends_with("/openapi.json")),
        "{loaded:?}"
    );
    assert!(
        loaded.iter().all(|u| u.starts_with(&s.base)),
        "the page fetched beyond the server: {loaded:?}"
    );
    let png = b.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    std::fs::write(dir.join("swagger-ui.png"), png).expect("write screenshot");
    b.close().await.expect("close");
}

/// Schemathesis's checks that are left out, and why (README, "OpenAPI"): they judge how
/// strict the server's validation is against the document, and the server's rules go
/// beyond what a schema says (a zone is a DNS label, a block's cidr must fit its parent,
/// an id must exist) while Melange's compatibility keeps some leniency (a number where a
/// string is expected, a `limit` above the maximum capped rather than refused). Every 5xx
/// and every answer outside the document is still caught by the checks that remain.
const EXCLUDED_CHECKS: &str = "positive_data_acceptance,negative_data_rejection";

/// `/v1/events/stream` never ends (Server-Sent Events, followed live): no tester can wait
/// for its answer.
const EXCLUDED_PATH: &str = "/v1/events/stream";

/// A little of everything, so that generated requests reach real objects and their answers
/// (not only 404s) are checked against the document: the path parameters' values, by name.
async fn seed(s: &TestServer) -> Vec<(&'static str, String)> {
    // POSTs `body` to `path` and answers the new object's `id` under `key` (`""`: top level).
    let made = |path: String, body: Value, key: &'static str| async move {
        let r = s.post(&path, body).await;
        assert!(
            r.status.is_success(),
            "seeding {path}: {} {}",
            r.status,
            r.text
        );
        let object = if key.is_empty() {
            &r.json
        } else {
            &r.json[key]
        };
        object["id"].as_str().unwrap_or_default().to_string()
    };
    let t = "/v0.1/ipam/tenants/acme";
    let block_body =
        json!({"ip_block": {"cidr": "10.20.0.0/24", "type": "private", "network_id": "net-1"}});
    let block = made(format!("{t}/ip_blocks"), block_body, "ip_block").await;
    let r = s
        .post(&format!("{t}/ip_blocks/{block}/ip_addresses"), json!({}))
        .await;
    let address = r.json["ip_address"]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("seeding an address: {}", r.text))
        .to_string();
    let policy = made(
        format!("{t}/policies"),
        json!({"policy": {"name": "p"}}),
        "policy",
    )
    .await;
    let p = format!("{t}/policies/{policy}");
    let range_body = json!({"ip_range": {"offset": 1, "length": 2}});
    let range = made(format!("{p}/unusable_ip_ranges"), range_body, "ip_range").await;
    let octet_body = json!({"ip_octet": {"octet": 7}});
    let octet = made(format!("{p}/unusable_ip_octets"), octet_body, "ip_octet").await;
    let route_body = json!({"ip_route": {"destination": "192.168.9.0", "gateway": "10.20.0.1", "netmask": "255.255.255.0"}});
    let route = made(
        format!("{t}/ip_blocks/{block}/ip_routes"),
        route_body,
        "ip_route",
    )
    .await;
    let interface = json!({"interface": {"id": "vif-1", "tenant_id": "acme", "device_id": "dev-1",
                                         "network": {"id": "net-1", "tenant_id": "acme"}}});
    made("/v0.1/ipam/interfaces".into(), interface, "interface").await;
    let pool_body =
        json!({"name": "pool-1", "kind": "address", "tenant_id": "acme", "resources": [block]});
    let pool = made("/v1/pools".into(), pool_body, "pool").await;
    let allocation = json!({"identifier": "vm-1"});
    made(
        format!("/v1/pools/{pool}/allocations"),
        allocation,
        "allocation",
    )
    .await;
    let token_body = json!({"name": "agent-1", "role": "agent"});
    let token = made("/v1/auth/tokens".into(), token_body, "token").await;
    let intake = json!({"ip": "10.20.0.50"});
    made("/v1/agent/ipam/request".into(), intake, "").await;
    let requests = s.get("/v1/ipam/requests").await;
    let request = requests.json["requests"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("seeding a request: {}", requests.text))
        .to_string();
    let ip_body = json!({"source": {"subnet_id": block}, "is_ipv6": false, "project_id": "acme"});
    let ip = made("/ipam/v1/regions/fr-par/ips".into(), ip_body, "").await;
    // Nothing listens there, and this server delivers nothing (webhook_delivery off).
    let hook_body = json!({"url": "http://127.0.0.1:9/hook", "event_types": ["BlockCreated"]});
    let webhook = made("/v1/webhooks".into(), hook_body, "webhook").await;
    vec![
        ("webhook", webhook),
        ("tenant", "acme".into()),
        ("block", block),
        ("address", address),
        ("policy", policy),
        ("range", range),
        ("octet", octet),
        ("route", route),
        ("vif", "vif-1".into()),
        ("device", "dev-1".into()),
        ("network", "net-1".into()),
        ("pool", pool),
        ("identifier", "vm-1".into()),
        ("token", token),
        ("request", request),
        ("region", "fr-par".into()),
        ("ip", ip),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    // Generated webhook registrations name any URL: this server sends nothing anywhere.
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = TestServer::start_configured(
        tmp.path(),
        std::sync::Arc::new(ipledger_commands::SystemClock),
        |c| c.webhook_delivery = false,
    )
    .await;
    let seeded = seed(&s).await;
    let st = venv_python().with_file_name("st");
    assert!(
        st.exists(),
        "{} is missing: run scripts/install-test-deps",
        st.display()
    );
    let base = s.base.clone();
    // Per-operation settings (one check off on one operation, and why: see the file), and
    // the seeded objects' ids as the path parameters' values.
    let settings =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis/schemathesis.toml");
    let mut toml = std::fs::read_to_string(settings).expect("schemathesis.toml");
    toml.push_str("\n[parameters]\n");
    for (name, value) in &seeded {
        toml.push_str(&format!("\"path.{name}\" = \"{value}\"\n"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, toml).expect("write the config");
    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(st)
            // Its cache (`.schemathesis/`) goes there, not into the source tree.
            .current_dir(&cwd)
            .arg("--config-file")
            .arg(config)
            .args(["run", &format!("{base}/openapi.json")])
            .args(["-H", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
            .args(["-H", &format!("X-Auth-Token: {ADMIN_TOKEN}")])
            .args(["--exclude-checks", EXCLUDED_CHECKS])
            .args(["--exclude-path", EXCLUDED_PATH])
            // The stateful phase follows links the document does not declare.
            .args(["--phases", "examples,coverage,fuzzing"])
            // One worker: with two, Hypothesis (inside Schemathesis) sometimes errs in its own
            // code ("AST constructor recursion depth mismatch").
            .args(["--max-examples", "15", "--seed", "14", "--workers", "1"])
            .args(["--request-timeout", "30", "--no-color"])
            .output()
            .expect("run schemathesis")
    })
    .await
    .expect("schemathesis ran");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let summary = text
        .rfind("SUMMARY")
        .map_or(text.as_str(), |at| &text[at..]);
    println!("{summary}");
    // "Test cases:\n  N generated, ..."
    let generated: u64 = summary
        .split("Test cases:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of test cases in:\n{text}"));
    println!("schemathesis: {generated} generated test cases");
    assert!(generated > 1000, "too few cases: {generated}\n{text}");
    for failure in [
        "Server error",
        "Response violates schema",
        "Failures:",
        "Errors:",
    ] {
        assert!(!summary.contains(failure), "{failure}\n{text}");
    }
    assert!(out.status.success(), "schemathesis failed:\n{text}");
}
