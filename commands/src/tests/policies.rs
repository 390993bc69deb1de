//! Policies with their unusable ranges and octets (melange-semantics.md §6).

use ipledger_domain::events::*;
use ipledger_domain::records::{OctetRecord, PolicyRecord, RangeRecord, Reply};
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::{Command, CreateBlock};

fn policy_not_found() -> Rejection {
    Rejection::NotFound("Policy Not Found".into())
}

fn name_missing() -> Rejection {
    invalid(&[("name", &["name should be present"])])
}

fn update_policy(
    policy: uuid::Uuid,
    name: Option<String>,
    description: Option<Option<String>>,
) -> Command {
    Command::UpdatePolicy {
        tenant: T1.into(),
        policy_id: policy,
        name,
        description,
    }
}

// Policies.

#[test]
fn a_policy_is_created() {
    let command = Command::CreatePolicy {
        tenant: T1.into(),
        name: some("infra"),
        description: some("keep out"),
    };
    let then = given(&[]).when(command);
    then.then_events(&[Event::PolicyCreated(PolicyCreated {
        policy_id: id(1),
        tenant_id: T1.into(),
        name: "infra".into(),
        description: some("keep out"),
        created_at: now(),
    })]);
    let record = PolicyRecord {
        id: id(1),
        tenant_id: T1.into(),
        name: "infra".into(),
        description: some("keep out"),
        created_at: now(),
        updated_at: now(),
    };
    assert_eq!(then.decision().reply, Reply::Policy(record));
}

#[test]
fn a_policy_needs_a_name() {
    // Guards against a message of our own: Melange's _validate_presence_of says
    // "name should be present", and clients match on it.
    for name in [None, some(""), some("   ")] {
        given(&[])
            .when(Command::CreatePolicy {
                tenant: T1.into(),
                name,
                description: None,
            })
            .then_rejected(name_missing());
    }
    let policy = id(1);
    given(&[create_policy(T1, "p")])
        .when(update_policy(policy, some(""), None))
        .then_rejected(name_missing());
}

#[test]
fn a_policy_update_changes_only_what_it_names() {
    let policy = id(1);
    let scenario = given(&[Command::CreatePolicy {
        tenant: T1.into(),
        name: some("p"),
        description: some("d"),
    }]);
    scenario
        .when(update_policy(policy, some("q"), None))
        .then_events(&[Event::PolicyUpdated(PolicyUpdated {
            policy_id: policy,
            name: "q".into(),
            description: some("d"),
            updated_at: now(),
        })]);
    scenario
        .when(update_policy(policy, None, Some(None)))
        .then_events(&[Event::PolicyUpdated(PolicyUpdated {
            policy_id: policy,
            name: "p".into(),
            description: None,
            updated_at: now(),
        })]);
}

#[test]
fn an_unknown_or_foreign_policy_is_not_found() {
    let policy = id(1);
    let scenario = given(&[create_policy(T2, "theirs")]);
    scenario
        .when(update_policy(policy, some("mine"), None))
        .then_rejected(policy_not_found());
    scenario
        .when(update_policy(id(9), some("mine"), None))
        .then_rejected(policy_not_found());
    scenario
        .when(delete_policy(T1, policy))
        .then_rejected(policy_not_found());
    scenario
        .when(unusable_range(T1, policy, 0, 1))
        .then_rejected(policy_not_found());
    scenario
        .when(unusable_octet(T1, policy, 1))
        .then_rejected(policy_not_found());
    let delete_range = Command::DeleteUnusableRange {
        tenant: T1.into(),
        policy_id: policy,
        range_id: id(2),
    };
    scenario
        .when(delete_range)
        .then_rejected(policy_not_found());
}

