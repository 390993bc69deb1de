//! Per-block free-address map: which offsets of one address block are in
//! use, and "what is the lowest free offset at or after X?".
//!
//! The allocation projection keeps one `FreeMap` per block so that picking
//! the next free address never scans the block. Two representations exist
//! because block sizes span 1 to 2^128 addresses:
//!
//! * [`DenseBitmap`] (blocks of at most [`DENSE_SIZE_MAX`] addresses): one
//!   bit per address plus summary levels of "this word is full" bits, so a
//!   search costs O(levels) word operations however full the block is.
//! * [`SparseMap`] (larger blocks, e.g. IPv6 /64): used offsets as merged
//!   intervals in a `OrdMap`, so memory grows with what is allocated, not
//!   with the block size.
//!
//! Both keep a canonical form for a given set of used offsets, so derived
//! `PartialEq` compares an incrementally folded map with a rebuilt one.
//!
//! Invariant violations (documented panics): `FreeMap::new(0)`, and
//! `set_used`/`set_free` with an offset outside the block. Callers check
//! bounds first; everything else is total.

use imbl::{OrdMap, Vector};

/// Largest block (in addresses) stored as a [`DenseBitmap`]: 2^26 addresses
/// cost 8 MiB of bits, beyond that the sparse form is used.
pub const DENSE_SIZE_MAX: u128 = 1 << 26;

const WORD_BITS: usize = u64::BITS as usize;
const FULL: u64 = u64::MAX;

/// Free/used state of every address of one block.
///
/// Offsets are relative to the block's first address (0 = network address).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FreeMap {
    Dense(DenseBitmap),
    Sparse(SparseMap),
}

impl FreeMap {
    /// A map with every address free.
    ///
    /// `size` is the number of addresses in the block, 1..=2^128. Because
    /// 2^128 does not fit in a `u128`, **`u128::MAX` means 2^128** (a whole
    /// IPv6 space); a block of exactly 2^128 - 1 addresses cannot be
    /// expressed, which no CIDR block needs. Blocks of at most
    /// [`DENSE_SIZE_MAX`] addresses are dense, larger ones sparse.
    ///
    /// # Panics
    /// If `size` is 0 (a block always holds at least one address).
    #[must_use]
    pub fn new(size: u128) -> FreeMap {
        assert!(
            size != 0,
            "FreeMap::new: a block has at least one address, got size 0"
        );
        if size <= DENSE_SIZE_MAX {
            // Fits in usize: DENSE_SIZE_MAX is 2^26.
            FreeMap::Dense(DenseBitmap::new(size as usize))
        } else {
            FreeMap::Sparse(SparseMap::new(size))
        }
    }

    /// A map with every address free, in the sparse form whatever the size (memory grows
    /// with what is used): for the octet columns of a sparse block (`octets.rs`).
    #[must_use]
    pub fn new_sparse(size: u128) -> FreeMap {
        FreeMap::Sparse(SparseMap::new(size))
    }

    /// Number of addresses in the block; `u128::MAX` stands for 2^128 (see
    /// [`FreeMap::new`]).
    #[must_use]
    pub fn size(&self) -> u128 {
        match self {
            FreeMap::Dense(d) => d.size as u128,
            FreeMap::Sparse(s) => s.size(),
        }
    }

    /// Whether `offset` is used. Offsets outside the block are not
    /// addresses of it, hence never used: `false`.
    #[must_use]
    pub fn is_used(&self, offset: u128) -> bool {
        match self {
            FreeMap::Dense(d) => d.to_index(offset).is_some_and(|i| d.is_used(i)),
            FreeMap::Sparse(s) => s.is_used(offset),
        }
    }

    /// Marks used; returns false if it already was used.
    ///
    /// # Panics
    /// If `offset >= size` (invariant violation: callers check first).
    pub fn set_used(&mut self, offset: u128) -> bool {
        match self {
            FreeMap::Dense(d) => {
                let index = d.checked_index(offset, "set_used");
                d.set_used(index)
            }
            FreeMap::Sparse(s) => s.set_used(offset),
        }
    }

