//! Crash tests on the simulated disk: a seeded mixed workload (multi-stream appends with
//! expected versions, conflicts, empty batches, records from a few hundred bytes to tens of
//! kilobytes, segment rollovers from a tiny `segment_bytes_max`, reopens) runs once while
//! the disk snapshots itself after every operation; each snapshot is then crashed under many
//! seeds and the log reopened on the result. A second test fails each write and each sync
//! of the workload in turn. Both check, for every crashed disk:
//!
//! (a) every append that returned `Ok` is there with identical envelopes;
//! (b) the append in flight is there whole or not at all;
//! (c) nothing follows a missing append;
//! (d) `verify` accepts the crashed log, and agrees with the open about what it holds; the
//!     recovered log scans clean;
//! (e) the reopened log takes new appends with the right positions and stream versions.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ipledger_domain::{Envelope, ExpectedVersion, NewEvent};

use super::simdisk::{Image, Rng, SimDisk, Snapshot};
use super::*;
use crate::filelog::verify_with;
use crate::{AppendError, StoreError};

/// Workloads per run of the enumeration; each has a different seed.
const WORKLOADS: u64 = 12;
const STEPS: usize = 20;
/// Crashes drawn for each operation that left unsynced state behind.
const SEEDS_PER_POINT: u64 = 24;
/// Crashes drawn after each injected failure.
const SEEDS_PER_FAULT: u64 = 6;
const STREAMS: [&str; 5] = ["alpha", "beta", "gamma", "delta", "epsilon"];

/// Segments of about two small records: most appends roll, large ones overflow.
fn opts() -> FileLogOptions {
    FileLogOptions {
        segment_bytes_max: 2048,
        lock_wait: Duration::ZERO,
    }
}

enum Step {
    Append {
        batch: Vec<StreamAppend>,
        /// The workload put a wrong expected version in it on purpose.
        conflicts: bool,
    },
    Reopen,
}

/// A seeded workload. It tracks stream versions itself so that most expected versions are
/// exact (the way the writer appends), some are `Any` and a few are wrong.
fn workload(seed: u64) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let mut versions: HashMap<&str, u64> = HashMap::new();
    let mut n = 0u64;
    let mut steps = Vec::with_capacity(STEPS);
    for _ in 0..STEPS {
        if rng.percent(8) {
            steps.push(Step::Reopen);
            continue;
        }
        let mut counts = versions.clone();
        let mut conflicts = false;
        let mut batch = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let stream = STREAMS[rng.below(STREAMS.len() as u64) as usize];
            let count = counts.get(stream).copied().unwrap_or(0);
            let roll = rng.below(20);
            let expected = if roll == 0 && !conflicts {
                conflicts = true;
                match count {
                    0 => ExpectedVersion::Exact(rng.below(3)),
                    _ if rng.percent(50) => ExpectedVersion::NoStream,
                    _ => ExpectedVersion::Exact(count + rng.below(3)),
                }
            } else if roll < 4 {
                ExpectedVersion::Any
            } else if count == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(count - 1)
            };
            let k = rng.below(5);
            let events = (0..k).map(|_| sized_event(&mut rng, &mut n)).collect();
            counts.insert(stream, count + k);
            batch.push(StreamAppend {
                stream: stream.to_string(),
                expected,
                events,
            });
        }
        if !conflicts {
            versions = counts;
        }
        steps.push(Step::Append { batch, conflicts });
    }
    steps
}

/// The next test event; one in ten carries 1 to 8 KB in its actor, so a record spans many
/// sectors (and the segments' size limit) and can tear in the middle.
fn sized_event(rng: &mut Rng, n: &mut u64) -> NewEvent {
    let mut e = event(*n);
    if rng.percent(10) {
        let len = 1000 + rng.below(7_000) as usize;
        e.actor = format!("{n}:").repeat(len / 4);
    }
    *n += 1;
    e
}

