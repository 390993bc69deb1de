//! Updating and deleting IP blocks (melange-semantics.md §1 with decisions 5 and 6).

use ipledger_domain::events::*;
use ipledger_domain::records::{BlockType, Reply};
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::{Command, CreateBlock, UpdateBlock};

fn not_found() -> Rejection {
    Rejection::NotFound("IpBlock Not Found".into())
}

// Update.

#[test]
fn an_update_changes_the_updatable_fields_and_keeps_the_cidr() {
    let (policy, block) = (id(1), id(2));
    let scenario = given(&[create_policy(T1, "p"), create(private(T1, "10.0.0.0/24"))]);
    let command = UpdateBlock {
        network_id: Some(some("net-a")),
        policy_id: Some(Some(policy.to_string())),
        gateway: Some(some("10.0.0.254")),
        dns1: Some(some("1.1.1.1")),
        ..update(T1, block)
    };
    let then = scenario.when(Command::UpdateBlock(command));
    then.then_events(&[
        Event::BlockUpdated(BlockUpdated {
            block_id: block,
            block_type: BlockType::Private,
            network_id: some("net-a"),
            policy_id: Some(policy),
            gateway: Some(ip("10.0.0.254")),
            dns1: Some(ip("1.1.1.1")),
            dns2: Some(ip("8.8.4.4")),
            updated_at: now(),
            ipv6_generator: None,
        }),
        // Moved into net-a: the network's stream guards its overlap rule (issue 12).
        Event::BlockClaimed(BlockClaimed {
            block_id: block,
            cidr: "10.0.0.0/24".parse().expect("cidr"),
            scope: ClaimScope::Network("net-a".into()),
            claimed_at: now(),
        }),
    ]);
    let state = then.then_state();
    assert_eq!(
        state.block(block).expect("block").record.cidr.to_string(),
        "10.0.0.0/24"
    );
    assert_eq!(
        state.block(block).expect("block").record.gateway,
        Some(ip("10.0.0.254"))
    );
}

#[test]
fn clearing_the_gateway_or_dns_restores_their_defaults() {
    let block = id(1);
    let command = CreateBlock {
        gateway: some("10.0.0.9"),
        dns1: some("1.1.1.1"),
        ..private(T1, "10.0.0.0/24")
    };
    let scenario = given(&[create(command)]);
    let clear = UpdateBlock {
        gateway: Some(None),
        dns1: Some(some("")),
        ..update(T1, block)
    };
    let then = scenario.when(Command::UpdateBlock(clear));
    let e = then.then_block_updated();
    assert_eq!(e.gateway, Some(ip("10.0.0.1")));
    assert_eq!(e.dns1, Some(ip("8.8.8.8")));
}

#[test]
fn the_type_is_updatable() {
    // Decision 5: the spec lists type as updatable (Melange silently ignored it).
    let block = id(1);
    let then =
        given(&[create(private(T1, "10.0.0.0/24"))]).when(Command::UpdateBlock(UpdateBlock {
            block_type: some("public"),
            ..update(T1, block)
        }));
    assert_eq!(then.then_block_updated().block_type, BlockType::Public);
    assert_eq!(
        then.then_state()
            .block(block)
            .expect("block")
            .record
            .block_type,
        BlockType::Public
    );
}

#[test]
fn an_updated_type_is_checked_against_public_roots() {
    // Decision 5: becoming public must not make two public roots overlap.
    let block = id(2);
    given(&[
        create(public(T2, "10.0.0.0/16")),
        create(private(T1, "10.0.0.0/24")),
    ])
    .when(Command::UpdateBlock(UpdateBlock {
        block_type: some("public"),
        ..update(T1, block)
    }))
    .then_rejected(invalid(&[(
        "cidr",
        &["cidr overlaps with public block 10.0.0.0/16"],
    )]));
}

#[test]
fn an_update_rechecks_every_rule() {
    let block = id(2);
    let scenario = given(&[
        create(CreateBlock {
            network_id: some("net-a"),
            ..private(T2, "10.0.0.0/24")
        }),
        create(private(T1, "10.0.0.0/25")),
    ]);
    let join = UpdateBlock {
        network_id: Some(some("net-a")),
        ..update(T1, block)
    };
    scenario
        .when(Command::UpdateBlock(join))
        .then_rejected(invalid(&[(
            "cidr",
            &["cidr overlaps with block 10.0.0.0/24 in same network"],
        )]));
    let bad = UpdateBlock {
        block_type: some("shared"),
        gateway: Some(some("nope")),
        dns2: Some(some("nope")),
        policy_id: Some(some("nope")),
        ..update(T1, block)
    };
    scenario
        .when(Command::UpdateBlock(bad))
        .then_rejected(invalid(&[
            ("dns2", &["dns2 is not a valid address"]),
            ("gateway", &["Gateway is not a valid address"]),
            ("policy_id", &["Policy with id nope doesn't exist"]),
            ("type", &["type should be one among public, private"]),
        ]));
}

