//! Address allocation, deallocation and restore (melange-semantics.md §2–3 with decisions
//! 7–10 and 13).

use ipledger_domain::events::*;
use ipledger_domain::records::{AddressRecord, Reply};
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::{AllocateAddress, Command, CreateBlock};

fn full() -> Rejection {
    Rejection::Unprocessable("IpBlock is full".into())
}

fn taken() -> Rejection {
    Rejection::Conflict("Address is already allocated".into())
}

fn not_in_block() -> Rejection {
    Rejection::Unprocessable("Address does not belong to IpBlock".into())
}

fn refused_by_policy() -> Rejection {
    Rejection::Unprocessable("Block policy does not allow this address".into())
}

/// Every address automatic allocation hands out from a fresh block, in order, and the
/// rejection that ends the sequence.
fn auto_order(mut scenario: Scenario, block: uuid::Uuid) -> (Vec<String>, Option<Rejection>) {
    scenario.allocate_until_refused(T1, block, 300)
}

fn strings(addresses: &[&str]) -> Vec<String> {
    addresses.iter().map(|a| a.to_string()).collect()
}

// Automatic allocation order (decision 7).

#[test]
fn a_29_hands_out_2_to_6_then_is_full() {
    // melange-semantics.md §2's spec-era example with the default gateway (.1), without the
    // network address (decision 7).
    let block = id(1);
    let (order, end) = auto_order(given(&[create(private(T1, "10.0.0.0/29"))]), block);
    assert_eq!(
        order,
        strings(&["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
    );
    assert_eq!(end, Some(full()));
}

#[test]
fn small_ipv4_blocks() {
    let cases: [(&str, &[&str]); 3] = [
        ("10.0.0.0/30", &["10.0.0.2"]),
        ("10.0.0.0/31", &["10.0.0.0"]),
        ("10.0.0.0/32", &[]),
    ];
    for (cidr, expected) in cases {
        let (order, end) = auto_order(given(&[create(private(T1, cidr))]), id(1));
        assert_eq!(order, strings(expected), "{cidr}");
        assert_eq!(end, Some(full()), "{cidr}");
    }
}

#[test]
fn a_gateway_elsewhere_in_the_block_is_skipped_instead_of_the_second_address() {
    let block = CreateBlock {
        gateway: some("10.0.0.6"),
        ..private(T1, "10.0.0.0/29")
    };
    let (order, _) = auto_order(given(&[create(block)]), id(1));
    assert_eq!(
        order,
        strings(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"])
    );
}

#[test]
fn ipv6_allocation_takes_the_lowest_free_address() {
    // Decision 7 keeps only the IPv4 network address back; the gateway (fe::1) and the last
    // address are never handed out.
    let (order, end) = auto_order(given(&[create(private(T1, "fe::/125"))]), id(1));
    assert_eq!(
        order,
        strings(&["fe::", "fe::2", "fe::3", "fe::4", "fe::5", "fe::6"])
    );
    assert_eq!(end, Some(full()));
}

#[test]
fn the_network_address_may_be_requested_explicitly() {
    let block = id(1);
    given(&[create(private(T1, "10.0.0.0/24"))])
        .when(allocate_at(T1, block, "10.0.0.0"))
        .then_allocated("10.0.0.0");
}

// A specific address: the checks in Melange's order and their status codes (decision 10).

#[test]
fn a_specific_address_is_allocated_with_the_block_owner_as_lessee() {
    let block = id(1);
    let then =
        given(&[create(private(T1, "10.0.0.0/24"))]).when(allocate_at(T1, block, "10.0.0.77"));
    let expected = AddressAllocated {
        block_id: block,
        address_id: id(2),
        address: ip("10.0.0.77"),
        interface_id: None,
        used_by_tenant: T1.into(),
        used_by_device: None,
        mac_address: None,
        allocated_at: now(),
    };
    then.then_events(&[Event::AddressAllocated(expected)]);
    let record = AddressRecord {
        id: id(2),
        block_id: block,
        address: ip("10.0.0.77"),
        interface_id: None,
        used_by_tenant: T1.into(),
        used_by_device: None,
        mac_address: None,
        created_at: now(),
        updated_at: now(),
        deallocated_at: None,
    };
    assert_eq!(then.decision().reply, Reply::Address(record));
}

#[test]
fn the_lessee_device_interface_and_mac_are_recorded() {
    let block = id(1);
    let command = AllocateAddress {
        used_by_tenant: some(T2),
        used_by_device: some("vm-1"),
        interface_id: some("vif-1"),
        mac_address: some("00:FF:12:89:67:34"),
        ..allocation(T1, block)
    };
    let then = given(&[create(private(T1, "10.0.0.0/24"))]).when(Command::AllocateAddress(command));
    // The interface is created on demand in the same decision (Melange's find_or_configure),
    // holding the given MAC, and the address is linked to it.
    let [Event::InterfaceCreated(i), Event::MacAddressAllocated(m), Event::AddressAllocated(e)] =
        then.events()
    else {
        panic!("expected interface, MAC and address: {:?}", then.events());
    };
    assert_eq!((i.vif.as_str(), i.tenant_id.as_str()), ("vif-1", T2));
    assert_eq!((m.mac, m.range_id), (0x00FF_1289_6734, None));
    assert_eq!(e.address, ip("10.0.0.2"));
    assert_eq!(e.used_by_tenant, T2);
    assert_eq!(e.used_by_device.as_deref(), Some("vm-1"));
    assert_eq!(e.interface_id.as_deref(), Some("vif-1"));
    assert_eq!(e.mac_address.as_deref(), Some("00:FF:12:89:67:34"));
}

#[test]
fn an_address_outside_the_block_does_not_belong_to_it() {
    let block = id(1);
    let scenario = given(&[create(private(T1, "10.0.0.0/29"))]);
    scenario
        .when(allocate_at(T1, block, "10.0.0.8"))
        .then_rejected(not_in_block());
    scenario
        .when(allocate_at(T1, block, "fe::1"))
        .then_rejected(not_in_block());
}

#[test]
fn the_gateway_broadcast_and_taken_addresses_are_already_allocated() {
    let block = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/29")),
        allocate_at(T1, block, "10.0.0.3"),
    ]);
    scenario
        .when(allocate_at(T1, block, "10.0.0.1"))
        .then_rejected(taken());
    scenario
        .when(allocate_at(T1, block, "10.0.0.7"))
        .then_rejected(taken());
    scenario
        .when(allocate_at(T1, block, "10.0.0.3"))
        .then_rejected(taken());
}

#[test]
fn the_only_address_of_a_32_is_its_broadcast() {
    given(&[create(private(T1, "10.0.0.9/32"))])
        .when(allocate_at(T1, id(1), "10.0.0.9"))
        .then_rejected(taken());
}

#[test]
fn a_taken_address_is_reported_before_a_policy_refusal() {
    let (block, policy) = (id(1), id(3));
    given(&[
        create(private(T1, "10.0.0.0/29")),
        allocate_at(T1, block, "10.0.0.5"),
        create_policy(T1, "later"),
        unusable_octet(T1, policy, 5),
        attach_policy(T1, block, policy),
    ])
    .when(allocate_at(T1, block, "10.0.0.5"))
    .then_rejected(taken());
}

#[test]
fn a_policy_refuses_specific_addresses() {
    let (policy, block) = (id(1), id(4));
    let scenario = given(&[
        create_policy(T1, "p"),
        unusable_range(T1, policy, -2, 5),
        unusable_octet(T1, policy, 3),
        create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "10.0.0.0/29")
        }),
    ]);
    scenario
        .when(allocate_at(T1, block, "10.0.0.6"))
        .then_rejected(refused_by_policy());
    scenario
        .when(allocate_at(T1, block, "10.0.0.3"))
        .then_rejected(refused_by_policy());
    // The broadcast is refused as taken before the policy is asked.
    scenario
        .when(allocate_at(T1, block, "10.0.0.7"))
        .then_rejected(taken());
    scenario
        .when(allocate_at(T1, block, "10.0.0.9"))
        .then_rejected(not_in_block());
    scenario
        .when(allocate_at(T1, block, "10.0.0.4"))
        .then_allocated("10.0.0.4");
}

