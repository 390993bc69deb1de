//! Subnets: placement inside the parent, siblings, network and tenant inheritance
//! (melange-semantics.md §1, decision 3).

use ipledger_domain::records::BlockType;
use ipledger_domain::Rejection;

use super::given::*;
use crate::command::CreateBlock;

fn not_found() -> Rejection {
    Rejection::NotFound("IpBlock Not Found".into())
}

// Subnets.

#[test]
fn a_subnet_takes_type_network_and_tenant_from_its_parent() {
    let parent = id(1);
    let scenario = given(&[create(CreateBlock {
        network_id: some("net-a"),
        ..private(T1, "10.0.0.0/16")
    })]);
    let then = scenario.when(create(subnet(T1, parent, "10.0.1.1/24")));
    let e = then.then_block_created();
    assert_eq!(e.cidr.to_string(), "10.0.1.0/24");
    assert_eq!(e.parent_id, Some(parent));
    assert_eq!(e.block_type, BlockType::Private);
    assert_eq!(e.network_id.as_deref(), Some("net-a"));
    assert_eq!(e.tenant_id, T1);
    assert_eq!(e.gateway, Some(ip("10.0.1.1")));
    assert_eq!(e.dns1, Some(ip("8.8.8.8")));
}

/// On a shared log, the parent's stream is what two nodes carving it at once conflict on.
#[test]
fn a_subnet_moves_its_parents_stream() {
    let parent = id(1);
    let scenario = given(&[create(private(T1, "10.0.0.0/16"))]);
    let then = scenario.when(create(subnet(T1, parent, "10.0.1.0/24")));
    let streams: Vec<String> = then.events().iter().map(|e| e.stream()).collect();
    let child = then.then_block_created().block_id;
    assert_eq!(
        streams,
        [
            ipledger_domain::events::block_stream(child),
            ipledger_domain::events::block_stream(parent)
        ]
    );
}

#[test]
fn a_subnet_may_belong_to_another_tenant() {
    let parent = id(1);
    let command = CreateBlock {
        subnet_tenant: some(T2),
        ..subnet(T1, parent, "10.0.1.0/24")
    };
    let then = given(&[create(private(T1, "10.0.0.0/16"))]).when(create(command));
    assert_eq!(then.then_block_created().tenant_id, T2);
}

#[test]
fn a_subnet_ignores_a_policy_in_its_body() {
    let (policy, parent) = (id(1), id(2));
    let command = CreateBlock {
        policy_id: Some(policy.to_string()),
        ..subnet(T1, parent, "10.0.1.0/24")
    };
    let then =
        given(&[create_policy(T1, "p"), create(private(T1, "10.0.0.0/16"))]).when(create(command));
    assert_eq!(then.then_block_created().policy_id, None);
}

#[test]
fn a_subnet_lies_within_its_parent() {
    let parent = id(1);
    given(&[create(private(T1, "10.0.0.0/24"))])
        .when(create(subnet(T1, parent, "10.0.1.0/28")))
        .then_rejected(invalid(&[(
            "cidr",
            &["cidr should be within parent block's cidr"],
        )]));
    given(&[create(private(T1, "10.0.0.0/24"))])
        .when(create(subnet(T1, parent, "10.0.0.0/16")))
        .then_rejected(invalid(&[(
            "cidr",
            &["cidr should be within parent block's cidr"],
        )]));
}

#[test]
fn sibling_subnets_never_overlap() {
    let parent = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/24")),
        create(subnet(T1, parent, "10.0.0.0/26")),
    ]);
    scenario
        .when(create(subnet(T1, parent, "10.0.0.32/27")))
        .then_rejected(invalid(&[(
            "cidr",
            &["cidr overlaps with sibling 10.0.0.0/26"],
        )]));
    scenario
        .when(create(subnet(T1, parent, "10.0.0.64/26")))
        .then_block_created();
}

#[test]
fn subnets_nest() {
    let (root, child) = (id(1), id(2));
    let scenario = given(&[
        create(private(T1, "10.0.0.0/16")),
        create(subnet(T1, root, "10.0.1.0/24")),
    ]);
    let then = scenario.when(create(subnet(T1, child, "10.0.1.0/28")));
    assert_eq!(then.then_block_created().parent_id, Some(child));
}

#[test]
fn a_public_block_can_be_subnetted() {
    // Decision 3: Melange's public-overlap check hit the subnet's own parent, so a public
    // block could never be subnetted; ipledger applies that rule to root blocks only.
    let parent = id(1);
    let then =
        given(&[create(public(T1, "10.0.0.0/24"))]).when(create(subnet(T1, parent, "10.0.0.0/26")));
    let e = then.then_block_created();
    assert_eq!(e.block_type, BlockType::Public);
    assert_eq!(e.parent_id, Some(parent));
}

#[test]
fn a_parent_holding_addresses_cannot_be_subnetted() {
    let parent = id(1);
    let refused = invalid(&[(
        "parent_id",
        &["parent is not subnettable since it has allocated ips"],
    )]);
    let scenario = given(&[create(private(T1, "10.0.0.0/24")), allocate(T1, parent)]);
    scenario
        .when(create(subnet(T1, parent, "10.0.0.128/25")))
        .then_rejected(refused.clone());
    // A soft-deallocated address still counts: it is an address row until purged.
    let scenario = scenario.and(&[deallocate(T1, parent, "10.0.0.2")]);
    scenario
        .when(create(subnet(T1, parent, "10.0.0.128/25")))
        .then_rejected(refused);
}

#[test]
fn a_subnets_network_is_its_parents() {
    let parent = id(1);
    let scenario = given(&[create(CreateBlock {
        network_id: some("net-a"),
        ..private(T1, "10.0.0.0/16")
    })]);
    let elsewhere = CreateBlock {
        network_id: some("net-b"),
        ..subnet(T1, parent, "10.0.1.0/24")
    };
    scenario.when(create(elsewhere)).then_rejected(invalid(&[(
        "network_id",
        &["network_id should be same as that of parent"],
    )]));
}

#[test]
fn a_subnet_of_a_parent_without_network_may_pick_one() {
    let parent = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/16")),
        create(CreateBlock {
            network_id: some("net-b"),
            ..private(T2, "10.0.2.0/24")
        }),
    ]);
    let command = CreateBlock {
        network_id: some("net-b"),
        ..subnet(T1, parent, "10.0.1.0/24")
    };
    assert_eq!(
        scenario
            .when(create(command))
            .then_block_created()
            .network_id
            .as_deref(),
        Some("net-b")
    );
    // It is top level in net-b, so it must not overlap net-b's other top-level blocks.
    let command = CreateBlock {
        network_id: some("net-b"),
        ..subnet(T1, parent, "10.0.2.0/25")
    };
    scenario.when(create(command)).then_rejected(invalid(&[(
        "cidr",
        &["cidr overlaps with block 10.0.2.0/24 in same network"],
    )]));
}

#[test]
fn a_subnet_is_created_under_its_parent_owners_path_only() {
    given(&[create(private(T1, "10.0.0.0/16"))])
        .when(create(subnet(T2, id(1), "10.0.1.0/24")))
        .then_rejected(not_found());
}
