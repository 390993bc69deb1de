//! The log followed and copied out (issue 11, item 3): `GET /v1/events/stream` (SSE,
//! resumable by `Last-Event-ID`, heartbeats, filters, a slow consumer cut off) and the
//! export, over HTTP and with `ipledger export`.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use ipledger_api::config::StreamSettings;
use ipledger_commands::SystemClock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::durability::{create_block, dir_str, event_count};
use crate::support::{run_cli, Client, TestServer, ADMIN_TOKEN};

/// One SSE frame: a comment, or an event with its id, name and data.
#[derive(Debug, Default)]
struct Frame {
    id: Option<u64>,
    event: Option<String>,
    data: String,
    comment: Option<String>,
}

fn frames_of(block: &str) -> Frame {
    let mut f = Frame::default();
    for line in block.lines() {
        if let Some(c) = line.strip_prefix(':') {
            f.comment = Some(c.trim().to_string());
        } else if let Some(id) = line.strip_prefix("id: ") {
            f.id = Some(id.parse().expect("numeric id"));
        } else if let Some(e) = line.strip_prefix("event: ") {
            f.event = Some(e.to_string());
        } else if let Some(d) = line.strip_prefix("data: ") {
            f.data.push_str(d);
        }
    }
    f
}

/// An open event stream read frame by frame.
struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(c: &Client, path: &str, last_event_id: Option<u64>) -> Sse {
        let mut req = c.http.get(c.url(path));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.expect("stream opens");
        assert_eq!(resp.status(), StatusCode::OK, "stream {path}");
        assert_eq!(
            resp.headers()["content-type"],
            "text/event-stream",
            "SSE content type"
        );
        Sse {
            resp,
            buf: String::new(),
        }
    }

    /// The next frame; None when the stream ended.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                return Some(frames_of(&block));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("a frame within 10 s")
                .expect("stream readable")?;
            self.buf
                .push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// The next event (comments skipped).
    async fn next_event(&mut self) -> Frame {
        loop {
            let f = self.next().await.expect("stream still open");
            if f.comment.is_none() {
                return f;
            }
        }
    }
}

