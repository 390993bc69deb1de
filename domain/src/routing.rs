//! Static routes and NAT: their event payloads, the route record, and the rules a route's
//! fields must follow. Kept apart from `events.rs` so the family's facts read in one place;
//! `events.rs` re-exports the payloads and names their streams.
//!
//! Melange stored route fields without any check (melange-semantics.md §6). ipledger is
//! stricter: `destination` must be an address or a CIDR, `gateway` an address of the same IP
//! version, and `netmask` (optional) a contiguous mask or a prefix length that agrees with the
//! destination. Values are stored normalised (IPv6 compressed, CIDRs on their network address).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::block::{parse_address, parse_cidr};
use crate::events::block_stream;
use crate::payload::payload;
use crate::rejection::{FieldErrors, Rejection};
use crate::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRecord {
    pub id: Uuid,
    /// The block the route belongs to (Melange's `source_block_id`).
    pub block_id: Uuid,
    pub destination: String,
    pub gateway: String,
    pub netmask: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteCreated {
    pub block_id: Uuid,
    pub route_id: Uuid,
    pub destination: String,
    pub gateway: String,
    pub netmask: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { RouteCreated, "RouteCreated", 1, |e| block_stream(e.block_id) }

/// The route's fields after the update, so that applying it needs no history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteUpdated {
    pub block_id: Uuid,
    pub route_id: Uuid,
    pub destination: String,
    pub gateway: String,
    pub netmask: Option<String>,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}
payload! { RouteUpdated, "RouteUpdated", 1, |e| block_stream(e.block_id) }

/// A route removed on request, or with its block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteDeleted {
    pub block_id: Uuid,
    pub route_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { RouteDeleted, "RouteDeleted", 1, |e| block_stream(e.block_id) }

/// A NAT pair: `global` is an inside global of `local` (and `local` an inside local of
/// `global`, the same row seen from the other side). Both sides are named by id, block and
/// address so the log reads on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatAssigned {
    pub local_block_id: Uuid,
    pub local_address_id: Uuid,
    pub local_address: IpAddr,
    pub global_block_id: Uuid,
    pub global_address_id: Uuid,
    pub global_address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub assigned_at: Timestamp,
}
// A NAT pair lives in its local address's block stream: assigning from either side appends
// there, so one stream's version guards the pair's uniqueness.
payload! { NatAssigned, "NatAssigned", 1, |e| block_stream(e.local_block_id) }

/// A NAT pair removed on request, or because one of its addresses was purged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatRemoved {
    pub local_block_id: Uuid,
    pub local_address_id: Uuid,
    pub local_address: IpAddr,
    pub global_block_id: Uuid,
    pub global_address_id: Uuid,
    pub global_address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub removed_at: Timestamp,
}
payload! { NatRemoved, "NatRemoved", 1, |e| block_stream(e.local_block_id) }

/// A route's fields after validation, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFields {
    pub destination: String,
    pub gateway: String,
    pub netmask: Option<String>,
}

/// A parsed destination: an address, or a network written with its prefix.
#[derive(Debug, Clone, Copy)]
enum Destination {
    Host(IpAddr),
    Net(IpNet),
}

impl Destination {
    fn is_ipv4(self) -> bool {
        match self {
            Destination::Host(a) => a.is_ipv4(),
            Destination::Net(n) => matches!(n, IpNet::V4(_)),
        }
    }

    fn render(self) -> String {
        match self {
            Destination::Host(a) => a.to_string(),
            Destination::Net(n) => n.to_string(),
        }
    }
}

fn parse_destination(text: &str) -> Option<Destination> {
    if text.contains('/') {
        // `text.parse` first: `parse_cidr` also takes bare addresses, which have no '/'.
        text.trim().parse::<IpNet>().ok()?;
        parse_cidr(text).map(Destination::Net)
    } else {
        parse_address(text).map(Destination::Host)
    }
}

/// The prefix length a mask address stands for, if its one-bits are contiguous.
fn mask_prefix(mask: IpAddr) -> Option<u8> {
    let (bits, width) = match mask {
        IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let ones = bits.leading_ones();
    (bits.count_ones() == ones).then_some(ones.min(width) as u8)
}

/// A netmask: a contiguous mask address (`255.255.255.0`) or a prefix length (`64`, the
/// form Melange printed for IPv6 blocks). Returns the normalised text and the prefix.
fn parse_netmask(text: &str) -> Option<(String, u8, Option<bool>)> {
    let t = text.trim();
    if !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()) {
        let prefix: u8 = t.parse().ok().filter(|p| *p <= 128)?;
        return Some((prefix.to_string(), prefix, None));
    }
    let mask = parse_address(t)?;
    let prefix = mask_prefix(mask)?;
    Some((mask.to_string(), prefix, Some(mask.is_ipv4())))
}

