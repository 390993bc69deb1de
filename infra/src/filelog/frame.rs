//! Record framing: `[u32 LE body length][u32 LE crc32c(flags + body)][u8 flags][body]`. In a
//! format-3 segment (`header.rs`) the body is the record followed by its 32-byte chain hash
//! (`crate::chain`), both under the checksum: the checksum catches damage, the chain catches
//! a change made by someone who also fixed the checksum.
//! Owns writing frames into a batch buffer and reading them back from a segment file with
//! one large positioned read at a time, so that the scan at open, reads and replay all share
//! one checked parser and never trust a length or checksum they have not verified.

use std::io;
use std::ops::Range;

use crate::chain::{self, Hash, HASH_LEN};

use super::storage::StorageFile;

/// Bytes before the body: length, checksum, flags.
pub(crate) const HEADER_LEN: usize = 9;
/// Set on the last record of each append call; an append is durable as a whole only when
/// the frame carrying this flag is.
pub(crate) const FLAG_COMMIT: u8 = 1;
/// Set on the first record of each append call (a single-record append carries both).
/// Recovery uses it to tell damage inside the torn last append from damage to an earlier,
/// acknowledged one: only the latter can be followed by the start of another append.
/// Logs written before this flag existed simply lack it; readers ignore unknown flags.
pub(crate) const FLAG_BEGIN: u8 = 2;
/// Bodies are small envelopes (well under a kilobyte); a declared length above this is
/// damage, not data, and must not make a reader allocate gigabytes.
pub(crate) const MAX_BODY: usize = ipledger_domain::limits::RECORD_BYTES_MAX;

/// Appends one frame to `buf`, the body produced by `body` in place (no intermediate Vec).
/// With `chain` (the previous record's hash), the record's chain hash follows it in the
/// frame and `chain` moves on to it: one SHA-256 per record on the append path.
/// Returns the frame's length, or `Err(body length)` (and leaves `buf` and `chain` as they
/// were) when the body is larger than [`MAX_BODY`].
pub(crate) fn push_frame(
    buf: &mut Vec<u8>,
    flags: u8,
    chain: Option<&mut Hash>,
    body: impl FnOnce(&mut Vec<u8>),
) -> Result<usize, usize> {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    buf[start + 8] = flags;
    body(buf);
    let len = buf.len() - start - HEADER_LEN;
    if len > MAX_BODY {
        buf.truncate(start);
        return Err(len);
    }
    if let Some(prev) = chain {
        let hash = chain::link(prev, &buf[start + HEADER_LEN..]);
        buf.extend_from_slice(&hash);
        *prev = hash;
    }
    let len = buf.len() - start - HEADER_LEN;
    let crc = crc32c::crc32c(&buf[start + 8..]);
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(buf.len() - start)
}

/// The flags, record and frame length of the valid frame at the start of `bytes`, if one is
/// there in full: a plausible length and a matching checksum (and, `chained`, room for the
/// chain hash, which is not returned). Used to look for records past damage.
pub(crate) fn complete_frame(bytes: &[u8], chained: bool) -> Option<(u8, &[u8], usize)> {
    let header = bytes.get(..HEADER_LEN)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let hash = if chained { HASH_LEN } else { 0 };
    if len > MAX_BODY + hash || len < hash {
        return None;
    }
    let checked = bytes.get(8..HEADER_LEN + len)?;
    (crc32c::crc32c(checked) == crc)
        .then(|| (checked[0], &checked[1..1 + len - hash], HEADER_LEN + len))
}

/// A verified frame in a [`FrameReader`]'s buffer.
#[derive(Debug, Clone)]
pub(crate) struct FrameRef {
    /// File offset of the frame header.
    pub offset: u64,
    pub flags: u8,
    /// Where the record lies in the slice returned with it.
    pub body: Range<usize>,
    /// Where its chain hash lies there (format 3), right after the record.
    pub hash: Option<Range<usize>>,
}

impl FrameRef {
    pub fn end(&self) -> u64 {
        let hash = self.hash.as_ref().map_or(0, |h| h.len());
        self.offset + (HEADER_LEN + self.body.len() + hash) as u64
    }
}

/// Why the frame at `offset` could not be read. Whether that is a torn tail or corruption
/// depends on where it is, which only the caller knows.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The header or the declared body reaches past the end of the readable range.
    Truncated {
        offset: u64,
        reason: String,
    },
    /// The frame fits but is wrong (checksum, implausible length).
    Bad {
        offset: u64,
        reason: String,
    },
    Io(io::Error),
}

