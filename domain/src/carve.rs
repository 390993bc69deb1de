//! Where a new child prefix fits in a parent's free space (prefix pools, issue 9 §2): pure
//! arithmetic over the parent's range and its children's spans, which never overlap and come
//! sorted (the block index's order). A child of `2^host` addresses must start on a multiple
//! of `2^host`.
//!
//! Work is one step per child span passed, never one per address: `first_fit` and `last_fit`
//! stop at the first gap that fits, from the bottom or the top; `best_fit` looks at every gap
//! (split into its maximal aligned holes, at most 2 × 128 per gap) unless it meets a hole of
//! exactly the asked size, which no other can beat.

/// The lowest multiple of `2^host` at or above `x`, if one fits in a `u128`.
fn align_up(x: u128, host: u32) -> Option<u128> {
    let mask = (1u128 << host) - 1;
    if x & mask == 0 {
        Some(x)
    } else {
        (x | mask).checked_add(1)
    }
}

/// The lowest aligned start of a `2^host` span inside `[a, b]`.
fn lowest_in(a: u128, b: u128, host: u32) -> Option<u128> {
    let mask = (1u128 << host) - 1;
    let c = align_up(a, host)?;
    (c <= b && b - c >= mask).then_some(c)
}

/// The highest aligned start of a `2^host` span inside `[a, b]`.
fn highest_in(a: u128, b: u128, host: u32) -> Option<u128> {
    let mask = (1u128 << host) - 1;
    let c = b.checked_sub(mask)? & !mask;
    (c >= a).then_some(c)
}

/// The free gaps of `[lo, hi]` between `used` spans (ascending, disjoint, inside it).
fn gaps(
    lo: u128,
    hi: u128,
    used: impl Iterator<Item = (u128, u128)>,
) -> impl Iterator<Item = (u128, u128)> {
    let mut used = used.fuse();
    let mut cursor = Some(lo);
    std::iter::from_fn(move || loop {
        let from = cursor?;
        match used.next() {
            Some((s, e)) => {
                cursor = e.checked_add(1).filter(|c| *c <= hi);
                if s > from {
                    return Some((from, s - 1));
                }
            }
            None => {
                cursor = None;
                return Some((from, hi));
            }
        }
    })
}

/// The lowest aligned `2^host` span of `[lo, hi]` clear of `used` (ascending). `host` < 128.
pub fn first_fit(
    lo: u128,
    hi: u128,
    host: u32,
    used: impl Iterator<Item = (u128, u128)>,
) -> Option<u128> {
    gaps(lo, hi, used).find_map(|(a, b)| lowest_in(a, b, host))
}

/// The highest aligned `2^host` span of `[lo, hi]` clear of `used` (given descending).
pub fn last_fit(
    lo: u128,
    hi: u128,
    host: u32,
    used_desc: impl Iterator<Item = (u128, u128)>,
) -> Option<u128> {
    let mut top = Some(hi);
    for (s, e) in used_desc {
        let t = top?;
        if e < t {
            if let Some(c) = highest_in(e + 1, t, host) {
                return Some(c);
            }
        }
        top = s.checked_sub(1).filter(|t| *t >= lo);
    }
    highest_in(lo, top?, host)
}