    /// Marks free; returns false if it already was free.
    ///
    /// # Panics
    /// If `offset >= size` (invariant violation: callers check first).
    pub fn set_free(&mut self, offset: u128) -> bool {
        match self {
            FreeMap::Dense(d) => {
                let index = d.checked_index(offset, "set_free");
                d.set_free(index)
            }
            FreeMap::Sparse(s) => s.set_free(offset),
        }
    }

    /// The lowest free offset >= `from`, if any (`None` also when `from` is
    /// past the end of the block).
    #[must_use]
    pub fn next_free(&self, from: u128) -> Option<u128> {
        crate::work::count_probe();
        match self {
            FreeMap::Dense(d) => d
                .to_index(from)
                .and_then(|i| d.next_free(i))
                .map(|i| i as u128),
            FreeMap::Sparse(s) => s.next_free(from),
        }
    }

    /// The highest free offset <= `at`, if any (`at` past the end of the block is taken as
    /// its last offset): the mirror of [`FreeMap::next_free`], for allocation from the top.
    #[must_use]
    pub fn prev_free(&self, at: u128) -> Option<u128> {
        crate::work::count_probe();
        match self {
            FreeMap::Dense(d) => d
                .prev_free((at.min(d.size as u128 - 1)) as usize)
                .map(|i| i as u128),
            FreeMap::Sparse(s) => s.prev_free(at),
        }
    }

    /// Number of used offsets. A completely used 2^128 block reports
    /// `u128::MAX`, following the same convention as [`FreeMap::size`].
    #[must_use]
    pub fn used_count(&self) -> u128 {
        match self {
            FreeMap::Dense(d) => d.used as u128,
            FreeMap::Sparse(s) => s.used_count(),
        }
    }

    /// Heap bytes held (for the memory benchmark). Exact for the dense form
    /// (vector capacities), an estimate for the sparse form (see
    /// [`SparseMap`]).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        match self {
            FreeMap::Dense(d) => d.heap_bytes(),
            FreeMap::Sparse(s) => s.heap_bytes(),
        }
    }
}

/// One bit per address (1 = used) plus summary levels.
///
/// `levels[0]` holds the address bits; bit `i` of `levels[k + 1]` is set
/// exactly when word `i` of `levels[k]` is completely full. The last level
/// is a single word. Padding bits past the real bit count of each level are
/// permanently set, so they look used/full and no search ever returns or
/// descends into them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DenseBitmap {
    size: usize,
    used: usize,
    /// Persistent vectors (chunks of 64 words shared between versions): the published
    /// views and the writer's working state share every chunk a batch did not touch, so
    /// publishing a version never copies a block's bits.
    levels: Vec<Vector<u64>>,
}

impl DenseBitmap {
    fn new(size: usize) -> Self {
        debug_assert!(size >= 1 && size as u128 <= DENSE_SIZE_MAX);
        let mut levels = Vec::new();
        let mut bits = size;
        loop {
            let words = bits.div_ceil(WORD_BITS);
            // vec![0; n] is a zeroed allocation: building a /8 stays cheap.
            let mut level = vec![0u64; words];
            let tail = bits % WORD_BITS;
            if tail != 0 {
                level[words - 1] = FULL << tail;
            }
            // No word starts full (each last word has a real, free bit), so
            // zeroed summaries are already correct.
            levels.push(Vector::from(level));
            if words == 1 {
                return Self {
                    size,
                    used: 0,
                    levels,
                };
            }
            bits = words;
        }
    }

    /// `offset` as a bit index, or `None` if it lies outside the block.
    fn to_index(&self, offset: u128) -> Option<usize> {
        (offset < self.size as u128).then_some(offset as usize)
    }

    fn checked_index(&self, offset: u128, op: &str) -> usize {
        match self.to_index(offset) {
            Some(index) => index,
            None => panic!(
                "FreeMap::{op}: offset {offset} outside block of {} addresses",
                self.size
            ),
        }
    }

    fn is_used(&self, index: usize) -> bool {
        (self.levels[0][index / WORD_BITS] >> (index % WORD_BITS)) & 1 == 1
    }

