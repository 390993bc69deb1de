//! The IP request queue folded from the request events: every request by id (UUID v7: in
//! submission order), and the notifications still owed (the outbox's work list). The hold a
//! pending request keeps on its address lives with the block (`BlockState::holds`), so that
//! allocation sees it through the block's free map.
//!
//! Pending requests are also indexed by agent (the per-agent limit on holds is a count, not a
//! scan), by submission time (the expiry run takes the oldest first, a range) and every
//! request by status (the review list filtered by status seeks instead of scanning).

use imbl::{OrdMap, OrdSet};

use ipledger_domain::requests::{
    NotificationDelivered, NotificationKind, RequestApproved, RequestExpired, RequestRecord,
    RequestRejected, RequestStatus, RequestSubmitted,
};
use ipledger_domain::Timestamp;
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Requests {
    pub by_id: OrdMap<Uuid, RequestRecord>,
    /// Notifications not yet delivered: arrival (to support) for every request, the decision
    /// (to the requester) when an e-mail was given.
    pub owed: OrdSet<(Uuid, NotificationKind)>,
    /// (status, id) of every request.
    by_status: OrdSet<(RequestStatus, Uuid)>,
    /// Pending holds per agent (requests written before agents were recorded have none).
    pending_by_agent: OrdMap<String, usize>,
    /// (submitted at, id) of pending requests.
    pending_by_age: OrdSet<(Timestamp, Uuid)>,
}

impl Requests {
    /// How many pending requests (holds) `agent` has.
    pub fn pending_holds_of(&self, agent: &str) -> usize {
        self.pending_by_agent.get(agent).copied().unwrap_or(0)
    }

    /// Up to `max` pending requests submitted before `cutoff`, oldest first.
    pub fn pending_before(&self, cutoff: Timestamp, max: usize) -> Vec<&RequestRecord> {
        self.pending_by_age
            .range(..(cutoff, Uuid::nil()))
            .take(max)
            .filter_map(|(_, id)| self.by_id.get(id))
            .collect()
    }

    /// Ids of the requests with `status` after `marker`, in id order.
    pub fn ids_with_status(
        &self,
        status: RequestStatus,
        marker: Option<Uuid>,
    ) -> impl Iterator<Item = Uuid> + '_ {
        let start = match marker {
            Some(m) => std::ops::Bound::Excluded((status, m)),
            None => std::ops::Bound::Included((status, Uuid::nil())),
        };
        self.by_status
            .range((start, std::ops::Bound::Included((status, Uuid::max()))))
            .map(|(_, id)| *id)
    }

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
            agent: e.agent.clone(),
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
        if let Some(old) = self.by_id.insert(e.request_id, record) {
            self.unindex(&old);
        }
        self.by_status
            .insert((RequestStatus::Pending, e.request_id));
        self.pending_by_age.insert((e.submitted_at, e.request_id));
        if let Some(agent) = &e.agent {
            *self.pending_by_agent.entry(agent.clone()).or_default() += 1;
        }
    }

    /// Takes a request out of the status index and, if pending, out of the pending ones.
    fn unindex(&mut self, r: &RequestRecord) {
        self.by_status.remove(&(r.status, r.id));
        if r.status != RequestStatus::Pending {
            return;
        }
        self.pending_by_age.remove(&(r.requested_at, r.id));
        if let Some(agent) = &r.agent {
            if let Some(n) = self.pending_by_agent.get_mut(agent) {
                *n -= 1;
                if *n == 0 {
                    self.pending_by_agent.remove(agent);
                }
            }
        }
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

    pub fn expired(&mut self, e: &RequestExpired) {
        self.decide(e.request_id, |r| {
            r.status = RequestStatus::Expired;
            r.decided_at = Some(e.expired_at);
            r.reason = Some(e.reason.clone());
        });
    }

    fn decide(&mut self, id: Uuid, f: impl FnOnce(&mut RequestRecord)) {
        let Some(before) = self.by_id.get(&id).cloned() else {
            return;
        };
        self.unindex(&before);
        let Some(r) = self.by_id.get_mut(&id) else {
            return;
        };
        f(r);
        self.by_status.insert((r.status, id));
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
