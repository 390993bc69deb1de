//! IP requests (issue 4, seed 000): an agent asks for one address, an admin approves or
//! rejects it, and the parties are told by e-mail. This module holds the request record, the
//! events of its life, the e-mail notifications it owes, and the field rules.
//!
//! A pending request *holds* its address (a soft hold): the events live in the stream of the
//! block that contains the address, so the block's expected version guards the hold against
//! allocation and against a second request in one place. Approval turns the hold into an
//! allocation in the same stream (`RequestApproved` then `AddressAllocated`); rejection frees it.
//!
//! A delivered notification is a `NotificationDelivered` event in the request's own
//! notification stream, so that a restart never sends it again.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::block_stream;
use crate::payload::payload;
use crate::Timestamp;

/// The assign type of agent-submitted requests (the seed's only one).
pub const ASSIGN_TYPE_USER: &str = "USER";
/// `email`, `ipRange`, `region`, `description` and `reason` are at most this long.
pub const REQUEST_TEXT_BYTES_MAX: usize = 1024;
/// An e-mail address is at most this long (RFC 5321's path limit).
pub const EMAIL_BYTES_MAX: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
    /// Pending for longer than the deployment's `request_pending_expiry_hours`: the hold was
    /// released by the expiry run (`RequestExpired`), nobody decided it.
    Expired,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "PENDING",
            RequestStatus::Approved => "APPROVED",
            RequestStatus::Rejected => "REJECTED",
            RequestStatus::Expired => "EXPIRED",
        }
    }

    /// `PENDING`, `APPROVED` or `REJECTED`, in any letter case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "PENDING" => Some(RequestStatus::Pending),
            "APPROVED" => Some(RequestStatus::Approved),
            "REJECTED" => Some(RequestStatus::Rejected),
            "EXPIRED" => Some(RequestStatus::Expired),
            _ => None,
        }
    }
}

/// Which mail a notification is: to support on arrival, to the requester on a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Submitted,
    Approved,
    Rejected,
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotificationKind::Submitted => "submitted",
            NotificationKind::Approved => "approved",
            NotificationKind::Rejected => "rejected",
        })
    }
}

/// A request as the projections keep it and the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: Uuid,
    pub block_id: Uuid,
    pub ip: IpAddr,
    pub network_id: Option<String>,
    pub status: RequestStatus,
    pub assign_type: String,
    pub assigned_to: String,
    pub requested_by: String,
    /// The agent (token name) that submitted it: pending holds are limited per agent.
    #[serde(default)]
    pub agent: Option<String>,
    pub email: Option<String>,
    pub ip_range: Option<String>,
    pub region: Option<String>,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub requested_at: Timestamp,
    /// When it was approved, rejected or expired.
    #[serde(default, with = "crate::time_format::option")]
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    /// The rejection's reason, or why it expired.
    pub reason: Option<String>,
    /// The address allocated on approval.
    pub address_id: Option<Uuid>,
    /// Notifications delivered so far.
    #[serde(default)]
    pub delivered: Vec<NotificationKind>,
}

impl RequestRecord {
    /// The decision mail this request owes its requester, if any.
    pub fn decision_notice(&self) -> Option<NotificationKind> {
        self.email.as_ref()?;
        match self.status {
            // Expiry mails nobody: no one decided, and the requester may ask again.
            RequestStatus::Pending | RequestStatus::Expired => None,
            RequestStatus::Approved => Some(NotificationKind::Approved),
            RequestStatus::Rejected => Some(NotificationKind::Rejected),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSubmitted {
    pub request_id: Uuid,
    /// The most specific block containing `ip`: its stream holds the request.
    pub block_id: Uuid,
    pub ip: IpAddr,
    pub network_id: Option<String>,
    pub assign_type: String,
    pub assigned_to: String,
    pub requested_by: String,
    /// The agent (the token's name, the envelope's actor) holding the address: pending holds
    /// are counted per agent. Absent from events written before the limit (not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub email: Option<String>,
    pub ip_range: Option<String>,
    pub region: Option<String>,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub submitted_at: Timestamp,
}
// A request holds its address: it lives in that address's block stream, whose version
// guards the hold against allocation and a second request.
payload! { RequestSubmitted, "RequestSubmitted", 1, |e| block_stream(e.block_id) }

/// The hold ends; an `AddressAllocated` for `address_id` follows in the same stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestApproved {
    pub request_id: Uuid,
    pub block_id: Uuid,
    pub address_id: Uuid,
    pub approved_by: String,
    #[serde(with = "crate::time_format")]
    pub approved_at: Timestamp,
}
payload! { RequestApproved, "RequestApproved", 1, |e| block_stream(e.block_id) }

/// The hold ends and the address is free again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRejected {
    pub request_id: Uuid,
    pub block_id: Uuid,
    pub rejected_by: String,
    pub reason: Option<String>,
    #[serde(with = "crate::time_format")]
    pub rejected_at: Timestamp,
}
payload! { RequestRejected, "RequestRejected", 1, |e| block_stream(e.block_id) }

/// A request pending longer than the deployment allows: the hold ends and the address is
/// free again; `reason` says why (shown by the review API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestExpired {
    pub request_id: Uuid,
    pub block_id: Uuid,
    pub reason: String,
    #[serde(with = "crate::time_format")]
    pub expired_at: Timestamp,
}
payload! { RequestExpired, "RequestExpired", 1, |e| block_stream(e.block_id) }

/// An e-mail the SMTP server accepted; it is never sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDelivered {
    pub request_id: Uuid,
    pub kind: NotificationKind,
    pub recipient: String,
    #[serde(with = "crate::time_format")]
    pub delivered_at: Timestamp,
}
// Delivery records guard nothing but "sent once": a stream per request.
payload! {
    NotificationDelivered, "NotificationDelivered", 1,
    |e| notification_stream(e.request_id)
}

/// The stream of a request's delivery records.
pub fn notification_stream(request_id: Uuid) -> String {
    format!("notifications-{request_id}")
}

/// A plausible e-mail address: `local@domain`, printable, no spaces, at most
/// [`EMAIL_BYTES_MAX`] bytes. (Deliverability is the SMTP server's to judge.)
pub fn valid_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    text.len() <= EMAIL_BYTES_MAX
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_in_any_case() {
        assert_eq!(
            RequestStatus::parse("pending"),
            Some(RequestStatus::Pending)
        );
        assert_eq!(
            RequestStatus::parse("APPROVED"),
            Some(RequestStatus::Approved)
        );
        assert_eq!(
            RequestStatus::parse("Rejected"),
            Some(RequestStatus::Rejected)
        );
        assert_eq!(
            RequestStatus::parse("expired"),
            Some(RequestStatus::Expired)
        );
        assert_eq!(RequestStatus::parse("done"), None);
    }

    #[test]
    fn emails_are_checked() {
        assert!(valid_email("user@example.com"));
        assert!(valid_email("a.b+c@d"));
        for bad in ["", "user", "@x", "x@", "a b@c", "a@b,c@d", "<a@b>", "a@.b"] {
            assert!(!valid_email(bad), "{bad:?}");
        }
        assert!(!valid_email(&format!("{}@x.y", "a".repeat(300))));
    }
}
