//! Instance interfaces (melange-semantics.md §4 "Instance interfaces"): a PUT first deletes
//! every interface of the device (addresses soft-deallocated, MACs freed at once), then
//! creates one interface per entry, with MACs from the ranges and addresses from networks;
//! one refused entry refuses the whole PUT. DELETE removes all of a device's interfaces.

use ipledger_domain::events::*;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::Command;
use crate::command_interfaces::InterfaceSpec;

/// T1's net1 (block id(1), 10.0.0.0/24) and net2 (block id(2), 10.0.1.0/24), and MAC range
/// id(3) of four MACs from 02:00:00:00:00:00.
fn world() -> Scenario {
    given(&[
        net_block(T1, "10.0.0.0/24", "net1"),
        net_block(T1, "10.0.1.0/24", "net2"),
        mac_range("02:00:00:00:00:00/46"),
    ])
}

/// One entry of the PUT body for lessee T2 (the API copies the instance's tenant in).
fn entry(vif: Option<&str>, net: Option<&str>) -> InterfaceSpec {
    InterfaceSpec {
        vif: vif.map(str::to_string),
        tenant_id: some(T2),
        network: net.map(|n| network(T1, n)),
        ..Default::default()
    }
}

fn put(device: &str, interfaces: Vec<InterfaceSpec>) -> Command {
    Command::ReplaceDeviceInterfaces {
        device: device.into(),
        interfaces,
    }
}

/// The address event of an interface of vm-1 with a range MAC.
fn address(block: u128, n: u128, at: &str, vif: &str, mac: &str) -> Event {
    Event::AddressAllocated(AddressAllocated {
        used_by_device: some("vm-1"),
        mac_address: some(mac),
        ..on_nic(id(block), n, at, vif, T2)
    })
}

const MAC0: &str = "02:00:00:00:00:00";
const MAC1: &str = "02:00:00:00:00:01";
const MAC2: &str = "02:00:00:00:00:02";

/// vm-1 with vif-a on net1 (interface id(4), MAC0, 10.0.0.2 id(5)) and vif-b on net2
/// (interface id(6), MAC1, 10.0.1.2 id(7)).
fn vm1() -> Scenario {
    world().and(&[put(
        "vm-1",
        vec![
            entry(Some("vif-a"), Some("net1")),
            entry(Some("vif-b"), Some("net2")),
        ],
    )])
}

/// What deleting `vm1()`'s interfaces emits.
fn vm1_deleted() -> Vec<Event> {
    vec![
        deallocated(id(1), "10.0.0.2"),
        mac_released(MAC0, "vif-a"),
        interface_deleted(4, "vif-a"),
        deallocated(id(2), "10.0.1.2"),
        mac_released(MAC1, "vif-b"),
        interface_deleted(6, "vif-b"),
    ]
}

#[test]
fn a_put_creates_one_interface_per_entry_on_the_device() {
    let then = world().when(put(
        "vm-1",
        vec![
            entry(Some("vif-a"), Some("net1")),
            entry(None, Some("net2")),
        ],
    ));
    let unnamed = id(6).to_string();
    then.then_events(&[
        interface_created(4, "vif-a", T2, Some("vm-1")),
        mac_allocated(MAC0, "vif-a", Some(id(3))),
        address(1, 5, "10.0.0.2", "vif-a", MAC0),
        interface_created(6, &unnamed, T2, Some("vm-1")),
        mac_allocated(MAC1, &unnamed, Some(id(3))),
        address(2, 7, "10.0.1.2", &unnamed, MAC1),
    ]);
    let Reply::Interfaces(views) = &then.decision().reply else {
        panic!("an interfaces reply: {:?}", then.decision().reply);
    };
    let summary: Vec<(String, Option<u64>, Vec<String>)> = views
        .iter()
        .map(|v| {
            let addresses = v
                .ip_addresses
                .iter()
                .map(|c| c.address.address.to_string())
                .collect();
            (v.interface.vif.clone(), v.interface.mac_address, addresses)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "vif-a".to_string(),
                Some(mac(MAC0)),
                vec!["10.0.0.2".to_string()]
            ),
            (unnamed, Some(mac(MAC1)), vec!["10.0.1.2".to_string()]),
        ]
    );
}

