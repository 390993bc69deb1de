//! MAC address ranges and MAC allocation (decision 16, melange-semantics.md §4 and §8
//! scenarios 14–15): ranges validated and normalised on create, overlapping ranges accepted;
//! MACs from the ranges in creation order, lowest free first, until every range is exhausted
//! (422); a released MAC free again at once; one registry of MACs in use across ranges and
//! given MACs; deleting a range leaves its MACs with their interfaces.

use ipledger_domain::events::*;
use ipledger_domain::interfaces::MacRangeRecord;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};
use uuid::Uuid;

use super::given::*;
use crate::command::Command;
use crate::command_interfaces::{InterfaceSpec, NetworkAllocation};

fn range_created(n: u128, first: u64, prefix_len: u8, tenant: Option<&str>) -> Event {
    Event::MacRangeCreated(MacRangeCreated {
        range_id: id(n),
        first,
        prefix_len,
        tenant_id: tenant.map(str::to_string),
        created_at: now(),
    })
}

fn delete_range(n: u128) -> Command {
    Command::DeleteMacRange { range_id: id(n) }
}

fn exhausted() -> Rejection {
    Rejection::Unprocessable("No more mac Addresses".into())
}

fn given_mac(vif: &str, text: &str) -> Command {
    create_interface(InterfaceSpec {
        mac_address: some(text),
        ..nic(vif, T1)
    })
}

/// Creates interfaces `{prefix}-0`, `{prefix}-1`, ... of T1 until one is refused: the MAC
/// each took with its range, and the refusal that ended it. Stops after `max`.
fn macs_until_refused(
    scenario: &mut Scenario,
    prefix: &str,
    max: usize,
) -> (Vec<(String, Option<Uuid>)>, Option<Rejection>) {
    let mut out = Vec::new();
    while out.len() < max {
        let vif = format!("{prefix}-{}", out.len());
        match scenario.run(&create_interface(nic(&vif, T1))) {
            Ok(decision) => match &decision.events[..] {
                [Event::InterfaceCreated(_), Event::MacAddressAllocated(m)] => {
                    out.push((ipledger_domain::mac::format_mac(m.mac), m.range_id));
                }
                other => panic!("an interface gave {other:?}"),
            },
            Err(rejection) => return (out, Some(rejection)),
        }
    }
    (out, None)
}

fn taken_from(pairs: &[(&str, u128)]) -> Vec<(String, Option<Uuid>)> {
    pairs
        .iter()
        .map(|(m, r)| (m.to_string(), Some(id(*r))))
        .collect()
}

// Ranges.

#[test]
fn a_range_is_created_from_its_first_mac_with_its_prefix() {
    let then = given(&[]).when(mac_range("ab-bc-cd-12-23-34/40"));
    then.then_events(&[range_created(1, 0xAB_BC_CD_12_23_00, 40, None)]);
    let record = MacRangeRecord {
        id: id(1),
        first: 0xAB_BC_CD_12_23_00,
        prefix_len: 40,
        tenant_id: None,
        created_at: now(),
        updated_at: now(),
    };
    assert_eq!(then.decision().reply, Reply::MacRange(record));
}

#[test]
fn ranges_are_normalised_in_every_spelling() {
    let cases = [
        ("BC:76:4E:20:00:00/27", 0xBC_76_4E_20_00_00, 27),
        ("bc:76:4e:3f:ff:ff/27", 0xBC_76_4E_20_00_00, 27),
        ("ab-bc-cd-12-23-34/2", 0x80_00_00_00_00_00, 2),
        ("bc764e200001", 0xBC_76_4E_20_00_01, 48),
        (" 02:00:00:00:00:07/0 ", 0, 0),
        ("FF:FF:FF:FF:FF:FF/48", 0xFF_FF_FF_FF_FF_FF, 48),
    ];
    for (cidr, first, prefix_len) in cases {
        given(&[])
            .when(mac_range(cidr))
            .then_events(&[range_created(1, first, prefix_len, None)]);
    }
}

