//! Allocation from a network onto an interface (melange-semantics.md §1 "Allocation from a
//! network", decisions 7, 8, 10–12): the owner's blocks with the network id in creation
//! order, at most one IPv4 and one IPv6 address, full blocks passed over, explicit addresses
//! all or nothing, the interface found or made on demand; and releasing an interface's
//! addresses, all of them or those in one network.

use ipledger_domain::events::*;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::{AllocateAddress, Command, CreateBlock};
use crate::command_interfaces::{
    InterfaceSpec, NetworkAllocation, NetworkRequest, ReleaseAddresses,
};
use crate::command_requests::SubmitRequest;

/// Onto `vif` from T1's network `net`, the next free addresses.
fn from(vif: &str, net: &str) -> NetworkAllocation {
    NetworkAllocation {
        vif: vif.into(),
        network: network(T1, net),
        ..Default::default()
    }
}

fn allocate_from(c: NetworkAllocation) -> Command {
    Command::AllocateFromNetwork(c)
}

/// Onto `vif` from T1's network `net`, exactly these addresses.
fn asking(vif: &str, net: &str, addresses: &[&str]) -> Command {
    let mut c = from(vif, net);
    c.network.addresses = addresses.iter().map(|a| ip(a)).collect();
    allocate_from(c)
}

/// The addresses of an ip-configurations reply.
fn replied(then: &Then) -> Vec<String> {
    match &then.decision().reply {
        Reply::IpConfigurations(configs) => configs
            .iter()
            .map(|c| c.address.address.to_string())
            .collect(),
        other => panic!("expected ip configurations, got {other:?}"),
    }
}

fn address(block: u128, n: u128, at: &str, vif: &str) -> Event {
    Event::AddressAllocated(on_nic(id(block), n, at, vif, T1))
}

fn full_network() -> Rejection {
    Rejection::Unprocessable("ip blocks in this network are full".into())
}

fn taken() -> Rejection {
    Rejection::Conflict("Address is already allocated".into())
}

fn with_generator(cidr: &str, net: &str, generator: &str) -> Command {
    create(CreateBlock {
        network_id: some(net),
        ipv6_generator: some(generator),
        ..private(T1, cidr)
    })
}

// Next free addresses.

#[test]
fn blocks_are_tried_in_creation_order_not_by_specificity_and_the_lessee_is_the_owner() {
    let then = given(&[
        net_block(T1, "10.0.0.0/16", "net-a"),
        net_block(T1, "10.1.0.0/28", "net-a"),
        net_block(T2, "10.2.0.0/24", "net-a"),
    ])
    .when(allocate_from(from("vif-1", "net-a")));
    then.then_events(&[
        interface_created(4, "vif-1", T1, None),
        address(1, 5, "10.0.0.2", "vif-1"),
    ]);
    assert_eq!(replied(&then), ["10.0.0.2"]);
}

#[test]
fn a_full_block_is_passed_over_and_a_full_network_refused() {
    // A /30 gives one address: the network address, the gateway and the broadcast are held
    // back (decision 7).
    let mut scenario = given(&[
        net_block(T1, "10.0.0.0/30", "net-a"),
        net_block(T1, "10.0.0.4/30", "net-a"),
        net_block(T1, "10.9.0.0/24", "net-b"),
    ])
    .and(&[allocate_from(from("vif-1", "net-a"))]);
    scenario
        .when(allocate_from(from("vif-2", "net-a")))
        .then_events(&[
            interface_created(6, "vif-2", T1, None),
            address(2, 7, "10.0.0.6", "vif-2"),
        ]);
    scenario
        .run(&allocate_from(from("vif-2", "net-a")))
        .unwrap();
    scenario
        .when(allocate_from(from("vif-3", "net-a")))
        .then_rejected(full_network());
    // Full for the next free address, but the interface that holds them is just as full.
    scenario
        .when(allocate_from(from("vif-1", "net-a")))
        .then_rejected(full_network());
}

#[test]
fn a_network_gives_one_ipv4_and_one_ipv6_address_ipv4_first() {
    // The IPv6 block is the older one; the answer still lists IPv4 first (Melange's
    // partitions), and the second block of each family is not touched.
    let then = given(&[
        net_block(T1, "fd00::/64", "net-a"),
        net_block(T1, "10.0.0.0/24", "net-a"),
        net_block(T1, "fd01::/64", "net-a"),
        net_block(T1, "10.0.1.0/24", "net-a"),
    ])
    .when(allocate_from(from("vif-1", "net-a")));
    then.then_events(&[
        interface_created(5, "vif-1", T1, None),
        address(2, 6, "10.0.0.2", "vif-1"),
        address(1, 7, "fd00::", "vif-1"),
    ]);
    assert_eq!(replied(&then), ["10.0.0.2", "fd00::"]);
}

