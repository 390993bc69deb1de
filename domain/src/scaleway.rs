//! Scaleway IPs (issue 9, seed 003): an address booked through the Scaleway IPAM v1 surface,
//! with its tags, reverses and the one custom resource it may be attached to. The record,
//! the events of its life, and the field rules.
//!
//! A Scaleway IP is not a second address space: booking it emits an ordinary
//! `AddressAllocated` in its block's stream (the same decision), so the free maps, the
//! Melange listing of the block and `verify` cover it with no extra code. Its id is the
//! `address_id` of that allocation, so "which surface holds this address" is one lookup
//! (`State::holder_of`). Its own events live in `scw-ip-{id}`; release frees the address at
//! once (`AddressDeallocated` then `AddressPurged` in the block's stream, beside
//! `ScalewayIpReleased`): Scaleway has no soft delete.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payload::payload;
use crate::Timestamp;

/// Tags on one IP, at most.
pub const TAGS_MAX: usize = 64;
/// One tag, in bytes.
pub const TAG_BYTES_MAX: usize = 128;
/// Reverses (PTR names) on one IP, at most.
pub const REVERSES_MAX: usize = 16;
/// A reverse's hostname, in bytes (DNS's limit).
pub const HOSTNAME_BYTES_MAX: usize = 253;
/// A custom resource's name, in bytes.
pub const RESOURCE_NAME_BYTES_MAX: usize = 255;
/// IPs in one `POST /ip-sets/release`, at most (413 over it).
pub const RELEASE_SET_MAX: usize = 256;
/// The only resource type this surface attaches: the SDK's `CustomResource`.
pub const RESOURCE_TYPE_CUSTOM: &str = "custom";

/// Where an IP was booked: exactly one of these is set (the source as the SDK sent it).
/// The block the address lies in is the IP's `block_id` whatever the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewaySource {
    #[serde(default)]
    pub private_network_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<Uuid>,
    /// A zone served by pools of that zone (wired when pools merge).
    #[serde(default)]
    pub zonal: Option<String>,
}

/// The resource an IP is attached to: its type (`custom` for resources attached through
/// this API), an id the service draws, the MAC and the optional DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayResource {
    pub resource_type: String,
    pub id: Uuid,
    /// Lower case, colon-separated (`02:00:00:00:00:01`).
    pub mac_address: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayReverse {
    pub hostname: String,
    pub address: Option<IpAddr>,
}

/// A Scaleway IP as the projections keep it and the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayIpRecord {
    /// Also the `address_id` of its allocation.
    pub id: Uuid,
    pub project_id: String,
    pub block_id: Uuid,
    pub address: IpAddr,
    pub source: ScalewaySource,
    pub tags: Vec<String>,
    pub reverses: Vec<ScalewayReverse>,
    pub resource: Option<ScalewayResource>,
    #[serde(default, with = "crate::time_format::option")]
    pub attached_at: Option<Timestamp>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

/// An IP booked; the `AddressAllocated` with `address_id == ip_id` is in the same decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayIpBooked {
    pub ip_id: Uuid,
    pub project_id: String,
    pub block_id: Uuid,
    pub address: IpAddr,
    pub source: ScalewaySource,
    pub tags: Vec<String>,
    pub resource: Option<ScalewayResource>,
    #[serde(with = "crate::time_format")]
    pub booked_at: Timestamp,
}
payload! { ScalewayIpBooked, "ScalewayIpBooked", 1, |e| scaleway_ip_stream(e.ip_id) }

/// Tags and reverses after the update (each replaced whole when given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayIpUpdated {
    pub ip_id: Uuid,
    pub tags: Vec<String>,
    pub reverses: Vec<ScalewayReverse>,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}
payload! { ScalewayIpUpdated, "ScalewayIpUpdated", 1, |e| scaleway_ip_stream(e.ip_id) }

/// The IP is attached to `resource` (it had none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayIpAttached {
    pub ip_id: Uuid,
    pub resource: ScalewayResource,
    #[serde(with = "crate::time_format")]
    pub attached_at: Timestamp,
}
payload! { ScalewayIpAttached, "ScalewayIpAttached", 1, |e| scaleway_ip_stream(e.ip_id) }

/// The IP has no resource any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayIpDetached {
    pub ip_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub detached_at: Timestamp,
}
payload! { ScalewayIpDetached, "ScalewayIpDetached", 1, |e| scaleway_ip_stream(e.ip_id) }

/// The IP is gone; its address is deallocated and purged in the same decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalewayIpReleased {
    pub ip_id: Uuid,
    pub block_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub released_at: Timestamp,
}
payload! { ScalewayIpReleased, "ScalewayIpReleased", 1, |e| scaleway_ip_stream(e.ip_id) }

/// The stream of one Scaleway IP's life.
pub fn scaleway_ip_stream(ip_id: Uuid) -> String {
    format!("scw-ip-{ip_id}")
}

/// The 32 resource types of the SDK's `ResourceType` (a list filter names one of them).
pub const RESOURCE_TYPES: &[&str] = &[
    "unknown_type",
    "custom",
    "instance_server",
    "instance_ip",
    "instance_private_nic",
    "lb_server",
    "fip_ip",
    "vpc_gateway",
    "vpc_gateway_network",
    "k8s_node",
    "k8s_cluster",
    "rdb_instance",
    "redis_cluster",
    "baremetal_server",
    "baremetal_private_nic",
    "llm_deployment",
    "mgdb_instance",
    "apple_silicon_server",
    "apple_silicon_private_nic",
    "serverless_container",
    "serverless_function",
    "vpn_gateway",
    "ddl_datalab",
    "kafka_cluster",
    "bgp_endpoint",
    "scbl_sedb_cluster",
    "dtwh_deployment",
    "sedb_cluster",
    "msgq_cluster",
    "edge_vpc_endpoint",
    "dviz_cluster",
    "nats_cluster",
];

/// Why a tag is refused, if it is: 1 to [`TAG_BYTES_MAX`] bytes, no control characters.
pub fn tag_problem(tag: &str) -> Option<String> {
    if tag.is_empty() || tag.len() > TAG_BYTES_MAX || tag.chars().any(char::is_control) {
        return Some(format!(
            "a tag is 1 to {TAG_BYTES_MAX} bytes without control characters"
        ));
    }
    None
}

/// A DNS hostname: labels of letters, digits and `-` (not at either end), 1 to 63 bytes,
/// dot-separated, at most [`HOSTNAME_BYTES_MAX`] bytes; one trailing dot allowed.
pub fn valid_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= HOSTNAME_BYTES_MAX
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_checked() {
        for ok in ["a", "web-1.example.com", "x.y.", "A1"] {
            assert!(valid_hostname(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "-a",
            "a-",
            "a..b",
            "a b",
            "caf\u{e9}",
            &"a".repeat(64),
        ] {
            assert!(!valid_hostname(bad), "{bad:?}");
        }
    }

    #[test]
    fn tags_are_checked() {
        assert!(tag_problem("env:prod").is_none());
        assert!(tag_problem("").is_some());
        assert!(tag_problem("a\nb").is_some());
        assert!(tag_problem(&"t".repeat(TAG_BYTES_MAX + 1)).is_some());
    }
}
