//! Counts of the work searches do, per thread: free-map probes and blocks examined.
//!
//! They exist so tests can assert that a search is bounded by the data structure (a few
//! probes, O(log n) blocks) rather than assert wall-clock time, which a loaded machine makes
//! flaky. A thread-local add costs about a nanosecond, so the counters stay on in release.

use std::cell::Cell;

thread_local! {
    static FREE_MAP_PROBES: Cell<u64> = const { Cell::new(0) };
    static BLOCKS_EXAMINED: Cell<u64> = const { Cell::new(0) };
}

/// `FreeMap::next_free` calls made on this thread so far.
pub fn free_map_probes() -> u64 {
    FREE_MAP_PROBES.with(Cell::get)
}

/// Blocks this thread's placement checks and block lookups looked at so far.
pub fn blocks_examined() -> u64 {
    BLOCKS_EXAMINED.with(Cell::get)
}

pub(crate) fn count_probe() {
    FREE_MAP_PROBES.with(|c| c.set(c.get() + 1));
}

pub(crate) fn count_blocks(n: u64) {
    BLOCKS_EXAMINED.with(|c| c.set(c.get() + n));
}