#[test]
fn a_subnetted_block_cannot_allocate() {
    let parent = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/24")),
        create(subnet(T1, parent, "10.0.0.0/28")),
    ]);
    let refused = Rejection::Unprocessable("Subnetted block cannot allocate IPAddress".into());
    scenario
        .when(allocate(T1, parent))
        .then_rejected(refused.clone());
    scenario
        .when(allocate_at(T1, parent, "10.0.0.200"))
        .then_rejected(refused);
    scenario
        .when(allocate(T1, id(2)))
        .then_allocated("10.0.0.2");
}

#[test]
fn an_unknown_block_is_not_found() {
    given(&[])
        .when(allocate(T1, id(7)))
        .then_rejected(Rejection::NotFound("IpBlock Not Found".into()));
}

// Policies during automatic allocation (decision 9).

#[test]
fn unusable_ranges_and_octets_shape_automatic_ipv4_allocation() {
    // (ranges as (offset, length), octets, what a /29 hands out)
    type Case = (
        &'static [(i64, u64)],
        &'static [u8],
        &'static [&'static str],
    );
    let cases: [Case; 4] = [
        (&[(3, 2)], &[], &["10.0.0.2", "10.0.0.5", "10.0.0.6"]),
        (&[(-3, 2)], &[], &["10.0.0.2", "10.0.0.3", "10.0.0.4"]),
        (&[(-3, 3)], &[2], &["10.0.0.3", "10.0.0.4"]),
        (
            &[(10, 5)],
            &[],
            &["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"],
        ),
    ];
    for (ranges, octets, expected) in cases {
        let policy = id(1);
        let mut commands = vec![create_policy(T1, "p")];
        commands.extend(
            ranges
                .iter()
                .map(|(o, l)| unusable_range(T1, policy, *o, *l)),
        );
        commands.extend(octets.iter().map(|o| unusable_octet(T1, policy, *o)));
        let block = id(commands.len() as u128 + 1);
        commands.push(create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "10.0.0.0/29")
        }));
        let (order, end) = auto_order(given(&commands), block);
        assert_eq!(
            order,
            strings(expected),
            "ranges {ranges:?} octets {octets:?}"
        );
        assert_eq!(end, Some(full()));
    }
}

