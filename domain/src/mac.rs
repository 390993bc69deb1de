//! MAC addresses and MAC address ranges (melange-semantics.md §4, decision 16): parsing in
//! the forms clients send (colon, dash or bare hex), printing upper-case and colon-separated,
//! and the "cidr" of a range, whose prefix counts bits of the 48-bit MAC.
//!
//! MACs are plain `u64` values below 2^48 everywhere else in the domain, so that ranges,
//! increments (the IPv6 generators' "MAC + 1") and the registry of MACs in use are integer
//! arithmetic.

use std::fmt;

/// Bits in a MAC address.
pub const MAC_BITS: u8 = 48;
/// The largest MAC value (FF:FF:FF:FF:FF:FF).
pub const MAC_MAX: u64 = (1 << MAC_BITS) - 1;

/// Parses `AB:CD:EF:01:02:03`, `ab-cd-ef-01-02-03` (the EUI form Melange used internally)
/// or `abcdef010203`; groups of one hex digit are accepted (`0:1:2:3:4:5`).
pub fn parse_mac(text: &str) -> Option<u64> {
    let text = text.trim();
    let groups: Vec<&str> = if text.contains(':') {
        text.split(':').collect()
    } else if text.contains('-') {
        text.split('-').collect()
    } else if text.len() == 12 {
        (0..6).map(|i| &text[i * 2..i * 2 + 2]).collect()
    } else {
        return None;
    };
    if groups.len() != 6 {
        return None;
    }
    let mut value = 0u64;
    for g in groups {
        if g.is_empty() || g.len() > 2 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        value = value << 8 | u64::from(u8::from_str_radix(g, 16).ok()?);
    }
    Some(value)
}

/// The individual/group bit of the first octet: set, the MAC names a group (multicast; the
/// broadcast FF:FF:FF:FF:FF:FF is one), never one interface.
const GROUP_BIT: u64 = 1 << 40;

/// Whether a range may hand `mac` out to an interface: not a group (multicast or broadcast)
/// MAC and not the all-zero MAC, which no NIC may carry (issue 8, defect 8).
pub fn allocatable(mac: u64) -> bool {
    mac != 0 && mac & GROUP_BIT == 0 && mac <= MAC_MAX
}

/// The lowest allocatable MAC at or after `mac`, if any: a group MAC jumps to the next first
/// octet (whose group bit is clear), so skipping costs O(1) whatever the range's size.
pub fn next_allocatable(mac: u64) -> Option<u64> {
    let mac = if mac == 0 { 1 } else { mac };
    let mac = if mac & GROUP_BIT != 0 {
        (mac | (GROUP_BIT - 1)).checked_add(1)?
    } else {
        mac
    };
    (mac <= MAC_MAX).then_some(mac)
}

/// Upper-case, colon-separated: `BC:76:4E:20:00:00` (Melange's "UNIX" format).
pub fn format_mac(mac: u64) -> String {
    let b = (mac & MAC_MAX).to_be_bytes();
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// A MAC "cidr": `first` is the base with the host bits cleared, `prefix_len` counts bits of
/// the 48-bit MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacRange {
    first: u64,
    prefix_len: u8,
}

impl MacRange {
    pub fn new(base: u64, prefix_len: u8) -> Option<Self> {
        if prefix_len > MAC_BITS || base > MAC_MAX {
            return None;
        }
        let host_mask = Self::host_mask(prefix_len);
        Some(MacRange {
            first: base & !host_mask & MAC_MAX,
            prefix_len,
        })
    }

    fn host_mask(prefix_len: u8) -> u64 {
        (1u64 << (MAC_BITS - prefix_len)) - 1
    }

    /// Parses `BC:76:4E:20:00:00/27` or `ab-bc-cd-12-23-34/40`; a bare MAC is a /48.
    pub fn parse(text: &str) -> Option<Self> {
        let (mac, prefix) = match text.trim().split_once('/') {
            Some((mac, prefix)) => {
                let prefix = prefix.trim();
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (mac, prefix.parse::<u8>().ok()?)
            }
            None => (text, MAC_BITS),
        };
        MacRange::new(parse_mac(mac)?, prefix)
    }

