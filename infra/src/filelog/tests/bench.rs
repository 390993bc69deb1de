//! Throughput measurements, ignored by default:
//! `cargo test -p ipledger-infra --release -- --ignored --nocapture --test-threads=1 bench_`

use std::time::Instant;

use ipledger_domain::ExpectedVersion::Any;

use super::*;
use crate::EventStore;

/// CPU seconds (user + system) this process has used: on a shared machine, wall time
/// also measures the neighbours.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

struct Clock(Instant, f64);

fn clock() -> Clock {
    Clock(Instant::now(), cpu_secs())
}

fn rate(n: u64, started: Clock) -> String {
    let secs = started.0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - started.1;
    format!(
        "{:.2} M/s wall, {:.0} ns CPU/event ({n} in {secs:.3} s)",
        n as f64 / secs / 1e6,
        cpu * 1e9 / n as f64
    )
}

#[test]
#[ignore]
fn bench_append_group_commit() {
    for per_append in [1u64, 10, 100, 1000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = open(dir.path());
        let appends = (20_000 / per_append).clamp(200, 2000);
        let batches: Vec<_> = (0..appends)
            .map(|a| vec![append_to(&format!("s{}", a % 64), Any, 0..per_append)])
            .collect();
        let started = Instant::now();
        for batch in batches {
            log.append_blocking(batch).expect("append");
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "append {per_append:>4} events/call: {:>8.0} calls/s, {:>9.0} events/s",
            appends as f64 / secs,
            (appends * per_append) as f64 / secs
        );
    }
}

/// Small appends through the async trait: `block_in_place` (multi-thread runtime) against
/// `spawn_blocking` (current-thread runtime).
#[test]
#[ignore]
fn bench_append_from_async() {
    for multi in [true, false] {
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread().build()
        }
        .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = open(dir.path());
        let n = 3000u64;
        let started = clock();
        rt.block_on(async {
            for i in 0..n {
                log.append(vec![append_to("s", Any, [i])])
                    .await
                    .expect("append");
            }
        });
        let how = if multi {
            "block_in_place"
        } else {
            "spawn_blocking"
        };
        let secs = started.0.elapsed().as_secs_f64();
        let cpu_us = (cpu_secs() - started.1) * 1e6 / n as f64;
        let per_sec = n as f64 / secs;
        println!("async 1-event appends via {how}: {per_sec:.0}/s, {cpu_us:.0} us CPU each");
    }
}

#[test]
#[ignore]
fn bench_read_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let total = 1_000_000u64;
    {
        let log = open(dir.path());
        let started = clock();
        fill(&log, total / 1000, 1000);
        println!(
            "write {total} events in appends of 1000: {}",
            rate(total, started)
        );
    }
    let bytes: u64 = segment_files(dir.path()).iter().map(|p| file_len(p)).sum();
    println!("log size {} MB ({} B/event)", bytes >> 20, bytes / total);
    let started = clock();
    let log = open(dir.path());
    println!("open (scan + index): {}", rate(total, started));
    let started = clock();
    let report = crate::filelog::verify(dir.path()).expect("verify");
    println!("verify (full decode): {}", rate(report.records, started));
    let started = clock();
    let mut n = 0u64;
    log.replay(0, |_| n += 1).expect("replay");
    println!("replay: {}", rate(n, started));
    for max in [100usize, 10_000] {
        let started = clock();
        let mut from = 0;
        while from < total {
            from += log.shared.read_all_sync(from, max).expect("read").len() as u64;
        }
        println!("read_all in calls of {max}: {}", rate(total, started));
    }
    let started = clock();
    let mut n = 0;
    for s in 0..5 {
        n += log
            .shared
            .read_stream_sync(&format!("s{s}"), 0, 50_000)
            .expect("read")
            .len() as u64;
    }
    println!("read_stream (50k of every 5th batch): {}", rate(n, started));
    assert_eq!(log.head(), total);
}
