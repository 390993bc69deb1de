//! Melange's request bodies: their types (separate from the domain's, `deny_unknown_fields`,
//! no server-owned fields except the ones Melange clients are known to send and that are
//! ignored). `crate::kit::body` turns bytes into them.

use serde::Deserialize;
use serde_json::Value;

use crate::kit::body::{double, string_like};

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockBody {
    #[serde(default, deserialize_with = "string_like")]
    pub cidr: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "string_like")]
    pub block_type: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub network_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub policy_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub gateway: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub dns1: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub dns2: Option<String>,
    /// Ignored on a root block (the tenant comes from the URL); a subnet's own tenant.
    #[serde(default, deserialize_with = "string_like")]
    pub tenant_id: Option<String>,
    /// Ignored: the parent comes from the URL.
    #[serde(default, deserialize_with = "string_like")]
    pub parent_id: Option<String>,
    /// `tenant_based`, `eui64` or `sequential` (decision 11).
    #[serde(default, deserialize_with = "string_like")]
    pub ipv6_generator: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockEnvelope {
    pub ip_block: BlockBody,
}

/// Decision 4: a subnet body under `"subnet"` (what Melange read) or `"ip_block"` (the spec).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubnetEnvelope {
    pub subnet: Option<BlockBody>,
    pub ip_block: Option<BlockBody>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockUpdateBody {
    #[serde(default, rename = "type", deserialize_with = "string_like")]
    pub block_type: Option<String>,
    #[serde(default, deserialize_with = "double")]
    pub network_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    pub policy_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    pub gateway: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    pub dns1: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    pub dns2: Option<Option<String>>,
    /// null clears the block's generator (the deployment's applies again).
    #[serde(default, deserialize_with = "double")]
    pub ipv6_generator: Option<Option<String>>,
    /// Not updatable (the spec); accepted and ignored so a client can send back what it got.
    #[serde(default)]
    pub cidr: Option<Value>,
    #[serde(default)]
    pub tenant_id: Option<Value>,
    #[serde(default)]
    pub parent_id: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockUpdateEnvelope {
    pub ip_block: BlockUpdateBody,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    #[serde(default, deserialize_with = "string_like")]
    pub interface_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub used_by_device: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    pub mac_address: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressEnvelope {
    #[serde(default)]
    pub ip_address: Option<AddressBody>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    #[serde(default, deserialize_with = "string_like")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double")]
    pub description: Option<Option<String>>,
    /// Ignored: the tenant comes from the URL.
    #[serde(default)]
    pub tenant_id: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyEnvelope {
    pub policy: PolicyBody,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeBody {
    #[serde(default)]
    pub offset: Option<Value>,
    #[serde(default)]
    pub length: Option<Value>,
    /// Ignored: the policy comes from the URL.
    #[serde(default)]
    pub policy_id: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeEnvelope {
    pub ip_range: RangeBody,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OctetBody {
    #[serde(default)]
    pub octet: Option<Value>,
    #[serde(default)]
    pub policy_id: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OctetEnvelope {
    pub ip_octet: OctetBody,
}