/// Runs one step; a conflict is `Ok(None)` when the workload meant it.
fn run_append(
    log: &FileLog,
    batch: &[StreamAppend],
    conflicts: bool,
) -> Result<Vec<Envelope>, AppendError> {
    match log.append_blocking(batch.to_vec()) {
        Err(AppendError::Conflict { .. }) if conflicts => Ok(Vec::new()),
        Ok(envs) if !conflicts => Ok(envs),
        Err(e @ AppendError::Store(_)) => Err(e),
        other => panic!("conflict expected: {conflicts}, got {other:?}"),
    }
}

#[derive(Default)]
struct Tally {
    /// Crashed disks drawn.
    points: u64,
    /// Distinct ones, reopened and checked.
    checked: u64,
    /// Recoveries that kept the append in flight, and that cut a torn tail: both must
    /// happen, or the crashes are not exercising anything.
    kept: u64,
    torn: u64,
}

impl Tally {
    fn add(&mut self, r: Recovered) {
        self.points += 1;
        self.checked += 1;
        self.kept += u64::from(r.in_flight_kept);
        self.torn += u64::from(r.torn);
    }
}

#[test]
fn crash_points_keep_every_acknowledged_append() {
    let (started, cpu) = (Instant::now(), thread_cpu_secs());
    let mut tally = Tally::default();
    for w in 0..WORKLOADS {
        enumerate(w, &mut tally);
    }
    println!(
        "crash points enumerated: {} ({} distinct crashed disks reopened, {} kept the \
         append in flight, {} cut a torn tail; workload seeds 0..{WORKLOADS}, \
         {SEEDS_PER_POINT} crash seeds per operation with unsynced data) in {:.2?} \
         ({:.2} s CPU)",
        tally.points,
        tally.checked,
        tally.kept,
        tally.torn,
        started.elapsed(),
        thread_cpu_secs() - cpu
    );
    assert!(tally.points >= 5000, "only {} crash points", tally.points);
    assert!(
        tally.kept > 0 && tally.torn > 0,
        "the crashes exercise recovery"
    );
}

/// Runs workload `w` on a recording disk and checks every crash point it passes.
fn enumerate(w: u64, tally: &mut Tally) {
    let disk = SimDisk::new();
    disk.record();
    let mut log = FileLog::open_with(disk.clone(), opts()).expect("open");
    let mut acked: Vec<Envelope> = Vec::new();
    check_snapshots(w, 0, &disk.take_snapshots(), &acked, None, tally);
    for (i, step) in workload(w).iter().enumerate() {
        let in_flight = match step {
            Step::Append { batch, conflicts } => {
                Some(run_append(&log, batch, *conflicts).expect("append"))
            }
            Step::Reopen => {
                drop(log);
                log = FileLog::open_with(disk.clone(), opts()).expect("reopen");
                let all = log.shared.read_all_sync(0, usize::MAX).expect("read");
                assert_eq!(all, acked, "workload {w}: a clean reopen keeps everything");
                None
            }
        };
        let snaps = disk.take_snapshots();
        check_snapshots(w, i + 1, &snaps, &acked, in_flight.as_deref(), tally);
        acked.extend(in_flight.unwrap_or_default());
    }
}

/// Crashes each snapshot taken during step `step` of workload `w` under many seeds.
fn check_snapshots(
    w: u64,
    step: usize,
    snaps: &[Snapshot],
    acked: &[Envelope],
    in_flight: Option<&[Envelope]>,
    tally: &mut Tally,
) {
    // Crashes within one step that leave the same disk need checking once: they are
    // checked against the same expectations.
    let mut seen = HashSet::new();
    for (j, snap) in snaps.iter().enumerate() {
        let seeds = if snap.image.has_unsynced() {
            SEEDS_PER_POINT
        } else {
            1
        };
        for k in 0..seeds {
            let seed = (w << 40) | ((step as u64) << 20) | ((j as u64) << 8) | k;
            let crashed = snap.image.crash(seed);
            if !seen.insert(crashed.fingerprint()) {
                tally.points += 1;
                continue;
            }
            let ctx = format!(
                "workload {w}, step {step}, crash after `{}`, seed {seed:#x}",
                snap.after
            );
            let disk = SimDisk::from_image(crashed);
            tally.add(check_recovery(&disk, (acked, in_flight), &ctx));
        }
    }
}

