//! The event log on PostgreSQL: the [`EventStore`] port over one table, so that several
//! ipledger nodes can share one log on an engine operators already run and replicate.
//!
//! One row per event (`schema.rs`): global position, stream, stream version, the payload's
//! type and schema version, the payload as the file log's codec writes it
//! (`codec::encode_event`), the envelope fields, and the chain hash (`crate::chain`: SHA-256
//! of the previous row's hash and the record's stored bytes, rebuilt from these columns;
//! null in rows written before the chain existed); `UNIQUE (stream, version)`. The appender
//! reads the previous row's hash under the log's advisory lock, so the chain follows the
//! positions exactly.
//!
//! Ordering (why followers never skip): every append transaction first takes one
//! transaction-scoped advisory lock per log (`pg_advisory_xact_lock(key)`), then reads the
//! head and the versions of its streams, checks the expected versions, and numbers its rows
//! head, head+1, ... It holds the lock until its commit is visible. So positions are gapless
//! and handed out in commit order: a reader that sees position N+1 sees N. The cost is one
//! appending transaction at a time per log, across all nodes (each node's writer batches
//! commands, so one transaction carries a whole group commit). ARCHITECTURE.md says more.
//!
//! Followers: `follow()` is a watch of the head, moved by this node's own commits and by a
//! background task that `LISTEN`s on the log's channel (every append `pg_notify`s the new
//! head inside its transaction, so the note arrives only after the commit) and polls the
//! head every `poll_interval` as the fallback for missed notes and lost connections.

mod schema;
mod watcher;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use ipledger_domain::{Envelope, NewEvent};
use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use crate::chain::{self, ChainCheck, Hash, GENESIS};
use crate::codec::{decode_event, encode_event, encode_parts_into, record_len, RecordParts};
use crate::{AppendError, ChainHead, EventStore, RecordRefused, StoreError, StreamAppend};
use ipledger_commands::store::number;

/// Tuning of the PostgreSQL store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Connections in the pool (appends take one at a time; readers the others).
    pub pool_size: usize,
    /// How often the follower reads the head when no notification arrived.
    pub poll_interval: Duration,
    /// How long a connection attempt or a wait for a pooled connection may take before the
    /// operation fails as a store error.
    pub connect_timeout: Duration,
    /// How long an append waits for the log's lock (held by another append until its
    /// commit) before it fails as a store error.
    pub lock_wait: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 8,
            poll_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
            lock_wait: Duration::from_secs(10),
        }
    }
}

/// Where a log lives on PostgreSQL: the connection settings and the schema holding its
/// tables. Written as a URL, `postgres://user@host:port/db?schema=NAME` (`schema` defaults
/// to `ipledger`; the other parameters are libpq's, as `tokio-postgres` reads them).
#[derive(Clone)]
pub struct PostgresLocation {
    pub config: tokio_postgres::Config,
    pub schema: String,
}

impl std::fmt::Debug for PostgresLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config's Debug redacts the password.
        f.debug_struct("PostgresLocation")
            .field("config", &self.config)
            .field("schema", &self.schema)
            .finish()
    }
}

impl FromStr for PostgresLocation {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = "ipledger".to_string();
        let mut rest = Vec::new();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            match param.split_once('=') {
                Some(("schema", name)) => schema = name.to_string(),
                _ => rest.push(param),
            }
        }
        if !valid_schema(&schema) {
            return Err(format!(
                "schema {schema:?}: use 1 to 40 of a-z, 0-9 and _, starting with a letter or _"
            ));
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let config = tokio_postgres::Config::from_str(&url).map_err(|e| e.to_string())?;
        Ok(PostgresLocation { config, schema })
    }
}

/// Schema names are spliced into SQL (quoted): keep them to a plain identifier, short
/// enough that the notification channel's name stays under PostgreSQL's 63 bytes.
fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The event store on PostgreSQL. Cheap to clone: clones share one pool and one follower.
#[derive(Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
    _watcher: Arc<watcher::AbortOnDrop>,
}

pub(crate) struct Shared {
    pool: Pool,
    sql: Sql,
    /// The advisory lock key of this log (from its schema name): appends to one log are
    /// serialised, appends to logs in other schemas are not.
    lock_key: i64,
    lock_wait: Duration,
    channel: String,
    head: AtomicU64,
    head_tx: watch::Sender<u64>,
    #[cfg(test)]
    pub(crate) hold_before_commit: tests::Hold,
}

