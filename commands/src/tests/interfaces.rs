//! Interfaces (melange-semantics.md §4, decisions 15 and 16): creating one with its MAC and
//! its addresses from a network, all or nothing; deleting one through each of its doors,
//! which soft-deallocates its addresses and frees its MAC at once. Instance interfaces are in
//! `instances.rs`, allowed IPs in `allowed_ips.rs`.

use ipledger_domain::events::*;
use ipledger_domain::interfaces::{InterfaceRecord, InterfaceView};
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::{AllocateAddress, Command};
use crate::command_interfaces::{InterfaceScope, InterfaceSpec, NetworkRequest, ReleaseAddresses};

/// Block id(1): 10.0.0.0/24 in T1's network net-a (gateway .1, so .2 comes first).
pub(super) fn net_a() -> Scenario {
    given(&[net_block(T1, "10.0.0.0/24", "net-a")])
}

/// `spec` plugged into T1's net-a.
pub(super) fn on_net_a(spec: InterfaceSpec) -> InterfaceSpec {
    InterfaceSpec {
        network: Some(network(T1, "net-a")),
        ..spec
    }
}

pub(super) fn view(then: &Then) -> &InterfaceView {
    match &then.decision().reply {
        Reply::Interface(v) => v,
        other => panic!("expected an interface reply, got {other:?}"),
    }
}

pub(super) fn addresses_of(v: &InterfaceView) -> Vec<String> {
    v.ip_addresses
        .iter()
        .map(|c| c.address.address.to_string())
        .collect()
}

pub(super) fn interface_not_found() -> Rejection {
    Rejection::NotFound("Interface Not Found".into())
}

// Create.

#[test]
fn an_interface_without_network_or_mac_range_is_only_created() {
    let spec = InterfaceSpec {
        device_id: some("vm-1"),
        ..nic("vif-1", T2)
    };
    let then = given(&[]).when(create_interface(spec));
    then.then_events(&[interface_created(1, "vif-1", T2, Some("vm-1"))]);
    let record = InterfaceRecord {
        id: id(1),
        vif: "vif-1".into(),
        tenant_id: T2.into(),
        device_id: some("vm-1"),
        mac_address: None,
        created_at: now(),
        updated_at: now(),
    };
    let expected = InterfaceView {
        interface: record,
        ip_addresses: Vec::new(),
    };
    assert_eq!(then.decision().reply, Reply::Interface(expected));
}

#[test]
fn an_interface_on_a_network_gets_the_lowest_allocatable_address_for_its_lessee() {
    let then = net_a().when(create_interface(on_net_a(InterfaceSpec {
        device_id: some("vm-1"),
        ..nic("vif-1", T2)
    })));
    let address = AddressAllocated {
        used_by_device: some("vm-1"),
        ..on_nic(id(1), 3, "10.0.0.2", "vif-1", T2)
    };
    then.then_events(&[
        interface_created(2, "vif-1", T2, Some("vm-1")),
        Event::AddressAllocated(address),
    ]);
    let v = view(&then);
    assert_eq!(addresses_of(v), ["10.0.0.2"]);
    assert_eq!(v.ip_addresses[0].block.network_id.as_deref(), Some("net-a"));
    assert_eq!(
        v.ip_addresses[0].address.interface_id.as_deref(),
        Some("vif-1")
    );
}

#[test]
fn an_interface_gets_exactly_the_addresses_it_asks_for_in_its_order() {
    let mut spec = on_net_a(nic("vif-1", T1));
    spec.network.as_mut().unwrap().addresses = vec![ip("10.0.0.9"), ip("10.0.0.7")];
    let then = net_a().when(create_interface(spec));
    then.then_events(&[
        interface_created(2, "vif-1", T1, None),
        Event::AddressAllocated(on_nic(id(1), 3, "10.0.0.9", "vif-1", T1)),
        Event::AddressAllocated(on_nic(id(1), 4, "10.0.0.7", "vif-1", T1)),
    ]);
    assert_eq!(addresses_of(view(&then)), ["10.0.0.9", "10.0.0.7"]);
}

