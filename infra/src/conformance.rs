//! One conformance suite for every backend of the `EventStore` port: the same cases run
//! against the in-memory reference store, the file log and PostgreSQL (`suite!` below
//! instantiates them per backend). A new backend (EventStoreDB, say) implements
//! [`Backend`] and adds one `suite!` line; what the port promises is written here once.
//!
//! The cases: append and read back, read one stream by version, follow from a position,
//! batches over several streams (a stream repeated in one batch), expected versions and
//! conflicts (which write nothing), racing appenders (exactly one wins, the other gets the
//! typed conflict), large records (the shared record limit), restart (everything is there
//! and versions go on), a follower that never skips while two writers append, and the hash
//! chain (every stored backend chains the same bytes the same way: one log, one chain).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::DateTime;
use ipledger_domain::events::EVENT_TYPES;
use ipledger_domain::ExpectedVersion::{self, Any, Exact, NoStream};
use ipledger_domain::{Envelope, Event, NewEvent};
use uuid::Uuid;

use crate::codec::golden::sample_of;
use crate::{AppendError, EventStore, RecordRefused, StreamAppend};

/// The `n`th test event: cycles through every event type.
pub(crate) fn event(n: u64) -> NewEvent {
    let (name, _) = EVENT_TYPES[n as usize % EVENT_TYPES.len()];
    NewEvent {
        event_id: Uuid::from_u128(u128::from(n) + 1),
        recorded_at: DateTime::from_timestamp_micros(1_700_000_000_000_000 + n as i64)
            .expect("valid time"),
        actor: format!("actor-{n}"),
        correlation_id: n.is_multiple_of(2).then(|| format!("corr-{n}")),
        idempotency_key: n.is_multiple_of(3).then(|| format!("idem-{n}")),
        event: sample_of(name).expect("every type has a sample"),
    }
}

pub(crate) fn append_to(
    stream: &str,
    expected: ExpectedVersion,
    events: impl IntoIterator<Item = u64>,
) -> StreamAppend {
    StreamAppend {
        stream: stream.to_string(),
        expected,
        events: events.into_iter().map(event).collect(),
    }
}

/// A backend under test: each test gets a fresh, empty log.
#[async_trait]
pub(crate) trait Backend: Send + Sync {
    /// Opens the log (again, once every earlier handle is dropped: a restart).
    async fn open(&self) -> Arc<dyn EventStore>;
    /// A second handle on the same log as another node would hold, where the backend can
    /// be shared (PostgreSQL); `None` for single-writer backends.
    async fn open_another(&self) -> Option<Arc<dyn EventStore>>;
}

/// Instantiates every case of the suite for one backend (an expression making it).
macro_rules! suite {
    ($make:expr) => {
        $crate::conformance::suite!(@cases $make;
            append_and_read_back, read_stream_by_version, follow_from_a_position,
            batches_span_streams_and_repeat_them, expected_versions_and_conflicts_write_nothing,
            racing_appenders_one_wins, large_records, restart_keeps_everything,
            a_follower_never_skips, the_chain_links_every_record);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = $make;
                $crate::conformance::$case(&backend).await;
            }
        )*
    };
}
pub(crate) use suite;

async fn all(store: &dyn EventStore) -> Vec<Envelope> {
    store.read_all(0, usize::MAX).await.expect("read all")
}

/// Waits (bounded) until the store's head watch reaches `head`.
async fn head_reaches(store: &dyn EventStore, head: u64) {
    let mut rx = store.follow();
    tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|h| *h >= head))
        .await
        .unwrap_or_else(|_| panic!("head never reached {head}"))
        .expect("watch open");
}

