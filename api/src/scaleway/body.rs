//! What the SDK sends: the JSON bodies (`deny_unknown_fields`: the SDK sends only these
//! keys, anything else is a client's mistake worth a 400) and the list query (repeated keys
//! for lists, booleans as `True`/`False` or `true`/`false`).

use std::collections::BTreeSet;

use ipledger_commands::{CustomResource, ReverseRequest, SourceRequest};
use ipledger_domain::block::parse_address;
use ipledger_domain::mac::parse_mac;
use ipledger_domain::scaleway::{ScalewayIpRecord, RESOURCE_TYPES};
use serde::Deserialize;
use uuid::Uuid;

use crate::fault::Fault;
use crate::request::Request;

/// Items in a page when the client names no `page_size`.
pub const PAGE_SIZE_DEFAULT: usize = 20;
/// Items in a page at most (Scaleway's bound): a larger `page_size` is a validation error,
/// not a silent cap, because the SDK's list-all stops at the first short page.
pub const PAGE_SIZE_MAX: usize = 100;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceBody {
    pub zonal: Option<String>,
    pub private_network_id: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub regional: Option<bool>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    pub mac_address: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    pub source: Option<SourceBody>,
    pub is_ipv6: Option<bool>,
    pub project_id: Option<String>,
    pub address: Option<String>,
    pub tags: Option<Vec<String>>,
    pub resource: Option<ResourceBody>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseBody {
    pub hostname: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    pub tags: Option<Vec<String>>,
    pub reverses: Option<Vec<ReverseBody>>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
    pub resource: Option<ResourceBody>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    pub from_resource: Option<ResourceBody>,
    pub to_resource: Option<ResourceBody>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSetBody {
    pub ip_ids: Option<Vec<String>>,
}

impl SourceBody {
    pub fn into_request(self) -> SourceRequest {
        SourceRequest {
            zonal: self.zonal,
            private_network_id: self.private_network_id,
            subnet_id: self.subnet_id,
            vpc_id: self.vpc_id,
            regional: self.regional,
        }
    }
}

/// A resource from a body: `mac_address` is required (the SDK's `CustomResource`).
pub fn resource(r: Option<ResourceBody>, field: &str) -> Result<CustomResource, Fault> {
    let r = r.ok_or_else(|| Fault::invalid_field(field, format!("{field} is required")))?;
    let mac_address = r.mac_address.ok_or_else(|| {
        Fault::invalid_field(&format!("{field}.mac_address"), "mac_address is required")
    })?;
    Ok(CustomResource {
        mac_address,
        name: r.name,
    })
}

/// An address without a prefix length (as the SDK sends it).
pub fn address(text: &str, field: &str) -> Result<std::net::IpAddr, Fault> {
    parse_address(text)
        .ok_or_else(|| Fault::invalid_field(field, format!("{text:?} is not an IP address")))
}

pub fn reverses(rs: Vec<ReverseBody>) -> Result<Vec<ReverseRequest>, Fault> {
    rs.into_iter()
        .map(|r| {
            let hostname = r
                .hostname
                .ok_or_else(|| Fault::invalid_field("reverses.hostname", "hostname is required"))?;
            let address = r
                .address
                .filter(|a| !a.is_empty())
                .map(|a| address(&a, "reverses.address"))
                .transpose()?;
            Ok(ReverseRequest { hostname, address })
        })
        .collect()
}

/// A GET or DELETE body: the SDK sends `{}` with no Content-Type; nothing else is taken.
pub fn nothing(req: &Request) -> Result<(), Fault> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(&req.body) {
        Ok(serde_json::Value::Object(m)) if m.is_empty() => Ok(()),
        _ => Err(Fault::bad_request(
            "This request takes no body (an empty JSON object is accepted)",
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    Created,
    Updated,
    Attached,
    Address,
    Mac,
}

/// The list query as the OpenAPI document shows it ([`ListQuery::parse`] reads it; lists
/// are repeated keys).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema: what `ListQuery::parse` reads
pub struct ListParams {
    project_id: Option<String>,
    organization_id: Option<String>,
    private_network_id: Option<String>,
    subnet_id: Option<String>,
    zonal: Option<String>,
    regional: Option<bool>,
    vpc_id: Option<String>,
    attached: Option<bool>,
    is_ipv6: Option<bool>,
    mac_address: Option<String>,
    resource_id: Option<String>,
    resource_type: Option<String>,
    resource_name: Option<String>,
    tags: Option<Vec<String>>,
    ip_ids: Option<Vec<String>>,
    /// `created_at_asc`, `created_at_desc`, `updated_at_*`, `attached_at_*`,
    /// `ip_address_*`, `mac_address_*`.
    order_by: Option<String>,
    /// From 1.
    #[param(minimum = 1)]
    page: Option<u64>,
    /// 1 to 100 (20 when absent).
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u64>,
}

/// The list query, parsed whole so that a bad value is a 400 before anything is read.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub project_id: Option<String>,
    pub private_network_id: Option<String>,
    pub subnet_id: Option<String>,
    pub zonal: Option<String>,
    pub regional: Option<bool>,
    pub vpc: bool,
    pub attached: Option<bool>,
    pub is_ipv6: Option<bool>,
    pub mac_address: Option<u64>,
    pub resource_ids: BTreeSet<String>,
    pub resource_types: BTreeSet<String>,
    pub resource_name: Option<String>,
    pub tags: BTreeSet<String>,
    pub ip_ids: BTreeSet<String>,
    pub order: Option<(OrderKey, bool)>,
    pub page: usize,
    pub page_size: usize,
}

/// The SDK's `ListIPsRequestOrderBy` values: (key, descending).
pub fn order_by(text: &str) -> Option<(OrderKey, bool)> {
    let (key, dir) = text.rsplit_once('_')?;
    let desc = match dir {
        "asc" => false,
        "desc" => true,
        _ => return None,
    };
    let key = match key {
        "created_at" => OrderKey::Created,
        "updated_at" => OrderKey::Updated,
        "attached_at" => OrderKey::Attached,
        "ip_address" => OrderKey::Address,
        "mac_address" => OrderKey::Mac,
        _ => return None,
    };
    Some((key, desc))
}

fn boolean(name: &str, v: &str) -> Result<bool, Fault> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Fault::invalid_field(
            name,
            format!("{name} should be true or false"),
        )),
    }
}

