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
#[derive(Debug, Clone)]
pub struct Exclusions {
    cidr: IpNet,
    size: u128,
    fixed: Vec<u128>,
    ranges: Vec<(u128, u128)>,
    octets: [bool; 256],
    skip_network: bool,
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
        let mut octet_set = [false; 256];
        for o in octets {
            octet_set[*o as usize] = true;
        }
        let fixed = if automatic {
            block::reserved_offsets(&cidr, gateway)
        } else {
            Vec::new()
        };
        Exclusions {
            cidr,
            size,
            fixed,
            ranges: ranges
                .iter()
                .map(|(o, l)| range_bounds(*o, *l, size))
                .collect(),
            octets: octet_set,
            skip_network: automatic && block::skips_network_address(&cidr),
        }
    }

    /// Whether the policy (ranges and octets only) refuses the address at `offset`.
    pub fn policy_refuses(&self, offset: u128) -> bool {
        self.ranges.iter().any(|(s, e)| (*s..*e).contains(&offset)) || self.octet_refused(offset)
    }

    fn octet_refused(&self, offset: u128) -> bool {
        let octet = last_octet(block::address_at(&self.cidr, offset));
        octet < 256 && self.octets[octet as usize]
    }

    /// None if `offset` may be handed out; otherwise the next offset worth trying (always
    /// greater than `offset`, possibly past the end of the block).
    pub fn refused(&self, offset: u128) -> Option<u128> {
        if (self.skip_network && offset == 0) || self.fixed.contains(&offset) {
            return Some(offset + 1);
        }
        if let Some(end) = self
            .ranges
            .iter()
            .filter(|(s, e)| (*s..*e).contains(&offset))
            .map(|(_, e)| *e)
            .max()
        {
            return Some(end);
        }
        self.octet_refused(offset)
            .then(|| self.next_octet_candidate(offset))
    }

    /// The next offset whose last octet is not refused: at most 256 steps, so a policy that
    /// refuses many octets never makes allocation scan a large block.
    fn next_octet_candidate(&self, offset: u128) -> u128 {
        let mut next = offset + 1;
        for _ in 0..256 {
            if next >= self.size || !self.octet_refused(next) {
                return next;
            }
            next += 1;
        }
        next
    }

    /// The lowest offset `>= from` that is free (per `next_free`) and not refused.
    pub fn next_allocatable(
        &self,
        mut from: u128,
        next_free: impl Fn(u128) -> Option<u128>,
    ) -> Option<u128> {
        loop {
            let candidate = next_free(from)?;
            match self.refused(candidate) {
                None => return Some(candidate),
                Some(next) if next < self.size && next > candidate => from = next,
                Some(_) => return None,
            }
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
}
