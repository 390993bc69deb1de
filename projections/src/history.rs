//! Every block the log ever created, by CIDR, kept after the block is deleted: what an
//! address's holder timeline (`GET /v1/history/addresses/{address}`) reads to find the block
//! streams that could ever have held it — through deletion and re-creation under a new id.
//! The timeline itself is read from those streams through the store, not kept here: the
//! cost is per block (a CIDR and an id, ~60 bytes), nothing per address, so a provider with
//! 10M addresses in a few thousand blocks pays kilobytes.

use imbl::OrdMap;
use std::net::IpAddr;

use ipnet::IpNet;
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlocksEver {
    /// Each CIDR's blocks, in creation order.
    by_cidr: OrdMap<IpNet, Vec<Uuid>>,
}

impl BlocksEver {
    pub(crate) fn record(&mut self, cidr: IpNet, id: Uuid) {
        self.by_cidr.entry(cidr.trunc()).or_default().push(id);
    }

    /// The blocks ever created whose CIDR contains `address`, broadest first, each CIDR's in
    /// creation order: one exact lookup per prefix length (33 for IPv4, 129 for IPv6).
    pub fn containing(&self, address: IpAddr) -> Vec<Uuid> {
        let max = if address.is_ipv4() { 32 } else { 128 };
        (0..=max)
            .filter_map(|len| IpNet::new(address, len).ok())
            .filter_map(|net| self.by_cidr.get(&net.trunc()))
            .flatten()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_block_ever_holding_an_address_broadest_first() {
        let mut ever = BlocksEver::default();
        let (a, b, c, d) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        ever.record("10.0.0.0/24".parse().unwrap(), b);
        ever.record("10.0.0.0/16".parse().unwrap(), a);
        ever.record("10.0.0.0/24".parse().unwrap(), c);
        ever.record("10.0.1.0/24".parse().unwrap(), d);
        assert_eq!(ever.containing("10.0.0.7".parse().unwrap()), vec![a, b, c]);
        assert_eq!(ever.containing("10.0.1.7".parse().unwrap()), vec![a, d]);
        assert!(ever.containing("192.168.0.1".parse().unwrap()).is_empty());
        assert!(ever.containing("2001:db8::1".parse().unwrap()).is_empty());
    }
}
