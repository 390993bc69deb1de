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
//! valid record after a valid COMMIT record is the same proof.)
//!
//! What a format-2 segment adds (`header.rs`): its synced-end slot proves how far appends
//! were synced, so damage before that offset, or a segment shorter than it, is corruption
//! even with nothing after it; a sealed last segment means its successor was deleted; a
//! segment without its header (deleted or emptied) is corruption unless it is the last one
//! and a crash while creating it is possible. Only what lies after the proven end, at most
//! the append in flight and the one before it, is judged by the rules above. Format-1
//! segments prove none of this: in them, damage to the last acknowledged append with
//! nothing after it is still taken for a torn tail.
//!
//! Format-3 segments (chained frames) also give each record's chain hash: the open takes the
//! stored hashes as they are (the last one is where the next append continues the chain; the
//! checksums already vouch for the bytes), `verify` recomputes every one (`crate::chain`) and
//! names the first record whose hash does not follow. A format-2 segment after a format-3
//! one is corruption: the chain, once begun, never stops.

use std::ops::Range;
use std::sync::Arc;

use crate::chain::{ChainCheck, Hash};
use crate::codec::{decode_record, decode_record_head};
use crate::StoreError;

use super::frame::{
    complete_frame, FrameError, FrameReader, FrameRef, FLAG_BEGIN, FLAG_COMMIT, HEADER_LEN,
    MAX_BODY,
};
use super::header::{self, Layout, Slot, Slots};
use super::index::{Index, SegmentIndex};
use super::segment::{segment_name, SegmentFile};
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
    /// Where format 2 begins according to the directory's marker, if it is there.
    pub marker: Option<u64>,
    /// The first segment found with a format-2 header.
    pub first_v2: Option<u64>,
    /// The last segment's synced-end slots, if it is a format-2 segment.
    pub last_slots: Option<Slots>,
    /// A format-2 segment before the last one that was never sealed (a crash while
    /// rolling): its name, end and the position where its successor starts.
    pub unsealed: Option<(String, u64, u64)>,
    /// The hash chain over the committed records: where it starts and its last hash, and
    /// with `full` (verify) the first record whose stored hash does not follow.
    pub chain: ChainCheck,
}

/// Scans `files` (in log order). With `full`, every payload is decoded too (for `verify`);
/// the open only needs each record's position, stream and version. With `beside_writer`
/// (a read-only open while the service runs), a last segment found sealed is not damage:
/// the writer rolled to a successor after `files` was listed.
pub(crate) fn scan(
    storage: &dyn Storage,
    files: &[SegmentFile],
    full: bool,
    beside_writer: bool,
) -> Result<Scan, StoreError> {
    let marker = header::read_marker(storage)?;
    if let Some(first) = marker {
        if !files.iter().any(|f| f.start == first) {
            let reason = "the segment is missing, yet the log's FORMAT file says it exists \
                          (format 2 begins there)";
            return Err(StoreError::Corrupt {
                segment: segment_name(first),
                offset: 0,
                reason: reason.into(),
            });
        }
    }
    let mut index = Index::default();
    let mut ctx = Context {
        marker,
        beside_writer,
        prev: None,
        torn: None,
        first_v2: None,
        unsealed: None,
        last_slots: None,
        chain: ChainCheck::default(),
    };
    for (i, seg) in files.iter().enumerate() {
        scan_segment(
            storage,
            &mut index,
            seg,
            i + 1 == files.len(),
            full,
            &mut ctx,
        )?;
    }
    let bytes = index.segments.iter().map(|s| s.len - s.data_start).sum();
    Ok(Scan {
        index,
        torn: ctx.torn,
        bytes,
        marker,
        first_v2: ctx.first_v2,
        last_slots: ctx.last_slots,
        unsealed: ctx.unsealed,
        chain: ctx.chain,
    })
}

/// What the scan carries from one segment to the next.
struct Context {
    marker: Option<u64>,
    beside_writer: bool,
    /// The previous segment's proof, if it was a format-2 segment.
    prev: Option<(String, Slot)>,
    torn: Option<TornTail>,
    first_v2: Option<u64>,
    unsealed: Option<(String, u64, u64)>,
    last_slots: Option<Slots>,
    chain: ChainCheck,
}