#[test]
fn a_family_without_room_is_left_out_without_an_error() {
    // fd00::/127 has one allocatable address: fd00::1 is both its gateway and its last.
    let scenario = given(&[
        net_block(T1, "10.0.0.0/30", "net-a"),
        net_block(T1, "fd00::/127", "net-a"),
    ]);
    scenario
        .clone()
        .and(&[allocate_at(T1, id(1), "10.0.0.2")])
        .when(allocate_from(from("vif-1", "net-a")))
        .then_events(&[
            interface_created(4, "vif-1", T1, None),
            address(2, 5, "fd00::", "vif-1"),
        ]);
    scenario
        .and(&[allocate_at(T1, id(2), "fd00::")])
        .when(allocate_from(from("vif-1", "net-a")))
        .then_events(&[
            interface_created(4, "vif-1", T1, None),
            address(1, 5, "10.0.0.2", "vif-1"),
        ]);
}

#[test]
fn an_address_held_by_a_pending_request_is_passed_over() {
    let hold = Command::SubmitRequest(SubmitRequest {
        ip: Some(ip("10.0.0.2")),
        requested_by: "anonymous".into(),
        email: some("user@example.com"),
        ..SubmitRequest::default()
    });
    given(&[net_block(T1, "10.0.0.0/29", "net-a"), hold])
        .when(allocate_from(from("vif-1", "net-a")))
        .then_events(&[
            interface_created(3, "vif-1", T1, None),
            address(1, 4, "10.0.0.3", "vif-1"),
        ]);
}

#[test]
fn a_subnetted_block_is_passed_over_for_its_subnet() {
    // Melange failed the whole request with 422 here; ipledger allocates from the subnet,
    // which inherits the parent's network.
    let scenario = given(&[net_block(T1, "10.0.0.0/16", "net-a")]).and(&[create(subnet(
        T1,
        id(1),
        "10.0.1.0/24",
    ))]);
    scenario
        .when(allocate_from(from("vif-1", "net-a")))
        .then_events(&[
            interface_created(3, "vif-1", T1, None),
            address(2, 4, "10.0.1.2", "vif-1"),
        ]);
    scenario
        .when(asking("vif-1", "net-a", &["10.0.2.5"]))
        .then_rejected(Rejection::Unprocessable(
            "Address 10.0.2.5 does not belong to network net-a".into(),
        ));
}

#[test]
fn an_unknown_network_or_another_owners_is_not_found() {
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        net_block(T2, "10.1.0.0/24", "net-b"),
    ]);
    for (owner, net) in [(T1, "net-zz"), (T2, "net-a"), (T1, "net-b")] {
        let c = NetworkAllocation {
            network: network(owner, net),
            ..from("vif-1", net)
        };
        scenario
            .when(allocate_from(c))
            .then_rejected(Rejection::NotFound(format!("Network {net} not found")));
    }
}

#[test]
fn the_network_id_and_owner_are_required() {
    let c = NetworkAllocation {
        network: NetworkRequest {
            id: some(" "),
            ..NetworkRequest::default()
        },
        ..from("vif-1", "net-a")
    };
    given(&[net_block(T1, "10.0.0.0/24", "net-a")])
        .when(allocate_from(c))
        .then_rejected(invalid(&[
            ("network.id", &["network id should be present"]),
            (
                "network.tenant_id",
                &["network tenant_id should be present"],
            ),
        ]));
}

// The interface.

#[test]
fn the_interface_is_made_on_demand_with_its_lessee_device_and_mac() {
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        mac_range("02:00:00:00:00:00/46"),
    ]);
    let for_lessee = |mac: Option<&str>| NetworkAllocation {
        lessee: some(T2),
        used_by_device: some("vm-1"),
        mac_address: mac.map(str::to_string),
        ..from("vif-1", "net-a")
    };
    let with = |mac: &str| {
        Event::AddressAllocated(AddressAllocated {
            used_by_device: some("vm-1"),
            mac_address: some(mac),
            ..on_nic(id(1), 4, "10.0.0.2", "vif-1", T2)
        })
    };
    scenario
        .when(allocate_from(for_lessee(None)))
        .then_events(&[
            interface_created(3, "vif-1", T2, Some("vm-1")),
            mac_allocated("02:00:00:00:00:00", "vif-1", Some(id(2))),
            with("02:00:00:00:00:00"),
        ]);
    scenario
        .when(allocate_from(for_lessee(Some("0a:00:00:00:00:09"))))
        .then_events(&[
            interface_created(3, "vif-1", T2, Some("vm-1")),
            mac_allocated("0A:00:00:00:00:09", "vif-1", None),
            with("0A:00:00:00:00:09"),
        ]);
}

