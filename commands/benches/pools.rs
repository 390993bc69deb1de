//! Issue 9's pool benchmark: the next free /24 in a /8 with half its /24s taken at random,
//! by a prefix pool over the /8, with each strategy. In memory: `decide` only (nothing is
//! applied, so every sample sees the same 32,768 subnets). Run with
//! `cargo bench -p ipledger-commands --bench pools`.
//!
//! The subnets are folded from `BlockCreated` events. With half the /24s taken at random the
//! first free /24 is usually among the first few subnets: first and last fit stop there, and
//! best fit stops at the first hole of exactly one /24, also near. The worst case of best
//! fit (no exact hole: it looks at every gap) is not measured here.

use std::hint::black_box;
use std::time::Duration;

use chrono::TimeZone;
use criterion::{criterion_group, criterion_main, Criterion};
use ipledger_commands::decide::Settings;
use ipledger_commands::{decide, AllocateFromPool, Command, Context, PoolRequest};
use ipledger_domain::events::{BlockCreated, PoolCreated};
use ipledger_domain::ids::SequentialIds;
use ipledger_domain::pools::{PoolKind, PoolStrategy};
use ipledger_domain::records::BlockType;
use ipledger_domain::{Event, Timestamp};
use ipledger_projections::State;
use ipnet::IpNet;
use uuid::Uuid;

const ROOT: u128 = 1;
const POOL: u128 = 1 << 40;

fn now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn block(id: u128, cidr: IpNet, parent: Option<u128>) -> Event {
    Event::BlockCreated(BlockCreated {
        block_id: Uuid::from_u128(id),
        tenant_id: "bench".into(),
        cidr,
        block_type: BlockType::Private,
        network_id: None,
        policy_id: None,
        gateway: None,
        dns1: None,
        dns2: None,
        parent_id: parent.map(Uuid::from_u128),
        created_at: now(),
        ipv6_generator: None,
    })
}

/// 10.0.0.0/8 with half its 65,536 /24s taken, chosen by a seeded shuffle, and a prefix pool
/// over it.
fn half_taken() -> State {
    let mut state = State::default();
    state.apply_event(&block(ROOT, "10.0.0.0/8".parse().unwrap(), None));
    let mut order: Vec<u32> = (0..65_536).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..order.len()).rev() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        order.swap(i, (x >> 33) as usize % (i + 1));
    }
    for (n, i) in order.iter().take(32_768).enumerate() {
        let net = std::net::Ipv4Addr::from(0x0a00_0000 | (i << 8));
        let cidr = IpNet::new(net.into(), 24).unwrap();
        state.apply_event(&block(ROOT + 1 + n as u128, cidr, Some(ROOT)));
    }
    state.apply_event(&Event::PoolCreated(PoolCreated {
        pool_id: Uuid::from_u128(POOL),
        name: "bench".into(),
        kind: PoolKind::Prefix,
        tenant_id: "bench".into(),
        resources: vec![Uuid::from_u128(ROOT)],
        default_prefix_length: Some(24),
        zone: None,
        strategy: PoolStrategy::First,
        created_at: now(),
    }));
    state
}

fn next_free_slash24(c: &mut Criterion) {
    let state = half_taken();
    let settings = Settings::default();
    let mut ids = SequentialIds { next: POOL + 1 };
    let mut group = c.benchmark_group("pool_next_free_slash24_in_half_taken_slash8");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(5));
    for strategy in ["first", "last", "best_fit"] {
        let command = Command::AllocateFromPool(AllocateFromPool {
            owner: None,
            pool_id: Uuid::from_u128(POOL),
            requests: vec![PoolRequest {
                strategy: Some(strategy.into()),
                ..PoolRequest::default()
            }],
        });
        group.bench_function(strategy, |b| {
            b.iter(|| {
                let mut ctx = Context {
                    now: now(),
                    ids: &mut ids,
                    settings: &settings,
                };
                black_box(decide(&state, &command, &mut ctx).expect("a free /24"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, next_free_slash24);
criterion_main!(benches);