/// `n` writes of one event each (policies), `at` numbering their names.
async fn policies(c: &Client, at: std::ops::Range<usize>) {
    stream::iter(at)
        .map(|i| async move {
            let res = c
                .post(
                    "/v0.1/ipam/tenants/t1/policies",
                    json!({"policy": {"name": format!("p-{i}")}}),
                )
                .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
}

fn settings(heartbeat_ms: u64, buffer_events: usize, lag_timeout_ms: u64) -> StreamSettings {
    StreamSettings {
        heartbeat: Duration::from_millis(heartbeat_ms),
        buffer_events,
        lag_timeout: Duration::from_millis(lag_timeout_ms),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_resumes_by_last_event_id_across_a_restart_without_loss_or_repeat() {
    // Guards against a reconnecting subscriber losing or repeating events (the id is the
    // log position, so it holds across a restart), and against events out of log order.
    let server = TestServer::start().await;
    policies(&server, 0..5).await;
    let mut got = Vec::new();
    let mut s = Sse::open(&server, "/v1/events/stream?from=0", None).await;
    while got.len() < 3 {
        let f = s.next_event().await;
        let data: Value = serde_json::from_str(&f.data).expect("data is JSON");
        assert_eq!(data["position"].as_u64(), f.id, "id is the position");
        got.push(f.id.expect("id"));
    }
    drop(s);
    policies(&server, 5..10).await;
    let server = server.restart().await;
    policies(&server, 10..12).await;
    let head = event_count(&server).await;
    let mut s = Sse::open(&server, "/v1/events/stream?from=0", got.last().copied()).await;
    while *got.last().unwrap() + 1 < head {
        got.push(s.next_event().await.id.expect("id"));
    }
    assert_eq!(
        got,
        (0..head).collect::<Vec<_>>(),
        "every position once, in order"
    );
    // Then live: a new write arrives on the open stream.
    policies(&server, 12..13).await;
    assert_eq!(s.next_event().await.id, Some(head), "followed live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_filters_heartbeats_and_refuses_bad_positions() {
    // Guards against filters leaking other events, a quiet stream looking dead, and bad
    // positions or types being accepted (they must be 400, not an empty stream).
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_configured(tmp.path(), Arc::new(SystemClock), |c| {
        c.stream = settings(100, 64, 5_000);
    })
    .await;
    policies(&server, 0..3).await;
    let block = create_block(&server, "t1", "10.9.0.0/24").await;
    policies(&server, 3..5).await;
    let head = event_count(&server).await;

    let mut s = Sse::open(&server, "/v1/events/stream?from=0&type=BlockCreated", None).await;
    let f = s.next_event().await;
    let data: Value = serde_json::from_str(&f.data).expect("JSON");
    assert!(data["event"]["BlockCreated"].is_object(), "{data}");
    assert_eq!(data["stream"], format!("block-{block}").as_str());
    // Nothing else matches: heartbeats follow, several within a second.
    let mut beats = 0;
    let started = std::time::Instant::now();
    while beats < 3 {
        let f = s.next().await.expect("open");
        assert!(f.id.is_none(), "no other event passes the filter: {f:?}");
        if f.comment.as_deref() == Some("heartbeat") {
            beats += 1;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "heartbeats every 100 ms"
    );
    drop(s);

    let first = server.get("/v1/events?limit=1").await.json["events"][0].clone();
    let stream_name = first["stream"].as_str().expect("stream").to_string();
    let mut s = Sse::open(
        &server,
        &format!("/v1/events/stream?from=0&stream={stream_name}"),
        None,
    )
    .await;
    let f = s.next_event().await;
    assert_eq!(f.id, Some(0));
    assert_eq!(
        tokio::time::timeout(Duration::from_millis(500), s.next_event())
            .await
            .map(|f| f.id)
            .ok(),
        None,
        "only that stream's one event"
    );

    for bad in [
        format!("/v1/events/stream?from={}", head + 1),
        "/v1/events/stream?from=x".into(),
        "/v1/events/stream?type=NoSuchEvent".into(),
        "/v1/events/export?from=3&to=2".into(),
        format!("/v1/events/export?to={}", head + 1),
    ] {
        let res = server.get(&bad).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.text);
    }
    let res = server
        .send(
            reqwest::Method::GET,
            "/v1/events/stream",
            None,
            &[("last-event-id", "nope")],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    let res = server.anonymous().get("/v1/events/stream").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "admin only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_does_not_read_is_cut_off_with_a_final_lagging_event() {
    // Guards against a stalled subscriber making the server buffer the log for it without
    // bound: it is disconnected, and told why, once its small buffer stays full.
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_configured(tmp.path(), Arc::new(SystemClock), |c| {
        c.stream = settings(60_000, 4, 300);
    })
    .await;
    let n = 16_000;
    policies(&server, 0..n).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(2048)
        .expect("small receive buffer");
    let mut conn = socket
        .connect(addr.parse().expect("addr"))
        .await
        .expect("connect");
    conn.write_all(
        format!(
            "GET /v1/events/stream?from=0 HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("request");
    // Not reading: the server's buffer fills and stays full past the lag timeout.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut text = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut chunk)).await {
            Ok(Ok(0)) => break true,
            Ok(Ok(n)) => text.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => panic!("read: {e}"),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&text);
    assert!(
        ended,
        "the server ends the stream; {} ids read",
        text.matches("id: ").count()
    );
    assert!(
        text.contains("event: lagging"),
        "a final lagging event: ...{}",
        &text[text.len().saturating_sub(400)..]
    );
    let delivered = text.matches("\nid: ").count() + text.matches("\r\nid: ").count();
    assert!(
        delivered < n,
        "cut off before the end ({delivered} of {n} delivered)"
    );
    // The server is fine: a normal request still answers.
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_gives_the_same_json_lines_over_http_and_from_the_cli() {
    // Guards against the export skipping, repeating or reshaping events, its bounds being
    // off by one, and the HTTP and CLI copies disagreeing.
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path(), Arc::new(SystemClock)).await;
    policies(&server, 0..8).await;
    let head = event_count(&server).await;
    let listed = server.get("/v1/events").await.json["events"]
        .as_array()
        .expect("events")
        .clone();

    let resp = server
        .http
        .get(server.url("/v1/events/export?from=2&to=6"))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let over_http = lines(&resp.text().await.expect("body"));
    assert_eq!(
        over_http,
        listed[2..6].to_vec(),
        "events 2..6 as /v1/events has them"
    );
    let whole = lines(&server.get("/v1/events/export").await.text);
    assert_eq!(whole, listed, "the whole log by default");
    server.stop().await;

    let dir = dir_str(tmp.path());
    let (ok, out, err) = run_cli(&[
        "export",
        "--data-dir",
        dir,
        "--format",
        "ndjson",
        "--from",
        "2",
        "--to",
        "6",
    ]);
    assert!(ok, "export failed: {err}");
    assert_eq!(lines(&out), over_http, "the CLI copy equals the HTTP one");
    assert!(err.contains("exported events 2..6"), "stderr: {err}");
    let (ok, out, _) = run_cli(&[
        "export",
        "--data-dir",
        dir,
        "--format",
        "ndjson",
        "--from",
        "1",
    ]);
    assert!(ok);
    assert_eq!(
        lines(&out).len() as u64,
        head - 1,
        "--to defaults to the end"
    );
    let (ok, _, err) = run_cli(&["export", "--data-dir", dir, "--format", "csv"]);
    assert!(!ok, "an unknown format is refused: {err}");
    let (ok, _, err) = run_cli(&["export", "--data-dir", dir, "--from", "9", "--to", "3"]);
    assert!(
        !ok && err.contains("past"),
        "from after to is refused: {err}"
    );
}
