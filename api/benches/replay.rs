//! Replay and start-up at scale: writes N events (one /8 block, then allocations) into a
//! fresh file log with group-commit appends of 10,000 events, then measures (1) opening the log
//! (scan + CRC check of every record), (2) decoding every event, and (3) decoding and folding
//! every event into a `State` — the start-up path; then (4) a snapshot of that state
//! (issue 11 item 5: the serialization, which the service does under the read views' lock,
//! and the write with its fsyncs) and (5) the start-up from it (open, load the snapshot, fold
//! the tail: here none). `N=10000000 cargo bench -p ipledger-api --bench replay`;
//! `BENCH_DIR` chooses where the log is written (default: a temp dir);
//! `BENCH_WRITE_TO=DIR` only writes the log into `DIR` and keeps it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use chrono::Utc;
use ipledger_commands::store::{EventStore, StreamAppend};
use ipledger_domain::events::{AddressAllocated, BlockCreated};
use ipledger_domain::records::BlockType;
use ipledger_domain::{Event, ExpectedVersion, NewEvent};
use ipledger_infra::filelog::{FileLog, FileLogOptions};
use ipledger_projections::State;
use uuid::Uuid;

fn new_event(event: Event) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        recorded_at: Utc::now(),
        actor: "bench".into(),
        correlation_id: None,
        idempotency_key: None,
        event,
    }
}

fn write_log(log: &FileLog, n: u64) {
    let block_id = Uuid::now_v7();
    let stream = format!("block-{block_id}");
    let created = Event::BlockCreated(BlockCreated {
        block_id,
        tenant_id: "bench".into(),
        cidr: "10.0.0.0/8".parse().unwrap(),
        block_type: BlockType::Private,
        network_id: Some("net".into()),
        policy_id: None,
        gateway: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        dns1: None,
        dns2: None,
        parent_id: None,
        created_at: Utc::now(),
        ipv6_generator: None,
    });
    log.append_blocking(vec![StreamAppend {
        stream: stream.clone(),
        expected: ExpectedVersion::NoStream,
        events: vec![new_event(created)],
    }])
    .unwrap();
    let mut written = 1u64;
    let mut offset = 2u32;
    while written < n {
        let count = (n - written).min(10_000);
        let events = (0..count)
            .map(|_| {
                let address = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + offset));
                offset += 1;
                new_event(Event::AddressAllocated(AddressAllocated {
                    block_id,
                    address_id: Uuid::now_v7(),
                    address,
                    interface_id: Some("vif-1".into()),
                    used_by_tenant: "bench".into(),
                    used_by_device: Some("vm-1".into()),
                    mac_address: None,
                    allocated_at: Utc::now(),
                }))
            })
            .collect();
        log.append_blocking(vec![StreamAppend {
            stream: stream.clone(),
            expected: ExpectedVersion::Any,
            events,
        }])
        .unwrap();
        written += count;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // `BENCH_WRITE_TO=DIR`: only write the log there and keep it (scripts/bench-audit serves it).
    if let Ok(dir) = std::env::var("BENCH_WRITE_TO") {
        let log = FileLog::open(std::path::Path::new(&dir), FileLogOptions::default()).unwrap();
        write_log(&log, n);
        return;
    }
    let tmp = tempfile::tempdir_in(
        std::env::var("BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .unwrap();
    let started = Instant::now();
    {
        let log = FileLog::open(tmp.path(), FileLogOptions::default()).unwrap();
        write_log(&log, n);
    }
    let write_secs = started.elapsed().as_secs_f64();

    let t = Instant::now();
    let log = FileLog::open(tmp.path(), FileLogOptions::default()).unwrap();
    let open_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut decoded = 0u64;
    log.replay(0, |_| decoded += 1).unwrap();
    let decode_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut state = State::default();
    log.replay(0, |env| state.apply_owned(env)).unwrap();
    let fold_secs = t.elapsed().as_secs_f64();
    assert_eq!(state.position(), n);

    // A snapshot at the head: the serialization (the service's lock pause), then the write.
    let snap_dir = tmp.path().join("snapshots");
    let t = Instant::now();
    let encoded = ipledger_api::snapshots::encode(&state, true).unwrap();
    let snapshot_encode_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    ipledger_api::snapshots::write(
        &snap_dir,
        &encoded,
        &ipledger_api::snapshots::Pace::unthrottled(),
    )
    .unwrap();
    let snapshot_write_secs = t.elapsed().as_secs_f64();
    let snapshot_bytes = encoded.file_bytes();
    drop((log, encoded));

    // The start-up from it: open (scan), load the newest valid snapshot, fold the tail.
    let t = Instant::now();
    let log = FileLog::open(tmp.path(), FileLogOptions::default()).unwrap();
    let mut from_snapshot =
        ipledger_api::snapshots::newest_at_or_below(&snap_dir, log.head(), true).unwrap();
    log.replay(from_snapshot.position(), |env| {
        from_snapshot.apply_owned(env)
    })
    .unwrap();
    let snapshot_startup_secs = t.elapsed().as_secs_f64();
    assert!(
        from_snapshot == state,
        "the snapshot's state is the replayed one"
    );

    let bytes: u64 = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{{\"events\": {n}, \"log_bytes\": {bytes}, \"write_seconds\": {write_secs:.2}, \"open_seconds\": {open_secs:.3}, \
         \"decode_seconds\": {decode_secs:.3}, \"decode_events_per_second\": {:.0}, \"replay_fold_seconds\": {fold_secs:.3}, \
         \"replay_events_per_second\": {:.0}, \"startup_seconds\": {:.3}, \
         \"snapshot_bytes\": {snapshot_bytes}, \"snapshot_encode_seconds\": {snapshot_encode_secs:.3}, \
         \"snapshot_write_seconds\": {snapshot_write_secs:.3}, \
         \"startup_from_snapshot_seconds\": {snapshot_startup_secs:.3}}}",
        decoded as f64 / decode_secs,
        n as f64 / fold_secs,
        open_secs + fold_secs
    );
}
