//! Configuration: defaults, then the TOML config file, then `IPLEDGER_*` environment
//! variables, then command-line flags — each later source overriding the earlier.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipledger_infra::mail::{SmtpSettings, SmtpTls};
use serde::{Deserialize, Serialize};

use crate::auth::secret::digest;

pub const DATA_DIR_DEFAULT: &str = "./data";
pub const LISTEN_DEFAULT: &str = "127.0.0.1:9898";

/// How requests are authenticated, fixed at start-up (read by `auth/admit.rs`).
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// SHA-256 of the configured bootstrap admin token (`IPLEDGER_ADMIN_TOKEN`/`admin_token`).
    pub admin_sha256: Option<[u8; 32]>,
    /// `--insecure-no-auth`: every request acts as an admin named `anonymous`.
    pub insecure_no_auth: bool,
    /// `registrations_open`: the original's registration routes answer without a token.
    pub registrations_open: bool,
    /// The key registration secrets are hashed with (`registrations/key.rs`).
    /// None on a shared log without a configured key: the registration routes answer 503.
    pub registration_key: Option<crate::registrations::key::RegistrationKey>,
}

impl AuthConfig {
    pub fn new(admin_token: Option<&str>, insecure_no_auth: bool) -> Self {
        AuthConfig {
            admin_sha256: admin_token.map(digest),
            insecure_no_auth,
            ..AuthConfig::default()
        }
    }
}

/// The connection limits in force (`connections.rs`, and the body deadline in `server.rs`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub connections_max: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    /// How long a shutdown waits for open connections to finish their request.
    pub shutdown_grace: Duration,
}

/// The config file's shape; every field optional. `Serialize` only for the sample-config
/// test, which checks that `scripts/deploy/ipledger.toml` names every field.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    /// Where the event log lives: `file:DIR` (the embedded log, the default, in `data_dir`)
    /// or `postgres://user@host:port/db?schema=NAME` (a log several nodes can share).
    pub store: Option<String>,
    pub listen: Option<SocketAddr>,
    pub dns1: Option<IpAddr>,
    pub dns2: Option<IpAddr>,
    pub keep_deallocated_ips_for_days: Option<u32>,
    /// Days an idempotency key's outcome is kept (default 7).
    pub idempotency_keep_days: Option<u32>,
    /// `tenant_based` (default), `eui64` or `sequential` (decision 11).
    pub ipv6_generator: Option<ipledger_domain::ipv6::Ipv6Generator>,
    pub purge_interval_seconds: Option<u64>,
    /// Pending IP requests one agent may hold at once (default 16; 0: no limit).
    pub request_holds_per_agent_max: Option<usize>,
    /// Hours before a pending IP request expires and frees its address (default 168; 0: never).
    pub request_pending_expiry_hours: Option<u32>,
    pub segment_bytes_max: Option<u64>,
    pub batch_commands_max: Option<usize>,
    /// `text` (default) or `json`.
    pub log_format: Option<String>,
    /// The bootstrap admin token's secret (`auth/admit.rs`); generated on first start if absent.
    pub admin_token: Option<String>,
    /// The notification outbox's mail server (`outbox.rs`); no host: no e-mail is sent.
    pub smtp: Option<SmtpFileConfig>,
    /// Open client connections at most (`connections.rs`); more are answered 503 and closed.
    pub connections_max: Option<usize>,
    /// Milliseconds from a connection's start, or the end of its previous response, until a
    /// request's headers are complete (also the keep-alive idle timeout).
    pub header_read_timeout_ms: Option<u64>,
    /// Milliseconds from a request's headers until its whole body has arrived (else 408).
    pub body_read_timeout_ms: Option<u64>,
    /// The Scaleway region this deployment answers for (`/ipam/v1/regions/{region}`).
    pub region: Option<String>,
    /// Accept the registration routes without a token (default false; a WARN at start).
    pub registrations_open: Option<bool>,
    /// The registration secrets' HMAC key, 64 hex digits; absent: `registration.key` in the
    /// data directory, created at first start (mode 0600).
    pub registration_secret_key: Option<String>,
    /// Seconds between two registration cleanups (default 30, the original's; 0: off).
    pub registration_cleanup_interval_seconds: Option<u64>,
    /// Events between two snapshots of the projections (default 100000; 0: none written).
    pub snapshot_interval_events: Option<u64>,
    /// Bytes per second a periodic snapshot is written at most (default 64 MiB/s; 0: no
    /// limit). Shutdown and offline snapshots are not limited.
    pub snapshot_write_bytes_per_second: Option<u64>,
    /// Where snapshots go (default `<data_dir>/snapshots` for the file log; a PostgreSQL
    /// log has no default: without it no snapshot is written or read).
    pub snapshot_dir: Option<PathBuf>,
    /// Milliseconds between two heartbeat comments on an event stream (`admin/stream.rs`).
    pub stream_heartbeat_ms: Option<u64>,
    /// Events an event stream or export holds for its consumer at most.
    pub stream_buffer_events: Option<usize>,
    /// Milliseconds a consumer may leave a full buffer unread before it is cut off.
    pub stream_lag_timeout_ms: Option<u64>,
    /// `/readyz` answers 503 while this node is more than this many events behind the log's
    /// head (a follower of a shared log).
    pub ready_lag_max: Option<u64>,
    /// On SIGTERM/SIGINT, milliseconds the open connections get to finish their request.
    pub shutdown_grace_ms: Option<u64>,
    /// A second listen address serving only `GET /metrics`, without authentication; unset:
    /// `/metrics` is on the main address, for admins only.
    pub metrics_listen: Option<SocketAddr>,
    /// Whether this node delivers webhooks (default true); on a shared log, exactly one
    /// node should, or endpoints get each event once per node and out of order.
    pub webhook_delivery: Option<bool>,
    /// Where `ipledger.log` and `http.log` are written (default `./logs`, `logs/mod.rs`).
    pub log_dir: Option<PathBuf>,
    /// A log file is rotated once it passed this many bytes (default 10 MiB).
    pub log_file_bytes_max: Option<u64>,
    /// Rotated files kept per log (`ipledger.log.1` ...; default 5).
    pub log_files_kept: Option<usize>,
    /// Log forwarding to a Splunk HTTP Event Collector (`logs/hec.rs`), the original's keys.
    pub splunk: Option<SplunkFileConfig>,
}

