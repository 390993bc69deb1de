//! Static routes, NAT pairs and the retention purge, decided (melange-semantics.md §3, §5,
//! §6; decisions 13 and 17).

use chrono::Duration;
use ipledger_domain::events::*;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::page::PageRequest;
use ipledger_projections::routing::NatSide;
use uuid::Uuid;

use super::given::*;
use crate::command::Command;
use crate::command_routing::{AssignNat, NatAt, RemoveNat, RouteChange};
use crate::decide_retention::PURGE_BATCH_MAX;

// Routes.

fn route(
    tenant: &str,
    block: Uuid,
    destination: &str,
    gateway: &str,
    mask: Option<&str>,
) -> RouteChange {
    RouteChange {
        tenant: tenant.into(),
        block_id: block,
        route_id: None,
        destination: some(destination),
        gateway: some(gateway),
        netmask: Some(mask.map(str::to_string)),
    }
}

fn with_route() -> Scenario {
    given(&[
        create(private(T1, "77.1.1.0/24")),
        Command::CreateRoute(route(
            T1,
            id(1),
            "10.1.1.2",
            "10.1.1.1",
            Some("255.255.255.0"),
        )),
    ])
}

#[test]
fn a_route_is_created_with_its_fields_normalised() {
    let then = given(&[create(private(T1, "77.1.1.0/24"))]).when(Command::CreateRoute(route(
        T1,
        id(1),
        "2001:0db8:0000::/48",
        "2001:db8::0001",
        None,
    )));
    let expected = RouteCreated {
        block_id: id(1),
        route_id: id(2),
        destination: "2001:db8::/48".into(),
        gateway: "2001:db8::1".into(),
        netmask: None,
        created_at: now(),
    };
    then.then_events(&[Event::RouteCreated(expected)]);
    match &then.decision().reply {
        Reply::Route(r) => assert_eq!((r.id, r.block_id, r.created_at), (id(2), id(1), now())),
        other => panic!("expected a route reply, got {other:?}"),
    }
    let state = then.then_state();
    let routes: Vec<Uuid> = state.routes_of(id(1)).iter().map(|r| r.id).collect();
    assert_eq!(routes, [id(2)]);
}

#[test]
fn a_route_needs_its_block_in_the_tenant_and_valid_fields() {
    let scenario = given(&[create(private(T1, "77.1.1.0/24"))]);
    scenario
        .when(Command::CreateRoute(route(
            T2,
            id(1),
            "10.0.0.0",
            "10.0.0.1",
            None,
        )))
        .then_rejected(Rejection::NotFound("IpBlock Not Found".into()));
    let bad = RouteChange {
        destination: None,
        ..route(T1, id(1), "", "not-an-ip", Some("255.0.255.0"))
    };
    scenario
        .when(Command::CreateRoute(bad))
        .then_rejected(invalid(&[
            ("destination", &["destination should be present"]),
            ("gateway", &["gateway is not a valid address"]),
            (
                "netmask",
                &["netmask should be a contiguous mask (e.g. 255.255.255.0) or a prefix length"],
            ),
        ]));
}

#[test]
fn an_update_keeps_absent_fields_and_may_clear_the_netmask() {
    let change = RouteChange {
        route_id: Some(id(2)),
        destination: None,
        gateway: some("10.1.1.254"),
        netmask: Some(None),
        ..route(T1, id(1), "", "", None)
    };
    with_route()
        .when(Command::UpdateRoute(change))
        .then_events(&[Event::RouteUpdated(RouteUpdated {
            block_id: id(1),
            route_id: id(2),
            destination: "10.1.1.2".into(),
            gateway: "10.1.1.254".into(),
            netmask: None,
            updated_at: now(),
        })]);
}

#[test]
fn an_update_is_validated_against_the_kept_fields() {
    let change = RouteChange {
        route_id: Some(id(2)),
        destination: None,
        gateway: some("fe::1"),
        netmask: None,
        ..route(T1, id(1), "", "", None)
    };
    with_route()
        .when(Command::UpdateRoute(change))
        .then_rejected(invalid(&[(
            "gateway",
            &["gateway should be of the same IP version as destination"],
        )]));
}

