//! Forwarding to a Splunk HTTP Event Collector, configured with the original's keys
//! (`splunk.enable, url, token_path, index, source, sourcetype_app, sourcetype_http`).
//!
//! A line is offered to a bounded queue with `try_send` — a full queue drops it and counts
//! it, so a slow or absent collector never blocks or slows the request that logged it. One
//! task takes up to `batch_events_max` queued lines, wraps each in HEC's envelope
//! (`{"time","host","index","source","sourcetype","event"}`, the line's JSON as `event`) and
//! POSTs them together to `{url}/services/collector/event` (HEC takes envelopes written one
//! after another) with `Authorization: Splunk <token>`. A failed post (no connection, a
//! timeout, 429 or 5xx) is retried with exponential backoff while new lines queue up behind
//! it; a post the collector refuses for good (another 4xx: a wrong token or index) drops
//! the batch, counted and warned. The token is read from `token_path` at start and never
//! logged or shown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Default queue size (`splunk.queue_events_max`).
pub const QUEUE_EVENTS_DEFAULT: usize = 10_000;
/// Default events per post (`splunk.batch_events_max`).
pub const BATCH_EVENTS_DEFAULT: usize = 100;
/// The first retry's wait; doubled up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// One post's deadline (connection included).
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one warning about drops or failures per this period.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// How long the shutdown lets the forwarder send what it holds (a post in flight
/// included); what is left then is lost.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The forwarding in force.
#[derive(Clone)]
pub struct HecSettings {
    /// The collector's base URL (`https://splunk-hec.example.com:8088`).
    pub url: String,
    /// The HEC token, read from `token_path`.
    pub token: HecToken,
    /// None: the token's default index.
    pub index: Option<String>,
    pub source: String,
    pub sourcetype_app: String,
    pub sourcetype_http: String,
    /// The envelope's `host`: this machine's name.
    pub host: String,
    pub queue_events_max: usize,
    pub batch_events_max: usize,
}

impl std::fmt::Debug for HecSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HecSettings")
            .field("url", &self.url)
            .field("index", &self.index)
            .field("source", &self.source)
            .field("sourcetype_app", &self.sourcetype_app)
            .field("sourcetype_http", &self.sourcetype_http)
            .field("host", &self.host)
            .field("queue_events_max", &self.queue_events_max)
            .field("batch_events_max", &self.batch_events_max)
            .finish_non_exhaustive()
    }
}

/// The HEC token: printable by no `Debug` or `Display`.
#[derive(Clone)]
pub struct HecToken(String);

impl HecToken {
    /// Reads the token file (`token_path`): its content, surrounding whitespace removed.
    pub fn read(path: &std::path::Path) -> anyhow::Result<HecToken> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("splunk.token_path {}: cannot read: {e}", path.display())
        })?;
        let token = text.trim();
        anyhow::ensure!(
            !token.is_empty(),
            "splunk.token_path {}: the file is empty",
            path.display()
        );
        Ok(HecToken(token.to_string()))
    }
}

impl std::fmt::Debug for HecToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HecToken(***)")
    }
}

/// Which sourcetype a line gets.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    App,
    Http,
}

struct Line {
    kind: Kind,
    /// Seconds since the epoch when it was offered.
    time: f64,
    /// One JSON value, no trailing newline.
    json: Vec<u8>,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    sent: AtomicU64,
    failed_posts: AtomicU64,
}

/// The running forwarder: its queue's sending side and its counts.
pub struct Hec {
    tx: mpsc::Sender<Line>,
    counters: Arc<Counters>,
    stop: Mutex<Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>>,
}

