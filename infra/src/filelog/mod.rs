//! The embedded event store: an append-only log of checksummed, framed records in segment
//! files, implementing [`EventStore`] for a single node. This module owns the public face
//! (open, options, verify, replay, the trait impl) and the shared state; framing, segment
//! files, the index, the scan at open, appending and reading live in the submodules.
//!
//! Every file operation goes through the storage seam (`storage.rs`): the real file system
//! by default, a simulated disk in the crash tests.
//!
//! Durability model: one `append` call is one write and one `fdatasync`, its last record
//! flagged COMMIT, so a crash leaves either the whole call or a torn tail that the next
//! open cuts off; after the sync the segment header's synced-end slot is updated (synced by
//! the next append), so that damage to anything acknowledged is refused rather than cut
//! (`header.rs`, `recovery.rs`). A failed write or sync closes the log for writes
//! (fail-stop) until [`EventStore::recover`] reopens it in place.

mod frame;
mod header;
mod index;
mod reader;
mod recovery;
mod segment;
pub mod storage;
mod writer;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ipledger_domain::{Envelope, NewEvent};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::chain::{ChainCheck, GENESIS};
use crate::{AppendError, ChainHead, EventStore, RecordRefused, StoreError, StreamAppend};

use index::Index;
pub use recovery::TornTail;
use storage::{DirLock, FsStorage, OpenMode, Storage};
use writer::Writer;

/// Tuning of the file log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLogOptions {
    /// A new segment is started when an append would grow the current one past this
    /// (a single append larger than this still goes into one segment).
    pub segment_bytes_max: u64,
    /// How long `open` waits for another writer (in this process or another) to release
    /// the log before failing.
    pub lock_wait: Duration,
}

impl Default for FileLogOptions {
    fn default() -> Self {
        FileLogOptions {
            segment_bytes_max: 256 << 20,
            lock_wait: Duration::from_secs(3),
        }
    }
}

/// What [`verify`] found. Read-only: nothing is repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub segments: u64,
    pub records: u64,
    /// Bytes of committed records (a torn tail is not counted).
    pub bytes: u64,
    pub streams: u64,
    /// An incomplete final append, which the next open would drop.
    pub torn_tail: Option<TornTail>,
    /// The hash chain, every hash recomputed: where it starts (`None`: no record is chained
    /// yet), its last record and hash, and the first record where it breaks (also a
    /// problem).
    pub chain: ChainCheck,
    /// Human-readable problems; empty when the log is clean.
    pub problems: Vec<String>,
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "segments: {}", self.segments)?;
        writeln!(f, "records: {}", self.records)?;
        writeln!(f, "bytes: {}", self.bytes)?;
        writeln!(f, "streams: {}", self.streams)?;
        write!(f, "{}", self.chain.summary(self.records))
    }
}

/// Checks every record of the log in `dir` (lengths, checksums, positions, stream
/// versions, and that every payload decodes) without changing anything. Corruption is an
/// error naming segment and offset; a torn tail is a problem in the report. Run it on a
/// log no process is appending to, or an in-flight append shows up as a torn tail.
pub fn verify(dir: &Path) -> Result<VerifyReport, StoreError> {
    verify_with(&FsStorage::new(dir))
}

/// [`verify`] over any storage (the crash tests run it on a simulated disk).
pub fn verify_with(storage: &dyn Storage) -> Result<VerifyReport, StoreError> {
    let files = segment::list_segments(storage)?;
    let scan = recovery::scan(storage, &files, true, false)?;
    let mut problems: Vec<String> = scan
        .torn
        .iter()
        .map(|t| {
            format!(
                "torn tail in {} at offset {}: {} bytes would be dropped ({})",
                t.segment, t.offset, t.dropped_bytes, t.reason
            )
        })
        .collect();
    if let Some((position, why)) = &scan.chain.broken {
        problems.push(format!("hash chain broken at position {position}: {why}"));
    }
    Ok(VerifyReport {
        segments: files.len() as u64,
        records: scan.index.head,
        bytes: scan.bytes,
        streams: scan.index.streams.len() as u64,
        torn_tail: scan.torn,
        chain: scan.chain,
        problems,
    })
}

