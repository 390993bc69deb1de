//! The fold tests' share of IP requests: operations that emit the request events the writer
//! could have decided (a request holds a free address of a block without subnets; approval
//! is `RequestApproved` then `AddressAllocated`; rejection frees the hold; a delivery is
//! recorded for a notification still owed), the plain model of what they say, and the check
//! that the folded state agrees.

use std::collections::{BTreeMap, BTreeSet};

use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::requests::{NotificationKind, RequestStatus};
use ipledger_domain::Event;
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

use super::Model;
use crate::State;

#[derive(Debug, Clone)]
pub(super) enum RequestOp {
    Submit {
        block: Index,
        seed: u64,
        email: bool,
    },
    Approve {
        request: Index,
    },
    Reject {
        request: Index,
        reason: bool,
    },
    Expire {
        request: Index,
    },
    Deliver {
        owed: Index,
    },
}

pub(super) fn op() -> impl Strategy<Value = RequestOp> {
    let idx = any::<Index>;
    prop_oneof![
        3 => (idx(), any::<u64>(), any::<bool>())
            .prop_map(|(block, seed, email)| RequestOp::Submit { block, seed, email }),
        1 => idx().prop_map(|request| RequestOp::Expire { request }),
        2 => idx().prop_map(|request| RequestOp::Approve { request }),
        1 => (idx(), any::<bool>()).prop_map(|(request, reason)| RequestOp::Reject { request, reason }),
        2 => idx().prop_map(|owed| RequestOp::Deliver { owed }),
    ]
}

#[derive(Debug, Default)]
pub(super) struct RequestModel {
    /// Pending requests: (request, block, offset).
    pending: Vec<(Uuid, Uuid, u128)>,
    statuses: BTreeMap<Uuid, RequestStatus>,
    owed: BTreeSet<(Uuid, NotificationKind)>,
}

pub(super) fn interpret(model: &mut Model, op: &RequestOp) {
    match op {
        RequestOp::Submit { block, seed, email } => submit(model, block, *seed, *email),
        RequestOp::Approve { request } => {
            let Some((request_id, block_id, offset)) = take_pending(model, request) else {
                return;
            };
            let address_id = model.fresh_id();
            let now = model.now();
            let cidr = model.block(block_id).expect("held block").cidr;
            model.emit(Event::RequestApproved(RequestApproved {
                request_id,
                block_id,
                address_id,
                approved_by: "ops".into(),
                approved_at: now,
            }));
            model.emit(Event::AddressAllocated(AddressAllocated {
                block_id,
                address_id,
                address: block::address_at(&cidr, offset),
                interface_id: None,
                used_by_tenant: "t1".into(),
                used_by_device: Some("user@example.com".into()),
                mac_address: None,
                allocated_at: now,
            }));
        }
        RequestOp::Reject { request, reason } => {
            let Some((request_id, block_id, _)) = take_pending(model, request) else {
                return;
            };
            let e = RequestRejected {
                request_id,
                block_id,
                rejected_by: "ops".into(),
                reason: reason.then(|| "no".to_string()),
                rejected_at: model.now(),
            };
            model.emit(Event::RequestRejected(e));
        }
        RequestOp::Expire { request } => {
            let Some((request_id, block_id, _)) = take_pending(model, request) else {
                return;
            };
            let e = RequestExpired {
                request_id,
                block_id,
                reason: "pending too long".into(),
                expired_at: model.now(),
            };
            model.emit(Event::RequestExpired(e));
        }
        RequestOp::Deliver { owed } => {
            let r = &model.requests.owed;
            if r.is_empty() {
                return;
            }
            let (request_id, kind) = *r.iter().nth(owed.index(r.len())).expect("in range");
            let e = NotificationDelivered {
                request_id,
                kind,
                recipient: "someone@example.com".into(),
                delivered_at: model.now(),
            };
            model.emit(Event::NotificationDelivered(e));
        }
    }
}