#[test]
fn a_route_is_found_only_in_its_own_block() {
    let scenario = with_route().and(&[create(private(T1, "77.1.2.0/24"))]);
    let delete = |block| Command::DeleteRoute {
        tenant: T1.into(),
        block_id: block,
        route_id: id(2),
    };
    scenario
        .when(delete(id(3)))
        .then_rejected(Rejection::NotFound("IpRoute Not Found".into()));
    scenario
        .when(delete(id(1)))
        .then_events(&[Event::RouteDeleted(RouteDeleted {
            block_id: id(1),
            route_id: id(2),
            deleted_at: now(),
        })]);
}

// NAT.

fn at(tenant: Option<&str>, block: Uuid, address: &str, side: NatSide) -> NatAt {
    NatAt {
        tenant: tenant.map(str::to_string),
        block_id: block,
        address: ip(address),
        side,
    }
}

fn assign(at: NatAt, partners: &[(Uuid, &str)]) -> Command {
    let partners = partners.iter().map(|(b, a)| (*b, ip(a))).collect();
    Command::AssignNat(AssignNat { at, partners })
}

/// Block 1 (T1, local) with 10.0.0.2 = id(3) and 10.0.0.3 = id(4); block 2 (T1, global)
/// with 77.1.1.2 = id(5) and 77.1.1.3 = id(6); block 7 of T2 with 88.0.0.2 = id(8).
fn nat_scenario() -> Scenario {
    given(&[
        create(private(T1, "10.0.0.0/24")),
        create(public(T1, "77.1.1.0/24")),
        allocate(T1, id(1)),
        allocate(T1, id(1)),
        allocate(T1, id(2)),
        allocate(T1, id(2)),
        create(public(T2, "88.0.0.0/24")),
        allocate(T2, id(7)),
    ])
}

fn nat(local: (Uuid, Uuid, &str), global: (Uuid, Uuid, &str), removed: bool) -> Event {
    let (local_block_id, local_address_id, l) = local;
    let (global_block_id, global_address_id, g) = global;
    if removed {
        return Event::NatRemoved(NatRemoved {
            local_block_id,
            local_address_id,
            local_address: ip(l),
            global_block_id,
            global_address_id,
            global_address: ip(g),
            removed_at: now(),
        });
    }
    Event::NatAssigned(NatAssigned {
        local_block_id,
        local_address_id,
        local_address: ip(l),
        global_block_id,
        global_address_id,
        global_address: ip(g),
        assigned_at: now(),
    })
}

const L2: (Uuid, Uuid, &str) = (Uuid::from_u128(1), Uuid::from_u128(3), "10.0.0.2");
const L3: (Uuid, Uuid, &str) = (Uuid::from_u128(1), Uuid::from_u128(4), "10.0.0.3");
const G2: (Uuid, Uuid, &str) = (Uuid::from_u128(2), Uuid::from_u128(5), "77.1.1.2");
const G3: (Uuid, Uuid, &str) = (Uuid::from_u128(2), Uuid::from_u128(6), "77.1.1.3");

#[test]
fn globals_are_assigned_to_a_local_in_the_locals_block_stream() {
    let then = nat_scenario().when(assign(
        at(Some(T1), id(1), "10.0.0.2", NatSide::Globals),
        &[
            (id(2), "77.1.1.2"),
            (id(2), "77.1.1.3"),
            (id(2), "77.1.1.2"),
        ],
    ));
    then.then_events(&[nat(L2, G2, false), nat(L2, G3, false)]);
    assert_eq!(then.events()[0].stream(), format!("block-{}", id(1)));
    let state = then.then_state();
    let globals = state.nat_partners(id(3), NatSide::Globals, PageRequest::default());
    let addresses: Vec<String> = globals
        .items
        .iter()
        .map(|a| a.address.to_string())
        .collect();
    assert_eq!(addresses, ["77.1.1.2", "77.1.1.3"]);
    let locals = state.nat_partners(id(6), NatSide::Locals, PageRequest::default());
    assert_eq!(
        locals.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [id(3)]
    );
}

