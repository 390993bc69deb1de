//! Prometheus metrics (`GET /metrics`, text format 0.0.4, `prometheus-client`).
//!
//! Counted as they happen: requests by route template (the row's pattern, never the raw path:
//! one series per row, method and status, however many ids clients send), their latency by
//! route template, and the writer's appends through [`MeteredStore`]: events per append (one
//! append is one batch of the writer) and the append's latency, which includes its fsync
//! (the store's contract: an append returns once the batch is durable).
//! Read at each scrape: the log's position and head, this node's lag behind the head (a
//! follower of a shared PostgreSQL log), the file log's size on disk, the writer's queue
//! depth, the mail outbox's backlog (owed notifications), the log files' dropped lines and
//! the Splunk HEC forwarder's queue, drops and sends (`logs/`), and the utilization of the
//! [`TOP_BLOCKS`] largest blocks (a bounded number of series).
//!
//! This file holds the registry and what counts; what reads the running service at a scrape,
//! the `/metrics` row's handler (admins on the main address) and the public `metrics_listen`
//! listener (anyone, nothing else answered) are `admin/metrics.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ipledger_commands::store::{
    AppendError, ChainHead, EventStore, RecordRefused, StoreError, StreamAppend,
};
use ipledger_domain::{Envelope, NewEvent};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Blocks whose utilization is exported: the largest ones (by address count).
pub const TOP_BLOCKS: usize = 20;

/// The text format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BlockLabels {
    block_id: String,
    cidr: String,
    tenant: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets: 100 µs to ~3 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Every metric, registered once; the gauges read at a scrape are set just before encoding.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    batch_events: Histogram,
    append_seconds: Histogram,
    append_failures: Counter,
    position: Gauge,
    head: Gauge,
    lag: Gauge,
    log_bytes: Gauge,
    queue_depth: Gauge,
    outbox_backlog: Gauge,
    webhook_backlog: Gauge,
    webhooks_failing: Gauge,
    hec_queued: Gauge,
    hec_dropped: Counter,
    hec_sent: Counter,
    hec_failed_posts: Counter,
    log_lines_dropped: Counter,
    blocks: Gauge,
    block_utilization: Family<BlockLabels, Gauge<f64, AtomicU64>>,
    /// Seconds since the newest snapshot this process wrote (-1: none yet).
    snapshot_age: Gauge,
    /// When it was written (seconds since the epoch; 0: none).
    snapshot_written_at: AtomicU64,
    /// The file log's directory (its size is exported); None on PostgreSQL.
    log_dir: Option<PathBuf>,
}

