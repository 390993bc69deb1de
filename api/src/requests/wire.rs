//! The JSON of an IP request (issue 4): the seed's camelCase names (`assignType`,
//! `assignedTo`, `requestedBy`, `ipRange`, `requestedAt`, ...) beside `id`, `ip`,
//! `network_id`, and the notifications with their delivery state (delivered, or the attempts
//! and last SMTP error of one still owed).

use ipledger_domain::requests::{NotificationKind, RequestRecord, RequestStatus};
use serde_json::{json, Value};

use crate::kit::wire::timestamp;
use crate::requests::outbox::DeliveryLog;

/// The request as the review API and the console show it.
pub fn request(r: &RequestRecord, deliveries: Option<&DeliveryLog>) -> Value {
    let mut out = json!({
        "id": r.id,
        "ip": r.ip.to_string(),
        "network_id": r.network_id,
        "block_id": r.block_id,
        "status": r.status.as_str(),
        "assignType": r.assign_type,
        "assignedTo": r.assigned_to,
        "requestedBy": r.requested_by,
        "email": r.email,
        "ipRange": r.ip_range,
        "region": r.region,
        "description": r.description,
        "requestedAt": timestamp(&r.requested_at),
        "decidedAt": r.decided_at.as_ref().map(timestamp),
        "decidedBy": r.decided_by,
        "reason": r.reason,
        "address_id": r.address_id,
        "notifications": notifications(r, deliveries),
    });
    // Only when known, so requests from before agents were recorded answer as they did.
    if let Some(agent) = &r.agent {
        out["agent"] = json!(agent);
    }
    // The expiry run released the hold; `reason` says why.
    if let Some(at) = r.decided_at.filter(|_| r.status == RequestStatus::Expired) {
        out["expiredAt"] = json!(timestamp(&at));
    }
    out
}

fn notifications(r: &RequestRecord, deliveries: Option<&DeliveryLog>) -> Vec<Value> {
    let mut owed = vec![NotificationKind::Submitted];
    owed.extend(r.decision_notice());
    owed.iter()
        .map(|kind| {
            let delivered = r.delivered.contains(kind);
            let attempt = deliveries.and_then(|d| d.attempt(r.id, *kind));
            json!({
                "kind": kind.to_string(),
                "delivered": delivered,
                "attempts": attempt.as_ref().map_or(0, |a| a.attempts),
                "last_error": attempt.map(|a| a.last_error),
            })
        })
        .collect()
}
