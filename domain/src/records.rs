//! The records the projections keep and the API renders. They are plain data: computed
//! fields of the wire format (broadcast, netmask, version) are derived by the renderer.
//! A command's [`Reply`] carries them, so an idempotent retry can be answered with exactly
//! the original outcome.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockType {
    Public,
    Private,
}

impl BlockType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(BlockType::Public),
            "private" => Some(BlockType::Private),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BlockType::Public => "public",
            BlockType::Private => "private",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    pub id: Uuid,
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
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
    /// The block's IPv6 generator override (None: the deployment's default).
    #[serde(default)]
    pub ipv6_generator: Option<crate::ipv6::Ipv6Generator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRecord {
    pub id: Uuid,
    pub block_id: Uuid,
    pub address: IpAddr,
    pub interface_id: Option<String>,
    pub used_by_tenant: String,
    pub used_by_device: Option<String>,
    pub mac_address: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
    /// Set while the address is soft-deallocated (decision 14).
    #[serde(default, with = "crate::time_format::option")]
    pub deallocated_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub id: Uuid,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeRecord {
    pub id: Uuid,
    pub policy_id: Uuid,
    pub offset: i64,
    pub length: u64,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OctetRecord {
    pub id: Uuid,
    pub policy_id: Uuid,
    pub octet: u8,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

/// What a command answers once its events are durable. Never stored: an idempotent retry
/// is answered from the command's [`Receipt`] and the state at the time of the retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Success with an empty body (delete, deallocate, restore).
    Done,
    Block(BlockRecord),
    Address(AddressRecord),
    Policy(PolicyRecord),
    Range(RangeRecord),
    Octet(OctetRecord),
    Interface(crate::interfaces::InterfaceView),
    /// A device's interfaces (instance interfaces).
    Interfaces(Vec<crate::interfaces::InterfaceView>),
    /// Addresses allocated from a network, as ip-configuration views.
    IpConfigurations(Vec<crate::interfaces::IpConfiguration>),
    MacRange(crate::interfaces::MacRangeRecord),
    /// An issued token: its digest, never its secret (the API adds the secret it drew).
    Token(crate::auth::TokenRecord),
    Route(crate::routing::RouteRecord),
    /// How many deallocated addresses a retention purge removed.
    Purged(u64),
    /// An IP request after the command (submitted, approved or rejected).
    Request(crate::requests::RequestRecord),
    /// A Scaleway IP after the command (booked, updated, attached, detached, moved).
    ScalewayIp(crate::scaleway::ScalewayIpRecord),
    Pool(crate::pools::PoolRecord),
    /// A pool's allocations after the command, each with whether this command made it
    /// (false: an earlier request with the same identifier and parameters did).
    PoolAllocations(Vec<(crate::pools::PoolAllocationRecord, bool)>),
    /// A registration after a register, update, rotation or delete; `created` when this
    /// command made it.
    Registration {
        record: crate::registrations::RegistrationRecord,
        created: bool,
    },
    /// A webhook endpoint just registered.
    Webhook(crate::webhooks::WebhookRecord),
    /// A cluster-wide delete: the services given an expiry, and the `deny_external_cleanup`
    /// ones left alone.
    ClusterExpired {
        expired: Vec<(String, IpAddr, crate::registrations::ServiceKey)>,
        skipped: Vec<(String, IpAddr, crate::registrations::ServiceKey)>,
    },
}

/// What the log keeps of a command's answer for its idempotent retries: the kind of outcome
/// and the ids of what the command created or changed — facts that never change shape, so
/// the log does not depend on how replies look. A retry's body is rendered from these ids
/// and the state at the time of the retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Receipt {
    Done,
    Block(Uuid),
    Address(Uuid),
    Policy(Uuid),
    Range {
        policy_id: Uuid,
        range_id: Uuid,
    },
    Octet {
        policy_id: Uuid,
        octet_id: Uuid,
    },
    /// An interface, by vif.
    Interface(String),
    /// A device's interfaces, by vif, in the order answered.
    Interfaces(Vec<String>),
    /// Addresses allocated from a network, by address id, in the order answered.
    IpConfigurations(Vec<Uuid>),
    MacRange(Uuid),
    Token(Uuid),
    Route {
        block_id: Uuid,
        route_id: Uuid,
    },
    /// How many addresses a purge removed: the count is the whole answer.
    Purged(u64),
    Request(Uuid),
    ScalewayIp(Uuid),
    Pool(Uuid),
    /// A pool's allocations by id, each with whether the command made it.
    PoolAllocations {
        pool_id: Uuid,
        allocations: Vec<(Uuid, bool)>,
    },
    /// A registration, by zone and address.
    Registration {
        zone: String,
        address: IpAddr,
        created: bool,
    },
    Webhook(Uuid),
}

impl Reply {
    /// The ids a retry needs to answer this reply again from the state.
    pub fn receipt(&self) -> Receipt {
        match self {
            Reply::Done => Receipt::Done,
            Reply::Block(b) => Receipt::Block(b.id),
            Reply::Address(a) => Receipt::Address(a.id),
            Reply::Policy(p) => Receipt::Policy(p.id),
            Reply::Range(r) => Receipt::Range {
                policy_id: r.policy_id,
                range_id: r.id,
            },
            Reply::Octet(o) => Receipt::Octet {
                policy_id: o.policy_id,
                octet_id: o.id,
            },
            Reply::Interface(v) => Receipt::Interface(v.interface.vif.clone()),
            Reply::Interfaces(vs) => {
                Receipt::Interfaces(vs.iter().map(|v| v.interface.vif.clone()).collect())
            }
            Reply::IpConfigurations(cs) => {
                Receipt::IpConfigurations(cs.iter().map(|c| c.address.id).collect())
            }
            Reply::MacRange(r) => Receipt::MacRange(r.id),
            Reply::Token(t) => Receipt::Token(t.id),
            Reply::Route(r) => Receipt::Route {
                block_id: r.block_id,
                route_id: r.id,
            },
            Reply::Purged(n) => Receipt::Purged(*n),
            Reply::Request(r) => Receipt::Request(r.id),
            Reply::ScalewayIp(ip) => Receipt::ScalewayIp(ip.id),
            Reply::Pool(p) => Receipt::Pool(p.id),
            Reply::PoolAllocations(list) => Receipt::PoolAllocations {
                pool_id: list.first().map_or(Uuid::nil(), |(a, _)| a.pool_id),
                allocations: list.iter().map(|(a, made)| (a.id, *made)).collect(),
            },
            Reply::Registration { record, created } => Receipt::Registration {
                zone: record.zone.clone(),
                address: record.address,
                created: *created,
            },
            // The registration routes take no Idempotency-Key: a cluster delete done twice
            // is the same as once (expiries are set to now again).
            Reply::ClusterExpired { .. } => Receipt::Done,
            Reply::Webhook(w) => Receipt::Webhook(w.webhook_id),
        }
    }
}

/// Typed accessors for callers that need one variant's record: a command kind always answers
/// with the same variant, but the writer (and a recorded reply read back from the log) carry
/// the general `Reply`, so the narrowing is a checked step; any other reply comes back whole
/// for the caller to report.
impl Reply {
    /// The token of an `IssueToken` reply.
    pub fn into_token(self) -> Result<crate::auth::TokenRecord, Reply> {
        match self {
            Reply::Token(record) => Ok(record),
            other => Err(other),
        }
    }

    /// The IP of a Scaleway command's reply.
    pub fn into_scaleway_ip(self) -> Result<crate::scaleway::ScalewayIpRecord, Reply> {
        match self {
            Reply::ScalewayIp(record) => Ok(record),
            other => Err(other),
        }
    }

    /// The pool of a `CreatePool`/`UpdatePool` reply.
    pub fn into_pool(self) -> Result<crate::pools::PoolRecord, Reply> {
        match self {
            Reply::Pool(record) => Ok(record),
            other => Err(other),
        }
    }

    /// The endpoint of a webhook registration.
    pub fn into_webhook(self) -> Result<crate::webhooks::WebhookRecord, Reply> {
        match self {
            Reply::Webhook(record) => Ok(record),
            other => Err(other),
        }
    }

    /// The allocations of an `AllocateFromPool` reply.
    #[allow(clippy::type_complexity)]
    pub fn into_pool_allocations(
        self,
    ) -> Result<Vec<(crate::pools::PoolAllocationRecord, bool)>, Reply> {
        match self {
            Reply::PoolAllocations(list) => Ok(list),
            other => Err(other),
        }
    }

    /// The request of a `SubmitRequest`/`DecideRequest` reply.
    pub fn into_request(self) -> Result<crate::requests::RequestRecord, Reply> {
        match self {
            Reply::Request(record) => Ok(record),
            other => Err(other),
        }
    }
}

/// Which surface other than Melange holds an address (issue 9): Melange's deallocation and
/// restore of such an address are refused with a conflict naming the holder, so one surface
/// never frees another's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A Scaleway IP (its id is the address id).
    Scaleway { ip_id: Uuid },
    /// A pool's allocation.
    Pool { pool_id: Uuid, identifier: String },
    /// A zone registration (vitistack ipam-api; issue 10).
    Registration { zone: String, address: IpAddr },
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Scaleway { ip_id } => write!(f, "held by Scaleway IP {ip_id}"),
            Holder::Pool {
                pool_id,
                identifier,
            } => write!(f, "held by pool {pool_id} allocation {identifier}"),
            Holder::Registration { zone, address } => {
                write!(f, "held by the registration of {address} in zone {zone}")
            }
        }
    }
}