/// The config file's `[splunk]` section: the original ipam-api's keys, and the queue's.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SplunkFileConfig {
    pub enable: Option<bool>,
    pub url: Option<String>,
    pub token_path: Option<PathBuf>,
    pub index: Option<String>,
    pub source: Option<String>,
    pub sourcetype_app: Option<String>,
    pub sourcetype_http: Option<String>,
    /// Lines queued for the collector at most; more are dropped, counted (default 10,000).
    pub queue_events_max: Option<usize>,
    /// Lines per post at most (default 100).
    pub batch_events_max: Option<usize>,
}

/// The Splunk forwarding in force (its token is read from `token_path` at start).
#[derive(Debug, Clone)]
pub struct SplunkConfig {
    pub url: String,
    pub token_path: PathBuf,
    pub index: Option<String>,
    pub source: String,
    pub sourcetype_app: String,
    pub sourcetype_http: String,
    pub queue_events_max: usize,
    pub batch_events_max: usize,
}

pub const SPLUNK_SOURCE_DEFAULT: &str = "ipledger";
pub const SPLUNK_SOURCETYPE_APP_DEFAULT: &str = "ipledger:app";
pub const SPLUNK_SOURCETYPE_HTTP_DEFAULT: &str = "ipledger:http";

/// `[splunk]` ← `IPLEDGER_SPLUNK_ENABLE`, `_URL`, `_TOKEN_PATH`, `_INDEX`, `_SOURCE`,
/// `_SOURCETYPE_APP`, `_SOURCETYPE_HTTP`, `_QUEUE_EVENTS_MAX`, `_BATCH_EVENTS_MAX`. None
/// unless enabled; enabled without a URL or a token path is refused at start.
fn splunk(fc: Option<SplunkFileConfig>) -> anyhow::Result<Option<SplunkConfig>> {
    let fc = fc.unwrap_or_default();
    if !env("IPLEDGER_SPLUNK_ENABLE")?
        .or(fc.enable)
        .unwrap_or(false)
    {
        return Ok(None);
    }
    let url: String = env("IPLEDGER_SPLUNK_URL")?.or(fc.url).ok_or_else(|| {
        anyhow::anyhow!("splunk.enable is true but splunk.url (IPLEDGER_SPLUNK_URL) is not set")
    })?;
    anyhow::ensure!(
        url.starts_with("http://") || url.starts_with("https://"),
        "splunk.url must start with http:// or https://: {url:?}"
    );
    let token_path = env("IPLEDGER_SPLUNK_TOKEN_PATH")?
        .or(fc.token_path)
        .ok_or_else(|| anyhow::anyhow!("splunk.enable is true but splunk.token_path (IPLEDGER_SPLUNK_TOKEN_PATH) is not set"))?;
    Ok(Some(SplunkConfig {
        url,
        token_path,
        index: env("IPLEDGER_SPLUNK_INDEX")?.or(fc.index),
        source: env("IPLEDGER_SPLUNK_SOURCE")?
            .or(fc.source)
            .unwrap_or_else(|| SPLUNK_SOURCE_DEFAULT.into()),
        sourcetype_app: env("IPLEDGER_SPLUNK_SOURCETYPE_APP")?
            .or(fc.sourcetype_app)
            .unwrap_or_else(|| SPLUNK_SOURCETYPE_APP_DEFAULT.into()),
        sourcetype_http: env("IPLEDGER_SPLUNK_SOURCETYPE_HTTP")?
            .or(fc.sourcetype_http)
            .unwrap_or_else(|| SPLUNK_SOURCETYPE_HTTP_DEFAULT.into()),
        queue_events_max: positive(
            "splunk.queue_events_max",
            env("IPLEDGER_SPLUNK_QUEUE_EVENTS_MAX")?
                .or(fc.queue_events_max)
                .unwrap_or(crate::logs::hec::QUEUE_EVENTS_DEFAULT),
        )?,
        batch_events_max: positive(
            "splunk.batch_events_max",
            env("IPLEDGER_SPLUNK_BATCH_EVENTS_MAX")?
                .or(fc.batch_events_max)
                .unwrap_or(crate::logs::hec::BATCH_EVENTS_DEFAULT),
        )?,
    }))
}

