//! Interfaces (vifs), the MACs they hold, MAC address ranges and allowed IPs: their event
//! payloads, records and streams (melange-semantics.md §4, decisions 15, 16, 19). Kept apart
//! from `events.rs` so the family's facts read in one place; `events.rs` re-exports the
//! payloads and names their streams.
//!
//! Streams, one invariant each:
//! * `interface-<vif>` — the interface's life and its allowed IPs; its expected version
//!   guards the uniqueness of the vif id across tenants (decision 15).
//! * [`MAC_REGISTRY_STREAM`] — every MAC allocation and release, from a range or given
//!   explicitly: one stream guards "a MAC is held by one interface at most".
//! * `mac-range-<id>` — a range's creation and deletion.
//!
//! An interface's addresses are ordinary `AddressAllocated` events (in their block's stream)
//! that name the vif in `interface_id`; there is no separate link event, so the allocation
//! path that existed before interfaces stays valid.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payload::payload;
use crate::records::{AddressRecord, BlockRecord};
use crate::routing::RouteRecord;
use crate::Timestamp;

/// The one stream of MAC allocations and releases.
pub const MAC_REGISTRY_STREAM: &str = "mac-addresses";

pub fn interface_stream(vif: &str) -> String {
    format!("interface-{vif}")
}

pub fn mac_range_stream(range_id: Uuid) -> String {
    format!("mac-range-{range_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceCreated {
    /// Internal id: orders a device's interfaces by creation.
    pub interface_id: Uuid,
    /// The caller's virtual interface id, unique across tenants (the JSON `id`).
    pub vif: String,
    /// The lessee.
    pub tenant_id: String,
    pub device_id: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
// An interface's stream guards its vif's uniqueness; one registry stream guards MAC
// uniqueness (see the module docs).
payload! { InterfaceCreated, "InterfaceCreated", 1, |e| interface_stream(&e.vif) }

/// The interface is gone; its MAC release and its addresses' deallocations are events of
/// their own in the same decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceDeleted {
    pub interface_id: Uuid,
    pub vif: String,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { InterfaceDeleted, "InterfaceDeleted", 1, |e| interface_stream(&e.vif) }

/// A MAC taken by an interface: from `range_id`, or given by the caller (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacAddressAllocated {
    pub mac: u64,
    pub vif: String,
    pub range_id: Option<Uuid>,
    #[serde(with = "crate::time_format")]
    pub allocated_at: Timestamp,
}
payload! { MacAddressAllocated, "MacAddressAllocated", 1, |_| MAC_REGISTRY_STREAM.to_string() }

/// A MAC given back; it may be allocated again at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacAddressReleased {
    pub mac: u64,
    pub vif: String,
    #[serde(with = "crate::time_format")]
    pub released_at: Timestamp,
}
payload! { MacAddressReleased, "MacAddressReleased", 1, |_| MAC_REGISTRY_STREAM.to_string() }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacRangeCreated {
    pub range_id: Uuid,
    /// First MAC of the range (host bits cleared).
    pub first: u64,
    pub prefix_len: u8,
    /// Accepted from the body and shown back (python-melangeclient sends one).
    pub tenant_id: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { MacRangeCreated, "MacRangeCreated", 1, |e| mac_range_stream(e.range_id) }

/// Deleting a range leaves the MACs already allocated from it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacRangeDeleted {
    pub range_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { MacRangeDeleted, "MacRangeDeleted", 1, |e| mac_range_stream(e.range_id) }

/// An address explicitly allowed on an interface (decision 19), named by block and address
/// like the address events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedIpAdded {
    pub vif: String,
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub added_at: Timestamp,
}
payload! { AllowedIpAdded, "AllowedIpAdded", 1, |e| interface_stream(&e.vif) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedIpRemoved {
    pub vif: String,
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub removed_at: Timestamp,
}
payload! { AllowedIpRemoved, "AllowedIpRemoved", 1, |e| interface_stream(&e.vif) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceRecord {
    pub id: Uuid,
    pub vif: String,
    pub tenant_id: String,
    pub device_id: Option<String>,
    pub mac_address: Option<u64>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacRangeRecord {
    pub id: Uuid,
    pub first: u64,
    pub prefix_len: u8,
    pub tenant_id: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

/// Melange's ip-configuration view: an address with its block and the block's routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfiguration {
    pub address: AddressRecord,
    pub block: BlockRecord,
    #[serde(default)]
    pub routes: Vec<RouteRecord>,
}

/// An interface with its live addresses, as the interface endpoints answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceView {
    pub interface: InterfaceRecord,
    pub ip_addresses: Vec<IpConfiguration>,
}
