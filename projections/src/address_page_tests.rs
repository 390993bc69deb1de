//! The address listings cost O(log n + page), not O(block): one reader paging a /12 with a
//! million addresses used to sort every record of the block per page (0.17–0.21 s, under the
//! views' read lock, which stalled the writer), and a `used_by_device` filter scanned every
//! live address of the tenant. These tests count the records a page visits
//! (`RECORDS_VISITED`) and check the pages against a plain model: ordered by id, the marker
//! being the last id of the previous page, filters applied before the limit.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{TimeZone, Utc};
use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::records::BlockType;
use ipledger_domain::Event;
use ipnet::{IpNet, Ipv4Net};
use uuid::Uuid;

use crate::page::PageRequest;
use crate::views::RECORDS_VISITED;
use crate::State;

/// Addresses in the test block: a full /12.
const N: u64 = 1 << 20;
/// How many of them (the ones with the largest ids) are used by the device the filter asks.
const ON_DEVICE: u64 = 25;
/// What a seek may visit beyond the page: the look-ahead item plus a margin far below n.
const SEEK_SLACK: usize = 1 + 20;

/// A bijection of `0..N` that scatters ids over the offsets, so id order is not address order.
fn perm(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B1) % N
}

fn id_of(i: u64) -> Uuid {
    Uuid::from_u64_pair(perm(i), i)
}

fn device_of(i: u64) -> Option<String> {
    (perm(i) >= N - ON_DEVICE).then(|| "dev-x".to_string())
}

fn million() -> (State, Uuid) {
    let mut state = State::default();
    let block_id = Uuid::from_u64_pair(u64::MAX, 0);
    let cidr = IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), 12).unwrap());
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    state.apply_event(&Event::BlockCreated(BlockCreated {
        block_id,
        tenant_id: "t".into(),
        cidr,
        block_type: BlockType::Private,
        network_id: None,
        policy_id: None,
        gateway: None,
        dns1: None,
        dns2: None,
        parent_id: None,
        created_at: at,
        ipv6_generator: None,
    }));
    for i in 0..N {
        state.apply_event(&Event::AddressAllocated(AddressAllocated {
            block_id,
            address_id: id_of(i),
            address: block::address_at(&cidr, u128::from(i)),
            interface_id: None,
            used_by_tenant: "t".into(),
            used_by_device: device_of(i),
            mac_address: None,
            allocated_at: at,
        }));
    }
    (state, block_id)
}

/// Runs `f` and returns its result with the number of address records it visited.
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize) {
    RECORDS_VISITED.with(|c| c.set(0));
    let out = f();
    (out, RECORDS_VISITED.with(|c| c.get()))
}

fn page(limit: usize, marker: Option<Uuid>) -> PageRequest {
    PageRequest { limit, marker }
}

#[test]
fn listings_of_a_million_address_block_seek_instead_of_scanning() {
    let (state, block_id) = million();
    let b = state.block(block_id).expect("the block");
    let mut all_ids: Vec<Uuid> = (0..N).map(id_of).collect();
    all_ids.sort_unstable();

    // The first page: the smallest ids, in id order, with the last one as the next marker.
    let (first, visited) = counted(|| state.block_addresses(b, page(1000, None)));
    let ids: Vec<Uuid> = first.items.iter().map(|a| a.id).collect();
    assert_eq!(ids, all_ids[..1000]);
    assert_eq!(first.next_marker, Some(all_ids[999]));
    assert!(visited <= 1000 + SEEK_SLACK, "first page visited {visited}");

    // A far marker: the page starts right after it, whatever the block holds before it.
    let far = all_ids[all_ids.len() - 3];
    let (tail, visited) = counted(|| state.block_addresses(b, page(1, Some(far))));
    assert_eq!(tail.items[0].id, all_ids[all_ids.len() - 2]);
    assert_eq!(tail.next_marker, Some(all_ids[all_ids.len() - 2]));
    assert!(visited <= 1 + SEEK_SLACK, "far page visited {visited}");
    let (last, _) = counted(|| state.block_addresses(b, page(5, tail.next_marker)));
    assert_eq!(last.items.len(), 1);
    assert_eq!(last.next_marker, None);

    // A marker that names no address of the block starts after where it would sort.
    let between = Uuid::from_u64_pair(perm(7), u64::MAX);
    let (after, _) = counted(|| state.block_addresses(b, page(1, Some(between))));
    let expected = all_ids.iter().find(|id| **id > between).copied();
    assert_eq!(after.items.first().map(|a| a.id), expected);

    // The device filter: only the few addresses on the device, with the largest ids.
    let device_ids: Vec<Uuid> = all_ids[all_ids.len() - ON_DEVICE as usize..].to_vec();
    for tenant in [Some("t"), None] {
        let (p1, visited) =
            counted(|| state.allocated_addresses(tenant, Some("dev-x"), page(10, None)));
        let got: Vec<Uuid> = p1.items.iter().map(|a| a.id).collect();
        assert_eq!(got, device_ids[..10], "tenant {tenant:?}");
        assert_eq!(p1.next_marker, Some(device_ids[9]));
        assert!(visited <= 10 + SEEK_SLACK, "device page visited {visited}");
        let (p3, visited) = counted(|| {
            state.allocated_addresses(tenant, Some("dev-x"), page(10, Some(device_ids[19])))
        });
        let got: Vec<Uuid> = p3.items.iter().map(|a| a.id).collect();
        assert_eq!(got, device_ids[20..]);
        assert_eq!(p3.next_marker, None);
        assert!(visited <= 10 + SEEK_SLACK, "device page visited {visited}");
    }
    let (other, _) =
        counted(|| state.allocated_addresses(Some("u"), Some("dev-x"), page(10, None)));
    assert!(other.items.is_empty(), "another lessee sees none");

    // Without a filter, the allocated list seeks too.
    let (p, visited) =
        counted(|| state.allocated_addresses(Some("t"), None, page(2, Some(all_ids[500_000]))));
    let got: Vec<Uuid> = p.items.iter().map(|a| a.id).collect();
    assert_eq!(got, all_ids[500_001..500_003]);
    assert!(
        visited <= 2 + SEEK_SLACK,
        "allocated page visited {visited}"
    );

    // Looking one address up goes through the block's offsets.
    let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2));
    assert_eq!(
        state.address_in(b, addr).map(|a| a.address),
        Some(addr),
        "address_in"
    );
}
