//! IP requests (issue 4): intake with network resolution, the soft hold against allocation
//! and against a second request, approval into an allocation, rejection, delivery records.

use ipledger_domain::records::Reply;
use ipledger_domain::requests::{NotificationKind, RequestStatus};
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::Command;
use crate::command_requests::{DecideRequest, RecordDelivery, SubmitRequest};
use crate::decide_requests::DUPLICATE_MESSAGE;

fn request(address: &str) -> SubmitRequest {
    SubmitRequest {
        ip: Some(ip(address)),
        requested_by: "anonymous".into(),
        email: some("user@example.com"),
        ..SubmitRequest::default()
    }
}

fn submit(address: &str) -> Command {
    Command::SubmitRequest(request(address))
}

fn approve(n: u128) -> Command {
    Command::DecideRequest(DecideRequest {
        request_id: id(n),
        decided_by: "ops".into(),
        reject: None,
    })
}

fn reject(n: u128, reason: Option<&str>) -> Command {
    Command::DecideRequest(DecideRequest {
        request_id: id(n),
        decided_by: "ops".into(),
        reject: Some(reason.map(str::to_string)),
    })
}

/// Block id(1): 10.0.0.0/16 in net-a; block id(2): its subnet 10.0.1.0/24.
fn nested() -> Scenario {
    let mut root = private(T1, "10.0.0.0/16");
    root.network_id = some("net-a");
    given(&[create(root)]).and(&[create(subnet(T1, id(1), "10.0.1.0/24"))])
}

#[test]
fn a_request_is_held_in_the_most_specific_block() {
    let then = nested().when(submit("10.0.1.50"));
    let [Event::RequestSubmitted(e)] = then.events() else {
        panic!("one RequestSubmitted, got {:?}", then.events());
    };
    assert_eq!(e.block_id, id(2));
    assert_eq!(e.assign_type, "USER");
    assert_eq!(e.requested_by, "anonymous");
    assert_eq!(e.assigned_to, "user@example.com");
    let state = then.then_state();
    assert_eq!(state.block(id(2)).expect("block").holds.len(), 1);
    assert_eq!(
        state.request(e.request_id).expect("request").status,
        RequestStatus::Pending
    );
}

#[test]
fn the_network_is_the_blocks_network() {
    let mut b = private(T1, "192.168.1.0/24");
    b.network_id = some("net-1");
    let then = given(&[create(b)]).when(submit("192.168.1.50"));
    let Reply::Request(r) = &then.decision().reply else {
        panic!("a request reply");
    };
    assert_eq!(r.network_id.as_deref(), Some("net-1"));
}

#[test]
fn a_second_request_for_a_held_address_fails_without_an_event() {
    nested()
        .and(&[submit("10.0.1.50")])
        .when(submit("10.0.1.50"))
        .then_rejected(Rejection::Conflict(DUPLICATE_MESSAGE.into()));
}

#[test]
fn an_address_outside_every_block_is_refused() {
    nested()
        .when(submit("172.16.0.1"))
        .then_rejected(Rejection::Unprocessable(
            "IP address 172.16.0.1 is not in any configured network".into(),
        ));
}

#[test]
fn an_allocated_address_cannot_be_requested() {
    nested()
        .and(&[allocate_at(T1, id(2), "10.0.1.7")])
        .when(submit("10.0.1.7"))
        .then_rejected(Rejection::Conflict(
            "IP address 10.0.1.7 is already allocated".into(),
        ));
}

#[test]
fn a_held_address_cannot_be_allocated_by_address_or_automatically() {
    let scenario = given(&[create(private(T1, "10.9.0.0/30"))]).and(&[submit("10.9.0.2")]);
    scenario
        .when(allocate_at(T1, id(1), "10.9.0.2"))
        .then_rejected(Rejection::Conflict(
            "Address is held by a pending IP request".into(),
        ));
    // A /30 has .1 (gateway), .2 and .3 (broadcast): with .2 held nothing is left.
    scenario
        .when(allocate(T1, id(1)))
        .then_rejected(Rejection::Unprocessable("IpBlock is full".into()));
}