#[test]
fn a_ranges_tenant_id_is_kept_and_a_blank_one_dropped() {
    let with = |tenant: &str| Command::CreateMacRange {
        cidr: some("BC:76:4E:20:00:00/27"),
        tenant_id: some(tenant),
    };
    given(&[]).when(with(" t-15 ")).then_events(&[range_created(
        1,
        0xBC_76_4E_20_00_00,
        27,
        Some("t-15"),
    )]);
    given(&[])
        .when(with("  "))
        .then_events(&[range_created(1, 0xBC_76_4E_20_00_00, 27, None)]);
}

#[test]
fn a_bad_cidr_is_invalid() {
    let bad = [
        None,
        some(""),
        some("zz:zz/4"),
        some("ab-bc-cd-12-23-34/49"),
        some("ab-bc-cd-12-23-34/"),
        some("ab-bc-cd-12-23-34/-1"),
        some("ab-bc-cd-12-23-34/x"),
        some("10.0.0.0/24"),
        some("ab:bc:cd:12:23/40"),
    ];
    for cidr in bad {
        given(&[])
            .when(Command::CreateMacRange {
                cidr,
                tenant_id: None,
            })
            .then_rejected(invalid(&[("cidr", &["cidr is invalid"])]));
    }
}

#[test]
fn overlapping_ranges_are_accepted() {
    // Scenario 14 of python-melangeclient creates two overlapping /2 ranges and expects both.
    given(&[mac_range("ab-bc-cd-12-23-34/2")])
        .when(mac_range("bc-ab-dc-12-23-34/2"))
        .then_events(&[range_created(2, 0x80_00_00_00_00_00, 2, None)]);
    given(&[mac_range("02:00:00:00:00:00/46")])
        .when(mac_range("02:00:00:00:00:02/47"))
        .then_events(&[range_created(2, 0x02_00_00_00_00_02, 47, None)]);
}

#[test]
fn deleting_a_range() {
    let scenario = given(&[mac_range("02:00:00:00:00:00/46")]);
    let then = scenario.when(delete_range(1));
    then.then_events(&[Event::MacRangeDeleted(MacRangeDeleted {
        range_id: id(1),
        deleted_at: now(),
    })]);
    assert_eq!(then.decision().reply, Reply::Done);
    let not_found = Rejection::NotFound("MacAddressRange Not Found".into());
    scenario
        .when(delete_range(2))
        .then_rejected(not_found.clone());
    scenario
        .and(&[delete_range(1)])
        .when(delete_range(1))
        .then_rejected(not_found);
}

// Allocation.

#[test]
fn macs_come_lowest_first_then_from_the_next_range_in_creation_order_until_exhausted() {
    let mut scenario = given(&[
        mac_range("bc-76-4e-20-00-00/47"),
        mac_range("BC:76:4E:30:00:00/48"),
    ]);
    let (macs, refusal) = macs_until_refused(&mut scenario, "vif", 10);
    assert_eq!(
        macs,
        taken_from(&[
            ("BC:76:4E:20:00:00", 1),
            ("BC:76:4E:20:00:01", 1),
            ("BC:76:4E:30:00:00", 2),
        ])
    );
    assert_eq!(refusal, Some(exhausted()));
}

#[test]
fn an_older_range_is_used_first_even_when_it_is_higher() {
    let mut scenario = given(&[
        mac_range("0a:00:00:00:00:00/48"),
        mac_range("02:00:00:00:00:00/48"),
    ]);
    let (macs, refusal) = macs_until_refused(&mut scenario, "vif", 10);
    assert_eq!(
        macs,
        taken_from(&[("0A:00:00:00:00:00", 1), ("02:00:00:00:00:00", 2)])
    );
    assert_eq!(refusal, Some(exhausted()));
}