#[test]
fn a_given_mac_is_held_by_the_interface_and_recorded_on_its_addresses() {
    let spec = InterfaceSpec {
        mac_address: some("bc-76-4e-20-00-0a"),
        ..on_net_a(nic("vif-1", T1))
    };
    let then = net_a().when(create_interface(spec));
    let address = AddressAllocated {
        mac_address: some("BC:76:4E:20:00:0A"),
        ..on_nic(id(1), 3, "10.0.0.2", "vif-1", T1)
    };
    then.then_events(&[
        interface_created(2, "vif-1", T1, None),
        mac_allocated("BC:76:4E:20:00:0A", "vif-1", None),
        Event::AddressAllocated(address),
    ]);
    assert_eq!(
        view(&then).interface.mac_address,
        Some(mac("BC:76:4E:20:00:0A"))
    );
}

#[test]
fn without_a_given_mac_one_is_taken_from_the_ranges_when_any_exist() {
    let then = given(&[mac_range("02:00:00:00:00:00/46")]).when(create_interface(nic("vif-1", T1)));
    then.then_events(&[
        interface_created(2, "vif-1", T1, None),
        mac_allocated("02:00:00:00:00:00", "vif-1", Some(id(1))),
    ]);
}

#[test]
fn a_null_or_blank_mac_means_none_was_given() {
    // The spec's own example sends `"mac_address": "null"`.
    for text in ["null", "NULL", "", "   "] {
        let spec = InterfaceSpec {
            mac_address: some(text),
            ..nic("vif-1", T1)
        };
        given(&[])
            .when(create_interface(spec.clone()))
            .then_events(&[interface_created(1, "vif-1", T1, None)]);
        given(&[mac_range("02:00:00:00:00:00/46")])
            .when(create_interface(spec))
            .then_events(&[
                interface_created(2, "vif-1", T1, None),
                mac_allocated("02:00:00:00:00:00", "vif-1", Some(id(1))),
            ]);
    }
}

#[test]
fn an_interface_without_a_vif_is_named_by_its_internal_id() {
    for vif in [None, some(""), some("  ")] {
        let spec = InterfaceSpec {
            vif,
            ..nic("unused", T1)
        };
        let then = given(&[]).when(create_interface(spec));
        let name = id(1).to_string();
        then.then_events(&[interface_created(1, &name, T1, None)]);
        assert_eq!(view(&then).interface.vif, name);
    }
}

#[test]
fn vif_ids_are_unique_across_tenants() {
    let scenario = given(&[create_interface(nic("vif-1", T1))]);
    let taken = Rejection::Conflict("Virtual Interface vif-1 already exists".into());
    scenario
        .when(create_interface(nic("vif-1", T2)))
        .then_rejected(taken.clone());
    scenario
        .when(create_interface(nic("vif-1", T1)))
        .then_rejected(taken);
}

#[test]
fn the_lessee_and_the_networks_id_and_owner_are_required_and_reported_together() {
    let missing = InterfaceSpec {
        network: Some(NetworkRequest::default()),
        ..nic("vif-1", "  ")
    };
    given(&[])
        .when(create_interface(missing))
        .then_rejected(invalid(&[
            ("network.id", &["network id should be present"]),
            (
                "network.tenant_id",
                &["network tenant_id should be present"],
            ),
            ("tenant_id", &["tenant_id should be present"]),
        ]));
    let no_tenant = InterfaceSpec {
        tenant_id: None,
        ..nic("vif-1", T1)
    };
    given(&[])
        .when(create_interface(no_tenant))
        .then_rejected(invalid(&[("tenant_id", &["tenant_id should be present"])]));
}

#[test]
fn an_unparsable_mac_is_invalid() {
    for text in [
        "12:34",
        "not-a-mac",
        "bc:76:4e:20:00:0g",
        "bc:76:4e:20:00:00:01",
    ] {
        let spec = InterfaceSpec {
            mac_address: some(text),
            ..nic("vif-1", T1)
        };
        given(&[])
            .when(create_interface(spec))
            .then_rejected(invalid(&[("mac_address", &["mac_address is invalid"])]));
    }
}

