//! Connection limits (issue 8, defect 3): sockets that send a request line and never finish
//! the headers, idle keep-alive connections, slowloris headers and slow bodies were all kept
//! open for ever, so with `ulimit -n 1024` about a thousand of them stalled `/healthz` and
//! every write. Each kind is tried here at a small scale against a server with small limits:
//! the server must close the stalled ones by itself, answer a slow body 408, refuse
//! connections over the cap at once, and keep answering `/healthz`. The full scale (2,000
//! idle and 1,000 slowloris connections) is `scripts/bench-connections`.
//!
//! The timeouts below are liveness bounds (a test must end), many times the configured
//! limits; no latency is asserted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ipledger_commands::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestServer;

const CONNECTIONS_MAX: usize = 50;
const HEADER_MS: u64 = 300;
const BODY_MS: u64 = 300;
/// How long a test waits for the server to act on a 300 ms limit before calling it stuck.
const PATIENCE: Duration = Duration::from_secs(10);

async fn server(header_ms: u64) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_configured(tmp.path(), Arc::new(SystemClock), |c| {
        c.connections_max = CONNECTIONS_MAX;
        c.header_read_timeout_ms = header_ms;
        c.body_read_timeout_ms = BODY_MS;
    })
    .await;
    (server, tmp)
}

fn addr(server: &TestServer) -> SocketAddr {
    server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address")
}

async fn open(addr: SocketAddr, first_bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    if !first_bytes.is_empty() {
        s.write_all(first_bytes).await.expect("write");
    }
    s
}

/// Everything the server sends until it closes the connection (a reset counts as closed),
/// or None if it is still open after [`PATIENCE`].
async fn closed_by_server(s: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// `GET /healthz` on a connection of its own; the status, or None if nothing came back.
async fn healthz(addr: SocketAddr) -> Option<u16> {
    let mut s = open(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let answer = closed_by_server(&mut s).await?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn request_heads_never_finished_are_closed_after_the_header_timeout() {
    let (server, _tmp) = server(HEADER_MS).await;
    let addr = addr(&server);
    let mut stalled = Vec::new();
    for i in 0..CONNECTIONS_MAX / 2 {
        // Half send a request line and stop; half send nothing at all.
        let first: &[u8] = if i % 2 == 0 {
            b"GET /healthz HTTP/1.1\r\n"
        } else {
            b""
        };
        stalled.push(open(addr, first).await);
    }
    for (i, s) in stalled.iter_mut().enumerate() {
        assert!(
            closed_by_server(s).await.is_some(),
            "stalled connection {i} still open"
        );
    }
    assert_eq!(healthz(addr).await, Some(200));
}

#[tokio::test]
async fn a_slowloris_header_trickle_is_closed_after_the_header_timeout() {
    let (server, _tmp) = server(HEADER_MS).await;
    let addr = addr(&server);
    let mut s = open(addr, b"GET /healthz HTTP/1.1\r\n").await;
    // One header byte every 50 ms, for ever: each byte resets no timer.
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if s.write_all(b"X").await.is_err() {
                return;
            }
            let mut buf = [0u8; 1024];
            match tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slowloris connection is still open");
    assert_eq!(healthz(addr).await, Some(200));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (server, _tmp) = server(HEADER_MS).await;
    let addr = addr(&server);
    let mut s = open(addr, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.expect("an answer");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // The connection stays open for another request, then goes idle.
    assert!(
        closed_by_server(&mut s).await.is_some(),
        "an idle keep-alive connection is still open"
    );
}

#[tokio::test]
async fn a_body_that_does_not_arrive_gets_408_and_the_connection_is_closed() {
    // A long header timeout, so that only the body's deadline can close the connection.
    let (server, _tmp) = server(60_000).await;
    let addr = addr(&server);
    let head = "POST /v0.1/ipam/tenants/t1/ip_blocks HTTP/1.1\r\nHost: t\r\n\
                Authorization: Bearer ipl_integration-tests-admin-token\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ip_block\"";
    let mut s = open(addr, head.as_bytes()).await;
    let answer = closed_by_server(&mut s)
        .await
        .expect("a slow body's connection is still open");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("RequestTimeout"), "{answer}");
    assert_eq!(healthz(addr).await, Some(200));
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_at_once_and_healthz_comes_back() {
    // A long header timeout: the stalled connections stay until the test closes them.
    let (server, _tmp) = server(60_000).await;
    let addr = addr(&server);
    let mut stalled = Vec::new();
    for _ in 0..CONNECTIONS_MAX {
        stalled.push(open(addr, b"GET /healthz HTTP/1.1\r\n").await);
    }
    // The server accepts in order: once it has taken all of the above, the next are over.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..5 {
        let mut extra = open(addr, b"").await;
        let answer = closed_by_server(&mut extra)
            .await
            .unwrap_or_else(|| panic!("connection {i} over the limit is still open"));
        // A 503 with Retry-After, or a plain close if the answer was lost to the reset.
        if !answer.is_empty() {
            assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
            assert!(answer.contains("retry-after: "), "{answer}");
        }
    }
    assert_ne!(healthz(addr).await, Some(200), "the cap is not enforced");
    drop(stalled);
    // The permits come back as the server sees the closes.
    let mut status = None;
    for _ in 0..100 {
        status = healthz(addr).await;
        if status == Some(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(200));
}

#[tokio::test]
async fn server_shuts_down_with_stalled_connections_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let server = TestServer::start_configured(&dir, Arc::new(SystemClock), |c| {
        c.header_read_timeout_ms = 60_000;
    })
    .await;
    let addr = addr(&server);
    let mut stalled = Vec::new();
    for _ in 0..10 {
        stalled.push(open(addr, b"GET /healthz HTTP/1.1\r\n").await);
    }
    // The restart needs the old server gone (and the log unlocked) first.
    let server = tokio::time::timeout(Duration::from_secs(30), server.restart())
        .await
        .expect("shutdown finished");
    assert_eq!(server.get("/healthz").await.status.as_u16(), 200);
}
