//! The next-free search under a policy is bounded by the rules, never by the block (issue 8,
//! defect 1): a tenant's policy refusing all 256 last octets on `0.0.0.0/0` made each
//! automatic allocation walk the block 256 addresses at a time, ~3.6 s inside the single
//! writer. The work is counted in free-map probes (`work::free_map_probes`), not in time.

use ipledger_domain::Rejection;
use ipledger_projections::work;
use uuid::Uuid;

use super::given::*;
use crate::command::CreateBlock;

/// Far more than any bounded search needs, far less than a walk of a /8 (65,536 probes for
/// an octet-by-octet walk, 16M for an address-by-address one).
const PROBES_MAX: u64 = 10_000;

fn full() -> Rejection {
    Rejection::Unprocessable("IpBlock is full".into())
}

/// A scenario with policy `id(1)` holding `octets` and `ranges` and a private block `cidr`
/// under it; returns the scenario and the block's id.
fn block_with_policy(cidr: &str, octets: &[u8], ranges: &[(i64, u64)]) -> (Scenario, Uuid) {
    let policy = id(1);
    let mut commands = vec![create_policy(T1, "hostile")];
    commands.extend(octets.iter().map(|o| unusable_octet(T1, policy, *o)));
    commands.extend(
        ranges
            .iter()
            .map(|(o, l)| unusable_range(T1, policy, *o, *l)),
    );
    commands.push(create(CreateBlock {
        policy_id: some(&policy.to_string()),
        ..private(T1, cidr)
    }));
    let block = id(commands.len() as u128);
    (given(&commands), block)
}

/// Runs `f` and returns its result with the free-map probes it made.
fn probes<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = work::free_map_probes();
    let out = f();
    (out, work::free_map_probes() - before)
}

fn all_octets() -> Vec<u8> {
    (0..=255).collect()
}

#[test]
fn every_octet_refused_on_a_slash_eight_is_full_without_a_walk() {
    let (scenario, block) = block_with_policy("10.0.0.0/8", &all_octets(), &[]);
    let (then, n) = probes(|| scenario.when(allocate(T1, block)));
    then.then_rejected(full());
    assert!(n < PROBES_MAX, "{n} free-map probes for one allocation");
}

#[test]
fn every_octet_refused_on_the_whole_ipv4_space_is_full_without_a_walk() {
    let (scenario, block) = block_with_policy("0.0.0.0/0", &all_octets(), &[]);
    let (then, n) = probes(|| scenario.when(allocate(T1, block)));
    then.then_rejected(full());
    assert!(n < PROBES_MAX, "{n} free-map probes for one allocation");
}

#[test]
fn ranges_leaving_one_address_of_a_slash_eight_give_that_address_then_full() {
    // 1,000 ranges (overlapping, out of order) covering offsets 0..2^24 - 2; the last
    // offset is the broadcast address, so 10.255.255.254 is the only one left.
    let covered: u64 = (1 << 24) - 2;
    let chunk = covered / 1000 + 1;
    let ranges: Vec<(i64, u64)> = (0..1000u64)
        .rev()
        .map(|i| ((i * chunk) as i64, (chunk + 3).min(covered - i * chunk)))
        .collect();
    let (mut scenario, block) = block_with_policy("10.0.0.0/8", &[], &ranges);
    let ((addresses, refusal), n) = probes(|| scenario.allocate_until_refused(T1, block, 3));
    assert_eq!(addresses, ["10.255.255.254"]);
    assert_eq!(refusal, Some(full()));
    assert!(n < PROBES_MAX, "{n} free-map probes for two allocations");
}

#[test]
fn octets_and_ranges_leaving_one_address_of_the_ipv4_space_give_it_then_full() {
    let all_but_seven: Vec<u8> = (0..=255).filter(|o| *o != 7).collect();
    let ranges = [(0, (1u64 << 32) - 256)];
    let (mut scenario, block) = block_with_policy("0.0.0.0/0", &all_but_seven, &ranges);
    let ((addresses, refusal), n) = probes(|| scenario.allocate_until_refused(T1, block, 3));
    assert_eq!(addresses, ["255.255.255.7"]);
    assert_eq!(refusal, Some(full()));
    assert!(n < PROBES_MAX, "{n} free-map probes for two allocations");
}

#[test]
fn rules_added_and_removed_after_the_block_exists_apply_at_once() {
    // Melange read the policy at allocation time: rules changed later apply to old blocks.
    let (mut scenario, block) = block_with_policy("0.0.0.0/0", &[], &[]);
    let (first, _) = scenario.allocate_until_refused(T1, block, 1);
    assert_eq!(first, ["0.0.0.2"]);
    scenario = scenario.and(
        &all_octets()
            .iter()
            .map(|o| unusable_octet(T1, id(1), *o))
            .collect::<Vec<_>>(),
    );
    let (then, n) = probes(|| scenario.when(allocate(T1, block)));
    then.then_rejected(full());
    assert!(n < PROBES_MAX, "{n} free-map probes for one allocation");
    // Ids: policy 1, block 2, the first address 3, then octet rule `o` is 4 + o.
    let rule_for_nine = id(4 + 9);
    scenario = scenario.and(&[crate::command::Command::DeleteUnusableOctet {
        tenant: T1.into(),
        policy_id: id(1),
        octet_id: rule_for_nine,
    }]);
    let (next, _) = scenario.allocate_until_refused(T1, block, 1);
    assert_eq!(next, ["0.0.0.9"]);
}

#[test]
fn the_next_allocation_in_a_nearly_full_octet_policy_block_costs_no_walk() {
    // Octet 7 alone allowed in a /10 (16,384 rows of 256), the .7 of every row but the last
    // taken, every other address free: the search used to pass the rows one at a time
    // (next allowed, then next free lands on the refused .8: ~32,768 probes), so the k-th
    // allocation cost ~k probes. The free map's octet columns answer in one probe per
    // allowed octet value.
    let all_but_seven: Vec<u8> = (0..=255).filter(|o| *o != 7).collect();
    let (scenario, block) = block_with_policy("10.0.0.0/10", &all_but_seven, &[]);
    let taken: Vec<_> = (0..(1u32 << 14) - 1)
        .map(|r| allocate_at(T1, block, &format!("10.{}.{}.7", r >> 8, r & 255)))
        .collect();
    let scenario = scenario.and(&taken);
    let (then, n) = probes(|| scenario.when(allocate(T1, block)));
    then.then_allocated("10.63.255.7");
    assert!(n < PROBES_MAX, "{n} free-map probes for one allocation");
}