pub(crate) async fn append_and_read_back(b: &impl Backend) {
    let log = b.open().await;
    assert_eq!(log.head(), 0);
    assert!(all(&*log).await.is_empty());
    let mut written = Vec::new();
    for i in 0..40u64 {
        let batch = vec![
            append_to(&format!("s{}", i % 7), Any, [i * 3]),
            append_to(&format!("t{}", i % 3), Any, i * 3 + 1..i * 3 + 1 + i % 3),
        ];
        let got = log.append(batch).await.expect("append");
        for (k, env) in got.iter().enumerate() {
            assert_eq!(env.position, written.len() as u64 + k as u64, "gapless");
        }
        written.extend(got);
    }
    let n = written.len() as u64;
    assert_eq!(log.head(), n);
    assert_eq!(all(&*log).await, written);
    for from in 0..n {
        let got = log.read_all(from, 7).await.expect("read");
        let end = (from as usize + 7).min(written.len());
        assert_eq!(got, written[from as usize..end], "from {from}");
    }
    assert!(log.read_all(n, 10).await.expect("read").is_empty());
    assert!(log.read_all(u64::MAX, 10).await.expect("read").is_empty());
    assert!(log.read_all(0, 0).await.expect("read").is_empty());
    // The envelope comes back whole: ids, time to the microsecond, actor, optional fields.
    let first = &written[0];
    let sent = event(0);
    assert_eq!(
        (
            first.event_id,
            first.recorded_at,
            &first.actor,
            &first.event
        ),
        (sent.event_id, sent.recorded_at, &sent.actor, &sent.event)
    );
    assert_eq!(
        (&first.correlation_id, &first.idempotency_key),
        (&sent.correlation_id, &sent.idempotency_key)
    );
}

pub(crate) async fn read_stream_by_version(b: &impl Backend) {
    let log = b.open().await;
    let mut written = Vec::new();
    for i in 0..60u64 {
        let sa = append_to(&format!("s{}", i % 5), Any, [i * 2, i * 2 + 1]);
        written.extend(log.append(vec![sa]).await.expect("append"));
    }
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

pub(crate) async fn follow_from_a_position(b: &impl Backend) {
    let log = b.open().await;
    let mut rx = log.follow();
    assert_eq!(*rx.borrow_and_update(), 0);
    log.append(vec![append_to("a", NoStream, 0..3)])
        .await
        .expect("append");
    tokio::time::timeout(Duration::from_secs(10), rx.changed())
        .await
        .expect("woken")
        .expect("open");
    assert_eq!((*rx.borrow_and_update(), log.head()), (3, 3));
    // A follower that has seen up to 3 reads from there, woken by each append.
    let follower = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < 4 {
                rx.changed().await.expect("open");
                let from = 3 + seen.len() as u64;
                seen.extend(log.read_all(from, 100).await.expect("read"));
            }
            seen
        })
    };
    log.append(vec![append_to("a", Exact(2), [3])])
        .await
        .expect("append");
    log.append(vec![append_to("b", NoStream, 4..7)])
        .await
        .expect("append");
    let seen = tokio::time::timeout(Duration::from_secs(10), follower)
        .await
        .expect("follower done")
        .expect("joined");
    let positions: Vec<u64> = seen.iter().map(|e| e.position).collect();
    assert_eq!(positions, [3, 4, 5, 6]);
    assert_eq!(log.read_all(3, 100).await.expect("read"), seen);
}

