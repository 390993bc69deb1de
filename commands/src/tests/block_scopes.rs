//! The guards of the overlap rules that read other blocks (melange-semantics.md §1, rules 1
//! and 4): a block entering a network's top level or the public space claims the scope's
//! stream, so two nodes placing blocks there at once conflict on it (issue 12).

use ipledger_domain::events::{block_stream, claim_stream, ClaimScope};

use super::given::*;
use crate::command::{Command, CreateBlock, UpdateBlock};

fn net(network: &str) -> ClaimScope {
    ClaimScope::Network(network.into())
}

/// The streams the decision writes to, in order.
fn streams(then: &Then) -> Vec<String> {
    then.events().iter().map(|e| e.stream()).collect()
}

#[test]
fn a_top_level_block_of_a_network_claims_the_networks_stream_whatever_its_tenant() {
    let scenario = given(&[net_block(T1, "10.0.0.0/24", "net-a")]);
    let then = scenario.when(net_block(T2, "10.0.1.0/24", "net-a"));
    let block = then.then_block_created().block_id;
    assert_eq!(then.then_claims(), [net("net-a")]);
    // No tenant in the key: rule 4 holds across tenants.
    assert_eq!(
        streams(&then),
        [block_stream(block), "network-net-a".to_string()]
    );
}

#[test]
fn a_public_root_claims_the_public_space_and_its_network() {
    let then = given(&[]).when(create(public(T1, "192.0.2.0/24")));
    let block = then.then_block_created().block_id;
    assert_eq!(then.then_claims(), [ClaimScope::Public]);
    assert_eq!(
        streams(&then),
        [block_stream(block), "public-blocks".to_string()]
    );
    let in_network = CreateBlock {
        network_id: some("net-p"),
        ..public(T2, "198.51.100.0/24")
    };
    let then = given(&[]).when(create(in_network));
    then.then_block_created();
    assert_eq!(then.then_claims(), [net("net-p"), ClaimScope::Public]);
}

/// Rule 5: private blocks with no network may overlap anything, so they read no scope.
#[test]
fn a_private_block_without_network_claims_nothing() {
    let then = given(&[]).when(create(private(T1, "10.0.0.0/24")));
    then.then_block_created();
    assert_eq!(then.then_claims(), []);
}

/// A subnet in its parent's network is not top level there: its parent's stream guards it
/// (`SubnetAdded`). One whose parent has no network is top level in its own.
#[test]
fn a_subnet_claims_its_network_only_when_top_level_there() {
    let parent = id(1);
    let scenario = given(&[net_block(T1, "10.0.0.0/16", "net-a")]);
    let then = scenario.when(create(subnet(T1, parent, "10.0.1.0/24")));
    then.then_block_created();
    assert_eq!(then.then_claims(), []);

    let scenario = given(&[create(private(T1, "10.0.0.0/16"))]);
    let own = CreateBlock {
        network_id: some("net-b"),
        ..subnet(T1, parent, "10.0.1.0/24")
    };
    let then = scenario.when(create(own));
    let child = then.then_block_created().block_id;
    assert_eq!(
        streams(&then),
        [
            block_stream(child),
            block_stream(parent),
            claim_stream(&net("net-b"))
        ]
    );
}

#[test]
fn an_update_claims_the_scopes_it_moves_the_block_into() {
    let block = id(1);
    let scenario = given(&[create(private(T1, "10.0.0.0/24"))]);
    let moved = UpdateBlock {
        network_id: Some(some("net-a")),
        ..update(T1, block)
    };
    let then = scenario.when(Command::UpdateBlock(moved));
    then.then_block_updated();
    assert_eq!(then.then_claims(), [net("net-a")]);

    let turned = UpdateBlock {
        block_type: some("public"),
        ..update(T1, block)
    };
    let then = scenario.when(Command::UpdateBlock(turned));
    then.then_block_updated();
    assert_eq!(then.then_claims(), [ClaimScope::Public]);
}

/// Fields no scope reads are the block's own: its stream guards them.
#[test]
fn an_update_that_keeps_network_and_type_claims_nothing() {
    let block = id(1);
    let scenario = given(&[net_block(T1, "10.0.0.0/24", "net-a")]);
    let same = UpdateBlock {
        network_id: Some(some("net-a")),
        dns1: Some(some("1.1.1.1")),
        ..update(T1, block)
    };
    let then = scenario.when(Command::UpdateBlock(same));
    then.then_block_updated();
    assert_eq!(then.then_claims(), []);
}