    fn set_used(&mut self, index: usize) -> bool {
        let mut bit = index;
        for (depth, level) in self.levels.iter_mut().enumerate() {
            let mask = 1u64 << (bit % WORD_BITS);
            let word = &mut level[bit / WORD_BITS];
            if *word & mask != 0 {
                // Summary bits are only set when a child fills up, which
                // happens once, so only level 0 may already be set.
                debug_assert_eq!(depth, 0, "summary bit set for a non-full word");
                return false;
            }
            *word |= mask;
            // The parent only changes when this word has just become full.
            if *word != FULL {
                break;
            }
            bit /= WORD_BITS;
        }
        self.used += 1;
        true
    }

    fn set_free(&mut self, index: usize) -> bool {
        let mut bit = index;
        for (depth, level) in self.levels.iter_mut().enumerate() {
            let mask = 1u64 << (bit % WORD_BITS);
            let word = &mut level[bit / WORD_BITS];
            if *word & mask == 0 {
                debug_assert_eq!(depth, 0, "summary bit clear for a full word");
                return false;
            }
            let was_full = *word == FULL;
            *word &= !mask;
            // The parent only changes when this word stops being full.
            if !was_full {
                break;
            }
            bit /= WORD_BITS;
        }
        self.used -= 1;
        true
    }

    /// Climbs while the rest of the current word has no free/non-full bit,
    /// then descends along the lowest non-full child: O(levels) words.
    fn next_free(&self, from: usize) -> Option<usize> {
        let mut depth = 0;
        let mut bit = from;
        let mut found = loop {
            let word_index = bit / WORD_BITS;
            // Past the last word of this level: nothing further to the right.
            let word = *self.levels[depth].get(word_index)?;
            let candidates = !word & (FULL << (bit % WORD_BITS));
            if candidates != 0 {
                break word_index * WORD_BITS + candidates.trailing_zeros() as usize;
            }
            depth += 1;
            if depth == self.levels.len() {
                return None;
            }
            // Next non-full word after this one, asked one level up.
            bit = word_index + 1;
        };
        while depth > 0 {
            depth -= 1;
            let word = self.levels[depth][found];
            debug_assert_ne!(word, FULL, "summary says non-full but word is full");
            found = found * WORD_BITS + (!word).trailing_zeros() as usize;
        }
        debug_assert!(found < self.size, "padding bit returned as free");
        Some(found)
    }

    /// Climbs while the word holds no free/non-full bit at or below the current one, then
    /// descends along the highest non-full child: O(levels) words. Padding bits are set,
    /// so they are never returned.
    fn prev_free(&self, at: usize) -> Option<usize> {
        let mut depth = 0;
        let mut bit = at;
        let mut found = loop {
            let word_index = bit / WORD_BITS;
            let word = self.levels[depth][word_index];
            let shift = WORD_BITS - 1 - bit % WORD_BITS;
            let candidates = !word & (FULL >> shift);
            if candidates != 0 {
                break word_index * WORD_BITS
                    + (WORD_BITS - 1 - candidates.leading_zeros() as usize);
            }
            depth += 1;
            if depth == self.levels.len() || word_index == 0 {
                return None;
            }
            // The previous non-full word, asked one level up.
            bit = word_index - 1;
        };
        while depth > 0 {
            depth -= 1;
            let word = self.levels[depth][found];
            debug_assert_ne!(word, FULL, "summary says non-full but word is full");
            found = found * WORD_BITS + (WORD_BITS - 1 - (!word).leading_zeros() as usize);
        }
        debug_assert!(found < self.size, "padding bit returned as free");
        Some(found)
    }

    fn heap_bytes(&self) -> usize {
        // Words in chunks of 64 plus, per chunk, the vector's node pointer (an estimate:
        // `Vector` does not expose its allocation).
        let words: usize = self.levels.iter().map(Vector::len).sum();
        self.levels.capacity() * size_of::<Vector<u64>>()
            + words * size_of::<u64>()
            + words.div_ceil(64) * 2 * size_of::<usize>()
    }
}