#[test]
fn assigning_a_pair_again_from_either_side_appends_nothing() {
    let scenario = nat_scenario().and(&[assign(
        at(None, id(1), "10.0.0.2", NatSide::Globals),
        &[(id(2), "77.1.1.2")],
    )]);
    scenario
        .when(assign(
            at(None, id(2), "77.1.1.2", NatSide::Locals),
            &[(id(1), "10.0.0.2")],
        ))
        .then_no_events();
    scenario
        .when(assign(
            at(None, id(2), "77.1.1.2", NatSide::Locals),
            &[(id(1), "10.0.0.3")],
        ))
        .then_events(&[nat(L3, G2, false)]);
}

#[test]
fn a_tenant_path_names_only_the_tenants_blocks_an_admin_path_any() {
    let scenario = nat_scenario();
    let cross = |tenant| {
        assign(
            at(tenant, id(1), "10.0.0.2", NatSide::Globals),
            &[(id(7), "88.0.0.2")],
        )
    };
    scenario
        .when(cross(Some(T1)))
        .then_rejected(Rejection::NotFound("IpBlock Not Found".into()));
    assert_eq!(scenario.when(cross(None)).events().len(), 1);
}

#[test]
fn missing_locked_and_self_pairs_are_refused() {
    let scenario = nat_scenario().and(&[deallocate(T1, id(2), "77.1.1.3")]);
    let globals = |partner: &str| {
        assign(
            at(Some(T1), id(1), "10.0.0.2", NatSide::Globals),
            &[(id(2), partner)],
        )
    };
    scenario
        .when(globals("77.1.1.9"))
        .then_rejected(Rejection::NotFound("IpAddress Not Found".into()));
    scenario
        .when(globals("77.1.1.3"))
        .then_rejected(Rejection::Unprocessable("Address is locked".into()));
    scenario
        .when(assign(
            at(Some(T1), id(2), "77.1.1.3", NatSide::Locals),
            &[(id(1), "10.0.0.2")],
        ))
        .then_rejected(Rejection::Unprocessable("Address is locked".into()));
    scenario
        .when(assign(
            at(Some(T1), id(1), "10.0.0.2", NatSide::Globals),
            &[(id(1), "10.0.0.2")],
        ))
        .then_rejected(Rejection::Unprocessable(
            "An address cannot be NAT'ed to itself".into(),
        ));
}

fn paired() -> Scenario {
    nat_scenario().and(&[
        assign(
            at(None, id(1), "10.0.0.2", NatSide::Globals),
            &[(id(2), "77.1.1.2"), (id(2), "77.1.1.3")],
        ),
        assign(
            at(None, id(1), "10.0.0.3", NatSide::Globals),
            &[(id(2), "77.1.1.2")],
        ),
    ])
}

fn remove(at: NatAt, partner: Option<&str>) -> Command {
    Command::RemoveNat(RemoveNat {
        at,
        partner: partner.map(ip),
    })
}

#[test]
fn removing_takes_all_pairs_of_one_side_or_those_of_one_partner_address() {
    let scenario = paired();
    scenario
        .when(remove(at(None, id(1), "10.0.0.2", NatSide::Globals), None))
        .then_events(&[nat(L2, G2, true), nat(L2, G3, true)]);
    scenario
        .when(remove(
            at(None, id(1), "10.0.0.2", NatSide::Globals),
            Some("77.1.1.3"),
        ))
        .then_events(&[nat(L2, G3, true)]);
    scenario
        .when(remove(
            at(None, id(2), "77.1.1.2", NatSide::Locals),
            Some("10.0.0.3"),
        ))
        .then_events(&[nat(L3, G2, true)]);
    scenario
        .when(remove(at(None, id(2), "77.1.1.2", NatSide::Globals), None))
        .then_no_events();
}

