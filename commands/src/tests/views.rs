//! The read queries over a state built by deciding commands: tenant scoping, filters and
//! limit/marker pagination (decision 23).

use ipledger_domain::records::BlockType;
use ipledger_projections::page::PageRequest;
use uuid::Uuid;

use super::given::*;
use crate::command::{AllocateAddress, Command};

fn page(limit: usize, marker: Option<Uuid>) -> PageRequest {
    PageRequest { limit, marker }
}

fn allocate_for(block: Uuid, address: &str, lessee: &str, device: &str) -> Command {
    Command::AllocateAddress(AllocateAddress {
        address: Some(ip(address)),
        used_by_tenant: some(lessee),
        used_by_device: some(device),
        ..allocation(T1, block)
    })
}

/// Blocks 1–5 belong to T1 (2 and 4 public), block 6 to T2.
fn six_blocks() -> Scenario {
    given(&[
        create(private(T1, "10.0.1.0/24")),
        create(public(T1, "20.0.2.0/24")),
        create(private(T1, "10.0.3.0/24")),
        create(public(T1, "20.0.4.0/24")),
        create(private(T1, "10.0.5.0/24")),
        create(private(T2, "10.0.6.0/24")),
    ])
}

#[test]
fn blocks_are_listed_per_tenant_in_id_order() {
    let scenario = six_blocks();
    let listed = scenario.state.list_blocks(T1, None, PageRequest::default());
    let ids: Vec<Uuid> = listed.items.iter().map(|b| b.id).collect();
    assert_eq!(ids, [id(1), id(2), id(3), id(4), id(5)]);
    assert_eq!(listed.next_marker, None);
    let theirs = scenario.state.list_blocks(T2, None, PageRequest::default());
    assert_eq!(
        theirs.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        [id(6)]
    );
}

#[test]
fn blocks_are_paged_with_a_marker_only_while_more_remain() {
    let state = six_blocks().state;
    let first = state.list_blocks(T1, None, page(2, None));
    assert_eq!(
        first.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        [id(1), id(2)]
    );
    assert_eq!(first.next_marker, Some(id(2)));
    let second = state.list_blocks(T1, None, page(2, first.next_marker));
    assert_eq!(
        second.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        [id(3), id(4)]
    );
    assert_eq!(second.next_marker, Some(id(4)));
    let last = state.list_blocks(T1, None, page(2, second.next_marker));
    assert_eq!(last.items.iter().map(|b| b.id).collect::<Vec<_>>(), [id(5)]);
    assert_eq!(last.next_marker, None);
    // A page that ends exactly on the last item has no next marker either.
    let exact = state.list_blocks(T1, None, page(3, Some(id(2))));
    assert_eq!(exact.items.len(), 3);
    assert_eq!(exact.next_marker, None);
    // A marker need not name an item: the page starts after it.
    let from_nil = state.list_blocks(T1, None, page(10, Some(Uuid::nil())));
    assert_eq!(from_nil.items.len(), 5);
    let past_the_end = state.list_blocks(T1, None, page(10, Some(id(100))));
    assert!(past_the_end.items.is_empty());
}

#[test]
fn blocks_are_filtered_by_type_before_paging() {
    let state = six_blocks().state;
    let public = state.list_blocks(T1, Some(BlockType::Public), page(1, None));
    assert_eq!(
        public.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        [id(2)]
    );
    assert_eq!(public.next_marker, Some(id(2)));
    let rest = state.list_blocks(T1, Some(BlockType::Public), page(1, public.next_marker));
    assert_eq!(rest.items.iter().map(|b| b.id).collect::<Vec<_>>(), [id(4)]);
    assert_eq!(rest.next_marker, None);
    let private = state.list_blocks(T1, Some(BlockType::Private), PageRequest::default());
    assert_eq!(
        private.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        [id(1), id(3), id(5)]
    );
}

#[test]
fn a_tenant_sees_only_its_own_blocks_and_policies() {
    let scenario = given(&[create(private(T1, "10.0.0.0/24")), create_policy(T1, "p")]);
    assert!(scenario.state.block_of(T1, id(1)).is_some());
    assert!(scenario.state.block_of(T2, id(1)).is_none());
    assert!(scenario.state.policy_of(T2, id(2)).is_none());
    assert_eq!(
        scenario
            .state
            .list_policies(T1, PageRequest::default())
            .items
            .len(),
        1
    );
    assert!(scenario
        .state
        .list_policies(T2, PageRequest::default())
        .items
        .is_empty());
}

