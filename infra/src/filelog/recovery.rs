//! The scan at open (and for `verify`): reads every frame of every segment, checks length,
//! checksum, consecutive positions and stream versions, and builds the [`Index`]. It also
//! decides what damage means. A torn tail is what a crash during an append leaves in the
//! last segment: a cut or bad frame with no valid record anywhere after it (garbage, zeros
//! from a file extended but never written, half a frame), or complete records after the
//! last COMMIT. Dropping it loses nothing acknowledged. Anything else, in particular a bad
//! frame followed by a valid record, is corruption and stops the open: silently skipping
//! acknowledged events would be worse than not starting.

use std::ops::Range;
use std::sync::Arc;

use crate::codec::{decode_record, decode_record_head};
use crate::StoreError;

use super::frame::{
    complete_frame, FrameError, FrameReader, FrameRef, FLAG_COMMIT, HEADER_LEN, MAX_BODY,
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
    // look cut short. Only if no valid record follows is this the end of the writes.
    if let Some(next) = valid_frame_after(at, offset + 1, position)? {
        let reason = format!("{reason}; yet a valid record follows at offset {next}");
        return Err(corrupt(at.seg, offset, reason));
    }
    Ok(Some(torn_tail(
        index,
        at,
        format!("at offset {offset}: {reason}"),
    )))
}

/// The offset of the first valid frame (checksum matches, body is a record at `position`
/// or later) starting anywhere in `from..` the end of the segment. Reads a window at a
/// time; a torn tail is at most one append, so this is short unless the log is damaged.
fn valid_frame_after(
    at: &SegmentScan<'_>,
    from: u64,
    position: u64,
) -> Result<Option<u64>, StoreError> {
    const WINDOW: usize = 4 * MAX_BODY;
    let mut base = from;
    let mut buf = Vec::new();
    while base < at.len {
        let n = (at.len - base).min(WINDOW as u64) as usize;
        buf.resize(n, 0);
        at.file.read_exact_at(&mut buf, base)?;
        // Offsets whose longest possible frame fits in this window; the last window goes
        // to the end of the file.
        let last = base + n as u64 == at.len;
        let stop = if last { n } else { n - (HEADER_LEN + MAX_BODY) };
        let found = (0..stop).find(|&i| {
            complete_frame(&buf[i..])
                .and_then(|body| decode_record_head(body).ok())
                .is_some_and(|head| head.position >= position)
        });
        if let Some(i) = found {
            return Ok(Some(base + i as u64));
        }
        base += stop as u64;
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
