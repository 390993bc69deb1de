//! Creating a block costs O(log n) in the number of blocks (issue 8, defect 9): every
//! creation walked all blocks for the overlap, sibling and network checks (2,794 blocks/s
//! for the first 28k, 829/s by 46k). The work is counted in blocks examined
//! (`work::blocks_examined`), not in time, over a state of 10,000 blocks.

use ipledger_projections::work;

use super::given::*;
use crate::command::{Command, CreateBlock};
use crate::decide_requests::resolve_block;

const BLOCKS: u32 = 10_000;

/// A handful per lookup: the blocks a creation is checked against are the ones it overlaps.
const EXAMINED_MAX: u64 = 64;

fn public_in(owner: &str, cidr: &str, network: &str) -> Command {
    create(CreateBlock {
        network_id: some(network),
        ..public(owner, cidr)
    })
}

/// 4,000 private /32s of T1, 4,000 public /24s of T2 in network "wan", a private /16 of T1
/// with 1,999 /32 subnets: 10,000 blocks. Returns the scenario and the /16's id.
fn ten_thousand_blocks() -> (Scenario, uuid::Uuid) {
    let mut commands = Vec::with_capacity(BLOCKS as usize);
    for i in 0..4_000u32 {
        let a = i.to_be_bytes();
        commands.push(create(private(
            T1,
            &format!("10.{}.{}.{}/32", a[1], a[2], a[3]),
        )));
    }
    for i in 0..4_000u32 {
        let a = i.to_be_bytes();
        commands.push(public_in(T2, &format!("100.{}.{}.0/24", a[2], a[3]), "wan"));
    }
    commands.push(create(private(T1, "172.16.0.0/16")));
    let parent = id(commands.len() as u128);
    for i in 1..2_000u32 {
        let a = i.to_be_bytes();
        commands.push(create(subnet(
            T1,
            parent,
            &format!("172.16.{}.{}/32", a[2], a[3]),
        )));
    }
    assert_eq!(commands.len(), BLOCKS as usize);
    (given(&commands), parent)
}

fn examined<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = work::blocks_examined();
    let out = f();
    (out, work::blocks_examined() - before)
}

#[test]
fn creation_checks_and_lookups_examine_a_handful_of_ten_thousand_blocks() {
    let (scenario, parent) = ten_thousand_blocks();
    assert_eq!(scenario.state.block_count(), BLOCKS as usize);
    let cases = [
        ("private /32", create(private(T1, "10.200.0.1/32"))),
        (
            "public /24 in a network",
            public_in(T2, "100.200.0.0/24", "wan"),
        ),
        (
            "subnet among 1,999 siblings",
            create(subnet(T1, parent, "172.16.200.1/32")),
        ),
    ];
    for (what, command) in cases {
        let (then, n) = examined(|| scenario.when(command));
        then.then_block_created();
        assert!(n <= EXAMINED_MAX, "{what}: {n} blocks examined");
    }
    let (found, n) = examined(|| resolve_block(&scenario.state, ip("172.16.7.9")));
    assert_eq!(
        found.map(|b| b.record.cidr.to_string()),
        some("172.16.7.9/32")
    );
    assert!(
        n <= EXAMINED_MAX,
        "most specific block: {n} blocks examined"
    );
    let (found, n) = examined(|| resolve_block(&scenario.state, ip("172.16.255.9")));
    assert_eq!(found.map(|b| b.record.id), Some(parent));
    assert!(
        n <= EXAMINED_MAX,
        "most specific block: {n} blocks examined"
    );
}

#[test]
fn overlaps_found_through_the_index_are_still_refused() {
    let (scenario, parent) = ten_thousand_blocks();
    scenario
        .when(public_in(T1, "100.0.7.128/25", "lan"))
        .then_rejected(invalid(&[(
            "cidr",
            &["cidr overlaps with public block 100.0.7.0/24"],
        )]));
    scenario
        .when(create(subnet(T1, parent, "172.16.0.0/31")))
        .then_rejected(invalid(&[(
            "cidr",
            &["cidr overlaps with sibling 172.16.0.1/32"],
        )]));
    scenario
        .when(create(CreateBlock {
            network_id: some("wan"),
            ..private(T1, "192.168.0.0/24")
        }))
        .then_rejected(invalid(&[(
            "type",
            &["type should be same within a network"],
        )]));
}

#[test]
fn deleting_a_policy_detaches_its_blocks_without_a_walk_over_all_blocks() {
    let (scenario, parent) = ten_thousand_blocks();
    let policy = id(u128::from(BLOCKS) + 1);
    let scenario = scenario.and(&[create_policy(T1, "p"), attach_policy(T1, parent, policy)]);
    let then = scenario.when(delete_policy(T1, policy));
    let (state, n) = examined(|| then.then_state());
    assert_eq!(state.block(parent).unwrap().record.policy_id, None);
    assert!(n <= EXAMINED_MAX, "policy deletion: {n} blocks examined");
}
