//! Holds are bounded (issue 8): one agent filled a tenant's /29 with five pending requests,
//! after which the tenant's allocations got 422 and the block could not be deleted. Now an
//! agent has at most `request_holds_per_agent_max` pending requests (over all tenants), and a
//! request pending longer than `request_pending_expiry_hours` is expired by the retention
//! run: its hold is freed and the review API shows why.

use chrono::Duration;
use ipledger_domain::records::Reply;
use ipledger_domain::requests::RequestStatus;
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::Command;
use crate::command_requests::{DecideRequest, SubmitRequest};
use crate::decide::Settings;

fn limited(holds: usize, expiry_hours: Option<u32>) -> Settings {
    Settings {
        request_holds_per_agent_max: Some(holds),
        request_pending_expiry_hours: expiry_hours,
        ..settings()
    }
}

fn submit(agent: &str, address: &str) -> Command {
    Command::SubmitRequest(SubmitRequest {
        ip: Some(ip(address)),
        requested_by: "anonymous".into(),
        agent: agent.into(),
        ..SubmitRequest::default()
    })
}

fn submitted_id(reply: &Reply) -> uuid::Uuid {
    let Reply::Request(r) = reply else {
        panic!("a request reply, got {reply:?}");
    };
    r.id
}

fn expire() -> Command {
    Command::ExpireRequests { max: 100 }
}

#[test]
fn an_agent_holds_at_most_its_limit_of_pending_requests() {
    let mut s = given(&[create(private(T1, "10.0.0.0/29"))]);
    let two = limited(2, None);
    let first = s
        .run_at(&submit("agent-a", "10.0.0.2"), &two, now())
        .expect("first");
    s.run_at(&submit("agent-a", "10.0.0.3"), &two, now())
        .expect("second");
    let before = s.state.clone();
    let refused = s.run_at(&submit("agent-a", "10.0.0.4"), &two, now());
    let Err(Rejection::Unprocessable(message)) = refused else {
        panic!("a third hold by the same agent is refused, got {refused:?}");
    };
    assert!(
        message.contains("agent-a") && message.contains("request_holds_per_agent_max = 2"),
        "{message}"
    );
    assert_eq!(s.state, before, "a refusal changes nothing");
    // Another agent has its own allowance; a decision gives the first agent one back.
    s.run_at(&submit("agent-b", "10.0.0.4"), &two, now())
        .expect("another agent");
    let reject = Command::DecideRequest(DecideRequest {
        request_id: submitted_id(&first.reply),
        decided_by: "ops".into(),
        reject: Some(None),
    });
    s.run_at(&reject, &two, now()).expect("rejected");
    s.run_at(&submit("agent-a", "10.0.0.5"), &two, now())
        .expect("a hold again after a decision");
    assert_eq!(s.state.request_queue().pending_holds_of("agent-a"), 2);
    assert_eq!(s.state.request_queue().pending_holds_of("agent-b"), 1);
}

#[test]
fn a_request_pending_past_the_expiry_is_expired_and_frees_its_address() {
    let mut s = given(&[create(private(T1, "10.0.0.0/29"))]);
    let block = id(1);
    let settings = limited(16, Some(72));
    let held = s
        .run_at(&submit("agent-a", "10.0.0.2"), &settings, now())
        .expect("held");
    let request = submitted_id(&held.reply);

    // Not yet: 71 hours later nothing expires.
    let early = s
        .run_at(&expire(), &settings, now() + Duration::hours(71))
        .expect("expiry run");
    assert_eq!(early.events, vec![]);
    assert_eq!(early.reply, Reply::Purged(0));

    let later = now() + Duration::hours(73);
    let run = s.run_at(&expire(), &settings, later).expect("expiry run");
    let [Event::RequestExpired(e)] = run.events.as_slice() else {
        panic!("one RequestExpired, got {:?}", run.events);
    };
    assert_eq!(
        (e.request_id, e.block_id, e.expired_at),
        (request, block, later)
    );
    assert!(e.reason.contains("72 hours"), "{}", e.reason);
    assert_eq!(run.reply, Reply::Purged(1));

    let r = s.state.request(request).expect("the request");
    assert_eq!(r.status, RequestStatus::Expired);
    assert_eq!(r.decided_at, Some(later));
    assert_eq!(r.reason.as_deref(), Some(e.reason.as_str()));
    let b = s.state.block(block).expect("block");
    assert!(b.holds.is_empty(), "the hold is released");
    assert_eq!(s.state.request_queue().pending_holds_of("agent-a"), 0);
    // The address is the owner's again, and an expired request cannot be approved.
    s.run_at(&allocate_at(T1, block, "10.0.0.2"), &settings, later)
        .expect("the freed address can be allocated");
    let approve = Command::DecideRequest(DecideRequest {
        request_id: request,
        decided_by: "ops".into(),
        reject: None,
    });
    assert!(matches!(
        s.run_at(&approve, &settings, later),
        Err(Rejection::Conflict(m)) if m.contains("EXPIRED")
    ));
    // A second run finds nothing more.
    let again = s.run_at(&expire(), &settings, later).expect("expiry run");
    assert_eq!(again.events, vec![]);
}

#[test]
fn without_an_expiry_setting_nothing_expires() {
    let mut s = given(&[create(private(T1, "10.0.0.0/29"))]);
    let settings = limited(16, None);
    s.run_at(&submit("agent-a", "10.0.0.2"), &settings, now())
        .expect("held");
    let run = s
        .run_at(&expire(), &settings, now() + Duration::days(3650))
        .expect("expiry run");
    assert_eq!(run.events, vec![]);
}
