//! Memory per allocated address: heap bytes held by one `State` (the writer's copy; the read
//! views hold a second, equal copy) after N allocations in a /8, measured with a counting
//! global allocator. Run with `scripts/bench`.

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
    let command = Command::AllocateAddress(AllocateAddress {
        tenant: "bench".into(),
        block_id,
        interface_id: Some("vif-0001".into()),
        used_by_device: Some("vm-0001".into()),
        ..Default::default()
    });
    for _ in 0..n {
        let d = decide(
            &state,
            &command,
            &mut Context {
                now,
                ids: &mut ids,
                settings: &settings,
            },
        )
        .unwrap();
        d.events.iter().for_each(|e| state.apply_event(e));
    }
    let after = LIVE.load(Ordering::Relaxed);
    let per = (after - before) as f64 / n as f64;
    println!("allocations: {n}");
    println!("heap_bytes_before: {before}");
    println!("heap_bytes_after: {after}");
    println!("bytes_per_allocated_address_one_copy: {per:.1}");
    println!(
        "bytes_per_allocated_address_writer_plus_views: {:.1}",
        per * 2.0
    );
}