// Retention purge and block deletion.

fn deallocated_days_ago(block: Uuid, address: &str, days: i64) -> Event {
    Event::AddressDeallocated(AddressDeallocated {
        block_id: block,
        address: ip(address),
        deallocated_at: now() - Duration::days(days),
    })
}

fn purge() -> Command {
    Command::PurgeDeallocated {
        max: PURGE_BATCH_MAX,
    }
}

#[test]
fn the_purge_takes_addresses_deallocated_at_least_the_retention_ago() {
    let scenario = nat_scenario().and_events(&[
        deallocated_days_ago(id(1), "10.0.0.2", 2),
        deallocated_days_ago(id(1), "10.0.0.3", 1),
    ]);
    let then = scenario.when(purge());
    then.then_events(&[purged(id(1), "10.0.0.2")]);
    assert_eq!(then.decision().reply, Reply::Purged(1));
    let state = then.then_state();
    assert!(state
        .retention_index()
        .by_time
        .iter()
        .all(|(_, a)| *a == id(4)));
}

#[test]
fn the_purge_is_bounded_and_removes_the_nat_pairs_first() {
    let scenario = paired().and_events(&[
        deallocated_days_ago(id(2), "77.1.1.2", 5),
        deallocated_days_ago(id(1), "10.0.0.2", 3),
    ]);
    scenario
        .when(Command::PurgeDeallocated { max: 1 })
        .then_events(&[
            nat(L2, G2, true),
            nat(L3, G2, true),
            purged(id(2), "77.1.1.2"),
        ]);
    let then = scenario.when(purge());
    then.then_events(&[
        nat(L2, G2, true),
        nat(L2, G3, true),
        nat(L3, G2, true),
        purged(id(2), "77.1.1.2"),
        purged(id(1), "10.0.0.2"),
    ]);
    let state = then.then_state();
    assert!(state.nat_table().globals_of.is_empty() && state.nat_table().locals_of.is_empty());
}

#[test]
fn a_restored_or_redeallocated_address_is_not_purged_on_the_old_clock() {
    let scenario = nat_scenario().and_events(&[
        deallocated_days_ago(id(1), "10.0.0.2", 3),
        deallocated_days_ago(id(1), "10.0.0.3", 3),
    ]);
    let scenario = scenario.and(&[
        restore(T1, id(1), "10.0.0.2"),
        deallocate(T1, id(1), "10.0.0.3"),
    ]);
    scenario.when(purge()).then_events(&[]);
    assert_eq!(scenario.when(purge()).decision().reply, Reply::Purged(0));
}

#[test]
fn a_purged_address_is_allocatable_again() {
    let then = nat_scenario()
        .and_events(&[deallocated_days_ago(id(1), "10.0.0.2", 2)])
        .when(purge());
    let mut after = given(&[]);
    after.state = then.then_state();
    after.when(allocate(T1, id(1))).then_allocated("10.0.0.2");
}

#[test]
fn deleting_a_block_deletes_its_routes_and_the_nat_pairs_of_its_addresses() {
    let scenario = paired().and(&[
        Command::CreateRoute(route(T1, id(2), "10.9.0.0/16", "77.1.1.1", None)),
        deallocate(T1, id(2), "77.1.1.2"),
        deallocate(T1, id(2), "77.1.1.3"),
    ]);
    scenario.when(delete_block(T1, id(2))).then_events(&[
        nat(L2, G2, true),
        nat(L2, G3, true),
        nat(L3, G2, true),
        purged(id(2), "77.1.1.2"),
        purged(id(2), "77.1.1.3"),
        Event::RouteDeleted(RouteDeleted {
            block_id: id(2),
            route_id: id(9),
            deleted_at: now(),
        }),
        block_deleted(id(2)),
    ]);
}
