//! The log files and the Splunk HEC forwarding (issue 10 item 8): `ipledger.log` and
//! `http.log` in `log_dir` as JSON lines, one `http.log` line per request with its fields,
//! rotation at the configured size keeping the configured number of files, no token (query
//! or header) in any log; a local HEC receiver that checks `Authorization: Splunk <token>`,
//! the envelope, both sourcetypes and batching; an unreachable and a slow collector that
//! fail no request while the drop counter moves. (How much they slow requests is a
//! benchmark: `scripts/bench-hec`, BENCHMARKS.md.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipledger_api::config::{Config, SplunkConfig};
use ipledger_commands::SystemClock;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::support::{Process, TestServer, ADMIN_TOKEN};

/// Secrets these tests send in places a careless log would copy.
const QUERY_TOKEN: &str = "QueryToken-7f3a9c1e";
const HEADER_TOKEN: &str = "HeaderToken-2b8d4e6f";
const HEC_TOKEN: &str = "hec-token-5d18f757-66c1";

/// Every line of `dir/name` and its rotated files (`name.1`, ...), parsed; panics on a
/// line that is not JSON.
fn lines_of(dir: &Path, name: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in files_of(dir, name) {
        // A file listed a moment ago may have been rotated (renamed) since: the writer
        // thread rotates while the test reads, and the next look finds its lines again.
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("a log file {}: {e}", path.display()),
        };
        // Only whole lines: the writer thread may be half-way through the last one.
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        for line in whole.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line:?}", path.display()));
            out.push(v);
        }
    }
    out
}

/// `dir/name` and its rotated files that exist.
fn files_of(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = vec![dir.join(name)];
    out.extend(
        (1..100)
            .map(|i| dir.join(format!("{name}.{i}")))
            .take_while(|p| p.exists()),
    );
    out.retain(|p| p.exists());
    out
}

/// Waits (bounded) until `done` holds: the files are written by a background thread.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

fn every_file_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("log dir").flatten() {
        // Rotation may rename or drop a file between the listing and the read.
        match std::fs::read(e.path()) {
            Ok(bytes) => out.push((e.path(), bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => panic!("{}: {err}", e.path().display()),
        }
    }
    out
}

fn assert_absent(needle: &str, files: &[(PathBuf, Vec<u8>)]) {
    for (path, bytes) in files {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle:?} found in {}",
            path.display()
        );
    }
}

