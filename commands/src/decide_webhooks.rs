//! Webhook endpoints (issue 11 §4): register, delete, and the deliverer's progress records.
//! The secret arrives sealed (the API layer seals it); nothing here can show it.

use ipledger_domain::events::EVENT_TYPES;
use ipledger_domain::records::Reply;
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::webhooks::*;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::State;
use uuid::Uuid;

use crate::decide::{Context, Decision};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookCommand {
    /// `POST /v1/webhooks`.
    Register {
        url: String,
        event_types: Option<Vec<String>>,
        secret_sealed: String,
    },
    /// `DELETE /v1/webhooks/{id}`.
    Delete { webhook_id: Uuid },
    /// The deliverer: the endpoint acknowledged every matching event before `delivered_to`.
    Delivered {
        webhook_id: Uuid,
        delivered_to: u64,
        count: u64,
    },
}

pub fn decide(state: &State, c: &WebhookCommand, ctx: &mut Context) -> Result<Decision, Rejection> {
    match c {
        WebhookCommand::Register {
            url,
            event_types,
            secret_sealed,
        } => {
            let mut errors = FieldErrors::default();
            check_url(url, &mut errors);
            if let Some(types) = event_types {
                let known: Vec<&str> = EVENT_TYPES.iter().map(|(name, _)| *name).collect();
                check_event_types(types, &known, &mut errors);
            }
            errors.into_result()?;
            if state.webhook_count() >= WEBHOOKS_MAX {
                return Err(Rejection::Unprocessable(format!(
                    "At most {WEBHOOKS_MAX} webhooks may be registered; delete one first"
                )));
            }
            let e = WebhookRegistered {
                webhook_id: ctx.ids.next_id(),
                url: url.clone(),
                event_types: event_types.clone(),
                secret_sealed: secret_sealed.clone(),
                // Every event after the ones already in the log.
                follow_from: state.position(),
                created_at: ctx.now,
            };
            let record = WebhookRecord::registered(&e);
            Ok(Decision::new(
                vec![Event::WebhookRegistered(e)],
                Reply::Webhook(record),
            ))
        }
        WebhookCommand::Delete { webhook_id } => {
            state
                .webhook(*webhook_id)
                .ok_or_else(|| Rejection::not_found("Webhook"))?;
            Ok(Decision::new(
                vec![Event::WebhookDeleted(WebhookDeleted {
                    webhook_id: *webhook_id,
                })],
                Reply::Done,
            ))
        }
        WebhookCommand::Delivered {
            webhook_id,
            delivered_to,
            count,
        } => match state.webhook(*webhook_id) {
            // Deleted meanwhile, or already recorded (another node, or a repeat): nothing.
            Some(w) if *delivered_to > w.delivered_to => Ok(Decision::new(
                vec![Event::WebhookDelivered(WebhookDelivered {
                    webhook_id: *webhook_id,
                    delivered_to: *delivered_to,
                    count: *count,
                    delivered_at: ctx.now,
                })],
                Reply::Done,
            )),
            _ => Ok(Decision::nothing()),
        },
    }
}