/// A required field parsed with `parse`; a missing or unparsable one is noted in `errors`.
fn required<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    invalid: &str,
) -> Option<T> {
    let Some(text) = present(value) else {
        errors.add(field, format!("{field} should be present"));
        return None;
    };
    let parsed = parse(text);
    if parsed.is_none() {
        errors.add(field, invalid);
    }
    parsed
}

fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.trim().is_empty())
}

const DESTINATION_INVALID: &str = "destination should be an IP address or CIDR";
const GATEWAY_INVALID: &str = "gateway is not a valid address";
const NETMASK_INVALID: &str =
    "netmask should be a contiguous mask (e.g. 255.255.255.0) or a prefix length";

/// Validates a route's fields, collecting every problem so the 400 lists them all.
pub fn validate_route(
    destination: Option<&str>,
    gateway: Option<&str>,
    netmask: Option<&str>,
) -> Result<RouteFields, Rejection> {
    let mut errors = FieldErrors::default();
    let dest = required(
        &mut errors,
        "destination",
        destination,
        parse_destination,
        DESTINATION_INVALID,
    );
    let gw = required(
        &mut errors,
        "gateway",
        gateway,
        parse_address,
        GATEWAY_INVALID,
    );
    let mask = present(netmask).and_then(|m| {
        parse_netmask(m).or_else(|| {
            errors.add("netmask", NETMASK_INVALID);
            None
        })
    });
    if let (Some(d), Some(g)) = (dest, gw) {
        if d.is_ipv4() != g.is_ipv4() {
            errors.add(
                "gateway",
                "gateway should be of the same IP version as destination",
            );
        }
    }
    if let (Some(d), Some((_, prefix, mask_v4))) = (dest, &mask) {
        check_mask_against(d, *prefix, *mask_v4, &mut errors);
    }
    errors.into_result()?;
    Ok(RouteFields {
        destination: dest.map(Destination::render).unwrap_or_default(),
        gateway: gw.map(|g| g.to_string()).unwrap_or_default(),
        netmask: mask.map(|(text, _, _)| text),
    })
}

fn check_mask_against(d: Destination, prefix: u8, mask_v4: Option<bool>, errors: &mut FieldErrors) {
    let width = if d.is_ipv4() { 32 } else { 128 };
    if mask_v4.is_some_and(|v4| v4 != d.is_ipv4()) || prefix > width {
        errors.add(
            "netmask",
            "netmask should be of the same IP version as destination",
        );
    } else if let Destination::Net(n) = d {
        if n.prefix_len() != prefix {
            errors.add(
                "netmask",
                "netmask does not match the destination's prefix length",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(d: &str, g: &str, m: Option<&str>) -> RouteFields {
        validate_route(Some(d), Some(g), m).expect("valid route")
    }

    fn fields(r: Result<RouteFields, Rejection>) -> Vec<String> {
        match r {
            Err(Rejection::Invalid(map)) => map.keys().cloned().collect(),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn accepts_addresses_cidrs_masks_and_prefix_lengths() {
        let r = ok("10.1.1.2", "10.1.1.1", Some("255.255.255.0"));
        assert_eq!(r.netmask.as_deref(), Some("255.255.255.0"));
        assert_eq!(
            ok("192.168.0.5/24", "10.0.0.1", None).destination,
            "192.168.0.0/24"
        );
        let v6 = ok("2001:0db8:0:0:0:0:0:0/64", "fe80::1", Some("64"));
        assert_eq!(v6.destination, "2001:db8::/64");
        assert_eq!(v6.netmask.as_deref(), Some("64"));
        assert_eq!(
            ok("10.0.0.0", "10.0.0.1", Some("0.0.0.0"))
                .netmask
                .as_deref(),
            Some("0.0.0.0")
        );
    }

    #[test]
    fn refuses_every_bad_field_at_once() {
        let r = validate_route(Some("10.1.1"), Some("gw"), Some("255.0.255.0"));
        assert_eq!(fields(r), ["destination", "gateway", "netmask"]);
        let r = validate_route(None, Some(" "), None);
        assert_eq!(fields(r), ["destination", "gateway"]);
    }

    #[test]
    fn refuses_mixed_versions_and_disagreeing_masks() {
        assert_eq!(
            fields(validate_route(Some("10.0.0.0"), Some("::1"), None)),
            ["gateway"]
        );
        let r = validate_route(Some("10.0.0.0/16"), Some("10.0.0.1"), Some("255.255.255.0"));
        assert_eq!(fields(r), ["netmask"]);
        let r = validate_route(Some("10.0.0.0"), Some("10.0.0.1"), Some("64"));
        assert_eq!(fields(r), ["netmask"]);
        let r = validate_route(Some("fe::"), Some("fe::1"), Some("255.255.0.0"));
        assert_eq!(fields(r), ["netmask"]);
    }
}