/// The config file's `[smtp]` section.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFileConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub from: Option<String>,
    /// Told of every new IP request.
    pub support_email: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `none` (default), `starttls` or `tls`.
    pub tls: Option<SmtpTls>,
    pub timeout_seconds: Option<u64>,
}

/// The mail settings in force: the server, and the support address.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub server: SmtpSettings,
    pub support_email: Option<String>,
}

pub const SMTP_PORT_DEFAULT: u16 = 25;
pub const SMTP_FROM_DEFAULT: &str = "ipledger@localhost";
pub const SMTP_TIMEOUT_SECONDS_DEFAULT: u64 = 10;

/// `[smtp]` ← `IPLEDGER_SMTP_HOST`, `_PORT`, `_FROM`, `IPLEDGER_SUPPORT_EMAIL`. None without a host.
fn smtp(fc: Option<SmtpFileConfig>) -> anyhow::Result<Option<SmtpConfig>> {
    let fc = fc.unwrap_or_default();
    let Some(host) = env("IPLEDGER_SMTP_HOST")?.or(fc.host) else {
        return Ok(None);
    };
    let server = SmtpSettings {
        host,
        port: env("IPLEDGER_SMTP_PORT")?
            .or(fc.port)
            .unwrap_or(SMTP_PORT_DEFAULT),
        from: env("IPLEDGER_SMTP_FROM")?
            .or(fc.from)
            .unwrap_or_else(|| SMTP_FROM_DEFAULT.into()),
        username: fc.username,
        password: fc.password,
        tls: fc.tls.unwrap_or_default(),
        timeout_seconds: fc.timeout_seconds.unwrap_or(SMTP_TIMEOUT_SECONDS_DEFAULT),
    };
    Ok(Some(SmtpConfig {
        server,
        support_email: env("IPLEDGER_SUPPORT_EMAIL")?.or(fc.support_email),
    }))
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `store` as given (`file:DIR` or a PostgreSQL URL); None: the file log in `data_dir`.
    /// Read through [`Config::store_spec`].
    pub store: Option<String>,
    pub listen: SocketAddr,
    pub dns1: Option<IpAddr>,
    pub dns2: Option<IpAddr>,
    pub keep_deallocated_ips_for_days: u32,
    /// Days an idempotency key's outcome is kept, then forgotten by the retention task.
    pub idempotency_keep_days: u32,
    /// The IPv6 generator of blocks that name none (decision 11).
    pub ipv6_generator: ipledger_domain::ipv6::Ipv6Generator,
    /// Seconds between two runs of the retention purge (`retention.rs`); 0 turns it off.
    pub purge_interval_seconds: u64,
    /// Pending IP requests (holds) one agent — one token name — may have at once, over all
    /// tenants; 0 is no limit.
    pub request_holds_per_agent_max: usize,
    /// Hours an IP request may stay pending before the retention run expires it; 0 never.
    pub request_pending_expiry_hours: u32,
    pub segment_bytes_max: u64,
    pub batch_commands_max: usize,
    pub log_format: String,
    pub admin_token: Option<String>,
    /// `serve --insecure-no-auth`: no authentication at all (every request is an admin).
    pub insecure_no_auth: bool,
    /// The outbox's mail server; None: notifications are kept owed, none is sent.
    pub smtp: Option<SmtpConfig>,
    /// Open client connections at most; lowered at start to what the open-files limit allows.
    pub connections_max: usize,
    /// Headers of a request must be complete this long after the connection opened or its
    /// previous response was sent (so an idle keep-alive connection is closed after it too).
    pub header_read_timeout_ms: u64,
    /// A request's body must have arrived this long after its headers (else 408, closed).
    pub body_read_timeout_ms: u64,
    /// The Scaleway region served under `/ipam/v1/regions/{region}/` (another region is
    /// 404), in Scaleway's `xx-yyy` form.
    pub region: String,
    /// The registration routes answer requests without a token (`IPLEDGER_REGISTRATIONS_OPEN`).
    pub registrations_open: bool,
    /// The registration secrets' HMAC key; None: the data directory's key file.
    pub registration_secret_key: Option<crate::registrations::key::RegistrationKey>,
    /// Seconds between two registration cleanups; 0 turns them off.
    pub registration_cleanup_interval_seconds: u64,
    /// Events between two snapshots of the projections (`snapshots.rs`); 0: none is
    /// written (a valid one found at start-up is still used).
    pub snapshot_interval_events: u64,
    /// The periodic snapshots' write rate (`snapshots::Pace`); 0: no limit.
    pub snapshot_write_bytes_per_second: u64,
    /// Where snapshots go; None: `<data_dir>/snapshots` for the file log, none for PostgreSQL.
    pub snapshot_dir: Option<PathBuf>,
    /// The event stream's and export's heartbeat, buffer and slow-consumer cut-off.
    pub stream: StreamSettings,
    /// `/readyz` is 503 while this node lags the log's head by more events than this.
    pub ready_lag_max: u64,
    /// How long a shutdown lets open connections finish their request before dropping them.
    pub shutdown_grace_ms: u64,
    /// `/metrics` also served here, without authentication (`metrics.rs`).
    pub metrics_listen: Option<SocketAddr>,
    /// Whether this node runs the webhook deliverer (`webhooks/deliver.rs`).
    pub webhook_delivery: bool,
    /// Where `ipledger.log` and `http.log` go (`logs/mod.rs`).
    pub log_dir: PathBuf,
    /// Size past which a log file is rotated.
    pub log_file_bytes_max: u64,
    /// Rotated files kept per log.
    pub log_files_kept: usize,
    /// Splunk HEC forwarding; None: off.
    pub splunk: Option<SplunkConfig>,
}

