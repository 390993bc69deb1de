//! `/v1/webhooks` (admins only, per the route table): register, list, show, delete.
//!
//! The secret is the client's (`whsec_...`, checked) or drawn here and shown once, in the
//! 201 answer; it is sealed before the command (`seal.rs`), so no later answer, log line or
//! event shows it. An idempotent retry (same `Idempotency-Key`) is answered from the
//! recorded endpoint, without a secret.

use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::StatusCode;

use ipledger_commands::{Command, WebhookCommand};
use ipledger_domain::webhooks::WebhookRecord;

use crate::fault::Fault;
use crate::kit::body::{self, string_like};
use crate::kit::wire::timestamp;
use crate::kit::{parse_id, submit, Answer, Call, Resp};
use crate::webhooks::deliver::Status;
use crate::webhooks::seal;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    #[serde(default, deserialize_with = "string_like")]
    url: Option<String>,
    #[serde(default)]
    event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "string_like")]
    secret: Option<String>,
}

/// The deployment's key, or the 503 of a shared log started without one.
fn key<'a>(c: &Call<'a>) -> Result<&'a crate::registrations::key::RegistrationKey, Fault> {
    c.app.auth.registration_key.as_ref().ok_or_else(|| {
        Fault::unavailable(
            "webhooks are off: this node shares its log (PostgreSQL) and has no \
             registration_secret_key (IPLEDGER_REGISTRATION_SECRET_KEY), which seals webhook \
             secrets; every node needs the same one",
        )
    })
}

/// `POST /v1/webhooks` `{"url", "event_types"?, "secret"?}`.
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
    let sealed = seal::seal(key(&c)?, &secret)?;
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
    if let Some(s) = shown {
        w["secret"] = json!(s);
    }
    Ok(Resp::new(
        StatusCode::CREATED,
        Some(json!({ "webhook": w })),
    ))
}

/// `GET /v1/webhooks`: every endpoint (at most `WEBHOOKS_MAX`, so one page).
pub async fn list(c: Call<'_>) -> Answer {
    let head = c.app.store.head();
    let views = c.views();
    let all: Vec<Value> = views
        .webhooks()
        .map(|w| webhook(w, &c.app.webhooks, head))
        .collect();
    Ok(Resp::ok(json!({ "webhooks": all })))
}

/// `GET /v1/webhooks/{webhook}`: the endpoint with its delivery state.
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
fn webhook(w: &WebhookRecord, status: &Status, head: u64) -> Value {
    let attempt = status.attempt(w.webhook_id);
    json!({
        "id": w.webhook_id,
        "url": w.url,
        "event_types": w.event_types,
        "created_at": timestamp(&w.created_at),
        "delivery": {
            "follow_from": w.follow_from,
            "delivered_to": w.delivered_to,
            "delivered_count": w.delivered_count,
            "last_delivered_at": w.last_delivered_at.as_ref().map(timestamp),
            "log_head": head,
            "behind_events": head.saturating_sub(w.delivered_to),
            "state": if attempt.is_some() { "retrying" } else { "ok" },
            "failing_position": attempt.as_ref().map(|a| a.position),
            "attempts": attempt.as_ref().map_or(0, |a| a.attempts),
            "last_error": attempt.as_ref().map(|a| a.last_error.clone()),
            "next_attempt_in_seconds": attempt.as_ref().map(|a| a.next_in_seconds()),
        },
    })
}