#[test]
fn an_existing_interface_keeps_its_device_and_mac() {
    let existing = InterfaceSpec {
        device_id: some("vm-1"),
        mac_address: some("0a:00:00:00:00:01"),
        ..nic("vif-1", T2)
    };
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        create_interface(existing),
    ]);
    let expected = Event::AddressAllocated(AddressAllocated {
        used_by_device: some("vm-1"),
        mac_address: some("0A:00:00:00:00:01"),
        ..on_nic(id(1), 3, "10.0.0.2", "vif-1", T2)
    });
    // The lessee must be named: without one it defaults to the network's owner (T1), for
    // whom T2's vif does not exist (see a_vif_of_another_tenant_is_refused_when_no_lessee_is_named).
    let c = NetworkAllocation {
        lessee: some(T2),
        used_by_device: some("vm-9"),
        mac_address: some("0a:00:00:00:00:09"),
        ..from("vif-1", "net-a")
    };
    scenario
        .when(allocate_from(c))
        .then_events(std::slice::from_ref(&expected));
}

#[test]
fn another_lessee_for_an_existing_interface_is_a_conflict() {
    let c = NetworkAllocation {
        lessee: some(T1),
        ..from("vif-1", "net-a")
    };
    given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        create_interface(nic("vif-1", T2)),
    ])
    .when(allocate_from(c))
    .then_rejected(Rejection::Conflict(
        "Virtual Interface vif-1 already exists".into(),
    ));
}

#[test]
fn an_interface_plugged_into_another_network_is_refused() {
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        net_block(T1, "10.1.0.0/24", "net-b"),
        allocate_from(from("vif-1", "net-b")),
    ]);
    let elsewhere =
        Rejection::Unprocessable("Interface vif-1 is configured on another network".into());
    scenario
        .when(allocate_from(from("vif-1", "net-a")))
        .then_rejected(elsewhere.clone());
    scenario
        .when(asking("vif-1", "net-a", &["10.0.0.9"]))
        .then_rejected(elsewhere.clone());
    // The block route is held to the same rule, for a block outside any network too.
    let through_block = |block: u128| {
        Command::AllocateAddress(AllocateAddress {
            interface_id: some("vif-1"),
            ..allocation(T1, id(block))
        })
    };
    scenario
        .when(through_block(1))
        .then_rejected(elsewhere.clone());
    scenario
        .clone()
        .and(&[create(private(T1, "192.168.0.0/24"))])
        .when(through_block(5))
        .then_rejected(elsewhere);
    scenario
        .when(through_block(2))
        .then_events(&[address(2, 5, "10.1.0.3", "vif-1")]);
}

#[test]
fn the_device_door_needs_the_interface_on_that_device() {
    let on_vm1 = InterfaceSpec {
        device_id: some("vm-1"),
        ..nic("vif-1", T2)
    };
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        create_interface(on_vm1),
    ]);
    let door = |vif: &str, device: &str, net: &str| {
        allocate_from(NetworkAllocation {
            device_scope: some(device),
            ..from(vif, net)
        })
    };
    let not_found = Rejection::NotFound("Interface Not Found".into());
    scenario
        .when(door("vif-1", "vm-2", "net-a"))
        .then_rejected(not_found.clone());
    scenario
        .when(door("vif-none", "vm-1", "net-a"))
        .then_rejected(not_found);
    scenario
        .when(door("vif-none", "vm-1", "net-zz"))
        .then_rejected(Rejection::NotFound("Network net-zz not found".into()));
    scenario
        .when(door("vif-1", "vm-1", "net-a"))
        .then_events(&[Event::AddressAllocated(AddressAllocated {
            used_by_device: some("vm-1"),
            ..on_nic(id(1), 3, "10.0.0.2", "vif-1", T2)
        })]);
}

// IPv6 generators on the network path (decision 11).

