//! The IP request queue folded from the request events: every request by id (UUID v7: in
//! submission order), and the notifications still owed (the outbox's work list). The hold a
//! pending request keeps on its address lives with the block (`BlockState::holds`), so that
//! allocation sees it through the block's free map.

use std::collections::{BTreeMap, BTreeSet};

use ipledger_domain::requests::{
    NotificationDelivered, NotificationKind, RequestApproved, RequestRecord, RequestRejected,
    RequestStatus, RequestSubmitted,
};
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    pub by_id: BTreeMap<Uuid, RequestRecord>,
    /// Notifications not yet delivered: arrival (to support) for every request, the decision
    /// (to the requester) when an e-mail was given.
    pub owed: BTreeSet<(Uuid, NotificationKind)>,
}

impl Requests {
    pub fn submitted(&mut self, e: &RequestSubmitted) {
        let record = RequestRecord {
            id: e.request_id,
            block_id: e.block_id,
            ip: e.ip,
            network_id: e.network_id.clone(),
            status: RequestStatus::Pending,
            assign_type: e.assign_type.clone(),
            assigned_to: e.assigned_to.clone(),
            requested_by: e.requested_by.clone(),
            email: e.email.clone(),
            ip_range: e.ip_range.clone(),
            region: e.region.clone(),
            description: e.description.clone(),
            requested_at: e.submitted_at,
            decided_at: None,
            decided_by: None,
            reason: None,
            address_id: None,
            delivered: Vec::new(),
        };
        self.owed
            .insert((e.request_id, NotificationKind::Submitted));
        self.by_id.insert(e.request_id, record);
    }

    pub fn approved(&mut self, e: &RequestApproved) {
        self.decide(e.request_id, |r| {
            r.status = RequestStatus::Approved;
            r.decided_at = Some(e.approved_at);
            r.decided_by = Some(e.approved_by.clone());
            r.address_id = Some(e.address_id);
        });
    }

    pub fn rejected(&mut self, e: &RequestRejected) {
        self.decide(e.request_id, |r| {
            r.status = RequestStatus::Rejected;
            r.decided_at = Some(e.rejected_at);
            r.decided_by = Some(e.rejected_by.clone());
            r.reason = e.reason.clone();
        });
    }

    fn decide(&mut self, id: Uuid, f: impl FnOnce(&mut RequestRecord)) {
        let Some(r) = self.by_id.get_mut(&id) else {
            return;
        };
        f(r);
        if let Some(kind) = r.decision_notice() {
            if !r.delivered.contains(&kind) {
                self.owed.insert((id, kind));
            }
        }
    }

    pub fn delivered(&mut self, e: &NotificationDelivered) {
        self.owed.remove(&(e.request_id, e.kind));
        if let Some(r) = self.by_id.get_mut(&e.request_id) {
            if !r.delivered.contains(&e.kind) {
                r.delivered.push(e.kind);
            }
        }
    }
}