/// How `GET /v1/events/stream` and `/v1/events/export` treat their consumer
/// (`admin/stream.rs`): a comment line every `heartbeat`; at most `buffer_events` events
/// held for it; cut off when that buffer stayed full for `lag_timeout`.
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    pub heartbeat: Duration,
    pub buffer_events: usize,
    pub lag_timeout: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            heartbeat: Duration::from_secs(15),
            buffer_events: 1024,
            lag_timeout: Duration::from_secs(30),
        }
    }
}

/// Defaults of the connection limits (README, "Limits"): room for many more clients than a
/// Melange deployment has, yet each stalled connection is gone within seconds.
pub const CONNECTIONS_MAX_DEFAULT: usize = 10_000;
pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
pub const BODY_READ_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Scaleway's first region: the SDK's examples use it.
pub const REGION_DEFAULT: &str = "fr-par";
/// A follower this far behind still answers reads within the `min_position` wait.
pub const READY_LAG_MAX_DEFAULT: u64 = 10_000;
/// Every phase of a connection is time-boxed (header and body deadlines), so the grace is a
/// backstop for handlers, which answer in milliseconds.
pub const SHUTDOWN_GRACE_MS_DEFAULT: u64 = 5_000;

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(DATA_DIR_DEFAULT),
            store: None,
            listen: LISTEN_DEFAULT.parse().expect("valid default address"),
            // Melange's sample configuration, which the spec's examples show.
            dns1: Some(IpAddr::from([8, 8, 8, 8])),
            dns2: Some(IpAddr::from([8, 8, 4, 4])),
            keep_deallocated_ips_for_days: 2,
            idempotency_keep_days: ipledger_domain::limits::IDEMPOTENCY_KEEP_DAYS_DEFAULT,
            // Melange's default generator.
            ipv6_generator: ipledger_domain::ipv6::Ipv6Generator::TenantBased,
            purge_interval_seconds: 60,
            // An agent needs a few requests in flight, not a block's worth (issue 8).
            request_holds_per_agent_max: 16,
            // A week: a hold nobody reviewed over a weekend and a holiday goes back.
            request_pending_expiry_hours: 168,
            segment_bytes_max: 256 << 20,
            batch_commands_max: 8192,
            log_format: "text".into(),
            admin_token: None,
            insecure_no_auth: false,
            smtp: None,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            header_read_timeout_ms: HEADER_READ_TIMEOUT_MS_DEFAULT,
            body_read_timeout_ms: BODY_READ_TIMEOUT_MS_DEFAULT,
            region: REGION_DEFAULT.into(),
            registrations_open: false,
            registration_secret_key: None,
            registration_cleanup_interval_seconds: 30,
            snapshot_interval_events: SNAPSHOT_INTERVAL_EVENTS_DEFAULT,
            snapshot_write_bytes_per_second: SNAPSHOT_WRITE_BYTES_PER_SECOND_DEFAULT,
            snapshot_dir: None,
            stream: StreamSettings::default(),
            ready_lag_max: READY_LAG_MAX_DEFAULT,
            shutdown_grace_ms: SHUTDOWN_GRACE_MS_DEFAULT,
            metrics_listen: None,
            webhook_delivery: true,
            log_dir: PathBuf::from(crate::logs::LOG_DIR_DEFAULT),
            log_file_bytes_max: crate::logs::LOG_FILE_BYTES_MAX_DEFAULT,
            log_files_kept: crate::logs::LOG_FILES_KEPT_DEFAULT,
            splunk: None,
        }
    }
}

fn env<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map(Some)
            .map_err(|_| anyhow::anyhow!("environment variable {name} has an invalid value: {v}")),
        _ => Ok(None),
    }
}

/// Events between two snapshots unless configured: at ~300 bytes an event, a start-up folds
/// at most ~30 MB of log after the newest snapshot.
pub const SNAPSHOT_INTERVAL_EVENTS_DEFAULT: u64 = 100_000;
/// 64 MiB/s: a 1M-address snapshot (~265 MB) in ~4 s, a 10M one in ~40 s, well inside the
/// default interval at this machine's ~20k allocations/s.
pub const SNAPSHOT_WRITE_BYTES_PER_SECOND_DEFAULT: u64 = 64 << 20;

/// Where the event log lives, as `store` (or `--store`, `--from`, `--to`) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded file log in this directory (`file:DIR`).
    File(PathBuf),
    /// A PostgreSQL URL (`postgres://...` or `postgresql://...`).
    Postgres(String),
}

