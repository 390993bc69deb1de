//! IPv6 address generators (decision 11): how an IPv6 block picks the next address.
//!
//! * `tenant_based` — Melange's default: the 64-bit interface identifier is the first
//!   8 hex digits of `sha1(tenant)`, then `ff`, then the low 24 bits of the MAC.
//! * `eui64` — RFC 2462's modified EUI-64 of the MAC (U/L bit flipped, `fffe` inserted).
//! * `sequential` — the lowest free address, like IPv4.
//!
//! A candidate is `prefix | (identifier & hostmask)`; on a collision the MAC is incremented
//! and the next candidate tried (Melange's loop). These functions are pure: the caller
//! decides what a collision is and bounds the number of tries.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::mac::MAC_MAX;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ipv6Generator {
    #[default]
    TenantBased,
    Eui64,
    Sequential,
}

/// What the 400 for an unknown generator name says.
pub const IPV6_GENERATOR_NAMES: &str = "tenant_based, eui64, sequential";

impl Ipv6Generator {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "tenant_based" => Some(Ipv6Generator::TenantBased),
            "eui64" => Some(Ipv6Generator::Eui64),
            "sequential" => Some(Ipv6Generator::Sequential),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ipv6Generator::TenantBased => "tenant_based",
            Ipv6Generator::Eui64 => "eui64",
            Ipv6Generator::Sequential => "sequential",
        }
    }

    /// Whether the generator derives addresses from the MAC (and so cannot work without one).
    pub fn needs_mac(self) -> bool {
        !matches!(self, Ipv6Generator::Sequential)
    }

    /// The 64-bit interface identifier for `mac` (None for `sequential`, which has none).
    pub fn identifier(self, tenant: &str, mac: u64) -> Option<u64> {
        match self {
            Ipv6Generator::TenantBased => Some(tenant_based_identifier(tenant, mac)),
            Ipv6Generator::Eui64 => Some(eui64_identifier(mac)),
            Ipv6Generator::Sequential => None,
        }
    }
}

impl FromStr for Ipv6Generator {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ipv6Generator::parse(s).ok_or_else(|| {
            format!("unknown IPv6 generator {s:?} (expected one of {IPV6_GENERATOR_NAMES})")
        })
    }
}

/// `sha1(tenant)[:8 hex] ‖ ff ‖ mac & 0xffffff`.
pub fn tenant_based_identifier(tenant: &str, mac: u64) -> u64 {
    let digest = sha1_smol::Sha1::from(tenant.as_bytes()).digest().bytes();
    let tenant_bits = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    u64::from(tenant_bits) << 32 | 0xff << 24 | (mac & 0xff_ffff)
}

/// RFC 2462 modified EUI-64: `mac[0..3] ‖ fffe ‖ mac[3..6]` with the U/L bit flipped.
pub fn eui64_identifier(mac: u64) -> u64 {
    let mac = mac & MAC_MAX;
    let high = mac >> 24;
    let low = mac & 0xff_ffff;
    (high << 40 | 0xfffe << 24 | low) ^ (0x02 << 56)
}

/// The offset in a block with `host_bits` host bits that `identifier` lands on.
pub fn offset_in_block(identifier: u64, host_bits: u8) -> u128 {
    if host_bits >= 64 {
        u128::from(identifier)
    } else {
        u128::from(identifier) & ((1u128 << host_bits) - 1)
    }
}

/// The MAC tried after `mac` on a collision (wrapping within 48 bits).
pub fn next_mac(mac: u64) -> u64 {
    mac.wrapping_add(1) & MAC_MAX
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::mac::parse_mac;

    /// The address a generator gives for `mac` in `cidr` (prefix | identifier & hostmask).
    fn address(generator: Ipv6Generator, tenant: &str, mac: &str, cidr: &str) -> String {
        let net: ipnet::Ipv6Net = cidr.parse().unwrap();
        let mac = parse_mac(mac).unwrap();
        let id = generator.identifier(tenant, mac).unwrap();
        let host_bits = 128 - net.prefix_len();
        let offset = offset_in_block(id, host_bits);
        Ipv6Addr::from(u128::from(net.network()) + offset).to_string()
    }

    #[test]
    fn tenant_based_matches_melanges_vectors() {
        let g = Ipv6Generator::TenantBased;
        assert_eq!(
            address(g, "1234", "00:ff:12:89:67:34", "fe::/64"),
            "fe::7110:eda4:ff89:6734"
        );
        assert_eq!(
            address(g, "1234", "00:ff:12:89:67:35", "fe::/64"),
            "fe::7110:eda4:ff89:6735"
        );
        assert_eq!(
            address(g, "1234", "00:ff:12:89:67:34", "fe::/72"),
            "fe::10:eda4:ff89:6734"
        );
        // With /96 only ff and the MAC's low 24 bits remain (the spec's example).
        assert_eq!(
            address(g, "1234", "00:11:22:dd:ee:ff", "fe::/96"),
            "fe::ffdd:eeff"
        );
    }

    #[test]
    fn the_next_candidate_increments_the_mac() {
        let mac = parse_mac("00:ff:12:89:67:34").unwrap();
        assert_eq!(next_mac(mac), parse_mac("00:ff:12:89:67:35").unwrap());
        assert_eq!(next_mac(MAC_MAX), 0);
    }

    #[test]
    fn eui64_matches_rfc_2462_vectors() {
        let g = Ipv6Generator::Eui64;
        assert_eq!(
            address(g, "any", "12:ff:12:89:67:34", "fe::/64"),
            "fe::10ff:12ff:fe89:6734"
        );
        assert_eq!(
            address(g, "any", "12:ff:12:89:67:34", "fe::/72"),
            "fe::ff:12ff:fe89:6734"
        );
        // The universal/local bit is flipped: a universal MAC gets it set.
        assert_eq!(
            address(g, "any", "00:00:00:00:00:01", "fe::/64"),
            "fe::200:ff:fe00:1"
        );
    }

    #[test]
    fn names_round_trip_and_sequential_needs_no_mac() {
        for g in [
            Ipv6Generator::TenantBased,
            Ipv6Generator::Eui64,
            Ipv6Generator::Sequential,
        ] {
            assert_eq!(Ipv6Generator::parse(g.as_str()), Some(g));
            assert_eq!(g.as_str().parse::<Ipv6Generator>(), Ok(g));
        }
        assert!(Ipv6Generator::parse("rfc2462").is_none());
        assert!(!Ipv6Generator::Sequential.needs_mac());
        assert_eq!(Ipv6Generator::Sequential.identifier("t", 1), None);
        assert_eq!(Ipv6Generator::default(), Ipv6Generator::TenantBased);
    }

    #[test]
    fn offsets_keep_only_the_host_bits() {
        assert_eq!(offset_in_block(0xffff_ffff_ffff_ffff, 8), 0xff);
        assert_eq!(offset_in_block(0x1234, 128), 0x1234);
        assert_eq!(offset_in_block(0x1234, 0), 0);
    }
}