#[test]
fn a_mac_generator_needs_a_mac_and_without_one_no_ipv4_is_taken_either() {
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-6"),
        with_generator("fe::/64", "net-6", "tenant_based"),
    ]);
    let c = |mac: Option<&str>| NetworkAllocation {
        lessee: some("1234"),
        mac_address: mac.map(str::to_string),
        ..from("vif-6", "net-6")
    };
    scenario
        .when(allocate_from(c(None)))
        .then_rejected(Rejection::BadRequest(
            "Required params are missing: mac_address".into(),
        ));
    // Melange's vector: tenant "1234", MAC 00:ff:12:89:67:34 in fe::/64; its first candidate
    // is taken, so the MAC is incremented once.
    let then = scenario
        .and(&[allocate_at(T1, id(2), "fe::7110:eda4:ff89:6734")])
        .when(allocate_from(c(Some("00:ff:12:89:67:34"))));
    let on = |block: u128, n: u128, at: &str| {
        Event::AddressAllocated(AddressAllocated {
            mac_address: some("00:FF:12:89:67:34"),
            ..on_nic(id(block), n, at, "vif-6", "1234")
        })
    };
    then.then_events(&[
        interface_created(4, "vif-6", "1234", None),
        mac_allocated("00:FF:12:89:67:34", "vif-6", None),
        on(1, 5, "10.0.0.2"),
        on(2, 6, "fe::7110:eda4:ff89:6735"),
    ]);
}

// Explicit addresses (decision 12).

#[test]
fn explicit_addresses_are_allocated_in_their_order_and_need_no_mac() {
    given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        with_generator("fe::/64", "net-a", "tenant_based"),
    ])
    .when(asking("vif-1", "net-a", &["fe::5", "10.0.0.5"]))
    .then_events(&[
        interface_created(3, "vif-1", T1, None),
        address(2, 4, "fe::5", "vif-1"),
        address(1, 5, "10.0.0.5", "vif-1"),
    ]);
}

#[test]
fn the_network_address_and_a_free_address_of_a_full_block_may_be_asked_for() {
    // Decisions 7 and 8: only the automatic choice skips the network address, and fullness
    // is derived, never latched.
    given(&[net_block(T1, "10.0.0.0/30", "net-a")])
        .and(&[allocate_from(from("vif-0", "net-a"))])
        .when(asking("vif-1", "net-a", &["10.0.0.0"]))
        .then_events(&[
            interface_created(4, "vif-1", T1, None),
            address(1, 5, "10.0.0.0", "vif-1"),
        ]);
}

#[test]
fn explicit_addresses_are_all_or_nothing() {
    // Guards decision 12: Melange skipped taken or foreign addresses and kept the rest.
    let (policy, block) = (id(1), id(3));
    let scenario = given(&[
        create_policy(T1, "p"),
        unusable_octet(T1, policy, 200),
        create(CreateBlock {
            network_id: some("net-a"),
            policy_id: Some(policy.to_string()),
            ..private(T1, "10.0.0.0/24")
        }),
        allocate_at(T1, block, "10.0.0.5"),
        allocate_at(T1, block, "10.0.0.6"),
        deallocate(T1, block, "10.0.0.6"),
        Command::SubmitRequest(SubmitRequest {
            ip: Some(ip("10.0.0.7")),
            requested_by: "anonymous".into(),
            email: some("user@example.com"),
            ..SubmitRequest::default()
        }),
    ]);
    let foreign =
        |a: &str| Rejection::Unprocessable(format!("Address {a} does not belong to network net-a"));
    let cases = [
        ("10.0.0.5", taken()),
        ("10.0.0.6", taken()),
        ("10.0.0.1", taken()),
        ("10.0.0.255", taken()),
        ("10.0.0.8", taken()),
        (
            "10.0.0.7",
            Rejection::Conflict("Address is held by a pending IP request".into()),
        ),
        (
            "10.0.0.200",
            Rejection::Unprocessable("Block policy does not allow this address".into()),
        ),
        ("192.168.0.1", foreign("192.168.0.1")),
        ("fe::1", foreign("fe::1")),
    ];
    for (second, rejection) in cases {
        scenario
            .when(asking("vif-1", "net-a", &["10.0.0.8", second]))
            .then_rejected(rejection);
    }
    scenario
        .when(asking("vif-1", "net-a", &["10.0.0.8", "10.0.0.9"]))
        .then_events(&[
            interface_created(7, "vif-1", T1, None),
            address(3, 8, "10.0.0.8", "vif-1"),
            address(3, 9, "10.0.0.9", "vif-1"),
        ]);
}

// Release.

