//! The event model: one enum, one variant per fact, each with an explicit wire name and
//! version. Events are serialized forever: a change to a payload gets a new version, the old
//! payload type stays decodable (see `infra::codec`) and is upcast on read; golden files of
//! every (type, version) live in the tests.
//!
//! Every event names the stream that guards its invariant ([`Event::stream`]): a block's
//! allocations, releases and holds live in the block's stream, a policy's rules in the
//! policy's stream, and an idempotency key in a stream of its own, so that several nodes
//! sharing one log stay correct with optimistic concurrency on a single stream per decision.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::auth::{TokenIssued, TokenRevoked};
pub use crate::interfaces::{
    AllowedIpAdded, AllowedIpRemoved, InterfaceCreated, InterfaceDeleted, MacAddressAllocated,
    MacAddressReleased, MacRangeCreated, MacRangeDeleted,
};
use crate::ipv6::Ipv6Generator;
use crate::records::{BlockType, Receipt};
pub use crate::requests::{
    NotificationDelivered, RequestApproved, RequestRejected, RequestSubmitted,
};
pub use crate::routing::{NatAssigned, NatRemoved, RouteCreated, RouteDeleted, RouteUpdated};
use crate::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCreated {
    pub block_id: Uuid,
    pub tenant_id: String,
    pub cidr: IpNet,
    pub block_type: BlockType,
    pub network_id: Option<String>,
    pub policy_id: Option<Uuid>,
    pub gateway: Option<IpAddr>,
    pub dns1: Option<IpAddr>,
    pub dns2: Option<IpAddr>,
    pub parent_id: Option<Uuid>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    /// The block's own IPv6 generator; None means the deployment's (decision 11). Absent
    /// from payloads written before generators existed, which decode as None.
    #[serde(default)]
    pub ipv6_generator: Option<Ipv6Generator>,
}

