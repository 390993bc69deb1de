//! Operability (issue 14): request ids that join answers, log lines and events; `/readyz`;
//! Prometheus metrics (parsed by a text-format parser); the graceful shutdown on SIGTERM
//! under load.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::durability::{
    addresses_path, block_addresses, create_block, spawn_with_env, timed_client,
};
use crate::support::{Client, TestServer};

fn request_id(res: &crate::support::Res) -> String {
    res.headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer carries X-Request-Id")
        .to_string()
}

#[tokio::test]
async fn every_answer_carries_a_request_id_given_or_generated() {
    let s = TestServer::start().await;
    // Generated: a UUID, different for each request; on faults and unknown paths too.
    let a = request_id(&s.get("/healthz").await);
    let b = request_id(&s.get("/healthz").await);
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
    let missing = s.get("/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(uuid::Uuid::parse_str(&request_id(&missing)).is_ok());
    let anon = s.anonymous().get("/v1/events").await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    request_id(&anon);
    // Given and sane: echoed.
    let given = "req-42.abc:def/XYZ";
    let res = s
        .send(Method::GET, "/healthz", None, &[("x-request-id", given)])
        .await;
    assert_eq!(request_id(&res), given);
    let longest = "r".repeat(128);
    let res = s
        .send(Method::GET, "/healthz", None, &[("x-request-id", &longest)])
        .await;
    assert_eq!(request_id(&res), longest);
    // Not sane: replaced by a generated id.
    for bad in [
        "r".repeat(129),
        "has space".into(),
        "tab\there".into(),
        String::new(),
    ] {
        let res = s
            .send(Method::GET, "/healthz", None, &[("x-request-id", &bad)])
            .await;
        let id = request_id(&res);
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} -> {id}");
    }
}