impl Hec {
    /// Starts the forwarding task on the current tokio runtime.
    pub fn start(settings: &HecSettings) -> anyhow::Result<Arc<Hec>> {
        let client = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("the Splunk HEC client: {e}"))?;
        let (tx, rx) = mpsc::channel(settings.queue_events_max.max(1));
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(forward(
            Forwarder {
                client,
                endpoint: format!(
                    "{}/services/collector/event",
                    settings.url.trim_end_matches('/')
                ),
                authorization: format!("Splunk {}", settings.token.0),
                settings: settings.clone(),
                counters: counters.clone(),
            },
            rx,
            stopped,
        ));
        tracing::info!(url = %settings.url, index = settings.index.as_deref().unwrap_or("(the token's)"), "forwarding logs to Splunk HEC");
        Ok(Arc::new(Hec {
            tx,
            counters,
            stop: Mutex::new(Some((stop, task))),
        }))
    }

    /// Queues one line, or drops it (counted) if the queue is full. Never waits.
    pub fn offer(&self, kind: Kind, json: &[u8]) {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let line = Line {
            kind,
            time,
            json: json.to_vec(),
        };
        if self.tx.try_send(line).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn count_into(&self, c: &mut super::LogCounts) {
        c.hec_queued = (self.tx.max_capacity() - self.tx.capacity()) as u64;
        c.hec_dropped = self.counters.dropped.load(Ordering::Relaxed);
        c.hec_sent = self.counters.sent.load(Ordering::Relaxed);
        c.hec_failed_posts = self.counters.failed_posts.load(Ordering::Relaxed);
    }

    /// Tells the task to send what it holds (one attempt, bounded) and waits for it.
    pub async fn stop(&self) {
        let Some((stop, mut task)) = self.stop.lock().take() else {
            return;
        };
        let _ = stop.send(());
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }
}

struct Forwarder {
    client: reqwest::Client,
    endpoint: String,
    authorization: String,
    settings: HecSettings,
    counters: Arc<Counters>,
}

/// What became of one post.
enum Posted {
    Accepted,
    /// Worth another try later (no answer, 429, 5xx).
    Retry(String),
    /// The collector will never take it as it is (another 4xx).
    Refused(String),
}

impl Forwarder {
    /// The batch's body: one envelope per line, newline-separated.
    fn body(&self, batch: &[Line]) -> Vec<u8> {
        let s = &self.settings;
        let mut out = Vec::with_capacity(batch.iter().map(|l| l.json.len() + 160).sum());
        for (i, line) in batch.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            let sourcetype = match line.kind {
                Kind::App => &s.sourcetype_app,
                Kind::Http => &s.sourcetype_http,
            };
            let mut head = serde_json::json!({
                "time": (line.time * 1000.0).round() / 1000.0,
                "host": s.host,
                "source": s.source,
                "sourcetype": sourcetype,
            });
            if let Some(index) = &s.index {
                head["index"] = index.as_str().into();
            }
            let head = serde_json::to_vec(&head).unwrap_or_default();
            // `{...head fields,"event":<the line's JSON>}`: the line is JSON already.
            out.extend_from_slice(&head[..head.len() - 1]);
            out.extend_from_slice(b",\"event\":");
            if serde_json::from_slice::<serde::de::IgnoredAny>(&line.json).is_ok() {
                out.extend_from_slice(&line.json);
            } else {
                let text = String::from_utf8_lossy(&line.json);
                out.extend_from_slice(&serde_json::to_vec(&text).unwrap_or_default());
            }
            out.push(b'}');
        }
        out
    }

    async fn post(&self, body: Vec<u8>) -> Posted {
        let sent = self
            .client
            .post(&self.endpoint)
            .header("authorization", &self.authorization)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Posted::Accepted,
            Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                Posted::Retry(format!("HTTP {}", r.status()))
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                Posted::Refused(format!(
                    "HTTP {status} {}",
                    text.chars().take(200).collect::<String>()
                ))
            }
            // reqwest's error names the URL, never the authorization header.
            Err(e) => Posted::Retry(e.without_url().to_string()),
        }
    }
}

/// Rate-limits the forwarder's warnings (they go to the log it ships).
struct Warner {
    last: Option<tokio::time::Instant>,
    dropped_seen: u64,
}