#[test]
fn a_deleted_policy_is_detached_and_no_longer_refuses_addresses() {
    let (policy, block) = (id(1), id(3));
    let scenario = given(&[
        create_policy(T1, "p"),
        unusable_range(T1, policy, 0, 100),
        create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "10.0.0.0/24")
        }),
    ]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.100");
    let then = scenario.when(delete_policy(T1, policy));
    then.then_events(&[Event::PolicyDeleted(PolicyDeleted {
        policy_id: policy,
        deleted_at: now(),
    })]);
    let state = then.then_state();
    assert_eq!(state.block(block).expect("block").record.policy_id, None);
    assert!((state.counts().policies == 0));

    let scenario = scenario.and(&[delete_policy(T1, policy)]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.2");
    scenario
        .when(allocate_at(T1, block, "10.0.0.50"))
        .then_allocated("10.0.0.50");
    scenario
        .when(unusable_range(T1, policy, 0, 1))
        .then_rejected(policy_not_found());
}

// Unusable ranges.

#[test]
fn a_range_is_created_updated_and_deleted() {
    let (policy, range) = (id(1), id(2));
    let scenario = given(&[create_policy(T1, "p")]);
    let then = scenario.when(unusable_range(T1, policy, -3, 2));
    then.then_events(&[Event::UnusableRangeCreated(UnusableRangeCreated {
        policy_id: policy,
        range_id: range,
        offset: -3,
        length: 2,
        created_at: now(),
    })]);
    let record = RangeRecord {
        id: range,
        policy_id: policy,
        offset: -3,
        length: 2,
        created_at: now(),
        updated_at: now(),
    };
    assert_eq!(then.decision().reply, Reply::Range(record));

    let scenario = scenario.and(&[unusable_range(T1, policy, -3, 2)]);
    let longer = Command::UpdateUnusableRange {
        tenant: T1.into(),
        policy_id: policy,
        range_id: range,
        offset: None,
        length: Some(122),
    };
    scenario
        .when(longer)
        .then_events(&[Event::UnusableRangeUpdated(UnusableRangeUpdated {
            policy_id: policy,
            range_id: range,
            offset: -3,
            length: 122,
            updated_at: now(),
        })]);
    let delete = Command::DeleteUnusableRange {
        tenant: T1.into(),
        policy_id: policy,
        range_id: range,
    };
    let then = scenario.when(delete);
    then.then_events(&[Event::UnusableRangeDeleted(UnusableRangeDeleted {
        policy_id: policy,
        range_id: range,
        deleted_at: now(),
    })]);
    assert!(then
        .then_state()
        .policy(policy)
        .expect("policy")
        .ranges
        .is_empty());
}

#[test]
fn a_zero_length_range_is_invalid_on_create_and_update() {
    // A range of length 0 was stored: a rule that refuses nothing (issue 8, defect 8).
    let (policy, range) = (id(1), id(2));
    let zero = invalid(&[("length", &["length should be a positive integer"])]);
    let scenario = given(&[create_policy(T1, "p")]);
    scenario
        .when(unusable_range(T1, policy, 0, 0))
        .then_rejected(zero.clone());
    let emptied = Command::UpdateUnusableRange {
        tenant: T1.into(),
        policy_id: policy,
        range_id: range,
        offset: Some(1),
        length: Some(0),
    };
    scenario
        .and(&[unusable_range(T1, policy, 0, 1)])
        .when(emptied)
        .then_rejected(zero);
}

#[test]
fn an_unknown_range_is_not_found() {
    // A range is found only through its own policy.
    let (mine, theirs, range) = (id(1), id(2), id(3));
    let scenario = given(&[
        create_policy(T1, "mine"),
        create_policy(T1, "theirs"),
        unusable_range(T1, theirs, 0, 1),
    ]);
    let not_found = Rejection::NotFound("IpRange Not Found".into());
    let update = |policy_id, range_id| Command::UpdateUnusableRange {
        tenant: T1.into(),
        policy_id,
        range_id,
        offset: Some(1),
        length: None,
    };
    scenario
        .when(update(mine, range))
        .then_rejected(not_found.clone());
    scenario
        .when(update(theirs, id(9)))
        .then_rejected(not_found.clone());
    let delete = Command::DeleteUnusableRange {
        tenant: T1.into(),
        policy_id: mine,
        range_id: range,
    };
    scenario.when(delete).then_rejected(not_found);
}