#[test]
fn octet_rules_apply_to_the_last_octet_across_a_larger_block() {
    let (policy, block) = (id(1), id(5));
    let mut scenario = given(&[
        create_policy(T1, "p"),
        unusable_range(T1, policy, 2, 252),
        unusable_octet(T1, policy, 255),
        unusable_octet(T1, policy, 0),
        create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "10.0.0.0/23")
        }),
    ]);
    let (order, _) = scenario.allocate_until_refused(T1, block, 3);
    assert_eq!(order, strings(&["10.0.0.254", "10.0.1.1", "10.0.1.2"]));
}

#[test]
fn unusable_ranges_and_octets_shape_automatic_ipv6_allocation() {
    let (policy, block) = (id(1), id(5));
    let mut scenario = given(&[
        create_policy(T1, "p"),
        unusable_range(T1, policy, 0, 4),
        unusable_range(T1, policy, -4, 2),
        unusable_octet(T1, policy, 5),
        create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "fe::/120")
        }),
    ]);
    scenario
        .when(allocate_at(T1, block, "fe::fc"))
        .then_rejected(refused_by_policy());
    scenario
        .when(allocate_at(T1, block, "fe::fd"))
        .then_rejected(refused_by_policy());
    scenario
        .when(allocate_at(T1, block, "fe::5"))
        .then_rejected(refused_by_policy());
    scenario
        .when(allocate_at(T1, block, "fe::fe"))
        .then_allocated("fe::fe");
    let (order, _) = scenario.allocate_until_refused(T1, block, 3);
    assert_eq!(order, strings(&["fe::4", "fe::6", "fe::7"]));
}

#[test]
fn an_ipv6_octet_rule_compares_the_last_group() {
    let (policy, block) = (id(1), id(3));
    let scenario = given(&[
        create_policy(T1, "p"),
        unusable_octet(T1, policy, 0),
        create(CreateBlock {
            policy_id: Some(policy.to_string()),
            ..private(T1, "fe::/64")
        }),
    ]);
    scenario
        .when(allocate_at(T1, block, "fe::1:0"))
        .then_rejected(refused_by_policy());
    scenario
        .when(allocate_at(T1, block, "fe::1:100"))
        .then_allocated("fe::1:100");
    // The network address fe:: ends in group 0 too, and the gateway is fe::1.
    scenario.when(allocate(T1, block)).then_allocated("fe::2");
}

#[test]
fn a_policy_attached_later_applies_to_the_next_allocation() {
    let (block, policy) = (id(1), id(3));
    let scenario = given(&[
        create(private(T1, "10.0.0.0/29")),
        allocate(T1, block),
        create_policy(T1, "p"),
        unusable_range(T1, policy, 3, 2),
        attach_policy(T1, block, policy),
    ]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.5");
}

// Fullness is derived from state (decision 8).

#[test]
fn a_free_specific_address_is_allocated_even_when_automatic_allocation_is_full() {
    // Melange latched is_full and then refused every allocation, even of a free address.
    let block = id(1);
    let mut scenario = given(&[create(private(T1, "10.0.0.0/30"))]);
    let (order, end) = scenario.allocate_until_refused(T1, block, 10);
    assert_eq!((order, end), (strings(&["10.0.0.2"]), Some(full())));
    scenario
        .when(allocate_at(T1, block, "10.0.0.0"))
        .then_allocated("10.0.0.0");
}

#[test]
fn a_purged_address_is_allocatable_again() {
    let block = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/29")),
        allocate(T1, block),
        allocate(T1, block),
        allocate(T1, block),
        deallocate(T1, block, "10.0.0.3"),
    ]);
    // Soft-deallocated: still holding its place.
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.5");
    scenario
        .when(allocate_at(T1, block, "10.0.0.3"))
        .then_rejected(taken());
    let scenario = scenario.and_events(&[purged(block, "10.0.0.3")]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.3");
}

