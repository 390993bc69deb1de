//! What a segment of format 2 says about itself, and the log directory's format marker.
//! These are the durable records that let recovery tell a crash's torn write from damage
//! to acknowledged data (ARCHITECTURE.md, "What the log can prove").
//!
//! A format-2 segment begins with a [`HEADER_LEN`]-byte header: sector 0 holds a magic, the
//! format and the segment's start position (written once, synced before the segment is
//! used); sectors 1 and 2 hold two *synced-end slots*. After each append's `fdatasync`
//! returns, the writer writes the new end into the older slot, without syncing it: the
//! next append's `fdatasync` (or the one at a clean close) makes it durable, so the hot
//! path keeps one sync per batch. A slot therefore never claims bytes that were not
//! durable, and the larger valid slot is a lower bound of what was acknowledged. Writing
//! alternately into two sectors means a torn slot write leaves the other slot intact. A
//! slot flagged SEALED says the segment is complete and a successor was created (durably,
//! before the seal).
//!
//! Format 3 (issue 11 item 6) is format 2 whose frames carry the records' chain hashes
//! (`frame.rs`, `crate::chain`); its header differs only by its magic, [`MAGIC_CHAINED`], which
//! binaries that know only format 2 refuse as a damaged header rather than misread the
//! frames. Every segment created now is format 3; a log's format-2 segments stay as they are.
//!
//! Format-1 segments (written before this module existed) have no header: their first
//! bytes are a frame whose length field is at most 1 MiB, so its fourth byte is zero and it
//! can never be taken for [`MAGIC`].
//!
//! The marker file `FORMAT` names the position where format 2 begins in this log (0 for a
//! log created with it, the head at the first open for an upgraded one): from there on,
//! every segment must exist and carry a valid header.

use std::io;

use super::storage::{OpenMode, Storage, StorageFile};

/// Bytes before the first frame of a format-2 segment.
pub(crate) const HEADER_LEN: u64 = 4096;
/// Sectors are the unit a disk writes atomically (or tears); slots live in different ones.
const SECTOR: usize = 512;
/// First bytes of a format-2 segment. Read as a little-endian frame length it is far above
/// any record's, so a format-1 reader would refuse it rather than misread it.
const MAGIC: &[u8; 8] = b"IPLGSEG2";
/// First bytes of a format-3 segment (chained frames).
const MAGIC_CHAINED: &[u8; 8] = b"IPLGSEG3";
const SLOT_TAG: &[u8; 4] = b"SLOT";
const SLOT_LEN: usize = 25;
/// A slot flag: the segment is complete and its successor exists.
pub(crate) const SLOT_SEALED: u8 = 1;

/// The durable-end record of a format-2 segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Byte offset up to which every append was synced (and so possibly acknowledged).
    pub end: u64,
    /// The log position after the last record before `end`.
    pub head: u64,
    pub flags: u8,
}

impl Slot {
    pub fn sealed(&self) -> bool {
        self.flags & SLOT_SEALED != 0
    }

    fn encode(&self) -> [u8; SLOT_LEN] {
        let mut b = [0u8; SLOT_LEN];
        b[..4].copy_from_slice(SLOT_TAG);
        b[4..12].copy_from_slice(&self.end.to_le_bytes());
        b[12..20].copy_from_slice(&self.head.to_le_bytes());
        b[20] = self.flags;
        let crc = crc32c::crc32c(&b[..21]);
        b[21..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Slot> {
        let b = b.get(..SLOT_LEN)?;
        let crc = u32::from_le_bytes(b[21..25].try_into().ok()?);
        if &b[..4] != SLOT_TAG || crc32c::crc32c(&b[..21]) != crc {
            return None;
        }
        Some(Slot {
            end: u64::from_le_bytes(b[4..12].try_into().ok()?),
            head: u64::from_le_bytes(b[12..20].try_into().ok()?),
            flags: b[20],
        })
    }
}

/// Where slot `i` (0 or 1) lives.
fn slot_offset(i: usize) -> u64 {
    (SECTOR * (1 + i)) as u64
}

/// The two slots of a format-2 segment as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slots {
    pub slots: [Option<Slot>; 2],
}

impl Slots {
    /// The slots of a segment just created at `start`.
    pub fn fresh(start: u64) -> Slots {
        Slots {
            slots: [
                Some(Slot {
                    end: HEADER_LEN,
                    head: start,
                    flags: 0,
                }),
                None,
            ],
        }
    }