/// The statements, with the schema spliced in once.
struct Sql {
    head: String,
    /// The last row's position and chain hash (the appender's head and previous hash).
    last: String,
    /// Where the chain begins: after the last row without a hash.
    chained_from: String,
    /// Rows as stored, hashes included, for `check_chain`.
    chain_rows: String,
    versions: String,
    insert: String,
    read_all: String,
    read_stream: String,
    version_of: String,
}

impl Sql {
    fn new(schema: &str) -> Sql {
        let t = format!("\"{schema}\".events");
        let cols = "position, stream, version, event_type, event_version, payload, event_id, \
                    recorded_at, actor, correlation_id, idempotency_key";
        Sql {
            head: format!("SELECT coalesce(max(position) + 1, 0) FROM {t}"),
            last: format!("SELECT position, chain_hash FROM {t} ORDER BY position DESC LIMIT 1"),
            chained_from: format!(
                "SELECT coalesce(max(position) + 1, 0) FROM {t} WHERE chain_hash IS NULL"
            ),
            chain_rows: format!(
                "SELECT {cols}, chain_hash FROM {t} WHERE position >= $1 ORDER BY position \
                 LIMIT $2"
            ),
            versions: format!(
                "SELECT stream, max(version) FROM {t} WHERE stream = ANY($1) GROUP BY stream"
            ),
            insert: format!(
                "INSERT INTO {t} ({cols}, chain_hash) SELECT * FROM unnest($1::bigint[], \
                 $2::text[], $3::bigint[], $4::text[], $5::int[], $6::bytea[], $7::uuid[], \
                 $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::bytea[])"
            ),
            read_all: format!(
                "SELECT {cols} FROM {t} WHERE position >= $1 ORDER BY position LIMIT $2"
            ),
            read_stream: format!(
                "SELECT {cols} FROM {t} WHERE stream = $1 AND version >= $2 \
                 ORDER BY version LIMIT $3"
            ),
            version_of: format!("SELECT max(version) FROM {t} WHERE stream = $1"),
        }
    }
}

/// A database failure as a store error, with its causes: the driver's own message is only
/// "db error", the server's (e.g. "canceling statement due to lock timeout") is its source.
pub(crate) fn db(e: impl std::error::Error) -> StoreError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    StoreError::Database(text)
}