#[test]
fn a_mac_held_by_another_interface_is_a_conflict_in_any_spelling() {
    let first = InterfaceSpec {
        mac_address: some("BC:76:4E:20:00:00"),
        ..nic("vif-1", T1)
    };
    let scenario = given(&[create_interface(first)]);
    for text in ["bc-76-4e-20-00-00", "bc764e200000", "BC:76:4E:20:00:00"] {
        let spec = InterfaceSpec {
            mac_address: some(text),
            ..nic("vif-2", T2)
        };
        scenario
            .when(create_interface(spec))
            .then_rejected(Rejection::Conflict(
                "MacAddress BC:76:4E:20:00:00 is already allocated".into(),
            ));
    }
}

#[test]
fn an_unknown_network_or_one_of_another_owner_is_not_found() {
    let unknown = InterfaceSpec {
        network: Some(network(T1, "net-zz")),
        ..nic("vif-1", T1)
    };
    net_a()
        .when(create_interface(unknown))
        .then_rejected(Rejection::NotFound("Network net-zz not found".into()));
    let not_its_owner = InterfaceSpec {
        network: Some(network(T2, "net-a")),
        ..nic("vif-1", T2)
    };
    net_a()
        .when(create_interface(not_its_owner))
        .then_rejected(Rejection::NotFound("Network net-a not found".into()));
}

#[test]
fn a_create_whose_allocation_fails_is_refused_whole() {
    // Guards "no half-made interface": Melange kept the interface and its MAC when the
    // allocation after them failed. A refusal here is a rejection, so no event at all.
    let scenario = given(&[
        net_block(T1, "10.0.0.0/24", "net-a"),
        mac_range("02:00:00:00:00:00/46"),
        allocate_at(T1, id(1), "10.0.0.9"),
    ]);
    let asking = |addresses: &[&str]| {
        let mut spec = on_net_a(nic("vif-1", T1));
        spec.network.as_mut().unwrap().addresses = addresses.iter().map(|a| ip(a)).collect();
        create_interface(spec)
    };
    let taken = Rejection::Conflict("Address is already allocated".into());
    scenario
        .when(asking(&["10.0.0.8", "10.0.0.9"]))
        .then_rejected(taken);
    scenario
        .when(asking(&["10.0.0.8", "192.168.1.1"]))
        .then_rejected(Rejection::Unprocessable(
            "Address 192.168.1.1 does not belong to network net-a".into(),
        ));
    let then = scenario.when(asking(&["10.0.0.8", "10.0.0.10"]));
    then.then_events(&[
        interface_created(4, "vif-1", T1, None),
        mac_allocated("02:00:00:00:00:00", "vif-1", Some(id(2))),
        Event::AddressAllocated(AddressAllocated {
            mac_address: some("02:00:00:00:00:00"),
            ..on_nic(id(1), 5, "10.0.0.8", "vif-1", T1)
        }),
        Event::AddressAllocated(AddressAllocated {
            mac_address: some("02:00:00:00:00:00"),
            ..on_nic(id(1), 6, "10.0.0.10", "vif-1", T1)
        }),
    ]);
}

#[test]
fn a_create_on_a_full_network_is_refused() {
    given(&[net_block(T1, "10.0.0.0/30", "net-a")])
        .and(&[create_interface(on_net_a(nic("vif-1", T1)))])
        .when(create_interface(on_net_a(nic("vif-2", T1))))
        .then_rejected(Rejection::Unprocessable(
            "ip blocks in this network are full".into(),
        ));
}

