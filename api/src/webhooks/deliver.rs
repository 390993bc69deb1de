//! The webhook deliverer (issue 11 §4): one task per endpoint follows the log from where
//! the endpoint's acknowledgements stand and posts every matching event to it, in log order,
//! one at a time, signed per Standard Webhooks (`webhook-id` = the event's id, the same on
//! every retry; `webhook-timestamp` = this attempt; `webhook-signature` = `v1,` HMAC-SHA256).
//!
//! Ordered per endpoint: an event is retried (exponential backoff from 1 s to 5 min,
//! `Retry-After` honoured within that) until the endpoint answers 2xx, and nothing after it
//! is sent meanwhile. At least once: progress is recorded in the log (`WebhookDelivered`,
//! after each chunk read that delivered something), so a restart or a kill -9 resumes from
//! the last record and may send the events after it again — receivers drop repeats by
//! `webhook-id`. A failing endpoint costs its own task only: it reads the log through the
//! store (never the writer's lock) and appends one small record per delivered chunk, so
//! writes never wait for it. Retry state is this node's memory, shown on the endpoint's
//! `delivery`; history is the log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ipledger_commands::store::EventStore;
use ipledger_commands::{Command, Meta, WebhookCommand, Writer};
use ipledger_domain::webhooks::WebhookRecord;
use ipledger_domain::Envelope;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use crate::registrations::key::RegistrationKey;
use crate::webhooks::seal;

/// The actor of `WebhookDelivered` events.
pub const ACTOR: &str = "webhooks";
/// Events read from the log per step (one progress record at most per step).
const READ_CHUNK: usize = 256;
/// How often the supervisor looks for endpoints registered or deleted.
const SUPERVISE_MILLIS: u64 = 250;
/// Idle endpoints look at the log's head at least this often (besides being woken).
const IDLE_MILLIS: u64 = 1000;
/// One attempt's deadline (Standard Webhooks: 15-30 s).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// What this node knows of an endpoint that is failing: the event it is stuck on.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub position: u64,
    pub attempts: u32,
    pub last_error: String,
    next_try: Instant,
}

impl Attempt {
    pub fn next_in_seconds(&self) -> u64 {
        self.next_try
            .saturating_duration_since(Instant::now())
            .as_secs()
    }
}

/// The retry state of every failing endpoint; a delivery clears it.
#[derive(Debug, Default)]
pub struct Status {
    failing: DashMap<Uuid, Attempt>,
}

impl Status {
    pub fn attempt(&self, id: Uuid) -> Option<Attempt> {
        self.failing.get(&id).map(|a| a.clone())
    }

    /// Records a failure and returns how long to wait before the next attempt.
    fn failed(
        &self,
        id: Uuid,
        position: u64,
        error: String,
        retry_after: Option<Duration>,
    ) -> Duration {
        let mut a = self.failing.entry(id).or_insert(Attempt {
            position,
            attempts: 0,
            last_error: String::new(),
            next_try: Instant::now(),
        });
        if a.position != position {
            (a.position, a.attempts) = (position, 0);
        }
        a.attempts += 1;
        let backoff = BACKOFF_MIN
            .saturating_mul(1 << a.attempts.saturating_sub(1).min(16))
            .max(retry_after.unwrap_or_default())
            .min(BACKOFF_MAX);
        a.last_error = error;
        a.next_try = Instant::now() + backoff;
        backoff
    }

    pub fn failing_count(&self) -> usize {
        self.failing.len()
    }

    fn cleared(&self, id: Uuid) {
        self.failing.remove(&id);
    }
}

struct Deliverer {
    writer: Writer,
    store: Arc<dyn EventStore>,
    key: RegistrationKey,
    status: Arc<Status>,
    client: reqwest::Client,
}

/// Starts the deliverer; it runs until `stop` resolves, then tells every endpoint task to
/// stop after its attempt in flight and to record what it delivered, and waits for them.
pub fn start(
    writer: Writer,
    store: Arc<dyn EventStore>,
    key: RegistrationKey,
    status: Arc<Status>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        // Standard Webhooks: a redirect is a failure (the URL should be updated), and
        // following one would send signed events where nobody registered them.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ipledger-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let d = Arc::new(Deliverer {
        writer,
        store,
        key,
        status,
        client,
    });
    Ok(tokio::spawn(async move {
        let (quit, quitting) = watch::channel(false);
        let mut tasks: HashMap<Uuid, tokio::task::JoinHandle<()>> = HashMap::new();
        let mut stop = std::pin::pin!(stop);
        loop {
            let ids: Vec<Uuid> = {
                let views = d.writer.views().read();
                views.webhooks().map(|w| w.webhook_id).collect()
            };
            tasks.retain(|_, t| !t.is_finished());
            for id in ids {
                tasks
                    .entry(id)
                    .or_insert_with(|| tokio::spawn(endpoint(d.clone(), id, quitting.clone())));
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(SUPERVISE_MILLIS)) => {}
                () = &mut stop => break,
            }
        }
        let _ = quit.send(true);
        for (_, t) in tasks {
            let _ = t.await;
        }
    }))
}

