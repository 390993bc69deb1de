//! A block's free map with a second view by last octet (issue 8, defect 1): the next free
//! address whose last octet a policy allows, in a bounded number of word operations however
//! full the block is.
//!
//! Without it, a policy refusing most octets of a large block made the search alternate "next
//! allowed" and "next free": when every allowed address of a row is used and a refused one is
//! free, each step passes one row of 256, so the k-th allocation cost about k probes (65,536
//! steps in a full /8). [`BlockFree`] keeps, beside the block's [`FreeMap`], one free map per
//! octet value (column `v`, bit `r`: the address at offset `r * 256 + v`), for IPv4 blocks of
//! two rows or more (such blocks start on a multiple of 256, so an offset's octet is its low
//! byte). Searching "the lowest free offset at or after `from` whose octet is allowed" is one
//! search per allowed octet value: at most 256 `next_free` calls, each O(levels).
//!
//! The columns hold exactly the block's bits again (dense blocks: as many bits as the block;
//! sparse blocks: intervals per column), and every change goes through [`BlockFree::set_used`]
//! and [`BlockFree::set_free`], which update both views; reads go to the block's map through
//! `Deref`.

use imbl::Vector;
use ipnet::IpNet;

use crate::bitmap::FreeMap;

const ROW: u128 = 256;

/// A 256-bit set of refused octet values (bit `v` of word `v / 64`), as policies give them.
pub type OctetMask = [u64; 4];

