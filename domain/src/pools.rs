//! Resource pools (issue 9 §2, Infrahub's Resource Manager, seed 002): a pool hands out the
//! next address of its resource blocks (an address pool) or the next free child prefix of
//! them, which becomes a block (a prefix pool), idempotently by an identifier.
//!
//! A pool's life and its allocations live in the pool's own stream `pool-{id}`, whose
//! version guards the identifiers (one identifier, one allocation). The address or prefix
//! itself is an ordinary `AddressAllocated` or `BlockCreated` in its block's stream, emitted
//! in the same decision: the free maps, the Melange listings, `verify` and the single writer
//! cover pool allocations with no extra code, and no surface can take what a pool holds.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payload::payload;
use crate::rejection::FieldErrors;
use crate::Timestamp;

/// A pool's name, in bytes.
pub const POOL_NAME_BYTES_MAX: usize = 255;
/// An allocation identifier, in bytes (it is a path segment: the safe set of path ids).
pub const IDENTIFIER_BYTES_MAX: usize = 255;
/// A zone name, in characters (a DNS label: `[a-z0-9-]`).
pub const ZONE_CHARS_MAX: usize = 63;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    Address,
    Prefix,
}

impl PoolKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "address" => Some(PoolKind::Address),
            "prefix" => Some(PoolKind::Prefix),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::Address => "address",
            PoolKind::Prefix => "prefix",
        }
    }
}

/// Where in the pool's space the next allocation is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolStrategy {
    /// The lowest free address or prefix, resources in order.
    First,
    /// The highest, resources in reverse order (Infrahub #3413).
    Last,
    /// Prefix pools only: the smallest free aligned hole that fits, so large holes stay whole.
    BestFit,
}

impl PoolStrategy {
    pub const NAMES: &'static str = "first, last, best_fit";

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "first" => Some(PoolStrategy::First),
            "last" => Some(PoolStrategy::Last),
            "best_fit" => Some(PoolStrategy::BestFit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PoolStrategy::First => "first",
            PoolStrategy::Last => "last",
            PoolStrategy::BestFit => "best_fit",
        }
    }
}

/// A pool as the projections keep it and the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRecord {
    pub id: Uuid,
    pub name: String,
    pub kind: PoolKind,
    pub tenant_id: String,
    /// Block ids of the pool's tenant, in the order allocation tries them.
    pub resources: Vec<Uuid>,
    pub default_prefix_length: Option<u8>,
    pub zone: Option<String>,
    pub strategy: PoolStrategy,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

/// One allocation of a pool: an address (address pools) or a new block (prefix pools).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolAllocationRecord {
    pub id: Uuid,
    pub pool_id: Uuid,
    pub identifier: String,
    /// The block holding the address, or the new block.
    pub block_id: Uuid,
    /// The pool resource it was taken from (for an address, `block_id` itself).
    pub resource_id: Uuid,
    /// The `AddressAllocated` id of an address pool's allocation.
    pub address_id: Option<Uuid>,
    pub address: Option<IpAddr>,
    pub prefix: Option<IpNet>,
    /// The length shown with the address, or the new block's.
    pub prefix_length: u8,
    /// The strategy the request asked for (None: the pool's); part of its parameters.
    pub strategy: Option<PoolStrategy>,
    /// The client's `data`, as compact JSON text.
    pub data: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}