#[test]
fn updating_a_range_changes_what_is_allocated() {
    let (policy, range, block) = (id(1), id(2), id(3));
    let scenario = given(&[
        create_policy(T1, "p"),
        unusable_range(T1, policy, 0, 4),
        create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "10.0.0.0/29")
        }),
    ]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.4");
    let scenario = scenario.and(&[Command::UpdateUnusableRange {
        tenant: T1.into(),
        policy_id: policy,
        range_id: range,
        offset: Some(-4),
        length: None,
    }]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.2");
    scenario
        .when(allocate_at(T1, block, "10.0.0.5"))
        .then_rejected(Rejection::Unprocessable(
            "Block policy does not allow this address".into(),
        ));
}

// Unusable octets.

#[test]
fn an_octet_is_created_updated_and_deleted() {
    let (policy, octet) = (id(1), id(2));
    let scenario = given(&[create_policy(T1, "p")]);
    let then = scenario.when(unusable_octet(T1, policy, 255));
    then.then_events(&[Event::UnusableOctetCreated(UnusableOctetCreated {
        policy_id: policy,
        octet_id: octet,
        octet: 255,
        created_at: now(),
    })]);
    let record = OctetRecord {
        id: octet,
        policy_id: policy,
        octet: 255,
        created_at: now(),
        updated_at: now(),
    };
    assert_eq!(then.decision().reply, Reply::Octet(record));

    let scenario = scenario.and(&[unusable_octet(T1, policy, 255)]);
    let update = Command::UpdateUnusableOctet {
        tenant: T1.into(),
        policy_id: policy,
        octet_id: octet,
        octet: Some(200),
    };
    scenario
        .when(update)
        .then_events(&[Event::UnusableOctetUpdated(UnusableOctetUpdated {
            policy_id: policy,
            octet_id: octet,
            octet: 200,
            updated_at: now(),
        })]);
    let unchanged = Command::UpdateUnusableOctet {
        tenant: T1.into(),
        policy_id: policy,
        octet_id: octet,
        octet: None,
    };
    match scenario.when(unchanged).events() {
        [Event::UnusableOctetUpdated(e)] => assert_eq!(e.octet, 255),
        other => panic!("expected one UnusableOctetUpdated, got {other:?}"),
    }
    let delete = Command::DeleteUnusableOctet {
        tenant: T1.into(),
        policy_id: policy,
        octet_id: octet,
    };
    let then = scenario.when(delete);
    then.then_events(&[Event::UnusableOctetDeleted(UnusableOctetDeleted {
        policy_id: policy,
        octet_id: octet,
        deleted_at: now(),
    })]);
    assert!(then
        .then_state()
        .policy(policy)
        .expect("policy")
        .octets
        .is_empty());
}

#[test]
fn an_unknown_octet_is_not_found() {
    let (mine, theirs, octet) = (id(1), id(2), id(3));
    let scenario = given(&[
        create_policy(T1, "mine"),
        create_policy(T1, "theirs"),
        unusable_octet(T1, theirs, 7),
    ]);
    let not_found = Rejection::NotFound("IpOctet Not Found".into());
    let update = Command::UpdateUnusableOctet {
        tenant: T1.into(),
        policy_id: mine,
        octet_id: octet,
        octet: Some(1),
    };
    scenario.when(update).then_rejected(not_found.clone());
    let delete = Command::DeleteUnusableOctet {
        tenant: T1.into(),
        policy_id: mine,
        octet_id: octet,
    };
    scenario.when(delete).then_rejected(not_found.clone());
    let delete = Command::DeleteUnusableOctet {
        tenant: T1.into(),
        policy_id: theirs,
        octet_id: id(9),
    };
    scenario.when(delete).then_rejected(not_found);
}

#[test]
fn deleting_an_octet_frees_its_addresses() {
    let (policy, octet, block) = (id(1), id(2), id(3));
    let scenario = given(&[
        create_policy(T1, "p"),
        unusable_octet(T1, policy, 2),
        create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "10.0.0.0/29")
        }),
    ]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.3");
    let scenario = scenario.and(&[Command::DeleteUnusableOctet {
        tenant: T1.into(),
        policy_id: policy,
        octet_id: octet,
    }]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.2");
}