impl std::str::FromStr for StoreSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<StoreSpec> {
        if let Some(dir) = s.strip_prefix("file:") {
            anyhow::ensure!(!dir.is_empty(), "store {s:?}: file: needs a directory");
            Ok(StoreSpec::File(PathBuf::from(dir)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(StoreSpec::Postgres(s.to_string()))
        } else {
            anyhow::bail!("store {s:?}: expected file:DIR or postgres://user@host:port/db")
        }
    }
}

impl std::fmt::Display for StoreSpec {
    /// A PostgreSQL URL is shown without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSpec::File(dir) => write!(f, "file:{}", dir.display()),
            StoreSpec::Postgres(url) => {
                // postgres://user:password@host/db -> postgres://user:***@host/db
                if let Some((scheme, rest)) = url.split_once("://") {
                    if let Some((auth, host)) = rest.split_once('@') {
                        if let Some((user, _)) = auth.split_once(':') {
                            return write!(f, "{scheme}://{user}:***@{host}");
                        }
                    }
                }
                f.write_str(url)
            }
        }
    }
}

impl Config {
    /// The log this configuration names: `store` if set, else the file log in `data_dir`.
    pub fn store_spec(&self) -> anyhow::Result<StoreSpec> {
        match &self.store {
            Some(s) => s.parse(),
            None => Ok(StoreSpec::File(self.data_dir.clone())),
        }
    }

    /// Where snapshots are written and read: `snapshot_dir`, else `snapshots` in the file
    /// log's directory; None for a PostgreSQL log without `snapshot_dir`.
    pub fn snapshot_dir(&self) -> anyhow::Result<Option<PathBuf>> {
        Ok(match (&self.snapshot_dir, self.store_spec()?) {
            (Some(dir), _) => Some(dir.clone()),
            (None, StoreSpec::File(dir)) => Some(dir.join("snapshots")),
            (None, StoreSpec::Postgres(_)) => None,
        })
    }