/// Records read since the last COMMIT: they enter the index only when their commit does.
/// Stream names share one string buffer so the scan allocates nothing per record.
#[derive(Default)]
struct Pending {
    names: String,
    records: Vec<PendingRecord>,
    /// The records' bytes, kept only when the chain is verified (`full`).
    bodies: Vec<u8>,
}

struct PendingRecord {
    name: Range<usize>,
    version: u64,
    offset: u64,
    end: u64,
    /// The stored chain hash (format 3).
    hash: Option<Hash>,
    /// The record's bytes in `Pending::bodies` (empty unless `full`).
    body: Range<usize>,
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
    /// Bytes the segment's synced-end slot proves were synced: damage before this offset
    /// hit an append that may have been acknowledged, whatever follows it.
    proven: u64,
    /// A format-3 segment: its frames carry chain hashes.
    chained: bool,
}

/// How a segment begins, and whether a missing header can be a crash's doing.
fn check_layout(
    file: &dyn StorageFile,
    len: u64,
    seg: &SegmentFile,
    is_last: bool,
    ctx: &Context,
) -> Result<Result<Layout, TornTail>, StoreError> {
    let layout = header::read_layout(file, len, seg.start)?;
    let must_be_v2 = ctx.marker.is_some_and(|first| seg.start >= first);
    let reason = match &layout {
        Layout::V2 { chained: false, .. } if ctx.chain.chained_from.is_some() => {
            let reason = "a format-2 segment (no chain hashes) after the hash chain began";
            return Err(corrupt(seg, 0, reason));
        }
        Layout::V2 { .. } => return Ok(Ok(layout)),
        Layout::V1 if !must_be_v2 => return Ok(Ok(layout)),
        Layout::V1 => "no segment header (empty, or format 1 where format 2 began)".to_string(),
        Layout::BadHeader(reason) => reason.clone(),
    };
    // Creating a segment writes and syncs its header before the previous segment is sealed
    // and before anything is appended to it: a crash can leave the last segment without a
    // header only while its predecessor is unsealed, and then it holds nothing acknowledged.
    // The first format-2 segment is named by the marker only once its header is durable.
    let prev_sealed = ctx.prev.as_ref().is_some_and(|(_, s)| s.sealed());
    let first = ctx.marker.is_some_and(|first| seg.start == first);
    if is_last && !prev_sealed && !first {
        return Ok(Err(TornTail {
            segment: seg.name.clone(),
            offset: 0,
            dropped_bytes: len,
            reason: format!("{reason}: a crash while creating the segment; it would be made again"),
        }));
    }
    let why = if prev_sealed {
        "; its predecessor was sealed after this header was written"
    } else {
        ""
    };
    Err(corrupt(seg, 0, format!("{reason}{why}")))
}

fn scan_segment(
    storage: &dyn Storage,
    index: &mut Index,
    seg: &SegmentFile,
    is_last: bool,
    full: bool,
    ctx: &mut Context,
) -> Result<(), StoreError> {
    if seg.start != index.head {
        let reason = format!(
            "segment starts at position {}, expected {}",
            seg.start, index.head
        );
        return Err(corrupt(seg, 0, reason));
    }
    let file: Arc<dyn StorageFile> = storage.open(&seg.name, OpenMode::Read)?.into();
    // The slots are read before the size and the frames: a read-only scan beside the
    // writer then never sees a claim for bytes it has not read.
    let header_len = file.size()?;
    let prev_end = index.segments.last().map_or(0, |s| s.len);
    ctx.unsealed = match &ctx.prev {
        Some((name, slot)) if !slot.sealed() => Some((name.clone(), prev_end, seg.start)),
        _ => None,
    };
    let layout = match check_layout(&*file, header_len, seg, is_last, ctx)? {
        Ok(layout) => layout,
        Err(torn) => {
            index
                .segments
                .push(SegmentIndex::new(seg.start, &seg.name, file.clone(), 0));
            ctx.torn = Some(torn);
            ctx.prev = None;
            ctx.last_slots = None;
            return Ok(());
        }
    };
    let (data_start, proof, chained) = match layout {
        Layout::V2 { slots, chained } => {
            let best = slots
                .best()
                .ok_or_else(|| corrupt(seg, 0, "no synced-end record"))?;
            (header::HEADER_LEN, Some((slots, best)), chained)
        }
        _ => (0, None, false),
    };
    let len = file.size()?;
    if let Some((_, best)) = &proof {
        if best.sealed() && is_last && !ctx.beside_writer {
            let reason = format!(
                "this segment was sealed when the one after it, {}, had been created; \
                 that segment is missing",
                segment_name(best.head)
            );
            return Err(corrupt(seg, best.end, reason));
        }
        ctx.first_v2.get_or_insert(seg.start);
    }
    index
        .segments
        .push(SegmentIndex::new(seg.start, &seg.name, file.clone(), data_start).chained(chained));
    let at = SegmentScan {
        seg,
        file: &*file,
        len,
        is_last,
        proven: proof.map_or(0, |(_, best)| best.end),
        chained,
    };
    ctx.torn = scan_frames(index, &at, data_start, full, &mut ctx.chain)?;
    let committed = index.segments.last().map_or(0, |s| s.len);
    if committed < at.proven {
        let reason = format!(
            "intact records end here, but the segment's synced-end record says appends up \
             to offset {} were synced and acknowledged",
            at.proven
        );
        return Err(corrupt(seg, committed, reason));
    }
    ctx.prev = proof.map(|(_, best)| (seg.name.clone(), best));
    ctx.last_slots = proof.map(|(slots, _)| slots);
    Ok(())
}