/// The smallest free aligned hole of `[lo, hi]` (clear of `used`, ascending) that holds a
/// `2^host` span: `(start, hole's host bits)`, the lowest on a tie. The span is the hole's
/// first, so larger holes stay whole.
pub fn best_fit(
    lo: u128,
    hi: u128,
    host: u32,
    used: impl Iterator<Item = (u128, u128)>,
) -> Option<(u128, u32)> {
    let mut best: Option<(u128, u32)> = None;
    for (a, b) in gaps(lo, hi, used) {
        let mut x = a;
        loop {
            // The largest aligned hole starting at x inside [x, b].
            let mut k = x.trailing_zeros().min(127);
            while k > 0 && (b - x) < ((1u128 << k) - 1) {
                k -= 1;
            }
            if k >= host && best.is_none_or(|(_, bk)| k < bk) {
                best = Some((x, k));
                if k == host {
                    return best;
                }
            }
            match x.checked_add(1u128 << k) {
                Some(next) if next <= b => x = next,
                _ => break,
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model: every aligned start in [lo, hi] whose span is clear of `used`.
    fn fits(lo: u128, hi: u128, host: u32, used: &[(u128, u128)]) -> Vec<u128> {
        let size = 1u128 << host;
        (lo..=hi)
            .step_by(size as usize)
            .filter(|c| c % size == 0 && c + size - 1 <= hi)
            .filter(|c| used.iter().all(|(s, e)| c + size - 1 < *s || *c > *e))
            .collect()
    }

    /// Disjoint aligned spans from a seed (a tiny LCG: no dependency).
    fn spans(seed: u64, lo: u128, hi: u128) -> Vec<(u128, u128)> {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        let mut out: Vec<(u128, u128)> = Vec::new();
        for _ in 0..(next() % 12) {
            let host = (next() % 4) as u32;
            let size = 1u128 << host;
            let start = (lo + u128::from(next()) % (hi - lo + 1)) / size * size;
            let end = start + size - 1;
            if start >= lo && end <= hi && out.iter().all(|(s, e)| end < *s || start > *e) {
                out.push((start, end));
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn first_and_last_fit_match_the_model() {
        for seed in 0..400 {
            let (lo, hi) = (64, 127);
            let used = spans(seed, lo, hi);
            for host in 0..=6 {
                let all = fits(lo, hi, host, &used);
                let first = first_fit(lo, hi, host, used.iter().copied());
                assert_eq!(
                    first,
                    all.first().copied(),
                    "seed {seed} host {host} {used:?}"
                );
                let last = last_fit(lo, hi, host, used.iter().rev().copied());
                assert_eq!(
                    last,
                    all.last().copied(),
                    "seed {seed} host {host} {used:?}"
                );
            }
        }
    }

    #[test]
    fn best_fit_takes_the_smallest_hole_that_fits() {
        // 0..=63 with 0..=3 and 8..=15 taken: holes 4..=7 (a /30's worth) and 16..=63.
        let used = [(0, 3), (8, 15)];
        assert_eq!(best_fit(0, 63, 2, used.iter().copied()), Some((4, 2)));
        assert_eq!(first_fit(0, 63, 1, used.iter().copied()), Some(4));
        assert_eq!(best_fit(0, 63, 1, used.iter().copied()), Some((4, 2)));
        // Nothing holds 32: the hole 16..=63 splits into 16..=31 and 32..=63.
        assert_eq!(best_fit(0, 63, 5, used.iter().copied()), Some((32, 5)));
        assert_eq!(best_fit(0, 63, 6, used.iter().copied()), None);
        for seed in 0..400 {
            let used = spans(seed, 64, 127);
            for host in 0..=6 {
                let got = best_fit(64, 127, host, used.iter().copied());
                let all = fits(64, 127, host, &used);
                assert_eq!(got.is_some(), !all.is_empty(), "seed {seed} host {host}");
                if let Some((start, k)) = got {
                    assert!(all.contains(&start), "seed {seed}");
                    assert!(k >= host);
                }
            }
        }
    }

    #[test]
    fn the_whole_range_and_its_edges() {
        let top = u128::MAX;
        assert_eq!(first_fit(0, top, 127, std::iter::empty()), Some(0));
        assert_eq!(last_fit(0, top, 127, std::iter::empty()), Some(1 << 127));
        assert_eq!(last_fit(0, top, 0, [(top, top)].into_iter()), Some(top - 1));
        assert_eq!(first_fit(0, 0, 0, [(0, 0)].into_iter()), None);
        assert_eq!(
            best_fit(0, top, 8, [(0, top - 256)].into_iter()),
            Some((top - 255, 8))
        );
    }
}
