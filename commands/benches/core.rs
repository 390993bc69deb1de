//! In-process benchmarks of the write path's pure parts: decide + apply of allocations, and
//! the next-free search in a 99.9 %-full /8. Run with `scripts/bench` (or `cargo bench -p
//! ipledger-commands --bench core`).

use std::hint::black_box;

use chrono::TimeZone;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ipledger_commands::decide::Settings;
use ipledger_commands::{decide, AllocateAddress, Command, Context, CreateBlock};
use ipledger_domain::ids::SequentialIds;
use ipledger_projections::bitmap::FreeMap;
use ipledger_projections::State;

fn state_with_block(cidr: &str) -> (State, uuid::Uuid, SequentialIds) {
    let mut state = State::default();
    let mut ids = SequentialIds::default();
    let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let settings = Settings::default();
    let create = Command::CreateBlock(CreateBlock {
        tenant: "bench".into(),
        cidr: Some(cidr.into()),
        block_type: Some("private".into()),
        ..CreateBlock::default()
    });
    let mut ctx = Context {
        now,
        ids: &mut ids,
        settings: &settings,
    };
    let d = decide(&state, &create, &mut ctx).expect("block");
    for e in &d.events {
        state.apply_event(e);
    }
    let id = state.all_blocks().next().expect("one block").record.id;
    (state, id, ids)
}

/// Commands decided and applied per second, as the writer does between two appends.
fn decide_apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide_apply");
    const BATCH: u64 = 10_000;
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("allocate_next_in_slash8", |b| {
        let (state, block_id, ids) = state_with_block("10.0.0.0/8");
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let settings = Settings::default();
        let command = Command::AllocateAddress(AllocateAddress {
            tenant: "bench".into(),
            block_id,
            ..Default::default()
        });
        b.iter_batched(
            || (state.clone(), ids.clone()),
            |(mut state, mut ids)| {
                for _ in 0..BATCH {
                    let mut ctx = Context {
                        now,
                        ids: &mut ids,
                        settings: &settings,
                    };
                    let d = decide(&state, &command, &mut ctx).expect("allocated");
                    for e in &d.events {
                        state.apply_event(e);
                    }
                }
                black_box(state.position())
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// A /8 with 99.9 % of its addresses used, the free ones scattered by a fixed-seed LCG.
fn nearly_full_slash8() -> FreeMap {
    let size = 1u128 << 24;
    let mut map = FreeMap::new(size);
    for o in 0..size {
        map.set_used(o);
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..(size / 1000) {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        map.set_free(((x >> 33) as u128) % size);
    }
    map
}

fn next_free(c: &mut Criterion) {
    let map = nearly_full_slash8();
    let mut group = c.benchmark_group("next_free");
    group.bench_function("slash8_99_9_percent_full_random_start", |b| {
        let mut x: u64 = 12345;
        b.iter(|| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            black_box(map.next_free(((x >> 33) as u128) % (1 << 24)))
        })
    });
    group.finish();
}

criterion_group!(benches, decide_apply, next_free);
criterion_main!(benches);
