//! What every handler needs: the writer (commands) and its published views (queries).

use std::sync::Arc;

use ipledger_commands::store::EventStore;
use ipledger_commands::Writer;

#[derive(Clone)]
pub struct App {
    pub writer: Writer,
    pub store: Arc<dyn EventStore>,
    /// How requests are authenticated (`auth/admit.rs`).
    pub auth: Arc<crate::config::AuthConfig>,
    /// The outbox's failed attempts, shown on requests; None when no SMTP is configured.
    pub deliveries: Option<Arc<crate::requests::outbox::DeliveryLog>>,
    /// The Scaleway region served (`config.region`).
    pub region: Arc<str>,
    /// The event stream's and export's treatment of slow consumers (`admin/stream.rs`).
    pub stream: crate::config::StreamSettings,
    /// `/readyz` fails while this node lags the log's head by more events (`config`).
    pub ready_lag_max: u64,
    /// The Prometheus metrics (`metrics.rs`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// This node's webhook retry state (`webhooks/deliver.rs`), shown on the endpoints.
    pub webhooks: Arc<crate::webhooks::deliver::Status>,
    /// The past states `as_of` reads: cache, rebuild permits, snapshot seam (`asof.rs`).
    pub as_of: Arc<crate::asof::AsOf>,
    /// The log files and Splunk forwarding (`logs/`): `http.log` is written per request.
    pub logs: Arc<crate::logs::Logs>,
}