impl Metrics {
    pub fn new(log_dir: Option<PathBuf>) -> Metrics {
        let mut registry = Registry::with_prefix("ipledger");
        let m = Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            batch_events: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            append_seconds: latency_histogram(),
            append_failures: Counter::default(),
            position: Gauge::default(),
            head: Gauge::default(),
            lag: Gauge::default(),
            log_bytes: Gauge::default(),
            queue_depth: Gauge::default(),
            outbox_backlog: Gauge::default(),
            webhook_backlog: Gauge::default(),
            webhooks_failing: Gauge::default(),
            hec_queued: Gauge::default(),
            hec_dropped: Counter::default(),
            hec_sent: Counter::default(),
            hec_failed_posts: Counter::default(),
            log_lines_dropped: Counter::default(),
            blocks: Gauge::default(),
            block_utilization: Family::default(),
            snapshot_age: Gauge::default(),
            snapshot_written_at: AtomicU64::new(0),
            log_dir,
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "Requests answered, by route template, method and status",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's headers to its answer, by route template",
            m.latency.clone(),
        );
        registry.register(
            "writer_batch_events",
            "Events per append (one append is one writer batch)",
            m.batch_events.clone(),
        );
        registry.register(
            "log_append_seconds",
            "Latency of one durable append, fsync included",
            m.append_seconds.clone(),
        );
        registry.register(
            "log_append_failures",
            "Appends the store refused or failed",
            m.append_failures.clone(),
        );
        registry.register(
            "log_position",
            "Events this node has applied",
            m.position.clone(),
        );
        registry.register("log_head", "Events in the log", m.head.clone());
        registry.register(
            "follower_lag_events",
            "Events in the log this node has yet to apply (shared log)",
            m.lag.clone(),
        );
        registry.register(
            "log_bytes",
            "Size of the file log's segments on disk (0 on PostgreSQL)",
            m.log_bytes.clone(),
        );
        registry.register(
            "writer_queue_depth",
            "Commands waiting for the writer",
            m.queue_depth.clone(),
        );
        registry.register(
            "outbox_mail_backlog",
            "Notifications owed by the mail outbox",
            m.outbox_backlog.clone(),
        );
        registry.register(
            "outbox_webhook_backlog_events",
            "Events of the log past the webhook endpoints' acknowledged positions, summed",
            m.webhook_backlog.clone(),
        );
        registry.register(
            "webhooks_failing",
            "Webhook endpoints this node is retrying",
            m.webhooks_failing.clone(),
        );
        registry.register(
            "outbox_hec_backlog",
            "Log lines queued for the Splunk HEC forwarder",
            m.hec_queued.clone(),
        );
        registry.register(
            "hec_dropped_events",
            "Log lines the Splunk HEC forwarder dropped (queue full, or refused by the collector)",
            m.hec_dropped.clone(),
        );
        registry.register(
            "hec_sent_events",
            "Log lines the Splunk HEC collector accepted",
            m.hec_sent.clone(),
        );
        registry.register(
            "hec_failed_posts",
            "Posts to the Splunk HEC collector that failed and were retried",
            m.hec_failed_posts.clone(),
        );
        registry.register(
            "log_dropped_lines",
            "Lines the log files dropped (queue full or a write error such as a full disk)",
            m.log_lines_dropped.clone(),
        );
        registry.register("blocks", "Blocks in the projections", m.blocks.clone());
        registry.register(
            "snapshot_age_seconds",
            "Seconds since this process last wrote a snapshot of its projections (-1: none)",
            m.snapshot_age.clone(),
        );
        registry.register(
            "block_utilization_ratio",
            "Used addresses over size, for the largest blocks only (bounded)",
            m.block_utilization.clone(),
        );
        Metrics { registry, ..m }
    }

    /// One answered request. `route`: the row's pattern (in [`template`]'s form), or
    /// `unmatched` (404/405 and requests refused before a row was found) so the label set
    /// stays bounded.
    pub fn observe_request(
        &self,
        route: Option<(&'static str, &'static str)>,
        status: u16,
        took: Duration,
    ) {
        let (method, route) = route.map_or(("OTHER", "unmatched"), |(m, p)| (m, template(p)));
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    /// A snapshot was just written (`ops.rs`).
    pub fn snapshot_written(&self) {
        self.snapshot_written_at
            .store(unix_now().max(1), std::sync::atomic::Ordering::Release);
    }

    /// The text exposition, with the gauges read by the caller (`admin/metrics.rs`).
    pub fn render(&self, g: &Gauges) -> String {
        let written = self
            .snapshot_written_at
            .load(std::sync::atomic::Ordering::Acquire);
        let age = if written == 0 {
            -1
        } else {
            as_i64(unix_now().saturating_sub(written))
        };
        self.snapshot_age.set(age);
        self.position.set(as_i64(g.position));
        self.head.set(as_i64(g.head));
        self.lag.set(as_i64(g.head.saturating_sub(g.position)));
        self.queue_depth.set(as_i64(g.queue_depth));
        self.outbox_backlog.set(as_i64(g.outbox_backlog));
        self.webhook_backlog.set(as_i64(g.webhook_backlog));
        self.webhooks_failing.set(as_i64(g.webhooks_failing));
        self.hec_queued.set(as_i64(g.logs.hec_queued));
        // Totals kept by the log writers: the counters catch up to them.
        for (counter, total) in [
            (&self.hec_dropped, g.logs.hec_dropped),
            (&self.hec_sent, g.logs.hec_sent),
            (&self.hec_failed_posts, g.logs.hec_failed_posts),
            (&self.log_lines_dropped, g.logs.file_lines_dropped),
        ] {
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        self.blocks.set(as_i64(g.blocks));
        self.log_bytes
            .set(as_i64(self.log_dir.as_deref().map_or(0, dir_bytes)));
        self.block_utilization.clear();
        for b in &g.largest_blocks {
            self.block_utilization
                .get_or_create(&BlockLabels {
                    block_id: b.block_id.clone(),
                    cidr: b.cidr.clone(),
                    tenant: b.tenant.clone(),
                })
                .set(b.ratio);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// What a scrape reads from the running service (`admin/metrics.rs` fills it in).
#[derive(Debug, Default)]
pub struct Gauges {
    pub position: u64,
    pub head: u64,
    pub queue_depth: u64,
    pub outbox_backlog: u64,
    pub webhook_backlog: u64,
    pub webhooks_failing: u64,
    /// The log files' and the HEC forwarder's counts (`logs/`).
    pub logs: crate::logs::LogCounts,
    pub blocks: u64,
    /// At most [`TOP_BLOCKS`].
    pub largest_blocks: Vec<BlockUse>,
}

/// One block's utilization series.
#[derive(Debug)]
pub struct BlockUse {
    pub block_id: String,
    pub cidr: String,
    pub tenant: String,
    /// Used addresses over the block's size.
    pub ratio: f64,
}

/// A row's pattern with `{name}` placeholders written `:name`
/// (`/v0.1/ipam/tenants/:tenant/ip_blocks`): braces inside label values trip some
/// text-format parsers (the `prometheus-parse` crate drops such lines). Each pattern is
/// converted once and kept: there are as many as rows.
pub fn template(pattern: &'static str) -> &'static str {
    static TEMPLATES: LazyLock<RwLock<HashMap<&'static str, &'static str>>> =
        LazyLock::new(Default::default);
    if let Some(t) = TEMPLATES.read().get(pattern) {
        return t;
    }
    let mut templates = TEMPLATES.write();
    templates
        .entry(pattern)
        .or_insert_with(|| Box::leak(pattern.replace('{', ":").replace('}', "").into_boxed_str()))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Bytes of the files directly in `dir` (the log's segments and index).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The store the writer appends through: times each append and counts its events.
pub struct MeteredStore {
    pub inner: Arc<dyn EventStore>,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl EventStore for MeteredStore {
    fn check_record(&self, event: &NewEvent) -> Result<(), RecordRefused> {
        self.inner.check_record(event)
    }

    async fn append(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        let started = Instant::now();
        let result = self.inner.append(batch).await;
        match &result {
            Ok(stored) => {
                self.metrics
                    .append_seconds
                    .observe(started.elapsed().as_secs_f64());
                self.metrics.batch_events.observe(stored.len() as f64);
            }
            Err(_) => {
                self.metrics.append_failures.inc();
            }
        }
        result
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<Envelope>, StoreError> {
        self.inner.read_all(from, max).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        self.inner.read_stream(stream, from_version, max).await
    }

    fn head(&self) -> u64 {
        self.inner.head()
    }

    fn follow(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.follow()
    }

    async fn recover(&self) -> Result<(), StoreError> {
        self.inner.recover().await
    }

    async fn chain_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.inner.chain_head().await
    }
}
