//! Appending, reading, following, optimistic concurrency and reopening.

use std::time::Duration;

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
async fn read_stream_returns_a_streams_events_by_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open_tiny(dir.path());
    let written = fill(&log, 80, 2);
    for s in 0..5 {
        let stream = format!("s{s}");
        let mine: Vec<_> = written
            .iter()
            .filter(|e| e.stream == stream)
            .cloned()
            .collect();
        assert_eq!(
            log.read_stream(&stream, 0, usize::MAX).await.expect("read"),
            mine
        );
        for (v, env) in mine.iter().enumerate() {
            assert_eq!(env.version, v as u64);
            let got = log.read_stream(&stream, v as u64, 3).await.expect("read");
            assert_eq!(got, mine[v..(v + 3).min(mine.len())]);
        }
        let past = mine.len() as u64;
        assert!(log
            .read_stream(&stream, past, 5)
            .await
            .expect("read")
            .is_empty());
        assert!(log
            .read_stream(&stream, u64::MAX, 5)
            .await
            .expect("read")
            .is_empty());
    }
    assert!(log
        .read_stream("nope", 0, 5)
        .await
        .expect("read")
        .is_empty());
}

#[tokio::test]
async fn head_and_follow_advance_after_each_append() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    let mut rx = log.follow();
    assert_eq!((log.head(), *rx.borrow()), (0, 0));
    log.append(vec![append_to("a", NoStream, 0..3)])
        .await
        .expect("append");
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .expect("woken")
        .expect("open");
    assert_eq!((*rx.borrow_and_update(), log.head()), (3, 3));
    let follower = tokio::spawn(async move {
        rx.changed().await.expect("open");
        *rx.borrow()
    });
    log.append(vec![append_to("a", Exact(2), [3])])
        .await
        .expect("append");
    assert_eq!(follower.await.expect("joined"), 4);
}

#[tokio::test]
async fn one_batch_numbers_streams_in_order_even_when_repeated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    let batch = vec![
        append_to("a", NoStream, 0..2),
        append_to("b", NoStream, [2]),
        append_to("a", Exact(1), [3]),
        append_to("b", Exact(0), []),
    ];
    let got = log.append(batch).await.expect("append");
    let shape: Vec<_> = got
        .iter()
        .map(|e| (e.position, e.stream.as_str(), e.version))
        .collect();
    assert_eq!(shape, [(0, "a", 0), (1, "a", 1), (2, "b", 0), (3, "a", 2)]);
    assert!(log.append(vec![]).await.expect("empty append").is_empty());
    assert_eq!(log.head(), 4);
}

#[tokio::test]
async fn conflicts_write_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    log.append(vec![append_to("a", NoStream, 0..2)])
        .await
        .expect("append");
    let seg = &segment_files(dir.path())[0];
    let (head, len) = (log.head(), file_len(seg));
    let cases = [
        (append_to("a", NoStream, [9]), Some(1)),
        (append_to("a", Exact(0), [9]), Some(1)),
        (append_to("a", Exact(5), [9]), Some(1)),
        (append_to("new", Exact(0), [9]), None),
    ];
    for (bad, actual) in cases {
        let expected = bad.expected;
        let batch = vec![append_to("other", Any, [8]), bad];
        match log.append(batch).await {
            Err(AppendError::Conflict {
                stream,
                expected: e,
                actual: a,
            }) => {
                assert_ne!(stream, "other");
                assert_eq!((e, a), (expected, actual));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!((log.head(), file_len(seg)), (head, len), "nothing written");
    }
    assert!(log
        .read_stream("other", 0, 10)
        .await
        .expect("read")
        .is_empty());
    log.append(vec![
        append_to("a", Exact(1), [3]),
        append_to("a", Any, [4]),
    ])
    .await
    .expect("ok");
    log.append(vec![append_to("fresh", NoStream, [5])])
        .await
        .expect("ok");
    assert_eq!(log.head(), 5);
}

#[tokio::test]
async fn reopen_sees_the_same_events_and_continues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let written = {
        let log = open_tiny(dir.path());
        fill(&log, 30, 3)
    };
    let log = open_tiny(dir.path());
    assert!(log.torn_tail().is_none());
    assert_eq!(log.head(), written.len() as u64);
    assert_eq!(log.read_all(0, usize::MAX).await.expect("read"), written);
    let v = written.iter().filter(|e| e.stream == "s0").count() as u64;
    let more = log
        .append(vec![append_to("s0", Exact(v - 1), [1000])])
        .await
        .expect("append");
    assert_eq!(
        (more[0].position, more[0].version),
        (written.len() as u64, v)
    );
    drop(log);
    let log = open_tiny(dir.path());
    assert_eq!(
        log.read_all(written.len() as u64, 5).await.expect("read"),
        more
    );
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
