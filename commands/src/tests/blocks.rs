//! Creating IP blocks: normalisation, defaults, field validation and the overlap rules
//! (melange-semantics.md §1 with decisions 1–3).

use ipledger_domain::events::*;
use ipledger_domain::records::{BlockRecord, BlockType, Reply};
use ipledger_domain::Event;

use super::given::*;
use crate::command::CreateBlock;

// Create: normalisation, defaults, field validation.

#[test]
fn a_block_is_created_with_its_cidr_normalised_to_the_network_address() {
    let then = given(&[]).when(create(private(T1, "10.0.0.1/31")));
    let expected = BlockCreated {
        block_id: id(1),
        tenant_id: T1.into(),
        cidr: "10.0.0.0/31".parse().unwrap(),
        block_type: BlockType::Private,
        network_id: None,
        policy_id: None,
        gateway: Some(ip("10.0.0.1")),
        dns1: Some(ip("8.8.8.8")),
        dns2: Some(ip("8.8.4.4")),
        parent_id: None,
        created_at: now(),
        ipv6_generator: None,
    };
    then.then_events(&[Event::BlockCreated(expected.clone())]);
    let record = BlockRecord {
        id: id(1),
        tenant_id: T1.into(),
        cidr: expected.cidr,
        block_type: BlockType::Private,
        network_id: None,
        policy_id: None,
        gateway: expected.gateway,
        dns1: expected.dns1,
        dns2: expected.dns2,
        parent_id: None,
        created_at: now(),
        updated_at: now(),
        ipv6_generator: None,
    };
    assert_eq!(then.decision().reply, Reply::Block(record));
}

#[test]
fn ipv6_blocks_are_normalised_and_compressed() {
    let then = given(&[]).when(create(public(T1, "FE::1/64")));
    let e = then.then_block_created();
    assert_eq!(e.cidr.to_string(), "fe::/64");
    assert_eq!(e.gateway, Some(ip("fe::1")));
    assert_eq!(e.block_type, BlockType::Public);
}

#[test]
fn a_missing_cidr_and_type_are_reported_together_with_melanges_messages() {
    // Guards against a missing cidr getting a message of our own: Melange's
    // IPNetwork(None) fails like any other bad cidr, so the answer is "cidr is invalid".
    let empty = CreateBlock {
        tenant: T1.into(),
        ..Default::default()
    };
    given(&[]).when(create(empty)).then_rejected(invalid(&[
        ("cidr", &["cidr is invalid"]),
        ("type", &["type should be one among public, private"]),
    ]));
    let blank = CreateBlock {
        cidr: some(""),
        block_type: some(""),
        ..private(T1, "")
    };
    given(&[]).when(create(blank)).then_rejected(invalid(&[
        ("cidr", &["cidr is invalid"]),
        ("type", &["type should be one among public, private"]),
    ]));
}

#[test]
fn an_invalid_cidr_and_type_are_reported_together() {
    for cidr in ["10.0.0.0/33", "abc", "10.0.0.256/24", "fe::/129"] {
        let command = CreateBlock {
            block_type: some("shared"),
            ..private(T1, cidr)
        };
        given(&[]).when(create(command)).then_rejected(invalid(&[
            ("cidr", &["cidr is invalid"]),
            ("type", &["type should be one among public, private"]),
        ]));
    }
}

#[test]
fn every_field_error_is_collected_in_one_rejection() {
    let command = CreateBlock {
        block_type: some("shared"),
        gateway: some("not-an-ip"),
        policy_id: some("no-such-policy"),
        ..private(T1, "10.0.0.0/99")
    };
    given(&[]).when(create(command)).then_rejected(invalid(&[
        ("cidr", &["cidr is invalid"]),
        ("gateway", &["Gateway is not a valid address"]),
        (
            "policy_id",
            &["Policy with id no-such-policy doesn't exist"],
        ),
        ("type", &["type should be one among public, private"]),
    ]));
}

#[test]
fn the_gateway_defaults_to_the_second_address_when_the_block_has_more_than_one() {
    let cases = [
        ("10.0.0.0/24", Some("10.0.0.1")),
        ("10.0.0.0/30", Some("10.0.0.1")),
        ("10.0.0.4/31", Some("10.0.0.5")),
        ("10.0.0.7/32", None),
        ("fe::/64", Some("fe::1")),
        ("fe::5/128", None),
    ];
    for (cidr, gateway) in cases {
        let then = given(&[]).when(create(private(T1, cidr)));
        assert_eq!(then.then_block_created().gateway, gateway.map(ip), "{cidr}");
    }
}

#[test]
fn a_given_gateway_is_kept_and_need_not_lie_in_the_block() {
    let command = CreateBlock {
        gateway: some("192.168.7.7"),
        ..private(T1, "10.0.0.0/24")
    };
    let then = given(&[]).when(create(command));
    assert_eq!(then.then_block_created().gateway, Some(ip("192.168.7.7")));
}

#[test]
fn an_unparsable_gateway_is_refused() {
    let command = CreateBlock {
        gateway: some("10.0.0.300"),
        ..private(T1, "10.0.0.0/24")
    };
    given(&[])
        .when(create(command))
        .then_rejected(invalid(&[("gateway", &["Gateway is not a valid address"])]));
}