/// The full set of updatable fields after the update, so that applying it needs no history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockUpdated {
    pub block_id: Uuid,
    pub block_type: BlockType,
    pub network_id: Option<String>,
    pub policy_id: Option<Uuid>,
    pub gateway: Option<IpAddr>,
    pub dns1: Option<IpAddr>,
    pub dns2: Option<IpAddr>,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
    /// The generator override after the update (None: the deployment's).
    #[serde(default)]
    pub ipv6_generator: Option<Ipv6Generator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDeleted {
    pub block_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressAllocated {
    pub block_id: Uuid,
    pub address_id: Uuid,
    pub address: IpAddr,
    pub interface_id: Option<String>,
    /// The lessee: the tenant using the address, as opposed to the block's owner.
    pub used_by_tenant: String,
    pub used_by_device: Option<String>,
    pub mac_address: Option<String>,
    #[serde(with = "crate::time_format")]
    pub allocated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressDeallocated {
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub deallocated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRestored {
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub restored_at: Timestamp,
}

/// A soft-deallocated address removed for good (retention expired, or its block deleted);
/// the address is allocatable again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPurged {
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub purged_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCreated {
    pub policy_id: Uuid,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUpdated {
    pub policy_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

/// Deleting a policy removes its ranges and octets and detaches it from every block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDeleted {
    pub policy_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableRangeCreated {
    pub policy_id: Uuid,
    pub range_id: Uuid,
    pub offset: i64,
    pub length: u64,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableRangeUpdated {
    pub policy_id: Uuid,
    pub range_id: Uuid,
    pub offset: i64,
    pub length: u64,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableRangeDeleted {
    pub policy_id: Uuid,
    pub range_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableOctetCreated {
    pub policy_id: Uuid,
    pub octet_id: Uuid,
    pub octet: u8,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableOctetUpdated {
    pub policy_id: Uuid,
    pub octet_id: Uuid,
    pub octet: u8,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableOctetDeleted {
    pub policy_id: Uuid,
    pub octet_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}

/// The outcome of a command sent with an `Idempotency-Key`, appended atomically with the
/// command's own events so a retry (also after a restart) is answered from here and appends
/// nothing. `fingerprint` identifies the request (method, path, body) so a reused key with a
/// different request can be refused. Version 2 keeps a [`Receipt`] (ids) where version 1
/// kept the whole reply; the codec upcasts version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecorded {
    pub key: String,
    pub fingerprint: String,
    pub receipt: Receipt,
    #[serde(with = "crate::time_format")]
    pub recorded_at: Timestamp,
}

/// An idempotency key's recorded outcome is forgotten after the retention time
/// (`idempotency_keep_days`): a later request under the key is decided as a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandForgotten {
    pub key: String,
    #[serde(with = "crate::time_format")]
    pub forgotten_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    BlockCreated(BlockCreated),
    BlockUpdated(BlockUpdated),
    BlockDeleted(BlockDeleted),
    AddressAllocated(AddressAllocated),
    AddressDeallocated(AddressDeallocated),
    AddressRestored(AddressRestored),
    AddressPurged(AddressPurged),
    PolicyCreated(PolicyCreated),
    PolicyUpdated(PolicyUpdated),
    PolicyDeleted(PolicyDeleted),
    UnusableRangeCreated(UnusableRangeCreated),
    UnusableRangeUpdated(UnusableRangeUpdated),
    UnusableRangeDeleted(UnusableRangeDeleted),
    UnusableOctetCreated(UnusableOctetCreated),
    UnusableOctetUpdated(UnusableOctetUpdated),
    UnusableOctetDeleted(UnusableOctetDeleted),
    CommandRecorded(CommandRecorded),
    CommandForgotten(CommandForgotten),
    InterfaceCreated(InterfaceCreated),
    InterfaceDeleted(InterfaceDeleted),
    MacAddressAllocated(MacAddressAllocated),
    MacAddressReleased(MacAddressReleased),
    MacRangeCreated(MacRangeCreated),
    MacRangeDeleted(MacRangeDeleted),
    AllowedIpAdded(AllowedIpAdded),
    AllowedIpRemoved(AllowedIpRemoved),
    TokenIssued(TokenIssued),
    TokenRevoked(TokenRevoked),
    RouteCreated(RouteCreated),
    RouteUpdated(RouteUpdated),
    RouteDeleted(RouteDeleted),
    NatAssigned(NatAssigned),
    NatRemoved(NatRemoved),
    RequestSubmitted(RequestSubmitted),
    RequestApproved(RequestApproved),
    RequestRejected(RequestRejected),
    NotificationDelivered(NotificationDelivered),
}

/// Every (wire name, current version) pair; the golden-file test checks that each has a file.
pub const EVENT_TYPES: &[(&str, u16)] = &[
    ("BlockCreated", 1),
    ("BlockUpdated", 1),
    ("BlockDeleted", 1),
    ("AddressAllocated", 1),
    ("AddressDeallocated", 1),
    ("AddressRestored", 1),
    ("AddressPurged", 1),
    ("PolicyCreated", 1),
    ("PolicyUpdated", 1),
    ("PolicyDeleted", 1),
    ("UnusableRangeCreated", 1),
    ("UnusableRangeUpdated", 1),
    ("UnusableRangeDeleted", 1),
    ("UnusableOctetCreated", 1),
    ("UnusableOctetUpdated", 1),
    ("UnusableOctetDeleted", 1),
    ("CommandRecorded", 2),
    ("CommandForgotten", 1),
    ("InterfaceCreated", 1),
    ("InterfaceDeleted", 1),
    ("MacAddressAllocated", 1),
    ("MacAddressReleased", 1),
    ("MacRangeCreated", 1),
    ("MacRangeDeleted", 1),
    ("AllowedIpAdded", 1),
    ("AllowedIpRemoved", 1),
    ("TokenIssued", 1),
    ("TokenRevoked", 1),
    ("RouteCreated", 1),
    ("RouteUpdated", 1),
    ("RouteDeleted", 1),
    ("NatAssigned", 1),
    ("NatRemoved", 1),
    ("RequestSubmitted", 1),
    ("RequestApproved", 1),
    ("RequestRejected", 1),
    ("NotificationDelivered", 1),
];

pub fn block_stream(block_id: Uuid) -> String {
    format!("block-{block_id}")
}

pub fn policy_stream(policy_id: Uuid) -> String {
    format!("policy-{policy_id}")
}

pub fn idempotency_stream(key: &str) -> String {
    format!("idempotency-{key}")
}

impl Event {
    /// The wire name of the event type; stable forever.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::BlockCreated(_) => "BlockCreated",
            Event::BlockUpdated(_) => "BlockUpdated",
            Event::BlockDeleted(_) => "BlockDeleted",
            Event::AddressAllocated(_) => "AddressAllocated",
            Event::AddressDeallocated(_) => "AddressDeallocated",
            Event::AddressRestored(_) => "AddressRestored",
            Event::AddressPurged(_) => "AddressPurged",
            Event::PolicyCreated(_) => "PolicyCreated",
            Event::PolicyUpdated(_) => "PolicyUpdated",
            Event::PolicyDeleted(_) => "PolicyDeleted",
            Event::UnusableRangeCreated(_) => "UnusableRangeCreated",
            Event::UnusableRangeUpdated(_) => "UnusableRangeUpdated",
            Event::UnusableRangeDeleted(_) => "UnusableRangeDeleted",
            Event::UnusableOctetCreated(_) => "UnusableOctetCreated",
            Event::UnusableOctetUpdated(_) => "UnusableOctetUpdated",
            Event::UnusableOctetDeleted(_) => "UnusableOctetDeleted",
            Event::CommandRecorded(_) => "CommandRecorded",
            Event::CommandForgotten(_) => "CommandForgotten",
            Event::InterfaceCreated(_) => "InterfaceCreated",
            Event::InterfaceDeleted(_) => "InterfaceDeleted",
            Event::MacAddressAllocated(_) => "MacAddressAllocated",
            Event::MacAddressReleased(_) => "MacAddressReleased",
            Event::MacRangeCreated(_) => "MacRangeCreated",
            Event::MacRangeDeleted(_) => "MacRangeDeleted",
            Event::AllowedIpAdded(_) => "AllowedIpAdded",
            Event::AllowedIpRemoved(_) => "AllowedIpRemoved",
            Event::TokenIssued(_) => "TokenIssued",
            Event::TokenRevoked(_) => "TokenRevoked",
            Event::RouteCreated(_) => "RouteCreated",
            Event::RouteUpdated(_) => "RouteUpdated",
            Event::RouteDeleted(_) => "RouteDeleted",
            Event::NatAssigned(_) => "NatAssigned",
            Event::NatRemoved(_) => "NatRemoved",
            Event::RequestSubmitted(_) => "RequestSubmitted",
            Event::RequestApproved(_) => "RequestApproved",
            Event::RequestRejected(_) => "RequestRejected",
            Event::NotificationDelivered(_) => "NotificationDelivered",
        }
    }

    /// The version written for new events of this type.
    pub fn version(&self) -> u16 {
        let name = self.type_name();
        EVENT_TYPES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .expect("every event type is listed in EVENT_TYPES")
    }

    /// The stream whose expected version guards this event's invariant.
    pub fn stream(&self) -> String {
        match self {
            Event::BlockCreated(e) => block_stream(e.block_id),
            Event::BlockUpdated(e) => block_stream(e.block_id),
            Event::BlockDeleted(e) => block_stream(e.block_id),
            Event::AddressAllocated(e) => block_stream(e.block_id),
            Event::AddressDeallocated(e) => block_stream(e.block_id),
            Event::AddressRestored(e) => block_stream(e.block_id),
            Event::AddressPurged(e) => block_stream(e.block_id),
            Event::PolicyCreated(e) => policy_stream(e.policy_id),
            Event::PolicyUpdated(e) => policy_stream(e.policy_id),
            Event::PolicyDeleted(e) => policy_stream(e.policy_id),
            Event::UnusableRangeCreated(e) => policy_stream(e.policy_id),
            Event::UnusableRangeUpdated(e) => policy_stream(e.policy_id),
            Event::UnusableRangeDeleted(e) => policy_stream(e.policy_id),
            Event::UnusableOctetCreated(e) => policy_stream(e.policy_id),
            Event::UnusableOctetUpdated(e) => policy_stream(e.policy_id),
            Event::UnusableOctetDeleted(e) => policy_stream(e.policy_id),
            Event::CommandRecorded(e) => idempotency_stream(&e.key),
            Event::CommandForgotten(e) => idempotency_stream(&e.key),
            // An interface's stream guards its vif's uniqueness; one registry stream guards
            // MAC uniqueness (see `interfaces.rs`).
            Event::InterfaceCreated(e) => crate::interfaces::interface_stream(&e.vif),
            Event::InterfaceDeleted(e) => crate::interfaces::interface_stream(&e.vif),
            Event::AllowedIpAdded(e) => crate::interfaces::interface_stream(&e.vif),
            Event::AllowedIpRemoved(e) => crate::interfaces::interface_stream(&e.vif),
            Event::MacAddressAllocated(_) | Event::MacAddressReleased(_) => {
                crate::interfaces::MAC_REGISTRY_STREAM.to_string()
            }
            Event::MacRangeCreated(e) => crate::interfaces::mac_range_stream(e.range_id),
            Event::MacRangeDeleted(e) => crate::interfaces::mac_range_stream(e.range_id),
            // One registry stream for every token event: it guards name uniqueness.
            Event::TokenIssued(_) | Event::TokenRevoked(_) => {
                crate::auth::TOKEN_REGISTRY_STREAM.to_string()
            }
            Event::RouteCreated(e) => block_stream(e.block_id),
            Event::RouteUpdated(e) => block_stream(e.block_id),
            Event::RouteDeleted(e) => block_stream(e.block_id),
            // A NAT pair lives in its local address's block stream: assigning from either
            // side appends there, so one stream's version guards the pair's uniqueness.
            Event::NatAssigned(e) => block_stream(e.local_block_id),
            Event::NatRemoved(e) => block_stream(e.local_block_id),
            // A request holds its address: it lives in that address's block stream, whose
            // version guards the hold against allocation and a second request.
            Event::RequestSubmitted(e) => block_stream(e.block_id),
            Event::RequestApproved(e) => block_stream(e.block_id),
            Event::RequestRejected(e) => block_stream(e.block_id),
            // Delivery records guard nothing but "sent once": a stream per request.
            Event::NotificationDelivered(e) => crate::requests::notification_stream(e.request_id),
        }
    }
}