/// Used offsets as disjoint, non-adjacent inclusive intervals
/// `start -> end`; everything else in `0..=last` is free.
///
/// Keeping intervals maximal (merged with neighbours) makes the form
/// canonical and lets `next_free` answer from a single `OrdMap` lookup:
/// the free offset after an interval is always `end + 1`.
///
/// [`FreeMap::heap_bytes`] for this form is an estimate: std's `OrdMap`
/// does not expose its allocation, so it assumes nodes of 11 slots that are
/// on average 8/11 full (measured within about 20 % of the real allocation
/// for ascending and random insertions).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SparseMap {
    /// Highest offset of the block (size - 1; `u128::MAX` for 2^128).
    last: u128,
    used: OrdMap<u128, u128>,
    /// Used offsets modulo 2^128: it only wraps (to 0) when all 2^128
    /// offsets are used, a case `used_count` recognises from the intervals.
    count: u128,
}

impl SparseMap {
    /// `size` follows the [`FreeMap::new`] convention (`u128::MAX` = 2^128).
    /// Any size >= 1 works; `FreeMap` only picks this form for large blocks.
    fn new(size: u128) -> Self {
        assert!(size != 0, "SparseMap::new: size 0");
        let last = if size == u128::MAX {
            u128::MAX
        } else {
            size - 1
        };
        Self {
            last,
            used: OrdMap::new(),
            count: 0,
        }
    }

    fn size(&self) -> u128 {
        // last == u128::MAX means 2^128 addresses, reported as u128::MAX.
        self.last.saturating_add(1)
    }

    fn check(&self, offset: u128, op: &str) {
        assert!(
            offset <= self.last,
            "FreeMap::{op}: offset {offset} outside block (last offset {})",
            self.last
        );
    }

    /// The interval whose start is the greatest one <= `offset`.
    fn interval_before(&self, offset: u128) -> Option<(u128, u128)> {
        self.used
            .range(..=offset)
            .next_back()
            .map(|(&s, &e)| (s, e))
    }

    fn is_used(&self, offset: u128) -> bool {
        self.interval_before(offset)
            .is_some_and(|(_, end)| end >= offset)
    }

    fn set_used(&mut self, offset: u128) -> bool {
        self.check(offset, "set_used");
        let left = self.interval_before(offset);
        if left.is_some_and(|(_, end)| end >= offset) {
            return false;
        }
        // `end < offset` here, so `end + 1` cannot overflow.
        let joined_start = left.filter(|&(_, end)| end + 1 == offset).map(|(s, _)| s);
        let right_end = offset
            .checked_add(1)
            .and_then(|next| self.used.remove(&next));
        self.used
            .insert(joined_start.unwrap_or(offset), right_end.unwrap_or(offset));
        self.count = self.count.wrapping_add(1);
        true
    }

    fn set_free(&mut self, offset: u128) -> bool {
        self.check(offset, "set_free");
        let Some((start, end)) = self.interval_before(offset) else {
            return false;
        };
        if end < offset {
            return false;
        }
        if start == offset {
            self.used.remove(&start);
        } else {
            self.used.insert(start, offset - 1);
        }
        if end > offset {
            self.used.insert(offset + 1, end);
        }
        self.count = self.count.wrapping_sub(1);
        true
    }

    fn next_free(&self, from: u128) -> Option<u128> {
        if from > self.last {
            return None;
        }
        match self.interval_before(from) {
            // Intervals never touch, so the offset after one is free.
            Some((_, end)) if end >= from => (end < self.last).then(|| end + 1),
            _ => Some(from),
        }
    }

    fn prev_free(&self, at: u128) -> Option<u128> {
        let at = at.min(self.last);
        match self.interval_before(at) {
            // Intervals never touch, so the offset before one is free.
            Some((start, end)) if end >= at => start.checked_sub(1),
            _ => Some(at),
        }
    }

    fn used_count(&self) -> u128 {
        let full = self.used.len() == 1 && self.used.get(&0) == Some(&self.last);
        if full {
            self.size()
        } else {
            self.count
        }
    }

