//! Zone and service registrations (issue 10, seed 001: vitistack ipam-api). A Kubernetes
//! platform registers a service's address in a zone (an address pool with that `zone`
//! name), shares the address between services, and lets each service expire after a
//! retention period.
//!
//! A registration is keyed by (zone, address) and lives in the stream `reg-{zone}-{address}`,
//! which keeps its whole history (the original forgets services that came and went). Its
//! address is an ordinary `AddressAllocated` in its block's stream, emitted in the same
//! decision, so no surface can hand it out twice; releasing it frees the address at once.
//!
//! Secrets never reach this crate: the API layer turns a secret into a keyed digest
//! (HMAC-SHA256 with the deployment's key, hex) and only that digest is decided on, stored
//! and folded. A digest cannot be turned back into the secret, and without the key it cannot
//! even be tested against a guess.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payload::payload;
use crate::Timestamp;

/// A secret, in characters (the original's `min=8,max=64`).
pub const SECRET_CHARS_MIN: usize = 8;
pub const SECRET_CHARS_MAX: usize = 64;
/// A service's retention after its delete, in days (the original's `max=30`).
pub const RETENTION_DAYS_MAX: u32 = 30;
/// A service name, in bytes.
pub const SERVICE_NAME_BYTES_MAX: usize = 253;
/// Services sharing one address, at most.
pub const SERVICES_PER_REGISTRATION_MAX: usize = 256;

/// What names a service within a registration: the same three values are the same service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceKey {
    pub service_name: String,
    pub namespace_id: Uuid,
    pub cluster_id: Uuid,
}

/// One service using a registration's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredService {
    pub service_name: String,
    pub namespace_id: Uuid,
    pub cluster_id: Uuid,
    pub retention_period_days: u32,
    pub deny_external_cleanup: bool,
    /// Set by a delete: the cleanup removes the service at or after this time.
    #[serde(default, with = "crate::time_format::option")]
    pub expires_at: Option<Timestamp>,
}

impl RegisteredService {
    pub fn key(&self) -> ServiceKey {
        ServiceKey {
            service_name: self.service_name.clone(),
            namespace_id: self.namespace_id,
            cluster_id: self.cluster_id,
        }
    }
}

/// A registration as the projections keep it and the API shows it. `secret_digest` is the
/// keyed digest; views that leave the service never include it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRecord {
    pub zone: String,
    pub address: IpAddr,
    /// The allocation's id (the address record's id) and block.
    pub address_id: Uuid,
    pub block_id: Uuid,
    pub pool_id: Uuid,
    pub secret_digest: String,
    pub services: Vec<RegisteredService>,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub updated_at: Timestamp,
}

impl RegistrationRecord {
    pub fn family(&self) -> &'static str {
        family_name(self.address.is_ipv6())
    }

    pub fn service(&self, key: &ServiceKey) -> Option<&RegisteredService> {
        self.services.iter().find(|s| s.key() == *key)
    }
}

/// `ipv4` or `ipv6`, the original's `ip_family` values.
pub fn family_name(v6: bool) -> &'static str {
    if v6 {
        "ipv6"
    } else {
        "ipv4"
    }
}

/// A new registration; the `AddressAllocated` with `address_id` is in the same decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationCreated {
    pub zone: String,
    pub address: IpAddr,
    pub address_id: Uuid,
    pub block_id: Uuid,
    pub pool_id: Uuid,
    pub secret_digest: String,
    pub service: RegisteredService,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}
payload! { RegistrationCreated, "RegistrationCreated", 1, |e| registration_stream(&e.zone, e.address) }

/// A service added to the registration or changed (a register again clears its expiry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationServiceSet {
    pub zone: String,
    pub address: IpAddr,
    pub service: RegisteredService,
    #[serde(with = "crate::time_format")]
    pub set_at: Timestamp,
}
payload! { RegistrationServiceSet, "RegistrationServiceSet", 1, |e| registration_stream(&e.zone, e.address) }

/// The registration's secret replaced (only its digest is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationSecretRotated {
    pub zone: String,
    pub address: IpAddr,
    pub secret_digest: String,
    #[serde(with = "crate::time_format")]
    pub rotated_at: Timestamp,
}
payload! { RegistrationSecretRotated, "RegistrationSecretRotated", 1, |e| registration_stream(&e.zone, e.address) }

/// Why a service got an expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryCause {
    /// A delete with the registration's secret.
    Delete,
    /// A cluster-wide delete by an admin (never a `deny_external_cleanup` service).
    Cluster,
    /// An admin's delete of one service (never a `deny_external_cleanup` one).
    Admin,
}

/// A service's expiry set; the cleanup removes it at `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationServiceExpiring {
    pub zone: String,
    pub address: IpAddr,
    pub service: ServiceKey,
    pub cause: ExpiryCause,
    #[serde(with = "crate::time_format")]
    pub expires_at: Timestamp,
    #[serde(with = "crate::time_format")]
    pub requested_at: Timestamp,
}
payload! { RegistrationServiceExpiring, "RegistrationServiceExpiring", 1, |e| registration_stream(&e.zone, e.address) }

/// An expired service removed by the cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationServiceRemoved {
    pub zone: String,
    pub address: IpAddr,
    pub service: ServiceKey,
    #[serde(with = "crate::time_format")]
    pub removed_at: Timestamp,
}
payload! { RegistrationServiceRemoved, "RegistrationServiceRemoved", 1, |e| registration_stream(&e.zone, e.address) }

/// The last service is gone: the registration ends and its address is freed in the same
/// decision (`AddressDeallocated` and `AddressPurged` in the block's stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationReleased {
    pub zone: String,
    pub address: IpAddr,
    pub address_id: Uuid,
    pub block_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub released_at: Timestamp,
}
payload! { RegistrationReleased, "RegistrationReleased", 1, |e| registration_stream(&e.zone, e.address) }

/// The stream of one (zone, address): every registration the address had in the zone.
pub fn registration_stream(zone: &str, address: IpAddr) -> String {
    format!("reg-{zone}-{address}")
}

/// Why a secret is refused, if it is: 8 to 64 characters.
pub fn secret_problem(secret: &str) -> Option<String> {
    let n = secret.chars().count();
    (!(SECRET_CHARS_MIN..=SECRET_CHARS_MAX).contains(&n))
        .then(|| format!("a secret is {SECRET_CHARS_MIN} to {SECRET_CHARS_MAX} characters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_8_to_64_characters() {
        assert!(secret_problem("12345678").is_none());
        assert!(secret_problem(&"x".repeat(64)).is_none());
        assert!(secret_problem("1234567").is_some());
        assert!(secret_problem(&"x".repeat(65)).is_some());
    }
}
