//! Resource pools (issue 9 §2): creation rules, address and prefix allocation with each
//! strategy, idempotency by identifier, batches all or nothing, release, and the conflicts
//! with Melange (a pool's address or block is released through the pool only).

use ipledger_domain::events::{AddressAllocated, BlockCreated};
use ipledger_domain::pools::PoolAllocationRecord;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};
use uuid::Uuid;

use super::given::*;
use crate::command::Command;
use crate::command_pools::{AllocateFromPool, CreatePool, PoolRequest, UpdatePool};

fn pool(kind: &str, resources: &[Uuid]) -> CreatePool {
    CreatePool {
        owner: None,
        name: some("p"),
        kind: some(kind),
        tenant_id: some(T1),
        resources: Some(resources.iter().map(Uuid::to_string).collect()),
        ..CreatePool::default()
    }
}

fn ask(identifier: Option<&str>, prefix_length: Option<i64>) -> PoolRequest {
    PoolRequest {
        identifier: identifier.map(str::to_string),
        prefix_length,
        ..PoolRequest::default()
    }
}

fn allocate(pool_id: Uuid, requests: Vec<PoolRequest>) -> Command {
    Command::AllocateFromPool(AllocateFromPool {
        owner: None,
        pool_id,
        requests,
    })
}

/// Runs a given command and returns what it created: the block's or the pool's id.
fn made(s: &mut Scenario, command: Command) -> Uuid {
    match s.run(&command).expect("accepted").reply {
        Reply::Block(b) => b.id,
        Reply::Pool(p) => p.id,
        other => panic!("unexpected {other:?}"),
    }
}

fn allocations(s: &mut Scenario, command: Command) -> Vec<(PoolAllocationRecord, bool)> {
    match s.run(&command) {
        Ok(d) => d.reply.into_pool_allocations().expect("allocations"),
        Err(r) => panic!("rejected: {r:?}"),
    }
}

fn one(s: &mut Scenario, pool_id: Uuid, request: PoolRequest) -> PoolAllocationRecord {
    allocations(s, allocate(pool_id, vec![request])).remove(0).0
}

fn shown(a: &PoolAllocationRecord) -> String {
    match (a.address, a.prefix) {
        (Some(ip), _) => format!("{ip}/{}", a.prefix_length),
        (_, Some(net)) => net.to_string(),
        _ => panic!("an allocation without address or prefix"),
    }
}

/// A scenario with tenant 1's block `cidr` and an address pool over it.
fn address_pool(cidr: &str) -> (Scenario, Uuid, Uuid) {
    let mut s = given(&[]);
    let b = made(&mut s, create(private(T1, cidr)));
    let p = made(&mut s, Command::CreatePool(pool("address", &[b])));
    (s, b, p)
}

#[test]
fn creation_checks_every_field_at_once() {
    let mut s = given(&[]);
    let mine = made(&mut s, create(private(T1, "10.0.0.0/24")));
    let theirs = made(&mut s, create(private(T2, "10.1.0.0/24")));
    let v6 = made(&mut s, create(private(T1, "fd00::/64")));
    let mut c = pool("address", &[mine, theirs, mine, v6]);
    c.zone = some("Fr_Par");
    c.strategy = some("best_fit");
    c.default_prefix_length = Some(200);
    let Err(Rejection::Invalid(errors)) = s.run(&Command::CreatePool(c)) else {
        panic!("expected a 400");
    };
    let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        ["default_prefix_length", "resources", "strategy", "zone"]
    );
    assert_eq!(errors["resources"].len(), 3, "{errors:?}");
    let mut c = pool("subnet", &[]);
    c.name = None;
    let Err(Rejection::Invalid(errors)) = s.run(&Command::CreatePool(c)) else {
        panic!("expected a 400");
    };
    assert!(errors.contains_key("kind") && errors.contains_key("name"));
    assert!(errors.contains_key("resources"));
}

#[test]
fn an_address_pool_hands_out_what_melange_would_then_the_next() {
    let (mut s, b, p) = address_pool("10.0.0.0/29");
    let melange = s
        .when(Command::AllocateAddress(crate::command::AllocateAddress {
            tenant: T1.into(),
            block_id: b,
            ..Default::default()
        }))
        .decision()
        .clone();
    let Reply::Address(expected) = melange.reply else {
        panic!("an address");
    };
    let a = one(&mut s, p, ask(Some("vm-1"), None));
    assert_eq!(a.address, Some(expected.address));
    assert_eq!(shown(&a), format!("{}/29", expected.address));
    let b2 = one(&mut s, p, ask(Some("vm-2"), Some(24)));
    assert_ne!(b2.address, a.address);
    assert_eq!(b2.prefix_length, 24);
    let state = s.state.clone();
    assert_eq!(state.block(b).expect("block").live_allocations(), 2);
    assert_eq!(state.pool_of(None, p).expect("pool").allocations.len(), 2);
}