#[test]
fn dns_servers_default_to_the_configured_ones() {
    let then = given(&[]).when(create(private(T1, "10.0.0.0/24")));
    let e = then.then_block_created();
    assert_eq!((e.dns1, e.dns2), (Some(ip("8.8.8.8")), Some(ip("8.8.4.4"))));

    let given_dns = CreateBlock {
        dns1: some("1.1.1.1"),
        dns2: some(""),
        ..private(T1, "10.0.0.0/24")
    };
    let then = given(&[]).when(create(given_dns));
    let e = then.then_block_created();
    assert_eq!((e.dns1, e.dns2), (Some(ip("1.1.1.1")), Some(ip("8.8.4.4"))));
}

#[test]
fn the_policy_must_exist() {
    let unknown = id(99).to_string();
    let command = CreateBlock {
        policy_id: Some(unknown.clone()),
        ..private(T1, "10.0.0.0/24")
    };
    let message = format!("Policy with id {unknown} doesn't exist");
    given(&[])
        .when(create(command))
        .then_rejected(invalid(&[("policy_id", &[message.as_str()])]));

    let policy = id(1);
    let command = CreateBlock {
        policy_id: Some(policy.to_string()),
        ..private(T1, "10.0.0.0/24")
    };
    let then = given(&[create_policy(T1, "p")]).when(create(command));
    assert_eq!(then.then_block_created().policy_id, Some(policy));
}

#[test]
fn another_tenants_policy_cannot_be_used() {
    // Melange checked only that the policy exists (melange-semantics.md §1); ipledger keeps
    // tenants apart and treats another tenant's policy as unknown.
    let policy = id(1);
    let command = CreateBlock {
        policy_id: Some(policy.to_string()),
        ..private(T2, "10.0.0.0/24")
    };
    let message = format!("Policy with id {policy} doesn't exist");
    given(&[create_policy(T1, "p")])
        .when(create(command))
        .then_rejected(invalid(&[("policy_id", &[message.as_str()])]));
}

// Overlap rules.

#[test]
fn public_root_blocks_never_overlap_even_across_tenants() {
    let scenario = given(&[create(public(T1, "10.0.0.0/16"))]);
    let refused = invalid(&[("cidr", &["cidr overlaps with public block 10.0.0.0/16"])]);
    scenario
        .when(create(public(T2, "10.0.1.0/24")))
        .then_rejected(refused.clone());
    scenario
        .when(create(public(T2, "10.0.0.0/8")))
        .then_rejected(refused.clone());
    scenario
        .when(create(public(T1, "10.0.0.0/16")))
        .then_rejected(refused);
    scenario
        .when(create(public(T2, "10.1.0.0/16")))
        .then_block_created();
}

#[test]
fn public_ipv6_root_blocks_never_overlap() {
    given(&[create(public(T1, "fe::/64"))])
        .when(create(public(T2, "fe::/96")))
        .then_rejected(invalid(&[(
            "cidr",
            &["cidr overlaps with public block fe::/64"],
        )]));
}

#[test]
fn private_blocks_overlap_freely_outside_a_shared_network() {
    let scenario = given(&[
        create(CreateBlock {
            network_id: some("net-a"),
            ..private(T1, "10.0.0.0/24")
        }),
        create(public(T1, "172.16.0.0/16")),
    ]);
    // Another network, no network, another tenant, and over a public block.
    scenario
        .when(create(CreateBlock {
            network_id: some("net-b"),
            ..private(T1, "10.0.0.0/24")
        }))
        .then_block_created();
    scenario
        .when(create(private(T1, "10.0.0.0/25")))
        .then_block_created();
    scenario
        .when(create(private(T2, "10.0.0.0/24")))
        .then_block_created();
    scenario
        .when(create(private(T2, "172.16.1.0/24")))
        .then_block_created();
}

#[test]
fn top_level_blocks_of_one_network_never_overlap_even_across_tenants() {
    let scenario = given(&[create(CreateBlock {
        network_id: some("net-a"),
        ..private(T1, "10.0.0.0/24")
    })]);
    let overlapping = CreateBlock {
        network_id: some("net-a"),
        ..private(T2, "10.0.0.128/25")
    };
    scenario.when(create(overlapping)).then_rejected(invalid(&[(
        "cidr",
        &["cidr overlaps with block 10.0.0.0/24 in same network"],
    )]));
    let disjoint = CreateBlock {
        network_id: some("net-a"),
        ..private(T2, "10.0.1.0/24")
    };
    scenario.when(create(disjoint)).then_block_created();
}

#[test]
fn blocks_of_one_network_have_one_type_across_tenants() {
    let scenario = given(&[create(CreateBlock {
        network_id: some("net-a"),
        ..private(T1, "10.0.0.0/24")
    })]);
    let other_type = CreateBlock {
        network_id: some("net-a"),
        ..public(T2, "20.0.0.0/24")
    };
    scenario.when(create(other_type)).then_rejected(invalid(&[(
        "type",
        &["type should be same within a network"],
    )]));
}
