//! The append path. One append call is one group commit: check every stream's expected
//! version, number the records, encode them all into one buffer (BEGIN on the first record,
//! COMMIT on the last), one positioned write, one `fdatasync`, then publish to the index and
//! the head watch. Any write or sync failure leaves the writer failed for good
//! (fail-stop): after a failed fsync the kernel may have dropped the dirty pages, so
//! retrying could report durable data that is not.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::DateTime;
use ipledger_domain::Envelope;

use crate::codec::encode_record_into;
use crate::{AppendError, StoreError, StreamAppend};

use super::frame::{push_frame, FLAG_BEGIN, FLAG_COMMIT};
use super::index::{Index, SegmentIndex};
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
    /// Reused batch buffer and each frame's `(start, end)` within it.
    buf: Vec<u8>,
    frames: Vec<(u64, u64)>,
}

impl Writer {
    pub fn new(file: Option<Box<dyn StorageFile>>, len: u64) -> Self {
        Writer {
            file,
            len,
            failed: false,
            buf: Vec::new(),
            frames: Vec::new(),
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
            number(&index, batch)?
        };
        if envelopes.is_empty() {
            return Ok(envelopes);
        }
        encode_batch(&envelopes, &mut w.buf, &mut w.frames)?;
        w.failed = true;
        self.roll_if_full(w, envelopes[0].position)?;
        let file = w.file.as_ref().ok_or(StoreError::Closed)?;
        file.write_all_at(&w.buf, w.len).map_err(StoreError::Io)?;
        file.sync_data().map_err(StoreError::Io)?;
        self.publish(w, &envelopes);
        w.failed = false;
        if w.buf.capacity() > KEEP_BUFFER {
            // One huge batch should not pin its buffer for the life of the process.
            w.buf = Vec::new();
        }
        Ok(envelopes)
    }

    /// Starts a new segment when this batch would overflow a non-empty one. A batch never
    /// spans segments, so every segment but the last ends with a COMMIT.
    fn roll_if_full(&self, w: &mut Writer, head: u64) -> Result<(), StoreError> {
        if w.len == 0 || w.len + w.buf.len() as u64 <= self.opts.segment_bytes_max {
            return Ok(());
        }
        let (seg, file) = create_segment(&*self.storage, head)?;
        let reader: Arc<dyn StorageFile> = self.storage.open(&seg.name, OpenMode::Read)?.into();
        self.index
            .write()
            .segments
            .push(SegmentIndex::new(head, &seg.name, reader));
        w.file = Some(file);
        w.len = 0;
        Ok(())
    }

    /// Makes a durable batch visible: index, head, then the watch (in that order, so a
    /// follower woken by the watch can read what it was told about).
    fn publish(&self, w: &mut Writer, envelopes: &[Envelope]) {
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

/// Checks expected versions and turns the batch into envelopes with positions and stream
/// versions. Nothing is written when a stream conflicts. A stream may appear more than once
/// in a batch: later entries see the versions the earlier ones assign.
fn number(index: &Index, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
    let mut current: HashMap<&str, Option<u64>> = HashMap::new();
    let mut bases = Vec::with_capacity(batch.len());
    for sa in &batch {
        let now = match current.get(sa.stream.as_str()) {
            Some(v) => *v,
            None => index.stream_version(&sa.stream),
        };
        check(sa, now)?;
        let base = now.map_or(0, |v| v + 1);
        let n = sa.events.len() as u64;
        bases.push(base);
        current.insert(&sa.stream, if n == 0 { now } else { Some(base + n - 1) });
    }
    drop(current);
    let mut position = index.head;
    let mut out = Vec::with_capacity(batch.iter().map(|sa| sa.events.len()).sum());
    for (sa, base) in batch.into_iter().zip(bases) {
        for (version, e) in (base..).zip(sa.events) {
            out.push(Envelope {
                position,
                stream: sa.stream.clone(),
                version,
                event_id: e.event_id,
                // Stored with microsecond precision; return what a read will return.
                recorded_at: DateTime::from_timestamp_micros(e.recorded_at.timestamp_micros())
                    .unwrap_or(e.recorded_at),
                actor: e.actor,
                correlation_id: e.correlation_id,
                idempotency_key: e.idempotency_key,
                event: e.event,
            });
            position += 1;
        }
    }
    Ok(out)
}

fn check(sa: &StreamAppend, actual: Option<u64>) -> Result<(), AppendError> {
    if sa.expected.matches(actual) {
        return Ok(());
    }
    Err(AppendError::Conflict {
        stream: sa.stream.clone(),
        expected: sa.expected,
        actual,
    })
}

/// Encodes the whole batch into `buf` as frames, BEGIN on the first, COMMIT on the last.
fn encode_batch(
    envelopes: &[Envelope],
    buf: &mut Vec<u8>,
    frames: &mut Vec<(u64, u64)>,
) -> Result<(), StoreError> {
    buf.clear();
    frames.clear();
    let last = envelopes.len() - 1;
    for (i, env) in envelopes.iter().enumerate() {
        let begin = if i == 0 { FLAG_BEGIN } else { 0 };
        let flags = begin | if i == last { FLAG_COMMIT } else { 0 };
        let start = buf.len() as u64;
        push_frame(buf, flags, |b| encode_record_into(env, b)).map_err(|len| {
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
