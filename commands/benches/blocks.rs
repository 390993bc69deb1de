//! Block creation against 1k, 100k and 1M existing blocks (issue 8, defect 9: the rate must
//! stay within 2x of the first), and the worst-case allocation under a policy refusing every
//! octet of `0.0.0.0/0` (defect 1). In memory: decide + apply, as the writer does between two
//! appends. Run with `cargo bench -p ipledger-commands --bench blocks`.
//!
//! The existing blocks are folded from `BlockCreated` events (not decided one by one), so the
//! same bench builds its states in seconds on code whose creation is O(n). Each timed
//! creation is undone (a `BlockDeleted` folded outside the timing), so every sample sees
//! exactly n blocks.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ipledger_commands::decide::Settings;
use ipledger_commands::{decide, AllocateAddress, Command, Context, CreateBlock};
use ipledger_domain::events::{BlockCreated, BlockDeleted};
use ipledger_domain::ids::SequentialIds;
use ipledger_domain::records::BlockType;
use ipledger_domain::{Event, Timestamp};
use ipledger_projections::State;
use uuid::Uuid;

const SIZES: [u32; 3] = [1_000, 100_000, 1_000_000];

fn now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// The two shapes of the report: private /32s of one tenant, public /24s of one network.
#[derive(Clone, Copy)]
enum Shape {
    PrivateSlash32,
    PublicSlash24InNetwork,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::PrivateSlash32 => "private_slash32_one_tenant",
            Shape::PublicSlash24InNetwork => "public_slash24_one_network",
        }
    }

    /// The i-th block's cidr: consecutive /32s from 10.0.0.0 or /24s from 0.0.0.0.
    fn cidr(self, i: u32) -> String {
        match self {
            Shape::PrivateSlash32 => std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string() + "/32",
            Shape::PublicSlash24InNetwork => std::net::Ipv4Addr::from(i << 8).to_string() + "/24",
        }
    }

    fn block_type(self) -> BlockType {
        match self {
            Shape::PrivateSlash32 => BlockType::Private,
            Shape::PublicSlash24InNetwork => BlockType::Public,
        }
    }

    fn network(self) -> Option<String> {
        match self {
            Shape::PrivateSlash32 => None,
            Shape::PublicSlash24InNetwork => Some("wan".into()),
        }
    }

    fn command(self, i: u32) -> Command {
        Command::CreateBlock(CreateBlock {
            tenant: "bench".into(),
            cidr: Some(self.cidr(i)),
            block_type: Some(
                match self.block_type() {
                    BlockType::Private => "private",
                    BlockType::Public => "public",
                }
                .into(),
            ),
            network_id: self.network(),
            ..CreateBlock::default()
        })
    }
}

/// `n` blocks of `shape`, folded from their creation events.
fn state_with(shape: Shape, n: u32) -> State {
    let mut state = State::default();
    for i in 0..n {
        let cidr = shape.cidr(i).parse().expect("cidr");
        state.apply_event(&Event::BlockCreated(BlockCreated {
            block_id: Uuid::from_u128(u128::from(i) + 1),
            tenant_id: "bench".into(),
            cidr,
            block_type: shape.block_type(),
            network_id: shape.network(),
            policy_id: None,
            gateway: None,
            dns1: None,
            dns2: None,
            parent_id: None,
            created_at: now(),
            ipv6_generator: None,
        }));
    }
    state
}

/// Creates one block (decide + apply) and returns the time it took; the block is then
/// deleted again, untimed.
fn create_once(state: &mut State, ids: &mut SequentialIds, command: &Command) -> Duration {
    let settings = Settings::default();
    let started = Instant::now();
    let mut ctx = Context {
        now: now(),
        ids,
        settings: &settings,
    };
    let d = decide(state, command, &mut ctx).expect("created");
    for e in &d.events {
        state.apply_event(e);
    }
    let took = started.elapsed();
    let Some(Event::BlockCreated(created)) = d.events.first() else {
        panic!("a creation gave {:?}", d.events);
    };
    state.apply_event(&Event::BlockDeleted(BlockDeleted {
        block_id: created.block_id,
        deleted_at: now(),
    }));
    black_box(took)
}

fn create_block(c: &mut Criterion) {
    for shape in [Shape::PrivateSlash32, Shape::PublicSlash24InNetwork] {
        let mut group = c.benchmark_group(format!("create_block/{}", shape.name()));
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(5));
        for n in SIZES {
            let mut state = state_with(shape, n);
            // Ids above the existing blocks' (1..=n), and a cidr past theirs.
            let mut ids = SequentialIds {
                next: u128::from(n) + 1,
            };
            let command = shape.command(n + 1);
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| create_once(&mut state, &mut ids, &command))
                        .sum()
                })
            });
        }
        group.finish();
    }
}

/// Defect 1's worst case: one automatic allocation in `0.0.0.0/0` under a policy refusing
/// all 256 octets (before the fix ~3.6 s each; the answer is 422 "IpBlock is full").
fn policy_worst_case(c: &mut Criterion) {
    let settings = Settings::default();
    let mut state = State::default();
    let mut ids = SequentialIds::default();
    let run = |state: &mut State, ids: &mut SequentialIds, command: Command| {
        let mut ctx = Context {
            now: now(),
            ids,
            settings: &settings,
        };
        let d = decide(state, &command, &mut ctx).expect("accepted");
        for e in &d.events {
            state.apply_event(e);
        }
        d
    };
    let tenant = || "hostile".to_string();
    run(
        &mut state,
        &mut ids,
        Command::CreatePolicy {
            tenant: tenant(),
            name: Some("everything".into()),
            description: None,
        },
    );
    let policy_id = Uuid::from_u128(1);
    for octet in 0..=255u8 {
        run(
            &mut state,
            &mut ids,
            Command::CreateUnusableOctet {
                tenant: tenant(),
                policy_id,
                octet,
            },
        );
    }
    run(
        &mut state,
        &mut ids,
        Command::CreateBlock(CreateBlock {
            tenant: tenant(),
            cidr: Some("0.0.0.0/0".into()),
            block_type: Some("private".into()),
            policy_id: Some(policy_id.to_string()),
            ..CreateBlock::default()
        }),
    );
    let block_id = Uuid::from_u128(258);
    let allocate = Command::AllocateAddress(AllocateAddress {
        tenant: tenant(),
        block_id,
        ..Default::default()
    });
    let mut group = c.benchmark_group("policy_worst_case");
    group.sample_size(10);
    group.bench_function("allocate_in_slash0_all_octets_refused", |b| {
        b.iter(|| {
            let mut ctx = Context {
                now: now(),
                ids: &mut ids,
                settings: &settings,
            };
            black_box(decide(&state, &allocate, &mut ctx).expect_err("full"))
        })
    });
    group.finish();
}

criterion_group!(benches, policy_worst_case, create_block);
criterion_main!(benches);