    /// Defaults ← file (if given) ← environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut fc = FileConfig::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
            fc = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
        }
        let d = Config::default();
        let config = Config {
            data_dir: env("IPLEDGER_DATA_DIR")?
                .or(fc.data_dir)
                .unwrap_or(d.data_dir),
            store: env("IPLEDGER_STORE")?.or(fc.store),
            listen: env("IPLEDGER_LISTEN")?.or(fc.listen).unwrap_or(d.listen),
            dns1: env("IPLEDGER_DNS1")?.or(fc.dns1).or(d.dns1),
            dns2: env("IPLEDGER_DNS2")?.or(fc.dns2).or(d.dns2),
            keep_deallocated_ips_for_days: env("IPLEDGER_KEEP_DEALLOCATED_IPS_FOR_DAYS")?
                .or(fc.keep_deallocated_ips_for_days)
                .unwrap_or(d.keep_deallocated_ips_for_days),
            idempotency_keep_days: env("IPLEDGER_IDEMPOTENCY_KEEP_DAYS")?
                .or(fc.idempotency_keep_days)
                .unwrap_or(d.idempotency_keep_days),
            ipv6_generator: env("IPLEDGER_IPV6_GENERATOR")?
                .or(fc.ipv6_generator)
                .unwrap_or(d.ipv6_generator),
            purge_interval_seconds: env("IPLEDGER_PURGE_INTERVAL_SECONDS")?
                .or(fc.purge_interval_seconds)
                .unwrap_or(d.purge_interval_seconds),
            request_holds_per_agent_max: env("IPLEDGER_REQUEST_HOLDS_PER_AGENT_MAX")?
                .or(fc.request_holds_per_agent_max)
                .unwrap_or(d.request_holds_per_agent_max),
            request_pending_expiry_hours: env("IPLEDGER_REQUEST_PENDING_EXPIRY_HOURS")?
                .or(fc.request_pending_expiry_hours)
                .unwrap_or(d.request_pending_expiry_hours),
            segment_bytes_max: env("IPLEDGER_SEGMENT_BYTES_MAX")?
                .or(fc.segment_bytes_max)
                .unwrap_or(d.segment_bytes_max),
            batch_commands_max: env("IPLEDGER_BATCH_COMMANDS_MAX")?
                .or(fc.batch_commands_max)
                .unwrap_or(d.batch_commands_max),
            log_format: env("IPLEDGER_LOG_FORMAT")?
                .or(fc.log_format)
                .unwrap_or(d.log_format),
            admin_token: admin_token(env("IPLEDGER_ADMIN_TOKEN")?.or(fc.admin_token))?,
            insecure_no_auth: false,
            smtp: smtp(fc.smtp)?,
            connections_max: positive(
                "connections_max",
                env("IPLEDGER_CONNECTIONS_MAX")?
                    .or(fc.connections_max)
                    .unwrap_or(d.connections_max),
            )?,
            header_read_timeout_ms: positive(
                "header_read_timeout_ms",
                env("IPLEDGER_HEADER_READ_TIMEOUT_MS")?
                    .or(fc.header_read_timeout_ms)
                    .unwrap_or(d.header_read_timeout_ms),
            )?,
            body_read_timeout_ms: positive(
                "body_read_timeout_ms",
                env("IPLEDGER_BODY_READ_TIMEOUT_MS")?
                    .or(fc.body_read_timeout_ms)
                    .unwrap_or(d.body_read_timeout_ms),
            )?,
            region: region(env("IPLEDGER_REGION")?.or(fc.region).unwrap_or(d.region))?,
            registrations_open: env("IPLEDGER_REGISTRATIONS_OPEN")?
                .or(fc.registrations_open)
                .unwrap_or(d.registrations_open),
            registration_secret_key: env::<String>("IPLEDGER_REGISTRATION_SECRET_KEY")?
                .or(fc.registration_secret_key)
                .map(|k| crate::registrations::key::RegistrationKey::from_hex(&k))
                .transpose()?,
            registration_cleanup_interval_seconds: env(
                "IPLEDGER_REGISTRATION_CLEANUP_INTERVAL_SECONDS",
            )?
            .or(fc.registration_cleanup_interval_seconds)
            .unwrap_or(d.registration_cleanup_interval_seconds),
            snapshot_interval_events: env("IPLEDGER_SNAPSHOT_INTERVAL_EVENTS")?
                .or(fc.snapshot_interval_events)
                .unwrap_or(d.snapshot_interval_events),
            snapshot_write_bytes_per_second: env("IPLEDGER_SNAPSHOT_WRITE_BYTES_PER_SECOND")?
                .or(fc.snapshot_write_bytes_per_second)
                .unwrap_or(d.snapshot_write_bytes_per_second),
            snapshot_dir: env("IPLEDGER_SNAPSHOT_DIR")?.or(fc.snapshot_dir),
            stream: StreamSettings {
                heartbeat: Duration::from_millis(positive(
                    "stream_heartbeat_ms",
                    env("IPLEDGER_STREAM_HEARTBEAT_MS")?
                        .or(fc.stream_heartbeat_ms)
                        .unwrap_or(d.stream.heartbeat.as_millis() as u64),
                )?),
                buffer_events: positive(
                    "stream_buffer_events",
                    env("IPLEDGER_STREAM_BUFFER_EVENTS")?
                        .or(fc.stream_buffer_events)
                        .unwrap_or(d.stream.buffer_events),
                )?,
                lag_timeout: Duration::from_millis(positive(
                    "stream_lag_timeout_ms",
                    env("IPLEDGER_STREAM_LAG_TIMEOUT_MS")?
                        .or(fc.stream_lag_timeout_ms)
                        .unwrap_or(d.stream.lag_timeout.as_millis() as u64),
                )?),
            },
            ready_lag_max: env("IPLEDGER_READY_LAG_MAX")?
                .or(fc.ready_lag_max)
                .unwrap_or(d.ready_lag_max),
            shutdown_grace_ms: env("IPLEDGER_SHUTDOWN_GRACE_MS")?
                .or(fc.shutdown_grace_ms)
                .unwrap_or(d.shutdown_grace_ms),
            metrics_listen: env("IPLEDGER_METRICS_LISTEN")?.or(fc.metrics_listen),
            webhook_delivery: env("IPLEDGER_WEBHOOK_DELIVERY")?
                .or(fc.webhook_delivery)
                .unwrap_or(d.webhook_delivery),
            log_dir: env("IPLEDGER_LOG_DIR")?.or(fc.log_dir).unwrap_or(d.log_dir),
            log_file_bytes_max: positive(
                "log_file_bytes_max",
                env("IPLEDGER_LOG_FILE_BYTES_MAX")?
                    .or(fc.log_file_bytes_max)
                    .unwrap_or(d.log_file_bytes_max),
            )?,
            log_files_kept: positive(
                "log_files_kept",
                env("IPLEDGER_LOG_FILES_KEPT")?
                    .or(fc.log_files_kept)
                    .unwrap_or(d.log_files_kept),
            )?,
            splunk: splunk(fc.splunk)?,
        };
        // A misspelt store fails the start, not the first write.
        config.store_spec()?;
        Ok(config)
    }

    /// The log files and forwarding in force; reads the Splunk token file.
    pub fn log_settings(&self) -> anyhow::Result<crate::logs::LogSettings> {
        let hec = match &self.splunk {
            Some(s) => Some(crate::logs::HecSettings {
                url: s.url.clone(),
                token: crate::logs::hec::HecToken::read(&s.token_path)?,
                index: s.index.clone(),
                source: s.source.clone(),
                sourcetype_app: s.sourcetype_app.clone(),
                sourcetype_http: s.sourcetype_http.clone(),
                host: crate::logs::hec::hostname(),
                queue_events_max: s.queue_events_max,
                batch_events_max: s.batch_events_max,
            }),
            None => None,
        };
        Ok(crate::logs::LogSettings {
            dir: self.log_dir.clone(),
            file_bytes_max: self.log_file_bytes_max,
            files_kept: self.log_files_kept,
            hec,
        })
    }

    /// The connection limits the accept loop and the body reader enforce.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            connections_max: self.connections_max,
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(self.body_read_timeout_ms),
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
        }
    }
}

