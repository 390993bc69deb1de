//! Webhook endpoints (issue 11 §4) folded from their events: every live endpoint with where
//! its deliveries stand. A deleted endpoint is removed (its history stays in its stream).

use imbl::OrdMap;

use ipledger_domain::webhooks::WebhookRecord;
use ipledger_domain::Event;
use uuid::Uuid;

use crate::State;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Webhooks {
    by_id: OrdMap<Uuid, WebhookRecord>,
}

impl Webhooks {
    pub(crate) fn apply(&mut self, event: &Event) {
        match event {
            Event::WebhookRegistered(e) => {
                self.by_id
                    .insert(e.webhook_id, WebhookRecord::registered(e));
            }
            Event::WebhookDeleted(e) => {
                self.by_id.remove(&e.webhook_id);
            }
            Event::WebhookDelivered(e) => {
                if let Some(w) = self.by_id.get_mut(&e.webhook_id) {
                    // Two nodes may both deliver (a shared log): progress never goes back.
                    w.delivered_to = w.delivered_to.max(e.delivered_to);
                    w.delivered_count += e.count;
                    w.last_delivered_at = Some(e.delivered_at);
                }
            }
            _ => {}
        }
    }
}

impl State {
    pub fn webhook(&self, id: Uuid) -> Option<&WebhookRecord> {
        self.webhooks.by_id.get(&id)
    }

    /// Every live endpoint, oldest id first (ids are UUID v7).
    pub fn webhooks(&self) -> impl Iterator<Item = &WebhookRecord> {
        self.webhooks.by_id.values()
    }

    pub fn webhook_count(&self) -> usize {
        self.webhooks.by_id.len()
    }
}