#[test]
fn the_device_of_the_path_wins_over_an_entrys_own() {
    let mut spec = entry(Some("vif-a"), None);
    spec.device_id = some("vm-elsewhere");
    world().when(put("vm-1", vec![spec])).then_events(&[
        interface_created(4, "vif-a", T2, Some("vm-1")),
        mac_allocated(MAC0, "vif-a", Some(id(3))),
    ]);
}

#[test]
fn a_re_put_deletes_the_old_interfaces_first_and_gets_new_addresses() {
    // The old addresses are soft-deallocated, so still occupied; the MACs are free at once,
    // so the new interfaces take the same ones again, lowest first.
    let then = vm1().when(put(
        "vm-1",
        vec![
            entry(Some("vif-c"), Some("net1")),
            entry(Some("vif-d"), Some("net2")),
        ],
    ));
    let mut expected = vm1_deleted();
    expected.extend([
        interface_created(8, "vif-c", T2, Some("vm-1")),
        mac_allocated(MAC0, "vif-c", Some(id(3))),
        address(1, 9, "10.0.0.3", "vif-c", MAC0),
        interface_created(10, "vif-d", T2, Some("vm-1")),
        mac_allocated(MAC1, "vif-d", Some(id(3))),
        address(2, 11, "10.0.1.3", "vif-d", MAC1),
    ]);
    then.then_events(&expected);
    let state = then.then_state();
    let vifs: Vec<&str> = state
        .device_interfaces("vm-1")
        .iter()
        .map(|i| i.record.vif.as_str())
        .collect();
    assert_eq!(vifs, ["vif-c", "vif-d"]);
}

#[test]
fn a_re_put_may_reuse_the_vifs_of_the_interfaces_it_replaces() {
    let then = vm1().when(put(
        "vm-1",
        vec![
            entry(Some("vif-b"), Some("net1")),
            entry(Some("vif-a"), None),
        ],
    ));
    let mut expected = vm1_deleted();
    expected.extend([
        interface_created(8, "vif-b", T2, Some("vm-1")),
        mac_allocated(MAC0, "vif-b", Some(id(3))),
        address(1, 9, "10.0.0.3", "vif-b", MAC0),
        interface_created(10, "vif-a", T2, Some("vm-1")),
        mac_allocated(MAC1, "vif-a", Some(id(3))),
    ]);
    then.then_events(&expected);
    let state = then.then_state();
    let a = state.interface("vif-a").unwrap();
    assert!(
        state.interface_addresses("vif-a").is_empty(),
        "the new vif-a starts without the old one's address"
    );
    assert_eq!(a.record.mac_address, Some(mac(MAC1)));
}

#[test]
fn a_put_with_no_entries_deletes_every_interface_of_the_device_and_no_other() {
    let scenario = vm1().and(&[create_interface(InterfaceSpec {
        device_id: some("vm-2"),
        ..nic("vif-other", T2)
    })]);
    let then = scenario.when(put("vm-1", Vec::new()));
    then.then_events(&vm1_deleted());
    assert_eq!(then.decision().reply, Reply::Interfaces(Vec::new()));
    let state = then.then_state();
    assert_eq!(state.device_interfaces("vm-2").len(), 1);
    assert_eq!(
        state.interface("vif-other").unwrap().record.mac_address,
        Some(mac(MAC2))
    );
}

#[test]
fn a_vif_held_elsewhere_or_named_twice_is_a_conflict() {
    let scenario = vm1().and(&[create_interface(nic("vif-loose", T1))]);
    let taken = |vif: &str| Rejection::Conflict(format!("Virtual Interface {vif} already exists"));
    scenario
        .when(put("vm-2", vec![entry(Some("vif-loose"), None)]))
        .then_rejected(taken("vif-loose"));
    scenario
        .when(put("vm-2", vec![entry(Some("vif-a"), None)]))
        .then_rejected(taken("vif-a"));
    scenario
        .when(put(
            "vm-2",
            vec![entry(Some("vif-x"), None), entry(Some("vif-x"), None)],
        ))
        .then_rejected(taken("vif-x"));
}

fn with_mac(spec: InterfaceSpec, text: &str) -> InterfaceSpec {
    InterfaceSpec {
        mac_address: some(text),
        ..spec
    }
}