fn take_pending(model: &mut Model, pick: &Index) -> Option<(Uuid, Uuid, u128)> {
    let p = &mut model.requests.pending;
    (!p.is_empty()).then(|| p.remove(pick.index(p.len())))
}

fn submit(model: &mut Model, pick: &Index, seed: u64, email: bool) {
    let Some((block_id, ip)) = model.free_address(pick, seed) else {
        return;
    };
    let request_id = model.fresh_id();
    let email = email.then(|| "user@example.com".to_string());
    let e = RequestSubmitted {
        request_id,
        block_id,
        ip,
        network_id: None,
        assign_type: "USER".into(),
        assigned_to: email.clone().unwrap_or_else(|| "anonymous".into()),
        requested_by: "anonymous".into(),
        // Some requests name their agent (counted per agent), older ones do not.
        agent: (!seed.is_multiple_of(3)).then(|| format!("agent-{}", seed % 2)),
        email,
        ip_range: None,
        region: None,
        description: None,
        submitted_at: model.now(),
    };
    model.emit(Event::RequestSubmitted(e));
}

impl RequestModel {
    /// Brings the model up to date with a request event (holds are kept on the blocks).
    pub(super) fn observe(&mut self, event: &Event, emails: &mut BTreeMap<Uuid, bool>) {
        match event {
            Event::RequestSubmitted(e) => {
                self.statuses.insert(e.request_id, RequestStatus::Pending);
                self.owed
                    .insert((e.request_id, NotificationKind::Submitted));
                emails.insert(e.request_id, e.email.is_some());
            }
            Event::RequestApproved(e) => {
                self.statuses.insert(e.request_id, RequestStatus::Approved);
                if emails[&e.request_id] {
                    self.owed.insert((e.request_id, NotificationKind::Approved));
                }
            }
            Event::RequestRejected(e) => {
                self.statuses.insert(e.request_id, RequestStatus::Rejected);
                if emails[&e.request_id] {
                    self.owed.insert((e.request_id, NotificationKind::Rejected));
                }
            }
            Event::RequestExpired(e) => {
                self.statuses.insert(e.request_id, RequestStatus::Expired);
            }
            Event::NotificationDelivered(e) => {
                self.owed.remove(&(e.request_id, e.kind));
            }
            _ => {}
        }
    }

    pub(super) fn note_pending(&mut self, request: Uuid, block: Uuid, offset: u128) {
        self.pending.push((request, block, offset));
    }
}

pub(super) fn check(state: &State, model: &Model) -> Result<(), TestCaseError> {
    let r = &model.requests;
    let statuses: BTreeMap<Uuid, RequestStatus> = state
        .requests
        .by_id
        .iter()
        .map(|(id, rec)| (*id, rec.status))
        .collect();
    prop_assert_eq!(&statuses, &r.statuses);
    prop_assert_eq!(&state.requests.owed, &imbl::OrdSet::from(&r.owed));
    // The indexes agree with the records: statuses, and pending holds by agent and age.
    let q = &state.requests;
    for status in [
        RequestStatus::Pending,
        RequestStatus::Approved,
        RequestStatus::Rejected,
        RequestStatus::Expired,
    ] {
        let indexed: Vec<Uuid> = q.ids_with_status(status, None).collect();
        let expected: Vec<Uuid> = statuses
            .iter()
            .filter(|(_, s)| **s == status)
            .map(|(id, _)| *id)
            .collect();
        prop_assert_eq!(indexed, expected);
    }
    let pending = || {
        q.by_id
            .values()
            .filter(|r| r.status == RequestStatus::Pending)
    };
    for agent in ["agent-0", "agent-1"] {
        let held = pending()
            .filter(|r| r.agent.as_deref() == Some(agent))
            .count();
        prop_assert_eq!(q.pending_holds_of(agent), held);
    }
    prop_assert_eq!(
        q.pending_before(model.now(), usize::MAX).len(),
        pending().count()
    );
    for m in &model.blocks {
        let holds: BTreeSet<u128> = state.blocks[&m.id].holds.keys().copied().collect();
        prop_assert_eq!(&holds, &m.held);
    }
    Ok(())
}
