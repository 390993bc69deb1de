//! Allowed IPs (decision 19, melange-semantics.md §4 and §8 scenario 16): an address leased
//! to the interface's lessee in the network the interface is plugged into may be allowed on
//! it; withdrawing one takes back only an explicit allowance.

use ipledger_domain::events::*;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};

use super::given::*;
use super::interfaces::{interface_not_found, net_a, on_net_a};
use crate::command::{AllocateAddress, Command};
use crate::command_interfaces::AllowIp;

/// Scenario 16's world: T1's vif-16 on net-a (10.0.0.2, id(3)), and 10.0.0.10 (id(4)) and
/// 10.0.0.11 (id(5)) of T1 in net-a, not on the interface.
fn allowed_world() -> Scenario {
    net_a().and(&[
        create_interface(on_net_a(nic("vif-16", T1))),
        allocate_at(T1, id(1), "10.0.0.10"),
        allocate_at(T1, id(1), "10.0.0.11"),
    ])
}

fn allow_on(vif: &str, tenant: &str, network: Option<&str>, address: Option<&str>) -> Command {
    Command::AllowIp(AllowIp {
        tenant: tenant.into(),
        vif: vif.into(),
        network_id: network.map(str::to_string),
        ip_address: address.map(str::to_string),
    })
}

fn allow(tenant: &str, network: &str, address: &str) -> Command {
    allow_on("vif-16", tenant, Some(network), Some(address))
}

fn disallow(tenant: &str, address: &str) -> Command {
    Command::DisallowIp {
        tenant: tenant.into(),
        vif: "vif-16".into(),
        address: ip(address),
    }
}

fn allowed_event(address: &str, removed: bool) -> Event {
    let (vif, block_id, address) = ("vif-16".to_string(), id(1), ip(address));
    if removed {
        Event::AllowedIpRemoved(AllowedIpRemoved {
            vif,
            block_id,
            address,
            removed_at: now(),
        })
    } else {
        Event::AllowedIpAdded(AllowedIpAdded {
            vif,
            block_id,
            address,
            added_at: now(),
        })
    }
}

fn allowed_list(state: &ipledger_projections::State) -> Vec<String> {
    let i = state.interface("vif-16").expect("vif-16");
    state
        .allowed_ips(i)
        .iter()
        .map(|a| a.address.to_string())
        .collect()
}

#[test]
fn an_address_of_the_lessee_in_the_interfaces_network_is_allowed() {
    let then = allowed_world().when(allow(T1, "net-a", "10.0.0.10"));
    then.then_events(&[allowed_event("10.0.0.10", false)]);
    let Reply::Address(a) = &then.decision().reply else {
        panic!("an address reply: {:?}", then.decision().reply);
    };
    assert_eq!((a.id, a.address), (id(4), ip("10.0.0.10")));
    assert_eq!(
        allowed_list(&then.then_state()),
        ["10.0.0.2", "10.0.0.10"],
        "its own address plus the allowed one"
    );
}

#[test]
fn allowing_an_address_again_changes_nothing() {
    let then = allowed_world()
        .and(&[allow(T1, "net-a", "10.0.0.11")])
        .when(allow(T1, "net-a", "10.0.0.11"));
    assert_eq!(then.events(), &[] as &[Event]);
    let Reply::Address(a) = &then.decision().reply else {
        panic!("an address reply: {:?}", then.decision().reply);
    };
    assert_eq!(a.id, id(5));
}

/// `allowed_world` plus: net-other (block id(6)) with T1's 10.9.0.5 (id(7)); 10.0.0.20 of
/// net-a leased to T2 (id(8)); 10.0.0.30 of T1, deallocated (id(9)); T1's vif-empty with
/// no address (id(10)).
fn refusal_world() -> Scenario {
    let for_t2 = AllocateAddress {
        address: Some(ip("10.0.0.20")),
        used_by_tenant: some(T2),
        ..allocation(T1, id(1))
    };
    allowed_world().and(&[
        net_block(T1, "10.9.0.0/24", "net-other"),
        allocate_at(T1, id(6), "10.9.0.5"),
        Command::AllocateAddress(for_t2),
        allocate_at(T1, id(1), "10.0.0.30"),
        deallocate(T1, id(1), "10.0.0.30"),
        create_interface(nic("vif-empty", T1)),
    ])
}

