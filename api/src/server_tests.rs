//! The 503s of the real warp server, over real HTTP (issue 7, defect 4): with a store that can
//! neither read nor write, every outage answer — a failed log read, a failed append, the
//! stopped writer behind it, the health check — must carry `Retry-After`.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use ipledger_commands::store::{AppendError, EventStore, RecordRefused, StoreError, StreamAppend};
use ipledger_commands::{SystemClock, UuidV7Source, Writer, WriterConfig};
use ipledger_domain::{Envelope, NewEvent};
use ipledger_projections::State;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, watch};

use crate::app::App;
use crate::config::AuthConfig;

/// A store whose disk is gone: every read and every append fails.
struct BrokenStore {
    head: watch::Sender<u64>,
}

fn gone() -> StoreError {
    StoreError::Io(std::io::Error::other("the disk is gone"))
}

#[async_trait]
impl EventStore for BrokenStore {
    fn check_record(&self, _event: &NewEvent) -> Result<(), RecordRefused> {
        Ok(())
    }

    async fn append(&self, _batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        Err(AppendError::Store(gone()))
    }

    async fn read_all(&self, _from: u64, _max: usize) -> Result<Vec<Envelope>, StoreError> {
        Err(gone())
    }

    async fn read_stream(
        &self,
        _stream: &str,
        _from_version: u64,
        _max: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        Err(gone())
    }

    fn head(&self) -> u64 {
        0
    }

    fn follow(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }
}

/// The real filter over the broken store on 127.0.0.1:0, auth off (the 503s are the subject);
/// the server stops when the returned sender is dropped.
async fn serve() -> (SocketAddr, oneshot::Sender<()>) {
    let store: Arc<dyn EventStore> = Arc::new(BrokenStore {
        head: watch::channel(0).0,
    });
    let writer = Writer::start(
        store.clone(),
        State::default(),
        Arc::new(SystemClock),
        Box::new(UuidV7Source::default()),
        WriterConfig::default(),
    );
    let app = App {
        writer,
        store,
        auth: Arc::new(AuthConfig::new(None, true)),
        deliveries: None,
        region: crate::config::REGION_DEFAULT.into(),
        stream: crate::config::StreamSettings::default(),
        ready_lag_max: crate::config::READY_LAG_MAX_DEFAULT,
        metrics: Arc::new(crate::metrics::Metrics::new(None)),
        webhooks: Arc::default(),
        as_of: Arc::new(crate::asof::AsOf::default()),
        logs: Arc::new(crate::logs::Logs::off()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(crate::connections::serve(
        app,
        listener,
        crate::config::Config::default().connection_limits(),
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

/// What came back: the status line's code, the header lines (lowercase names), the body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// One HTTP/1.1 request on its own connection, read until the server closes it.
async fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Answer {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A 503 in the fault shape whose `Retry-After` is a positive number of seconds.
fn assert_unavailable(what: &str, a: &Answer) {
    assert_eq!(a.status, 503, "{what}: {}", a.body);
    assert!(a.body.contains("ServiceUnavailable"), "{what}: {}", a.body);
    let retry_after = a.headers.iter().find(|(k, _)| k == "retry-after");
    let seconds = retry_after.and_then(|(_, v)| v.parse::<u32>().ok());
    assert!(
        seconds.is_some_and(|s| s > 0),
        "{what}: a 503 without Retry-After; headers {:?}",
        a.headers
    );
}

#[tokio::test]
async fn every_503_of_the_server_carries_retry_after() {
    // Guards defect 4: a failed log read (`GET /v1/events`) and the health check of a stopped
    // writer answered 503 without Retry-After, leaving clients to guess when to retry.
    let (addr, _stop) = serve().await;
    let healthy = send(addr, "GET", "/healthz", "").await;
    assert_eq!(healthy.status, 200, "the writer runs until an append fails");
    for path in [
        "/v1/events",
        "/v1/events.xml",
        "/v1/events?stream=auth-tokens",
    ] {
        assert_unavailable(path, &send(addr, "GET", path, "").await);
    }
    // The first write fails its append, and the writer stops for good (fail-stop).
    let token = r#"{"name": "ci", "role": "agent"}"#;
    let issue = send(addr, "POST", "/v1/auth/tokens", token).await;
    assert_unavailable("issuing a token", &issue);
    assert_unavailable("health", &send(addr, "GET", "/healthz", "").await);
    let id = "01a233f2-4cc9-746c-a097-ffbc5e7ef0e6";
    let block = r#"{"ip_block": {"type": "private", "cidr": "10.0.0.0/24"}}"#;
    for (method, path, body) in [
        ("POST", "/v1/auth/tokens", token),
        ("DELETE", &format!("/v1/auth/tokens/{id}"), ""),
        ("POST", "/v0.1/ipam/tenants/acme/ip_blocks", block),
        ("POST", "/v1/agent/ipam/request", r#"{"ip": "10.0.0.1"}"#),
        ("POST", &format!("/v1/ipam/requests/{id}/approve"), ""),
        ("POST", "/v1/admin/purge", ""),
    ] {
        let what = format!("{method} {path}");
        assert_unavailable(&what, &send(addr, method, path, body).await);
    }
}

#[tokio::test]
async fn readyz_names_why_it_is_not_ready_while_healthz_still_answers() {
    // The store cannot be read: the process is alive (/healthz 200, the writer has not
    // failed an append yet) but must not be sent traffic (/readyz 503, with the reason).
    let (addr, _stop) = serve().await;
    assert_eq!(send(addr, "GET", "/healthz", "").await.status, 200);
    let ready = send(addr, "GET", "/readyz", "").await;
    assert_unavailable("readyz", &ready);
    let body: serde_json::Value = serde_json::from_str(&ready.body).expect("json");
    let reasons = body["ServiceUnavailable"]["errors"]["readiness"].to_string();
    assert!(
        reasons.contains("the store is unreachable"),
        "{}",
        ready.body
    );
    // Once an append failed, the stopped writer is a reason too.
    let token = r#"{"name": "ci", "role": "agent"}"#;
    assert_eq!(
        send(addr, "POST", "/v1/auth/tokens", token).await.status,
        503
    );
    let ready = send(addr, "GET", "/readyz", "").await;
    assert!(
        ready.body.contains("the writer is stopped"),
        "{}",
        ready.body
    );
    assert!(
        ready.headers.iter().any(|(k, _)| k == "x-request-id"),
        "{:?}",
        ready.headers
    );
}
