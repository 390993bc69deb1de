//! Tests of what is particular to the PostgreSQL store (the port's own cases are in the
//! conformance suite): the commit-order interleaving a follower must survive, migrations,
//! the typed conflict from a unique violation, and location parsing. Each test works in a
//! schema of its own ([`TestDb`]), dropped afterwards; the database is the machine's
//! (`IPLEDGER_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`).

use std::time::Duration;

use ipledger_domain::ExpectedVersion::{Any, NoStream};
use tokio::sync::oneshot;

use super::*;
use crate::conformance::append_to;

/// A fresh schema on the test database, dropped when this goes.
pub(crate) struct TestDb {
    pub(crate) location: PostgresLocation,
    _scratch: ScratchSchema,
}

impl TestDb {
    pub(crate) fn new() -> TestDb {
        let scratch = ScratchSchema::new();
        let location = scratch.url().parse().expect("test database URL");
        TestDb {
            location,
            _scratch: scratch,
        }
    }

    pub(crate) async fn open(&self) -> PostgresStore {
        let opts = PostgresOptions {
            poll_interval: Duration::from_millis(200),
            ..PostgresOptions::default()
        };
        PostgresStore::open(&self.location, opts)
            .await
            .expect("open the test schema (is PostgreSQL running on 127.0.0.1:5432?)")
    }
}

/// Test hook: holds the next append's transaction open after its rows are inserted, until
/// released, to force commit-order interleavings.
#[derive(Default)]
pub(crate) struct Hold {
    armed: parking_lot::Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

impl Hold {
    /// Arms the hook: returns (signalled when an append is held, release it).
    pub(crate) fn arm(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (held_tx, held_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.armed.lock() = Some((held_tx, release_rx));
        (held_rx, release_tx)
    }

    pub(super) async fn wait(&self) {
        let armed = self.armed.lock().take();
        if let Some((held, release)) = armed {
            let _ = held.send(());
            let _ = release.await;
        }
    }
}

/// Item 2 of issue 12, forced: node A's append takes its positions and holds its
/// transaction open; node B appends meanwhile. With sequence-drawn positions B would commit
/// first at a higher position and a follower reading `position >= seen` would store B's
/// and never see A's. Under the advisory lock B waits for A's commit; a reader sees
/// neither, then A's, then A's and B's, never B's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_commit_is_never_visible_before_an_earlier_one() {
    let db = TestDb::new();
    let a = db.open().await;
    let b = db.open().await;
    let reader = db.open().await;
    a.append(vec![append_to("x", NoStream, [0])])
        .await
        .expect("first");
    let (held, release) = a.shared().hold_before_commit.arm();
    let first = {
        let a = a.clone();
        tokio::spawn(async move { a.append(vec![append_to("a", Any, 1..3)]).await })
    };
    held.await.expect("A's append is held before its commit");
    let second = {
        let b = b.clone();
        tokio::spawn(async move { b.append(vec![append_to("b", Any, 3..5)]).await })
    };
    // B cannot commit (nor even number its events) while A's transaction is open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "B committed while A held the log");
    let seen = reader.read_all(1, 100).await.expect("read");
    assert!(seen.is_empty(), "uncommitted events visible: {seen:?}");
    release.send(()).expect("release A");
    let a_stored = first.await.expect("joined").expect("A appended");
    let b_stored = second.await.expect("joined").expect("B appended");
    assert_eq!(
        a_stored.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        b_stored.iter().map(|e| e.position).collect::<Vec<_>>(),
        [3, 4]
    );
    let all = reader.read_all(0, 100).await.expect("read");
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    // The reader's follower learned of both commits from the notifications (or the poll).
    let mut rx = reader.follow();
    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|h| *h == 5))
        .await
        .expect("the follower saw the head move")
        .expect("watch open");
}

/// While A holds the log, a follower keeps reading from its position: it sees nothing new
/// until A commits, then everything in order — checked on every read while B's and A's
/// appends interleave many times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_reading_during_held_commits_sees_every_position_in_order() {
    let db = TestDb::new();
    let a = db.open().await;
    let b = db.open().await;
    let reader = db.open().await;
    let mut seen = 0u64;
    for round in 0..10u64 {
        let (held, release) = a.shared().hold_before_commit.arm();
        let first = {
            let a = a.clone();
            tokio::spawn(async move { a.append(vec![append_to("a", Any, [round * 2])]).await })
        };
        held.await.expect("held");
        let second = {
            let b = b.clone();
            tokio::spawn(async move { b.append(vec![append_to("b", Any, [round * 2 + 1])]).await })
        };
        for env in reader.read_all(seen, 100).await.expect("read") {
            assert_eq!(env.position, seen);
            seen += 1;
        }
        release.send(()).expect("release");
        first.await.expect("joined").expect("A");
        second.await.expect("joined").expect("B");
        for env in reader.read_all(seen, 100).await.expect("read") {
            assert_eq!(env.position, seen, "round {round}");
            seen += 1;
        }
    }
    assert_eq!(seen, 20);
}

