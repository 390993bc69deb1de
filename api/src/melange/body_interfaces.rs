//! Request bodies of the interface family (seed 004 "Interfaces", "Instance Interfaces",
//! "IP allocations in a Network", "Mac Ranges"; the original's allowed IPs): their types,
//! `deny_unknown_fields`, and their conversion into commands' parts with a 400 for any
//! malformed value.

use std::net::IpAddr;

use ipledger_commands::{InterfaceSpec, NetworkRequest};
use ipledger_domain::block::parse_address;
use serde::Deserialize;
use serde_json::Value;

use crate::fault::Fault;
use crate::kit::body::string_like;

/// `network` inside an interface or instance body: which network, whose, which addresses.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkBody {
    #[serde(default, deserialize_with = "string_like")]
    pub id: Option<String>,
    /// The network's owner.
    #[serde(default, deserialize_with = "string_like")]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub addresses: Option<Value>,
}

impl NetworkBody {
    pub fn request(self) -> Result<NetworkRequest, Fault> {
        Ok(NetworkRequest {
            id: self.id,
            tenant_id: self.tenant_id,
            addresses: addresses(self.addresses)?,
        })
    }
}

/// `addresses`: a list of IP addresses in any textual form; absent or null is none.
pub fn addresses(v: Option<Value>) -> Result<Vec<IpAddr>, Fault> {
    let bad = |shown: &str| {
        Fault::invalid_field("addresses", format!("{shown} is not a valid IP address"))
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => parse_address(s).ok_or_else(|| bad(s)),
                other => Err(bad(&other.to_string())),
            })
            .collect(),
        Some(_) => Err(Fault::invalid_field(
            "addresses",
            "addresses should be a list of IP addresses",
        )),
    }
}

/// One interface: `POST /ipam/interfaces` (`id`), an instance PUT entry or
/// `POST /ipam/instances/{d}/interfaces` (`virtual_interface_id`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceBody {
    #[serde(default, deserialize_with = "string_like")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub virtual_interface_id: Option<String>,
    /// The lessee.
    #[serde(default, deserialize_with = "string_like")]
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub device_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub network: Option<NetworkBody>,
}

impl InterfaceBody {
    /// The spec; `tenant` fills a missing lessee (an instance PUT's top-level tenant).
    pub fn spec(self, tenant: Option<&String>) -> Result<InterfaceSpec, Fault> {
        Ok(InterfaceSpec {
            vif: self.id.or(self.virtual_interface_id),
            tenant_id: self.tenant_id.or_else(|| tenant.cloned()),
            device_id: self.device_id,
            mac_address: self.mac_address,
            network: self.network.map(NetworkBody::request).transpose()?,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceEnvelope {
    pub interface: InterfaceBody,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceBody {
    #[serde(default, deserialize_with = "string_like")]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub interfaces: Vec<InterfaceBody>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceEnvelope {
    pub instance: InstanceBody,
}

/// `POST .../instances/{d}/interfaces/{vif}/ip_addresses`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceNetworkEnvelope {
    pub network: NetworkBody,
}

/// `POST .../networks/{n}/interfaces/{vif}/ip_allocations`: every field optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationBody {
    #[serde(default)]
    pub addresses: Option<Value>,
    /// The lessee; defaults to the network's owner.
    #[serde(default, deserialize_with = "string_like")]
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub used_by_device: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub mac_address: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationEnvelope {
    #[serde(default)]
    pub network: Option<AllocationBody>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowedIpBody {
    #[serde(default, deserialize_with = "string_like")]
    pub network_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub ip_address: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowedIpEnvelope {
    pub allowed_ip: AllowedIpBody,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacRangeBody {
    #[serde(default, deserialize_with = "string_like")]
    pub cidr: Option<String>,
    /// Accepted and shown back (python-melangeclient sends it, scenario 15).
    #[serde(default, deserialize_with = "string_like")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacRangeEnvelope {
    pub mac_address_range: MacRangeBody,
}