pub(crate) async fn batches_span_streams_and_repeat_them(b: &impl Backend) {
    let log = b.open().await;
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
    assert_eq!(all(&*log).await, got);
    assert!(log.append(vec![]).await.expect("empty append").is_empty());
    assert_eq!(log.head(), 4);
    // A batch is all or nothing: its last stream's conflict keeps its first stream out.
    let refused = log
        .append(vec![
            append_to("c", NoStream, [4]),
            append_to("b", Exact(7), [5]),
        ])
        .await;
    assert!(
        matches!(refused, Err(AppendError::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!((log.head(), all(&*log).await), (4, got));
}

pub(crate) async fn expected_versions_and_conflicts_write_nothing(b: &impl Backend) {
    let log = b.open().await;
    log.append(vec![append_to("a", NoStream, 0..2)])
        .await
        .expect("append");
    let before = all(&*log).await;
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
        assert_eq!(
            (log.head(), all(&*log).await),
            (2, before.clone()),
            "nothing written"
        );
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
    let versions: Vec<u64> = log
        .read_stream("a", 0, 10)
        .await
        .expect("read")
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, [0, 1, 2, 3]);
}

pub(crate) async fn racing_appenders_one_wins(b: &impl Backend) {
    let log = b.open().await;
    let other = b.open_another().await.unwrap_or_else(|| log.clone());
    log.append(vec![append_to("hot", NoStream, [0])])
        .await
        .expect("append");
    for round in 0..20u64 {
        let expected = Exact(round);
        let (x, y) = tokio::join!(
            log.append(vec![append_to("hot", expected, [100 + round])]),
            other.append(vec![append_to("hot", expected, [200 + round])]),
        );
        let won = [&x, &y].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {x:?} / {y:?}");
        for r in [x, y] {
            match r {
                Ok(stored) => assert_eq!(stored[0].version, round + 1),
                Err(AppendError::Conflict { stream, actual, .. }) => {
                    assert_eq!((stream.as_str(), actual), ("hot", Some(round + 1)))
                }
                Err(e) => panic!("round {round}: a loser must get the typed conflict, got {e}"),
            }
        }
    }
    let hot = log.read_stream("hot", 0, 100).await.expect("read");
    assert_eq!(hot.len(), 21);
    assert_eq!(all(&*other).await, all(&*log).await);
}

pub(crate) async fn large_records(b: &impl Backend) {
    let log = b.open().await;
    let max = ipledger_domain::limits::RECORD_BYTES_MAX;
    let big = |len: usize| {
        let mut new = event(0);
        new.event = sample_of("RequestSubmitted").expect("sample");
        if let Event::RequestSubmitted(e) = &mut new.event {
            e.assigned_to = "x".repeat(len);
        }
        new
    };
    let large = big(max * 3 / 4);
    log.check_record(&large)
        .expect("a large record within the limit");
    let sa = StreamAppend {
        stream: "big".into(),
        expected: NoStream,
        events: vec![large.clone(), event(1)],
    };
    let stored = log.append(vec![sa]).await.expect("append");
    assert_eq!(stored[0].event, large.event);
    assert_eq!(all(&*log).await, stored);
    match log.check_record(&big(max * 2)) {
        Err(RecordRefused::TooLarge { max_bytes, .. }) => assert_eq!(max_bytes, max),
        other => panic!("a record over the limit must be refused, got {other:?}"),
    }
}

pub(crate) async fn restart_keeps_everything(b: &impl Backend) {
    let written = {
        let log = b.open().await;
        let mut written = Vec::new();
        for i in 0..30u64 {
            let sa = append_to(&format!("s{}", i % 4), Any, i * 3..i * 3 + 3);
            written.extend(log.append(vec![sa]).await.expect("append"));
        }
        written
    };
    let log = b.open().await;
    assert_eq!(log.head(), written.len() as u64);
    assert_eq!(all(&*log).await, written);
    let v = written.iter().filter(|e| e.stream == "s0").count() as u64;
    let more = log
        .append(vec![append_to("s0", Exact(v - 1), [1000])])
        .await
        .expect("append");
    assert_eq!(
        (more[0].position, more[0].version),
        (written.len() as u64, v)
    );
    let conflict = log.append(vec![append_to("s1", NoStream, [1001])]).await;
    assert!(matches!(conflict, Err(AppendError::Conflict { .. })));
    drop(log);
    let log = b.open().await;
    assert_eq!(
        log.read_all(written.len() as u64, 5).await.expect("read"),
        more
    );
}

/// The chain head after appends (and after a restart) is the hash that `chain::link` gives
/// over the records' stored bytes from the first one, across batches of several streams
/// and a restart; the memory store keeps no chain and says so.
pub(crate) async fn the_chain_links_every_record(b: &impl Backend) {
    let log = b.open().await;
    let Some(empty) = log.chain_head().await.expect("chain head") else {
        // The memory store: no record bytes, no chain.
        log.append(vec![append_to("s", Any, [0])])
            .await
            .expect("append");
        assert_eq!(log.chain_head().await.expect("chain head"), None);
        return;
    };
    assert_eq!((empty.chained_from, empty.last), (0, None));
    for i in 0..12u64 {
        let batch = vec![
            append_to(&format!("s{}", i % 3), Any, [i * 2]),
            append_to("t", Any, i * 2 + 1..i * 2 + 1 + i % 3),
        ];
        log.append(batch).await.expect("append");
    }
    let expected = |written: &[Envelope]| {
        let mut hash = crate::chain::GENESIS;
        for env in written {
            hash = crate::chain::link(&hash, &crate::codec::encode_record(env));
        }
        (written.len() as u64 - 1, hash)
    };
    let written = all(&*log).await;
    let head = chained(&*log).await;
    assert_eq!(
        (head.chained_from, head.last),
        (0, Some(expected(&written)))
    );
    drop(log);
    let log = b.open().await;
    let again = chained(&*log).await;
    assert_eq!(again, head, "a restart continues from the stored head");
    log.append(vec![append_to("s0", Any, [500])])
        .await
        .expect("append");
    let written = all(&*log).await;
    let head = chained(&*log).await;
    assert_eq!(head.last, Some(expected(&written)));
}

async fn chained(log: &dyn EventStore) -> crate::ChainHead {
    let head = log.chain_head().await.expect("chain head");
    head.expect("a backend that keeps a chain")
}

/// Two writers append concurrently (two nodes where the backend can be shared) while a
/// follower reads from its last position each time it is woken: it must see every position
/// once, in order, with no gap — a skipped event would never be seen again.
pub(crate) async fn a_follower_never_skips(b: &impl Backend) {
    let log = b.open().await;
    let other = b.open_another().await.unwrap_or_else(|| log.clone());
    const PER_WRITER: u64 = 60;
    let total = 2 * PER_WRITER * 2;
    let follower = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut rx = log.follow();
            let mut seen = 0u64;
            while seen < total {
                // Also read without waiting: a reader racing the commits must not skip.
                for env in log.read_all(seen, 1000).await.expect("read") {
                    assert_eq!(env.position, seen, "a follower skipped or repeated");
                    seen += 1;
                }
                let _ = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
            }
            seen
        })
    };
    let writer = |store: Arc<dyn EventStore>, base: u64| async move {
        for i in 0..PER_WRITER {
            let sa = append_to(
                &format!("w{base}-{}", i % 3),
                Any,
                [base + 2 * i, base + 2 * i + 1],
            );
            store.append(vec![sa]).await.expect("append");
        }
    };
    tokio::join!(writer(log.clone(), 0), writer(other.clone(), 10_000));
    let seen = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("the follower caught up")
        .expect("joined");
    assert_eq!(seen, total);
    head_reaches(&*log, total).await;
    head_reaches(&*other, total).await;
}