fn refused(mask: &OctetMask, v: u128) -> bool {
    mask[(v / 64) as usize] & (1 << (v % 64)) != 0
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlockFree {
    map: FreeMap,
    /// One map of rows per octet value (256 of them), or None (IPv6, or under two rows).
    columns: Option<Vector<FreeMap>>,
}

impl std::ops::Deref for BlockFree {
    type Target = FreeMap;

    fn deref(&self) -> &FreeMap {
        &self.map
    }
}

impl BlockFree {
    /// Every address of `cidr` free.
    pub fn new(cidr: &IpNet, size: u128) -> BlockFree {
        let map = FreeMap::new(size);
        let rows = size / ROW;
        let columns = (cidr.network().is_ipv4() && rows >= 2).then(|| {
            // A column follows its block's form: a sparse block (beyond 2^26 addresses)
            // gets sparse columns, so a /0 costs what it holds, not 2^32 bits.
            let column = match map {
                FreeMap::Dense(_) => FreeMap::new(rows),
                FreeMap::Sparse(_) => FreeMap::new_sparse(rows),
            };
            std::iter::repeat_n(column, ROW as usize).collect()
        });
        BlockFree { map, columns }
    }

    /// Marks used in both views; false if it already was used.
    ///
    /// # Panics
    /// If `offset >= size` (as [`FreeMap::set_used`]).
    pub fn set_used(&mut self, offset: u128) -> bool {
        let changed = self.map.set_used(offset);
        if changed {
            if let Some(columns) = &mut self.columns {
                columns[(offset % ROW) as usize].set_used(offset / ROW);
            }
        }
        changed
    }

    /// Marks free in both views; false if it already was free.
    ///
    /// # Panics
    /// If `offset >= size` (as [`FreeMap::set_free`]).
    pub fn set_free(&mut self, offset: u128) -> bool {
        let changed = self.map.set_free(offset);
        if changed {
            if let Some(columns) = &mut self.columns {
                columns[(offset % ROW) as usize].set_free(offset / ROW);
            }
        }
        changed
    }

    /// The lowest free offset `>= from` whose octet `refused` does not name (`None`: no
    /// octet refused, or not an IPv4 block — then any free offset).
    pub fn next_free_allowed(
        &self,
        from: u128,
        refused_octets: Option<&OctetMask>,
    ) -> Option<u128> {
        let first = self.map.next_free(from)?;
        let (Some(mask), Some(columns)) = (refused_octets, &self.columns) else {
            return Some(first);
        };
        if !refused(mask, first % ROW) {
            return Some(first);
        }
        let (row, at) = (first / ROW, first % ROW);
        (0..ROW)
            .filter(|v| !refused(mask, *v))
            .filter_map(|v| {
                let start = if v >= at { row } else { row + 1 };
                columns[v as usize].next_free(start).map(|r| r * ROW + v)
            })
            .min()
    }

    /// The highest free offset `<= at` whose octet `refused` does not name: the mirror of
    /// [`BlockFree::next_free_allowed`], for allocation from the top.
    pub fn prev_free_allowed(&self, at: u128, refused_octets: Option<&OctetMask>) -> Option<u128> {
        let first = self.map.prev_free(at)?;
        let (Some(mask), Some(columns)) = (refused_octets, &self.columns) else {
            return Some(first);
        };
        if !refused(mask, first % ROW) {
            return Some(first);
        }
        let (row, at) = (first / ROW, first % ROW);
        (0..ROW)
            .filter(|v| !refused(mask, *v))
            .filter_map(|v| {
                let start = if v <= at { row } else { row.checked_sub(1)? };
                columns[v as usize].prev_free(start).map(|r| r * ROW + v)
            })
            .max()
    }

    /// Heap bytes of both views (for the memory benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.map.heap_bytes()
            + self
                .columns
                .iter()
                .flat_map(|c| c.iter())
                .map(FreeMap::heap_bytes)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mask_of(octets: &[u8]) -> OctetMask {
        let mut mask = [0u64; 4];
        for o in octets {
            mask[usize::from(*o / 64)] |= 1 << (o % 64);
        }
        mask
    }

    /// What the columns must answer, by walking the block's map address by address.
    fn walked_next(f: &BlockFree, from: u128, mask: &OctetMask) -> Option<u128> {
        (from..f.size()).find(|o| !f.is_used(*o) && !refused(mask, o % ROW))
    }

    fn walked_prev(f: &BlockFree, at: u128, mask: &OctetMask) -> Option<u128> {
        (0..=at.min(f.size() - 1))
            .rev()
            .find(|o| !f.is_used(*o) && !refused(mask, o % ROW))
    }

    proptest! {
        /// Over random used sets, masks and starting points (a /20: 16 rows, dense), the
        /// columns' answers equal a walk of the block, both directions, after frees too.
        #[test]
        fn the_columns_answer_what_a_walk_finds(
            used in proptest::collection::vec(0u128..4096, 0..3000),
            freed in proptest::collection::vec(0u128..4096, 0..300),
            octets in proptest::collection::vec(any::<u8>(), 0..256),
            froms in proptest::collection::vec(0u128..4200, 1..20),
        ) {
            let cidr: IpNet = "10.1.0.0/20".parse().unwrap();
            let mut f = BlockFree::new(&cidr, 4096);
            for o in &used {
                f.set_used(*o);
            }
            for o in &freed {
                f.set_free(*o);
            }
            let mask = mask_of(&octets);
            for from in froms {
                prop_assert_eq!(f.next_free_allowed(from, Some(&mask)), walked_next(&f, from, &mask));
                let at = from.min(4095);
                prop_assert_eq!(f.prev_free_allowed(at, Some(&mask)), walked_prev(&f, at, &mask));
            }
        }
    }

    #[test]
    fn a_full_row_of_allowed_octets_costs_no_walk() {
        // A /12 (4,096 rows, dense): octet 7 alone allowed, used in every row but the last;
        // every other octet free. The search is one probe per allowed octet value, not one
        // per row.
        let cidr: IpNet = "10.16.0.0/12".parse().unwrap();
        let size = 1u128 << 20;
        let mut f = BlockFree::new(&cidr, size);
        for row in 0..(size / ROW - 1) {
            f.set_used(row * ROW + 7);
        }
        let mask = mask_of(&(0..=255).filter(|o| *o != 7).collect::<Vec<u8>>());
        let before = crate::work::free_map_probes();
        assert_eq!(f.next_free_allowed(0, Some(&mask)), Some(size - ROW + 7));
        assert!(crate::work::free_map_probes() - before <= 2);
        assert_eq!(
            f.prev_free_allowed(size - 1, Some(&mask)),
            Some(size - ROW + 7)
        );
    }

    #[test]
    fn sparse_blocks_get_sparse_columns() {
        let cidr: IpNet = "0.0.0.0/0".parse().unwrap();
        let mut f = BlockFree::new(&cidr, 1u128 << 32);
        assert!(f.set_used(7));
        let mask = mask_of(&(0..=255).filter(|o| *o != 7).collect::<Vec<u8>>());
        assert_eq!(f.next_free_allowed(0, Some(&mask)), Some(256 + 7));
        assert!(f.heap_bytes() < 1 << 20, "{} bytes", f.heap_bytes());
        let v6: IpNet = "fd00::/104".parse().unwrap();
        assert!(BlockFree::new(&v6, 1 << 24).columns.is_none());
    }
}