/// u64 positions and versions as PostgreSQL's bigint; past i64::MAX means "beyond all".
fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Connects, creates or migrates the log's schema (`schema.rs`), reads the head and
    /// starts the follower. Fails if the database cannot be reached or its schema is newer
    /// than this binary knows.
    pub async fn open(
        location: &PostgresLocation,
        opts: PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        let mut config = location.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(opts.connect_timeout);
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(opts.connect_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .recycle_timeout(Some(opts.connect_timeout))
            .build()
            .map_err(db)?;
        let schema = location.schema.as_str();
        let lock_key = lock_key(schema);
        {
            let mut client = pool.get().await.map_err(db)?;
            schema::migrate(&mut client, schema, lock_key).await?;
        }
        let sql = Sql::new(schema);
        let head = {
            let client = pool.get().await.map_err(db)?;
            let row = client.query_one(&sql.head, &[]).await.map_err(db)?;
            row.get::<_, i64>(0) as u64
        };
        let shared = Arc::new(Shared {
            pool,
            sql,
            lock_key,
            lock_wait: opts.lock_wait,
            channel: format!("ipledger_events_{schema}"),
            head: AtomicU64::new(head),
            head_tx: watch::Sender::new(head),
            #[cfg(test)]
            hold_before_commit: Default::default(),
        });
        let watcher = watcher::start(shared.clone(), config, opts.poll_interval);
        Ok(PostgresStore {
            shared,
            _watcher: Arc::new(watcher),
        })
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Follows the hash chain over every row, recomputing each hash from the row's columns
    /// (`ipledger verify`). Read it while no node appends, or the last rows may be missed.
    pub async fn check_chain(&self) -> Result<ChainCheck, StoreError> {
        let client = self.shared.pool.get().await.map_err(db)?;
        let stmt = client
            .prepare_cached(&self.shared.sql.chain_rows)
            .await
            .map_err(db)?;
        let mut check = ChainCheck::default();
        let mut record = Vec::with_capacity(512);
        let mut next = 0i64;
        loop {
            let rows = client.query(&stmt, &[&next, &8192i64]).await.map_err(db)?;
            let Some(last) = rows.last() else {
                return Ok(check);
            };
            next = last.get::<_, i64>(0) + 1;
            for row in &rows {
                let position = row.get::<_, i64>(0) as u64;
                let recorded_at: chrono::DateTime<chrono::Utc> = row.get(7);
                let parts = RecordParts {
                    position,
                    stream: row.get(1),
                    version: row.get::<_, i64>(2) as u64,
                    event_type: row.get(3),
                    event_version: u16::try_from(row.get::<_, i32>(4)).unwrap_or(u16::MAX),
                    data: row.get(5),
                    event_id: row.get(6),
                    recorded_at_micros: recorded_at.timestamp_micros(),
                    actor: row.get(8),
                    correlation_id: row.get(9),
                    idempotency_key: row.get(10),
                };
                record.clear();
                encode_parts_into(&parts, &mut record);
                check.record(position, &record, row.get::<_, Option<&[u8]>>(11));
            }
        }
    }
}

impl Shared {
    /// Moves the head forward (never back) and wakes the followers if it moved.
    fn advance(&self, head: u64) {
        if self.head.fetch_max(head, Ordering::AcqRel) < head {
            self.head_tx.send_if_modified(|h| {
                let moved = *h < head;
                *h = (*h).max(head);
                moved
            });
        }
    }

    async fn read_head(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await.map_err(db)?;
        let row = client.query_one(&self.sql.head, &[]).await.map_err(db)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn append(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.pool.get().await.map_err(db)?;
        let first = (batch[0].stream.clone(), batch[0].expected);
        let result = self.append_in(&mut client, batch).await;
        match result {
            Err(Failure::Sql(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                // Another writer not holding the lock (an older binary, a hand-made row)
                // took a version first: still a conflict, never a store failure.
                let actual = client
                    .query_opt(&self.sql.version_of, &[&first.0])
                    .await
                    .ok()
                    .flatten()
                    .and_then(|row| row.get::<_, Option<i64>>(0))
                    .map(|v| v as u64);
                Err(AppendError::Conflict {
                    stream: first.0,
                    expected: first.1,
                    actual,
                })
            }
            Err(Failure::Sql(e)) => Err(db(e).into()),
            Err(Failure::Append(e)) => Err(e),
            Ok(stored) => {
                if let Some(last) = stored.last() {
                    self.advance(last.position + 1);
                }
                Ok(stored)
            }
        }
    }

    async fn append_in(
        &self,
        client: &mut deadpool_postgres::Client,
        batch: Vec<StreamAppend>,
    ) -> Result<Vec<Envelope>, Failure> {
        let tx = client.transaction().await?;
        // One round trip: the lock wait is bounded, so a node that hangs holding the log
        // (stopped, not dead: a dead one's transaction ends with its connection) makes
        // the others' appends fail as store errors (503, then reopen) rather than hang.
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'; SELECT pg_advisory_xact_lock({})",
            self.lock_wait.as_millis(),
            self.lock_key
        ))
        .await?;
        // Read after the lock, in a new statement (READ COMMITTED: a fresh snapshot), so
        // the previous holder's commit is seen: the head, and the hash the chain goes on
        // from (a row without one, written before the chain existed, starts it anew).
        let last_sql = tx.prepare_cached(&self.sql.last).await?;
        let (head, prev) = match tx.query_opt(&last_sql, &[]).await? {
            Some(row) => {
                let prev = row
                    .get::<_, Option<&[u8]>>(1)
                    .and_then(|h| Hash::try_from(h).ok())
                    .unwrap_or(GENESIS);
                (row.get::<_, i64>(0) as u64 + 1, prev)
            }
            None => (0, GENESIS),
        };
        let mut names: Vec<&str> = batch.iter().map(|a| a.stream.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut versions: HashMap<String, u64> = HashMap::new();
        let versions_sql = tx.prepare_cached(&self.sql.versions).await?;
        for row in tx.query(&versions_sql, &[&names]).await? {
            versions.insert(row.get(0), row.get::<_, i64>(1) as u64);
        }
        let stored = number(head, |s| versions.get(s).copied(), batch)?;
        if !stored.is_empty() {
            let rows = Columns::of(&stored, prev);
            let insert = tx.prepare_cached(&self.sql.insert).await?;
            tx.execute(
                &insert,
                &[
                    &rows.position,
                    &rows.stream,
                    &rows.version,
                    &rows.event_type,
                    &rows.event_version,
                    &rows.payload,
                    &rows.event_id,
                    &rows.recorded_at,
                    &rows.actor,
                    &rows.correlation_id,
                    &rows.idempotency_key,
                    &rows.chain_hash,
                ],
            )
            .await?;
            let new_head = (head + stored.len() as u64).to_string();
            let notify = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
            tx.execute(&notify, &[&self.channel, &new_head]).await?;
        }
        #[cfg(test)]
        self.hold_before_commit.wait().await;
        tx.commit().await?;
        Ok(stored)
    }
}

/// Why an append transaction stopped: a conflict found by the checks, or the database.
enum Failure {
    Append(AppendError),
    Sql(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<AppendError> for Failure {
    fn from(e: AppendError) -> Self {
        Failure::Append(e)
    }
}

/// A batch as the insert's arrays, one per column.
struct Columns {
    position: Vec<i64>,
    stream: Vec<String>,
    version: Vec<i64>,
    event_type: Vec<&'static str>,
    event_version: Vec<i32>,
    payload: Vec<Vec<u8>>,
    event_id: Vec<uuid::Uuid>,
    recorded_at: Vec<chrono::DateTime<chrono::Utc>>,
    actor: Vec<String>,
    correlation_id: Vec<Option<String>>,
    idempotency_key: Vec<Option<String>>,
    chain_hash: Vec<Vec<u8>>,
}

impl Columns {
    /// The rows of `stored`, chained on from `prev` (the previous row's hash).
    fn of(stored: &[Envelope], mut prev: Hash) -> Columns {
        let mut c = Columns {
            position: Vec::with_capacity(stored.len()),
            stream: Vec::with_capacity(stored.len()),
            version: Vec::with_capacity(stored.len()),
            event_type: Vec::with_capacity(stored.len()),
            event_version: Vec::with_capacity(stored.len()),
            payload: Vec::with_capacity(stored.len()),
            event_id: Vec::with_capacity(stored.len()),
            recorded_at: Vec::with_capacity(stored.len()),
            actor: Vec::with_capacity(stored.len()),
            correlation_id: Vec::with_capacity(stored.len()),
            idempotency_key: Vec::with_capacity(stored.len()),
            chain_hash: Vec::with_capacity(stored.len()),
        };
        let mut record = Vec::with_capacity(512);
        for env in stored {
            let (event_type, event_version, payload) = encode_event(&env.event);
            record.clear();
            encode_parts_into(&RecordParts::of(env, &payload), &mut record);
            prev = chain::link(&prev, &record);
            c.chain_hash.push(prev.to_vec());
            c.position.push(env.position as i64);
            c.stream.push(env.stream.clone());
            c.version.push(env.version as i64);
            c.event_type.push(event_type);
            c.event_version.push(i32::from(event_version));
            c.payload.push(payload);
            c.event_id.push(env.event_id);
            c.recorded_at.push(env.recorded_at);
            c.actor.push(env.actor.clone());
            c.correlation_id.push(env.correlation_id.clone());
            c.idempotency_key.push(env.idempotency_key.clone());
        }
        c
    }
}

fn envelope(row: &tokio_postgres::Row) -> Result<Envelope, StoreError> {
    let position = row.get::<_, i64>(0) as u64;
    let event_type: &str = row.get(3);
    let event_version: i32 = row.get(4);
    let payload: &[u8] = row.get(5);
    let event = u16::try_from(event_version)
        .map_err(|_| format!("schema version {event_version} out of range"))
        .and_then(|v| decode_event(event_type, v, payload))
        .map_err(|reason| StoreError::Decode { position, reason })?;
    Ok(Envelope {
        position,
        stream: row.get(1),
        version: row.get::<_, i64>(2) as u64,
        event_id: row.get(6),
        recorded_at: row.get(7),
        actor: row.get(8),
        correlation_id: row.get(9),
        idempotency_key: row.get(10),
        event,
    })
}

/// The advisory lock key of the log in `schema`: FNV-1a of a fixed prefix and the name, so
/// every node (every binary version) computes the same key.
fn lock_key(schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "ipledger-events:".bytes().chain(schema.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

#[async_trait]
impl EventStore for PostgresStore {
    fn check_record(&self, event: &NewEvent) -> Result<(), RecordRefused> {
        // The file log's record limit, so that a log can move between backends both ways.
        let event_type = event.event.type_name();
        let bytes = record_len(event)
            .map_err(|reason| RecordRefused::Unencodable { event_type, reason })?;
        let max_bytes = ipledger_domain::limits::RECORD_BYTES_MAX;
        if bytes > max_bytes {
            return Err(RecordRefused::TooLarge {
                event_type,
                bytes,
                max_bytes,
            });
        }
        Ok(())
    }

    async fn append(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        self.shared.append(batch).await
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<Envelope>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let client = self.shared.pool.get().await.map_err(db)?;
        let rows = client
            .query(&self.shared.sql.read_all, &[&big(from), &big(max as u64)])
            .await
            .map_err(db)?;
        rows.iter().map(envelope).collect()
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let client = self.shared.pool.get().await.map_err(db)?;
        let rows = client
            .query(
                &self.shared.sql.read_stream,
                &[&stream, &big(from_version), &big(max as u64)],
            )
            .await
            .map_err(db)?;
        rows.iter().map(envelope).collect()
    }

    fn head(&self) -> u64 {
        self.shared.head.load(Ordering::Acquire)
    }

    async fn chain_head(&self) -> Result<Option<ChainHead>, StoreError> {
        let client = self.shared.pool.get().await.map_err(db)?;
        let from = client
            .query_one(&self.shared.sql.chained_from, &[])
            .await
            .map_err(db)?
            .get::<_, i64>(0) as u64;
        let last = client
            .query_opt(&self.shared.sql.last, &[])
            .await
            .map_err(db)?
            .and_then(|row| {
                let hash = Hash::try_from(row.get::<_, Option<&[u8]>>(1)?).ok()?;
                Some((row.get::<_, i64>(0) as u64, hash))
            });
        Ok(Some(ChainHead {
            chained_from: from,
            last: last.filter(|(p, _)| *p >= from),
        }))
    }

    fn follow(&self) -> watch::Receiver<u64> {
        self.shared.head_tx.subscribe()
    }

    /// Nothing to repair in place: the database keeps its own durability. Appends may
    /// resume once it answers again; the head is read afresh (a failed commit may or may
    /// not have happened, and the caller catches up from what it last knew).
    async fn recover(&self) -> Result<(), StoreError> {
        let head = self.shared.read_head().await?;
        self.shared.advance(head);
        Ok(())
    }
}

/// A uniquely named schema on the test database (`IPLEDGER_TEST_POSTGRES`, default
/// `postgres://postgres@127.0.0.1:5432/test`) for one test's log, dropped with everything in
/// it when this goes: every test, here and in the integration tests, gets its own.
pub struct ScratchSchema {
    url: String,
    location: PostgresLocation,
}

impl ScratchSchema {
    pub fn new() -> ScratchSchema {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = std::env::var("IPLEDGER_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!(
            "t_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // The application name lets a test end exactly this log's connections.
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}schema={schema}&application_name={schema}");
        let location = url
            .parse()
            .expect("IPLEDGER_TEST_POSTGRES is a PostgreSQL URL");
        ScratchSchema { url, location }
    }

    /// The store URL naming this schema (for `--store`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Ends every server connection of the stores on this schema (`pg_terminate_backend`),
    /// as a database restart would, and returns how many it ended.
    pub async fn terminate_connections(&self) -> Result<u64, StoreError> {
        let client = connect(&self.location).await?;
        let name = &self.location.schema;
        let rows = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[name],
            )
            .await
            .map_err(db)?;
        Ok(rows.len() as u64)
    }
}

impl Default for ScratchSchema {
    fn default() -> Self {
        ScratchSchema::new()
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        // Drop may run inside a runtime: clean up on a thread with a runtime of its own.
        let location = self.location.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(drop_schema(&location))
                .map_err(std::io::Error::other)
        })
        .join();
    }
}

/// A client for ad-hoc statements (tests, clean-up).
pub async fn connect(location: &PostgresLocation) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = location.config.connect(NoTls).await.map_err(db)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Drops the schema of a log and everything in it (test clean-up).
pub async fn drop_schema(location: &PostgresLocation) -> Result<(), StoreError> {
    let client = connect(location).await?;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            location.schema
        ))
        .await
        .map_err(db)
}