/// What one recovery found, for the tally.
struct Recovered {
    /// The append in flight survived whole.
    in_flight_kept: bool,
    /// The open cut off a torn tail.
    torn: bool,
}

/// Reopens the log on `disk` (a crashed or failed one) and checks (a) to (e) against the
/// acknowledged events and those of the append in flight.
fn check_recovery(
    disk: &SimDisk,
    (acked, in_flight): (&[Envelope], Option<&[Envelope]>),
    ctx: &str,
) -> Recovered {
    let report = verify_with(disk).unwrap_or_else(|e| panic!("{ctx}: verify refused: {e}"));
    let log = FileLog::open_with(disk.clone(), opts())
        .unwrap_or_else(|e| panic!("{ctx}: the open refused: {e}"));
    let got = log.shared.read_all_sync(0, usize::MAX).expect("read");
    assert!(
        got.len() >= acked.len() && got[..acked.len()] == *acked,
        "{ctx}: lost or changed acknowledged events: {} of {} present",
        got.len(),
        acked.len()
    );
    let torn = log.torn_tail().is_some();
    let extra = &got[acked.len()..];
    if !extra.is_empty() {
        assert_eq!(
            Some(extra),
            in_flight,
            "{ctx}: only the whole append in flight may follow the acknowledged ones"
        );
    }
    assert_eq!(
        (report.records, report.torn_tail.as_ref()),
        (got.len() as u64, log.torn_tail()),
        "{ctx}: verify and open agree"
    );
    let probe = probe_batch(&got);
    let more = log
        .append_blocking(probe)
        .unwrap_or_else(|e| panic!("{ctx}: the reopened log refused an append: {e}"));
    assert_eq!(more[0].position, got.len() as u64, "{ctx}");
    drop(log);
    // The recovered log is clean now. A read-only open runs verify's scan without decoding
    // payloads again (read_all just did): half the cost of a second verify.
    let after = FileLog::open_read_only_with(disk.clone())
        .unwrap_or_else(|e| panic!("{ctx}: reopening after the append: {e}"));
    assert_eq!(after.torn_tail(), None, "{ctx}");
    assert_eq!(
        crate::EventStore::head(&after),
        (got.len() + more.len()) as u64,
        "{ctx}"
    );
    Recovered {
        in_flight_kept: !extra.is_empty(),
        torn,
    }
}

/// An append that only succeeds if the reopened index has every stream's version right:
/// exact versions for the streams present, `NoStream` for the others.
fn probe_batch(got: &[Envelope]) -> Vec<StreamAppend> {
    let mut last: HashMap<&str, u64> = HashMap::new();
    for e in got {
        last.insert(&e.stream, e.version);
    }
    STREAMS
        .iter()
        .enumerate()
        .map(|(i, s)| StreamAppend {
            stream: s.to_string(),
            expected: last
                .get(s)
                .map_or(ExpectedVersion::NoStream, |&v| ExpectedVersion::Exact(v)),
            events: vec![event(1_000_000 + i as u64)],
        })
        .collect()
}

/// CPU seconds this thread has used: tests run in parallel on a shared machine, so wall
/// time also measures the neighbours.
fn thread_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Which operation to fail.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Write(u64),
    Sync(u64),
}

