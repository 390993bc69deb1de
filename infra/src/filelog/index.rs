//! The in-memory index over the segment files, rebuilt at open and extended by each
//! append: where each segment starts, a sparse position → file offset table (one entry
//! every [`SPARSE_EVERY`] records, so 10M events cost ~2.5 MB instead of a full table), and
//! each stream's positions (its versions are the indexes into that list). It never holds
//! event data: reads go to the files.

use std::collections::HashMap;
use std::sync::Arc;

use super::storage::StorageFile;

/// One sparse entry per this many records; a read skips at most this many - 1 frame
/// headers to reach its position.
pub(crate) const SPARSE_EVERY: u64 = 32;

/// One segment as the index sees it.
#[derive(Debug)]
pub(crate) struct SegmentIndex {
    pub start: u64,
    pub name: Arc<str>,
    /// Read handle, shared with readers so they need no lock while reading.
    pub file: Arc<dyn StorageFile>,
    /// Where the first frame starts: 0 in format 1, after the header in format 2.
    pub data_start: u64,
    /// Bytes of complete, committed records: readers never look past this.
    pub len: u64,
    pub count: u64,
    /// `sparse[i]` is the offset of the record at position `start + i * SPARSE_EVERY`.
    pub sparse: Vec<u64>,
    /// A format-3 segment: every frame carries its record's chain hash.
    pub chained: bool,
}

impl SegmentIndex {
    pub fn new(start: u64, name: &str, file: Arc<dyn StorageFile>, data_start: u64) -> Self {
        SegmentIndex {
            start,
            name: name.into(),
            file,
            data_start,
            len: data_start,
            count: 0,
            sparse: Vec::new(),
            chained: false,
        }
    }

    /// The same, for a format-3 segment (`chained`).
    pub fn chained(mut self, chained: bool) -> Self {
        self.chained = chained;
        self
    }

    /// Records the next record of this segment, which lies at `offset..end`.
    pub fn push(&mut self, offset: u64, end: u64) {
        if self.count.is_multiple_of(SPARSE_EVERY) {
            self.sparse.push(offset);
        }
        self.count += 1;
        self.len = end;
    }
}

/// A stream's positions. Most streams (idempotency keys) hold one event, so that case
/// stores no heap vector.
#[derive(Debug, Clone)]
pub(crate) enum Positions {
    One(u64),
    Many(Vec<u64>),
}

impl Positions {
    pub fn as_slice(&self) -> &[u64] {
        match self {
            Positions::One(p) => std::slice::from_ref(p),
            Positions::Many(v) => v,
        }
    }

    fn push(&mut self, position: u64) {
        match self {
            Positions::One(p) => *self = Positions::Many(vec![*p, position]),
            Positions::Many(v) => v.push(position),
        }
    }
}

/// Where to start reading to reach a position: the nearest sparse entry at or before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub segment: usize,
    pub offset: u64,
    /// The position of the record at `offset`.
    pub position: u64,
}

/// What a reader needs of a segment, cloned out of the lock.
#[derive(Debug, Clone)]
pub(crate) struct SegmentView {
    pub name: Arc<str>,
    pub file: Arc<dyn StorageFile>,
    pub start: u64,
    pub data_start: u64,
    pub len: u64,
    pub chained: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    pub segments: Vec<SegmentIndex>,
    pub streams: HashMap<Box<str>, Positions>,
    /// The position the next record gets.
    pub head: u64,
}

impl Index {
    /// The last version of `stream`, `None` if it has no events.
    pub fn stream_version(&self, stream: &str) -> Option<u64> {
        self.streams
            .get(stream)
            .map(|p| p.as_slice().len() as u64 - 1)
    }

    pub fn stream_positions(&self, stream: &str) -> &[u64] {
        self.streams.get(stream).map_or(&[], Positions::as_slice)
    }

    /// Adds the record at `head` (of `stream`) to the last segment, at `offset..end`.
    pub fn push(&mut self, stream: &str, offset: u64, end: u64) {
        let position = self.head;
        match self.streams.get_mut(stream) {
            Some(positions) => positions.push(position),
            None => {
                self.streams.insert(stream.into(), Positions::One(position));
            }
        }
        if let Some(segment) = self.segments.last_mut() {
            segment.push(offset, end);
        }
        self.head += 1;
    }

    /// Where to start reading for `position`, if it is in the log.
    pub fn locate(&self, position: u64) -> Option<Location> {
        if position >= self.head {
            return None;
        }
        let segment = self
            .segments
            .partition_point(|s| s.start <= position)
            .checked_sub(1)?;
        let seg = self.segments.get(segment)?;
        let slot = (position - seg.start) / SPARSE_EVERY;
        Some(Location {
            segment,
            offset: *seg.sparse.get(slot as usize)?,
            position: seg.start + slot * SPARSE_EVERY,
        })
    }

    /// Views of the segments from `first` on, for reading outside the lock.
    pub fn views(&self, first: usize) -> Vec<SegmentView> {
        self.segments[first..]
            .iter()
            .map(|s| SegmentView {
                name: s.name.clone(),
                file: s.file.clone(),
                start: s.start,
                data_start: s.data_start,
                len: s.len,
                chained: s.chained,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_with(segment_sizes: &[u64]) -> Index {
        let file = Arc::new(tempfile::tempfile().expect("temp file"));
        let mut index = Index::default();
        for &size in segment_sizes {
            let start = index.head;
            index
                .segments
                .push(SegmentIndex::new(start, "x", file.clone(), 0));
            for i in 0..size {
                index.push(if i % 2 == 0 { "even" } else { "odd" }, i * 10, i * 10 + 10);
            }
        }
        index
    }

    #[test]
    fn locate_finds_the_sparse_entry_at_or_before_a_position() {
        let index = index_with(&[100, 5, 70]);
        assert_eq!(index.head, 175);
        let at = |p| index.locate(p).map(|l| (l.segment, l.offset, l.position));
        assert_eq!(at(0), Some((0, 0, 0)));
        assert_eq!(at(31), Some((0, 0, 0)));
        assert_eq!(at(33), Some((0, 320, 32)));
        assert_eq!(at(99), Some((0, 960, 96)));
        assert_eq!(at(100), Some((1, 0, 100)));
        assert_eq!(at(104), Some((1, 0, 100)));
        assert_eq!(at(105), Some((2, 0, 105)));
        assert_eq!(at(174), Some((2, 640, 169)));
        assert_eq!(at(175), None);
    }

    #[test]
    fn streams_keep_their_positions_in_order() {
        let index = index_with(&[3, 2]);
        assert_eq!(index.stream_positions("even"), &[0, 2, 3]);
        assert_eq!(index.stream_positions("odd"), &[1, 4]);
        assert_eq!(index.stream_version("odd"), Some(1));
        assert_eq!(index.stream_version("none"), None);
        assert!(index.stream_positions("none").is_empty());
    }
}
