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

/// What a command answers once its events are durable. Stored with an idempotency key so
/// a retry gets the very same answer, even after the objects changed or the process restarted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The request of a `SubmitRequest`/`DecideRequest` reply.
    pub fn into_request(self) -> Result<crate::requests::RequestRecord, Reply> {
        match self {
            Reply::Request(record) => Ok(record),
            other => Err(other),
        }
    }
}