#[test]
fn crash_points_after_injected_write_and_sync_failures() {
    let (started, cpu) = (Instant::now(), thread_cpu_secs());
    let (mut runs, mut tally) = (0u64, Tally::default());
    for w in 0..2 {
        let steps = workload(100 + w);
        let (reference, writes, syncs) = reference_run(&steps);
        let faults = (1..=writes)
            .map(Fault::Write)
            .chain((1..=syncs).map(Fault::Sync));
        for fault in faults {
            runs += 1;
            let ctx = format!("workload {}, {fault:?}", 100 + w);
            let disk = SimDisk::new();
            match fault {
                Fault::Write(n) => disk.fail_write(n),
                Fault::Sync(n) => disk.fail_sync(n),
            }
            let (acked, in_flight) = run_until_failure(&disk, &steps, &reference, &ctx);
            let expect = (&acked[..], in_flight.as_deref());
            disk.clear_faults();
            let image: Image = disk.image();
            for seed in 0..SEEDS_PER_FAULT {
                let ctx = format!("{ctx}, then a crash with seed {seed}");
                let crashed = SimDisk::from_image(image.crash(seed));
                tally.add(check_recovery(&crashed, expect, &ctx));
            }
            crash_during_recovery(&image, expect, &ctx, &mut tally);
            let ctx = format!("{ctx}, then a restart");
            tally.add(check_recovery(&disk, expect, &ctx));
        }
    }
    println!(
        "crash points after injected faults: {} ({runs} failed writes and syncs, each \
         followed by {SEEDS_PER_FAULT} crashes, a restart, and {SEEDS_PER_FAULT} crashes \
         after each step of the restart; {} kept the failed append, {} cut a torn tail) \
         in {:.2?} ({:.2} s CPU)",
        tally.points,
        tally.kept,
        tally.torn,
        started.elapsed(),
        thread_cpu_secs() - cpu
    );
    assert!(
        tally.kept > 0 && tally.torn > 0,
        "the failures exercise recovery"
    );
}

/// Restarts on a copy of `image` (the disk a failure left) and crashes it after each
/// operation of the open, which may be cutting a torn tail: a second crash during recovery
/// must not lose more than the first one could.
fn crash_during_recovery(
    image: &Image,
    expect: (&[Envelope], Option<&[Envelope]>),
    ctx: &str,
    tally: &mut Tally,
) {
    let disk = SimDisk::from_image(image.clone());
    disk.record();
    drop(FileLog::open_with(disk.clone(), opts()).expect("restart"));
    for snap in disk.take_snapshots() {
        for seed in 0..SEEDS_PER_FAULT {
            let ctx = format!(
                "{ctx}, then a crash after `{}` of the restart, seed {seed}",
                snap.after
            );
            let crashed = SimDisk::from_image(snap.image.crash(seed));
            tally.add(check_recovery(&crashed, expect, &ctx));
        }
    }
}

/// The workload without faults: each step's envelopes, and how many writes and syncs it
/// took.
fn reference_run(steps: &[Step]) -> (Vec<Vec<Envelope>>, u64, u64) {
    let disk = SimDisk::new();
    let mut log = FileLog::open_with(disk.clone(), opts()).expect("open");
    let mut out = Vec::new();
    for step in steps {
        out.push(match step {
            Step::Append { batch, conflicts } => {
                run_append(&log, batch, *conflicts).expect("append")
            }
            Step::Reopen => {
                drop(log);
                log = FileLog::open_with(disk.clone(), opts()).expect("reopen");
                Vec::new()
            }
        });
    }
    let (writes, syncs) = disk.counts();
    (out, writes, syncs)
}

/// Runs `steps` until the injected fault fires; checks that the failing call reports an
/// error and the log is closed after it. Returns the acknowledged events and the events of
/// the failed append (`None` if the open failed).
fn run_until_failure(
    disk: &SimDisk,
    steps: &[Step],
    reference: &[Vec<Envelope>],
    ctx: &str,
) -> (Vec<Envelope>, Option<Vec<Envelope>>) {
    let (_, acked, in_flight) = run_until_failure_keeping_the_log(disk, steps, reference, ctx);
    (acked, in_flight)
}