#[test]
fn allowed_ip_refusals() {
    let scenario = refusal_world();
    let no_address = Rejection::NotFound("IpAddress Not Found".into());
    let not_configured = |address: &str, vif: &str| {
        Rejection::Unprocessable(format!(
            "Ip Address {address} cannot be allowed on interface {vif} as interface is not configured for ip's network"
        ))
    };
    let cases: Vec<(Command, Rejection)> = vec![
        (allow(T2, "net-a", "10.0.0.10"), interface_not_found()),
        (
            allow_on("vif-none", T1, Some("net-a"), Some("10.0.0.10")),
            interface_not_found(),
        ),
        (
            allow_on("vif-16", T1, None, Some(" ")),
            invalid(&[
                ("ip_address", &["ip_address should be present"]),
                ("network_id", &["network_id should be present"]),
            ]),
        ),
        (
            allow(T1, "net-a", "10.0.0.x"),
            invalid(&[("ip_address", &["10.0.0.x is not a valid IP address"])]),
        ),
        (
            allow(T1, "net-none", "10.0.0.10"),
            Rejection::NotFound("Network net-none not found".into()),
        ),
        (allow(T1, "net-a", "10.0.0.99"), no_address.clone()),
        (allow(T1, "net-a", "10.0.0.20"), no_address.clone()),
        (allow(T1, "net-a", "10.0.0.30"), no_address.clone()),
        (allow(T1, "net-a", "10.9.0.5"), no_address),
        (
            allow(T1, "net-other", "10.9.0.5"),
            not_configured("10.9.0.5", "vif-16"),
        ),
        (
            allow_on("vif-empty", T1, Some("net-a"), Some("10.0.0.10")),
            not_configured("10.0.0.10", "vif-empty"),
        ),
    ];
    for (command, rejection) in cases {
        scenario.when(command).then_rejected(rejection);
    }
}

#[test]
fn an_allowed_address_is_withdrawn() {
    let then = allowed_world()
        .and(&[
            allow(T1, "net-a", "10.0.0.10"),
            allow(T1, "net-a", "10.0.0.11"),
        ])
        .when(disallow(T1, "10.0.0.10"));
    then.then_events(&[allowed_event("10.0.0.10", true)]);
    assert_eq!(then.decision().reply, Reply::Done);
    assert_eq!(allowed_list(&then.then_state()), ["10.0.0.2", "10.0.0.11"]);
}

#[test]
fn withdrawing_the_interfaces_own_address_changes_nothing() {
    // As in Melange: an address allocated on the interface is allowed by being there.
    allowed_world()
        .when(disallow(T1, "10.0.0.2"))
        .then_no_events();
}

#[test]
fn withdrawal_refusals() {
    let scenario = allowed_world().and(&[allow(T1, "net-a", "10.0.0.10")]);
    let never = |address: &str| {
        Rejection::NotFound(format!(
            "Ip Address {address} hasnt been allowed on interface vif-16"
        ))
    };
    scenario
        .when(disallow(T1, "10.0.0.11"))
        .then_rejected(never("10.0.0.11"));
    scenario
        .when(disallow(T2, "10.0.0.10"))
        .then_rejected(interface_not_found());
    scenario
        .and(&[disallow(T1, "10.0.0.10")])
        .when(disallow(T1, "10.0.0.10"))
        .then_rejected(never("10.0.0.10"));
}

#[test]
fn an_allowed_address_stays_allocated_when_the_interface_is_deleted() {
    // Only the interface's own addresses are its to give back.
    allowed_world()
        .and(&[allow(T1, "net-a", "10.0.0.10")])
        .when(delete_interface("vif-16"))
        .then_events(&[
            deallocated(id(1), "10.0.0.2"),
            interface_deleted(2, "vif-16"),
        ]);
}

#[test]
fn an_allowance_does_not_pass_to_the_next_lease_of_its_address() {
    // T1 allows 10.0.0.10 on vif-16, deallocates it, and the purge frees it; the address is
    // then leased to T2. T2's lease was never allowed on T1's interface, so T1 cannot
    // withdraw it and it is not listed as allowed there.
    let to_t2 = AllocateAddress {
        address: Some(ip("10.0.0.10")),
        used_by_tenant: some(T2),
        ..allocation(T1, id(1))
    };
    let before_purge = allowed_world()
        .and(&[allow(T1, "net-a", "10.0.0.10")])
        .and_events(&[Event::AddressDeallocated(AddressDeallocated {
            block_id: id(1),
            address: ip("10.0.0.10"),
            deallocated_at: now() - chrono::Duration::days(3),
        })]);
    // The purge withdraws the allowance, as an event, before it purges the address.
    let purge = Command::PurgeDeallocated { max: 100 };
    before_purge.when(purge.clone()).then_events(&[
        Event::AllowedIpRemoved(AllowedIpRemoved {
            vif: "vif-16".into(),
            block_id: id(1),
            address: ip("10.0.0.10"),
            removed_at: now(),
        }),
        purged(id(1), "10.0.0.10"),
    ]);
    let scenario = before_purge.and(&[purge, Command::AllocateAddress(to_t2)]);
    assert_eq!(allowed_list(&scenario.state), ["10.0.0.2"]);
    scenario
        .when(disallow(T1, "10.0.0.10"))
        .then_rejected(Rejection::NotFound(
            "Ip Address 10.0.0.10 hasnt been allowed on interface vif-16".into(),
        ));
}