    pub fn first(&self) -> u64 {
        self.first
    }

    pub fn last(&self) -> u64 {
        self.first | Self::host_mask(self.prefix_len)
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub fn contains(&self, mac: u64) -> bool {
        (self.first..=self.last()).contains(&mac)
    }
}

impl fmt::Display for MacRange {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", format_mac(self.first), self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_in_colon_dash_and_bare_forms() {
        let want = 0xBC764E200000;
        assert_eq!(parse_mac("BC:76:4E:20:00:00"), Some(want));
        assert_eq!(parse_mac("bc-76-4e-20-00-00"), Some(want));
        assert_eq!(parse_mac("bc764e200000"), Some(want));
        assert_eq!(parse_mac("0:1:2:3:4:5"), Some(0x000102030405));
        for bad in [
            "",
            "bc:76:4e:20:00",
            "bc:76:4e:20:00:00:00",
            "gg:76:4e:20:00:00",
            "bc:76:4e:20:00:100",
            "abc",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn group_and_all_zero_macs_are_never_allocatable() {
        for no in [
            0,
            0x01_00_00_00_00_00,
            0xAB_BC_CD_12_23_34,
            MAC_MAX,
            0x03_FF_FF_FF_FF_FF,
        ] {
            assert!(!allocatable(no), "{}", format_mac(no));
        }
        for yes in [
            1,
            0x02_00_00_00_00_00,
            0xBC_76_4E_20_00_00,
            0xFE_FF_FF_FF_FF_FF,
        ] {
            assert!(allocatable(yes), "{}", format_mac(yes));
            assert_eq!(next_allocatable(yes), Some(yes));
        }
        assert_eq!(next_allocatable(0), Some(1));
        assert_eq!(
            next_allocatable(0x01_00_00_00_00_05),
            Some(0x02_00_00_00_00_00)
        );
        assert_eq!(
            next_allocatable(0xAB_BC_CD_12_23_34),
            Some(0xAC_00_00_00_00_00)
        );
        assert_eq!(next_allocatable(0xFF_00_00_00_00_00), None);
        assert_eq!(next_allocatable(MAC_MAX), None);
    }

    #[test]
    fn macs_print_upper_case_with_colons() {
        assert_eq!(format_mac(0xab_bc_cd_12_23_34), "AB:BC:CD:12:23:34");
        assert_eq!(format_mac(0), "00:00:00:00:00:00");
    }

    #[test]
    fn range_math_counts_prefix_bits_of_the_48_bit_mac() {
        let r = MacRange::parse("BC:76:4E:20:00:00/27").unwrap();
        assert_eq!(format_mac(r.first()), "BC:76:4E:20:00:00");
        assert_eq!(format_mac(r.last()), "BC:76:4E:3F:FF:FF");
        assert_eq!(r.last() - r.first() + 1, 2_097_152);
        let r = MacRange::parse("ab-bc-cd-12-23-34/40").unwrap();
        assert_eq!(r.to_string(), "AB:BC:CD:12:23:00/40");
        assert_eq!(format_mac(r.last()), "AB:BC:CD:12:23:FF");
        assert_eq!(
            MacRange::parse("ab-bc-cd-12-23-34").unwrap().to_string(),
            "AB:BC:CD:12:23:34/48"
        );
        assert_eq!(
            MacRange::parse("ab-bc-cd-12-23-34/0").unwrap().last(),
            MAC_MAX
        );
        for bad in [
            "ab-bc-cd-12-23-34/49",
            "ab-bc-cd-12-23-34/",
            "ab-bc-cd-12-23-34/-1",
            "zz/4",
            "10.0.0.0/24",
        ] {
            assert!(MacRange::parse(bad).is_none(), "{bad}");
        }
    }
}