/// [`run_until_failure`], also returning the log the append failed on (if one did).
fn run_until_failure_keeping_the_log(
    disk: &SimDisk,
    steps: &[Step],
    reference: &[Vec<Envelope>],
    ctx: &str,
) -> (Option<FileLog>, Vec<Envelope>, Option<Vec<Envelope>>) {
    let mut acked = Vec::new();
    let mut log = match FileLog::open_with(disk.clone(), opts()) {
        Ok(log) => log,
        Err(StoreError::Io(_)) => return (None, acked, None),
        Err(e) => panic!("{ctx}: the first open failed with {e}"),
    };
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Append { batch, conflicts } => match run_append(&log, batch, *conflicts) {
                Ok(envs) => {
                    assert_eq!(envs, reference[i], "{ctx}: as without faults");
                    acked.extend(envs);
                }
                Err(AppendError::Store(StoreError::Io(_))) => {
                    let again = log.append_blocking(probe_batch(&acked));
                    assert!(
                        matches!(again, Err(AppendError::Store(StoreError::Closed))),
                        "{ctx}: fail-stop, got {again:?}"
                    );
                    let read = log.shared.read_all_sync(0, usize::MAX).expect("read");
                    assert_eq!(read, acked, "{ctx}: reads still serve what was acked");
                    return (Some(log), acked, Some(reference[i].clone()));
                }
                Err(e) => panic!("{ctx}: unexpected {e:?}"),
            },
            Step::Reopen => {
                drop(log);
                // The open syncs too (what it recovered, before appending after it).
                log = match FileLog::open_with(disk.clone(), opts()) {
                    Ok(log) => log,
                    Err(StoreError::Io(_)) => return (None, acked, None),
                    Err(e) => panic!("{ctx}: reopen: {e}"),
                };
            }
        }
    }
    // The failure hit the sync of a clean close (of the synced-end record), which answers
    // nobody: every append was acknowledged.
    assert!(!disk.fault_pending(), "{ctx}: the fault never fired");
    (None, acked, None)
}

#[test]
fn a_log_reopened_in_place_after_a_failure_keeps_every_acknowledged_append() {
    // Guards the writer's way back from a fail-stop (issue 8, defect 6): after each failed
    // write or sync of a workload, the same log is reopened in place (first while the disk
    // still fails, then once it works), takes new appends, and every crash of the result
    // keeps everything acknowledged before and after.
    let (mut runs, mut tally) = (0u64, Tally::default());
    for w in 0..2 {
        let steps = workload(200 + w);
        let (reference, writes, syncs) = reference_run(&steps);
        let faults = (1..=writes)
            .map(Fault::Write)
            .chain((1..=syncs).map(Fault::Sync));
        for fault in faults {
            let ctx = format!("workload {}, {fault:?}, reopened in place", 200 + w);
            let disk = SimDisk::new();
            match fault {
                Fault::Write(n) => disk.fail_write(n),
                Fault::Sync(n) => disk.fail_sync(n),
            }
            let (log, acked, _) =
                run_until_failure_keeping_the_log(&disk, &steps, &reference, &ctx);
            let Some(log) = log else { continue };
            runs += 1;
            disk.fail_sync(1);
            assert!(
                log.shared.recover_sync().is_err(),
                "{ctx}: the disk still fails"
            );
            disk.clear_faults();
            log.shared
                .recover_sync()
                .unwrap_or_else(|e| panic!("{ctx}: reopening in place: {e}"));
            let got = log.shared.read_all_sync(0, usize::MAX).expect("read");
            assert_eq!(got, acked, "{ctx}: the failed append is cut, the rest kept");
            let more = log
                .append_blocking(probe_batch(&got))
                .unwrap_or_else(|e| panic!("{ctx}: appending after the reopen: {e}"));
            assert_eq!(more[0].position, got.len() as u64, "{ctx}");
            let all = [got, more].concat();
            for seed in 0..SEEDS_PER_FAULT {
                let ctx = format!("{ctx}, then a crash with seed {seed}");
                let crashed = SimDisk::from_image(disk.image().crash(seed));
                tally.add(check_recovery(&crashed, (&all, None), &ctx));
            }
        }
    }
    println!(
        "in-place reopens after injected faults: {runs}, then {} crash points",
        tally.points
    );
    assert!(runs > 100, "only {runs} failures reopened in place");
}