/// Reads the frames of one segment into the index; returns the torn tail, if any.
fn scan_frames(
    index: &mut Index,
    at: &SegmentScan<'_>,
    data_start: u64,
    full: bool,
    chain: &mut ChainCheck,
) -> Result<Option<TornTail>, StoreError> {
    let seg = at.seg;
    let mut rd =
        FrameReader::new(at.file, data_start, at.len, 1 << 20, 8 << 20).chained(at.chained);
    let mut pending = Pending::default();
    loop {
        let position = index.head + pending.records.len() as u64;
        let (frame, bytes) = match rd.next_frame() {
            Ok(Some(found)) => found,
            Ok(None) => break,
            Err(e) => return damaged(index, at, position, e),
        };
        let hash = frame.hash.clone().map(|h| &bytes[h]);
        pending.add(
            seg,
            &frame,
            &bytes[frame.body.clone()],
            hash,
            position,
            full,
        )?;
        if frame.flags & FLAG_COMMIT != 0 {
            pending.commit(index, seg, chain, full)?;
        }
    }
    match pending.records.first() {
        None => Ok(None),
        Some(first) if !at.is_last => {
            Err(corrupt(seg, first.offset, "segment ends without a commit"))
        }
        Some(_) => {
            let reason = format!("{} records after the last commit", pending.records.len());
            Ok(Some(torn_tail(index, at, reason)))
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
    if offset < at.proven {
        let reason = format!(
            "{reason}; the segment's synced-end record says appends up to offset {} were \
             synced and acknowledged",
            at.proven
        );
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
            let Some((flags, body, frame_len)) = complete_frame(&buf[i..], at.chained) else {
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
            i += frame_len;
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
        hash: Option<&[u8]>,
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
        let at = self.bodies.len();
        if full {
            self.bodies.extend_from_slice(body);
        }
        self.records.push(PendingRecord {
            name: start..self.names.len(),
            version: head.version,
            offset: frame.offset,
            end: frame.end(),
            hash: hash.and_then(|h| h.try_into().ok()),
            body: at..self.bodies.len(),
        });
        Ok(())
    }

    /// Moves the committed records into the index, checking stream versions run on, and
    /// follows the chain over them (recomputing each hash with `full`, else taking the
    /// stored ones).
    fn commit(
        &mut self,
        index: &mut Index,
        seg: &SegmentFile,
        chain: &mut ChainCheck,
        full: bool,
    ) -> Result<(), StoreError> {
        for r in &self.records {
            let position = index.head;
            let hash = r.hash.as_ref().map(|h| &h[..]);
            if full {
                let before = chain.broken.is_some();
                chain.record(position, &self.bodies[r.body.clone()], hash);
                if let (false, Some((_, why))) = (before, chain.broken.as_mut()) {
                    why.push_str(&format!(" ({} at offset {})", seg.name, r.offset));
                }
            } else {
                chain.trust(position, r.hash);
            }
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
        self.bodies.clear();
        Ok(())
    }
}

/// Cuts a torn tail off its segment, durably. A segment whose header a crash tore is cut
/// to nothing; the open then writes its header again.
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
