//! The scan at open (and for `verify`): reads every frame of every segment, checks length,
//! checksum, consecutive positions and stream versions, and builds the [`Index`]. It also
//! decides what damage means. A torn tail is what a crash during an append leaves in the
//! last segment: complete records after the last COMMIT, or a cut or bad frame (garbage,
//! zeros from a file extended but never written, half a frame) after which nothing shows
//! that a later append was written. Dropping it loses nothing acknowledged. Anything else,
//! in particular damage followed by the first record of another append, is corruption and
//! stops the open: silently skipping acknowledged events would be worse than not starting.
//!
//! Why damage may be followed by valid records and still be a torn tail: the disk persists
//! the sectors of an unsynced write in any order, so a crash can keep the end of the
//! append in flight (even its COMMIT record) while losing a sector before it. Those
//! records belong to the one append that was never acknowledged. A crash cannot produce
//! the BEGIN record of another append after the damage, since appends are written one at a
//! time, each synced before the next starts. (For logs written before the BEGIN flag, a
//! valid record after a valid COMMIT record is the same proof.) The price: damage inside
//! the last acknowledged append, with nothing after it, is indistinguishable from a crash
//! and is dropped as a torn tail (with a warning), as damage to its final record always was.

use std::ops::Range;
use std::sync::Arc;

use crate::codec::{decode_record, decode_record_head};
use crate::StoreError;

use super::frame::{
    complete_frame, FrameError, FrameReader, FrameRef, FLAG_BEGIN, FLAG_COMMIT, HEADER_LEN,
    MAX_BODY,
};
use super::index::{Index, SegmentIndex};
use super::segment::SegmentFile;
use super::storage::{OpenMode, Storage, StorageFile};

/// An incomplete append found at the end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// File name of the (last) segment holding it.
    pub segment: String,
    /// Where the last complete append ends: the log is (or would be) truncated here.
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

/// What a scan found.
pub(crate) struct Scan {
    pub index: Index,
    pub torn: Option<TornTail>,
    /// Bytes of committed records in all segments.
    pub bytes: u64,
}

/// Scans `files` (in log order). With `full`, every payload is decoded too (for `verify`);
/// the open only needs each record's position, stream and version.
pub(crate) fn scan(
    storage: &dyn Storage,
    files: &[SegmentFile],
    full: bool,
) -> Result<Scan, StoreError> {
    let mut index = Index::default();
    let mut torn = None;
    for (i, seg) in files.iter().enumerate() {
        torn = scan_segment(storage, &mut index, seg, i + 1 == files.len(), full)?;
    }
    let bytes = index.segments.iter().map(|s| s.len).sum();
    Ok(Scan { index, torn, bytes })
}

/// Records read since the last COMMIT: they enter the index only when their commit does.
/// Stream names share one string buffer so the scan allocates nothing per record.
#[derive(Default)]
struct Pending {
    names: String,
    records: Vec<PendingRecord>,
}

struct PendingRecord {
    name: Range<usize>,
    version: u64,
    offset: u64,
    end: u64,
}

fn corrupt(seg: &SegmentFile, offset: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        segment: seg.name.clone(),
        offset,
        reason: reason.into(),
    }
}

/// One segment being scanned.
struct SegmentScan<'a> {
    seg: &'a SegmentFile,
    file: &'a dyn StorageFile,
    len: u64,
    is_last: bool,
}

fn scan_segment(
    storage: &dyn Storage,
    index: &mut Index,
    seg: &SegmentFile,
    is_last: bool,
    full: bool,
) -> Result<Option<TornTail>, StoreError> {
    if seg.start != index.head {
        let reason = format!(
            "segment starts at position {}, expected {}",
            seg.start, index.head
        );
        return Err(corrupt(seg, 0, reason));
    }
    let file: Arc<dyn StorageFile> = storage.open(&seg.name, OpenMode::Read)?.into();
    let len = file.size()?;
    index
        .segments
        .push(SegmentIndex::new(seg.start, &seg.name, file.clone()));
    let at = SegmentScan {
        seg,
        file: &*file,
        len,
        is_last,
    };
    let mut rd = FrameReader::new(&*file, 0, len, 1 << 20, 8 << 20);
    let mut pending = Pending::default();
    loop {
        let position = index.head + pending.records.len() as u64;
        let (frame, bytes) = match rd.next_frame() {
            Ok(Some(found)) => found,
            Ok(None) => break,
            Err(e) => return damaged(index, &at, position, e),
        };
        pending.add(seg, &frame, &bytes[frame.body.clone()], position, full)?;
        if frame.flags & FLAG_COMMIT != 0 {
            pending.commit(index, seg)?;
        }
    }
    match pending.records.first() {
        None => Ok(None),
        Some(first) if !is_last => Err(corrupt(seg, first.offset, "segment ends without a commit")),
        Some(_) => {
            let reason = format!("{} records after the last commit", pending.records.len());
            Ok(Some(torn_tail(index, &at, reason)))
        }
    }
}