#[test]
fn the_last_strategy_takes_the_highest_address() {
    let (mut s, _, p) = address_pool("10.0.0.0/29");
    let mut r = ask(Some("top"), None);
    r.strategy = some("last");
    // .7 is the broadcast address, never handed out automatically.
    assert_eq!(shown(&one(&mut s, p, r.clone())), "10.0.0.6/29");
    r.identifier = some("next");
    assert_eq!(shown(&one(&mut s, p, r)), "10.0.0.5/29");
}

#[test]
fn one_identifier_is_one_allocation() {
    let (mut s, _, p) = address_pool("10.0.0.0/24");
    let mut r = ask(Some("vm-1"), None);
    r.data = some(r#"{"role":"db"}"#);
    let first = allocations(&mut s, allocate(p, vec![r.clone()]));
    assert!(first[0].1, "made by the first request");
    let then = s.when(allocate(p, vec![r.clone()]));
    assert!(then.events().is_empty(), "{:?}", then.events());
    let again = then
        .decision()
        .reply
        .clone()
        .into_pool_allocations()
        .unwrap();
    assert_eq!(again, vec![(first[0].0.clone(), false)]);
    let mut other = r.clone();
    other.data = some(r#"{"role":"web"}"#);
    let Err(Rejection::Conflict(why)) = s.run(&allocate(p, vec![other])) else {
        panic!("expected a 409");
    };
    assert!(why.contains("vm-1"), "{why}");
    let mut longer = r;
    longer.prefix_length = Some(16);
    assert!(matches!(
        s.run(&allocate(p, vec![longer])),
        Err(Rejection::Conflict(_))
    ));
}

#[test]
fn a_batch_is_all_or_nothing() {
    // 10.0.0.0/29 has five addresses to hand out (.2 to .6: .1 is the gateway).
    let (mut s, b, p) = address_pool("10.0.0.0/29");
    let six: Vec<PoolRequest> = (0..6).map(|i| ask(Some(&format!("h{i}")), None)).collect();
    assert!(matches!(
        s.clone().run(&allocate(p, six.clone())),
        Err(Rejection::Unprocessable(_))
    ));
    assert_eq!(s.state.block(b).unwrap().live_allocations(), 0);
    let five = allocations(&mut s, allocate(p, six[..5].to_vec()));
    let mut addresses: Vec<String> = five.iter().map(|(a, _)| shown(a)).collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 5);
    // The same identifier twice in one batch is one allocation.
    let (mut s, _, p) = address_pool("10.0.0.0/24");
    let twice = allocations(
        &mut s,
        allocate(p, vec![ask(Some("x"), None), ask(Some("x"), None)]),
    );
    assert_eq!(twice[0].0, twice[1].0);
    assert_eq!((twice[0].1, twice[1].1), (true, false));
    let too_many: Vec<PoolRequest> = (0..257).map(|_| ask(None, None)).collect();
    assert!(matches!(
        s.run(&allocate(p, too_many)),
        Err(Rejection::Invalid(_))
    ));
}

#[test]
fn release_frees_the_address_at_once_and_melange_cannot() {
    let (mut s, b, p) = address_pool("10.0.0.0/24");
    let a = one(&mut s, p, ask(Some("vm-1"), None));
    let address = a.address.unwrap();
    let dealloc = Command::DeallocateAddress {
        tenant: T1.into(),
        block_id: b,
        address,
    };
    let Err(Rejection::Conflict(why)) = s.run(&dealloc) else {
        panic!("Melange may not deallocate a pool's address");
    };
    assert_eq!(
        why,
        format!("Address is held by pool {p} allocation vm-1; release it through that surface")
    );
    assert!(matches!(
        s.run(&Command::DeletePool {
            owner: None,
            pool_id: p
        }),
        Err(Rejection::Conflict(_))
    ));
    let release = Command::ReleasePoolAllocation {
        owner: None,
        pool_id: p,
        identifier: "vm-1".into(),
    };
    let events = s.run(&release).expect("released").events;
    assert!(matches!(
        &events[..],
        [
            Event::PoolReleased(_),
            Event::AddressDeallocated(_),
            Event::AddressPurged(_)
        ]
    ));
    assert_eq!(s.state.block(b).unwrap().by_offset.len(), 0);
    assert_eq!(
        one(&mut s, p, ask(Some("vm-2"), None)).address,
        Some(address)
    );
    assert!(matches!(s.run(&release), Err(Rejection::NotFound(_))));
}

/// Tenant 1's 10.0.0.0/22 with Melange subnets 10.0.2.0/24 and 10.0.3.128/25: free are the
/// hole 10.0.0.0/23 and the smaller 10.0.3.0/25.
fn prefix_pool() -> (Scenario, Uuid, Uuid) {
    let mut s = given(&[]);
    let root = made(&mut s, create(private(T1, "10.0.0.0/22")));
    made(&mut s, create(subnet(T1, root, "10.0.2.0/24")));
    made(&mut s, create(subnet(T1, root, "10.0.3.128/25")));
    let p = made(&mut s, Command::CreatePool(pool("prefix", &[root])));
    (s, root, p)
}

#[test]
fn prefix_strategies_first_last_and_best_fit() {
    let (mut s, root, p) = prefix_pool();
    let mut r = ask(Some("a"), Some(26));
    r.strategy = some("best_fit");
    // The smallest hole that fits is 10.0.3.0/25, not the /23: that one stays whole.
    let best = one(&mut s, p, r.clone());
    assert_eq!(shown(&best), "10.0.3.0/26");
    let child = s
        .state
        .block(best.block_id)
        .expect("a block")
        .record
        .clone();
    assert_eq!(child.parent_id, Some(root));
    assert_eq!(child.tenant_id, T1);
    r.identifier = some("b");
    assert_eq!(shown(&one(&mut s, p, r.clone())), "10.0.3.64/26");
    r.identifier = some("c");
    r.strategy = None;
    assert_eq!(shown(&one(&mut s, p, r.clone())), "10.0.0.0/26");
    r.identifier = some("d");
    r.strategy = some("last");
    assert_eq!(shown(&one(&mut s, p, r.clone())), "10.0.1.192/26");
    r.identifier = some("e");
    r.strategy = some("first");
    assert_eq!(shown(&one(&mut s, p, r)), "10.0.0.64/26");
    let big = ask(Some("big"), Some(22));
    assert!(matches!(
        s.run(&allocate(p, vec![big])),
        Err(Rejection::Unprocessable(_))
    ));
}

#[test]
fn a_carved_prefix_is_a_subnet_for_melange_and_for_another_pool() {
    let (mut s, _, p) = prefix_pool();
    let a = one(&mut s, p, ask(Some("net-1"), Some(24)));
    assert_eq!(shown(&a), "10.0.0.0/24");
    // Another pool over the carved block hands out its addresses.
    let inner = made(&mut s, Command::CreatePool(pool("address", &[a.block_id])));
    let address = one(&mut s, inner, ask(Some("vm"), None));
    assert_eq!(address.block_id, a.block_id);
    // Neither Melange nor the first pool may delete the block now.
    let delete = Command::DeleteBlock {
        tenant: T1.into(),
        block_id: a.block_id,
    };
    let Err(Rejection::Conflict(why)) = s.run(&delete) else {
        panic!("a pool's block is released through the pool");
    };
    assert!(why.contains("held by pool"), "{why}");
    let release = Command::ReleasePoolAllocation {
        owner: None,
        pool_id: p,
        identifier: "net-1".into(),
    };
    assert!(matches!(s.run(&release), Err(Rejection::Conflict(_))));
    // Melange allocates from the carved block too.
    s.run(&Command::AllocateAddress(crate::command::AllocateAddress {
        tenant: T1.into(),
        block_id: a.block_id,
        ..Default::default()
    }))
    .expect("Melange allocates in a carved block");
}

#[test]
fn a_batch_of_prefixes_never_overlaps() {
    let (mut s, _, p) = prefix_pool();
    let batch: Vec<PoolRequest> = (0..8)
        .map(|i| ask(Some(&format!("n{i}")), Some(26)))
        .collect();
    let made = allocations(&mut s, allocate(p, batch));
    let shown: Vec<String> = made.iter().map(|(a, _)| shown(a)).collect();
    assert_eq!(
        shown,
        [
            "10.0.0.0/26",
            "10.0.0.64/26",
            "10.0.0.128/26",
            "10.0.0.192/26",
            "10.0.1.0/26",
            "10.0.1.64/26",
            "10.0.1.128/26",
            "10.0.1.192/26",
        ]
    );
}

#[test]
fn a_tenant_sees_only_its_pools() {
    let (s, _, p) = address_pool("10.0.0.0/24");
    let then = s.when(Command::AllocateFromPool(AllocateFromPool {
        owner: Some(T2.into()),
        pool_id: p,
        requests: vec![ask(None, None)],
    }));
    then.then_rejected(Rejection::not_found("Pool"));
    let then = s.when(Command::UpdatePool(UpdatePool {
        owner: Some(T2.into()),
        pool_id: p,
        name: some("mine"),
        ..UpdatePool::default()
    }));
    then.then_rejected(Rejection::not_found("Pool"));
}

#[test]
fn a_resource_holding_allocations_stays_in_the_pool() {
    let (mut s, b, p) = address_pool("10.0.0.0/24");
    let other = made(&mut s, create(private(T1, "10.9.0.0/24")));
    one(&mut s, p, ask(Some("vm"), None));
    let change = |resources: Vec<Uuid>| {
        Command::UpdatePool(UpdatePool {
            pool_id: p,
            resources: Some(resources.iter().map(Uuid::to_string).collect()),
            zone: Some(some("fr-par-1")),
            ..UpdatePool::default()
        })
    };
    assert!(matches!(
        s.run(&change(vec![other])),
        Err(Rejection::Conflict(_))
    ));
    s.run(&change(vec![other, b])).expect("reordered");
    assert_eq!(s.state.pools_in_zone("fr-par-1").len(), 1);
    assert!(s.state.pools_in_zone("nl-ams-1").is_empty());
    let delete_resource = Command::DeleteBlock {
        tenant: T1.into(),
        block_id: other,
    };
    let Err(Rejection::Conflict(why)) = s.run(&delete_resource) else {
        panic!("a pool's resource stays");
    };
    assert!(why.contains("resource of pool"), "{why}");
}

#[test]
fn utilization_counts_held_addresses_and_child_prefixes() {
    let (mut s, _, p) = address_pool("10.0.0.0/24");
    for i in 0..10 {
        one(&mut s, p, ask(Some(&format!("h{i}")), None));
    }
    let u = s.state.pool_utilization(s.state.pool_of(None, p).unwrap());
    assert_eq!((u.total, u.allocated), (256, 10));
    let (mut s, _, p) = prefix_pool();
    one(&mut s, p, ask(Some("a"), Some(24)));
    let u = s.state.pool_utilization(s.state.pool_of(None, p).unwrap());
    // 10.0.2.0/24 + 10.0.3.128/25 (Melange's) + 10.0.0.0/24 (the pool's).
    assert_eq!((u.total, u.allocated), (1024, 256 + 128 + 256));
}

/// The search is bounded by the structures, not by the space (issue 9: "next free /24 in a
/// /8 with half its /24s taken"): a prefix pool over a /8 with every other /24 taken finds
/// room by looking at a handful of subnets, whichever end it starts from; an address pool
/// over a /16 that is full but for its last address finds it in a few free-map probes.
#[test]
fn allocation_work_is_bounded_by_structure_not_space() {
    use ipledger_projections::work;
    let mut s = given(&[]);
    let root = made(&mut s, create(private(T1, "10.0.0.0/8")));
    let taken: Vec<Event> = (0..4096u32)
        .map(|i| {
            let net = std::net::Ipv4Addr::from(0x0a00_0000 | (i * 2) << 8);
            Event::BlockCreated(BlockCreated {
                block_id: Uuid::from_u128(1_000_000 + u128::from(i)),
                tenant_id: T1.into(),
                cidr: ipnet::IpNet::new(net.into(), 24).unwrap(),
                block_type: ipledger_domain::records::BlockType::Private,
                network_id: None,
                policy_id: None,
                gateway: None,
                dns1: None,
                dns2: None,
                parent_id: Some(root),
                created_at: now(),
                ipv6_generator: None,
            })
        })
        .collect();
    let mut s = s.and_events(&taken);
    let p = made(&mut s, Command::CreatePool(pool("prefix", &[root])));
    for (strategy, want, most) in [
        ("first", "10.0.1.0/24", 3),
        ("best_fit", "10.0.1.0/24", 3),
        ("last", "10.255.255.0/24", 3),
    ] {
        let mut r = ask(None, Some(24));
        r.strategy = some(strategy);
        let before = work::blocks_examined();
        let a = s.when(allocate(p, vec![r])).decision().reply.clone();
        let looked = work::blocks_examined() - before;
        let a = &a.into_pool_allocations().unwrap()[0].0;
        assert_eq!(shown(a), want, "{strategy}");
        assert!(looked <= most, "{strategy} looked at {looked} blocks");
    }
    let (mut s, b, p) = address_pool("10.0.0.0/16");
    let events: Vec<Event> = (2..65_533u32)
        .map(|o| {
            Event::AddressAllocated(AddressAllocated {
                block_id: b,
                address_id: Uuid::from_u128(2_000_000 + u128::from(o)),
                address: std::net::Ipv4Addr::from(0x0a00_0000 + o).into(),
                interface_id: None,
                used_by_tenant: T1.into(),
                used_by_device: None,
                mac_address: None,
                allocated_at: now(),
            })
        })
        .collect();
    s = s.and_events(&events);
    let before = work::free_map_probes();
    assert_eq!(shown(&one(&mut s, p, ask(None, None))), "10.0.255.253/16");
    let probes = work::free_map_probes() - before;
    assert!(probes <= 4, "{probes} probes");
}