#[test]
fn an_updated_network_must_keep_one_type() {
    let block = id(2);
    let scenario = given(&[
        create(CreateBlock {
            network_id: some("net-a"),
            ..public(T2, "20.0.0.0/24")
        }),
        create(private(T1, "10.0.0.0/24")),
    ]);
    let join = UpdateBlock {
        network_id: Some(some("net-a")),
        ..update(T1, block)
    };
    scenario
        .when(Command::UpdateBlock(join))
        .then_rejected(invalid(&[(
            "type",
            &["type should be same within a network"],
        )]));
}

#[test]
fn an_updated_subnet_keeps_its_parents_network() {
    // Guards against updates skipping a create-time rule: Melange re-ran every validation
    // on update, so a subnet could not leave its parent's network afterwards either.
    let (parent, child) = (id(1), id(2));
    let scenario = given(&[
        create(CreateBlock {
            network_id: some("net-a"),
            ..private(T1, "10.0.0.0/16")
        }),
        create(subnet(T1, parent, "10.0.1.0/24")),
    ]);
    let refused = invalid(&[(
        "network_id",
        &["network_id should be same as that of parent"],
    )]);
    let leave = UpdateBlock {
        network_id: Some(some("net-b")),
        ..update(T1, child)
    };
    scenario
        .when(Command::UpdateBlock(leave))
        .then_rejected(refused.clone());
    let clear = UpdateBlock {
        network_id: Some(None),
        ..update(T1, child)
    };
    scenario
        .when(Command::UpdateBlock(clear))
        .then_rejected(refused);
    let stay = UpdateBlock {
        network_id: Some(some("net-a")),
        dns1: Some(some("1.1.1.1")),
        ..update(T1, child)
    };
    scenario
        .when(Command::UpdateBlock(stay))
        .then_block_updated();
}

#[test]
fn another_tenants_block_is_not_found() {
    let block = id(1);
    let scenario = given(&[create(private(T1, "10.0.0.0/24"))]);
    scenario
        .when(Command::UpdateBlock(update(T2, block)))
        .then_rejected(not_found());
    scenario
        .when(delete_block(T2, block))
        .then_rejected(not_found());
    scenario
        .when(allocate(T2, block))
        .then_rejected(not_found());
    scenario
        .when(delete_block(T1, id(42)))
        .then_rejected(not_found());
}

// Delete.

#[test]
fn an_empty_block_is_deleted() {
    let block = id(1);
    let then = given(&[create(private(T1, "10.0.0.0/24"))]).when(delete_block(T1, block));
    then.then_events(&[block_deleted(block)]);
    assert_eq!(then.decision().reply, Reply::Done);
    let state = then.then_state();
    assert!((state.block_count() == 0));
    assert!(state
        .list_blocks(T1, None, Default::default())
        .items
        .is_empty());
}

#[test]
fn a_block_with_live_allocations_is_not_deleted() {
    // Decision 6: Melange silently hard-deleted live allocations with their block.
    let block = id(1);
    given(&[
        create(private(T1, "10.0.0.0/24")),
        allocate(T1, block),
        allocate(T1, block),
        deallocate(T1, block, "10.0.0.2"),
    ])
    .when(delete_block(T1, block))
    .then_rejected(Rejection::Conflict(
        "IpBlock has 1 allocated address(es); deallocate them first".into(),
    ));
}

#[test]
fn a_block_with_subnets_is_not_deleted() {
    let parent = id(1);
    given(&[
        create(private(T1, "10.0.0.0/16")),
        create(subnet(T1, parent, "10.0.1.0/24")),
    ])
    .when(delete_block(T1, parent))
    .then_rejected(Rejection::Conflict(
        "IpBlock has 1 subnet(s); delete them first".into(),
    ));
}

#[test]
fn a_block_whose_addresses_are_all_deallocated_is_deleted_with_them() {
    // Decision 6: each held address is purged by an event of its own, then the block goes.
    let block = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/24")),
        allocate(T1, block),
        allocate_at(T1, block, "10.0.0.77"),
        deallocate(T1, block, "10.0.0.77"),
        deallocate(T1, block, "10.0.0.2"),
    ]);
    let then = scenario.when(delete_block(T1, block));
    then.then_events(&[
        purged(block, "10.0.0.2"),
        purged(block, "10.0.0.77"),
        block_deleted(block),
    ]);
    let state = then.then_state();
    assert!((state.block_count() == 0));
    assert!((state.address_count() == 0));
}

#[test]
fn deleting_the_last_subnet_makes_the_parent_allocatable_again() {
    let (parent, child) = (id(1), id(2));
    let scenario = given(&[
        create(private(T1, "10.0.0.0/24")),
        create(subnet(T1, parent, "10.0.0.128/25")),
        delete_block(T1, child),
    ]);
    scenario
        .when(allocate(T1, parent))
        .then_allocated("10.0.0.2");
    // And the freed range is available to a new subnet.
    scenario
        .when(create(subnet(T1, parent, "10.0.0.128/26")))
        .then_block_created();
}