/// Classifies a frame (expected to hold `position`) that could not be read.
fn damaged(
    index: &Index,
    at: &SegmentScan<'_>,
    position: u64,
    err: FrameError,
) -> Result<Option<TornTail>, StoreError> {
    let (offset, reason) = match err {
        FrameError::Io(e) => return Err(e.into()),
        FrameError::Truncated { offset, reason } | FrameError::Bad { offset, reason } => {
            (offset, reason)
        }
    };
    if !at.is_last {
        return Err(corrupt(at.seg, offset, reason));
    }
    // A length field is not covered by the checksum: a damaged one can make an intact log
    // look cut short. Only if no later append follows is this the end of the writes.
    if let Some(next) = later_append_after(at, offset + 1, position)? {
        let reason = format!("{reason}; yet a later append starts at offset {next}");
        return Err(corrupt(at.seg, offset, reason));
    }
    Ok(Some(torn_tail(
        index,
        at,
        format!("at offset {offset}: {reason}"),
    )))
}

/// The offset of the first record in `from..` the end of the segment that proves a later
/// append was written: a valid frame (checksum matches, body is a record at `position` or
/// later) flagged BEGIN, or, for logs older than that flag, one holding a later position
/// than a valid COMMIT record before it. Valid frames of the torn append itself are
/// stepped over. Reads a window at a time; a torn tail is at most one append, so this is
/// short unless the log is damaged.
fn later_append_after(
    at: &SegmentScan<'_>,
    from: u64,
    position: u64,
) -> Result<Option<u64>, StoreError> {
    const WINDOW: usize = 4 * MAX_BODY;
    let mut base = from;
    let mut buf = Vec::new();
    // The position of the last valid COMMIT record seen after the damage.
    let mut committed: Option<u64> = None;
    while base < at.len {
        let n = (at.len - base).min(WINDOW as u64) as usize;
        buf.resize(n, 0);
        at.file.read_exact_at(&mut buf, base)?;
        // Offsets whose longest possible frame fits in this window; the last window goes
        // to the end of the file.
        let last = base + n as u64 == at.len;
        let stop = if last { n } else { n - (HEADER_LEN + MAX_BODY) };
        let mut i = 0;
        while i < stop {
            let Some((flags, body)) = complete_frame(&buf[i..]) else {
                i += 1;
                continue;
            };
            let found = match decode_record_head(body) {
                Ok(head) if head.position >= position => head.position,
                _ => {
                    i += 1;
                    continue;
                }
            };
            if flags & FLAG_BEGIN != 0 || committed.is_some_and(|c| found > c) {
                return Ok(Some(base + i as u64));
            }
            if flags & FLAG_COMMIT != 0 {
                committed = Some(found);
            }
            i += HEADER_LEN + body.len();
        }
        base += i as u64;
    }
    Ok(None)
}

fn torn_tail(index: &Index, at: &SegmentScan<'_>, reason: String) -> TornTail {
    let offset = index.segments.last().map_or(0, |s| s.len);
    TornTail {
        segment: at.seg.name.clone(),
        offset,
        dropped_bytes: at.len - offset,
        reason,
    }
}

impl Pending {
    fn add(
        &mut self,
        seg: &SegmentFile,
        frame: &FrameRef,
        body: &[u8],
        position: u64,
        full: bool,
    ) -> Result<(), StoreError> {
        let bad = |reason: String| corrupt(seg, frame.offset, reason);
        let head = decode_record_head(body).map_err(bad)?;
        if head.position != position {
            return Err(bad(format!(
                "record has position {}, expected {position}",
                head.position
            )));
        }
        if full {
            decode_record(body).map_err(bad)?;
        }
        let start = self.names.len();
        self.names.push_str(head.stream);
        self.records.push(PendingRecord {
            name: start..self.names.len(),
            version: head.version,
            offset: frame.offset,
            end: frame.end(),
        });
        Ok(())
    }

    /// Moves the committed records into the index, checking stream versions run on.
    fn commit(&mut self, index: &mut Index, seg: &SegmentFile) -> Result<(), StoreError> {
        for r in &self.records {
            let stream = &self.names[r.name.clone()];
            let expected = index.stream_version(stream).map_or(0, |v| v + 1);
            if r.version != expected {
                let reason = format!(
                    "stream {stream} has version {}, expected {expected}",
                    r.version
                );
                return Err(corrupt(seg, r.offset, reason));
            }
            index.push(stream, r.offset, r.end);
        }
        self.records.clear();
        self.names.clear();
        Ok(())
    }
}

/// Cuts a torn tail off its segment, durably.
pub(crate) fn truncate(storage: &dyn Storage, torn: &TornTail) -> Result<(), StoreError> {
    let file = storage.open(&torn.segment, OpenMode::Write)?;
    file.set_len(torn.offset)?;
    file.sync_all()?;
    storage.sync_dir()?;
    tracing::warn!(
        segment = %torn.segment,
        offset = torn.offset,
        dropped_bytes = torn.dropped_bytes,
        reason = %torn.reason,
        "event log: dropped a torn tail of {} bytes (an append that never completed)",
        torn.dropped_bytes
    );
    Ok(())
}