#[test]
fn approval_allocates_the_address_to_the_requester() {
    let then = nested().and(&[submit("10.0.1.50")]).when(approve(3));
    let [Event::RequestApproved(approved), Event::AddressAllocated(allocated)] = then.events()
    else {
        panic!("approval then allocation, got {:?}", then.events());
    };
    assert_eq!(approved.approved_by, "ops");
    assert_eq!(allocated.address, ip("10.0.1.50"));
    assert_eq!(allocated.address_id, approved.address_id);
    assert_eq!(allocated.used_by_tenant, T1);
    assert_eq!(
        allocated.used_by_device.as_deref(),
        Some("user@example.com")
    );
    let state = then.then_state();
    assert!(state.block(id(2)).expect("block").holds.is_empty());
    let r = &state.request(id(3)).expect("request");
    assert_eq!(r.status, RequestStatus::Approved);
    assert_eq!(r.decided_by.as_deref(), Some("ops"));
    assert!(state
        .request_queue()
        .owed
        .contains(&(id(3), NotificationKind::Approved)));
}

#[test]
fn rejection_frees_the_hold() {
    let scenario = nested()
        .and(&[submit("10.0.1.50")])
        .and(&[reject(3, Some("reserved"))]);
    let r = &scenario.state.request(id(3)).expect("request");
    assert_eq!(r.status, RequestStatus::Rejected);
    assert_eq!(r.reason.as_deref(), Some("reserved"));
    assert!(scenario.state.block(id(2)).expect("block").holds.is_empty());
    scenario
        .when(allocate_at(T1, id(2), "10.0.1.50"))
        .then_allocated("10.0.1.50");
    scenario.when(submit("10.0.1.50")).decision();
}

#[test]
fn only_pending_requests_can_be_decided() {
    let scenario = nested().and(&[submit("10.0.1.50"), approve(3)]);
    let conflict = Rejection::Conflict(
        "IpRequest is already APPROVED; only PENDING requests can be decided".into(),
    );
    scenario.when(approve(3)).then_rejected(conflict.clone());
    scenario.when(reject(3, None)).then_rejected(conflict);
    scenario
        .when(approve(99))
        .then_rejected(Rejection::not_found("IpRequest"));
}

#[test]
fn a_block_with_a_pending_request_cannot_be_deleted() {
    given(&[create(private(T1, "10.9.0.0/24"))])
        .and(&[submit("10.9.0.9")])
        .when(delete_block(T1, id(1)))
        .then_rejected(Rejection::Conflict(
            "IpBlock has 1 pending IP request(s); approve or reject them first".into(),
        ));
}

#[test]
fn bad_fields_are_refused() {
    let mut c = request("10.0.1.5");
    c.email = some("not an address");
    nested()
        .when(Command::SubmitRequest(c))
        .then_rejected(Rejection::BadRequest(
            "email \"not an address\" is not a valid e-mail address".into(),
        ));
    let mut c = request("10.0.1.5");
    c.ip = None;
    nested()
        .when(Command::SubmitRequest(c))
        .then_rejected(Rejection::BadRequest("ip is required".into()));
}

#[test]
fn a_delivery_is_recorded_once() {
    let record = Command::RecordDelivery(RecordDelivery {
        request_id: id(3),
        kind: NotificationKind::Submitted,
        recipient: "support@example.com".into(),
    });
    let scenario = nested().and(&[submit("10.0.1.50")]);
    let then = scenario.when(record.clone());
    assert!(matches!(then.events(), [Event::NotificationDelivered(_)]));
    assert!(then.then_state().request_queue().owed.is_empty());
    scenario
        .and(&[record.clone()])
        .when(record)
        .then_no_events();
}