/// A region in Scaleway's form (`^[a-z]{2}-[a-z]{3}$`, what the SDK accepts): anything else
/// could never be asked for, so it is refused at start.
fn region(text: String) -> anyhow::Result<String> {
    let b = text.as_bytes();
    let ok =
        b.len() == 6 && b[2] == b'-' && b[..2].iter().chain(&b[3..]).all(u8::is_ascii_lowercase);
    if !ok {
        anyhow::bail!("region (IPLEDGER_REGION) must look like fr-par (two letters, -, three letters): {text:?}");
    }
    Ok(text)
}

/// A limit of 0 would refuse every connection or time out every request: refused at start.
fn positive<T: PartialEq + Default>(key: &str, value: T) -> anyhow::Result<T> {
    if value == T::default() {
        anyhow::bail!("{key} must be greater than 0");
    }
    Ok(value)
}

/// A configured bootstrap admin secret must be long enough not to be guessed: it opens
/// everything. Refused at start rather than accepted weak (issue 8, defect 8).
fn admin_token(token: Option<String>) -> anyhow::Result<Option<String>> {
    use ipledger_domain::limits::ADMIN_TOKEN_CHARS_MIN;
    match token {
        Some(t) if t.chars().count() < ADMIN_TOKEN_CHARS_MIN => anyhow::bail!(
            "admin_token (IPLEDGER_ADMIN_TOKEN) must be at least {ADMIN_TOKEN_CHARS_MIN} characters; \
             leave it unset to have one generated"
        ),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample shipped for deployments (issue 14 §8).
    const SAMPLE: &str = include_str!("../../scripts/deploy/ipledger.toml");

    /// A sample line `# key = value` or `# [section]` without its `# `: the keys whose
    /// default is "unset" are written so. Prose comments stay comments.
    fn uncomment(line: &str) -> &str {
        let Some(rest) = line.strip_prefix("# ") else {
            return line;
        };
        let section = rest.starts_with('[')
            && rest.ends_with(']')
            && rest[1..rest.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
        let key = rest.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        if section || key {
            rest
        } else {
            line
        }
    }

    /// Every `None` left in a serialized `FileConfig`: a key the sample does not name.
    fn unset_keys(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Null => out.push(path.to_string()),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    unset_keys(v, &p, out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_sample_config_names_every_key_with_its_default() {
        // As shipped, the values it sets are the defaults: loading it changes nothing.
        let shipped = load(SAMPLE).expect("the sample config loads");
        let defaults = load("").expect("defaults");
        assert_eq!(format!("{shipped:?}"), format!("{defaults:?}"));
        // With its commented examples taken in, it names every key (a new key in
        // `FileConfig` without a line in the sample fails here), and each is well-formed.
        let all = SAMPLE.lines().map(uncomment).collect::<Vec<_>>().join("\n");
        let every: FileConfig = toml::from_str(&all).expect("the sample's examples parse");
        let mut missing = Vec::new();
        unset_keys(
            &serde_json::to_value(&every).expect("serialize"),
            "",
            &mut missing,
        );
        assert!(
            missing.is_empty(),
            "keys the sample config does not name: {missing:?}"
        );
        load(&all).expect("the sample's examples are valid settings");
    }

    fn load(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ipledger.toml");
        std::fs::write(&path, text).expect("write config");
        Config::load(Some(&path))
    }

    #[test]
    fn the_region_is_in_scaleways_form() {
        // The SDK only ever asks for `xx-yyy` regions: any other name could never be served.
        assert_eq!(load("").expect("defaults").region, "fr-par");
        assert_eq!(
            load("region = \"nl-ams\"\n").expect("valid").region,
            "nl-ams"
        );
        for bad in ["paris", "FR-PAR", "fr_par", "fr-pa", "fr-par-1", ""] {
            assert!(load(&format!("region = {bad:?}\n")).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_smtp_section_configures_the_outbox() {
        let c = load(
            "[smtp]\nhost = \"mail.example.com\"\nport = 587\nfrom = \"ipam@example.com\"\n\
             support_email = \"noc@example.com\"\nusername = \"u\"\npassword = \"p\"\ntls = \"starttls\"\n",
        )
        .expect("valid config");
        let smtp = c.smtp.expect("smtp configured");
        assert_eq!(smtp.server.host, "mail.example.com");
        assert_eq!(smtp.server.port, 587);
        assert_eq!(smtp.server.from, "ipam@example.com");
        assert_eq!(smtp.server.tls, SmtpTls::Starttls);
        assert_eq!(smtp.server.username.as_deref(), Some("u"));
        assert_eq!(smtp.support_email.as_deref(), Some("noc@example.com"));
    }

    #[test]
    fn the_store_is_the_file_log_by_default_a_file_dir_or_a_postgres_url() {
        if std::env::var_os("IPLEDGER_STORE").is_some() {
            return;
        }
        let c = load("data_dir = \"/var/lib/ipledger\"\n").expect("valid");
        assert_eq!(
            c.store_spec().expect("spec"),
            StoreSpec::File("/var/lib/ipledger".into())
        );
        let c = load("store = \"file:/srv/log\"\n").expect("valid");
        assert_eq!(
            c.store_spec().expect("spec"),
            StoreSpec::File("/srv/log".into())
        );
        let url = "postgres://ipam:secret@db:5432/ipam?schema=prod";
        let c = load(&format!("store = \"{url}\"\n")).expect("valid");
        let spec = c.store_spec().expect("spec");
        assert_eq!(spec, StoreSpec::Postgres(url.into()));
        assert_eq!(
            spec.to_string(),
            "postgres://ipam:***@db:5432/ipam?schema=prod"
        );
        for bad in ["mysql://x", "file:", "/just/a/path"] {
            let err = load(&format!("store = \"{bad}\"\n")).expect_err(bad);
            assert!(err.to_string().contains("store"), "{err}");
        }
    }

    #[test]
    fn a_short_admin_token_is_refused_at_start() {
        // A 13-character bootstrap admin secret used to be accepted (issue 8, defect 8).
        if std::env::var_os("IPLEDGER_ADMIN_TOKEN").is_none() {
            let err = load("admin_token = \"from-the-file\"\n").expect_err("too short");
            assert!(err.to_string().contains("at least 32 characters"), "{err}");
            let long = "admin_token = \"0123456789abcdef0123456789abcdef\"\n";
            assert!(load(long).expect("32 characters").admin_token.is_some());
        }
    }

    #[test]
    fn the_connection_limits_are_configured_and_zero_is_refused() {
        let vars = [
            "IPLEDGER_CONNECTIONS_MAX",
            "IPLEDGER_HEADER_READ_TIMEOUT_MS",
            "IPLEDGER_BODY_READ_TIMEOUT_MS",
        ];
        if vars.iter().any(|v| std::env::var_os(v).is_some()) {
            return;
        }
        let d = load("").expect("defaults");
        assert_eq!(
            (
                d.connections_max,
                d.header_read_timeout_ms,
                d.body_read_timeout_ms
            ),
            (
                CONNECTIONS_MAX_DEFAULT,
                HEADER_READ_TIMEOUT_MS_DEFAULT,
                BODY_READ_TIMEOUT_MS_DEFAULT
            )
        );
        let c = load(
            "connections_max = 50\nheader_read_timeout_ms = 300\nbody_read_timeout_ms = 400\n",
        )
        .expect("valid config");
        let limits = c.connection_limits();
        assert_eq!(limits.connections_max, 50);
        assert_eq!(limits.header_read_timeout, Duration::from_millis(300));
        assert_eq!(limits.body_read_timeout, Duration::from_millis(400));
        for zero in [
            "connections_max = 0",
            "header_read_timeout_ms = 0",
            "body_read_timeout_ms = 0",
        ] {
            let err = load(zero).expect_err(zero);
            assert!(err.to_string().contains("must be greater than 0"), "{err}");
        }
    }

    #[test]
    fn the_splunk_section_takes_the_originals_keys() {
        if std::env::vars()
            .any(|(k, _)| k.starts_with("IPLEDGER_SPLUNK_") || k.starts_with("IPLEDGER_LOG_"))
        {
            return;
        }
        let d = load("").expect("defaults");
        assert!(d.splunk.is_none());
        assert_eq!(d.log_dir, PathBuf::from("./logs"));
        let c = load(
            "log_dir = \"/var/log/ipledger\"\nlog_file_bytes_max = 1000\nlog_files_kept = 2\n\
             [splunk]\nenable = true\nurl = \"https://splunk-hec.example.com\"\n\
             token_path = \"splunk.secret\"\nindex = \"vitistack\"\nsource = \"vitistack:ipam-api\"\n\
             sourcetype_app = \"ipam-api:app\"\nsourcetype_http = \"ipam-api:http\"\n",
        )
        .expect("valid config");
        assert_eq!(c.log_dir, PathBuf::from("/var/log/ipledger"));
        assert_eq!((c.log_file_bytes_max, c.log_files_kept), (1000, 2));
        let s = c.splunk.expect("enabled");
        assert_eq!(s.url, "https://splunk-hec.example.com");
        assert_eq!(s.token_path, PathBuf::from("splunk.secret"));
        assert_eq!(s.index.as_deref(), Some("vitistack"));
        assert_eq!(s.source, "vitistack:ipam-api");
        assert_eq!(
            (s.sourcetype_app.as_str(), s.sourcetype_http.as_str()),
            ("ipam-api:app", "ipam-api:http")
        );
        assert!(load("[splunk]\nenable = false\nurl = \"x\"\n")
            .expect("off")
            .splunk
            .is_none());
        assert!(load("[splunk]\nenable = true\n").is_err(), "no url");
        assert!(
            load("[splunk]\nenable = true\nurl = \"http://h\"\n").is_err(),
            "no token path"
        );
        assert!(load("log_file_bytes_max = 0\n").is_err());
    }

    #[test]
    fn without_a_host_no_mail_is_sent_and_unknown_keys_are_refused() {
        if std::env::var_os("IPLEDGER_SMTP_HOST").is_none() {
            assert!(load("[smtp]\nport = 25\n").expect("valid").smtp.is_none());
        }
        assert!(load("[smtp]\nhost = \"x\"\nsender = \"y\"\n").is_err());
        assert!(load("[smtp]\nhost = \"x\"\ntls = \"maybe\"\n").is_err());
    }
}
