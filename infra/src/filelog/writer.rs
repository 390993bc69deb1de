//! The append path. One append call is one group commit: check every stream's expected
//! version, number the records, encode them all into one buffer (BEGIN on the first record,
//! COMMIT on the last), one positioned write, one `fdatasync`, then publish to the index and
//! the head watch. Every record is chained (format 3): the batch's encoding carries each
//! record's hash from the previous one, one SHA-256 per record. Any write or sync failure leaves the writer failed for good
//! (fail-stop): after a failed fsync the kernel may have dropped the dirty pages, so
//! retrying could report durable data that is not.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ipledger_domain::Envelope;

use crate::chain::Hash;
use crate::codec::encode_record_into;
use crate::{AppendError, StoreError, StreamAppend};

use super::frame::{push_frame, FLAG_BEGIN, FLAG_COMMIT};
use super::header::{self, Slot, Slots, HEADER_LEN, SLOT_SEALED};
use super::index::SegmentIndex;
use super::segment::create_segment;
use super::storage::{OpenMode, StorageFile};
use super::Shared;

/// The batch buffer is reused between appends up to this capacity.
const KEEP_BUFFER: usize = 16 << 20;

/// State only the appender touches, behind the writer mutex.
pub(crate) struct Writer {
    /// Write handle of the last segment; `None` when the log was opened read-only.
    pub file: Option<Box<dyn StorageFile>>,
    /// Bytes of the last segment that are durable.
    pub len: u64,
    /// Set while an append is in flight and left set if it fails, so a failure (or a
    /// panic) between write and publish closes the log.
    pub failed: bool,
    /// The synced-end slot of the last segment to write next (`header.rs`).
    next_slot: usize,
    /// A slot was written since the last sync: a clean close syncs it.
    slot_unsynced: bool,
    /// Reused batch buffer and each frame's `(start, end)` within it.
    buf: Vec<u8>,
    frames: Vec<(u64, u64)>,
    /// The last durable record's chain hash (`chain::GENESIS` before the first chained
    /// one): the next record's "previous hash".
    chain: Hash,
}

impl Writer {
    pub fn new(
        file: Option<Box<dyn StorageFile>>,
        len: u64,
        next_slot: usize,
        chain: Hash,
    ) -> Self {
        Writer {
            file,
            len,
            failed: false,
            next_slot,
            slot_unsynced: false,
            buf: Vec::new(),
            frames: Vec::new(),
            chain,
        }
    }

    /// Records, without syncing, that the segment is durable up to `end` (the log up to
    /// position `head`): the next sync of this file makes the record durable.
    pub(crate) fn record_synced_end(&mut self, end: u64, head: u64, flags: u8) -> io::Result<()> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| io::Error::other("closed"))?;
        // The other slot may be overwritten only once this one is durable: a crash must
        // always find one intact. An unsynced slot is overwritten in place instead.
        let i = if self.slot_unsynced {
            self.next_slot ^ 1
        } else {
            self.next_slot
        };
        header::write_slot(&**file, i, Slot { end, head, flags })?;
        self.next_slot = i ^ 1;
        self.slot_unsynced = true;
        Ok(())
    }
}

/// A clean close makes the last synced-end record durable, so that after a clean stop the
/// log proves every acknowledged append, the last one included.
impl Drop for Writer {
    fn drop(&mut self) {
        if let (false, true, Some(file)) = (self.failed, self.slot_unsynced, &self.file) {
            if let Err(err) = file.sync_data() {
                tracing::warn!(%err, "event log: syncing the synced-end record at close failed");
            }
        }
    }
}

impl Shared {
    /// Appends `batch` atomically and durably; see [`crate::EventStore::append`].
    pub(crate) fn append_sync(
        &self,
        batch: Vec<StreamAppend>,
    ) -> Result<Vec<Envelope>, AppendError> {
        let mut guard = self.writer.lock();
        let w = &mut *guard;
        if w.failed || w.file.is_none() {
            return Err(StoreError::Closed.into());
        }
        let envelopes = {
            let index = self.index.read();
            ipledger_commands::store::number(index.head, |s| index.stream_version(s), batch)?
        };
        if envelopes.is_empty() {
            return Ok(envelopes);
        }
        // The chain moves on only once the batch is durable: a failed append leaves it.
        let mut chain = w.chain;
        encode_batch(&envelopes, &mut w.buf, &mut w.frames, &mut chain)?;
        w.failed = true;
        self.roll_if_full(w, envelopes[0].position)?;
        let file = w.file.as_ref().ok_or(StoreError::Closed)?;
        file.write_all_at(&w.buf, w.len).map_err(StoreError::Io)?;
        file.sync_data().map_err(StoreError::Io)?;
        w.slot_unsynced = false;
        let end = w.len + w.buf.len() as u64;
        let head = envelopes[envelopes.len() - 1].position + 1;
        w.record_synced_end(end, head, 0).map_err(StoreError::Io)?;
        self.publish(w, &envelopes, chain);
        w.failed = false;
        if w.buf.capacity() > KEEP_BUFFER {
            // One huge batch should not pin its buffer for the life of the process.
            w.buf = Vec::new();
        }
        Ok(envelopes)
    }

