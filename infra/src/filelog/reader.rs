//! Reading committed records back: `read_all`, `read_stream` and `replay`. Readers take the
//! index lock only to copy out segment handles and offsets, then read the files with
//! positioned reads, so they never wait on an append's fsync. Large reads decode their
//! records on two threads: decoding (not I/O) bounds replay speed, and start-up time is
//! replay time.

use std::io;
use std::sync::OnceLock;

use ipledger_domain::Envelope;

use crate::codec::decode_record;
use crate::StoreError;

use super::frame::{FrameError, FrameReader, FrameRef};
use super::index::{Location, SegmentView};
use super::Shared;

/// Frames verified and decoded per step of a sequential read.
const BATCH_FRAMES: usize = 8192;
/// Below this many records a second thread costs more than it saves.
const PARALLEL_MIN: usize = 2048;

/// How much a sequential read asks of the file at a time: `(first, largest)`.
const REPLAY_CHUNKS: (usize, usize) = (1 << 20, 8 << 20);
const STREAM_CHUNKS: (usize, usize) = (4 << 10, 256 << 10);

impl Shared {
    pub(crate) fn read_all_sync(&self, from: u64, max: usize) -> Result<Vec<Envelope>, StoreError> {
        let Some((views, loc, head)) = self.snapshot(from) else {
            return Ok(Vec::new());
        };
        let count = (head - from).min(max as u64);
        let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
        // Size the first read to the request: a follower asking for a few new events
        // should not read a megabyte.
        let first = (count as usize)
            .saturating_mul(320)
            .clamp(8 << 10, REPLAY_CHUNKS.0);
        let chunks = (first, REPLAY_CHUNKS.1);
        scan_range(&views, loc, from, count, chunks, |e| out.push(e))?;
        Ok(out)
    }

    /// Delivers every committed event from `from` on, in order; returns the position to
    /// continue from (the head when the replay started, or `from` if that is later).
    pub(crate) fn replay_sync(
        &self,
        from: u64,
        mut f: impl FnMut(Envelope),
    ) -> Result<u64, StoreError> {
        let Some((views, loc, head)) = self.snapshot(from) else {
            return Ok(from.max(self.index.read().head));
        };
        scan_range(&views, loc, from, head - from, REPLAY_CHUNKS, &mut f)?;
        Ok(head)
    }

    pub(crate) fn read_stream_sync(
        &self,
        stream: &str,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        let (views, targets) = {
            let index = self.index.read();
            let positions = index.stream_positions(stream);
            let from =
                usize::try_from(from_version).map_or(positions.len(), |v| v.min(positions.len()));
            let wanted = &positions[from..][..max.min(positions.len() - from)];
            let mut targets: Vec<(Location, u64)> = wanted
                .iter()
                .filter_map(|&p| Some((index.locate(p)?, p)))
                .collect();
            let Some(first) = targets.first().map(|(l, _)| l.segment) else {
                return Ok(Vec::new());
            };
            targets.iter_mut().for_each(|(l, _)| l.segment -= first);
            (index.views(first), targets)
        };
        read_points(&views, &targets)
    }

    /// Views of the segments from the one holding `from`, where to start, and the head.
    fn snapshot(&self, from: u64) -> Option<(Vec<SegmentView>, Location, u64)> {
        let index = self.index.read();
        let mut loc = index.locate(from)?;
        let views = index.views(loc.segment);
        loc.segment = 0;
        Some((views, loc, index.head))
    }
}

/// Reads `count` records from position `from` on, handing them to `sink` in order.
/// `loc` (in `views[0]`) is at or before `from`.
fn scan_range(
    views: &[SegmentView],
    loc: Location,
    from: u64,
    count: u64,
    (chunk, max_chunk): (usize, usize),
    mut sink: impl FnMut(Envelope),
) -> Result<(), StoreError> {
    let mut position = loc.position;
    let mut left = count;
    let mut frames = Vec::new();
    for (i, view) in views.iter().enumerate() {
        if left == 0 {
            break;
        }
        let start = if i == 0 { loc.offset } else { view.data_start };
        if i > 0 && view.start != position {
            let reason = format!("segment starts at {}, expected {position}", view.start);
            return Err(corrupt(view, 0, reason));
        }
        let mut rd =
            FrameReader::new(&*view.file, start, view.len, chunk, max_chunk).chained(view.chained);
        rd.skip(from.saturating_sub(position))
            .map_err(|e| frame_error(view, e))?;
        position = position.max(from);
        while left > 0 {
            let max = left.min(BATCH_FRAMES as u64) as usize;
            let bytes = rd
                .next_frames(max, &mut frames)
                .map_err(|e| frame_error(view, e))?;
            if frames.is_empty() {
                break;
            }
            decode_frames(view, bytes, &frames, position, &mut sink)?;
            position += frames.len() as u64;
            left -= frames.len() as u64;
        }
    }
    Ok(())
}