/// vif-1 (interface id(3)) holds 192.168.0.2 of block id(2), outside any network (address
/// id(4)), and 10.0.0.5 and 10.0.0.6 of net-a's block id(1) (ids 5 and 6); device vm-1.
fn holding() -> Scenario {
    let through_block = AllocateAddress {
        interface_id: some("vif-1"),
        used_by_device: some("vm-1"),
        ..allocation(T1, id(2))
    };
    given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        create(private(T1, "192.168.0.0/24")),
        Command::AllocateAddress(through_block),
        asking("vif-1", "net-a", &["10.0.0.5", "10.0.0.6"]),
    ])
}

fn release(network: Option<(&str, &str)>, device: Option<&str>) -> Command {
    Command::ReleaseAddresses(ReleaseAddresses {
        vif: "vif-1".into(),
        device_scope: device.map(str::to_string),
        network: network.map(|(owner, id)| (owner.to_string(), id.to_string())),
    })
}

#[test]
fn releasing_in_a_network_deallocates_only_the_interfaces_addresses_there() {
    let then = holding().when(release(Some((T1, "net-a")), None));
    then.then_events(&[
        deallocated(id(1), "10.0.0.5"),
        deallocated(id(1), "10.0.0.6"),
    ]);
    assert_eq!(then.decision().reply, Reply::Done);
    let state = then.then_state();
    assert!(state.interface("vif-1").is_some(), "the interface stays");
    let left: Vec<String> = state
        .interface_addresses("vif-1")
        .iter()
        .map(|a| a.address.to_string())
        .collect();
    assert_eq!(left, ["192.168.0.2"]);
}

#[test]
fn releasing_without_a_network_deallocates_all_the_interfaces_addresses() {
    let expected = [
        deallocated(id(2), "192.168.0.2"),
        deallocated(id(1), "10.0.0.5"),
        deallocated(id(1), "10.0.0.6"),
    ];
    let scenario = holding();
    scenario.when(release(None, None)).then_events(&expected);
    scenario
        .when(release(None, Some("vm-1")))
        .then_events(&expected);
}

#[test]
fn release_refusals() {
    let scenario = holding();
    let network_missing = |net: &str| Rejection::NotFound(format!("Network {net} not found"));
    scenario
        .when(release(Some((T1, "net-zz")), None))
        .then_rejected(network_missing("net-zz"));
    scenario
        .when(release(Some((T2, "net-a")), None))
        .then_rejected(network_missing("net-a"));
    scenario
        .when(release(None, Some("vm-2")))
        .then_rejected(Rejection::NotFound("Interface Not Found".into()));
    let unknown = Command::ReleaseAddresses(ReleaseAddresses {
        vif: "vif-none".into(),
        device_scope: None,
        network: Some((T1.into(), "net-a".into())),
    });
    scenario
        .when(unknown)
        .then_rejected(Rejection::NotFound("Interface Not Found".into()));
}

#[test]
fn releasing_again_changes_nothing() {
    holding()
        .and(&[release(None, None)])
        .when(release(Some((T1, "net-a")), None))
        .then_no_events();
}

#[test]
fn released_addresses_keep_their_place_and_the_interface_may_move_network() {
    let scenario = holding().and(&[
        net_block(T1, "10.1.0.0/24", "net-b"),
        release(Some((T1, "net-a")), None),
    ]);
    scenario
        .when(asking("vif-1", "net-a", &["10.0.0.5"]))
        .then_rejected(taken());
    let device = |block: u128, n: u128, at: &str| {
        Event::AddressAllocated(AddressAllocated {
            used_by_device: some("vm-1"),
            ..on_nic(id(block), n, at, "vif-1", T1)
        })
    };
    scenario
        .when(allocate_from(from("vif-1", "net-a")))
        .then_events(&[device(1, 8, "10.0.0.2")]);
    scenario
        .when(allocate_from(from("vif-1", "net-b")))
        .then_events(&[device(7, 8, "10.1.0.2")]);
}

#[test]
fn a_vif_of_another_tenant_is_refused_when_no_lessee_is_named() {
    // melange-semantics.md §4: find_or_configure uses (vif, tenant) with the tenant
    // defaulting to the URL's, so another tenant's vif falls through to "create" and fails
    // (409 here, decision 15). Taking it over lets T1 plug T2's interface into T1's network,
    // after which T2's own network refuses it ("configured on another network").
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        create_interface(nic("vif-1", T2)),
    ]);
    let conflict = Rejection::Conflict("Virtual Interface vif-1 already exists".into());
    scenario
        .when(allocate_from(from("vif-1", "net-a")))
        .then_rejected(conflict.clone());
    let through_block = AllocateAddress {
        interface_id: some("vif-1"),
        ..allocation(T1, id(1))
    };
    scenario
        .when(Command::AllocateAddress(through_block))
        .then_rejected(conflict);
}