#[test]
fn a_put_may_give_the_mac_of_an_interface_it_replaces() {
    let then = vm1().when(put(
        "vm-1",
        vec![with_mac(entry(Some("vif-c"), None), "02-00-00-00-00-01")],
    ));
    let mut expected = vm1_deleted();
    expected.extend([
        interface_created(8, "vif-c", T2, Some("vm-1")),
        mac_allocated(MAC1, "vif-c", None),
    ]);
    then.then_events(&expected);
}

#[test]
fn one_mac_is_never_given_to_two_interfaces_of_a_put() {
    // Guards the plan's registry of MACs: a MAC taken by one entry is in use for the next.
    let conflict =
        |mac: &str| Rejection::Conflict(format!("MacAddress {mac} is already allocated"));
    let twice = vec![
        with_mac(entry(Some("vif-c"), None), "0a:00:00:00:00:01"),
        with_mac(entry(Some("vif-d"), None), "0A:00:00:00:00:01"),
    ];
    vm1()
        .when(put("vm-2", twice))
        .then_rejected(conflict("0A:00:00:00:00:01"));
    vm1()
        .when(put(
            "vm-2",
            vec![with_mac(entry(Some("vif-c"), None), MAC0)],
        ))
        .then_rejected(conflict(MAC0));
    // A range MAC is not handed to the entry after the one that named it.
    world()
        .when(put(
            "vm-1",
            vec![
                with_mac(entry(Some("vif-a"), None), MAC0),
                entry(Some("vif-b"), None),
            ],
        ))
        .then_events(&[
            interface_created(4, "vif-a", T2, Some("vm-1")),
            mac_allocated(MAC0, "vif-a", None),
            interface_created(5, "vif-b", T2, Some("vm-1")),
            mac_allocated(MAC1, "vif-b", Some(id(3))),
        ]);
}

#[test]
fn a_put_is_all_or_nothing() {
    // vm-2 holds the only allocatable address of the /30 (.2) and the first of two MACs.
    let scenario = given(&[
        net_block(T1, "10.2.0.0/30", "tiny"),
        mac_range("02:00:00:00:00:00/47"),
        put("vm-2", vec![entry(Some("vif-t"), Some("tiny"))]),
    ]);
    let cases: Vec<(Vec<InterfaceSpec>, Rejection)> = vec![
        // The replaced interface's .2 is soft-deallocated, so the /30 has no room left.
        (
            vec![entry(Some("vif-1"), Some("tiny"))],
            Rejection::Unprocessable("ip blocks in this network are full".into()),
        ),
        (
            vec![entry(None, None), entry(None, None), entry(None, None)],
            Rejection::Unprocessable("No more mac Addresses".into()),
        ),
        (
            vec![entry(None, None), entry(None, Some("no-such-net"))],
            Rejection::NotFound("Network no-such-net not found".into()),
        ),
        (
            vec![entry(None, None), InterfaceSpec::default()],
            invalid(&[("tenant_id", &["tenant_id should be present"])]),
        ),
        (
            vec![entry(None, None), with_mac(entry(None, None), "zz")],
            invalid(&[("mac_address", &["mac_address is invalid"])]),
        ),
        (
            vec![InterfaceSpec {
                network: Some(crate::command_interfaces::NetworkRequest {
                    addresses: vec![ip("10.2.0.2")],
                    ..network(T1, "tiny")
                }),
                ..entry(None, None)
            }],
            Rejection::Conflict("Address is already allocated".into()),
        ),
    ];
    for (entries, rejection) in cases {
        scenario.when(put("vm-2", entries)).then_rejected(rejection);
    }
    scenario.when(put("vm-2", Vec::new())).then_events(&[
        deallocated(id(1), "10.2.0.2"),
        mac_released(MAC0, "vif-t"),
        interface_deleted(3, "vif-t"),
    ]);
}

#[test]
fn deleting_a_devices_interfaces_deletes_them_all_and_none_is_not_an_error() {
    let scenario = vm1().and(&[create_interface(InterfaceSpec {
        device_id: some("vm-2"),
        ..nic("vif-other", T2)
    })]);
    let delete_all = |device: &str| Command::DeleteDeviceInterfaces {
        device: device.into(),
    };
    let then = scenario.when(delete_all("vm-1"));
    then.then_events(&vm1_deleted());
    assert_eq!(then.decision().reply, Reply::Done);
    assert_eq!(then.then_state().device_interfaces("vm-2").len(), 1);
    scenario.when(delete_all("vm-none")).then_no_events();
}