#[test]
fn an_ipv6_generator_uses_the_mac_the_interface_took_from_a_range() {
    // RFC 2462's vector (melange-semantics.md §2): MAC 12:ff:12:89:67:34 in fe::/64.
    let block = crate::command::CreateBlock {
        network_id: some("net-6"),
        ipv6_generator: some("eui64"),
        ..private(T1, "fe::/64")
    };
    let spec = InterfaceSpec {
        network: Some(network(T1, "net-6")),
        ..nic("vif-6", T1)
    };
    let then = given(&[mac_range("12:ff:12:89:67:34/48"), create(block)])
        .when(create_interface(spec.clone()));
    then.then_events(&[
        interface_created(3, "vif-6", T1, None),
        mac_allocated("12:FF:12:89:67:34", "vif-6", Some(id(1))),
        Event::AddressAllocated(AddressAllocated {
            mac_address: some("12:FF:12:89:67:34"),
            ..on_nic(id(2), 4, "fe::10ff:12ff:fe89:6734", "vif-6", T1)
        }),
    ]);
    // Without a range the interface has no MAC, and the generator cannot run.
    let block = crate::command::CreateBlock {
        network_id: some("net-6"),
        ipv6_generator: some("eui64"),
        ..private(T1, "fe::/64")
    };
    given(&[create(block)])
        .when(create_interface(spec))
        .then_rejected(Rejection::BadRequest(
            "Required params are missing: mac_address".into(),
        ));
}

// Delete.

/// T2's vif-1 on net-a with MAC 02:00:00:00:00:00 from range id(1) and addresses .2 and .3;
/// block id(2); interface id(3), addresses id(4) and id(5).
fn plugged() -> Scenario {
    let mut spec = on_net_a(nic("vif-1", T2));
    spec.device_id = some("vm-1");
    spec.network.as_mut().unwrap().addresses = vec![ip("10.0.0.2"), ip("10.0.0.3")];
    given(&[
        mac_range("02:00:00:00:00:00/46"),
        net_block(T1, "10.0.0.0/24", "net-a"),
        create_interface(spec),
    ])
}

#[test]
fn deleting_an_interface_deallocates_its_addresses_frees_its_mac_and_deletes_it() {
    let then = plugged().when(delete_interface("vif-1"));
    then.then_events(&[
        deallocated(id(2), "10.0.0.2"),
        deallocated(id(2), "10.0.0.3"),
        mac_released("02:00:00:00:00:00", "vif-1"),
        interface_deleted(3, "vif-1"),
    ]);
    assert_eq!(then.decision().reply, Reply::Done);
    let state = then.then_state();
    assert!(state.interface("vif-1").is_none());
    assert!(!state.mac_in_use(mac("02:00:00:00:00:00")));
    assert_eq!(
        state.block(id(2)).expect("block").deallocated,
        2,
        "soft: still occupied"
    );
    assert!(state.device_interfaces("vm-1").is_empty());
}

#[test]
fn an_interface_without_mac_or_addresses_is_only_deleted() {
    given(&[create_interface(nic("vif-1", T1))])
        .when(delete_interface("vif-1"))
        .then_events(&[interface_deleted(1, "vif-1")]);
}

#[test]
fn an_unknown_interface_is_not_found_at_every_door() {
    let scenario = plugged();
    scenario
        .when(delete_interface("vif-none"))
        .then_rejected(interface_not_found());
    scenario
        .and(&[delete_interface("vif-1")])
        .when(delete_interface("vif-1"))
        .then_rejected(interface_not_found());
}

#[test]
fn a_deleted_interfaces_mac_is_free_at_once_and_its_addresses_keep_their_place() {
    let then = plugged()
        .and(&[delete_interface("vif-1")])
        .when(create_interface(on_net_a(nic("vif-2", T2))));
    then.then_events(&[
        interface_created(6, "vif-2", T2, None),
        mac_allocated("02:00:00:00:00:00", "vif-2", Some(id(1))),
        Event::AddressAllocated(AddressAllocated {
            mac_address: some("02:00:00:00:00:00"),
            ..on_nic(id(2), 7, "10.0.0.4", "vif-2", T2)
        }),
    ]);
}

#[test]
fn addresses_linked_through_a_block_without_network_are_deallocated_too() {
    let through_block = AllocateAddress {
        interface_id: some("vif-1"),
        ..allocation(T1, id(1))
    };
    given(&[
        create(private(T1, "192.168.0.0/24")),
        Command::AllocateAddress(through_block),
    ])
    .when(delete_interface("vif-1"))
    .then_events(&[
        deallocated(id(1), "192.168.0.2"),
        interface_deleted(2, "vif-1"),
    ]);
}