#[test]
fn a_full_block_allocates_again_once_an_address_is_purged() {
    let block = id(1);
    let mut scenario = given(&[
        create(private(T1, "10.0.0.0/30")),
        allocate(T1, block),
        deallocate(T1, block, "10.0.0.2"),
    ]);
    scenario.when(allocate(T1, block)).then_rejected(full());
    scenario = scenario.and_events(&[purged(block, "10.0.0.2")]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.2");
}

// Deallocation and restore (melange-semantics.md §3, decision 13).

#[test]
fn deallocation_is_soft() {
    let (block, address) = (id(1), id(2));
    let then = given(&[create(private(T1, "10.0.0.0/29")), allocate(T1, block)])
        .when(deallocate(T1, block, "10.0.0.2"));
    then.then_events(&[deallocated(block, "10.0.0.2")]);
    assert_eq!(then.decision().reply, Reply::Done);
    let state = then.then_state();
    let record = &state.address(address).expect("address");
    assert_eq!(record.deallocated_at, Some(now()));
    assert_eq!(record.used_by_tenant, T1);
    assert!(!state.is_live(address));
    assert_eq!(state.block(block).expect("block").live_allocations(), 0);
    assert_eq!(state.block(block).expect("block").by_offset.len(), 1);
}

#[test]
fn a_soft_deallocated_address_keeps_its_place() {
    let block = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/29")),
        allocate(T1, block),
        allocate(T1, block),
        deallocate(T1, block, "10.0.0.2"),
    ]);
    scenario
        .when(allocate(T1, block))
        .then_allocated("10.0.0.4");
    scenario
        .when(allocate_at(T1, block, "10.0.0.2"))
        .then_rejected(taken());
}

#[test]
fn deallocating_again_restarts_the_retention_clock() {
    let block = id(1);
    given(&[
        create(private(T1, "10.0.0.0/29")),
        allocate(T1, block),
        deallocate(T1, block, "10.0.0.2"),
    ])
    .when(deallocate(T1, block, "10.0.0.2"))
    .then_events(&[deallocated(block, "10.0.0.2")]);
}

#[test]
fn an_unknown_address_is_not_found() {
    let block = id(1);
    let scenario = given(&[create(private(T1, "10.0.0.0/29")), allocate(T1, block)]);
    let not_found = Rejection::NotFound("IpAddress Not Found".into());
    scenario
        .when(deallocate(T1, block, "10.0.0.3"))
        .then_rejected(not_found.clone());
    scenario
        .when(deallocate(T1, block, "10.9.9.9"))
        .then_rejected(not_found.clone());
    scenario
        .when(restore(T1, block, "10.0.0.3"))
        .then_rejected(not_found.clone());
    let purged_scenario = scenario
        .and(&[deallocate(T1, block, "10.0.0.2")])
        .and_events(&[purged(block, "10.0.0.2")]);
    purged_scenario
        .when(restore(T1, block, "10.0.0.2"))
        .then_rejected(not_found);
}

#[test]
fn addresses_of_another_tenants_block_are_not_found() {
    let block = id(1);
    let scenario = given(&[create(private(T1, "10.0.0.0/29")), allocate(T1, block)]);
    let not_found = Rejection::NotFound("IpBlock Not Found".into());
    scenario
        .when(deallocate(T2, block, "10.0.0.2"))
        .then_rejected(not_found.clone());
    scenario
        .when(restore(T2, block, "10.0.0.2"))
        .then_rejected(not_found);
}

#[test]
fn restore_brings_a_deallocated_address_back_live() {
    let (block, address) = (id(1), id(2));
    let scenario = given(&[
        create(private(T1, "10.0.0.0/29")),
        allocate(T1, block),
        deallocate(T1, block, "10.0.0.2"),
    ]);
    let then = scenario.when(restore(T1, block, "10.0.0.2"));
    then.then_events(&[restored(block, "10.0.0.2")]);
    let state = then.then_state();
    assert_eq!(
        state.address(address).expect("address").deallocated_at,
        None
    );
    assert!(state.is_live(address));
    assert!(state.is_leased_to(T1, address));
    assert_eq!(state.block(block).expect("block").live_allocations(), 1);
    // Live again, so the block can no longer be deleted.
    let scenario = scenario.and(&[restore(T1, block, "10.0.0.2")]);
    scenario
        .when(delete_block(T1, block))
        .then_rejected(Rejection::Conflict(
            "IpBlock has 1 allocated address(es); deallocate them first".into(),
        ));
}

#[test]
fn restoring_a_live_address_changes_nothing() {
    let block = id(1);
    given(&[create(private(T1, "10.0.0.0/29")), allocate(T1, block)])
        .when(restore(T1, block, "10.0.0.2"))
        .then_no_events();
}
