//! The commands of the IP request workflow (issue 4): intake, approval, rejection, and the
//! outbox's record of a delivered e-mail. Kept beside `command.rs` so that file stays a plain
//! list of variants.

use std::net::IpAddr;

use ipledger_domain::requests::NotificationKind;
use uuid::Uuid;

/// An agent's request for one address; the network is resolved by `decide`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitRequest {
    pub ip: Option<IpAddr>,
    /// Who asked: `anonymous` for the agent intake (the seed's rule).
    pub requested_by: String,
    /// The agent submitting it (the token's name): its pending holds are limited.
    pub agent: String,
    pub email: Option<String>,
    pub ip_range: Option<String>,
    pub region: Option<String>,
    pub description: Option<String>,
}

/// Approve (`reject: None`) or reject (`reject: Some(reason)`) a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideRequest {
    pub request_id: Uuid,
    /// The admin deciding: recorded as `approved_by`/`rejected_by`.
    pub decided_by: String,
    pub reject: Option<Option<String>>,
}

/// The SMTP server accepted this notification: record it so it is never sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDelivery {
    pub request_id: Uuid,
    pub kind: NotificationKind,
    pub recipient: String,
}
