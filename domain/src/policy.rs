//! Allocation policies: unusable ranges (offsets into the block, negative offsets counting
//! from the end) and unusable octets (the last octet of IPv4, the last 16-bit group of IPv6),
//! exactly as the table in melange-semantics.md §2. Policies apply to automatic and specific
//! allocation, IPv4 and IPv6 alike (decision 9).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::block;
use crate::Rejection;

/// An unusable range of length 0 refuses nothing while it reads as a rule: it means two
/// things, so it is refused (issue 8, defect 8), with the message Melange gives a negative one.
pub fn check_range_length(length: u64) -> Result<(), Rejection> {
    if length == 0 {
        return Err(Rejection::invalid(
            "length",
            "length should be a positive integer",
        ));
    }
    Ok(())
}

/// The offsets `[start, end)` that an unusable range refuses in a block of `size` addresses.
/// Python slice semantics over the block's address list, except that a negative offset whose
/// range reaches past the end is clamped to the end (the Melange table's `-2, 5` row).
pub fn range_bounds(offset: i64, length: u64, size: u128) -> (u128, u128) {
    let len = length as i128;
    let n = size.min(i128::MAX as u128) as i128;
    let (start, end) = if offset >= 0 {
        let start = offset as i128;
        (start, start.saturating_add(len))
    } else {
        let start = (n + offset as i128).max(0);
        let reaches_end = offset as i128 + len >= 0;
        let end = if reaches_end {
            n
        } else {
            n + offset as i128 + len
        };
        (start, end)
    };
    let start = start.clamp(0, n) as u128;
    let end = end.clamp(0, n) as u128;
    (start, end.max(start))
}

/// The octet an octet rule compares: last octet (IPv4) or last 16-bit group (IPv6).
pub fn last_octet(addr: IpAddr) -> u16 {
    match addr {
        IpAddr::V4(a) => a.octets()[3] as u16,
        IpAddr::V6(a) => a.segments()[7],
    }
}

/// A policy's rules resolved against one block, ready to answer "may this offset be handed
/// out, and if not, where is the next candidate worth trying?".
///
/// Every answer costs O(log rules) or a few word operations, never a walk over addresses:
/// ranges are merged into sorted disjoint intervals (a refused offset jumps to its interval's
/// end), and octet rules are a 256-bit mask over a periodic value (the last octet repeats
/// every 256 addresses, the last IPv6 group every 65,536), so the next allowed octet is
/// arithmetic. A policy refusing every octet of an IPv4 block answers "none" at once.
#[derive(Debug, Clone)]
pub struct Exclusions {
    size: u128,
    /// The address value of offset 0 (to find the octet of any offset).
    base: u128,
    /// 256 (IPv4: the last octet) or 65,536 (IPv6: the last 16-bit group).
    period: u128,
    /// Reserved offsets the automatic path never hands out, sorted.
    fixed: Vec<u128>,
    /// The policy's unusable ranges as sorted, disjoint, non-adjacent `[start, end)`.
    ranges: Vec<(u128, u128)>,
    /// Refused octet values: bit `v` set refuses every address whose octet is `v`.
    octets: [u64; 4],
}

/// The lowest clear bit `>= from` of a 256-bit mask.
fn next_clear_bit(mask: &[u64; 4], from: u32) -> Option<u32> {
    let mut word = (from / 64) as usize;
    let mut candidates = !*mask.get(word)? & (u64::MAX << (from % 64));
    loop {
        if candidates != 0 {
            return Some(word as u32 * 64 + candidates.trailing_zeros());
        }
        word += 1;
        candidates = !*mask.get(word)?;
    }
}