/// A node that hangs holding the log (here: its transaction held open) makes another
/// node's append fail as a store error after `lock_wait` — the writer answers 503 and
/// reopens — rather than hang; once the holder commits, appends go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_waiting_too_long_for_the_lock_is_a_store_error() {
    let db = TestDb::new();
    let a = db.open().await;
    let impatient = PostgresOptions {
        lock_wait: Duration::from_millis(200),
        ..PostgresOptions::default()
    };
    let b = PostgresStore::open(&db.location, impatient)
        .await
        .expect("open");
    let (held, release) = a.shared().hold_before_commit.arm();
    let first = {
        let a = a.clone();
        tokio::spawn(async move { a.append(vec![append_to("a", Any, [0])]).await })
    };
    held.await.expect("held");
    match b.append(vec![append_to("b", Any, [1])]).await {
        Err(AppendError::Store(StoreError::Database(why))) => {
            assert!(why.contains("lock"), "{why}")
        }
        other => panic!("expected a store error, got {other:?}"),
    }
    release.send(()).expect("release");
    first.await.expect("joined").expect("A appended");
    let stored = b.append(vec![append_to("b", Any, [1])]).await.expect("B");
    assert_eq!(stored[0].position, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_once_and_a_newer_schema_is_refused() {
    let db = TestDb::new();
    // Nodes starting together migrate once.
    let (x, y) = tokio::join!(db.open(), db.open());
    drop((x, y));
    let client = connect(&db.location).await.expect("connect");
    let s = &db.location.schema;
    let rows = client
        .query(
            &format!("SELECT version FROM \"{s}\".schema_migrations ORDER BY version"),
            &[],
        )
        .await
        .expect("migrations");
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=schema::SCHEMA_VERSION).collect::<Vec<_>>());
    client
        .execute(
            &format!(
                "INSERT INTO \"{s}\".schema_migrations (version, name) VALUES (9999, 'future')"
            ),
            &[],
        )
        .await
        .expect("insert");
    let refused = PostgresStore::open(&db.location, PostgresOptions::default()).await;
    match refused {
        Err(StoreError::Database(why)) => assert!(why.contains("newer"), "{why}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

/// A writer that does not take the lock (an older binary, a hand-made insert) can slip
/// a row past the version check: the append then hits UNIQUE (stream, version) when that
/// writer commits, and that is still the typed conflict, never a store failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_violation_is_a_conflict_not_a_store_failure() {
    let db = TestDb::new();
    let log = db.open().await;
    log.append(vec![append_to("s", NoStream, [0])])
        .await
        .expect("append");
    let rogue = connect(&db.location).await.expect("connect");
    let t = format!("\"{}\".events", db.location.schema);
    rogue
        .batch_execute(&format!(
            "BEGIN; INSERT INTO {t} SELECT 1, stream, 1, event_type, event_version, payload, \
             event_id, recorded_at, actor, correlation_id, idempotency_key, NULL \
             FROM {t} WHERE position = 0"
        ))
        .await
        .expect("insert behind the store's back, uncommitted");
    let append = {
        let log = log.clone();
        tokio::spawn(async move { log.append(vec![append_to("s", Any, [1])]).await })
    };
    // The append cannot see the uncommitted row and waits on the unique index for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    rogue.batch_execute("COMMIT").await.expect("commit");
    match append.await.expect("joined") {
        Err(AppendError::Conflict { stream, actual, .. }) => {
            assert_eq!((stream.as_str(), actual), ("s", Some(1)))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn locations_parse_the_schema_and_keep_libpq_parameters() {
    let l: PostgresLocation =
        "postgres://postgres@127.0.0.1:5432/test?schema=node_a&connect_timeout=3"
            .parse()
            .expect("parse");
    assert_eq!(l.schema, "node_a");
    assert_eq!(l.config.get_dbname(), Some("test"));
    assert_eq!(
        l.config.get_connect_timeout(),
        Some(&Duration::from_secs(3))
    );
    let d: PostgresLocation = "postgres://u@h/db".parse().expect("parse");
    assert_eq!(d.schema, "ipledger");
    for bad in ["Upper", "1x", "a-b", "x\"y", ""] {
        let url = format!("postgres://u@h/db?schema={bad}");
        assert!(url.parse::<PostgresLocation>().is_err(), "{bad}");
    }
}
