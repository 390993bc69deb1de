//! The event model: one enum, one variant per fact, each with an explicit wire name and
//! version. Events are serialized forever: a change to a payload gets a new version, the old
//! payload type stays decodable (see `infra::codec`) and is upcast on read; golden files of
//! every (type, version) live in the tests.
//!
//! Every event names the stream that guards its invariant ([`Event::stream`]): a block's
//! allocations, releases and holds live in the block's stream, a policy's rules in the
//! policy's stream, and an idempotency key in a stream of its own, so that several nodes
//! sharing one log stay correct with optimistic concurrency on a single stream per decision.
//!
//! Each payload declares its wire name, version and stream with `payload!` beside its struct
//! (here or in its resource's module); the [`events!`](crate::payload) table at the end of
//! this file is the one list of event types, and generates [`Event`] and its plumbing.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ipv6::Ipv6Generator;
use crate::payload::{events, payload};
use crate::records::{BlockType, Receipt};
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
payload! { BlockCreated, "BlockCreated", 1, |e| block_stream(e.block_id) }

/// A subnet made in `parent_id`, written to the parent's stream by the decision that made
/// it (next to the subnet's `BlockCreated`, in the subnet's own stream). Decisions about a
/// parent's space (an overlapping sibling, an address of its own, a prefix pool's carving)
/// read its subnets; on a shared log this event moves the parent's version, so two nodes
/// deciding about one parent at once conflict there and the later one decides again.
/// Logs written before it existed (one writer: no such race) simply lack it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetAdded {
    pub parent_id: Uuid,
    pub block_id: Uuid,
    pub cidr: IpNet,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { SubnetAdded, "SubnetAdded", 1, |e| block_stream(e.parent_id) }

/// Where a block's overlap rules look beyond its own parent (melange-semantics.md §1): the
/// top-level blocks of one network (rule 4, across tenants; the network's type rule too),
/// or the root public blocks of every tenant (rule 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimScope {
    Network(String),
    Public,
}