/// The embedded file log. Cheap to clone: clones share one log.
#[derive(Clone)]
pub struct FileLog {
    shared: Arc<Shared>,
}

/// State shared by the writer, readers and clones.
pub(crate) struct Shared {
    storage: Arc<dyn Storage>,
    opts: FileLogOptions,
    writer: Mutex<Writer>,
    index: RwLock<Index>,
    /// Mirrors `index.head` for lock-free `head()`.
    head: AtomicU64,
    head_tx: watch::Sender<u64>,
    /// Where the hash chain stands (stored hashes, as the open found them and appends
    /// moved them).
    chain: Mutex<ChainCheck>,
    /// What the open cut off, if anything.
    torn: Option<TornTail>,
    /// Holds the directory lock while the log is open for writing.
    _lock: Option<DirLock>,
}

impl FileLog {
    /// Opens (creating if needed) the log in `dir`: scans and verifies every segment,
    /// cuts off a torn tail, and builds the read index. Blocking; call it before serving.
    /// Fails if another writer (process or `FileLog` in this process) keeps the log open
    /// for longer than `opts.lock_wait`.
    pub fn open(dir: &Path, opts: FileLogOptions) -> Result<FileLog, StoreError> {
        fs::create_dir_all(dir)?;
        Self::open_with(FsStorage::new(dir), opts)
    }

    /// [`FileLog::open`] over any storage: the file system ([`FsStorage`]) or, in the crash
    /// tests, a simulated disk.
    pub fn open_with(storage: impl Storage, opts: FileLogOptions) -> Result<FileLog, StoreError> {
        let storage: Arc<dyn Storage> = Arc::new(storage);
        let lock = segment::lock_dir(&*storage, opts.lock_wait)?;
        let mut files = segment::list_segments(&*storage)?;
        // A directory with the format marker but no segment lost its log: the scan says so.
        if files.is_empty() && header::read_marker(&*storage)?.is_none() {
            files.push(segment::create_segment(&*storage, 0)?.0);
        }
        let mut scan = recovery::scan(&*storage, &files, false, false)?;
        if let Some(torn) = &scan.torn {
            recovery::truncate(&*storage, torn)?;
        }
        prepare_for_appends(&*storage, &mut scan)?;
        let last = scan.index.segments.last().map(|s| s.name.to_string());
        let last = last.ok_or_else(|| StoreError::Io(std::io::Error::other("no segment")))?;
        let file = storage.open(&last, OpenMode::Write)?;
        Ok(Self::assemble(storage, opts, scan, Some(file), Some(lock)))
    }

    /// Opens an existing log for reading only (the `events` and `verify` commands): no
    /// lock, nothing created or truncated, so it can run beside the service. A torn tail is
    /// left in place and not read. Appends fail with [`StoreError::Closed`].
    pub fn open_read_only(dir: &Path) -> Result<FileLog, StoreError> {
        Self::open_read_only_with(FsStorage::new(dir))
    }

    /// [`FileLog::open_read_only`] over any storage.
    pub fn open_read_only_with(storage: impl Storage) -> Result<FileLog, StoreError> {
        let storage: Arc<dyn Storage> = Arc::new(storage);
        let files = segment::list_segments(&*storage)?;
        let scan = recovery::scan(&*storage, &files, false, true)?;
        Ok(Self::assemble(
            storage,
            FileLogOptions::default(),
            scan,
            None,
            None,
        ))
    }

    /// See the free function [`verify`].
    pub fn verify(dir: &Path) -> Result<VerifyReport, StoreError> {
        verify(dir)
    }

    fn assemble(
        storage: Arc<dyn Storage>,
        opts: FileLogOptions,
        scan: recovery::Scan,
        file: Option<Box<dyn storage::StorageFile>>,
        lock: Option<DirLock>,
    ) -> FileLog {
        let index = scan.index;
        let len = index.segments.last().map_or(0, |s| s.len);
        let head = index.head;
        let next_slot = scan.last_slots.map_or(0, |s| s.next());
        let prev = scan.chain.last.map_or(GENESIS, |(_, h)| h);
        let shared = Shared {
            storage,
            opts,
            writer: Mutex::new(Writer::new(file, len, next_slot, prev)),
            index: RwLock::new(index),
            head: AtomicU64::new(head),
            head_tx: watch::Sender::new(head),
            chain: Mutex::new(scan.chain),
            torn: scan.torn,
            _lock: lock,
        };
        FileLog {
            shared: Arc::new(shared),
        }
    }

