//! Memory per allocated address: heap bytes held by the `State` after N allocations in a /8,
//! measured with a counting global allocator. Run with `scripts/bench`.
//!
//! The writer and the readers share one state (published versions are persistent clones), so
//! the loop publishes as the writer does — a clone every `BATCH` commands, the previous
//! version dropped — and the figure is everything both hold. It also keeps a version every
//! 32,768 events, as the as-of checkpoints do, and reports what those cost on top.
//!
//! `SHAPE=shared` (default) names one device and one interface in every allocation;
//! `SHAPE=unique` gives each allocation its own (one VM, one NIC per address: the common
//! case of a cloud), which is what the per-key indexes pay for. At the end the state is
//! dropped part by part and each part's bytes per address are printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeZone;
use ipledger_commands::decide::Settings;
use ipledger_commands::{decide, AllocateAddress, Command, Context, CreateBlock};
use ipledger_domain::ids::SequentialIds;
use ipledger_projections::State;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let unique = std::env::var("SHAPE").as_deref() == Ok("unique");
    let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let settings = Settings::default();
    let mut ids = SequentialIds::default();
    let mut state = State::default();
    let create = Command::CreateBlock(CreateBlock {
        tenant: "bench".into(),
        cidr: Some("10.0.0.0/8".into()),
        block_type: Some("private".into()),
        ..CreateBlock::default()
    });
    let d = decide(
        &state,
        &create,
        &mut Context {
            now,
            ids: &mut ids,
            settings: &settings,
        },
    )
    .unwrap();
    d.events.iter().for_each(|e| state.apply_event(e));
    let block_id = state.all_blocks().next().unwrap().record.id;
    let before = LIVE.load(Ordering::Relaxed);
    let command = |i: usize| {
        let n = if unique { i } else { 1 };
        Command::AllocateAddress(AllocateAddress {
            tenant: "bench".into(),
            block_id,
            interface_id: Some(format!("vif-{n:07}")),
            used_by_device: Some(format!("vm-{n:07}")),
            ..Default::default()
        })
    };
    const BATCH: usize = 256;
    const CHECKPOINT_EVENTS: usize = 32_768;
    let mut published = std::sync::Arc::new(state.clone());
    let mut checkpoints = Vec::new();
    let mut checkpoint_bytes = 0usize;
    for i in 0..n {
        if i % BATCH == 0 {
            published = std::sync::Arc::new(state.clone());
        }
        if i % CHECKPOINT_EVENTS == 0 && i > 0 {
            let at = LIVE.load(Ordering::Relaxed);
            checkpoints.push(published.clone());
            checkpoint_bytes += LIVE.load(Ordering::Relaxed) - at;
        }
        let d = decide(
            &state,
            &command(i),
            &mut Context {
                now,
                ids: &mut ids,
                settings: &settings,
            },
        )
        .unwrap();
        d.events.iter().for_each(|e| state.apply_event(e));
    }
    let with_checkpoints = LIVE.load(Ordering::Relaxed);
    let kept = checkpoints.len();
    drop(checkpoints);
    drop(published);
    let after = LIVE.load(Ordering::Relaxed);
    let per = (after - before) as f64 / n as f64;
    println!(
        "allocations: {n} (shape: {})",
        if unique {
            "unique device and interface per address"
        } else {
            "one device and interface"
        }
    );
    println!("heap_bytes_before: {before}");
    println!("heap_bytes_after: {after}");
    println!("bytes_per_allocated_address_writer_and_views: {per:.1}");
    println!("as_of_checkpoints_kept: {kept} (their own clones: {checkpoint_bytes} bytes)");
    println!(
        "bytes_per_allocated_address_with_as_of_checkpoints: {:.1}",
        (with_checkpoints - before) as f64 / n as f64
    );
    println!("bytes per allocated address by component:");
    let mut last = LIVE.load(Ordering::Relaxed);
    state.release_by_component(|part| {
        let now = LIVE.load(Ordering::Relaxed);
        if part != "start" {
            println!("  {part}: {:.1}", (last - now) as f64 / n as f64);
        }
        last = now;
    });
}