#[test]
fn subnets_are_listed_whatever_their_tenant() {
    let parent = id(1);
    let scenario = given(&[
        create(private(T1, "10.0.0.0/16")),
        create(subnet(T1, parent, "10.0.1.0/24")),
        create(crate::command::CreateBlock {
            subnet_tenant: some(T2),
            ..subnet(T1, parent, "10.0.2.0/24")
        }),
    ]);
    let state = &scenario.state;
    let subnets = state.subnets(&state.block(parent).expect("block"));
    assert_eq!(
        subnets.iter().map(|b| b.id).collect::<Vec<_>>(),
        [id(2), id(3)]
    );
}

/// Block 1 (T1) with addresses leased to T1 and T2 on devices d1/d2; one of T1's is
/// deallocated.
fn leased() -> Scenario {
    let block = id(1);
    given(&[
        create(private(T1, "30.1.1.0/24")),
        allocate_for(block, "30.1.1.2", T1, "d1"), // id 2
        allocate_for(block, "30.1.1.3", T2, "d2"), // id 3
        allocate_for(block, "30.1.1.4", T1, "d2"), // id 4
        allocate_for(block, "30.1.1.5", T1, "d1"), // id 5
        deallocate(T1, block, "30.1.1.5"),
    ])
}

fn addresses(
    page: &ipledger_projections::Page<&ipledger_domain::records::AddressRecord>,
) -> Vec<String> {
    page.items.iter().map(|a| a.address.to_string()).collect()
}

#[test]
fn allocated_addresses_are_listed_by_lessee_without_deallocated_ones() {
    let state = leased().state;
    let t1 = state.allocated_addresses(Some(T1), None, PageRequest::default());
    assert_eq!(addresses(&t1), ["30.1.1.2", "30.1.1.4"]);
    let t2 = state.allocated_addresses(Some(T2), None, PageRequest::default());
    assert_eq!(addresses(&t2), ["30.1.1.3"]);
    let everyone = state.allocated_addresses(None, None, PageRequest::default());
    assert_eq!(addresses(&everyone), ["30.1.1.2", "30.1.1.3", "30.1.1.4"]);
}

#[test]
fn allocated_addresses_are_filtered_by_device() {
    let state = leased().state;
    let d1 = state.allocated_addresses(None, Some("d1"), PageRequest::default());
    assert_eq!(addresses(&d1), ["30.1.1.2"]);
    let t1_d2 = state.allocated_addresses(Some(T1), Some("d2"), PageRequest::default());
    assert_eq!(addresses(&t1_d2), ["30.1.1.4"]);
    assert!(state
        .allocated_addresses(Some(T2), Some("d1"), PageRequest::default())
        .items
        .is_empty());
}

#[test]
fn allocated_addresses_are_paged() {
    let state = leased().state;
    let first = state.allocated_addresses(None, None, page(2, None));
    assert_eq!(addresses(&first), ["30.1.1.2", "30.1.1.3"]);
    assert_eq!(first.next_marker, Some(id(3)));
    let rest = state.allocated_addresses(None, None, page(2, first.next_marker));
    assert_eq!(addresses(&rest), ["30.1.1.4"]);
    assert_eq!(rest.next_marker, None);
    let t1 = state.allocated_addresses(Some(T1), None, page(1, None));
    assert_eq!(
        (addresses(&t1), t1.next_marker),
        (vec!["30.1.1.2".to_string()], Some(id(2)))
    );
    let t1_rest = state.allocated_addresses(Some(T1), None, page(1, t1.next_marker));
    assert_eq!(
        (addresses(&t1_rest), t1_rest.next_marker),
        (vec!["30.1.1.4".to_string()], None)
    );
}

#[test]
fn a_restored_address_is_listed_again() {
    let state = leased().and(&[restore(T1, id(1), "30.1.1.5")]).state;
    let t1 = state.allocated_addresses(Some(T1), Some("d1"), PageRequest::default());
    assert_eq!(addresses(&t1), ["30.1.1.2", "30.1.1.5"]);
}

#[test]
fn a_blocks_addresses_include_deallocated_ones() {
    let state = leased().state;
    let block = &state.block(id(1)).expect("block");
    let listed = state.block_addresses(block, PageRequest::default()).owned();
    let listed = ipledger_projections::Page {
        items: listed.items.iter().collect(),
        next_marker: listed.next_marker,
    };
    assert_eq!(
        addresses(&listed),
        ["30.1.1.2", "30.1.1.3", "30.1.1.4", "30.1.1.5"]
    );
    assert!(listed.items[3].deallocated_at.is_some());
    let shown = state
        .address_in(block, ip("30.1.1.5"))
        .expect("a deallocated address is shown");
    assert_eq!(shown.used_by_tenant, T1);
}