/// One endpoint's delivery loop.
async fn endpoint(d: Arc<Deliverer>, id: Uuid, mut quit: watch::Receiver<bool>) {
    let mut head = d.store.follow();
    // Delivered but not yet recorded: (position delivered to, events).
    let mut unrecorded: Option<(u64, u64)> = None;
    let mut cursor: Option<u64> = None;
    loop {
        if *quit.borrow() {
            break;
        }
        let Some(w) = d.writer.views().read().webhook(id).cloned() else {
            return; // deleted
        };
        let from = cursor.map_or(w.delivered_to, |c| c.max(w.delivered_to));
        let chunk = match d.store.read_all(from, READ_CHUNK).await {
            Ok(chunk) => chunk,
            Err(error) => {
                tracing::warn!(webhook = %id, %error, "webhook deliverer cannot read the log; will retry");
                if pause(&mut quit, Duration::from_millis(IDLE_MILLIS)).await {
                    break;
                }
                continue;
            }
        };
        if chunk.is_empty() {
            record(&d, id, &mut unrecorded).await;
            tokio::select! {
                _ = head.wait_for(|h| *h > from) => {}
                _ = tokio::time::sleep(Duration::from_millis(IDLE_MILLIS)) => {}
                _ = quit.changed() => {}
            }
            continue;
        }
        let Some(secret) = seal::open(&d.key, &w.secret_sealed) else {
            let wait = d.status.failed(
                id,
                from,
                "the secret cannot be opened with this node's key (registration_secret_key differs from the node that registered it)".into(),
                None,
            );
            if pause(&mut quit, wait).await {
                break;
            }
            continue;
        };
        let Ok(signer) = standardwebhooks::Webhook::new(&secret) else {
            tracing::error!(webhook = %id, "a stored webhook secret is not in the whsec_ form");
            return;
        };
        for env in chunk {
            let next = env.position + 1;
            if w.wants(env.event.type_name()) {
                if !send_until_delivered(&d, &w, &signer, &env, &mut quit).await {
                    record(&d, id, &mut unrecorded).await;
                    return;
                }
                let (_, count) = unrecorded.get_or_insert((next, 0));
                *count += 1;
            }
            if let Some((to, _)) = unrecorded.as_mut() {
                *to = next;
            }
            cursor = Some(next);
        }
        record(&d, id, &mut unrecorded).await;
    }
    record(&d, id, &mut unrecorded).await;
}

/// Sleeps, or returns true at once when the deliverer is told to stop.
async fn pause(quit: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => *quit.borrow(),
        _ = quit.changed() => true,
    }
}

/// Posts one event until the endpoint takes it (true), or the deliverer stops or the
/// endpoint is deleted meanwhile (false).
async fn send_until_delivered(
    d: &Deliverer,
    w: &WebhookRecord,
    signer: &standardwebhooks::Webhook,
    env: &Envelope,
    quit: &mut watch::Receiver<bool>,
) -> bool {
    let body = match serde_json::to_string(&json!({
        "type": env.event.type_name(),
        "timestamp": env.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": env,
    })) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(webhook = %w.webhook_id, position = env.position, %error, "an event cannot be rendered; skipped");
            return true;
        }
    };
    let msg_id = env.event_id.to_string();
    loop {
        let timestamp = chrono::Utc::now().timestamp();
        let outcome = match signer.sign(&msg_id, timestamp, body.as_bytes()) {
            Ok(signature) => d
                .client
                .post(&w.url)
                .header("content-type", "application/json")
                .header("webhook-id", &msg_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body.clone())
                .send()
                .await
                .map_err(|e| (format!("{e}"), None)),
            Err(e) => Err((format!("signing: {e}"), None)),
        };
        let failure = match outcome {
            Ok(r) if r.status().is_success() => {
                d.status.cleared(w.webhook_id);
                return true;
            }
            Ok(r) => {
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                (format!("the endpoint answered {}", r.status()), retry_after)
            }
            Err(e) => e,
        };
        let wait = d
            .status
            .failed(w.webhook_id, env.position, failure.0.clone(), failure.1);
        tracing::warn!(webhook = %w.webhook_id, url = %w.url, position = env.position, error = %failure.0, retry_in_ms = wait.as_millis() as u64, "webhook not delivered; will retry");
        if pause(quit, wait).await {
            return false;
        }
        if d.writer.views().read().webhook(w.webhook_id).is_none() {
            d.status.cleared(w.webhook_id);
            return false;
        }
    }
}

/// Records the endpoint's progress in the log, if there is any to record. A failed record
/// is kept to be tried with the next one: the events may only be sent again, never lost.
async fn record(d: &Deliverer, id: Uuid, unrecorded: &mut Option<(u64, u64)>) {
    let Some((delivered_to, count)) = *unrecorded else {
        return;
    };
    let command = Command::Webhook(WebhookCommand::Delivered {
        webhook_id: id,
        delivered_to,
        count,
    });
    let meta = Meta {
        actor: ACTOR.into(),
        ..Meta::default()
    };
    match d.writer.submit(command, meta).await {
        Ok(_) => *unrecorded = None,
        Err(error) => {
            tracing::warn!(webhook = %id, %error, "webhook progress not recorded; will retry")
        }
    }
}