/// Reads the records at `targets` (ascending), reusing one reader while the next target
/// lies ahead of it in the same sparse stretch, instead of seeking for every record.
fn read_points(
    views: &[SegmentView],
    targets: &[(Location, u64)],
) -> Result<Vec<Envelope>, StoreError> {
    let mut out = Vec::with_capacity(targets.len());
    let mut cur: Option<(usize, FrameReader<'_>, u64)> = None;
    for &(loc, target) in targets {
        let view = &views[loc.segment];
        let reuse = matches!(&cur, Some((seg, _, next))
            if *seg == loc.segment && loc.position <= *next && *next <= target);
        if !reuse {
            let (chunk, max_chunk) = STREAM_CHUNKS;
            let rd = FrameReader::new(&*view.file, loc.offset, view.len, chunk, max_chunk)
                .chained(view.chained);
            cur = Some((loc.segment, rd, loc.position));
        }
        let Some((_, rd, next)) = cur.as_mut() else {
            unreachable!("a reader was just set");
        };
        rd.skip(target - *next).map_err(|e| frame_error(view, e))?;
        let (frame, bytes) = rd
            .next_frame()
            .map_err(|e| frame_error(view, e))?
            .ok_or_else(|| corrupt(view, view.len, "log ends before an indexed record"))?;
        out.push(decode_one(
            view,
            &frame,
            &bytes[frame.body.clone()],
            target,
        )?);
        *next = target + 1;
    }
    Ok(out)
}

fn parallel() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// Decodes a batch of frames whose first record is at `position` into `sink`, in order.
/// A large batch is split: a helper thread decodes the back half into a Vec while this
/// thread decodes the front half straight into the sink (no intermediate copy of the
/// 400-byte envelopes).
fn decode_frames(
    view: &SegmentView,
    bytes: &[u8],
    frames: &[FrameRef],
    position: u64,
    sink: &mut impl FnMut(Envelope),
) -> Result<(), StoreError> {
    if frames.len() < PARALLEL_MIN || !parallel() {
        return decode_into(view, bytes, frames, position, sink);
    }
    let mid = frames.len() / 2;
    let (front, back) = frames.split_at(mid);
    std::thread::scope(|s| {
        let helper = s.spawn(|| {
            let mut out = Vec::with_capacity(back.len());
            decode_into(view, bytes, back, position + mid as u64, &mut |e| {
                out.push(e)
            })?;
            Ok::<_, StoreError>(out)
        });
        decode_into(view, bytes, front, position, sink)?;
        let rest = helper
            .join()
            .map_err(|_| StoreError::Io(io::Error::other("decoder thread panicked")))??;
        rest.into_iter().for_each(sink);
        Ok(())
    })
}

fn decode_into(
    view: &SegmentView,
    bytes: &[u8],
    frames: &[FrameRef],
    position: u64,
    sink: &mut impl FnMut(Envelope),
) -> Result<(), StoreError> {
    for (p, frame) in (position..).zip(frames) {
        sink(decode_one(view, frame, &bytes[frame.body.clone()], p)?);
    }
    Ok(())
}

fn decode_one(
    view: &SegmentView,
    frame: &FrameRef,
    body: &[u8],
    position: u64,
) -> Result<Envelope, StoreError> {
    let env = decode_record(body).map_err(|reason| StoreError::Decode { position, reason })?;
    if env.position != position {
        let reason = format!("record has position {}, expected {position}", env.position);
        return Err(corrupt(view, frame.offset, reason));
    }
    Ok(env)
}

fn corrupt(view: &SegmentView, offset: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        segment: view.name.to_string(),
        offset,
        reason: reason.into(),
    }
}

/// Damage found while reading the committed part of the log is corruption, never a
/// torn tail: these bytes were acknowledged.
fn frame_error(view: &SegmentView, err: FrameError) -> StoreError {
    match err {
        FrameError::Io(e) => StoreError::Io(e),
        FrameError::Truncated { offset, reason } | FrameError::Bad { offset, reason } => {
            corrupt(view, offset, reason)
        }
    }
}