/// A block entering a scope whose rules read other blocks' state: written by the decision
/// that creates it (or moves it there by an update of its network or type), next to its own
/// `BlockCreated`/`BlockUpdated`, to the scope's stream. Those other blocks live in streams
/// of their own, so without it two nodes placing overlapping blocks in one network, or two
/// overlapping public blocks, at once would both pass; with it they conflict on the scope's
/// version and the later decides again. The projection ignores it (the block's own event
/// records it). Logs written before it existed (one writer: no such race) simply lack it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockClaimed {
    pub block_id: Uuid,
    pub cidr: IpNet,
    pub scope: ClaimScope,
    #[serde(with = "crate::time_format")]
    pub claimed_at: Timestamp,
}
payload! { BlockClaimed, "BlockClaimed", 1, |e| claim_stream(&e.scope) }

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
payload! { BlockUpdated, "BlockUpdated", 1, |e| block_stream(e.block_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDeleted {
    pub block_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { BlockDeleted, "BlockDeleted", 1, |e| block_stream(e.block_id) }

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
payload! { AddressAllocated, "AddressAllocated", 1, |e| block_stream(e.block_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressDeallocated {
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub deallocated_at: Timestamp,
}
payload! { AddressDeallocated, "AddressDeallocated", 1, |e| block_stream(e.block_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRestored {
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub restored_at: Timestamp,
}
payload! { AddressRestored, "AddressRestored", 1, |e| block_stream(e.block_id) }

/// A soft-deallocated address removed for good (retention expired, or its block deleted);
/// the address is allocatable again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPurged {
    pub block_id: Uuid,
    pub address: IpAddr,
    #[serde(with = "crate::time_format")]
    pub purged_at: Timestamp,
}
payload! { AddressPurged, "AddressPurged", 1, |e| block_stream(e.block_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCreated {
    pub policy_id: Uuid,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { PolicyCreated, "PolicyCreated", 1, |e| policy_stream(e.policy_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUpdated {
    pub policy_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}
payload! { PolicyUpdated, "PolicyUpdated", 1, |e| policy_stream(e.policy_id) }

/// Deleting a policy removes its ranges and octets and detaches it from every block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDeleted {
    pub policy_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { PolicyDeleted, "PolicyDeleted", 1, |e| policy_stream(e.policy_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableRangeCreated {
    pub policy_id: Uuid,
    pub range_id: Uuid,
    pub offset: i64,
    pub length: u64,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { UnusableRangeCreated, "UnusableRangeCreated", 1, |e| policy_stream(e.policy_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableRangeUpdated {
    pub policy_id: Uuid,
    pub range_id: Uuid,
    pub offset: i64,
    pub length: u64,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}
payload! { UnusableRangeUpdated, "UnusableRangeUpdated", 1, |e| policy_stream(e.policy_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableRangeDeleted {
    pub policy_id: Uuid,
    pub range_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { UnusableRangeDeleted, "UnusableRangeDeleted", 1, |e| policy_stream(e.policy_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableOctetCreated {
    pub policy_id: Uuid,
    pub octet_id: Uuid,
    pub octet: u8,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { UnusableOctetCreated, "UnusableOctetCreated", 1, |e| policy_stream(e.policy_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableOctetUpdated {
    pub policy_id: Uuid,
    pub octet_id: Uuid,
    pub octet: u8,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}
payload! { UnusableOctetUpdated, "UnusableOctetUpdated", 1, |e| policy_stream(e.policy_id) }

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableOctetDeleted {
    pub policy_id: Uuid,
    pub octet_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub deleted_at: Timestamp,
}
payload! { UnusableOctetDeleted, "UnusableOctetDeleted", 1, |e| policy_stream(e.policy_id) }

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
payload! { CommandRecorded, "CommandRecorded", 2, |e| idempotency_stream(&e.key) }

/// An idempotency key's recorded outcome is forgotten after the retention time
/// (`idempotency_keep_days`): a later request under the key is decided as a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandForgotten {
    pub key: String,
    #[serde(with = "crate::time_format")]
    pub forgotten_at: Timestamp,
}
payload! { CommandForgotten, "CommandForgotten", 1, |e| idempotency_stream(&e.key) }

pub fn block_stream(block_id: Uuid) -> String {
    format!("block-{block_id}")
}

/// The stream guarding a [`ClaimScope`]: `network-{network_id}` (no tenant: the network
/// rule holds across tenants) or `public-blocks` (one hot stream: public space is global).
pub fn claim_stream(scope: &ClaimScope) -> String {
    match scope {
        ClaimScope::Network(network_id) => format!("network-{network_id}"),
        ClaimScope::Public => "public-blocks".to_string(),
    }
}

pub fn policy_stream(policy_id: Uuid) -> String {
    format!("policy-{policy_id}")
}

pub fn idempotency_stream(key: &str) -> String {
    format!("idempotency-{key}")
}

// The one list of event types (see `crate::payload`). A group names where its payloads live;
// every name becomes a variant of `Event`, in this order, and a payload of another module is
// re-exported from here. Adding an event type: its struct and `payload!` line in its module,
// and its name here.
events! {
    self {
        BlockCreated, SubnetAdded, BlockClaimed, BlockUpdated, BlockDeleted,
        AddressAllocated, AddressDeallocated, AddressRestored, AddressPurged,
        PolicyCreated, PolicyUpdated, PolicyDeleted,
        UnusableRangeCreated, UnusableRangeUpdated, UnusableRangeDeleted,
        UnusableOctetCreated, UnusableOctetUpdated, UnusableOctetDeleted,
        CommandRecorded,
        CommandForgotten,
    }
    crate::interfaces {
        InterfaceCreated, InterfaceDeleted,
        MacAddressAllocated, MacAddressReleased,
        MacRangeCreated, MacRangeDeleted,
        AllowedIpAdded, AllowedIpRemoved,
    }
    crate::auth { TokenIssued, TokenRevoked }
    crate::routing { RouteCreated, RouteUpdated, RouteDeleted, NatAssigned, NatRemoved }
    crate::requests { RequestSubmitted, RequestApproved, RequestRejected, RequestExpired, NotificationDelivered }
    crate::scaleway {
        ScalewayIpBooked, ScalewayIpUpdated, ScalewayIpAttached, ScalewayIpDetached,
        ScalewayIpReleased,
    }
    crate::pools { PoolCreated, PoolUpdated, PoolDeleted, PoolAllocated, PoolReleased }
    crate::registrations {
        RegistrationCreated, RegistrationServiceSet, RegistrationSecretRotated,
        RegistrationServiceExpiring, RegistrationServiceRemoved, RegistrationReleased,
    }
    crate::webhooks { WebhookRegistered, WebhookDeleted, WebhookDelivered }
}