/// Sorts and merges `[start, end)` intervals into disjoint, non-adjacent ones.
fn merged(mut ranges: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    ranges.retain(|(s, e)| s < e);
    ranges.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

impl Exclusions {
    /// `ranges` as (offset, length) pairs and `octets` as values 0..=255 from the policy;
    /// `gateway` is the block's gateway. With `automatic` the gateway, broadcast and (for
    /// IPv4 /30 and shorter) network address are refused too.
    pub fn new(
        cidr: IpNet,
        gateway: Option<IpAddr>,
        ranges: &[(i64, u64)],
        octets: &[u8],
        automatic: bool,
    ) -> Self {
        let size = block::size(&cidr);
        let mut mask = [0u64; 4];
        for o in octets {
            mask[usize::from(*o / 64)] |= 1 << (o % 64);
        }
        let mut fixed = if automatic {
            block::reserved_offsets(&cidr, gateway)
        } else {
            Vec::new()
        };
        if automatic && block::skips_network_address(&cidr) {
            fixed.push(0);
        }
        fixed.sort_unstable();
        fixed.dedup();
        let ipv4 = cidr.network().is_ipv4();
        Exclusions {
            size,
            base: block::to_u128(cidr.network()),
            period: if ipv4 { 1 << 8 } else { 1 << 16 },
            fixed,
            ranges: merged(
                ranges
                    .iter()
                    .map(|(o, l)| range_bounds(*o, *l, size))
                    .collect(),
            ),
            octets: mask,
        }
    }

    /// The refused octet values (bit `v` of word `v / 64`) when they decide by the last octet
    /// of an IPv4 address and refuse any: what a free map searched by octet needs.
    pub fn refused_octets(&self) -> Option<&[u64; 4]> {
        (self.period == 256 && self.octets != [0; 4]).then_some(&self.octets)
    }

    /// Whether the policy (ranges and octets only) refuses the address at `offset`.
    pub fn policy_refuses(&self, offset: u128) -> bool {
        self.range_end(offset).is_some() || self.octet_refused(offset)
    }

    /// The end of the unusable range holding `offset`, if one does.
    fn range_end(&self, offset: u128) -> Option<u128> {
        let after = self.ranges.partition_point(|(s, _)| *s <= offset);
        let (_, end) = *self.ranges.get(after.checked_sub(1)?)?;
        (offset < end).then_some(end)
    }

    /// The octet value of `offset` (offsets inside the block never overflow).
    fn octet(&self, offset: u128) -> u128 {
        self.base.wrapping_add(offset) % self.period
    }

    fn octet_refused(&self, offset: u128) -> bool {
        let v = self.octet(offset);
        v < 256 && self.octets[(v / 64) as usize] & (1 << (v % 64)) != 0
    }

    /// The lowest offset `>= offset` whose octet is not refused, by arithmetic on the mask:
    /// `None` when no octet is allowed at all (an IPv4 policy refusing all 256).
    fn next_octet_allowed(&self, offset: u128) -> Option<u128> {
        let v = self.octet(offset);
        if v >= 256 {
            return Some(offset);
        }
        if let Some(u) = next_clear_bit(&self.octets, v as u32) {
            return offset.checked_add(u128::from(u) - v);
        }
        if self.period > 256 {
            // IPv6: octet rules name 0..=255 only, so group value 256 is always allowed.
            return offset.checked_add(256 - v);
        }
        let first = next_clear_bit(&self.octets, 0)?;
        offset.checked_add(self.period - v + u128::from(first))
    }

    /// The lowest offset `>= offset` that no rule refuses (free or not), or `None`.
    ///
    /// Each step passes a reserved offset or a whole merged range, or lands on an allowed
    /// octet that only a reserved offset or a later range can refuse, so there are at most
    /// 2 × (ranges + reserved) + 2 steps, whatever the size of the block.
    pub fn next_allowed(&self, mut offset: u128) -> Option<u128> {
        loop {
            if offset >= self.size {
                return None;
            }
            if self.fixed.binary_search(&offset).is_ok() {
                offset = offset.checked_add(1)?;
                continue;
            }
            if let Some(end) = self.range_end(offset) {
                offset = end;
                continue;
            }
            let next = self.next_octet_allowed(offset)?;
            if next == offset {
                return Some(offset);
            }
            offset = next;
        }
    }

    /// None if `offset` may be handed out; otherwise the next offset worth trying (always
    /// greater than `offset`, possibly past the end of the block).
    pub fn refused(&self, offset: u128) -> Option<u128> {
        match self.next_allowed(offset) {
            Some(next) if next == offset => None,
            Some(next) => Some(next),
            None => Some(self.size.max(offset.saturating_add(1))),
        }
    }

    /// The lowest offset `>= from` that is free (per `next_free`) and not refused.
    ///
    /// Alternates "next allowed" (bounded above) and one `next_free` probe; a probe that
    /// lands on a refused offset moves the search past it, so the work is a few probes per
    /// run of used allowed addresses skipped, never a step per address.
    pub fn next_allocatable(
        &self,
        mut from: u128,
        next_free: impl Fn(u128) -> Option<u128>,
    ) -> Option<u128> {
        loop {
            let allowed = self.next_allowed(from)?;
            let free = next_free(allowed)?;
            if free == allowed {
                return Some(free);
            }
            from = free;
        }
    }
}

/// The highest clear bit `<= at` of a 256-bit mask.
fn prev_clear_bit(mask: &[u64; 4], at: u32) -> Option<u32> {
    let mut word = (at / 64) as usize;
    let mut candidates = !mask[word] & (u64::MAX >> (63 - at % 64));
    loop {
        if candidates != 0 {
            return Some(word as u32 * 64 + 63 - candidates.leading_zeros());
        }
        word = word.checked_sub(1)?;
        candidates = !mask[word];
    }
}

/// The mirror of the search above, for allocation from the top of a block (a pool's `last`
/// strategy): the same bounded steps, downwards.
impl Exclusions {
    /// The start of the unusable range holding `offset`, if one does.
    fn range_start(&self, offset: u128) -> Option<u128> {
        let after = self.ranges.partition_point(|(s, _)| *s <= offset);
        let (start, end) = *self.ranges.get(after.checked_sub(1)?)?;
        (offset < end).then_some(start)
    }

    /// The highest offset `<= offset` whose octet is not refused.
    fn prev_octet_allowed(&self, offset: u128) -> Option<u128> {
        let v = self.octet(offset);
        if v >= 256 {
            return Some(offset);
        }
        if let Some(u) = prev_clear_bit(&self.octets, v as u32) {
            return Some(offset - (v - u128::from(u)));
        }
        if self.period > 256 {
            // IPv6: the group value before 0 is 65,535, always allowed.
            return offset.checked_sub(v + 1);
        }
        let last = prev_clear_bit(&self.octets, 255)?;
        offset.checked_sub(v + 256 - u128::from(last))
    }

    /// The highest offset `<= offset` (clamped to the block) that no rule refuses.
    pub fn prev_allowed(&self, offset: u128) -> Option<u128> {
        let mut offset = offset.min(self.size.checked_sub(1)?);
        loop {
            if self.fixed.binary_search(&offset).is_ok() {
                offset = offset.checked_sub(1)?;
                continue;
            }
            if let Some(start) = self.range_start(offset) {
                offset = start.checked_sub(1)?;
                continue;
            }
            let prev = self.prev_octet_allowed(offset)?;
            if prev == offset {
                return Some(offset);
            }
            offset = prev;
        }
    }

    /// The highest offset `<= from` that is free (per `prev_free`) and not refused.
    pub fn prev_allocatable(
        &self,
        mut from: u128,
        prev_free: impl Fn(u128) -> Option<u128>,
    ) -> Option<u128> {
        loop {
            let allowed = self.prev_allowed(from)?;
            let free = prev_free(allowed)?;
            if free == allowed {
                return Some(free);
            }
            from = free;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn refused_by_range(offset: i64, length: u64) -> Vec<u128> {
        let (s, e) = range_bounds(offset, length, 8);
        (s..e).collect()
    }

    /// The table of melange-semantics.md §2 (TestIpRange) on 10.0.0.0/29.
    #[test]
    fn range_table_of_the_reference() {
        let table: &[(i64, u64, &[u128])] = &[
            (0, 1, &[0]),
            (1, 1, &[1]),
            (3, 2, &[3, 4]),
            (-3, 2, &[5, 6]),
            (-3, 3, &[5, 6, 7]),
            (-2, 5, &[6, 7]),
            (10, 5, &[]),
            (4, 0, &[]),
            (-4, 0, &[]),
            (-20, 2, &[]),
        ];
        for (offset, length, expected) in table {
            assert_eq!(
                &refused_by_range(*offset, *length),
                expected,
                "offset {offset} length {length}"
            );
        }
    }

    #[test]
    fn octet_rules_use_the_last_octet_or_group() {
        let cidr: IpNet = "10.0.0.0/16".parse().unwrap();
        let ex = Exclusions::new(cidr, None, &[], &[0], false);
        assert!(ex.policy_refuses(256)); // 10.0.1.0
        assert!(!ex.policy_refuses(257));
        let v6: IpNet = "fe::/64".parse().unwrap();
        let ex = Exclusions::new(v6, None, &[], &[5], false);
        assert!(ex.policy_refuses(5));
        assert!(!ex.policy_refuses(6));
    }

    fn auto_order(cidr: &str, ranges: &[(i64, u64)], octets: &[u8]) -> Vec<String> {
        let cidr: IpNet = cidr.parse().unwrap();
        let gw = block::default_gateway(&cidr);
        let ex = Exclusions::new(cidr, gw, ranges, octets, true);
        let size = block::size(&cidr);
        let mut used = BTreeSet::new();
        let mut out = Vec::new();
        while let Some(o) = ex.next_allocatable(0, |f| (f..size).find(|x| !used.contains(x))) {
            used.insert(o);
            out.push(block::address_at(&cidr, o).to_string());
        }
        out
    }

    /// melange-semantics.md §2's worked examples with the spec's default gateway (.1),
    /// adjusted by decision 7 (no network address for IPv4 /30 and shorter).
    #[test]
    fn allocation_order_examples() {
        assert_eq!(
            auto_order("10.0.0.0/29", &[], &[]),
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        assert_eq!(auto_order("10.0.0.0/30", &[], &[]), ["10.0.0.2"]);
        assert_eq!(auto_order("10.0.0.0/31", &[], &[]), ["10.0.0.0"]);
        assert!(auto_order("10.0.0.0/32", &[], &[]).is_empty());
        assert_eq!(
            auto_order("10.0.0.0/29", &[(3, 2)], &[]),
            ["10.0.0.2", "10.0.0.5", "10.0.0.6"]
        );
        assert_eq!(
            auto_order("10.0.0.0/29", &[(-3, 3)], &[2]),
            ["10.0.0.3", "10.0.0.4"]
        );
    }

    #[test]
    fn many_refused_octets_do_not_scan() {
        let all_but_one: Vec<u8> = (0..=255u8).filter(|o| *o != 200).collect();
        let order = auto_order("10.0.0.0/22", &[], &all_but_one);
        assert_eq!(
            order,
            ["10.0.0.200", "10.0.1.200", "10.0.2.200", "10.0.3.200"]
        );
    }

    /// The next allowed offset is arithmetic on the octet mask, for both families, and a
    /// policy refusing every octet leaves nothing in an IPv4 block (but group values 256 and
    /// up in an IPv6 one, which octet rules cannot name).
    #[test]
    fn next_allowed_jumps_over_refused_octets_and_ranges() {
        let all: Vec<u8> = (0..=255).collect();
        let v4: IpNet = "0.0.0.0/0".parse().unwrap();
        assert_eq!(
            Exclusions::new(v4, None, &[], &all, false).next_allowed(0),
            None
        );
        let all_but_7: Vec<u8> = (0..=255).filter(|o| *o != 7).collect();
        let ex = Exclusions::new(v4, None, &[(0, 1 << 20)], &all_but_7, false);
        assert_eq!(ex.next_allowed(0), Some((1 << 20) + 7));
        assert_eq!(ex.next_allowed((1 << 20) + 8), Some((1 << 20) + 256 + 7));
        let v6: IpNet = "fe::/64".parse().unwrap();
        let ex = Exclusions::new(v6, None, &[], &all, false);
        assert_eq!(ex.next_allowed(0), Some(256));
        assert_eq!(ex.next_allowed(65_535), Some(65_535));
        assert_eq!(ex.next_allowed(65_536), Some(65_536 + 256));
        // A small block not aligned on 256: octets wrap past the block's end.
        let small: IpNet = "10.0.0.248/29".parse().unwrap();
        let ex = Exclusions::new(small, None, &[], &[248, 249, 250], false);
        assert_eq!(ex.next_allowed(0), Some(3));
        let ex = Exclusions::new(small, None, &[(0, 4)], &[252, 253, 254, 255], false);
        assert_eq!(ex.next_allowed(0), None);
        assert!(ex.policy_refuses(2) && ex.policy_refuses(7));
    }

    /// The downward search answers what a walk down from the top answers, whatever the
    /// rules: the mirror of `next_allocatable`.
    #[test]
    fn prev_allocatable_matches_a_walk() {
        type Case<'a> = (&'a str, &'a [(i64, u64)], &'a [u8]);
        let cases: &[Case] = &[
            ("10.0.0.0/24", &[], &[]),
            ("10.0.0.0/22", &[(-20, 7), (3, 2)], &[255, 0, 7]),
            ("10.0.0.0/23", &[], &(0..=254).collect::<Vec<u8>>()),
            ("10.0.0.0/24", &[], &(0..=255).collect::<Vec<u8>>()),
            ("fe::/112", &[(0, 300)], &[0, 1, 255]),
            ("10.0.0.0/31", &[], &[]),
        ];
        for (cidr, ranges, octets) in cases {
            let net: IpNet = cidr.parse().unwrap();
            let gw = block::default_gateway(&net);
            let ex = Exclusions::new(net, gw, ranges, octets, true);
            let size = block::size(&net);
            let used: BTreeSet<u128> = (0..size).filter(|o| o % 5 == 1).collect();
            let free = |at: u128| (0..=at).rev().find(|x| !used.contains(x));
            for from in [size - 1, size / 2, 3, 0] {
                let want = (0..=from)
                    .rev()
                    .find(|o| ex.refused(*o).is_none() && !used.contains(o));
                assert_eq!(ex.prev_allocatable(from, free), want, "{cidr} from {from}");
            }
        }
    }
}