    /// Where the log lives (its directory, for the file system).
    pub fn dir(&self) -> &Path {
        self.shared.storage.location()
    }

    /// The torn tail the open found: cut off (and logged as a warning) by [`FileLog::open`],
    /// left in place and unread by [`FileLog::open_read_only`].
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.shared.torn.as_ref()
    }

    /// Streams every event from position `from` on to `f`, in order, with large buffered
    /// reads (for start-up and the `replay` command). Blocking. Returns the position to
    /// continue from: the head when the replay started (or `from`, if later).
    pub fn replay(&self, from: u64, f: impl FnMut(Envelope)) -> Result<u64, StoreError> {
        self.shared.replay_sync(from, f)
    }

    /// The appending half of [`EventStore::append`], blocking.
    pub fn append_blocking(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        self.shared.append_sync(batch)
    }

    #[cfg(test)]
    pub(crate) fn break_writer(&self) -> std::io::Result<()> {
        self.shared.break_writer()
    }
}

/// Makes the recovered log ready to be appended to in format 3: the last segment gets a
/// format-3 header (written into it if it holds no record, or a new segment if it is a
/// non-empty format-1 or format-2 one: format-1 frames have no room for the synced-end
/// record, format-2 frames none for chain hashes, and a segment's format is its header's),
/// a predecessor a crash left unsealed is sealed, and the directory's format marker is
/// written if it is missing.
fn prepare_for_appends(storage: &dyn Storage, scan: &mut recovery::Scan) -> Result<(), StoreError> {
    let index = &mut scan.index;
    let last = index
        .segments
        .last_mut()
        .ok_or_else(|| StoreError::Io(std::io::Error::other("no segment")))?;
    if scan.last_slots.is_none() || !last.chained {
        let start = if last.count == 0 {
            // Empty, or a format-2 header alone: the new header overwrites it in place (a
            // torn overwrite mixes sectors of two valid headers of an empty segment).
            let file = storage.open(&last.name, OpenMode::Write)?;
            header::write_new(&*file, last.start)?;
            storage.sync_dir()?;
            last.data_start = header::HEADER_LEN;
            last.len = header::HEADER_LEN;
            last.chained = true;
            last.start
        } else {
            let head = index.head;
            let old = (scan.last_slots.is_some()).then(|| (last.name.to_string(), last.len));
            let (seg, _) = segment::create_segment(storage, head)?;
            // A format-2 predecessor is sealed as a roll would, once its successor is
            // durable (format 1 has nowhere to say it).
            if let Some((name, end)) = old {
                header::seal(storage, &name, end, head)?;
            }
            let reader = storage.open(&seg.name, OpenMode::Read)?.into();
            let new =
                index::SegmentIndex::new(head, &seg.name, reader, header::HEADER_LEN).chained(true);
            index.segments.push(new);
            head
        };
        scan.last_slots = Some(header::Slots::fresh(start));
        scan.first_v2.get_or_insert(start);
    }
    // What the scan read may still be only in the page cache (a restart in the same
    // process after a failed append): make it durable before anything is appended after
    // it, and before the writer overwrites the older synced-end slot.
    if let Some(last) = scan.index.segments.last() {
        storage.open(&last.name, OpenMode::Write)?.sync_all()?;
        storage.sync_dir()?;
    }
    if let Some((name, end, head)) = &scan.unsealed {
        header::seal(storage, name, *end, *head)?;
    }
    if scan.marker.is_none() {
        let first = scan.first_v2.unwrap_or_default();
        header::write_marker(storage, first)?;
        scan.marker = Some(first);
    }
    Ok(())
}

/// Runs blocking file I/O from async code. On a multi-threaded runtime `block_in_place`
/// keeps the work on the calling thread and hands the worker's other tasks to another
/// thread: no hop to the blocking pool and back, which measured ~35% more single-event
/// appends per second here. `block_in_place` panics on a current-thread runtime (as in
/// `#[tokio::test]`), so there the blocking pool is used instead.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?,
        Err(_) => f(),
    }
}