    fn heap_bytes(&self) -> usize {
        const SLOTS: usize = 11; // std OrdMap: B = 6, 2B - 1 entries per node
        const AVERAGE_FILL: usize = 8;
        const HEADER: usize = 16; // parent pointer, parent index, length
        let leaf = HEADER + SLOTS * 2 * size_of::<u128>();
        let internal = leaf + (SLOTS + 1) * size_of::<usize>();
        let entries = self.used.len();
        // A map that fits one node is a single (root) leaf.
        let mut nodes = if entries <= SLOTS {
            usize::from(entries > 0)
        } else {
            entries.div_ceil(AVERAGE_FILL)
        };
        let mut bytes = nodes * leaf;
        while nodes > 1 {
            nodes = nodes.div_ceil(AVERAGE_FILL + 1);
            bytes += nodes * internal;
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet as OrdSet;

    /// Fixed-seed LCG so large tests are reproducible without a dependency.
    struct Lcg(u64);

    impl Lcg {
        fn next_u64(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 16
        }
    }

    fn last_of(size: u128) -> u128 {
        if size == u128::MAX {
            u128::MAX
        } else {
            size - 1
        }
    }

    /// The model's answer: lowest offset >= from, <= last, not in `used`.
    fn model_next_free(used: &OrdSet<u128>, from: u128, last: u128) -> Option<u128> {
        let mut candidate = from;
        while candidate <= last {
            if !used.contains(&candidate) {
                return Some(candidate);
            }
            candidate = candidate.checked_add(1)?;
        }
        None
    }

    fn fill(map: &mut FreeMap) {
        for offset in 0..map.size() {
            assert!(map.set_used(offset));
        }
    }

    // ---- unit tests -------------------------------------------------------

    #[test]
    fn representation_switches_at_dense_size_max() {
        assert!(matches!(FreeMap::new(DENSE_SIZE_MAX), FreeMap::Dense(_)));
        assert!(matches!(
            FreeMap::new(DENSE_SIZE_MAX + 1),
            FreeMap::Sparse(_)
        ));
        assert!(matches!(FreeMap::new(u128::MAX), FreeMap::Sparse(_)));
        assert_eq!(FreeMap::new(u128::MAX).size(), u128::MAX);
        assert_eq!(FreeMap::new(1 << 64).size(), 1 << 64);
    }

    #[test]
    fn size_one() {
        let mut map = FreeMap::new(1);
        assert_eq!(map.next_free(0), Some(0));
        assert_eq!(map.next_free(1), None);
        assert!(map.set_used(0));
        assert!(!map.set_used(0));
        assert_eq!(map.next_free(0), None);
        assert_eq!(map.used_count(), 1);
        assert!(map.set_free(0));
        assert!(!map.set_free(0));
        assert_eq!(map.next_free(0), Some(0));
        assert_eq!(map, FreeMap::new(1));
    }

    /// Exercises a size: padding never returned, full → None, end queries.
    fn check_edges(size: u128) {
        let mut map = FreeMap::new(size);
        let last = size - 1;
        assert_eq!(map.next_free(last), Some(last));
        assert_eq!(map.next_free(size), None);
        assert_eq!(map.next_free(u128::MAX), None);
        assert!(!map.is_used(size));
        assert!(map.set_used(last));
        assert!(!map.set_used(last));
        assert_eq!(map.next_free(last), None, "size {size}: padding returned");
        if size > 1 {
            assert_eq!(map.next_free(last - 1), Some(last - 1));
        }
        fill_rest(&mut map);
        assert_eq!(map.used_count(), size);
        assert_eq!(
            map.next_free(0),
            None,
            "size {size}: full map has a free offset"
        );
        // Free the last and first offsets and re-find them from anywhere.
        assert!(map.set_free(last));
        assert_eq!(map.next_free(0), Some(last));
        if size > 1 {
            assert!(map.set_free(0));
            assert_eq!(map.next_free(0), Some(0));
            assert_eq!(map.next_free(1), Some(last));
            assert_eq!(map.used_count(), size - 2);
        }
    }

    fn fill_rest(map: &mut FreeMap) {
        while let Some(offset) = map.next_free(0) {
            assert!(map.set_used(offset));
        }
    }

    #[test]
    fn edge_sizes() {
        for size in [
            1,
            2,
            63,
            64,
            65,
            127,
            128,
            129,
            4095,
            4096,
            4096 + 3,
            262_144,
            262_145,
        ] {
            check_edges(size);
        }
    }

    #[test]
    fn slash_eight_sized_map() {
        let size = 1u128 << 24;
        check_edges(size);
        let map = FreeMap::new(size);
        // 2^18 words of bits plus 4096 + 64 + 1 summary words.
        assert!(map.heap_bytes() >= (1 << 21) + 8 * (4096 + 64 + 1));
    }

    #[test]
    #[should_panic(expected = "outside block")]
    fn set_used_out_of_range_panics() {
        FreeMap::new(64).set_used(64);
    }

    #[test]
    #[should_panic(expected = "outside block")]
    fn set_free_out_of_range_panics_sparse() {
        FreeMap::new(DENSE_SIZE_MAX + 1).set_free(DENSE_SIZE_MAX + 1);
    }

    #[test]
    #[should_panic(expected = "at least one address")]
    fn zero_size_panics() {
        let _ = FreeMap::new(0);
    }

    #[test]
    fn sparse_top_of_ipv6_space() {
        let mut map = FreeMap::new(u128::MAX);
        assert_eq!(map.next_free(u128::MAX), Some(u128::MAX));
        assert!(map.set_used(u128::MAX));
        assert!(!map.set_used(u128::MAX));
        assert_eq!(map.next_free(u128::MAX), None);
        assert_eq!(map.next_free(u128::MAX - 1), Some(u128::MAX - 1));
        assert!(map.set_used(u128::MAX - 1));
        assert!(map.set_used(0));
        assert_eq!(map.next_free(u128::MAX - 1), None);
        assert_eq!(map.next_free(0), Some(1));
        assert_eq!(map.used_count(), 3);
        assert!(map.set_free(u128::MAX));
        assert_eq!(map.next_free(u128::MAX - 1), Some(u128::MAX));
    }

    #[test]
    fn sparse_count_survives_a_full_ipv6_space() {
        // Unreachable by single set_used calls, so build the state directly:
        // everything but the last offset used, then use the last one too.
        let mut sparse = SparseMap::new(u128::MAX);
        sparse.used.insert(0, u128::MAX - 1);
        sparse.count = u128::MAX; // 2^128 - 1 used
        let mut map = FreeMap::Sparse(sparse);
        assert_eq!(map.used_count(), u128::MAX);
        assert!(map.set_used(u128::MAX));
        assert_eq!(
            map.used_count(),
            u128::MAX,
            "full 2^128 reported as u128::MAX"
        );
        assert_eq!(map.next_free(0), None);
        assert!(map.set_free(7));
        assert_eq!(map.used_count(), u128::MAX); // 2^128 - 1 again
        assert_eq!(map.next_free(0), Some(7));
    }

    #[test]
    fn sparse_merges_and_splits() {
        let mut map = FreeMap::new(1 << 64);
        for offset in [10, 12, 11, 9, 13] {
            assert!(map.set_used(offset));
        }
        let FreeMap::Sparse(sparse) = &map else {
            unreachable!()
        };
        assert_eq!(sparse.used.iter().collect::<Vec<_>>(), vec![(&9, &13)]);
        assert!(map.set_free(11));
        let FreeMap::Sparse(sparse) = &map else {
            unreachable!()
        };
        assert_eq!(
            sparse.used.iter().collect::<Vec<_>>(),
            vec![(&9, &10), (&12, &13)]
        );
        assert_eq!(map.next_free(9), Some(11));
        assert_eq!(map.next_free(12), Some(14));
        assert_eq!(map.used_count(), 4);
        assert!(map.heap_bytes() > 0);
    }

    /// 99.9 % full /8: repeated `next_free(0)` must hand out exactly the freed
    /// offsets in ascending order (summary levels cleared and re-set right).
    #[test]
    fn nearly_full_slash_eight_returns_freed_offsets_in_order() {
        let size = 1u128 << 24;
        let mut map = FreeMap::new(size);
        fill(&mut map);
        assert_eq!(map.next_free(0), None);
        let mut rng = Lcg(0x5eed);
        let mut freed = OrdSet::new();
        while freed.len() < 16_777 {
            let offset = u128::from(rng.next_u64()) % size;
            assert_eq!(map.set_free(offset), freed.insert(offset));
        }
        assert_eq!(map.used_count(), size - freed.len() as u128);
        for _ in 0..2_000 {
            let from = u128::from(rng.next_u64()) % (size + 1);
            assert_eq!(map.next_free(from), freed.range(from..).next().copied());
        }
        for &expected in &freed {
            assert_eq!(map.next_free(0), Some(expected));
            assert!(map.set_used(expected));
        }
        assert_eq!(map.next_free(0), None);
        assert_eq!(map.used_count(), size);
    }

    // ---- property tests ---------------------------------------------------

    #[derive(Clone, Debug)]
    enum Op {
        Use(u128),
        Free(u128),
        Next(u128),
    }

    fn dense_size() -> impl Strategy<Value = u128> {
        prop_oneof![
            1u128..=200,
            1u128..=70_000,
            (1u128..=1_100).prop_map(|k| k * 64),
            (1u128..=17).prop_map(|k| k * 4096),
            prop::sample::select(vec![
                1u128, 2, 63, 64, 65, 4095, 4096, 4097, 262_144, 262_145
            ]),
        ]
    }

    fn sparse_size() -> impl Strategy<Value = u128> {
        prop_oneof![
            prop::sample::select(vec![
                DENSE_SIZE_MAX + 1,
                1u128 << 32,
                1u128 << 64,
                (1u128 << 64) + 5,
                1u128 << 100,
                u128::MAX,
            ]),
            (DENSE_SIZE_MAX + 1)..=u128::MAX,
        ]
    }

    /// Offsets clustered at the start, the end, the middle, or anywhere, so
    /// neighbours meet (merge/split, word and summary boundaries).
    fn place(last: u128, cluster: u8, raw: u128) -> u128 {
        let span = if last < 255 { last + 1 } else { 256 };
        match cluster {
            0 => raw % span,
            1 => last - raw % span,
            2 => ((last / 2).saturating_sub(128) + raw % span).min(last),
            _ => raw % last.saturating_add(1).max(1),
        }
    }

    fn ops(size: u128) -> impl Strategy<Value = Vec<Op>> {
        let last = last_of(size);
        let op = (0u8..3, 0u8..5, any::<u128>()).prop_map(move |(kind, cluster, raw)| {
            match kind {
                0 => Op::Use(place(last, cluster % 4, raw)),
                1 => Op::Free(place(last, cluster % 4, raw)),
                // Cluster 4: queries may start past the end of the block.
                _ if cluster == 4 => Op::Next(last.saturating_add(raw % 3)),
                _ => Op::Next(place(last, cluster, raw)),
            }
        });
        prop::collection::vec(op, 0..400)
    }

    /// Applies `ops` to `map` and a `OrdSet` model, comparing every answer,
    /// then checks the result equals a map rebuilt from the model.
    fn run_against_model(mut map: FreeMap, ops: &[Op]) -> Result<(), TestCaseError> {
        let size = map.size();
        let last = last_of(size);
        let mut model = OrdSet::new();
        for op in ops {
            match *op {
                Op::Use(o) => prop_assert_eq!(map.set_used(o), model.insert(o), "use {}", o),
                Op::Free(o) => prop_assert_eq!(map.set_free(o), model.remove(&o), "free {}", o),
                Op::Next(from) => {
                    prop_assert_eq!(map.next_free(from), model_next_free(&model, from, last));
                }
            }
            let (Op::Use(o) | Op::Free(o) | Op::Next(o)) = *op;
            prop_assert_eq!(map.is_used(o), model.contains(&o));
            let after = o.saturating_add(1);
            prop_assert_eq!(map.next_free(after), model_next_free(&model, after, last));
            prop_assert_eq!(map.used_count(), model.len() as u128);
        }
        for &o in &model {
            prop_assert!(map.is_used(o));
            prop_assert_eq!(map.next_free(o), model_next_free(&model, o, last));
        }
        let mut rebuilt = match &map {
            FreeMap::Dense(_) => FreeMap::new(size),
            FreeMap::Sparse(_) => FreeMap::Sparse(SparseMap::new(size)),
        };
        for &o in model.iter().rev() {
            rebuilt.set_used(o);
        }
        prop_assert_eq!(&map, &rebuilt);
        Ok(())
    }

    /// Fills the whole map, frees some offsets, and checks queries and the
    /// re-filling order; the model is the set of free offsets.
    fn fill_then_free(
        mut map: FreeMap,
        frees: &[u128],
        queries: &[u128],
    ) -> Result<(), TestCaseError> {
        let size = map.size();
        fill(&mut map);
        prop_assert_eq!(map.next_free(0), None);
        let mut free = OrdSet::new();
        for &raw in frees {
            let o = raw % size;
            prop_assert_eq!(map.set_free(o), free.insert(o));
            prop_assert!(!map.is_used(o));
        }
        prop_assert_eq!(map.used_count(), size - free.len() as u128);
        for &raw in queries {
            let from = raw % (size + 2);
            prop_assert_eq!(map.next_free(from), free.range(from..).next().copied());
        }
        for &expected in &free {
            prop_assert_eq!(map.next_free(0), Some(expected));
            prop_assert!(map.set_used(expected));
        }
        prop_assert_eq!(map.next_free(0), None);
        prop_assert_eq!(map.used_count(), size);
        Ok(())
    }

    proptest! {
        #[test]
        fn dense_matches_model((size, ops) in dense_size().prop_flat_map(|s| (Just(s), ops(s)))) {
            let map = FreeMap::new(size);
            prop_assert!(matches!(map, FreeMap::Dense(_)));
            run_against_model(map, &ops)?;
        }

        #[test]
        fn sparse_matches_model((size, ops) in sparse_size().prop_flat_map(|s| (Just(s), ops(s)))) {
            let map = FreeMap::new(size);
            prop_assert!(matches!(map, FreeMap::Sparse(_)));
            run_against_model(map, &ops)?;
        }

        /// The sparse form on small blocks, where ops hit both ends and
        /// fill large fractions of the block.
        #[test]
        fn small_sparse_matches_model((size, ops) in (1u128..=600).prop_flat_map(|s| (Just(s), ops(s)))) {
            run_against_model(FreeMap::Sparse(SparseMap::new(size)), &ops)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn dense_fill_then_free(
            size in dense_size(),
            frees in prop::collection::vec(any::<u128>(), 0..300),
            queries in prop::collection::vec(any::<u128>(), 0..100),
        ) {
            fill_then_free(FreeMap::new(size), &frees, &queries)?;
        }

        #[test]
        fn sparse_fill_then_free(
            size in 1u128..=5_000,
            frees in prop::collection::vec(any::<u128>(), 0..300),
            queries in prop::collection::vec(any::<u128>(), 0..100),
        ) {
            fill_then_free(FreeMap::Sparse(SparseMap::new(size)), &frees, &queries)?;
        }
    }
}

#[cfg(test)]
mod prev_free_tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet as OrdSet;

    fn model_prev_free(used: &OrdSet<u128>, at: u128) -> Option<u128> {
        (0..=at).rev().find(|o| !used.contains(o))
    }

    proptest! {
        /// `prev_free` answers what a walk down from `at` answers, in both forms.
        #[test]
        fn prev_free_matches_a_walk(
            size in 1u128..5000,
            used in prop::collection::vec(0u128..5000, 0..3000),
            queries in prop::collection::vec(0u128..6000, 1..40),
        ) {
            let mut dense = FreeMap::new(size);
            let mut sparse = FreeMap::Sparse(SparseMap::new(size));
            let mut model = OrdSet::new();
            for o in used.into_iter().filter(|o| *o < size) {
                dense.set_used(o);
                sparse.set_used(o);
                model.insert(o);
            }
            for q in queries {
                let want = model_prev_free(&model, q.min(size - 1));
                prop_assert_eq!(dense.prev_free(q), want);
                prop_assert_eq!(sparse.prev_free(q), want);
            }
        }
    }

    #[test]
    fn prev_free_of_a_full_map_is_none() {
        let mut map = FreeMap::new(130);
        for o in 0..130 {
            map.set_used(o);
        }
        assert_eq!(map.prev_free(129), None);
        map.set_free(3);
        assert_eq!(map.prev_free(129), Some(3));
        assert_eq!(map.prev_free(2), None);
    }
}
