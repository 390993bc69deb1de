//! Snapshots of the projections (issue 11 item 5): the folded [`State`] written to disk so
//! that a start-up folds only the log's tail after it. A snapshot is never the truth — the
//! log is — so any doubt about one (another schema version, a bad checksum, a position the
//! log does not reach, an unreadable file) means it is skipped with a warning and the next
//! older one, or a full replay, is used instead.
//!
//! File `<dir>/<position, 20 digits>.snap`: a 32-byte header — magic `IPLSNAP1`, the
//! projection schema version (`ipledger_projections::SNAPSHOT_SCHEMA_VERSION`, u32 LE), the
//! position (the events folded, u64 LE), the payload's length (u64 LE), CRC32C of the payload
//! (u32 LE) — then the payload: the `State` as MessagePack (`rmp-serde`), one part per field
//! (`ipledger_projections::parts`, so that load and encoding use every core): the number of
//! parts (u32 LE), each part's length (u64 LE), the parts. Written atomically:
//! a temporary file, fsync, rename, fsync of the directory; the newest [`KEEP`] are kept.
//!
//! Taking one from a running service (`ops.rs`) serializes one published version of the
//! state (immutable: nobody waits for it) and writes the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipledger_projections::parts::{PartCodec, PART_NAMES};
use ipledger_projections::{State, SNAPSHOT_SCHEMA_VERSION};

/// Snapshots kept in the directory (older ones are deleted after a new one is durable).
pub const KEEP: usize = 3;

const MAGIC: &[u8; 8] = b"IPLSNAP1";
const HEADER_LEN: usize = 32;
const EXTENSION: &str = "snap";

/// A serialized state, ready to be written: the payload's framing, then its parts, kept
/// apart and written one after the other (gathered into one buffer they were a second copy
/// of the whole state's bytes, 2.2 GB at 10M addresses, on a running service).
pub struct Encoded {
    pub position: u64,
    /// The framing (part count and lengths) first, then the parts.
    pieces: Vec<Vec<u8>>,
}