    /// The valid slot with the larger end: what the segment proves was synced.
    pub fn best(&self) -> Option<Slot> {
        let [a, b] = self.slots;
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.end > a.end { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// The slot to overwrite next: never the one holding the best claim.
    pub fn next(&self) -> usize {
        let [a, b] = self.slots;
        match (a, b) {
            (Some(a), Some(b)) if b.end > a.end => 0,
            (Some(_), _) => 1,
            _ => 0,
        }
    }
}

/// What the start of a segment file shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Format 1: frames from offset 0 (or an empty file).
    V1,
    /// Format 2 (or 3, `chained`) with a valid header for this segment's start.
    V2 { slots: Slots, chained: bool },
    /// It begins like format 2 but the header is cut short, damaged or names another
    /// start position.
    BadHeader(String),
}

/// Reads the layout of the segment `file` (`len` bytes) that should start at `start`.
pub(crate) fn read_layout(file: &dyn StorageFile, len: u64, start: u64) -> io::Result<Layout> {
    let mut lead = [0u8; 4];
    if len < 4 {
        let mut part = vec![0u8; len as usize];
        file.read_exact_at(&mut part, 0)?;
        return Ok(if !part.is_empty() && MAGIC.starts_with(&part) {
            Layout::BadHeader(format!("segment header cut short ({len} bytes)"))
        } else {
            Layout::V1
        });
    }
    file.read_exact_at(&mut lead, 0)?;
    if lead != MAGIC[..4] {
        return Ok(Layout::V1);
    }
    if len < HEADER_LEN {
        return Ok(Layout::BadHeader(format!(
            "segment header cut short ({len} of {HEADER_LEN} bytes)"
        )));
    }
    let mut head = vec![0u8; 3 * SECTOR];
    file.read_exact_at(&mut head, 0)?;
    let crc = u32::from_le_bytes([head[16], head[17], head[18], head[19]]);
    let chained = &head[..8] == MAGIC_CHAINED;
    if (&head[..8] != MAGIC && !chained) || crc32c::crc32c(&head[..16]) != crc {
        return Ok(Layout::BadHeader("segment header damaged".into()));
    }
    let named = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
    if named != start {
        return Ok(Layout::BadHeader(format!(
            "segment header says it starts at position {named}"
        )));
    }
    let slot = |i: usize| Slot::decode(&head[SECTOR * (1 + i)..]);
    let slots = Slots {
        slots: [slot(0), slot(1)],
    };
    // Only one slot is ever written at a time, so a crash leaves at least one intact once
    // the header has been synced; both bad means the header never became durable, or damage.
    if slots.best().is_none() {
        return Ok(Layout::BadHeader(
            "both synced-end records of the segment header are damaged".into(),
        ));
    }
    Ok(Layout::V2 { slots, chained })
}

/// The header of a new, empty format-3 segment starting at `start`: slot 0 says nothing
/// but the header itself is durable.
pub(crate) fn new_header(start: u64) -> Vec<u8> {
    let mut b = vec![0u8; HEADER_LEN as usize];
    b[..8].copy_from_slice(MAGIC_CHAINED);
    b[8..16].copy_from_slice(&start.to_le_bytes());
    let crc = crc32c::crc32c(&b[..16]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    let slot = Slot {
        end: HEADER_LEN,
        head: start,
        flags: 0,
    };
    b[SECTOR..SECTOR + SLOT_LEN].copy_from_slice(&slot.encode());
    b
}

/// Writes the header of a new segment into the empty `file` and syncs it.
pub(crate) fn write_new(file: &dyn StorageFile, start: u64) -> io::Result<()> {
    file.write_all_at(&new_header(start), 0)?;
    file.sync_all()
}

/// Writes `slot` into slot `i` of `file` (not synced).
pub(crate) fn write_slot(file: &dyn StorageFile, i: usize, slot: Slot) -> io::Result<()> {
    file.write_all_at(&slot.encode(), slot_offset(i))
}

/// Marks the format-2 segment `name` complete (its successor now exists), durably.
pub(crate) fn seal(storage: &dyn Storage, name: &str, end: u64, head: u64) -> io::Result<()> {
    let file = storage.open(name, OpenMode::Write)?;
    let len = file.size()?;
    let Layout::V2 { slots, .. } = read_layout(&*file, len, head_of(name)?)? else {
        return Ok(()); // format 1 has nowhere to say it
    };
    // The slot read as the best may not be durable yet (a restart in the same process after
    // a failure): it must be before the other one is overwritten.
    file.sync_data()?;
    let slot = Slot {
        end,
        head,
        flags: SLOT_SEALED,
    };
    write_slot(&*file, slots.next(), slot)?;
    file.sync_data()
}

fn head_of(name: &str) -> io::Result<u64> {
    name.split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not a segment name: {name}")))
}

/// The directory's format marker.
pub(crate) const MARKER: &str = "FORMAT";

fn marker_text(first_v2: u64) -> String {
    let body = format!("ipledger-log 2 {first_v2}");
    format!("{body} {:08x}\n", crc32c::crc32c(body.as_bytes()))
}

/// The position where format 2 begins, if the marker is there and intact. A marker torn
/// by a crash while it was first written counts as absent: nothing was appended after it
/// yet, and the next open writes it again.
pub(crate) fn read_marker(storage: &dyn Storage) -> io::Result<Option<u64>> {
    if !storage.list()?.iter().any(|n| n == MARKER) {
        return Ok(None);
    }
    let file = storage.open(MARKER, OpenMode::Read)?;
    let len = file.size()?.min(128) as usize;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)?;
    let text = String::from_utf8_lossy(&buf);
    let first = text.split(' ').nth(2).and_then(|s| s.parse().ok());
    Ok(first.filter(|&f| text == marker_text(f)))
}

/// Writes the marker durably (file and directory entry).
pub(crate) fn write_marker(storage: &dyn Storage, first_v2: u64) -> io::Result<()> {
    // The segments' entries must be durable before a marker that vouches for them.
    storage.sync_dir()?;
    let file = match storage.create(MARKER) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let file = storage.open(MARKER, OpenMode::Write)?;
            file.set_len(0)?;
            file
        }
        Err(e) => return Err(e),
    };
    file.write_all_at(marker_text(first_v2).as_bytes(), 0)?;
    file.sync_all()?;
    storage.sync_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_the_best_is_never_overwritten_next() {
        let a = Slot {
            end: 5000,
            head: 7,
            flags: 0,
        };
        assert_eq!(Slot::decode(&a.encode()), Some(a));
        let mut torn = a.encode();
        torn[10] ^= 1;
        assert_eq!(Slot::decode(&torn), None);
        let b = Slot { end: 6000, ..a };
        let slots = Slots {
            slots: [Some(a), Some(b)],
        };
        assert_eq!((slots.best(), slots.next()), (Some(b), 0));
        let slots = Slots {
            slots: [Some(a), None],
        };
        assert_eq!((slots.best(), slots.next()), (Some(a), 1));
    }

    #[test]
    fn the_magic_is_no_format_one_frame_length() {
        let len = u32::from_le_bytes([MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3]]) as usize;
        assert!(len > super::super::frame::MAX_BODY);
        // A format-2 reader compares all 8 bytes: it refuses a format-3 header.
        assert_eq!(MAGIC[..4], MAGIC_CHAINED[..4]);
        assert_ne!(MAGIC, MAGIC_CHAINED);
    }
}
