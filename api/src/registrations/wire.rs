//! The JSON of zone registrations: the original's answer to its four routes (`message`,
//! `address` as a host prefix, `cluster_id`), a sweep's expired and skipped services, and
//! the views (registrations, zones, a registration's history).

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The original's answer: what happened, to which address (`a.b.c.d/32`), for which cluster.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub message: &'static str,
    pub address: String,
    pub cluster_id: Uuid,
}

/// A service a sweep expired or skipped.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SweptService {
    pub zone: String,
    pub address: String,
    pub service_name: String,
    pub namespace_id: Uuid,
    pub cluster_id: Uuid,
}

/// A sweep: the services given an expiry, and those skipped (`deny_external_cleanup`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Sweep {
    pub expired: Vec<SweptService>,
    pub skipped: Vec<SweptService>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Service {
    pub service_name: String,
    pub namespace_id: Uuid,
    pub cluster_id: Uuid,
    pub retention_period_days: u32,
    pub deny_external_cleanup: bool,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registration {
    pub zone: String,
    pub address: String,
    /// `ipv4` or `ipv6`.
    pub ip_family: &'static str,
    pub block_id: Uuid,
    pub pool_id: Uuid,
    pub services: Vec<Service>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registrations {
    pub registrations: Vec<Registration>,
}

/// A family's addresses in a zone's pools, as decimal strings (IPv6 counts exceed 2^64).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ZoneFamily {
    pub ip_family: &'static str,
    pub total: String,
    pub free: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Zone {
    pub zone: String,
    pub families: Vec<ZoneFamily>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Zones {
    pub zones: Vec<Zone>,
}

/// A registration's history, oldest first: each entry has `kind` (`registered`,
/// `service_set`, `secret_rotated`, `expiry_set`, `service_removed`, `released`, or the
/// event's type), what that kind carries, and `version`, `at`, `actor`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    pub zone: String,
    pub address: String,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Value>,
}

/// `replace_secret`'s answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretReplaced {
    pub message: &'static str,
    pub address: String,
}

/// `check-secret`'s answer: whether the secret opens the registration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretCheck {
    pub zone: String,
    pub address: String,
    pub opens: bool,
}
