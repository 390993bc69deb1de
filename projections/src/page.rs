//! Limit/marker pagination over id-ordered collections (decision 23): items with id greater
//! than the marker, at most `limit`, and whether more remain.

use std::ops::Bound;

use uuid::Uuid;

pub use ipledger_domain::limits::PAGE_SCAN_MAX;

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

impl PageRequest {
    /// Takes one page from candidates in ascending id order, each `Some` when it passes a
    /// filter that has no index, looking at no more than `visits_max` of them: when they run
    /// out first, the page is short and its next marker is the last id looked at, so the
    /// client goes on from there (nothing is skipped, and no read scans without bound).
    pub fn take_scanning<T>(
        &self,
        candidates: impl Iterator<Item = (Uuid, Option<T>)>,
        visits_max: usize,
    ) -> Page<T> {
        let limit = self.limit.clamp(1, PAGE_LIMIT_MAX);
        let (mut out, mut last_item, mut last_seen) = (Vec::new(), None, None);
        let candidates = candidates.filter(|(id, _)| self.marker.is_none_or(|m| *id > m));
        for (visited, (id, item)) in candidates.enumerate() {
            if visited == visits_max.max(limit + 1) {
                return Page {
                    items: out,
                    next_marker: last_seen,
                };
            }
            let Some(item) = item else {
                last_seen = Some(id);
                continue;
            };
            if out.len() == limit {
                return Page {
                    items: out,
                    next_marker: last_item,
                };
            }
            (last_item, last_seen) = (Some(id), Some(id));
            out.push(item);
        }
        Page {
            items: out,
            next_marker: None,
        }
    }
}

impl<T: Clone> Page<std::borrow::Cow<'_, T>> {
    /// The page's items copied out, so a reader can let go of the views before rendering.
    pub fn owned(self) -> Page<T> {
        Page {
            items: self.items.into_iter().map(|c| c.into_owned()).collect(),
            next_marker: self.next_marker,
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
