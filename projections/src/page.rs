//! Limit/marker pagination over id-ordered collections (decision 23): items with id greater
//! than the marker, at most `limit`, and whether more remain.

use std::ops::Bound;

use uuid::Uuid;

/// The range of ids strictly after `marker` (all of them without one).
pub fn after(marker: Option<Uuid>) -> (Bound<Uuid>, Bound<Uuid>) {
    match marker {
        Some(m) => (Bound::Excluded(m), Bound::Unbounded),
        None => (Bound::Unbounded, Bound::Unbounded),
    }
}

/// Default page size of the Melange API.
pub const PAGE_LIMIT_DEFAULT: usize = 200;
pub use ipledger_domain::limits::PAGE_LIMIT_MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub marker: Option<Uuid>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: PAGE_LIMIT_DEFAULT,
            marker: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The id of the last item when more items follow (the next page's marker).
    pub next_marker: Option<Uuid>,
}

impl PageRequest {
    /// Takes one page from an iterator already in ascending id order.
    pub fn take<T>(&self, items: impl Iterator<Item = (Uuid, T)>) -> Page<T> {
        let limit = self.limit.clamp(1, PAGE_LIMIT_MAX);
        let mut out = Vec::new();
        let mut last = None;
        let mut more = false;
        for (id, item) in items.filter(|(id, _)| self.marker.is_none_or(|m| *id > m)) {
            if out.len() == limit {
                more = true;
                break;
            }
            last = Some(id);
            out.push(item);
        }
        Page {
            items: out,
            next_marker: if more { last } else { None },
        }
    }
}

impl<T: Clone> Page<&T> {
    /// The page's items copied out, so a reader can let go of the views before rendering.
    pub fn cloned(self) -> Page<T> {
        Page {
            items: self.items.into_iter().cloned().collect(),
            next_marker: self.next_marker,
        }
    }
}