impl Encoded {
    /// The size of the snapshot file it makes.
    pub fn file_bytes(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    fn payload_len(&self) -> usize {
        self.pieces.iter().map(Vec::len).sum()
    }

    /// The payload in one buffer (tests).
    #[cfg(test)]
    fn payload(&self) -> Vec<u8> {
        self.pieces.concat()
    }
}

/// The parts' format: MessagePack (`rmp-serde`), structs as arrays.
struct MessagePack;

impl PartCodec for MessagePack {
    type Error = String;
    fn encode<T: serde::Serialize + Sync>(&self, value: &T) -> Result<Vec<u8>, String> {
        rmp_serde::to_vec(value).map_err(|e| e.to_string())
    }
    fn decode<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, String> {
        rmp_serde::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// Serializes `state`, one part per field (the costly part; the state is an immutable
/// published version, so nobody waits for it), the parts on threads of their own when
/// `parallel` (see `State::to_parts`).
pub fn encode(state: &State, parallel: bool) -> anyhow::Result<Encoded> {
    let parts = state
        .to_parts(&MessagePack, parallel)
        .map_err(anyhow::Error::msg)?;
    let mut framing = Vec::with_capacity(4 + 8 * parts.len());
    framing.extend_from_slice(&(parts.len() as u32).to_le_bytes());
    for part in &parts {
        framing.extend_from_slice(&(part.len() as u64).to_le_bytes());
    }
    let mut pieces = Vec::with_capacity(1 + parts.len());
    pieces.push(framing);
    pieces.extend(parts);
    Ok(Encoded {
        position: state.position(),
        pieces,
    })
}

/// The payload cut into its parts (its framing: the count, u32 LE; each part's length, u64
/// LE; the parts one after the other), or why it cannot be.
fn split_parts(payload: &[u8]) -> Result<Vec<&[u8]>, String> {
    let (count, rest) = payload.split_first_chunk::<4>().ok_or("no part count")?;
    let count = u32::from_le_bytes(*count) as usize;
    if count != PART_NAMES.len() {
        return Err(format!(
            "{count} parts, this binary's state has {}",
            PART_NAMES.len()
        ));
    }
    let mut lengths = Vec::with_capacity(count);
    let mut rest = rest;
    for _ in 0..count {
        let (length, after) = rest
            .split_first_chunk::<8>()
            .ok_or("part lengths cut short")?;
        lengths.push(u64::from_le_bytes(*length));
        rest = after;
    }
    let mut parts = Vec::with_capacity(count);
    for length in lengths {
        let length = usize::try_from(length)
            .ok()
            .filter(|l| *l <= rest.len())
            .ok_or("a part longer than the payload")?;
        let (part, after) = rest.split_at(length);
        parts.push(part);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the last part", rest.len()));
    }
    Ok(parts)
}

fn file_name(position: u64) -> String {
    format!("{position:020}.{EXTENSION}")
}

/// The header of a payload made of `pieces` one after the other.
fn header(schema: u32, position: u64, pieces: &[Vec<u8>]) -> [u8; HEADER_LEN] {
    let len: usize = pieces.iter().map(Vec::len).sum();
    let crc = pieces
        .iter()
        .fold(0, |crc, piece| crc32c::crc32c_append(crc, piece));
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&schema.to_le_bytes());
    h[12..20].copy_from_slice(&position.to_le_bytes());
    h[20..28].copy_from_slice(&(len as u64).to_le_bytes());
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// How fast a snapshot file is written (issue 8: a snapshot must not stall the log's
/// appends through the disk).
///
/// Written in one go, a snapshot leaves hundreds of megabytes dirty in the page cache and
/// its final fsync flushes them all at once; the log's own fsyncs, on the same disk (and,
/// on ext4, in the same journal), wait behind that flush: the fairness benchmark saw another
/// tenant's p99 go from ~4 ms to 39-67 ms while a 1M-address snapshot was written. So the
/// file is written a chunk at a time, each chunk's write-back started at once and the one
/// before it waited for (at most two chunks dirty: what RocksDB's `bytes_per_sync` and
/// PostgreSQL's `checkpoint_flush_after` do), at no more than `bytes_per_second`.
#[derive(Clone, Debug, Default)]
pub struct Pace {
    /// At most this many bytes per second; 0: as fast as the disk takes them.
    pub bytes_per_second: u64,
    /// Once set (a shutdown is waiting for this snapshot), the rest goes unthrottled.
    pub hurry: Arc<AtomicBool>,
}

impl Pace {
    /// No rate limit (the shutdown snapshot, `ipledger snapshot`), still flushed by chunks.
    pub fn unthrottled() -> Pace {
        Pace::default()
    }

    /// How long to wait, after `written` bytes in `elapsed`, to stay at the rate.
    fn pause(&self, written: u64, elapsed: Duration) -> Duration {
        if self.bytes_per_second == 0 || self.hurry.load(Ordering::Relaxed) {
            return Duration::ZERO;
        }
        let due = Duration::from_secs_f64(written as f64 / self.bytes_per_second as f64);
        due.saturating_sub(elapsed)
    }
}

/// Bytes written between two write-back steps.
const FLUSH_CHUNK: usize = 1 << 20;

/// Starts write-back of `len` bytes at `offset` and, when `wait_for` is given, waits until
/// that earlier range is on disk (`sync_file_range`). A hint only: the file's `sync_all`
/// afterwards is what makes the snapshot durable, so an error here (a file system without
/// it) changes nothing and is ignored.
#[cfg(target_os = "linux")]
fn write_back(f: &std::fs::File, offset: u64, len: usize, wait_for: Option<(u64, usize)>) {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: sync_file_range(2) on a file descriptor we own and keep open for the call.
    unsafe {
        libc::sync_file_range(
            fd,
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
        if let Some((offset, len)) = wait_for {
            libc::sync_file_range(
                fd,
                offset as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn write_back(_: &std::fs::File, _: u64, _: usize, _: Option<(u64, usize)>) {}

/// Writes `pieces` one after the other at the file's current end (`offset`) by chunks, as
/// [`Pace`] says.
fn write_paced(
    f: &mut std::fs::File,
    offset: u64,
    pieces: &[Vec<u8>],
    pace: &Pace,
) -> std::io::Result<()> {
    let started = Instant::now();
    let mut written = 0u64;
    let mut previous = None;
    for chunk in pieces.iter().flat_map(|piece| piece.chunks(FLUSH_CHUNK)) {
        f.write_all(chunk)?;
        let at = offset + written;
        write_back(f, at, chunk.len(), previous);
        previous = Some((at, chunk.len()));
        written += chunk.len() as u64;
        let pause = pace.pause(written, started.elapsed());
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    Ok(())
}

/// Writes `snap` into `dir` atomically and durably (at `pace`), then deletes all but the
/// newest [`KEEP`]. Returns the file written.
pub fn write(dir: &Path, snap: &Encoded, pace: &Pace) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = file_name(snap.position);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&header(
            SNAPSHOT_SCHEMA_VERSION,
            snap.position,
            &snap.pieces,
        ))?;
        write_paced(&mut f, HEADER_LEN as u64, &snap.pieces, pace)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    for (_, old) in listed(dir)?.into_iter().skip(KEEP) {
        if let Err(e) = std::fs::remove_file(&old) {
            tracing::warn!(path = %old.display(), error = %e, "could not delete an old snapshot");
        }
    }
    Ok(path)
}

/// The snapshot files in `dir`, newest (highest position) first.
fn listed(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let position = name.strip_suffix(&format!(".{EXTENSION}"))?.parse().ok()?;
            (name == file_name(position)).then(|| (position, e.path()))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(found)
}

/// Reads and checks one snapshot file: the state, or why it is not usable.
fn load(path: &Path, named: u64) -> Result<State, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
    let h = bytes.get(..HEADER_LEN).ok_or("shorter than its header")?;
    let field = |r: std::ops::Range<usize>| h[r].to_vec();
    let u32_at = |r| u32::from_le_bytes(field(r).try_into().unwrap_or_default());
    let u64_at = |r| u64::from_le_bytes(field(r).try_into().unwrap_or_default());
    if &h[..8] != MAGIC {
        return Err("not a snapshot (bad magic)".into());
    }
    let schema = u32_at(8..12);
    if schema != SNAPSHOT_SCHEMA_VERSION {
        return Err(format!(
            "projection schema version {schema}, this binary's is {SNAPSHOT_SCHEMA_VERSION}"
        ));
    }
    let position = u64_at(12..20);
    if position != named {
        return Err(format!("holds position {position}, named {named}"));
    }
    let payload = &bytes[HEADER_LEN..];
    if u64_at(20..28) != payload.len() as u64 {
        return Err("length does not match its header (cut short?)".into());
    }
    if crc32c::crc32c(payload) != u32_at(28..32) {
        return Err("checksum mismatch".into());
    }
    let parts = split_parts(payload).map_err(|e| format!("undecodable: {e}"))?;
    let state = State::from_parts(&MessagePack, &parts).map_err(|e| format!("undecodable: {e}"))?;
    if state.position() != position {
        return Err(format!("its state is at position {}", state.position()));
    }
    Ok(state)
}

/// The as-of reads' starting states (`asof.rs`): the snapshots in a directory, so a read of
/// the past folds from the newest snapshot at or below it, not from the log's start.
pub struct SnapshotDir(pub std::path::PathBuf);

impl crate::asof::StartingStates for SnapshotDir {
    fn newest_at_or_below(&self, position: u64) -> Option<State> {
        newest_at_or_below(&self.0, position, false)
    }
}

/// The newest valid snapshot in `dir` at or below `position` (a log's head, or an as-of
/// read's position), with the state it holds. Invalid ones are skipped with a warning; ones
/// beyond `position` are skipped with a warning too when `beyond_is_odd` (at start-up a
/// snapshot past the log's head means the log lost events or belongs to another log),
/// silently otherwise (an as-of read of the past).
pub fn newest_at_or_below(dir: &Path, position: u64, beyond_is_odd: bool) -> Option<State> {
    let listed = match listed(dir) {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "snapshots unreadable: full replay");
            return None;
        }
    };
    for (named, path) in listed {
        if named > position {
            if beyond_is_odd {
                tracing::warn!(
                    path = %path.display(),
                    snapshot = named,
                    head = position,
                    "ignoring a snapshot beyond the log's head"
                );
            }
            continue;
        }
        match load(&path, named) {
            Ok(state) => return Some(state),
            Err(why) => {
                tracing::warn!(path = %path.display(), reason = %why, "ignoring a snapshot")
            }
        }
    }
    None
}

/// Deletes every snapshot in `dir` (`ipledger rebuild`). Returns how many.
pub fn drop_all(dir: &Path) -> anyhow::Result<usize> {
    let listed = listed(dir)?;
    for (_, path) in &listed {
        std::fs::remove_file(path)?;
    }
    Ok(listed.len())
}

/// The position of the newest snapshot file in `dir` (not checked), if any.
pub fn newest_position(dir: &Path) -> Option<u64> {
    listed(dir).ok()?.first().map(|(p, _)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_and_a_damaged_or_foreign_one_is_skipped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let empty = State::default();
        assert!(newest_at_or_below(dir, 10, true).is_none());
        let path = write(
            dir,
            &encode(&empty, false).expect("encode"),
            &Pace::unthrottled(),
        )
        .expect("write");
        assert_eq!(newest_at_or_below(dir, 0, true), Some(State::default()));
        // Damage: a flipped payload byte.
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(newest_at_or_below(dir, 0, true).is_none());
        // Another schema version.
        bytes[last] ^= 1;
        bytes[8..12].copy_from_slice(&(SNAPSHOT_SCHEMA_VERSION + 1).to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        assert!(newest_at_or_below(dir, 0, true).is_none());
        assert_eq!(drop_all(dir).expect("drop"), 1);
        assert_eq!(newest_position(dir), None);
    }

    #[test]
    fn a_paced_write_keeps_to_its_rate_until_hurried() {
        let mib = 1 << 20;
        let pace = Pace {
            bytes_per_second: 10 * mib,
            hurry: Arc::default(),
        };
        // 5 MiB at 10 MiB/s are due at 0.5 s: 0.2 s in, wait 0.3 s; late, no wait.
        let at = |ms| Duration::from_millis(ms);
        assert_eq!(pace.pause(5 * mib, at(200)), at(500) - at(200));
        assert_eq!(pace.pause(5 * mib, at(700)), Duration::ZERO);
        pace.hurry.store(true, Ordering::Relaxed);
        assert_eq!(pace.pause(5 * mib, at(200)), Duration::ZERO);
        assert_eq!(Pace::unthrottled().pause(u64::MAX, at(0)), Duration::ZERO);
        // Written by chunks (more than one), the file is the same snapshot.
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut snap = encode(&State::default(), true).expect("encode");
        snap.pieces.push(vec![7; 3 * FLUSH_CHUNK + 5]);
        let path = write(tmp.path(), &snap, &Pace::unthrottled()).expect("write");
        let bytes = std::fs::read(path).expect("read");
        assert_eq!(&bytes[HEADER_LEN..], &snap.payload()[..]);
        assert_eq!(
            &bytes[..HEADER_LEN],
            &header(SNAPSHOT_SCHEMA_VERSION, 0, &[snap.payload()])
        );
    }

    #[test]
    fn a_payload_whose_framing_is_wrong_is_refused_not_a_panic() {
        let good = encode(&State::default(), true).expect("encode").payload();
        let parts = split_parts(&good).expect("framing");
        assert_eq!(parts.len(), PART_NAMES.len());
        assert_eq!(
            State::from_parts(&MessagePack, &parts).expect("decode"),
            State::default()
        );
        // Cut anywhere: every part holds at least one byte, so each cut is refused.
        for cut in 0..good.len() {
            assert!(split_parts(&good[..cut]).is_err(), "cut at {cut} accepted");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(split_parts(&longer)
            .unwrap_err()
            .contains("after the last part"));
        let mut count = good.clone();
        count[..4].copy_from_slice(&(PART_NAMES.len() as u32 + 1).to_le_bytes());
        assert!(split_parts(&count).unwrap_err().contains("parts"));
        let mut huge = good.clone();
        huge[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(split_parts(&huge)
            .unwrap_err()
            .contains("longer than the payload"));
        // A part that is not its field's encoding names the field.
        let mut parts = parts;
        parts[0] = &[0xc1]; // MessagePack's never-used byte
        let err = State::from_parts(&MessagePack, &parts)
            .unwrap_err()
            .to_string();
        assert!(err.contains(PART_NAMES[0]), "{err}");
    }
}