#[test]
fn the_last_unicast_macs_of_the_space_are_handed_out_once() {
    let mut scenario = given(&[mac_range("FE:FF:FF:FF:FF:FE/47")]);
    let (macs, refusal) = macs_until_refused(&mut scenario, "vif", 10);
    assert_eq!(
        macs,
        taken_from(&[("FE:FF:FF:FF:FF:FE", 1), ("FE:FF:FF:FF:FF:FF", 1)])
    );
    assert_eq!(refusal, Some(exhausted()));
}

#[test]
fn broadcast_multicast_and_all_zero_macs_are_never_handed_out() {
    // A range holding the broadcast MAC used to give FF:FF:FF:FF:FF:FF to an interface, and
    // a multicast or all-zero MAC likewise (issue 8, defect 8): a NIC can carry none of them.
    let mut scenario = given(&[
        mac_range("FF:FF:FF:FF:FF:FE/47"),
        mac_range("ab-bc-cd-12-23-34/40"),
        mac_range("01:00:00:00:00:00/7"),
    ]);
    let (macs, _) = macs_until_refused(&mut scenario, "vif", 2);
    // The first two ranges are all group MACs; the third (00:00:00:00:00:00/7) skips zero.
    assert_eq!(
        macs,
        taken_from(&[("00:00:00:00:00:01", 3), ("00:00:00:00:00:02", 3)])
    );
    let mut scenario = given(&[
        mac_range("FF:FF:FF:FF:FF:FF/48"),
        mac_range("00:00:00:00:00:00/48"),
    ]);
    assert_eq!(
        macs_until_refused(&mut scenario, "vif", 10),
        (vec![], Some(exhausted()))
    );
}

#[test]
fn an_exhausted_range_refuses_the_whole_interface_on_every_path() {
    let scenario = given(&[
        mac_range("02:00:00:00:00:00/48"),
        net_block(T1, "10.0.0.0/24", "net-a"),
        create_interface(nic("vif-0", T1)),
    ]);
    let on_net = InterfaceSpec {
        network: Some(network(T1, "net-a")),
        ..nic("vif-1", T1)
    };
    scenario
        .when(create_interface(on_net))
        .then_rejected(exhausted());
    let on_demand = NetworkAllocation {
        vif: "vif-1".into(),
        network: network(T1, "net-a"),
        ..Default::default()
    };
    scenario
        .when(Command::AllocateFromNetwork(on_demand))
        .then_rejected(exhausted());
    let through_block = crate::command::AllocateAddress {
        interface_id: some("vif-1"),
        ..allocation(T1, id(2))
    };
    scenario
        .when(Command::AllocateAddress(through_block))
        .then_rejected(exhausted());
    // An address without an interface needs no MAC.
    assert_eq!(
        scenario
            .when(allocate(T1, id(2)))
            .then_allocated("10.0.0.2")
            .mac_address,
        None
    );
}

#[test]
fn a_released_mac_is_reused_at_once_lowest_first() {
    let mut scenario = given(&[mac_range("02:00:00:00:00:00/46")]);
    let (macs, _) = macs_until_refused(&mut scenario, "vif", 3);
    assert_eq!(macs.len(), 3);
    let mut scenario = scenario.and(&[delete_interface("vif-2"), delete_interface("vif-0")]);
    let (macs, refusal) = macs_until_refused(&mut scenario, "again", 10);
    assert_eq!(
        macs,
        taken_from(&[
            ("02:00:00:00:00:00", 1),
            ("02:00:00:00:00:02", 1),
            ("02:00:00:00:00:03", 1),
        ])
    );
    assert_eq!(refusal, Some(exhausted()));
}

