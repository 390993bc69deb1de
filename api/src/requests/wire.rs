//! The JSON of an IP request (issue 4): the seed's camelCase names (`assignType`,
//! `assignedTo`, `requestedBy`, `ipRange`, `requestedAt`, ...) beside `id`, `ip`,
//! `network_id`, and the notifications with their delivery state (delivered, or the attempts
//! and last SMTP error of one still owed).

use ipledger_domain::requests::{NotificationKind, RequestRecord, RequestStatus};
use serde::Serialize;
use uuid::Uuid;

use crate::kit::wire::{collection_schema, envelope_schema, timestamp};
use crate::requests::outbox::DeliveryLog;

/// The request as the review API and the console show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IpRequest {
    pub address_id: Option<Uuid>,
    /// The agent that submitted it; only when known, so requests from before agents were
    /// recorded answer as they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(rename = "assignType")]
    pub assign_type: String,
    #[serde(rename = "assignedTo")]
    pub assigned_to: String,
    pub block_id: Uuid,
    #[serde(rename = "decidedAt")]
    pub decided_at: Option<String>,
    #[serde(rename = "decidedBy")]
    pub decided_by: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
    /// When the expiry run released the hold (`reason` says why).
    #[serde(rename = "expiredAt", skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<String>,
    pub id: Uuid,
    pub ip: String,
    #[serde(rename = "ipRange")]
    pub ip_range: Option<String>,
    pub network_id: Option<String>,
    pub notifications: Vec<Notification>,
    pub reason: Option<String>,
    pub region: Option<String>,
    #[serde(rename = "requestedAt")]
    pub requested_at: String,
    #[serde(rename = "requestedBy")]
    pub requested_by: String,
    /// `PENDING`, `APPROVED`, `REJECTED` or `EXPIRED`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub attempts: u32,
    pub delivered: bool,
    pub kind: String,
    pub last_error: Option<String>,
}

pub fn request(r: &RequestRecord, deliveries: Option<&DeliveryLog>) -> IpRequest {
    IpRequest {
        id: r.id,
        ip: r.ip.to_string(),
        network_id: r.network_id.clone(),
        block_id: r.block_id,
        status: r.status.as_str(),
        assign_type: r.assign_type.clone(),
        assigned_to: r.assigned_to.clone(),
        requested_by: r.requested_by.clone(),
        email: r.email.clone(),
        ip_range: r.ip_range.clone(),
        region: r.region.clone(),
        description: r.description.clone(),
        requested_at: timestamp(&r.requested_at),
        decided_at: r.decided_at.as_ref().map(timestamp),
        decided_by: r.decided_by.clone(),
        reason: r.reason.clone(),
        address_id: r.address_id,
        notifications: notifications(r, deliveries),
        agent: r.agent.clone(),
        expired_at: r
            .decided_at
            .filter(|_| r.status == RequestStatus::Expired)
            .map(|at| timestamp(&at)),
    }
}

fn notifications(r: &RequestRecord, deliveries: Option<&DeliveryLog>) -> Vec<Notification> {
    let mut owed = vec![NotificationKind::Submitted];
    owed.extend(r.decision_notice());
    owed.iter()
        .map(|kind| {
            let delivered = r.delivered.contains(kind);
            let attempt = deliveries.and_then(|d| d.attempt(r.id, *kind));
            Notification {
                kind: kind.to_string(),
                delivered,
                attempts: attempt.as_ref().map_or(0, |a| a.attempts),
                last_error: attempt.map(|a| a.last_error),
            }
        })
        .collect()
}

envelope_schema!(RequestOne, request, IpRequest);
collection_schema!(Requests, requests, requests_links, IpRequest);

/// The intake's answer (the seed's): `valid` and a message, with 200 on success and on the
/// seed's "duplicate pending request", else the refusal's status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    pub valid: bool,
    pub message: String,
}

/// A refusal of the intake: the seed's verdict from the handler, or the service's fault when
/// the request was refused before it (a malformed path or auth header, a body too large).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a schema: either answer above
pub enum Refusal {
    Verdict(Verdict),
    Fault(crate::fault::MelangeFault),
}