    /// Starts a new segment when this batch would overflow a non-empty one. A batch never
    /// spans segments, so every segment but the last ends with a COMMIT. The new segment
    /// (with its header) is durable before the old one is sealed, and the seal is durable
    /// before anything goes into the new one: so a sealed last segment means its successor
    /// was deleted, and a last segment without a header follows an unsealed one. The seal's
    /// sync happens once per segment, not per append.
    fn roll_if_full(&self, w: &mut Writer, head: u64) -> Result<(), StoreError> {
        let data = w.len.saturating_sub(HEADER_LEN);
        if data == 0 || data + w.buf.len() as u64 <= self.opts.segment_bytes_max {
            return Ok(());
        }
        let (seg, file) = create_segment(&*self.storage, head)?;
        w.record_synced_end(w.len, head, SLOT_SEALED)?;
        if let Some(old) = &w.file {
            old.sync_data()?;
        }
        let reader: Arc<dyn StorageFile> = self.storage.open(&seg.name, OpenMode::Read)?.into();
        self.index
            .write()
            .segments
            .push(SegmentIndex::new(head, &seg.name, reader, HEADER_LEN).chained(true));
        w.file = Some(file);
        w.len = HEADER_LEN;
        w.next_slot = Slots::fresh(head).next();
        w.slot_unsynced = false;
        Ok(())
    }

    /// Makes a durable batch visible: chain head, index, head, then the watch (in that
    /// order, so a follower woken by the watch can read what it was told about, and the
    /// chain head never names a record beyond the head).
    fn publish(&self, w: &mut Writer, envelopes: &[Envelope], chain: Hash) {
        w.chain = chain;
        if let (Some(first), Some(last)) = (envelopes.first(), envelopes.last()) {
            let mut head = self.chain.lock();
            head.chained_from.get_or_insert(first.position);
            head.last = Some((last.position, chain));
        }
        let mut index = self.index.write();
        for (env, &(start, end)) in envelopes.iter().zip(&w.frames) {
            debug_assert_eq!(env.position, index.head);
            index.push(&env.stream, w.len + start, w.len + end);
        }
        let head = index.head;
        drop(index);
        w.len += w.buf.len() as u64;
        self.head.store(head, Ordering::Release);
        self.head_tx.send_replace(head);
    }

    /// Test hook: swaps the write handle for a read-only one so the next write fails with
    /// a real I/O error (file permissions do not stop root).
    #[cfg(test)]
    pub(crate) fn break_writer(&self) -> io::Result<()> {
        let mut w = self.writer.lock();
        let last = self.index.read().segments.last().map(|s| s.name.clone());
        let name = last.ok_or_else(|| io::Error::other("no segment"))?;
        w.file = Some(self.storage.open(&name, OpenMode::Read)?);
        Ok(())
    }
}

/// Encodes the whole batch into `buf` as chained frames, BEGIN on the first, COMMIT on the
/// last; `chain` goes from the hash before the batch to its last record's.
fn encode_batch(
    envelopes: &[Envelope],
    buf: &mut Vec<u8>,
    frames: &mut Vec<(u64, u64)>,
    chain: &mut Hash,
) -> Result<(), StoreError> {
    buf.clear();
    frames.clear();
    let last = envelopes.len() - 1;
    for (i, env) in envelopes.iter().enumerate() {
        let begin = if i == 0 { FLAG_BEGIN } else { 0 };
        let flags = begin | if i == last { FLAG_COMMIT } else { 0 };
        let start = buf.len() as u64;
        push_frame(buf, flags, Some(&mut *chain), |b| {
            encode_record_into(env, b)
        })
        .map_err(|len| {
            let msg = format!(
                "event at position {} is too large ({len} bytes)",
                env.position
            );
            StoreError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
        })?;
        frames.push((start, buf.len() as u64));
    }
    Ok(())
}