#[tokio::test]
async fn the_log_files_are_json_lines_rotated_by_size_and_hold_no_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let srv = TestServer::start_configured(tmp.path(), Arc::new(SystemClock), |c: &mut Config| {
        c.log_file_bytes_max = 1024;
        c.log_files_kept = 3;
    })
    .await;
    let dir = srv.log_dir.clone();
    assert!(dir.join("ipledger.log").is_file() && dir.join("http.log").is_file());

    // A token in the query string, tokens in both credential headers (refused: 401), and
    // enough requests to rotate http.log several times over.
    let r = srv
        .send(
            Method::GET,
            &format!("/v1/events?token={QUERY_TOKEN}&limit=1"),
            None,
            &[("x-request-id", "with-query-token")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = srv
        .anonymous()
        .send(
            Method::GET,
            "/v1/events",
            None,
            &[
                ("authorization", &format!("Bearer {HEADER_TOKEN}")),
                ("x-request-id", "with-bearer"),
            ],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = srv
        .with_x_auth_token(HEADER_TOKEN)
        .send(
            Method::GET,
            "/v1/events",
            None,
            &[("x-request-id", "with-x-auth-token")],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = srv
        .send(
            Method::POST,
            "/v1/admin/registrations/cleanup",
            Some(&json!({})),
            &[("x-request-id", "admin-cleanup")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for i in 0..40 {
        let id = format!("health-{i:02}");
        let r = srv
            .send(Method::GET, "/healthz", None, &[("x-request-id", &id)])
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    eventually("the last request's line in http.log", || {
        lines_of(&dir, "http.log")
            .iter()
            .any(|l| l["request_id"] == "health-39")
    })
    .await;
    eventually("the cleanup's line in ipledger.log", || {
        lines_of(&dir, "ipledger.log")
            .iter()
            .any(|l| l["span"]["request_id"] == "admin-cleanup")
    })
    .await;

    // http.log: one line per request, with its fields.
    let http = lines_of(&dir, "http.log");
    for i in 30..40 {
        let id = format!("health-{i:02}");
        let mine: Vec<&Value> = http.iter().filter(|l| l["request_id"] == id).collect();
        assert_eq!(mine.len(), 1, "{id}: {mine:?}");
        let l = mine[0];
        assert_eq!(l["method"], "GET");
        assert_eq!(l["path"], "/healthz");
        assert_eq!(l["status"], 200);
        assert_eq!(l["actor"], "anonymous", "a public route: {l}");
        assert!(l["duration_ms"].as_f64().is_some(), "{l}");
        assert!(
            chrono::DateTime::parse_from_rfc3339(l["time"].as_str().unwrap_or("")).is_ok(),
            "{l}"
        );
    }
    // Rotated at the size, the configured number of files kept (the oldest lines gone).
    assert!(
        dir.join("http.log.3").exists(),
        "rotated three times at least"
    );
    assert!(
        !dir.join("http.log.4").exists(),
        "only three rotated files kept"
    );
    for path in files_of(&dir, "http.log") {
        let len = std::fs::metadata(&path).expect("metadata").len();
        assert!(len <= 1024 + 512, "{} has {len} bytes", path.display());
    }
    assert!(
        !http.iter().any(|l| l["request_id"] == "with-query-token"),
        "the oldest lines went with the oldest file"
    );

    // ipledger.log: JSON lines with time, level, target, message; the request's id on the
    // lines logged while answering it, and its actor.
    let app = lines_of(&dir, "ipledger.log");
    assert!(
        app.iter()
            .any(|l| l["fields"]["message"] == "projections rebuilt from the log"),
        "{app:?}"
    );
    let cleanup = app
        .iter()
        .find(|l| l["span"]["request_id"] == "admin-cleanup")
        .expect("the cleanup's line");
    assert_eq!(cleanup["level"], "INFO");
    assert!(
        cleanup["timestamp"].is_string() && cleanup["target"].is_string(),
        "{cleanup}"
    );
    assert_eq!(cleanup["fields"]["actor"], "admin-bootstrap", "{cleanup}");

    // No token anywhere in the logs: not the query's, not the headers', not the admin's.
    let files = every_file_bytes(&dir);
    for secret in [QUERY_TOKEN, HEADER_TOKEN, ADMIN_TOKEN] {
        assert_absent(secret, &files);
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_token_in_a_query_string_is_masked_in_http_log() {
    let srv = TestServer::start().await;
    let r = srv
        .send(
            Method::GET,
            &format!("/v1/events?limit=1&access_token={QUERY_TOKEN}"),
            None,
            &[("x-request-id", "masked")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let dir = srv.log_dir.clone();
    eventually("the request's line", || {
        lines_of(&dir, "http.log")
            .iter()
            .any(|l| l["request_id"] == "masked")
    })
    .await;
    let lines = lines_of(&dir, "http.log");
    let l = lines
        .iter()
        .find(|l| l["request_id"] == "masked")
        .expect("line");
    assert_eq!(l["query"], "limit=1&access_token=***", "{l}");
    assert_eq!(l["path"], "/v1/events", "{l}");
    assert_eq!(l["actor"], "admin-bootstrap", "{l}");
    assert_absent(QUERY_TOKEN, &every_file_bytes(&dir));
    srv.stop().await;
}

#[test]
fn the_binary_writes_its_log_files_into_log_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = Process::spawn(tmp.path());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let r = rt.block_on(p.client.send(
        Method::GET,
        "/healthz",
        None,
        &[("x-request-id", "from-the-binary")],
    ));
    assert_eq!(r.status, 200, "{}", r.text);
    p.terminate();
    // `Process::spawn` points IPLEDGER_LOG_DIR at `<data dir>/logs`; stopping flushed both.
    let dir = crate::support::log_dir_of(tmp.path());
    let http = lines_of(&dir, "http.log");
    assert!(
        http.iter().any(|l| l["request_id"] == "from-the-binary"),
        "{http:?}"
    );
    let app = lines_of(&dir, "ipledger.log");
    assert!(
        app.iter()
            .any(|l| l["fields"]["message"] == "ipledger listening"),
        "{app:?}"
    );
}

/// What the local collector received: each POST's path, Authorization and body.
#[derive(Default)]
struct Received {
    posts: Vec<(String, String, String)>,
}

/// A local HTTP/1.1 collector on 127.0.0.1:0 answering HEC's success after `delay`.
async fn collector(delay: Duration) -> (String, Arc<Mutex<Received>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Received::default()));
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let _ = serve_connection(stream, seen, delay).await;
            });
        }
    });
    (url, got)
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    seen: Arc<Mutex<Received>>,
    delay: Duration,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let (mut length, mut authorization) = (0usize, String::new());
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => authorization = value.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await?;
        tokio::time::sleep(delay).await;
        seen.lock().unwrap().posts.push((
            path,
            authorization,
            String::from_utf8_lossy(&body).into_owned(),
        ));
        let answer = r#"{"text":"Success","code":0}"#;
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        reader.get_mut().write_all(reply.as_bytes()).await?;
    }
}

fn splunk(url: &str, token_path: &Path, queue: usize, batch: usize) -> SplunkConfig {
    SplunkConfig {
        url: url.to_string(),
        token_path: token_path.to_path_buf(),
        index: Some("vitistack".into()),
        source: "vitistack:ipam-api".into(),
        sourcetype_app: "ipam-api:app".into(),
        sourcetype_http: "ipam-api:http".into(),
        queue_events_max: queue,
        batch_events_max: batch,
    }
}

async fn with_hec(tmp: &Path, url: &str, queue: usize, batch: usize) -> TestServer {
    let token_path = tmp.join("splunk.secret");
    std::fs::write(&token_path, format!("{HEC_TOKEN}\n")).expect("token file");
    let data = tmp.join("data");
    let s = splunk(url, &token_path, queue, batch);
    TestServer::start_configured(&data, Arc::new(SystemClock), move |c: &mut Config| {
        c.splunk = Some(s)
    })
    .await
}

/// The value of an unlabelled metric.
async fn metric(srv: &TestServer, name: &str) -> f64 {
    let r = srv.get("/metrics").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{}", r.text))
}

#[tokio::test]
async fn the_collector_gets_both_sourcetypes_in_batches_with_the_splunk_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Each answer takes a while, so lines pile up behind a post and go in batches.
    let (url, got) = collector(Duration::from_millis(100)).await;
    let srv = with_hec(tmp.path(), &url, 1000, 50).await;
    for i in 0..30 {
        let r = srv
            .send(
                Method::GET,
                "/healthz",
                None,
                &[("x-request-id", &format!("hec-{i:02}"))],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = srv
        .send(
            Method::POST,
            "/v1/admin/registrations/cleanup",
            Some(&json!({})),
            &[("x-request-id", "hec-cleanup")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let envelopes = || -> Vec<Value> {
        got.lock()
            .unwrap()
            .posts
            .iter()
            .flat_map(|(_, _, body)| {
                body.lines()
                    .map(|l| serde_json::from_str::<Value>(l).expect("one envelope per line"))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    eventually(
        "every request's http event and the cleanup's app event",
        || {
            let e = envelopes();
            (0..30).all(|i| {
                e.iter()
                    .any(|v| v["event"]["request_id"] == format!("hec-{i:02}"))
            }) && e
                .iter()
                .any(|v| v["event"]["span"]["request_id"] == "hec-cleanup")
        },
    )
    .await;

    let posts: Vec<(String, String, String)> = got.lock().unwrap().posts.clone();
    for (path, authorization, _) in &posts {
        assert_eq!(path, "/services/collector/event");
        assert_eq!(authorization, &format!("Splunk {HEC_TOKEN}"));
    }
    assert!(
        posts.iter().any(|(_, _, body)| body.lines().count() > 1),
        "several events in one post"
    );
    let all = envelopes();
    for e in &all {
        assert!(e["time"].as_f64().is_some_and(|t| t > 1.7e9), "{e}");
        assert_eq!(e["index"], "vitistack", "{e}");
        assert_eq!(e["source"], "vitistack:ipam-api", "{e}");
        assert!(e["host"].is_string(), "{e}");
        assert!(e["event"].is_object(), "{e}");
    }
    let http = all
        .iter()
        .find(|e| e["event"]["request_id"] == "hec-07")
        .expect("an http event");
    assert_eq!(http["sourcetype"], "ipam-api:http");
    assert_eq!(http["event"]["path"], "/healthz");
    let app = all
        .iter()
        .find(|e| e["event"]["span"]["request_id"] == "hec-cleanup")
        .expect("an app event");
    assert_eq!(app["sourcetype"], "ipam-api:app");

    // The HEC token is in no log line, no answer and no metric.
    assert!(!posts.iter().any(|(_, _, b)| b.contains(HEC_TOKEN)));
    assert_absent(HEC_TOKEN, &every_file_bytes(&srv.log_dir));
    let m = srv.get("/metrics").await;
    assert!(!m.text.contains(HEC_TOKEN));
    assert!(metric(&srv, "ipledger_hec_sent_events_total").await >= 31.0);
    srv.stop().await;
}

/// Requests against a server whose collector is unreachable or slow: every one answered
/// 200, and the small queue overflows into the drop counter.
async fn requests_succeed_while_the_collector_is_away(srv: &TestServer) {
    for i in 0..60 {
        let r = srv
            .send(
                Method::GET,
                "/healthz",
                None,
                &[("x-request-id", &format!("away-{i:02}"))],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let dropped = metric(srv, "ipledger_hec_dropped_events_total").await;
    assert!(dropped > 0.0, "the overflow is counted");
    assert!(metric(srv, "ipledger_outbox_hec_backlog").await <= 4.0);
    // The files still got every line.
    let dir = srv.log_dir.clone();
    eventually("the last line in http.log", || {
        lines_of(&dir, "http.log")
            .iter()
            .any(|l| l["request_id"] == "away-59")
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_collector_fails_no_request_and_drops_are_counted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let srv = with_hec(tmp.path(), &url, 4, 2).await;
    requests_succeed_while_the_collector_is_away(&srv).await;
    let srv_ref = &srv;
    let mut failed = 0.0;
    for _ in 0..200 {
        failed = metric(srv_ref, "ipledger_hec_failed_posts_total").await;
        if failed > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failed > 0.0, "the failed posts are counted");
    srv.stop().await;
}

#[tokio::test]
async fn a_slow_collector_fails_no_request_and_drops_are_counted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (url, _got) = collector(Duration::from_secs(3)).await;
    let srv = with_hec(tmp.path(), &url, 4, 2).await;
    requests_succeed_while_the_collector_is_away(&srv).await;
    srv.stop().await;
}

#[tokio::test]
async fn an_unreadable_token_file_refuses_the_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = splunk(
        "http://127.0.0.1:9",
        &tmp.path().join("missing.secret"),
        10,
        10,
    );
    let config = Config {
        data_dir: tmp.path().join("data"),
        log_dir: tmp.path().join("logs"),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(ADMIN_TOKEN.into()),
        splunk: Some(s),
        ..Config::default()
    };
    let err = match ipledger_api::ops::start(&config, Arc::new(SystemClock)).await {
        Ok(_) => panic!("started without its HEC token"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("splunk.token_path"), "{err}");
}