#[test]
fn an_address_already_deallocated_is_not_deallocated_again() {
    plugged()
        .and(&[deallocate(T1, id(2), "10.0.0.2")])
        .when(delete_interface("vif-1"))
        .then_events(&[
            deallocated(id(2), "10.0.0.3"),
            mac_released("02:00:00:00:00:00", "vif-1"),
            interface_deleted(3, "vif-1"),
        ]);
}

fn tenant_door(tenant: &str, network: &str) -> InterfaceScope {
    InterfaceScope::Tenant {
        tenant: tenant.into(),
        network_id: network.into(),
    }
}

fn delete_at(vif: &str, scope: InterfaceScope) -> Command {
    Command::DeleteInterface {
        vif: vif.into(),
        scope,
    }
}

#[test]
fn the_tenant_door_serves_the_lessee_and_the_owner_of_the_network_it_is_plugged_into() {
    let scenario = plugged();
    let deleted = [
        deallocated(id(2), "10.0.0.2"),
        deallocated(id(2), "10.0.0.3"),
        mac_released("02:00:00:00:00:00", "vif-1"),
        interface_deleted(3, "vif-1"),
    ];
    scenario
        .when(delete_at("vif-1", tenant_door(T2, "net-a")))
        .then_events(&deleted);
    scenario
        .when(delete_at("vif-1", tenant_door(T1, "net-a")))
        .then_events(&deleted);
    // The lessee is served whatever network the path names (only the owner's visibility
    // depends on the network).
    scenario
        .when(delete_at("vif-1", tenant_door(T2, "net-other")))
        .then_events(&deleted);
    for (tenant, network) in [(T1, "net-other"), ("tenant-3", "net-a")] {
        scenario
            .when(delete_at("vif-1", tenant_door(tenant, network)))
            .then_rejected(interface_not_found());
    }
}

#[test]
fn the_network_owner_loses_the_tenant_door_once_the_interface_is_unplugged() {
    let release = Command::ReleaseAddresses(ReleaseAddresses {
        vif: "vif-1".into(),
        device_scope: None,
        network: None,
    });
    plugged()
        .and(&[release])
        .when(delete_at("vif-1", tenant_door(T1, "net-a")))
        .then_rejected(interface_not_found());
}

#[test]
fn the_device_door_serves_only_interfaces_on_that_device() {
    let scenario = plugged().and(&[create_interface(nic("vif-loose", T2))]);
    scenario
        .when(delete_at("vif-1", InterfaceScope::Device("vm-2".into())))
        .then_rejected(interface_not_found());
    scenario
        .when(delete_at(
            "vif-loose",
            InterfaceScope::Device("vm-1".into()),
        ))
        .then_rejected(interface_not_found());
    scenario
        .when(delete_at("vif-1", InterfaceScope::Device("vm-1".into())))
        .then_events(&[
            deallocated(id(2), "10.0.0.2"),
            deallocated(id(2), "10.0.0.3"),
            mac_released("02:00:00:00:00:00", "vif-1"),
            interface_deleted(3, "vif-1"),
        ]);
}

#[test]
fn a_new_interface_with_a_reused_vif_does_not_inherit_a_restored_address() {
    // Decision 13 has a restore bring back the interface link. Once the interface is gone the
    // link names a vif nobody holds; a later interface that takes the vif (another tenant's
    // here) must start empty, not hold the stranger's address and be refused its own network.
    let then = plugged()
        .and(&[
            delete_interface("vif-1"),
            restore(T1, id(2), "10.0.0.2"),
            net_block("tenant-3", "172.16.0.0/24", "net-b"),
        ])
        .when(create_interface(InterfaceSpec {
            network: Some(network("tenant-3", "net-b")),
            ..nic("vif-1", "tenant-3")
        }));
    then.then_events(&[
        interface_created(7, "vif-1", "tenant-3", None),
        mac_allocated("02:00:00:00:00:00", "vif-1", Some(id(1))),
        Event::AddressAllocated(AddressAllocated {
            mac_address: some("02:00:00:00:00:00"),
            ..on_nic(id(6), 8, "172.16.0.2", "vif-1", "tenant-3")
        }),
    ]);
    assert_eq!(addresses_of(view(&then)), ["172.16.0.2"]);
}
