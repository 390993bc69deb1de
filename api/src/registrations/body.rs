//! The original's request body (vitistack ipam-api `apicontracts`), field for field, and its
//! checks: a 400 names every bad field at once, and never echoes a secret.

use std::net::IpAddr;

use ipledger_commands::ServiceRequest;
use ipledger_domain::registrations::{secret_problem, RETENTION_DAYS_MAX};
use ipledger_domain::rejection::FieldErrors;
use ipnet::IpNet;
use serde::Deserialize;
use uuid::Uuid;

use crate::fault::Fault;
use crate::kit::body as kit_body;
use crate::request::Request;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    pub service_name: Option<String>,
    pub namespace_id: Option<String>,
    pub cluster_id: Option<String>,
    pub retention_period_days: Option<i64>,
    pub deny_external_cleanup: Option<bool>,
}

/// Never `Debug`: it holds secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    pub address: Option<String>,
    pub ip_family: Option<String>,
    pub zone: Option<String>,
    pub secret: Option<String>,
    pub new_secret: Option<String>,
    pub service: Option<ServiceBody>,
}

/// A checked body: secrets still in clear, to be hashed by the handler at once.
pub struct Checked {
    pub zone: String,
    pub ipv6: bool,
    pub address: Option<IpAddr>,
    pub secret: String,
    pub new_secret: Option<String>,
    pub service: ServiceRequest,
}

pub fn parse(req: &Request) -> Result<RegistrationBody, Fault> {
    kit_body::parse(req)?.ok_or_else(|| kit_body::missing("secret"))
}

fn uuid_field(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Uuid {
    match value.map(Uuid::parse_str) {
        Some(Ok(id)) => id,
        Some(Err(_)) => {
            errors.add(field, format!("{field} should be a UUID"));
            Uuid::nil()
        }
        None => {
            errors.add(field, format!("{field} is required"));
            Uuid::nil()
        }
    }
}

/// An address as the original takes it: a CIDR of one host (`/32` or `/128`).
fn host_cidr(errors: &mut FieldErrors, text: &str) -> Option<IpAddr> {
    match text.parse::<IpNet>() {
        Ok(net) if net.prefix_len() == net.max_prefix_len() => Some(net.addr()),
        _ => {
            errors.add(
                "address",
                "address should be a CIDR of one address (/32 or /128)",
            );
            None
        }
    }
}

/// Checks every field; `address_required` for a delete.
pub fn check(b: RegistrationBody, address_required: bool) -> Result<Checked, Fault> {
    let mut errors = FieldErrors::default();
    let ipv6 = match b.ip_family.as_deref() {
        Some("ipv4") => false,
        Some("ipv6") => true,
        _ => {
            errors.add("ip_family", "ip_family should be ipv4 or ipv6");
            false
        }
    };
    let zone = b.zone.unwrap_or_default();
    if !ipledger_domain::pools::valid_zone(&zone) {
        errors.add(
            "zone",
            "zone should be a zone name (a DNS label: a-z, 0-9 and -)",
        );
    }
    let address = b.address.as_deref().and_then(|a| host_cidr(&mut errors, a));
    if address_required && b.address.is_none() {
        errors.add("address", "address is required");
    }
    if address.is_some_and(|a| a.is_ipv6() != ipv6) && b.ip_family.is_some() {
        errors.add("address", "the address's family does not match ip_family");
    }
    let secret = b.secret.unwrap_or_default();
    if let Some(problem) = secret_problem(&secret) {
        errors.add("secret", problem);
    }
    if let Some(problem) = b.new_secret.as_deref().and_then(secret_problem) {
        errors.add("new_secret", problem);
    }
    let s = b.service.unwrap_or_default();
    if s.service_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        errors.add("service.service_name", "service_name is required");
    }
    let namespace_id = uuid_field(
        &mut errors,
        "service.namespace_id",
        s.namespace_id.as_deref(),
    );
    let cluster_id = uuid_field(&mut errors, "service.cluster_id", s.cluster_id.as_deref());
    let days = s.retention_period_days.unwrap_or(0);
    if !(0..=i64::from(RETENTION_DAYS_MAX)).contains(&days) {
        errors.add(
            "service.retention_period_days",
            format!("retention_period_days should be 0 to {RETENTION_DAYS_MAX}"),
        );
    }
    errors.into_result().map_err(Fault::from)?;
    Ok(Checked {
        zone,
        ipv6,
        address,
        secret,
        new_secret: b.new_secret,
        service: ServiceRequest {
            service_name: s.service_name.unwrap_or_default(),
            namespace_id,
            cluster_id,
            retention_period_days: days as u32,
            deny_external_cleanup: s.deny_external_cleanup.unwrap_or(false),
        },
    })
}