impl PoolAllocationRecord {
    /// Whether a request with these parameters asks for this allocation again (same
    /// identifier, same parameters: the same allocation; otherwise 409).
    pub fn same_request(
        &self,
        prefix_length: u8,
        strategy: Option<PoolStrategy>,
        data: Option<&str>,
    ) -> bool {
        self.prefix_length == prefix_length
            && self.strategy == strategy
            && self.data.as_deref() == data
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCreated {
    pub pool_id: Uuid,
    pub name: String,
    pub kind: PoolKind,
    pub tenant_id: String,
    pub resources: Vec<Uuid>,
    pub default_prefix_length: Option<u8>,
    pub zone: Option<String>,
    pub strategy: PoolStrategy,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { PoolCreated, "PoolCreated", 1, |e| pool_stream(e.pool_id) }

/// The full set of updatable fields after the update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUpdated {
    pub pool_id: Uuid,
    pub name: String,
    pub resources: Vec<Uuid>,
    pub default_prefix_length: Option<u8>,
    pub zone: Option<String>,
    pub strategy: PoolStrategy,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}
payload! { PoolUpdated, "PoolUpdated", 1, |e| pool_stream(e.pool_id) }

/// Only a pool without allocations is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolDeleted {
    pub pool_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { PoolDeleted, "PoolDeleted", 1, |e| pool_stream(e.pool_id) }

/// An allocation under `identifier`; the `AddressAllocated` (address pools) or the subnet's
/// `BlockCreated` and its parent's `SubnetAdded` (prefix pools) of the same decision hold
/// the space in the block's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolAllocated {
    pub pool_id: Uuid,
    pub allocation_id: Uuid,
    pub identifier: String,
    pub block_id: Uuid,
    pub resource_id: Uuid,
    pub address_id: Option<Uuid>,
    pub address: Option<IpAddr>,
    pub prefix: Option<IpNet>,
    pub prefix_length: u8,
    pub strategy: Option<PoolStrategy>,
    pub data: Option<String>,
    #[serde(with = "crate::time_format")]
    pub allocated_at: Timestamp,
}
payload! { PoolAllocated, "PoolAllocated", 1, |e| pool_stream(e.pool_id) }

/// The identifier is free again; the address is deallocated and purged (or the block
/// deleted) by the events of the same decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolReleased {
    pub pool_id: Uuid,
    pub allocation_id: Uuid,
    pub identifier: String,
    #[serde(with = "crate::time_format")]
    pub released_at: Timestamp,
}
payload! { PoolReleased, "PoolReleased", 1, |e| pool_stream(e.pool_id) }

pub fn pool_stream(pool_id: Uuid) -> String {
    format!("pool-{pool_id}")
}

/// A zone is a DNS label: 1 to 63 of `a-z`, `0-9` and `-`, not starting or ending with `-`.
pub fn valid_zone(text: &str) -> bool {
    (1..=ZONE_CHARS_MAX).contains(&text.len())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An identifier names its allocation in a path (`/allocations/{identifier}`): the path id
/// safe set, 1 to 255 ASCII letters, digits and `. _ ~ : -`, not `.` or `..`.
pub fn valid_identifier(text: &str) -> bool {
    (1..=IDENTIFIER_BYTES_MAX).contains(&text.len())
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~:-".contains(&b))
}

/// Checks a pool name: 1 to [`POOL_NAME_BYTES_MAX`] bytes after trimming.
pub fn check_name(errors: &mut FieldErrors, name: Option<&str>) -> Option<String> {
    match name.map(str::trim) {
        None | Some("") => {
            errors.add("name", "name is required");
            None
        }
        Some(n) if n.len() > POOL_NAME_BYTES_MAX => {
            errors.add(
                "name",
                format!("name is longer than {POOL_NAME_BYTES_MAX} bytes"),
            );
            None
        }
        Some(n) => Some(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_dns_labels() {
        for good in ["fr-par-1", "a", "z9", &"a".repeat(63)] {
            assert!(valid_zone(good), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "fr_par", "a.b", &"a".repeat(64)] {
            assert!(!valid_zone(bad), "{bad}");
        }
    }

    #[test]
    fn identifiers_are_path_ids() {
        assert!(valid_identifier("vm-42.eth0"));
        assert!(valid_identifier("a:b~c_d"));
        for bad in ["", ".", "..", "a/b", "a b", "é", &"a".repeat(256)] {
            assert!(!valid_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn kinds_and_strategies_parse_their_names() {
        for k in [PoolKind::Address, PoolKind::Prefix] {
            assert_eq!(PoolKind::parse(k.as_str()), Some(k));
        }
        for s in [
            PoolStrategy::First,
            PoolStrategy::Last,
            PoolStrategy::BestFit,
        ] {
            assert_eq!(PoolStrategy::parse(s.as_str()), Some(s));
        }
        assert_eq!(PoolStrategy::parse("random"), None);
    }
}
