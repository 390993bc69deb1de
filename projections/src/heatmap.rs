//! A block's address space in a bounded number of cells (issue 14: the console's heat map):
//! per cell, how many addresses are allocated, soft-deallocated, held by a pending IP request
//! or reserved. Built from the block's occupied offsets, never from its free ones, so the
//! cost is O(cells + occupied), whatever the block's size (an IPv6 /64 included).

use ipledger_domain::block;

use crate::state::{BlockState, State};

/// Counts of one cell; the rest of its addresses are free.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellCounts {
    pub allocated: u64,
    pub deallocated: u64,
    pub held: u64,
    pub reserved: u64,
}

/// `cells.len()` is a power of two; each cell covers `2^cell_host_bits` addresses, cell `i`
/// starting at offset `i << cell_host_bits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heatmap {
    pub cell_host_bits: u8,
    pub cells: Vec<CellCounts>,
}

impl State {
    /// The block in at most `max_cells` cells (at least one; a power of two, and never more
    /// cells than addresses). An address counts once: allocated, deallocated and held ones
    /// before reserved (the network address can be named on purpose).
    pub fn block_heatmap(&self, b: &BlockState, max_cells: u32) -> Heatmap {
        let cidr = &b.record.cidr;
        let host_bits = block::host_bits(cidr);
        let count_bits = (max_cells.max(1).ilog2() as u8).min(host_bits);
        let cell_host_bits = host_bits - count_bits;
        let mut cells = vec![CellCounts::default(); 1usize << count_bits];
        // `::/0` in one cell shifts by 128: every offset is in cell 0.
        let cell = |offset: u128| offset.checked_shr(cell_host_bits.into()).unwrap_or(0) as usize;
        for (offset, id) in &b.by_offset {
            let c = &mut cells[cell(*offset)];
            match self.addresses.get(id) {
                Some(a) if a.deallocated_at.is_some() => c.deallocated += 1,
                _ => c.allocated += 1,
            }
        }
        for offset in b.holds.keys() {
            cells[cell(*offset)].held += 1;
        }
        let mut reserved = block::reserved_offsets(cidr, b.record.gateway);
        if block::skips_network_address(cidr) {
            reserved.push(0);
        }
        reserved.sort_unstable();
        reserved.dedup();
        for offset in reserved {
            if !b.by_offset.contains_key(&offset) && !b.holds.contains_key(&offset) {
                cells[cell(offset)].reserved += 1;
            }
        }
        Heatmap {
            cell_host_bits,
            cells,
        }
    }
}