mod memory {
    use super::*;
    use ipledger_commands::memstore::MemoryStore;

    /// The reference store; a "restart" is the same object (it keeps nothing elsewhere).
    pub(crate) struct Memory(Arc<MemoryStore>);

    #[async_trait]
    impl Backend for Memory {
        async fn open(&self) -> Arc<dyn EventStore> {
            self.0.clone()
        }
        async fn open_another(&self) -> Option<Arc<dyn EventStore>> {
            None
        }
    }

    fn memory() -> Memory {
        Memory(Arc::new(MemoryStore::new(
            ipledger_domain::limits::RECORD_BYTES_MAX,
        )))
    }

    suite!(memory());
}

mod filelog {
    use super::*;
    use crate::filelog::{FileLog, FileLogOptions};

    pub(crate) struct File(tempfile::TempDir);

    #[async_trait]
    impl Backend for File {
        async fn open(&self) -> Arc<dyn EventStore> {
            // Small segments, so that the cases cross segment boundaries.
            let opts = FileLogOptions {
                segment_bytes_max: 16 << 10,
                ..FileLogOptions::default()
            };
            Arc::new(FileLog::open(self.0.path(), opts).expect("open"))
        }
        async fn open_another(&self) -> Option<Arc<dyn EventStore>> {
            None
        }
    }

    fn file() -> File {
        File(tempfile::tempdir().expect("temp dir"))
    }

    suite!(file());
}

mod postgres {
    use super::*;
    use crate::postgres::tests::TestDb;
    use crate::postgres::{PostgresOptions, PostgresStore};

    /// A schema of its own per test, dropped afterwards.
    pub(crate) struct Postgres(TestDb);

    #[async_trait]
    impl Backend for Postgres {
        async fn open(&self) -> Arc<dyn EventStore> {
            Arc::new(self.0.open().await)
        }
        async fn open_another(&self) -> Option<Arc<dyn EventStore>> {
            let opts = PostgresOptions::default();
            let store = PostgresStore::open(&self.0.location, opts)
                .await
                .expect("open");
            Some(Arc::new(store))
        }
    }

    suite!(Postgres(TestDb::new()));
}
