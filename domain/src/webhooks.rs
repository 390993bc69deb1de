//! Webhooks (issue 11 §4): an admin registers an endpoint; the service posts every later
//! event of the log that matches the endpoint's filter to it, in log order, signed as the
//! Standard Webhooks specification says, at least once.
//!
//! The endpoint's life and its delivery progress live in the stream `webhook-{id}`: where its
//! deliveries start (`follow_from`) and how far they are acknowledged (`WebhookDelivered`), so
//! a restart (or a kill -9) resumes from the log — at worst re-sending the events after the
//! last record, which receivers recognise by their `webhook-id` (the event's id).
//!
//! The signing secret must be usable to sign, so it cannot be hashed; the API layer seals it
//! (an AEAD under the deployment's key) before it reaches a command, and only the sealed form
//! is decided on, stored and folded. Nothing here can show it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payload::payload;
use crate::rejection::FieldErrors;
use crate::Timestamp;

/// An endpoint URL, in bytes.
pub const URL_BYTES_MAX: usize = 2048;
/// Event type names one endpoint may filter on.
pub const EVENT_TYPES_PER_WEBHOOK_MAX: usize = 128;
/// Endpoints registered at once, at most: each has a delivery task and reads the log.
pub const WEBHOOKS_MAX: usize = 64;

/// The events no endpoint is sent: the webhooks' own (a sealed secret, delivery progress —
/// delivering those would feed each endpoint its own acknowledgements).
pub fn delivered_to_webhooks(type_name: &str) -> bool {
    !type_name.starts_with("Webhook")
}

/// An endpoint as the projections keep it. `secret_sealed` never leaves the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    pub webhook_id: Uuid,
    pub url: String,
    /// None: every event type.
    pub event_types: Option<Vec<String>>,
    pub secret_sealed: String,
    /// The first log position it is sent.
    pub follow_from: u64,
    /// Every matching event before this position has been acknowledged by the endpoint.
    pub delivered_to: u64,
    /// Events it acknowledged, in all.
    pub delivered_count: u64,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(default, with = "crate::time_format::option")]
    pub last_delivered_at: Option<Timestamp>,
}

impl WebhookRecord {
    /// The endpoint as its registration makes it: nothing delivered yet.
    pub fn registered(e: &WebhookRegistered) -> Self {
        WebhookRecord {
            webhook_id: e.webhook_id,
            url: e.url.clone(),
            event_types: e.event_types.clone(),
            secret_sealed: e.secret_sealed.clone(),
            follow_from: e.follow_from,
            delivered_to: e.follow_from,
            delivered_count: 0,
            created_at: e.created_at,
            last_delivered_at: None,
        }
    }

    /// Whether an event of this type goes to this endpoint.
    pub fn wants(&self, type_name: &str) -> bool {
        delivered_to_webhooks(type_name)
            && self
                .event_types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| t == type_name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRegistered {
    pub webhook_id: Uuid,
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub secret_sealed: String,
    pub follow_from: u64,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { WebhookRegistered, "WebhookRegistered", 1, |e| webhook_stream(e.webhook_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeleted {
    pub webhook_id: Uuid,
}
payload! { WebhookDeleted, "WebhookDeleted", 1, |e| webhook_stream(e.webhook_id) }

/// The endpoint acknowledged every matching event before `delivered_to` (`count` of them
/// since the previous record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivered {
    pub webhook_id: Uuid,
    pub delivered_to: u64,
    pub count: u64,
    #[serde(with = "crate::time_format")]
    pub delivered_at: Timestamp,
}
payload! { WebhookDelivered, "WebhookDelivered", 1, |e| webhook_stream(e.webhook_id) }

pub fn webhook_stream(webhook_id: Uuid) -> String {
    format!("webhook-{webhook_id}")
}

/// The endpoint URL's rules: absolute `http` or `https` with a host, at most
/// [`URL_BYTES_MAX`] bytes, no credentials in it (they would be shown on every read).
pub fn check_url(url: &str, errors: &mut FieldErrors) {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        errors.add("url", "url must be an absolute http:// or https:// URL");
        return;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if url.len() > URL_BYTES_MAX {
        errors.add("url", format!("url must be at most {URL_BYTES_MAX} bytes"));
    } else if authority.is_empty() {
        errors.add("url", "url must name a host");
    } else if authority.contains('@') {
        errors.add("url", "url must not carry credentials");
    } else if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.add("url", "url must not contain spaces or control characters");
    }
}

/// The filter's rules: known event type names (webhooks' own excepted), no repeats, at most
/// [`EVENT_TYPES_PER_WEBHOOK_MAX`], not empty (absent means every type).
pub fn check_event_types(types: &[String], known: &[&str], errors: &mut FieldErrors) {
    if types.is_empty() {
        errors.add(
            "event_types",
            "event_types must name at least one type (leave it out for every type)",
        );
    } else if types.len() > EVENT_TYPES_PER_WEBHOOK_MAX {
        errors.add(
            "event_types",
            format!("event_types may name at most {EVENT_TYPES_PER_WEBHOOK_MAX} types"),
        );
    }
    for t in types {
        if !known.contains(&t.as_str()) || !delivered_to_webhooks(t) {
            errors.add("event_types", format!("{t:?} is not an event type"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    if types.iter().any(|t| !seen.insert(t)) {
        errors.add("event_types", "event_types must not repeat a type");
    }
}