fn positive(name: &str, v: &str) -> Result<usize, Fault> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Fault::invalid_field(name, format!("{name} should be a positive integer")))
}

impl ListQuery {
    pub fn parse(req: &Request) -> Result<ListQuery, Fault> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&req.raw_query)
            .map_err(|_| Fault::bad_request("Malformed query string"))?;
        let mut q = ListQuery {
            page: 1,
            page_size: PAGE_SIZE_DEFAULT,
            ..ListQuery::default()
        };
        for (k, v) in pairs {
            q.take(&k, v)?;
        }
        Ok(q)
    }

    fn take(&mut self, k: &str, v: String) -> Result<(), Fault> {
        match k {
            // Read by the dispatcher (`server.rs`), for every route alike.
            "as_of" | "min_position" => {}
            "project_id" => self.project_id = Some(v),
            // One organization per deployment: the SDK sends its default, it names nothing.
            "organization_id" => {}
            "private_network_id" => self.private_network_id = Some(v),
            "subnet_id" => self.subnet_id = Some(v),
            "zonal" => self.zonal = Some(v),
            "regional" => self.regional = Some(boolean(k, &v)?),
            // No IP is in a VPC here: a VPC filter matches nothing.
            "vpc_id" | "source_vpc_id" => self.vpc = true,
            "attached" => self.attached = Some(boolean(k, &v)?),
            "is_ipv6" => self.is_ipv6 = Some(boolean(k, &v)?),
            "mac_address" => {
                let mac = parse_mac(&v).ok_or_else(|| {
                    Fault::invalid_field(k, format!("{v:?} is not a MAC address"))
                })?;
                self.mac_address = Some(mac);
            }
            "resource_id" | "resource_ids" => {
                self.resource_ids.insert(v);
            }
            "resource_type" | "resource_types" => {
                if !RESOURCE_TYPES.contains(&v.as_str()) {
                    return Err(Fault::invalid_field(
                        k,
                        format!("unknown resource type {v:?}"),
                    ));
                }
                self.resource_types.insert(v);
            }
            "resource_name" => self.resource_name = Some(v),
            "tags" => {
                self.tags.insert(v);
            }
            "ip_ids" => {
                self.ip_ids.insert(v);
            }
            "order_by" => {
                self.order = Some(
                    order_by(&v)
                        .ok_or_else(|| Fault::invalid_field(k, format!("unknown order {v:?}")))?,
                )
            }
            "page" => self.page = positive(k, &v)?,
            "page_size" => {
                self.page_size = positive(k, &v)?;
                if self.page_size > PAGE_SIZE_MAX {
                    return Err(Fault::invalid_field(
                        k,
                        format!("page_size should be at most {PAGE_SIZE_MAX}"),
                    ));
                }
            }
            _ => {
                return Err(Fault::invalid_field(
                    k,
                    format!("unknown query parameter {k}"),
                ));
            }
        }
        Ok(())
    }

    /// Whether `ip` passes every filter.
    pub fn admits(&self, ip: &ScalewayIpRecord) -> bool {
        let r = ip.resource.as_ref();
        let pn = ip.source.private_network_id.as_deref();
        let some = |set: &BTreeSet<String>, v: Option<String>| {
            set.is_empty() || v.is_some_and(|v| set.contains(&v))
        };
        !self.vpc
            && self.regional != Some(true)
            && self
                .private_network_id
                .as_deref()
                .is_none_or(|p| Some(p) == pn)
            && self
                .subnet_id
                .as_ref()
                .is_none_or(|s| Uuid::parse_str(s) == Ok(ip.block_id))
            && self
                .zonal
                .as_deref()
                .is_none_or(|z| ip.source.zonal.as_deref() == Some(z))
            && self.attached.is_none_or(|a| a == r.is_some())
            && self.is_ipv6.is_none_or(|v6| v6 == ip.address.is_ipv6())
            && self
                .mac_address
                .is_none_or(|m| r.and_then(|r| parse_mac(&r.mac_address)) == Some(m))
            && some(&self.resource_ids, r.map(|r| r.id.to_string()))
            && some(&self.resource_types, r.map(|r| r.resource_type.clone()))
            && self.resource_name.as_deref().is_none_or(|n| {
                r.and_then(|r| r.name.as_deref())
                    .is_some_and(|name| name.contains(n))
            })
            && (self.tags.is_empty() || ip.tags.iter().any(|t| self.tags.contains(t)))
            && some(&self.ip_ids, Some(ip.id.to_string()))
    }

    /// Sorts the matches by the asked order (default: newest first, the SDK dataclass's
    /// `created_at_desc`); ties by id, so pages never overlap.
    pub fn sort(&self, ips: &mut [ScalewayIpRecord]) {
        let (key, desc) = self.order.unwrap_or((OrderKey::Created, true));
        ips.sort_by(|a, b| {
            let o = match key {
                OrderKey::Created => a.created_at.cmp(&b.created_at),
                OrderKey::Updated => a.updated_at.cmp(&b.updated_at),
                OrderKey::Attached => a.attached_at.cmp(&b.attached_at),
                OrderKey::Address => a.address.cmp(&b.address),
                OrderKey::Mac => mac(a).cmp(&mac(b)),
            }
            .then(a.id.cmp(&b.id));
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
}

fn mac(ip: &ScalewayIpRecord) -> Option<u64> {
    ip.resource.as_ref().and_then(|r| parse_mac(&r.mac_address))
}