#[async_trait]
impl EventStore for FileLog {
    fn check_record(&self, event: &NewEvent) -> Result<(), RecordRefused> {
        let event_type = event.event.type_name();
        let bytes = crate::codec::record_len(event)
            .map_err(|reason| RecordRefused::Unencodable { event_type, reason })?;
        if bytes > frame::MAX_BODY {
            return Err(RecordRefused::TooLarge {
                event_type,
                bytes,
                max_bytes: frame::MAX_BODY,
            });
        }
        Ok(())
    }

    async fn append(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        let shared = self.shared.clone();
        // Conflicts travel inside the Ok so that `blocking` only carries store errors.
        blocking(move || Ok(shared.append_sync(batch))).await?
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<Envelope>, StoreError> {
        let shared = self.shared.clone();
        blocking(move || shared.read_all_sync(from, max)).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        let shared = self.shared.clone();
        let stream = stream.to_owned();
        blocking(move || shared.read_stream_sync(&stream, from_version, max)).await
    }

    fn head(&self) -> u64 {
        self.shared.head.load(Ordering::Acquire)
    }

    fn follow(&self) -> watch::Receiver<u64> {
        self.shared.head_tx.subscribe()
    }

    async fn recover(&self) -> Result<(), StoreError> {
        let shared = self.shared.clone();
        blocking(move || shared.recover_sync()).await
    }

    async fn chain_head(&self) -> Result<Option<ChainHead>, StoreError> {
        let chain = self.shared.chain.lock();
        Ok(Some(ChainHead {
            chained_from: chain.chained_from.unwrap_or_else(|| self.head()),
            last: chain.last,
        }))
    }
}

impl Shared {
    /// Reopens a log closed by a failed append, in place (readers and clones keep working
    /// and see the reopened log): cuts the last segment back to what was durable before the
    /// failure (the failed append was never acknowledged, and after a failed `fdatasync` the
    /// page cache may hold bytes that never reach the disk), records that end and syncs it,
    /// then runs the start-up recovery (scan, torn tail, preparing for appends) and swaps
    /// in the new index and write handle. Fails, and may be called again, while the disk
    /// still fails.
    pub(crate) fn recover_sync(&self) -> Result<(), StoreError> {
        let mut guard = self.writer.lock();
        let w = &mut *guard;
        if self._lock.is_none() {
            return Err(StoreError::Closed); // opened read-only
        }
        if !w.failed {
            return Ok(());
        }
        let last = self
            .index
            .read()
            .segments
            .last()
            .map(|s| s.name.to_string());
        let last = last.ok_or_else(|| StoreError::Io(std::io::Error::other("no segment")))?;
        let file = self.storage.open(&last, OpenMode::Write)?;
        file.set_len(w.len)?;
        w.file = Some(file);
        let head = self.index.read().head;
        w.record_synced_end(w.len, head, 0)?;
        if let Some(file) = &w.file {
            file.sync_all()?;
        }
        let storage = &*self.storage;
        let files = segment::list_segments(storage)?;
        let mut scan = recovery::scan(storage, &files, false, false)?;
        if let Some(torn) = &scan.torn {
            recovery::truncate(storage, torn)?;
        }
        prepare_for_appends(storage, &mut scan)?;
        let last = scan.index.segments.last().map(|s| s.name.to_string());
        let last = last.ok_or_else(|| StoreError::Io(std::io::Error::other("no segment")))?;
        let file = storage.open(&last, OpenMode::Write)?;
        let len = scan.index.segments.last().map_or(0, |s| s.len);
        let next_slot = scan.last_slots.map_or(0, |s| s.next());
        let head = scan.index.head;
        let prev = scan.chain.last.map_or(GENESIS, |(_, h)| h);
        *self.chain.lock() = scan.chain;
        *self.index.write() = scan.index;
        *w = Writer::new(Some(file), len, next_slot, prev);
        self.head.store(head, Ordering::Release);
        self.head_tx.send_replace(head);
        tracing::info!(head, "event log reopened after a failure");
        Ok(())
    }
}