async fn block_events(s: &Client, block: &str) -> Vec<Value> {
    let res = s
        .get(&format!("/v1/events?stream=block-{block}&limit=100"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json["events"].as_array().expect("events").clone()
}

#[tokio::test]
async fn the_request_id_is_the_correlation_id_of_the_events_it_caused() {
    let s = TestServer::start().await;
    let res = s
        .send(
            Method::POST,
            "/v0.1/ipam/tenants/acme/ip_blocks",
            Some(&json!({"ip_block": {"type": "private", "cidr": "10.9.0.0/24"}})),
            &[("x-request-id", "create-block-1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(request_id(&res), "create-block-1");
    let block = res.json["ip_block"]["id"].as_str().expect("id").to_string();
    // No id given: the generated one is the correlation id.
    let res = s.post(&addresses_path("acme", &block), json!({})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let generated = request_id(&res);
    // An explicit X-Correlation-Id still wins (as before request ids).
    let res = s
        .send(
            Method::POST,
            &addresses_path("acme", &block),
            Some(&json!({})),
            &[("x-request-id", "req-3"), ("x-correlation-id", "corr-3")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(request_id(&res), "req-3");
    let correlations: Vec<Option<String>> = block_events(&s.client, &block)
        .await
        .iter()
        .map(|e| e["correlation_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        correlations,
        vec![
            Some("create-block-1".to_string()),
            Some(generated),
            Some("corr-3".to_string())
        ]
    );
    // The id survives a restart (it is in the stored envelope).
    let s = s.restart().await;
    let first = &block_events(&s.client, &block).await[0];
    assert_eq!(first["correlation_id"], "create-block-1");
}

#[tokio::test]
async fn readyz_is_200_with_the_checks_and_healthz_keeps_its_fields() {
    let s = TestServer::start().await;
    let ready = s.anonymous().get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.json["status"], "ready");
    assert_eq!(ready.json["lag"], 0);
    let health = s.anonymous().get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    for key in ["status", "events", "head", "lag"] {
        assert!(!health.json[key].is_null(), "{key}: {}", health.text);
    }
}

/// Parses a text exposition; panics on a line the Prometheus parser refuses.
fn parse(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("a valid Prometheus text exposition")
}

fn counter(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        // The parser names a counter's samples after the family (without `_total`).
        .filter(|s| s.metric == name || Some(s.metric.as_str()) == name.strip_suffix("_total"))
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_are_admin_only_parse_and_move_with_requests() {
    let s = TestServer::start().await;
    let block = create_block(&s.client, "acme", "10.7.0.0/24").await;
    assert_eq!(
        s.anonymous().get("/metrics").await.status,
        StatusCode::UNAUTHORIZED
    );
    let scrape = |c: Client| async move {
        let res = c.get("/metrics").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let ct = res.headers["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        (parse(&res.text), res.text)
    };
    let (before, _) = scrape(s.client.clone()).await;
    let route = "/v0.1/ipam/tenants/:tenant/ip_blocks/:block/ip_addresses";
    for _ in 0..5 {
        let res = s.post(&addresses_path("acme", &block), json!({})).await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    // An unknown path is counted under one template, not its own.
    s.get(&format!("/nowhere/{}", uuid::Uuid::now_v7())).await;
    let (after, text) = scrape(s.client.clone()).await;
    let labels = [("route", route), ("method", "POST"), ("status", "201")];
    let name = "ipledger_http_requests_total";
    assert_eq!(
        counter(&after, name, &labels) - counter(&before, name, &labels),
        5.0,
        "{text}"
    );
    assert!(counter(&after, name, &[("route", "unmatched"), ("status", "404")]) >= 1.0);
    assert!(!text.contains("/nowhere/"), "raw paths never become labels");
    assert!(
        counter(
            &after,
            "ipledger_http_request_duration_seconds_count",
            &[("route", route)]
        ) >= 5.0,
        "{text}"
    );
    assert!(
        counter(&after, "ipledger_writer_batch_events_count", &[]) >= 6.0,
        "{text}"
    );
    assert!(
        counter(&after, "ipledger_log_append_seconds_count", &[]) >= 6.0,
        "{text}"
    );
    assert_eq!(
        counter(&after, "ipledger_log_position", &[]),
        counter(&after, "ipledger_log_head", &[])
    );
    assert_eq!(counter(&after, "ipledger_follower_lag_events", &[]), 0.0);
    assert!(counter(&after, "ipledger_log_bytes", &[]) > 0.0, "{text}");
    for gauge in [
        "ipledger_writer_queue_depth",
        "ipledger_outbox_mail_backlog",
        "ipledger_blocks",
    ] {
        assert!(
            text.contains(&format!("\n{gauge} ")),
            "{gauge} missing: {text}"
        );
    }
    // 5 of 256 addresses (plus the gateway the block reserves, if any).
    let used = counter(
        &after,
        "ipledger_block_utilization_ratio",
        &[("block_id", &block)],
    );
    assert!(
        (5.0 / 256.0..=8.0 / 256.0).contains(&used),
        "{used}: {text}"
    );
}

#[tokio::test]
async fn block_utilization_is_bounded_to_the_largest_blocks() {
    let s = TestServer::start().await;
    let big = create_block(&s.client, "acme", "10.0.0.0/16").await;
    for i in 0..ipledger_api::metrics::TOP_BLOCKS + 5 {
        create_block(&s.client, "acme", &format!("10.1.{i}.0/28")).await;
    }
    let text = s.get("/metrics").await.text;
    let series = text
        .lines()
        .filter(|l| l.starts_with("ipledger_block_utilization_ratio{"))
        .count();
    assert_eq!(series, ipledger_api::metrics::TOP_BLOCKS, "{text}");
    assert!(text.contains(&big), "the largest block is among them");
}

#[tokio::test]
async fn metrics_listen_serves_metrics_without_a_token_and_nothing_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s =
        TestServer::start_configured(tmp.path(), Arc::new(ipledger_commands::SystemClock), |c| {
            c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        })
        .await;
    let at = s.metrics_addr().expect("bound");
    let http = reqwest::Client::new();
    let res = http
        .get(format!("http://{at}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), StatusCode::OK);
    parse(&res.text().await.expect("body"));
    let res = http
        .get(format!("http://{at}/v1/events"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    s.stop().await;
}

const LOAD_TASKS: usize = 16;

/// SIGTERM under load: every acknowledged allocation is in the log after the restart, every
/// client got a whole answer or a connection error before any byte of one (never a body cut
/// short), and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_and_exits_zero() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut proc = spawn_with_env(dir, &[("IPLEDGER_SHUTDOWN_GRACE_MS", "10000")]);
    let base = proc.client.base.clone();
    let block = create_block(&proc.client, "t1", "10.0.0.0/16").await;
    let path = addresses_path("t1", &block);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let cut = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..LOAD_TASKS {
        let (c, path, acked, cut, count) = (
            timed_client(&base),
            path.clone(),
            acked.clone(),
            cut.clone(),
            count.clone(),
        );
        workers.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                let sent = c
                    .http
                    .post(c.url(&path))
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await;
                // An error before the status line: the connection was refused or closed
                // before any byte of an answer (retryable). The server is going away.
                let Ok(resp) = sent else { break };
                let status = resp.status();
                match resp.text().await {
                    Ok(text) if status == StatusCode::CREATED => {
                        let body: Value = serde_json::from_str(&text).expect("a whole JSON body");
                        acked.lock().unwrap().push(
                            body["ip_address"]["address"]
                                .as_str()
                                .expect("address")
                                .to_string(),
                        );
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(text) => cut.lock().unwrap().push(format!("{status}: {text}")),
                    Err(e) => cut.lock().unwrap().push(format!("{status}, body cut: {e}")),
                }
            }
        }));
    }
    let started = Instant::now();
    while count.load(Ordering::SeqCst) < 200 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        count.load(Ordering::SeqCst) >= 200,
        "the load never got going"
    );
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe {
        libc::kill(proc.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let exit = tokio::task::spawn_blocking(move || {
        let status = proc.child.wait().expect("wait");
        (status, proc)
    });
    for w in workers {
        w.await.expect("worker");
    }
    let (status, proc) = exit.await.expect("waiter");
    drop(proc);
    assert_eq!(status.code(), Some(0), "exit after SIGTERM: {status:?}");
    let cut = cut.lock().unwrap().clone();
    assert!(
        cut.is_empty(),
        "answers cut or refused mid-shutdown: {cut:?}"
    );
    let acked: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(acked.len() >= 200);

    let next = spawn_with_env(dir, &[]);
    let listed: HashSet<String> = block_addresses(&next.client, "t1", &block)
        .await
        .into_iter()
        .collect();
    let lost: Vec<&String> = acked.difference(&listed).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged allocations lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    next.terminate();
}

#[tokio::test]
async fn the_request_id_is_on_the_request_s_log_lines() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = crate::support::KillOnDrop(
        Command::new(crate::support::binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(tmp.path())
            .env("IPLEDGER_LOG_DIR", crate::support::log_dir_of(tmp.path()))
            .env("IPLEDGER_LOG", "ipledger_api=debug")
            .env("IPLEDGER_LOG_FORMAT", "json")
            .env("IPLEDGER_ADMIN_TOKEN", crate::support::ADMIN_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ipledger"),
    );
    let line = crate::support::listening_line(child.stdout.take().expect("stdout"));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("address")
        .to_string();
    let c = timed_client(&format!("http://{addr}"));
    let res = c
        .send(
            Method::GET,
            "/healthz",
            None,
            &[("x-request-id", "trace-me-1")],
        )
        .await;
    assert_eq!(request_id(&res), "trace-me-1");
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let mut logs = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("read logs");
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| l["fields"]["message"] == "request")
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == "trace-me-1" && l["fields"]["path"] == "/healthz"),
        "no request line in the request's span: {logs}"
    );
}