impl Warner {
    fn warn(&mut self, counters: &Counters, problem: Option<&str>) {
        let now = tokio::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < WARN_EVERY)
        {
            return;
        }
        let dropped = counters.dropped.load(Ordering::Relaxed);
        if problem.is_none() && dropped == self.dropped_seen {
            return;
        }
        self.last = Some(now);
        let new = dropped - self.dropped_seen;
        self.dropped_seen = dropped;
        tracing::warn!(
            dropped_since_last_warning = new,
            dropped_total = dropped,
            problem = problem.unwrap_or("the queue was full"),
            "Splunk HEC forwarding is behind: log lines were dropped or a post failed"
        );
    }
}

async fn forward(f: Forwarder, mut rx: mpsc::Receiver<Line>, mut stopped: oneshot::Receiver<()>) {
    let mut warner = Warner {
        last: None,
        dropped_seen: 0,
    };
    let batch_max = f.settings.batch_events_max.max(1);
    let mut stopping = false;
    loop {
        let mut batch = Vec::with_capacity(batch_max);
        if stopping {
            while batch.len() < batch_max {
                match rx.try_recv() {
                    Ok(l) => batch.push(l),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
        } else {
            tokio::select! {
                n = rx.recv_many(&mut batch, batch_max) => if n == 0 { return },
                _ = &mut stopped => { stopping = true; continue; }
            }
        }
        warner.warn(&f.counters, None);
        let body = f.body(&batch);
        let mut wait = BACKOFF_FIRST;
        loop {
            match f.post(body.clone()).await {
                Posted::Accepted => {
                    f.counters
                        .sent
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    break;
                }
                Posted::Refused(why) => {
                    f.counters
                        .dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    warner.warn(&f.counters, Some(&why));
                    break;
                }
                Posted::Retry(why) => {
                    f.counters.failed_posts.fetch_add(1, Ordering::Relaxed);
                    warner.warn(&f.counters, Some(&why));
                    if stopping {
                        f.counters
                            .dropped
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut stopped => { stopping = true; }
                    }
                    wait = (wait * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
}

/// This machine's name (the envelope's `host`).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // when the name fits, and we stop at the first NUL or the end either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> HecSettings {
        HecSettings {
            url: "http://127.0.0.1:1/".into(),
            token: HecToken("tok-123".into()),
            index: Some("vitistack".into()),
            source: "vitistack:ipam-api".into(),
            sourcetype_app: "ipam-api:app".into(),
            sourcetype_http: "ipam-api:http".into(),
            host: "h".into(),
            queue_events_max: 4,
            batch_events_max: 2,
        }
    }

    #[test]
    fn a_batch_is_one_envelope_per_line_with_the_line_as_its_event() {
        let f = Forwarder {
            client: reqwest::Client::new(),
            endpoint: String::new(),
            authorization: String::new(),
            settings: settings(),
            counters: Arc::default(),
        };
        let body = f.body(&[
            Line {
                kind: Kind::App,
                time: 1.5,
                json: br#"{"level":"INFO"}"#.to_vec(),
            },
            Line {
                kind: Kind::Http,
                time: 2.0,
                json: b"not json".to_vec(),
            },
        ]);
        let text = String::from_utf8(body).expect("utf-8");
        let envelopes: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("an envelope per line"))
            .collect();
        assert_eq!(envelopes.len(), 2);
        assert_eq!(envelopes[0]["event"]["level"], "INFO");
        assert_eq!(envelopes[0]["sourcetype"], "ipam-api:app");
        assert_eq!(envelopes[0]["time"], 1.5);
        assert_eq!(envelopes[0]["index"], "vitistack");
        assert_eq!(envelopes[0]["source"], "vitistack:ipam-api");
        assert_eq!(envelopes[0]["host"], "h");
        assert_eq!(envelopes[1]["event"], "not json");
        assert_eq!(envelopes[1]["sourcetype"], "ipam-api:http");
    }

    #[test]
    fn the_token_is_never_printed() {
        let s = settings();
        assert!(!format!("{s:?}").contains("tok-123"));
        assert!(!format!("{:?}", s.token).contains("tok-123"));
    }
}
