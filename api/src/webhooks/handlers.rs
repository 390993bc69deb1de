//! `/v1/webhooks` (admins only, per the route table): register, list, show, delete.
//!
//! The secret is the client's (`whsec_...`, checked) or drawn here and shown once, in the
//! 201 answer; it is sealed before the command (`seal.rs`), so no later answer, log line or
//! event shows it. An idempotent retry (same `Idempotency-Key`) is answered from the
//! recorded endpoint, without a secret.

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::http::StatusCode;

use ipledger_commands::{Command, WebhookCommand};
use ipledger_domain::webhooks::WebhookRecord;

use crate::fault::Fault;
use crate::kit::body::{self, string_like};
use crate::kit::wire::{envelope_schema, timestamp};
use crate::kit::{parse_id, submit, Answer, Call, Resp};
use crate::webhooks::deliver::Status;
use crate::webhooks::seal;

/// `POST /v1/webhooks`'s body (flat, or under `webhook`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    /// Absolute `http://` or `https://` URL, no credentials, at most 2048 bytes.
    #[serde(default, deserialize_with = "string_like")]
    url: Option<String>,
    /// Event type names (as `/v1/events` shows them); absent: every type.
    #[serde(default)]
    event_types: Option<Vec<String>>,
    /// `whsec_` + standard base64 of 24 to 64 bytes; absent: one is drawn and shown once.
    #[serde(default, deserialize_with = "string_like")]
    secret: Option<String>,
}

/// An endpoint on the wire: never its secret, but in the answer that drew it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: uuid::Uuid,
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub created_at: String,
    /// Only in the 201 answer of a registration that drew it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub delivery: Delivery,
}

/// Where an endpoint's deliveries stand: what the log says, and this node's retry state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub follow_from: u64,
    /// Every matching event before this position was acknowledged (as recorded).
    pub delivered_to: u64,
    pub delivered_count: u64,
    pub last_delivered_at: Option<String>,
    pub log_head: u64,
    pub behind_events: u64,
    /// `ok` or `retrying`.
    pub state: String,
    pub failing_position: Option<u64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_in_seconds: Option<u64>,
}

envelope_schema!(WebhookOne, webhook, Webhook);
/// `{"webhooks": [...]}`: every endpoint (at most 64: one page).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Webhooks {
    pub webhooks: Vec<Webhook>,
}

/// `POST /v1/webhooks` `{"url", "event_types"?, "secret"?}`.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = WebhookBody,
    responses((status = 201, description = "Registered; a drawn secret is shown here only", body = WebhookOne)))]
pub async fn create(c: Call<'_>) -> Answer {
    let b: WebhookBody =
        body::parse_unwrapped(c.req, "webhook")?.ok_or_else(|| body::missing("url"))?;
    let url = b
        .url
        .ok_or_else(|| Fault::invalid_field("url", "url is required"))?;
    let (secret, drawn) = match b.secret {
        Some(s) => {
            seal::check(&s)?;
            (s, false)
        }
        None => (seal::draw()?, true),
    };
    let key = crate::registrations::key::needed_by(&c.app.auth.registration_key, "webhooks")?;
    let sealed = seal::seal(key, &secret)?;
    let command = Command::Webhook(WebhookCommand::Register {
        url,
        event_types: b.event_types,
        secret_sealed: sealed.clone(),
    });
    let record = submit(c.app, c.req, command)
        .await?
        .into_webhook()
        .map_err(|other| Fault::unexpected_reply("registering a webhook", &other))?;
    // Shown once, and only the drawn one (the client knows its own); a replayed reply
    // belongs to an earlier secret, which this answer does not have.
    let shown = (drawn && record.secret_sealed == sealed).then_some(secret.as_str());
    let mut w = webhook(&record, &c.app.webhooks, c.app.store.head());
    w.secret = shown.map(str::to_string);
    Ok(Resp::new(
        StatusCode::CREATED,
        Some(json!({ "webhook": w })),
    ))
}

/// `GET /v1/webhooks`: every endpoint (at most `WEBHOOKS_MAX`, so one page).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Every endpoint, with its delivery state", body = Webhooks)))]
pub async fn list(c: Call<'_>) -> Answer {
    let head = c.app.store.head();
    let views = c.views();
    let webhooks = views
        .webhooks()
        .map(|w| webhook(w, &c.app.webhooks, head))
        .collect();
    Ok(Resp::ok(json!(Webhooks { webhooks })))
}

/// `GET /v1/webhooks/{webhook}`: the endpoint with its delivery state.
#[utoipa::path(get, path = "/v1/webhooks/{webhook}", tag = "webhooks",
    responses((status = 200, description = "The endpoint", body = WebhookOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("webhook"), "Webhook")?;
    let head = c.app.store.head();
    let views = c.views();
    let w = views
        .webhook(id)
        .ok_or_else(|| Fault::not_found("Webhook Not Found"))?;
    Ok(Resp::ok(
        json!({ "webhook": webhook(w, &c.app.webhooks, head) }),
    ))
}

/// `DELETE /v1/webhooks/{webhook}`: deliveries stop (one in flight may still arrive).
#[utoipa::path(delete, path = "/v1/webhooks/{webhook}", tag = "webhooks",
    responses((status = 204, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let webhook_id = parse_id(c.param("webhook"), "Webhook")?;
    submit(
        c.app,
        c.req,
        Command::Webhook(WebhookCommand::Delete { webhook_id }),
    )
    .await?;
    Ok(Resp::new(StatusCode::NO_CONTENT, None))
}

/// An endpoint on the wire: never its secret. `delivery` joins what the log says (how far
/// the endpoint acknowledged) with this node's retry state.
fn webhook(w: &WebhookRecord, status: &Status, head: u64) -> Webhook {
    let attempt = status.attempt(w.webhook_id);
    Webhook {
        id: w.webhook_id,
        url: w.url.clone(),
        event_types: w.event_types.clone(),
        created_at: timestamp(&w.created_at),
        secret: None,
        delivery: Delivery {
            follow_from: w.follow_from,
            delivered_to: w.delivered_to,
            delivered_count: w.delivered_count,
            last_delivered_at: w.last_delivered_at.as_ref().map(timestamp),
            log_head: head,
            behind_events: head.saturating_sub(w.delivered_to),
            state: if attempt.is_some() { "retrying" } else { "ok" }.into(),
            failing_position: attempt.as_ref().map(|a| a.position),
            attempts: attempt.as_ref().map_or(0, |a| a.attempts),
            last_error: attempt.as_ref().map(|a| a.last_error.clone()),
            next_attempt_in_seconds: attempt.as_ref().map(|a| a.next_in_seconds()),
        },
    }
}