/// Reads consecutive frames from `file` between a start offset and `end`, through a
/// buffer that grows from `chunk` up to `max_chunk` bytes per read while the caller keeps
/// reading (small for point reads, large for replay).
pub(crate) struct FrameReader<'f> {
    file: &'f dyn StorageFile,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_off: u64,
    /// Unconsumed bytes are `buf[lo..hi]`.
    lo: usize,
    hi: usize,
    end: u64,
    chunk: usize,
    max_chunk: usize,
    /// Frames carry a chain hash after the record (a format-3 segment).
    chained: bool,
}

impl<'f> FrameReader<'f> {
    pub fn new(
        file: &'f dyn StorageFile,
        start: u64,
        end: u64,
        chunk: usize,
        max_chunk: usize,
    ) -> Self {
        FrameReader {
            file,
            buf: Vec::new(),
            buf_off: start,
            lo: 0,
            hi: 0,
            end,
            chunk: chunk.max(HEADER_LEN),
            max_chunk: max_chunk.max(chunk),
            chained: false,
        }
    }

    /// Reads the frames of a format-3 segment (`chained`): each record followed by its hash.
    pub fn chained(mut self, chained: bool) -> Self {
        self.chained = chained;
        self
    }

    /// File offset of the next unread frame.
    pub fn offset(&self) -> u64 {
        self.buf_off + self.lo as u64
    }

    /// Makes at least `n` unread bytes available; false if the range ends first.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.hi - self.lo >= n {
            return Ok(true);
        }
        let remaining = self.end.saturating_sub(self.offset());
        if remaining < n as u64 {
            return Ok(false);
        }
        // Slide the unread bytes to the front so the buffer never grows past one chunk
        // plus one frame.
        self.buf.copy_within(self.lo..self.hi, 0);
        self.buf_off += self.lo as u64;
        self.hi -= self.lo;
        self.lo = 0;
        let want = n.max(self.chunk).min(remaining as usize);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.hi < want {
            let at = self.buf_off + self.hi as u64;
            match self.file.read_at(&mut self.buf[self.hi..want], at) {
                Ok(0) => return Ok(false), // the file is shorter than we were told
                Ok(k) => self.hi += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.chunk = (self.chunk * 2).min(self.max_chunk);
        Ok(true)
    }

    /// Parses the header at `lo`, ensuring the whole frame is buffered.
    fn header(&mut self) -> Result<Option<(usize, u32, u8)>, FrameError> {
        let offset = self.offset();
        if offset >= self.end {
            return Ok(None);
        }
        if !self.fill(HEADER_LEN).map_err(FrameError::Io)? {
            let reason = format!("frame header cut short ({} bytes)", self.end - offset);
            return Err(FrameError::Truncated { offset, reason });
        }
        let h = &self.buf[self.lo..self.lo + HEADER_LEN];
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let flags = h[8];
        let end = offset + (HEADER_LEN + len) as u64;
        if end > self.end {
            let reason = format!(
                "frame of {len} bytes ends at {end}, past the end {}",
                self.end
            );
            return Err(FrameError::Truncated { offset, reason });
        }
        let hash = if self.chained { HASH_LEN } else { 0 };
        if len > MAX_BODY + hash || len < hash {
            let reason = format!("implausible body length {len}");
            return Err(FrameError::Bad { offset, reason });
        }
        if !self.fill(HEADER_LEN + len).map_err(FrameError::Io)? {
            let reason = "file shorter than expected".to_string();
            return Err(FrameError::Truncated { offset, reason });
        }
        Ok(Some((len, crc, flags)))
    }

    /// The next frame, its checksum verified; `None` at the end of the range.
    pub fn next_frame(&mut self) -> Result<Option<(FrameRef, &[u8])>, FrameError> {
        let Some(frame) = self.next_checked()? else {
            return Ok(None);
        };
        Ok(Some((frame, &self.buf[..self.hi])))
    }

    fn next_checked(&mut self) -> Result<Option<FrameRef>, FrameError> {
        let Some((len, crc, flags)) = self.header()? else {
            return Ok(None);
        };
        let offset = self.offset();
        let crc_range = self.lo + 8..self.lo + HEADER_LEN + len;
        let actual = crc32c::crc32c(&self.buf[crc_range]);
        if actual != crc {
            let reason = format!("checksum mismatch (stored {crc:#010x}, computed {actual:#010x})");
            return Err(FrameError::Bad { offset, reason });
        }
        let end = self.lo + HEADER_LEN + len;
        let (body, hash) = if self.chained {
            let at = end - HASH_LEN;
            (self.lo + HEADER_LEN..at, Some(at..end))
        } else {
            (self.lo + HEADER_LEN..end, None)
        };
        self.lo = end;
        Ok(Some(FrameRef {
            offset,
            flags,
            body,
            hash,
        }))
    }

    /// Verifies and collects up to `max` frames into `out`, reading from the file at most
    /// once (only to complete the first frame), and returns the buffer their body ranges
    /// index into. Batches let the caller decode many records in parallel.
    pub fn next_frames(
        &mut self,
        max: usize,
        out: &mut Vec<FrameRef>,
    ) -> Result<&[u8], FrameError> {
        out.clear();
        while out.len() < max {
            if !out.is_empty() && !frame_fits(&self.buf[self.lo..self.hi]) {
                break;
            }
            match self.next_checked()? {
                Some(frame) => out.push(frame),
                None => break,
            }
        }
        Ok(&self.buf[..self.hi])
    }

    /// Steps over `n` frames without checking their checksums: used to reach a position
    /// from the nearest sparse index entry; the frame read after it is checked as usual.
    pub fn skip(&mut self, n: u64) -> Result<(), FrameError> {
        for _ in 0..n {
            match self.header()? {
                Some((len, _, _)) => self.lo += HEADER_LEN + len,
                None => {
                    let offset = self.offset();
                    let reason = "log ends before the indexed position".to_string();
                    return Err(FrameError::Truncated { offset, reason });
                }
            }
        }
        Ok(())
    }
}

