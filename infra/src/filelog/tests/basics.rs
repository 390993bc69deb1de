//! What the conformance suite (`crate::conformance`) cannot see from the port: segments
//! rolling over, a refused append leaving the segment file untouched, readers beside the
//! writer, replay, timestamps, the directory lock and `verify`.

use ipledger_domain::ExpectedVersion::{Any, Exact, NoStream};

use super::*;
use crate::{AppendError, EventStore};

#[tokio::test]
async fn append_and_read_back_across_segments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open_tiny(dir.path());
    let mut written = Vec::new();
    for b in 0..60u64 {
        let batch = vec![
            append_to(&format!("s{}", b % 7), Any, [b * 3]),
            append_to(&format!("t{}", b % 3), Any, b * 3 + 1..b * 3 + 1 + b % 3),
        ];
        written.extend(log.append(batch).await.expect("append"));
    }
    let n = written.len() as u64;
    assert_eq!(log.head(), n);
    assert!(
        segment_files(dir.path()).len() > 10,
        "tiny segments roll over"
    );
    assert_eq!(log.read_all(0, usize::MAX).await.expect("read"), written);
    for from in 0..n {
        let got = log.read_all(from, 7).await.expect("read");
        let end = (from as usize + 7).min(written.len());
        assert_eq!(got, written[from as usize..end], "from {from}");
    }
    assert!(log.read_all(n, 10).await.expect("read").is_empty());
    assert!(log.read_all(n + 100, 10).await.expect("read").is_empty());
    assert!(log.read_all(0, 0).await.expect("read").is_empty());
}

#[tokio::test]
async fn a_conflict_leaves_the_segment_file_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    log.append(vec![append_to("a", NoStream, 0..2)])
        .await
        .expect("append");
    let seg = &segment_files(dir.path())[0];
    let (head, len) = (log.head(), file_len(seg));
    for bad in [append_to("a", NoStream, [9]), append_to("a", Exact(5), [9])] {
        let refused = log.append(vec![append_to("other", Any, [8]), bad]).await;
        assert!(matches!(refused, Err(AppendError::Conflict { .. })));
        assert_eq!((log.head(), file_len(seg)), (head, len), "nothing written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_run_beside_the_writer_on_a_multi_thread_runtime() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open_tiny(dir.path());
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let (mut rx, mut seen) = (log.follow(), 0u64);
            while seen < 300 {
                rx.changed().await.expect("open");
                for env in log.read_all(seen, 1000).await.expect("read") {
                    assert_eq!(env.position, seen);
                    seen += 1;
                }
            }
            seen
        })
    };
    for i in 0..100u64 {
        let batch = vec![append_to(&format!("s{}", i % 4), Any, i * 3..i * 3 + 3)];
        log.append(batch).await.expect("append");
    }
    assert_eq!(reader.await.expect("joined"), 300);
}

#[test]
fn replay_and_large_reads_deliver_everything_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    let written = fill(&log, 10, 1000);
    assert_eq!(
        log.shared.read_all_sync(0, usize::MAX).expect("read"),
        written
    );
    for from in [0, 1, 4095, 9999, 10_000, 10_050] {
        let mut got = Vec::new();
        let next = log.replay(from, |e| got.push(e)).expect("replay");
        assert_eq!(next, from.max(10_000));
        assert_eq!(
            got[..],
            written[(from.min(10_000)) as usize..],
            "from {from}"
        );
    }
}

#[test]
fn recorded_at_is_kept_to_the_microsecond() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    let mut sa = append_to("a", Any, [0]);
    let precise = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("time");
    sa.events[0].recorded_at = precise;
    let got = log.append_blocking(vec![sa]).expect("append");
    assert_eq!(got[0].recorded_at.timestamp_subsec_nanos(), 123_456_000);
    assert_eq!(log.shared.read_all_sync(0, 1).expect("read"), got);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    let impatient = FileLogOptions {
        lock_wait: std::time::Duration::ZERO,
        ..FileLogOptions::default()
    };
    let refused = FileLog::open(dir.path(), impatient.clone());
    assert!(matches!(refused, Err(crate::StoreError::Io(_))));
    drop(log);
    FileLog::open(dir.path(), impatient).expect("open once released");
}

#[test]
fn verify_counts_a_clean_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open_tiny(dir.path());
    fill(&log, 20, 2);
    let report = super::super::verify(dir.path()).expect("verify");
    let header = super::super::header::HEADER_LEN;
    let bytes: u64 = segment_files(dir.path())
        .iter()
        .map(|p| file_len(p) - header)
        .sum();
    assert_eq!(report.records, 40);
    assert_eq!(report.segments, segment_files(dir.path()).len() as u64);
    assert_eq!((report.bytes, report.streams), (bytes, 5));
    assert!(report.torn_tail.is_none() && report.problems.is_empty());
}
