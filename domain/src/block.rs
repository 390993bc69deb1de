//! Block geometry: parsing and normalising CIDRs, default gateway, broadcast and netmask as
//! Melange renders them, and the mapping between addresses and offsets in a block.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Parses a CIDR (or a bare address, taken as /32 or /128) and normalises it to its network
/// address, as Melange did: `10.0.0.1/31` becomes `10.0.0.0/31` (decision 2).
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match text.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => IpNet::V4(Ipv4Net::new(a, 32).ok()?),
            IpAddr::V6(a) => IpNet::V6(Ipv6Net::new(a, 128).ok()?),
        },
    };
    Some(net.trunc())
}

/// Parses an address in any textual form (IPv6 verbose or compressed; IPv4 with leading
/// zeros in an octet, which Melange normalised: `10.11.003.255` is `10.11.3.255`).
pub fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr);
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

/// Host bits of the block: 0 for a /32 or /128.
pub fn host_bits(cidr: &IpNet) -> u8 {
    cidr.max_prefix_len() - cidr.prefix_len()
}

/// Number of addresses, saturating at `u128::MAX` for `::/0` (2^128 does not fit).
pub fn size(cidr: &IpNet) -> u128 {
    let bits = host_bits(cidr);
    if bits >= 128 {
        u128::MAX
    } else {
        1u128 << bits
    }
}

/// The offset of the last (broadcast) address; `u128::MAX` for `::/0`, whose size saturates.
pub fn last_offset(cidr: &IpNet) -> u128 {
    if host_bits(cidr) >= 128 {
        u128::MAX
    } else {
        size(cidr) - 1
    }
}

pub fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v4: bool, value: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// The offset of `addr` in the block, or None if it lies outside (or is the other family).
pub fn offset_of(cidr: &IpNet, addr: IpAddr) -> Option<u128> {
    if !cidr.contains(&addr) {
        return None;
    }
    Some(to_u128(addr) - to_u128(cidr.network()))
}

/// The address at `offset` (callers keep offsets below [`size`]).
pub fn address_at(cidr: &IpNet, offset: u128) -> IpAddr {
    from_u128(cidr.network().is_ipv4(), to_u128(cidr.network()) + offset)
}

/// The spec's default gateway: the second address, when the block has more than one.
pub fn default_gateway(cidr: &IpNet) -> Option<IpAddr> {
    (host_bits(cidr) > 0).then(|| address_at(cidr, 1))
}

/// The last address of the block, for IPv6 too (Melange's `broadcast`).
pub fn broadcast(cidr: &IpNet) -> IpAddr {
    cidr.broadcast()
}

/// Dotted quad for IPv4; for IPv6 the prefix length as a string, as Melange rendered it.
pub fn netmask(cidr: &IpNet) -> String {
    match cidr {
        IpNet::V4(n) => n.netmask().to_string(),
        IpNet::V6(n) => n.prefix_len().to_string(),
    }
}

/// "Overlap" in Melange's sense: either block contains the other.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// Offsets never handed out by automatic allocation, whatever the policy says: the gateway,
/// the broadcast (last) address, and the IPv4 network address of a /30 or shorter block
/// (decision 7). A specific request may still name the network address.
pub fn reserved_offsets(cidr: &IpNet, gateway: Option<IpAddr>) -> Vec<u128> {
    let mut reserved = vec![last_offset(cidr)];
    if let Some(offset) = gateway.and_then(|g| offset_of(cidr, g)) {
        reserved.push(offset);
    }
    reserved
}

/// Whether automatic allocation skips the network address (IPv4, prefix /30 or shorter).
pub fn skips_network_address(cidr: &IpNet) -> bool {
    cidr.network().is_ipv4() && cidr.prefix_len() <= 30
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        parse_cidr(s).unwrap()
    }

    #[test]
    fn cidr_is_normalised_to_its_network_address() {
        assert_eq!(net("10.0.0.1/31").to_string(), "10.0.0.0/31");
        assert_eq!(net("30.1.1.1/24").to_string(), "30.1.1.0/24");
        assert_eq!(net("fe::1/64").to_string(), "fe::/64");
        assert_eq!(net("10.1.1.1").to_string(), "10.1.1.1/32");
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("abc").is_none());
    }

    #[test]
    fn addresses_parse_in_every_form() {
        assert_eq!(
            parse_address("10.11.003.255").unwrap().to_string(),
            "10.11.3.255"
        );
        assert_eq!(
            parse_address("00fe:0000:0000:0000:0000:0000:ffdd:eeff")
                .unwrap()
                .to_string(),
            "fe::ffdd:eeff"
        );
        assert!(parse_address("10.0.0.256").is_none());
        assert!(parse_address("abc").is_none());
    }

    #[test]
    fn melange_renders_broadcast_and_netmask() {
        assert_eq!(
            broadcast(&net("fe::/64")).to_string(),
            "fe::ffff:ffff:ffff:ffff"
        );
        assert_eq!(netmask(&net("fe::/64")), "64");
        assert_eq!(netmask(&net("10.0.0.0/24")), "255.255.255.0");
        assert_eq!(broadcast(&net("10.1.1.0/30")).to_string(), "10.1.1.3");
    }

    #[test]
    fn gateway_defaults_to_the_second_address() {
        assert_eq!(
            default_gateway(&net("10.0.0.0/24")).unwrap().to_string(),
            "10.0.0.1"
        );
        assert_eq!(
            default_gateway(&net("fe::/64")).unwrap().to_string(),
            "fe::1"
        );
        assert_eq!(default_gateway(&net("10.0.0.5/32")), None);
    }

    #[test]
    fn offsets_round_trip() {
        let n = net("10.0.0.0/24");
        let a = parse_address("10.0.0.77").unwrap();
        assert_eq!(offset_of(&n, a), Some(77));
        assert_eq!(address_at(&n, 77), a);
        assert_eq!(offset_of(&n, parse_address("10.0.1.0").unwrap()), None);
        assert_eq!(offset_of(&n, parse_address("fe::1").unwrap()), None);
        assert_eq!(size(&net("::/0")), u128::MAX);
    }
}