/// Whether a whole frame is already buffered at the start of `bytes`.
fn frame_fits(bytes: &[u8]) -> bool {
    match bytes.get(..4) {
        Some(&[a, b, c, d]) => {
            bytes.len() >= HEADER_LEN + u32::from_le_bytes([a, b, c, d]) as usize
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        (f, bytes.len() as u64)
    }

    #[test]
    fn frames_round_trip_through_a_tiny_buffer() {
        let mut buf = Vec::new();
        for i in 0..100u8 {
            let flags = if i % 7 == 0 { FLAG_COMMIT } else { 0 };
            push_frame(&mut buf, flags, None, |b| {
                b.extend(std::iter::repeat_n(i, i as usize))
            })
            .expect("small body");
        }
        let (f, len) = file_with(&buf);
        let mut rd = FrameReader::new(f.as_file(), 0, len, 16, 64);
        for i in 0..100u8 {
            let (frame, bytes) = rd.next_frame().expect("valid").expect("present");
            assert_eq!(frame.flags & FLAG_COMMIT != 0, i % 7 == 0);
            assert_eq!(&bytes[frame.body], &vec![i; i as usize][..]);
        }
        assert!(rd.next_frame().expect("clean end").is_none());
    }

    #[test]
    fn batches_and_skips_agree_with_single_reads() {
        let mut buf = Vec::new();
        for i in 0..50u8 {
            push_frame(&mut buf, 0, None, |b| b.push(i)).expect("small body");
        }
        let (f, len) = file_with(&buf);
        let mut rd = FrameReader::new(f.as_file(), 0, len, 64, 64);
        rd.skip(3).expect("skip");
        let mut out = Vec::new();
        let mut seen = Vec::new();
        loop {
            let bytes = rd.next_frames(8, &mut out).expect("valid");
            if out.is_empty() {
                break;
            }
            seen.extend(out.iter().map(|fr| bytes[fr.body.clone()][0]));
        }
        assert_eq!(seen, (3..50).collect::<Vec<u8>>());
    }

    #[test]
    fn damage_is_classified() {
        let mut buf = Vec::new();
        push_frame(&mut buf, FLAG_COMMIT, None, |b| {
            b.extend_from_slice(b"hello")
        })
        .expect("ok");
        let (f, len) = file_with(&buf[..buf.len() - 1]);
        let mut rd = FrameReader::new(f.as_file(), 0, len, 64, 64);
        assert!(matches!(
            rd.next_frame(),
            Err(FrameError::Truncated { offset: 0, .. })
        ));
        buf[10] ^= 1;
        let (f, len) = file_with(&buf);
        let mut rd = FrameReader::new(f.as_file(), 0, len, 64, 64);
        assert!(matches!(
            rd.next_frame(),
            Err(FrameError::Bad { offset: 0, .. })
        ));
        assert_eq!(
            push_frame(&mut buf, 0, None, |b| b.resize(b.len() + MAX_BODY + 1, 0)),
            Err(MAX_BODY + 1)
        );
        assert_eq!(buf.len(), 14);
    }
}