#[test]
fn given_macs_are_skipped_by_the_ranges() {
    let mut scenario = given(&[
        given_mac("vif-g0", "02:00:00:00:00:00"),
        mac_range("02:00:00:00:00:00/46"),
        given_mac("vif-g2", "02-00-00-00-00-02"),
    ]);
    let (macs, refusal) = macs_until_refused(&mut scenario, "vif", 10);
    assert_eq!(
        macs,
        taken_from(&[("02:00:00:00:00:01", 2), ("02:00:00:00:00:03", 2)])
    );
    assert_eq!(refusal, Some(exhausted()));
}

#[test]
fn overlapping_ranges_never_hand_out_one_mac_twice() {
    // Guards the one registry of MACs: the /46 contains the older /47, whose two MACs it
    // must not give again once the /47 is exhausted.
    let mut scenario = given(&[
        mac_range("02:00:00:00:00:00/47"),
        mac_range("02:00:00:00:00:00/46"),
    ]);
    let (macs, refusal) = macs_until_refused(&mut scenario, "vif", 10);
    assert_eq!(
        macs,
        taken_from(&[
            ("02:00:00:00:00:00", 1),
            ("02:00:00:00:00:01", 1),
            ("02:00:00:00:00:02", 2),
            ("02:00:00:00:00:03", 2),
        ])
    );
    assert_eq!(refusal, Some(exhausted()));
}

#[test]
fn a_given_mac_need_not_lie_in_a_range_but_must_be_free() {
    let scenario = given(&[
        mac_range("02:00:00:00:00:00/46"),
        create_interface(nic("vif-r", T1)),
    ]);
    scenario
        .when(given_mac("vif-1", "0a:0b:0c:0d:0e:0f"))
        .then_events(&[
            interface_created(3, "vif-1", T1, None),
            mac_allocated("0A:0B:0C:0D:0E:0F", "vif-1", None),
        ]);
    scenario
        .when(given_mac("vif-1", "02:00:00:00:00:00"))
        .then_rejected(Rejection::Conflict(
            "MacAddress 02:00:00:00:00:00 is already allocated".into(),
        ));
    scenario
        .and(&[delete_interface("vif-r")])
        .when(given_mac("vif-1", "02:00:00:00:00:00"))
        .then_events(&[
            interface_created(3, "vif-1", T1, None),
            mac_allocated("02:00:00:00:00:00", "vif-1", None),
        ]);
}

#[test]
fn a_deleted_ranges_macs_stay_with_their_interfaces() {
    let scenario = given(&[
        mac_range("02:00:00:00:00:00/48"),
        create_interface(nic("vif-keep", T1)),
        delete_range(1),
    ]);
    let state = &scenario.state;
    assert_eq!(
        state.interface("vif-keep").unwrap().record.mac_address,
        Some(mac("02:00:00:00:00:00"))
    );
    assert!(state.mac_in_use(mac("02:00:00:00:00:00")));
    // No range left: MAC allocation is off.
    scenario
        .when(create_interface(nic("vif-after", T1)))
        .then_events(&[interface_created(3, "vif-after", T1, None)]);
    scenario
        .when(given_mac("vif-clash", "02:00:00:00:00:00"))
        .then_rejected(Rejection::Conflict(
            "MacAddress 02:00:00:00:00:00 is already allocated".into(),
        ));
    // Deleting the interface still gives its MAC back.
    scenario.when(delete_interface("vif-keep")).then_events(&[
        mac_released("02:00:00:00:00:00", "vif-keep"),
        interface_deleted(2, "vif-keep"),
    ]);
}

#[test]
fn deleting_one_range_moves_allocation_to_the_others() {
    let mut scenario = given(&[
        mac_range("02:00:00:00:00:00/46"),
        mac_range("0a:00:00:00:00:00/47"),
        create_interface(nic("vif-first", T1)),
        delete_range(1),
    ]);
    let (macs, refusal) = macs_until_refused(&mut scenario, "vif", 10);
    assert_eq!(
        macs,
        taken_from(&[("0A:00:00:00:00:00", 2), ("0A:00:00:00:00:01", 2)])
    );
    assert_eq!(refusal, Some(exhausted()));
}
